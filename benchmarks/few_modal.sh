#!/usr/bin/env bash
# Few-modal inference on the synthetic benchmark (docs/FEW_MODAL.md): one CRD model per category trained with both
# modalities (tiny preset, random teacher with calibrated batch-norm statistics, plus the mapping network), then every
# category's test split scored with both modalities, with RGB or 3D missing from every part under each strategy, and
# with 30/50/70% of the parts missing a modality (half RGB, half 3D) over seeds 0,1,2. With RD=1 it also trains the
# single-modality Reverse Distillation baselines (RGB only, depth only) and evaluates them.
# Usage: benchmarks/few_modal.sh [OUT] (default few-modal-out). Environment: TRAIN (40), EPOCHS (20), RD (1).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-few-modal-out}"
train="${TRAIN:-40}"; epochs="${EPOCHS:-20}"; rd="${RD:-1}"
crd="$here/crd"
export JAVA_OPTS="${JAVA_OPTS:--Xmx3g -Dorg.bytedeco.javacpp.maxbytes=4g -Dorg.bytedeco.javacpp.maxPhysicalBytes=0}"
t0=$(date +%s)
[ -d "$out/data" ] || "$crd" synth --out "$out/data" --categories cookie,puck,tile --seed 42 --size 128 --train "$train" \
  --validation 10 --test-good 16 --test-defect 12
for c in cookie puck tile; do
  [ -f "$out/models/$c.crd4j" ] || { mkdir -p "$out/models"; "$crd" train --device cpu --threads 1 --data "$out/data" --category "$c" \
    --preset tiny --teacher random --calibrate-teacher --epochs "$epochs" --batch 4 --lr 0.005 --seed 42 --mapping \
    --progress lines --out "$out/models/$c.crd4j"; }
  echo "few_modal.sh: trained $c ($(( $(date +%s) - t0 )) s)"
  if [ "$rd" = 1 ]; then
    for m in rgb depth; do
      [ -f "$out/models/$c.rd-$m.crd4j" ] || "$crd" train --device cpu --threads 1 --data "$out/data" --category "$c" --modalities "$m" \
        --preset tiny --teacher random --calibrate-teacher --epochs "$epochs" --batch 4 --lr 0.005 --seed 42 --progress lines \
        --out "$out/models/$c.rd-$m.crd4j"
      echo "few_modal.sh: trained RD $m on $c ($(( $(date +%s) - t0 )) s)"
    done
  fi
done
"$crd" eval --device cpu --threads 1 --data "$out/data" --category cookie,puck,tile --model "$out/models/{category}.crd4j" \
  --out "$out/eval" --missing rgb,3d --missing-rate 0.3,0.5,0.7 --missing-type both --seeds 0,1,2 \
  --missing-strategy filter,amplifier,mapping,zero,drop --report-samples 8
echo "few_modal.sh: evaluated ($(( $(date +%s) - t0 )) s)"
if [ "$rd" = 1 ]; then
  for m in rgb depth; do
    "$crd" eval --device cpu --threads 1 --data "$out/data" --category cookie,puck,tile --model "$out/models/{category}.rd-$m.crd4j" \
      --out "$out/eval-rd-$m" --no-report
  done
  echo "few_modal.sh: evaluated the RD baselines ($(( $(date +%s) - t0 )) s)"
fi
