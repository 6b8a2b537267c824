package crd4j.nn;

/** A state dict that does not fit the model: one line naming the file, the key and what was expected. */
public class StateDictException extends java.io.IOException {
    public StateDictException(String message) { super(message); }
}
