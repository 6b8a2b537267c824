import crd4j.backend.Backend;
import crd4j.backend.Backends;
import crd4j.backend.DeviceUnavailableException;
import crd4j.detect.AnomalyScoring;
import crd4j.detect.Decision;
import crd4j.detect.Detector;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Scores RGB-D parts with a trained crd4j model and prints one line per part: the anomaly score, each branch's, and
 * the accept/reject decision with the defect regions when the model holds thresholds (crd train stores them, crd
 * calibrate re-picks them).
 *
 * <pre>
 *   mvn -q package -DskipTests     # writes target/crd4j.jar and its dependencies to target/lib/
 *   java -cp 'target/crd4j.jar:target/lib/*' examples/InspectPart.java MODEL.crd4j RGB.png XYZ.tiff [RGB.png XYZ.tiff ...]
 * </pre>
 *
 * {@code -Dcrd4j.device=cpu|cuda|auto} (default auto) picks the backend. A bad file or a missing GPU is one line on
 * stderr and exit code 2.
 */
public class InspectPart {
    public static void main(String[] args) {
        // Logging (SLF4J, here slf4j-simple): warnings only, so ND4J's start-up INFO lines stay out of the output, but
        // crd4j's own INFO lines (which backend "auto" chose, and why) stay in. Set before the first logger exists.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.crd4j", "info");
        if (args.length < 3 || args.length % 2 == 0) {
            System.err.println("usage: InspectPart MODEL.crd4j RGB.png XYZ.tiff [RGB.png XYZ.tiff ...]");
            System.exit(2);
        }
        Path modelFile = Path.of(args[0]);
        try (Backend backend = Backends.open(System.getProperty("crd4j.device", "auto"));
             Detector detector = Detector.load(modelFile, backend)) {
            for (int i = 1; i < args.length; i += 2) {
                // raw sensor files, preprocessed at the model's own input size and as its second modality
                Detector.Result r = detector.score(Path.of(args[i]), Path.of(args[i + 1]));
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%s\tscore %.6f", args[i], r.score()));
                for (AnomalyScoring.BranchScore b : r.branches()) {
                    line.append(String.format(Locale.ROOT, "\t%s %.6f", b.branch(), b.score()));
                }
                if (r.hasDecision()) {
                    line.append(String.format(Locale.ROOT, "\t%s\tnormalised %.3f", r.anomalous() ? "REJECT" : "ACCEPT", r.normalizedScore()));
                    for (Decision.Region g : r.regions()) {
                        line.append(String.format(Locale.ROOT, "\tregion x%d y%d %dx%d area %d peak %.3f", g.x(), g.y(), g.width(),
                                g.height(), g.area(), g.peak()));
                    }
                } else {
                    line.append("\tno threshold stored: run crd calibrate");
                }
                System.out.println(line);
            }
        } catch (java.nio.file.NoSuchFileException e) {
            System.err.println("InspectPart: no such file: " + e.getFile());
            System.exit(2);
        } catch (IOException | IllegalArgumentException | DeviceUnavailableException e) {
            System.err.println("InspectPart: " + e.getMessage());
            System.exit(2);
        }
    }
}
