#!/usr/bin/env bash
# Paper-preset CPU inference, side by side in one run on this machine, the same thread count for all three:
# crd4j (`crd bench`), PyTorch eager (crd_reference.py bench) and ONNX Runtime's Java CPU runtime 1.20.0 running the same
# network exported from the PyTorch reference (benchmarks/onnx/export_onnx.py; ~9 GB of memory once, the .onnx stays in
# benchmarks/target, out of git). Rounds are interleaved (crd4j, PyTorch, ONNX Runtime, then again) so a change in
# machine load hits all three alike. Usage: benchmarks/onnx_cpu.sh [threads] [rounds] [runs per round]
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-$(nproc)}"; rounds="${2:-3}"; runs="${3:-3}"
py="${CRD4J_PYTHON:-/usr/bin/python3}"
ort_dir=benchmarks/target/ort; onnx_dir=benchmarks/target/onnx-paper
mkdir -p "$ort_dir"
jar="$ort_dir/onnxruntime-1.20.0.jar"
if [ ! -f "$jar" ]; then
  mvn -B -q dependency:copy -Dartifact=com.microsoft.onnxruntime:onnxruntime:1.20.0 -DoutputDirectory="$ort_dir" >&2
fi
if [ ! -f "$onnx_dir/crd.onnx" ]; then
  echo "# exporting the PyTorch reference network to ONNX (once)" >&2
  "$py" benchmarks/onnx/export_onnx.py --base 64 --size 256 --out "$onnx_dir" >&2
fi
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), threads $threads"
echo "# command: benchmarks/onnx_cpu.sh $threads $rounds $runs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  ./crd bench --device cpu --preset paper --threads "$threads" --runs "$runs" 2>/dev/null | grep '^{' | sed 's/^/crd4j       /'
  OMP_NUM_THREADS="$threads" "$py" -c "import torch,sys,runpy; torch.set_num_threads($threads); sys.argv=['crd_reference.py','bench','--base','64','--size','256','--runs','$runs','--threads','$threads','--out','$(mktemp -d)']; runpy.run_path('src/test/python/crd_reference.py', run_name='__main__')" 2>/dev/null | grep '^{' | sed 's/^/pytorch     /'
  java -Xmx4g -cp "$jar" benchmarks/onnx/OrtBench.java "$onnx_dir/crd.onnx" 256 "$threads" "$runs" 2>/dev/null | grep '^{' | sed 's/^/onnxruntime /'
done
echo "# load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
