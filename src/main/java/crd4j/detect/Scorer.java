package crd4j.detect;

import crd4j.model.Modality;

import java.util.List;

/**
 * What an evaluation needs of a trained model: scoring one sample and the facts that decide which samples it can
 * score. {@link Detector} (CRD, both modalities, few-modal scoring) and {@link ReverseDistillationDetector} (the
 * single-modality baseline) implement it, so both are evaluated by the same code.
 */
public interface Scorer {
    /** Scores one sample; a missing modality is stood in for as {@code strategy} says, where the model can. */
    Detector.Result score(Sample sample, MissingStrategy strategy);

    /** Checks without scoring that samples with these modalities can be scored; one clear line otherwise. */
    void checkCanServe(boolean hasRgb, boolean hasSecond, MissingStrategy strategy);

    /** The input side S. */
    int size();

    /** The preset's name. */
    String presetName();

    /** The branches whose maps a complete sample produces, in fusion order. */
    List<String> branchKeys();

    /** The kind of second-modality data the model takes; null when it takes RGB only. */
    Modality secondModality();
}
