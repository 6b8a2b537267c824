#!/usr/bin/env bash
# The GPU checks and benchmarks of issue 4 in ONE device call (≤ 10 min). Needs benchmarks/device/carry from
# prepare.sh (run on the development machine) and, on the GPU machine, python3 with PyTorch, NumPy, SciPy and
# NVIDIA's cuDNN wheel (the 'cuda' image has them). Writes ≤ 8 files to $OUT:
#   gpu.txt        nvidia-smi, the JRE, LD_LIBRARY_PATH, the backend's one-line description + the kernel checks
#   selftest.tsv   every parity check (PASS/FAIL, error, tolerance); selftest.log its output
#   jmh-gpu.json   JMH: Detector p50/p99 (paper, batch 1, -prof gc), fused vs unfused cosine loss, Gaussian GPU vs
#                  CPU, training iterations/s (paper, batch 16)
#   torch.json     PyTorch eager on the same GPU, same architecture (torch_gpu_bench.py)
#   summary.md     the figures side by side as ratios; run.log everything printed
# Device call:  command "bash benchmarks/device/run.sh", carry ["benchmarks/device/carry"], timeout_s 600.
# PHASES (default "parity,bench") and PAPER_PARITY=0 (skip the 1.5 GB paper fixture) shorten it.
set -uo pipefail
cd "$(dirname "$0")/../.."
START=$(date +%s)
C=benchmarks/device/carry
OUT="${OUT:-$PWD/device-out}"
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
PHASES="${PHASES:-parity,bench}"
left() { echo $((570 - ($(date +%s) - START))); }
phase() { echo; echo "=== $1 (t=$(( $(date +%s) - START ))s, $(left)s left)"; }

# cuDNN 9, cuBLAS and the CUDA runtime as PyTorch's wheels bundle them (JCuda loads libcudnn.so.9 and, if present,
# libcublas.so.12; CUDA-13 wheels carry libcublas.so.13 only, so crd4j then uses its cuDNN path for GEMMs).
NVLIBS="$(python3 - <<'PY'
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
export LD_LIBRARY_PATH="${NVLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NVIDIA_TF32_OVERRIDE=0     # belt and braces: no TF32 anywhere unless a benchmark asks (--tf32 sets maths modes)
JAVA="$C/jre/bin/java"
CP="$C/classes:$C/lib/*"
FIX=/tmp/crd4j-fixtures

phase "environment"
{ nvidia-smi; echo; "$JAVA" -version 2>&1; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; } > "$OUT/gpu.txt" 2>&1
# the backend's one-line description (or the one-line reason it cannot start), via GpuSelfTest's first line
timeout 120 "$JAVA" -Xmx4g -cp "$CP" crd4j.backend.cuda.GpuSelfTest /nonexistent /dev/null kernels 2>&1 | tee -a "$OUT/gpu.txt"

if [[ $PHASES == *parity* ]]; then
  phase "PyTorch fixtures (ops, tiny network, float64 training step)"
  mkdir -p $FIX
  R="python3 $C/crd_reference.py"
  timeout 150 $R ops --out $FIX > $FIX/ops.log 2>&1 || echo "ops fixtures failed: $(tail -3 $FIX/ops.log)"
  timeout 150 $R network --base 4 --size 64 --batch 1 --ref-dtype float64 --out $FIX/network-tiny > $FIX/net.log 2>&1 || echo "network fixtures failed: $(tail -3 $FIX/net.log)"
  timeout 150 $R train-step --steps 2 --dtype float64 --out $FIX/train-f64 > $FIX/train.log 2>&1 || echo "train-step fixtures failed: $(tail -3 $FIX/train.log)"
  if [ "${PAPER_PARITY:-1}" = 1 ]; then
    (timeout 240 $R network --base 64 --size 256 --batch 1 --ref-dtype float64 --out $FIX/network-paper-tmp > $FIX/paper.log 2>&1 \
      && mv $FIX/network-paper-tmp $FIX/network-paper) &
    PAPER_PID=$!
  fi
  phase "GpuSelfTest"
  timeout 200 "$JAVA" -Xmx16g -cp "$CP" crd4j.backend.cuda.GpuSelfTest $FIX "$OUT/selftest.tsv" \
      ops,consistency,kernels,network-tiny,train-f64,detector 2>&1 | tee "$OUT/selftest.log"
  if [ "${PAPER_PARITY:-1}" = 1 ]; then
    phase "paper fixture (waiting) and paper parity"
    wait $PAPER_PID || echo "paper fixture failed: $(tail -3 $FIX/paper.log)"
    if [ -d $FIX/network-paper ] && [ "$(left)" -gt 300 ]; then
      timeout 150 "$JAVA" -Xmx24g -cp "$CP" crd4j.backend.cuda.GpuSelfTest $FIX "$OUT/selftest-paper.tsv" network-paper 2>&1 | tee -a "$OUT/selftest.log"
      cat "$OUT/selftest-paper.tsv" >> "$OUT/selftest.tsv" 2>/dev/null; rm -f "$OUT/selftest-paper.tsv"
    else
      echo "paper parity skipped (fixture missing or too little time left)"
    fi
  fi
fi

if [[ $PHASES == *bench* ]]; then
  phase "JMH GPU benchmarks"
  JMH=(-f 1 -foe true -rf json -rff "$OUT/jmh-gpu.json" -jvmArgs "-Xmx16g")
  t=$(( $(left) - 110 )); [ $t -gt 240 ] && t=240
  timeout $t "$JAVA" -cp "$C/bench-classes:$CP" org.openjdk.jmh.Main \
    'GpuDetectorBenchmark|GpuKernelBenchmark|GpuTrainingBenchmark' \
    -wi 2 -w 4s -i 3 -r 5s -prof gc "${JMH[@]}" 2>&1 | grep -vE '^# (Warmup|Measurement|Timeout|Threads|VM |JMH|Blackhole)' | tail -80
  phase "PyTorch on the same GPU"
  t=$(( $(left) - 15 )); [ $t -gt 150 ] && t=150
  timeout $t python3 $C/torch_gpu_bench.py --ref-dir $C --runs 100 --warmup 10 --train-iters 5 --out "$OUT/torch.json" | tail -30
  phase "summary"
  python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
lines = ["# crd4j GPU run", ""]
def load(n):
    try:
        return json.load(open(os.path.join(out, n)))
    except Exception as e:
        return None
jmh, torch = load("jmh-gpu.json"), load("torch.json")
try:
    lines.append("GPU: " + open(os.path.join(out, "gpu.txt")).read().split("\n")[8].strip())
except Exception:
    pass
res = {}
for b in jmh or []:
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
phase "done"
grep -E "passed, .* failed" "$OUT/selftest.log" 2>/dev/null
ls -la "$OUT"
