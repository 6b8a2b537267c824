#!/usr/bin/env bash
# Builds benchmarks/device/carry/ (git-ignored): everything the GPU machine needs to run benchmarks/device/run.sh
# without Maven, a JDK or ND4J there:
#   jre/           a jlinked Java 17 runtime (modules from jdeps over the app and the benchmarks, plus what JMH's
#                  GC profiler needs)
#   classes/       target/classes (incl. the committed kernel fatbins)
#   bench-classes/ the JMH benchmarks (benchmarks/target/classes, with JMH's generated benchmark list)
#   lib/           picocli, jackson, slf4j, JCuda (jcuda, jcublas, jcudnn + linux-x86_64 natives; the jcuda natives
#                  jar without the unused NVRTC and PTX-compiler libraries), JMH — no ND4J, JavaCPP or OpenBLAS
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
cp -r benchmarks/target/classes "$C/bench-classes"
keep='/(picocli|jackson-databind|jackson-core|jackson-annotations|jcuda|jcublas|jcudnn)-[^/]*\.jar$'
tr ':' '\n' < target/classpath.txt | grep -E "$keep" | while read -r j; do cp "$j" "$C/lib/"; done
tr ':' '\n' < benchmarks/target/classpath.txt | grep -E '/(jmh-core|jopt-simple|commons-math3)-[^/]*\.jar$' | while read -r j; do cp "$j" "$C/lib/"; done
# crd4j uses the CUDA driver API and cuDNN/cuBLAS only: drop JCuda's NVRTC and nvPTXCompiler bindings (25 MB)
zip -q -d "$C"/lib/jcuda-natives-*-linux-x86_64.jar 'lib/libJNvPTXCompiler*' 'lib/libJNvrtc*'
if ls "$C"/lib/ | grep -qiE 'nd4j|javacpp|openblas'; then echo "prepare.sh: ND4J leaked into $C/lib" >&2; exit 1; fi

cp src/test/python/crd_reference.py benchmarks/device/torch_gpu_bench.py "$C/"
mods="$(jdeps --ignore-missing-deps --print-module-deps --multi-release 17 -cp "$C/lib/*" "$C/classes" "$C/bench-classes")"
mods="$mods,java.management,jdk.management,jdk.unsupported,jdk.zipfs"
jlink --add-modules "$mods" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$C/jre"
"$C/jre/bin/java" -cp "$C/classes:$C/lib/*" crd4j.cli.CrdCli --version >/dev/null

total=$(du -sb "$C" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
echo "modules: $mods"
du -sh "$C/jre" "$C/classes" "$C/bench-classes" "$C/lib"
printf 'carry: %.1f MiB; tracked working tree: %.1f MiB; together %.1f MiB of the 64 MiB a device call may send\n' \
  "$(echo "$total/1048576" | bc -l)" "$(echo "$tree/1048576" | bc -l)" "$(echo "($total+$tree)/1048576" | bc -l)"
[ $((total + tree)) -lt $((64 * 1024 * 1024)) ] || { echo "prepare.sh: over 64 MiB" >&2; exit 1; }
