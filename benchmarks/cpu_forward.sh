#!/usr/bin/env bash
# CPU forward latency of the whole CRD inference (2 teacher passes + 2 branches + 2 raw maps, batch 1), crd4j and
# PyTorch eager float32 side by side in one run on this machine. Usage: benchmarks/cpu_forward.sh [preset] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-paper}"; runs="${2:-3}"
case "$preset" in paper) b=64; s=256;; small) b=16; s=128;; tiny) b=4; s=64;; *) echo "unknown preset $preset" >&2; exit 2;; esac
py="${CRD4J_PYTHON:-/usr/bin/python3}"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# command: benchmarks/cpu_forward.sh $preset $runs"
./crd bench --device cpu --preset "$preset" --runs "$runs" 2>/dev/null | grep '^{'
"$py" src/test/python/crd_reference.py bench --base "$b" --size "$s" --runs "$runs" --out "$(mktemp -d)" 2>/dev/null | grep '^{'
