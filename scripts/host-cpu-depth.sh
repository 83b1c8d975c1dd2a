#!/usr/bin/env bash
# HDAP's width+depth space on the real fleet at hand: this machine in the four configurations of
# scripts/host-cpu-loop.sh (1 or 2 torch threads, with or without a process busy half a core),
# against the host-cpu SKU that loop last fitted (reports/host-cpu/host-cpu.yaml).
#   1. prune ResNet-18 to half its FLOPs with HDAP, widths and residual blocks, against the twin of
#      that fleet (scenarios/host-cpu-depth.yaml)              -> reports/host-cpu-depth-fleet/
#   2. time every method's pick on every real configuration, interleaved with the unpruned
#      ResNet-18 and with the width-only loop's picks            -> reports/host-cpu-depth/pruned.csv
#   3. compare with the twin's predictions, and print the measured fleet mean per method
#                                                               -> reports/host-cpu-depth/
# About 2 minutes on 2 cores; run it with nothing else busy. From the repository root:
#   bash scripts/host-cpu-depth.sh
set -euo pipefail
OUT=reports/host-cpu-depth
RUN=reports/host-cpu-depth-fleet
WIDTH_RUN=reports/host-cpu-fleet
SKU=reports/host-cpu/host-cpu.yaml
BENCH=(--sku host-cpu --board-id "$(hostname)" --threads 1,2 --background 0,0.5 --warmup 5 --repeats 30)
mkdir -p "$OUT"
rm -f "$OUT/pruned.csv"

echo "== 1. prune with HDAP (width+depth) against the twin of the fleet"
hdap run scenarios/host-cpu-depth.yaml --out "$RUN"

echo "== 2. time the picks of both spaces beside the unpruned ResNet-18"
WIDTHS=()
while read -r widths; do WIDTHS+=(--widths "$widths"); done < <(python - "$RUN/results.json" "$WIDTH_RUN/results.json" <<'PY'
import json, sys
seen = set()
for path in sys.argv[1:]:
    for method, widths in json.load(open(path))["widths"].items():
        text = ",".join(map(str, widths))
        if text not in seen:  # every distinct architecture once (unpruned first)
            seen.add(text)
            print(text)
PY
)
twin board-bench --model resnet18 "${WIDTHS[@]}" "${BENCH[@]}" --out "$OUT/pruned.csv"

echo "== 3. validate the twin on them, and the measured fleet mean per method"
hdap validate "$OUT/pruned.csv" --sku "$SKU" --out "$OUT"
python - "$OUT" "$RUN" "$WIDTH_RUN" <<'PY' | tee "$OUT/methods.txt"
import json, sys
import pandas as pd
out, runs = sys.argv[1], sys.argv[2:]
rows = pd.read_csv(f"{out}/pruned.csv")
pred = pd.read_csv(f"{out}/validation.csv")
rows["predicted_ms"] = pred.set_index("row").loc[rows.index + 2, "predicted_ms"].to_numpy()  # row: the CSV line
per = rows.groupby("widths")[["latency_ms", "predicted_ms"]].mean()  # mean over the four configurations
table = []
for run, space in zip(runs, ("width+depth", "width")):
    for method, widths in json.load(open(f"{run}/results.json"))["widths"].items():
        m = per.loc[";".join(map(str, widths))]
        table.append({"space": space, "method": method, "measured_ms": m.latency_ms, "twin_ms": m.predicted_ms,
                      "blocks_dropped": sum(w == 0 for w in widths)})
table = pd.DataFrame(table)
print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
for space, part in table.groupby("space", sort=False):
    t = part.set_index("method")
    for other in ("single_device", "oracle", "uniform_l2"):
        print(f"{space}: HDAP vs {other}: measured {100 * (t.measured_ms[other] / t.measured_ms['hdap'] - 1):+.1f} %, "
              f"twin {100 * (t.twin_ms[other] / t.twin_ms['hdap'] - 1):+.1f} % (positive: HDAP faster)")
PY
