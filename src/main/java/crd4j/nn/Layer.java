package crd4j.nn;

import crd4j.autograd.Graph;
import crd4j.autograd.Var;

/** A module with one input and one output. */
public interface Layer {
    Var forward(Graph g, Var x);
}
