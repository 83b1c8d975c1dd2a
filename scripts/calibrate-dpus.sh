#!/usr/bin/env bash
# Fit the ZCU102 and ZCU104 DPU catalogue files to the Xilinx AI Model Zoo's published batch-1 latencies
# (twin/skus/sourced/dpu_measured.csv, Vitis AI 1.0: 7 networks per board, ResNet-50 left out): each
# sourced file (twin/skus/sourced/) is calibrated and written over twin/skus/<sku>.yaml, the fit and the
# leave-one-network-out errors to reports/dpu-calibration/<sku>.txt. Then the fitted files predict the
# rows no fit saw (tests/data/dpu_heldout.csv: ResNet-50 on each board) -> reports/dpu-calibration/heldout-<sku>/.
# kria-k26-dpu.yaml takes the ZCU102 fit's framework terms by hand (no published row of its B3136 to fit).
# About 20 s on 2 cores. Run from the repository root: bash scripts/calibrate-dpus.sh
set -euo pipefail
OUT=reports/dpu-calibration
mkdir -p "$OUT"
for sku in zcu102-dpu zcu104-dpu; do
    echo "== $sku"
    twin calibrate twin/skus/sourced/dpu_measured.csv --sku "twin/skus/sourced/$sku.yaml" --leave-one-out \
        --out "twin/skus/$sku.yaml" 2>&1 | tee "$OUT/$sku.txt"
    hdap validate tests/data/dpu_heldout.csv --sku "twin/skus/$sku.yaml" --out "$OUT/heldout-$sku"
done
