#!/usr/bin/env bash
# Fit the Xavier NX and Orin catalogue files to the real measurements (tests/data/jetson_measured_2.csv,
# a copy of ../shared/data/jetson_measured_2.csv): each SKU's sourced file (twin/skus/sourced/) is
# calibrated, with the tile sizes searched, and written over twin/skus/<sku>.yaml; the fit and the
# leave-one-network-out errors go to reports/jetson-calibration/<sku>.txt. Then the fitted files predict
# rows no fit saw (tests/data/jetson_heldout.csv: other MLPerf rounds and MaxQ clocks, with wall
# power) -> reports/jetson-calibration/heldout-<sku>/. About 2 minutes on 2 cores.
# Run from the repository root: bash scripts/calibrate-jetsons.sh
set -euo pipefail
DATA=tests/data/jetson_measured_2.csv
OUT=reports/jetson-calibration
mkdir -p "$OUT"
for sku in jetson-xavier-nx jetson-orin-nano jetson-orin-nx jetson-agx-orin; do
    echo "== $sku"
    twin calibrate "$DATA" --sku "twin/skus/sourced/$sku.yaml" --search-tiles --leave-one-out \
        --out "twin/skus/$sku.yaml" 2>&1 | tee "$OUT/$sku.txt"
done
for sku in jetson-xavier-nx jetson-orin-nx jetson-agx-orin; do
    hdap validate tests/data/jetson_heldout.csv --sku "twin/skus/$sku.yaml" --out "$OUT/heldout-$sku"
done
