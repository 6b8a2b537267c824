#!/usr/bin/env bash
# The GPU checks and benchmarks in ONE device call, within 8 minutes. Needs benchmarks/device/carry from
# prepare.sh (built on the development machine right before the call) and, on the GPU machine, python3 with
# PyTorch, NumPy and NVIDIA's cuDNN 9 wheel (the 'cuda' image has them).
# Device call:  command "bash benchmarks/device/run.sh", carry ["benchmarks/device/carry"], timeout_s 600.
#
# Order (each phase prints its time budget; every log is streamed into $OUT as it is written, so a run killed by the
# device call's timeout still returns everything that finished):
#   1. checks (seconds): the carry is complete, the JRE's binaries are executable, and the CUDA backend's one-line
#      description is the first line the probe prints; otherwise it stops at once, saying why (STOPPED.txt, exit 3)
#   2. in the background, on the CPU: the PyTorch fixtures of the parity suite (and the paper network's)
#   3. JMH GpuDetectorBenchmark alone (the Detector's p50/p99 at batch 1, paper preset, -prof gc): the number the
#      whole run is for comes first, in its own JMH call
#   4. the parity suite with JUnit's console launcher (the same test classes as `mvn test`, every backend that
#      opens; the CPU cases skip there: ND4J is not carried), then GpuSelfTest's GPU-only checks
#   5. the other JMH benchmarks with -foe false (one failing benchmark does not stop the rest)
#   6. PyTorch eager on the same GPU (torch_gpu_bench.py), 7. summary.md
# Files in $OUT: run.log (everything), gpu.txt, jmh-detector.json, junit/ (XML reports) + junit.log, selftest.tsv +
# selftest.log, jmh-gpu.json, torch.json, summary.md, fixtures.log; STOPPED.txt when a check stopped the run.
# Environment: PHASES (default "parity,bench"), PAPER_PARITY=0 (skip the 1.5 GB paper fixture), CARRY (default
# benchmarks/device/carry), BUDGET_S (default 480: the whole run), OUT (default ./device-out).
set -uo pipefail
cd "$(dirname "$0")/../.."
START=$(date +%s)
BUDGET="${BUDGET_S:-480}"
C="${CARRY:-benchmarks/device/carry}"
OUT="${OUT:-$PWD/device-out}"
mkdir -p "$OUT"
# tee appends line by line: nothing is held back, a timeout keeps what was printed
exec > >(tee -a "$OUT/run.log") 2>&1
PHASES="${PHASES:-parity,bench}"
elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( BUDGET - $(elapsed) )); }
# budget NAME SECONDS: prints the phase line and sets T to min(SECONDS, time left - RESERVE) (RESERVE: what the
# phases after this one need at least; default 10 s for the summary)
budget() {
  local name="$1" want="$2" reserve="${3:-10}" l
  l=$(( $(left) - reserve ))
  T=$(( want < l ? want : l ))
  echo
  echo "=== $name: budget ${T}s (planned ${want}s; t=$(elapsed)s of ${BUDGET}s, $(left)s left)"
  [ "$T" -gt 5 ]
}
stop() {
  echo "run.sh: STOPPED after $(elapsed)s: $*"
  echo "$*" > "$OUT/STOPPED.txt"
  exit 3
}

echo "run.sh: ${BUDGET}s in all; planned per phase (each capped by the time left): checks ~5 (limit 60), fixtures in the"
echo "  background ≤200, Detector JMH 90, parity suite 150, GPU-only checks 90, paper parity 60, other JMH 100, PyTorch 60, summary ≤20"

# ---- 1. checks: seconds, before any minute is spent ------------------------------------------------------------
budget "checks (carry, JRE, CUDA backend)" 60 0
for f in "$C/jre/bin/java" "$C/classes/crd4j/backend/Backend.class" "$C/classes/crd4j/cuda/MANIFEST" "$C/test-classes" "$C/bench-classes"; do
  [ -e "$f" ] || stop "carry incomplete: $f is missing (run benchmarks/device/prepare.sh in this checkout, then call run with carry [\"benchmarks/device/carry\"])"
done
for j in jcuda jcudnn junit-platform-console-standalone jmh-core; do
  ls "$C"/lib/$j-*.jar >/dev/null 2>&1 || stop "carry incomplete: no $j jar in $C/lib (rerun benchmarks/device/prepare.sh)"
