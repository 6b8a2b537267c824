#!/usr/bin/env bash
# JMH: Detector.score latency at batch 1 on the CPU backend (p50/p99 from sample mode, allocation rate from -prof gc).
# Usage: benchmarks/run_jmh_cpu.sh [preset ...]   (default: tiny paper); THREADS=1,2 to compare thread budgets
# (default 2: both halves of each pass at once, one thread each), SECONDS_PER_ITER=60 (2 measured iterations).
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q -DskipTests install
(cd benchmarks && mvn -B -q package)
presets="${*:-tiny,paper}"
presets="${presets// /,}"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# command: benchmarks/run_jmh_cpu.sh $*"
java -Xmx8g -Dorg.bytedeco.javacpp.maxbytes=10g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" org.openjdk.jmh.Main DetectorBenchmark \
  -p preset="$presets" -p threads="${THREADS:-2}" -f 1 -wi 1 -w 20s -i 2 -r "${SECONDS_PER_ITER:-60}s" -prof gc -rf json -rff benchmarks/target/jmh-cpu.json
