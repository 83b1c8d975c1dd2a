"""How much of "HDAP vs a baseline" is the seed: ``hdap run`` on one scenario under N seeds.

Each seed is an independent run (the fleet's and HDAP's random streams both come from it: seed 0
is the scenario's own, the others are drawn from its ``study_fleet`` stream, as the studies do).
Prints, per seed and as mean and spread, the exact fleet mean of HDAP's pick relative to each
baseline's. A difference smaller than this spread is not a difference the testbed can claim.

    python benchmarks/seed_spread.py scenarios/nano-resnet50.yaml --seeds 5
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

import hdap
from hdap.study.trial import study_fleet_seed
from twin.scenario import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    base = load_scenario(args.scenario)
    rows = []
    t0 = time.perf_counter()
    for n in range(args.seeds):
        result = hdap.run(base.with_overrides(seed=study_fleet_seed(base.seed, n)))
        mean = result.summary()["fleet_mean_ms"]
        rows.append({"seed": result.scenario.seed, "hdap_ms": mean["hdap"],
                     **{f"vs_{m}_pct": 100 * (mean["hdap"] / mean[m] - 1)
                        for m in ("uniform_l2", "global_magnitude", "single_device", "oracle")}})
    df = pd.DataFrame(rows)
    print(f"{base.name}: {args.seeds} seeds in {time.perf_counter() - t0:.0f} s; HDAP's exact fleet mean relative "
          f"to each baseline's (negative: HDAP faster)")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    stats = df.drop(columns=["seed", "hdap_ms"]).agg(["mean", "std", "min", "max"])
    print(stats.to_string(float_format=lambda v: f"{v:+.2f}"))


if __name__ == "__main__":
    main()
