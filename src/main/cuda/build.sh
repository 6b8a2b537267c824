#!/usr/bin/env bash
# Compiles each src/main/cuda/<op>.cu into src/main/resources/crd4j/cuda/<op>.fatbin (committed) and records the
# SHA-256 of the source and of the binary in src/main/resources/crd4j/cuda/MANIFEST. The source hash covers the .cu
# followed by every local header it includes (#include "x.h", in order; e.g. crd4j_kernels.h, the shared block
# size), so a header change rebuilds the kernels that use it (KernelManifest.sourceSha256 computes the same). Run by Maven
# (exec-maven-plugin, generate-resources) on every build: a kernel is recompiled only when its source hash differs
# from the manifest, so builds without nvcc (CI, most machines) use the committed binaries unchanged, and
# KernelBuildCheckTest fails if a .cu changed without its binary. `build.sh --force` recompiles everything.
#
# Targets: SASS for sm_75 sm_80 sm_86 sm_89 sm_90 (Turing, A100, RTX 30xx, L4/RTX 40xx, H100/H200) plus compute_90
# PTX, which the driver JIT-compiles on newer GPUs (Blackwell). nvcc 13.0 still lists compute_75
# (`nvcc --list-gpu-arch`), so Turing stays in.
# Flags: -O3, -fmad=false (no FMA contraction: the kernels reproduce the CPU reference's rounding, see each .cu).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../resources/crd4j/cuda"
manifest="$out/MANIFEST"
ARCHS=(75 80 86 89 90)
FLAGS=(-fatbin -O3 -fmad=false -std=c++17)
for a in "${ARCHS[@]}"; do FLAGS+=(-gencode "arch=compute_$a,code=sm_$a"); done
FLAGS+=(-gencode "arch=compute_90,code=compute_90")
force=0; [ "${1:-}" = "--force" ] && force=1
# the print-only mode is what KernelBuildCheckTest uses to recompile into a temporary folder
if [ "${1:-}" = "--flags" ]; then echo "${FLAGS[@]}"; exit 0; fi

# sha256 of the .cu and, in order, the local headers it includes (one level: the headers include nothing local)
source_hash() {
  local cu="$1" dir headers
  dir="$(dirname "$cu")"
  headers="$(grep -oE '^[[:space:]]*#include[[:space:]]+"[^"]+"' "$cu" | sed -E 's/.*"([^"]+)"/\1/')"
  (cd "$dir" && cat "$(basename "$cu")" $headers) | sha256sum | cut -d' ' -f1
}

mkdir -p "$out"
touch "$manifest"
nvcc_bin="$(command -v nvcc || true)"
stale=()
for cu in "$here"/*.cu; do
  name="$(basename "$cu" .cu)"
  sha="$(source_hash "$cu")"
  if [ $force = 0 ] && grep -q "^$name.cu $sha " "$manifest" && [ -f "$out/$name.fatbin" ]; then continue; fi
  stale+=("$name")
done
[ ${#stale[@]} = 0 ] && exit 0
if [ -z "$nvcc_bin" ]; then
  echo "[crd4j cuda] WARNING: nvcc not on PATH; kernels out of date with their source: ${stale[*]} (KernelBuildCheckTest will fail)" >&2
  exit 0
fi
version="$("$nvcc_bin" --version | grep -o 'release [0-9.]*, V[0-9.]*' | sed 's/.*V/V/')"
for name in "${stale[@]}"; do
  echo "[crd4j cuda] nvcc $version: $name.cu -> $name.fatbin"
  # compiled from inside src/main/cuda with a relative name: the binary then does not depend on the checkout path
  (cd "$here" && "$nvcc_bin" "${FLAGS[@]}" -o "$out/$name.fatbin.tmp" "$name.cu")
  mv "$out/$name.fatbin.tmp" "$out/$name.fatbin"
  sha="$(source_hash "$here/$name.cu")"
  bin="$(sha256sum "$out/$name.fatbin" | cut -d' ' -f1)"
  { grep -v "^$name.cu " "$manifest" || true; echo "$name.cu $sha $name.fatbin $bin nvcc-$version"; } | sort > "$manifest.tmp"
  mv "$manifest.tmp" "$manifest"
done
