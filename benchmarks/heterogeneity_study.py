"""``hdap study heterogeneity`` at 100,000 devices: wall time, memory, and the study's own targets.

Runs the study on one scenario (default scenarios/nano-rollout.yaml: MobileNetV2 in TensorRT on
Nanos) with three mechanisms and two search spaces on a LocalCluster of ``--workers`` processes,
and prints its wall time (target: <= 15 minutes on a 2-core machine), the peak memory, and, from
its table, the worst HDAP gap to the oracle (target: within 1 %) and the theory's largest miss
against the simulated single-device loss (target: within 1 point).

    python benchmarks/heterogeneity_study.py [--scenario S] [--devices 1e5] [--workers 2]
        [--mechanisms modes,software,engines] [--out DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from study_scale import PeakMemory

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(REPO / "scenarios" / "nano-rollout.yaml"))
    ap.add_argument("--devices", default="1e5")
    ap.add_argument("--workers", default="2")
    ap.add_argument("--mechanisms", default="modes,software,engines")
    ap.add_argument("--spaces", default="width,width+depth")
    ap.add_argument("--out", help="keep the study's folder here (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or Path(tmp) / "study")
        cmd = [sys.executable, "-m", "hdap.cli", "study", "heterogeneity", args.scenario, "--devices", args.devices,
               "--mechanisms", args.mechanisms, "--spaces", args.spaces, "--workers", args.workers, "--out", str(out)]
        t0 = time.perf_counter()
        with PeakMemory() as peak:
            r = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if r.returncode:
            sys.exit(r.stderr[-3000:])
        df = pd.read_csv(out / "heterogeneity.csv")
    cells = len(df)
    widths = df[df["space"] == "width"]  # the theory covers widths
    miss = (widths["predicted_loss_pct"] - widths["single_device_loss_pct"]).abs()
    print(f"hdap study heterogeneity {Path(args.scenario).name}: {int(df.devices.iloc[0]):,} devices, "
          f"{df.mechanism.nunique()} mechanisms, {df.space.nunique()} spaces, {cells} cells")
    print(f"wall time {wall:.0f} s ({wall / 60:.1f} min; target <= 15 min on 2 cores), "
          f"peak memory {peak.total:.2f} GB (main {peak.main:.2f}, largest worker {peak.child:.2f})")
    print(f"worst HDAP gap to the oracle {df.hdap_gap_to_oracle_pct.max():+.2f} % (target <= 1 %); "
          f"cells over 1 %: {(df.hdap_gap_to_oracle_pct > 1).sum()} of {cells}")
    print(f"theory vs simulated single-device loss: mean |miss| {miss.mean():.2f} points, worst {miss.max():.2f} "
          f"(target <= 1); width-space cells over 1 point: {(miss > 1).sum()} of {len(widths)}")
    cols = ["mechanism", "magnitude", "space", "single_device_loss_pct", "predicted_loss_pct", "hdap_gain_pct",
            "oracle_gain_pct", "hdap_gap_to_oracle_pct", "clusters", "profiling_device_hours"]
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
