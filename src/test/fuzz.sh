#!/usr/bin/env bash
# Fuzzes the given ReaderFuzzTest targets one after another (all of them by default), 3 minutes each
# (ReaderFuzzTest.FUZZ_TIME), and prints per target the executions, the time and whether Jazzer found anything.
# A finding stops that target's run and is written next to its seeds as crash-<sha1>
# (src/test/resources/crd4j/fuzz/ReaderFuzzTestInputs/<target>/), so the next `mvn test` replays it.
# Usage: bash src/test/fuzz.sh [target ...]     logs: target/fuzz/<target>.log
set -u
cd "$(dirname "$0")/../.."
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(pthZip pthLegacy pickle npy safetensors modelFile modelMetadata png tiff datasetLayout)
mkdir -p target/fuzz
mvn -B -q -o test-compile || exit 1
for t in "${targets[@]}"; do
  start=$(date +%s)
  JAZZER_FUZZ=1 mvn -B -o test -Dtest="ReaderFuzzTest#$t" \
      -Dsurefire.forkMemory="-Xmx1g -Dorg.bytedeco.javacpp.maxbytes=1g -Dcrd4j.fuzz=true" > "target/fuzz/$t.log" 2>&1
  rc=$?
  done_line=$(grep -a -o 'Done [0-9]* runs in [0-9]* second(s)' "target/fuzz/$t.log" | tail -1)
  finding=$(grep -a -m1 -o 'FuzzTestFindingException: .*\|== Java Exception: .*\|ERROR: libFuzzer: .*\|timeout after .*' "target/fuzz/$t.log" | head -1 | cut -c1-200)
  echo "$t: ${done_line:-no Done line} (wall $(( $(date +%s) - start )) s, mvn exit $rc)${finding:+; finding: $finding}"
done
