package crd4j.model;

/** The second modality of a CRD model: a depth map from xyz (MVTec 3D-AD) or a surface-normals image (Eyecandies, §14). */
public enum Modality {
    DEPTH("depth"), NORMALS("normals");

    private final String key;

    Modality(String key) { this.key = key; }

    /** Branch name in files and output folders. */
    public String key() { return key; }

    public static Modality parse(String s) {
        for (Modality m : values()) if (m.key.equalsIgnoreCase(s)) return m;
        throw new IllegalArgumentException("unknown modality '" + s + "' (expected depth or normals)");
    }
}
