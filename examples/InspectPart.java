import crd4j.backend.Backend;
import crd4j.backend.Backends;
import crd4j.backend.DeviceUnavailableException;
import crd4j.data.DepthPreprocessing;
import crd4j.data.ImageInputs;
import crd4j.detect.AnomalyScoring;
import crd4j.detect.Detector;
import crd4j.model.Modality;
import crd4j.tensor.HostTensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Scores RGB-D parts with a trained crd4j model and prints one line per part: the anomaly score and each branch's.
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
            if (detector.secondModality() != Modality.DEPTH) {
                throw new IllegalArgumentException(modelFile + ": this example feeds xyz depth maps; the model was trained on "
                        + detector.secondModality().key() + " input");
            }
            int size = detector.size();   // the model's input side: 64 (tiny), 128 (small) or 256 (paper)
            for (int i = 1; i < args.length; i += 2) {
                HostTensor rgb = ImageInputs.rgbInput(Path.of(args[i]), size);                 // RGB PNG -> [1,3,S,S]
                HostTensor depth = DepthPreprocessing.depthInput(Path.of(args[i + 1]), size);  // xyz TIFF -> [1,3,S,S]
                Detector.Result r = detector.score(rgb, depth);
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%s\tscore %.6f", args[i], r.score()));
                for (AnomalyScoring.BranchScore b : r.branches()) {
                    line.append(String.format(Locale.ROOT, "\t%s %.6f", b.branch(), b.score()));
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