done
# a carry may arrive without exec bits
chmod +x "$C"/jre/bin/* "$C"/jre/lib/jspawnhelper 2>/dev/null
[ -x "$C/jre/bin/java" ] || stop "$C/jre/bin/java is not executable and chmod failed"

# NVIDIA's libraries as PyTorch's wheels bundle them: cuDNN 9 (libcudnn.so.9) and, on CUDA 12 images,
# libcublas.so.12 (JCublas 12.6 needs it; without it crd4j uses its cuDNN path for GEMM-shaped ops).
PY="$(command -v python3 || true)"
NVLIBS=""
if [ -n "$PY" ]; then
  NVLIBS="$(timeout 30 "$PY" - <<'PY' 2>/dev/null
import os
dirs = []
try:
    import nvidia
    for root in nvidia.__path__:
        for r, d, f in os.walk(root):
            if any(x.startswith("lib") and ".so" in x for x in f):
                dirs.append(r)
except Exception:
    pass
try:
    import torch
    dirs.append(os.path.join(os.path.dirname(torch.__file__), "lib"))
except Exception:
    pass
print(":".join(dirs))
PY
)"
fi
export LD_LIBRARY_PATH="${NVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NVIDIA_TF32_OVERRIDE=0     # no TF32 anywhere unless a benchmark asks (--tf32 sets maths modes)
[ -n "$PY" ] && export CRD4J_PYTHON="$PY"   # the parity tests' PyTorch is the python3 on PATH here
JAVA="$C/jre/bin/java"
CP="$C/classes:$C/lib/*"
{ command -v nvidia-smi >/dev/null && timeout 20 nvidia-smi; echo; "$JAVA" -version 2>&1; echo "python3=$PY"; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; } > "$OUT/gpu.txt" 2>&1
# the backend's one-line description, or the one line saying what is missing (the entry point embedding code uses)
probe="$(timeout "$T" "$JAVA" -Xmx1g -cp "$CP" crd4j.backend.Backends cuda 2>&1)"
echo "$probe" >> "$OUT/gpu.txt"
first="$(echo "$probe" | head -1)"
echo "backend: $first"
[[ "$first" == "# cuda ("* ]] || stop "the CUDA backend did not start; its first line is not a CUDA description: $first"
echo "$probe" | tail -n +2

# ---- 2. fixtures in the background (CPU PyTorch; the JMH phase below uses the GPU meanwhile) --------------------
FIX_PID=""; PAPER_PID=""; FIX=/tmp/crd4j-fixtures
TCP="$C/test-classes:$C/classes:$C/lib/*"
JUNIT="$(ls "$C"/lib/junit-platform-console-standalone-*.jar | head -1)"
if [[ $PHASES == *parity* ]]; then
  budget "PyTorch fixtures of the parity suite (background, 8 CPU threads)" 200 60
  mkdir -p "$FIX"
  ( export OMP_NUM_THREADS=8; timeout "$T" "$JAVA" -Xmx1g -cp "$JUNIT:$TCP" crd4j.testing.ParityFixtures ) > "$OUT/fixtures.log" 2>&1 &
  FIX_PID=$!
  if [ "${PAPER_PARITY:-1}" = 1 ]; then
    ( export OMP_NUM_THREADS=4; timeout 240 "$PY" "$C/crd_reference.py" network --base 64 --size 256 --batch 1 --ref-dtype float64 \
        --out $FIX/network-paper-tmp > $FIX/paper.log 2>&1 && mv $FIX/network-paper-tmp $FIX/network-paper ) &
    PAPER_PID=$!
  fi
fi

JMHCP="$C/bench-classes:$CP"
jmh_filter() { grep --line-buffered -vE '^# (Warmup|Measurement|Timeout|Threads|VM |JMH|Blackhole)'; }

# ---- 3. the Detector's latency, first and alone ------------------------------------------------------------------
if [[ $PHASES == *bench* ]]; then
  if budget "JMH GpuDetectorBenchmark (paper, batch 1, p50/p99, -prof gc)" 90 60; then
    timeout "$T" "$JAVA" -cp "$JMHCP" org.openjdk.jmh.Main 'GpuDetectorBenchmark' -f 1 -wi 2 -w 4s -i 3 -r 5s -prof gc \
      -rf json -rff "$OUT/jmh-detector.json" -jvmArgs "-Xmx16g" 2>&1 | jmh_filter
  fi
fi

# ---- 4. the parity suite (JUnit console launcher) and the GPU-only self-test -------------------------------------
if [[ $PHASES == *parity* ]]; then
  if budget "waiting for the fixtures" 120 120; then
    timeout "$T" bash -c "while kill -0 $FIX_PID 2>/dev/null; do sleep 1; done"
  fi
  kill "$FIX_PID" 2>/dev/null
  tail -3 "$OUT/fixtures.log"
  if budget "parity suite (OpsParityTest, NetworkParityTest, TrainingStepParityTest, on every backend that opens)" 150 90; then
    timeout "$T" "$JAVA" -Xmx16g -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$JUNIT:$TCP" \
      org.junit.platform.console.ConsoleLauncher execute --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii \
      --reports-dir "$OUT/junit" --include-classname '.*' \
      --select-class crd4j.backend.OpsParityTest --select-class crd4j.model.NetworkParityTest \
      --select-class crd4j.train.TrainingStepParityTest 2>&1 | tee "$OUT/junit.log"
  fi
  if budget "GpuSelfTest: GPU-only checks (f32 vs f64 on the device, fused kernels, Detector graph replay)" 90 60; then
    timeout "$T" "$JAVA" -Xmx16g -cp "$CP" crd4j.backend.cuda.GpuSelfTest $FIX "$OUT/selftest.tsv" \
        consistency,kernels,detector 2>&1 | tee "$OUT/selftest.log"
  fi
  if [ -n "$PAPER_PID" ]; then
    if [ -d $FIX/network-paper ] && budget "paper network parity (GpuSelfTest network-paper)" 60 50; then
      timeout "$T" "$JAVA" -Xmx24g -cp "$CP" crd4j.backend.cuda.GpuSelfTest $FIX "$OUT/selftest-paper.tsv" network-paper 2>&1 | tee -a "$OUT/selftest.log"
    else
      echo "paper parity skipped: fixture not ready ($(tail -1 $FIX/paper.log 2>/dev/null)) or too little time left"
    fi
    kill "$PAPER_PID" 2>/dev/null
  fi
fi

# ---- 5.-7. the other benchmarks, PyTorch, summary ----------------------------------------------------------------
if [[ $PHASES == *bench* ]]; then
  if budget "JMH GpuKernelBenchmark + GpuTrainingBenchmark (-foe false)" 100 40; then
    timeout "$T" "$JAVA" -cp "$JMHCP" org.openjdk.jmh.Main 'GpuKernelBenchmark|GpuTrainingBenchmark' -f 1 -foe false \
      -wi 2 -w 3s -i 3 -r 4s -prof gc -rf json -rff "$OUT/jmh-gpu.json" -jvmArgs "-Xmx16g" 2>&1 | jmh_filter
  fi
  if budget "PyTorch eager on the same GPU" 60 20; then
    timeout "$T" "$PY" $C/torch_gpu_bench.py --ref-dir $C --runs 100 --warmup 10 --train-iters 5 --out "$OUT/torch.json"
  fi
  echo; echo "=== summary (t=$(elapsed)s)"
  timeout 20 "$PY" - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
lines = ["# crd4j GPU run", ""]
def load(n):
    try:
        return json.load(open(os.path.join(out, n)))
    except Exception:
        return None
jmh = (load("jmh-detector.json") or []) + (load("jmh-gpu.json") or [])
torch = load("torch.json")
try:
    lines.append("backend: " + [l for l in open(os.path.join(out, "gpu.txt")) if l.startswith("# cuda")][0].strip("# \n"))
except Exception:
    pass
res = {}
for b in jmh:
    name = b["benchmark"].split(".")[-2] + "." + b["benchmark"].split(".")[-1]
    pm = b["primaryMetric"]
    res[name] = pm
    p = pm.get("scorePercentiles", {})
    lines.append(f"- {name} {b.get('params', {})}: score {pm['score']:.4g} {pm['scoreUnit']}"
                 + (f", p50 {p.get('50.0', float('nan')):.4g}, p99 {p.get('99.0', float('nan')):.4g}" if p else ""))
if torch:
    lines.append("- PyTorch: " + json.dumps(torch))
d = res.get("GpuDetectorBenchmark.score")
if d and torch:
    p = d["scorePercentiles"]
    t50 = torch["inference_cudnn_benchmark_false"]["p50_ms"]
    lines.append(f"\nDetector p50 crd4j / PyTorch eager = {p['50.0'] / t50:.3f} (target ≤ 0.6); crd4j p99/p50 = {p['99.0'] / p['50.0']:.3f} (target ≤ 1.2)")
tr = res.get("GpuTrainingBenchmark.step")
if tr and torch and "training" in torch:
    sps = tr["score"] * 16
    lines.append(f"Training crd4j {sps:.2f} samples/s vs PyTorch {torch['training']['samples_per_s']:.2f} = {sps / torch['training']['samples_per_s']:.3f} (target ≥ 1.0)")
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
fi
echo; echo "=== done (t=$(elapsed)s of ${BUDGET}s)"
grep -hE "tests (successful|failed|aborted)" "$OUT/junit.log" 2>/dev/null
grep -hE "passed, .* failed" "$OUT/selftest.log" 2>/dev/null
ls -la "$OUT"
