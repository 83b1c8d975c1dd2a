#!/usr/bin/env bash
# The full calibrate -> prune -> validate loop on the real fleet at hand: this machine in four
# configurations (1 or 2 torch threads, with or without a background process busy half a core).
#   1. time a few networks on every configuration           -> reports/host-cpu/calibration.csv
#   2. fit the host-cpu SKU to them                         -> reports/host-cpu/host-cpu.yaml
#   3. prune ResNet-18 with HDAP against the twin of that fleet (scenarios/host-cpu-fleet.yaml)
#                                                           -> reports/host-cpu-fleet/
#   4. time every method's pruned ResNet-18 on every real configuration, interleaved with the
#      unpruned ResNet-18 (a calibration network: its error shows drift since step 1)
#                                                           -> reports/host-cpu/pruned.csv
#   5. compare them with the twin's predictions             -> reports/host-cpu/report.md
# About 3 minutes on 2 cores. Run from the repository root: bash scripts/host-cpu-loop.sh
set -euo pipefail
OUT=reports/host-cpu
RUN=reports/host-cpu-fleet
BENCH=(--sku host-cpu --board-id "$(hostname)" --threads 1,2 --background 0,0.5 --warmup 5 --repeats 30)
mkdir -p "$OUT"
rm -f "$OUT/calibration.csv" "$OUT/pruned.csv"

echo "== 1. measure: full-width networks, and ResNet-18/50 sub-networks of random widths"
twin board-bench --model resnet34 --model mobilenet_v2 --model vgg11 --model resnet56 "${BENCH[@]}" \
    --out "$OUT/calibration.csv"
twin board-bench --model resnet18 --model resnet50 --random 2 "${BENCH[@]}" --out "$OUT/calibration.csv"

echo "== 2. calibrate host-cpu"
twin calibrate "$OUT/calibration.csv" --sku host-cpu --leave-one-out --out "$OUT/host-cpu.yaml" \
    | tee "$OUT/calibrate.txt"

echo "== 3. prune with HDAP against the twin of the fleet"
hdap run scenarios/host-cpu-fleet.yaml --out "$RUN"

echo "== 4. measure the pruned networks (none was used for calibration) beside the unpruned ResNet-18"
WIDTHS=()
while read -r widths; do WIDTHS+=(--widths "$widths"); done < <(python - "$RUN/results.json" <<'PY'
import json, sys
for method, widths in json.load(open(sys.argv[1]))["widths"].items():
    if method != "hdap":  # unpruned first, then the baselines; HDAP's comes from its model file
        print(",".join(map(str, widths)))
PY
)
twin board-bench --model-file "$RUN/resnet18_hdap.pt" --model resnet18 "${WIDTHS[@]}" "${BENCH[@]}" --out "$OUT/pruned.csv"

echo "== 5. validate the twin on them"
hdap validate "$OUT/pruned.csv" --sku "$OUT/host-cpu.yaml" --out "$OUT"
