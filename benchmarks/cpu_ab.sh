#!/usr/bin/env bash
# Interleaved A/B of `crd bench` between built checkouts (each DIR has target/classes and target/classpath.txt, e.g.
# from `mvn -q -DskipTests compile`): round 1 runs A B C ..., round 2 again, and so on, so that load from other jobs
# hits every build alike. Prints one line per run: wall seconds of each timed forward, the median, the process's CPU
# seconds and the 1-minute load average when it started.
# Usage: benchmarks/cpu_ab.sh ROUNDS PRESET DIR_A DIR_B [DIR ...]   (env JAVA_OPTS, EXTRA_ARGS e.g. "--threads 1")
set -euo pipefail
rounds="$1"; preset="$2"; shift 2
opts="${JAVA_OPTS:--Xmx8g -Dorg.bytedeco.javacpp.maxbytes=10g -Dorg.bytedeco.javacpp.maxPhysicalBytes=0}"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# command: benchmarks/cpu_ab.sh $rounds $preset $* ${EXTRA_ARGS:-}"
for r in $(seq "$rounds"); do
  for d in "$@"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    out=$( { /usr/bin/time -f "cpu_user_s=%U cpu_sys_s=%S" java $opts -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        -cp "$d/target/classes:$(cat "$d/target/classpath.txt")" crd4j.cli.CrdCli bench --device cpu --preset "$preset" \
        --runs 3 ${EXTRA_ARGS:-} 2>&1; } | grep -E '^\{|cpu_user' | tr '\n' ' ')
    echo "round $r $d load1=$load $(echo "$out" | grep -o '"runs_s": \[[^]]*\], "median_s": [0-9.]*') $(echo "$out" | grep -o 'cpu_user.*')"
  done
done
