#!/usr/bin/env bash
# Builds benchmarks/device/carry/ (git-ignored): everything the GPU machine needs to run benchmarks/device/run.sh
# without Maven, a JDK or ND4J there:
#   jre/           a jlinked Java 17 runtime (modules from jdeps over the app and the benchmarks, plus what JMH's
#                  GC profiler needs)
#   classes/       target/classes (incl. the committed kernel fatbins)
#   test-classes/  target/test-classes: the backend parity suite, run there with JUnit's console launcher
#   bench-classes/ the JMH benchmarks (benchmarks/target/classes, with JMH's generated benchmark list)
#   lib/           picocli, jackson, slf4j, JCuda (jcuda, jcublas, jcudnn + linux-x86_64 natives; the jcuda natives
#                  jar without the unused NVRTC and PTX-compiler libraries), JMH, JUnit's console launcher
#                  (junit-platform-console-standalone, the version of the build's JUnit) — no ND4J, JavaCPP or OpenBLAS
#   crd_reference.py, torch_gpu_bench.py
# Usage: benchmarks/device/prepare.sh   (then a device call with carry ["benchmarks/device/carry"] runs run.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
C=benchmarks/device/carry
rm -rf "$C"
mkdir -p "$C/lib"
mvn -B -q -DskipTests install
(cd benchmarks && mvn -B -q package)

cp -r target/classes "$C/classes"
cp -r target/test-classes "$C/test-classes"
cp -r benchmarks/target/classes "$C/bench-classes"
keep='/(picocli|jackson-databind|jackson-core|jackson-annotations|jcuda|jcublas|jcudnn|slf4j-api|slf4j-simple)-[^/]*\.jar$'
tr ':' '\n' < target/classpath.txt | grep -E "$keep" | while read -r j; do cp "$j" "$C/lib/"; done
tr ':' '\n' < benchmarks/target/classpath.txt | grep -E '/(jmh-core|jopt-simple|commons-math3)-[^/]*\.jar$' | while read -r j; do cp "$j" "$C/lib/"; done
# JUnit's console launcher, the platform version that goes with the build's JUnit Jupiter (5.x.y -> 1.x.y)
jupiter="$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' pom.xml)"
mvn -B -q dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:1.${jupiter#5.}" -DoutputDirectory="$C/lib"
# crd4j uses the CUDA driver API and cuDNN/cuBLAS only: drop JCuda's NVRTC and nvPTXCompiler bindings (25 MB)
zip -q -d "$C"/lib/jcuda-natives-*-linux-x86_64.jar 'lib/libJNvPTXCompiler*' 'lib/libJNvrtc*'
if ls "$C"/lib/ | grep -qiE 'nd4j|javacpp|openblas'; then echo "prepare.sh: ND4J leaked into $C/lib" >&2; exit 1; fi

cp src/test/python/crd_reference.py benchmarks/device/torch_gpu_bench.py "$C/"
# jdeps per jar (one jdeps call over all of them misses some modules, e.g. JCuda's java.logging)
mods="$(for x in "$C/classes" "$C/bench-classes" "$C"/lib/*.jar; do
  jdeps --ignore-missing-deps --print-module-deps --multi-release 17 -cp "$C/lib/*:$C/classes" "$x" 2>/dev/null | tail -1
done | tr ',' '\n' | grep . | sort -u | paste -sd,)"
# java.desktop (ImageIO/AWT: PNG/TIFF input, heatmap.png) and java.sql (optional Jackson types) are left out: the
# device run reads .npy/.pth only, and they would take ~13 MB of the 64 MiB. INCLUDE_DESKTOP=1 keeps them.
if [ "${INCLUDE_DESKTOP:-0}" != 1 ]; then
  mods="$(echo "$mods" | tr ',' '\n' | grep -vxE 'java\.desktop|java\.sql' | paste -sd,)"
fi
mods="$(echo "$mods,java.management,jdk.management,jdk.unsupported,jdk.zipfs,java.xml" | tr ',' '\n' | sort -u | paste -sd,)"
jlink --add-modules "$mods" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$C/jre"
strip --strip-unneeded "$C"/jre/lib/server/libjvm.so 2>/dev/null || true
# smoke tests of the carried runtime here (no GPU): the CUDA probe reaches the driver, the parity suite loads, JMH
# lists the GPU benchmarks. (The `crd`
# CLI itself needs java.desktop: picocli reflects over DetectCommand's AWT-typed methods; run.sh does not use it.)
probe="$("$C/jre/bin/java" -cp "$C/classes:$C/lib/*" crd4j.backend.Backends cuda 2>&1 || true)"
echo "$probe" | grep -qE '^--device cuda: (no CUDA driver|no CUDA device)|^# cuda' \
  || { echo "prepare.sh: the CUDA probe (crd4j.backend.Backends) in the carried JRE did not reach the driver: $probe" >&2; exit 1; }
echo "CUDA probe here: $probe"
smoke="$(mktemp -d)"
# the parity suite in the carried JRE with JUnit's console launcher: its classes load without ND4J; here every case
# skips (no ND4J in the carry, no GPU), none may fail
suite="$("$C/jre/bin/java" -Xmx2g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$(ls "$C"/lib/junit-platform-console-standalone-*.jar):$C/test-classes:$C/classes:$C/lib/*" \
  org.junit.platform.console.ConsoleLauncher execute --disable-banner --disable-ansi-colors --details=summary --reports-dir "$smoke" \
  --select-class crd4j.backend.OpsParityTest 2>&1 || true)"
echo "$suite" | grep -qE '\[ +0 tests failed' && echo "$suite" | grep -qE '\[ +[1-9][0-9]* tests found' \
  || { echo "prepare.sh: the parity suite does not run in the carried JRE: $suite" >&2; exit 1; }
rm -rf "$smoke"
echo "parity suite in the carried JRE here: $(echo "$suite" | grep -E 'tests (found|aborted|failed)' | tr -s ' []' ' ' | paste -sd,)"
jmh="$("$C/jre/bin/java" -cp "$C/bench-classes:$C/classes:$C/lib/*" org.openjdk.jmh.Main -l 2>&1 || true)"
echo "$jmh" | grep -q GpuDetectorBenchmark || { echo "prepare.sh: JMH does not list the GPU benchmarks: $jmh" >&2; exit 1; }

total=$(du -sb "$C" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
echo "modules: $mods"
du -sh "$C/jre" "$C/classes" "$C/test-classes" "$C/bench-classes" "$C/lib"
printf 'carry: %.1f MiB; tracked working tree: %.1f MiB; together %.1f MiB of the 64 MiB a device call may send\n' \
  "$(echo "$total/1048576" | bc -l)" "$(echo "$tree/1048576" | bc -l)" "$(echo "($total+$tree)/1048576" | bc -l)"
[ $((total + tree)) -lt $((64 * 1024 * 1024)) ] || { echo "prepare.sh: over 64 MiB" >&2; exit 1; }
