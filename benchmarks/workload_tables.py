"""Width vectors to workload tables per second, analytically (target: >= 2,000 for ResNet-50).

    python benchmarks/workload_tables.py [--model resnet50] [--n 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zoo import get_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()
    m = get_model(args.model)
    rng = np.random.default_rng(0)
    widths = [m.widths_from_rates(r) for r in rng.uniform(0, 0.9, (args.n, m.n_units))]
    m.workload(widths[0])  # compile the template once
    t0 = time.perf_counter()
    total = 0.0
    for w in widths:
        total += m.workload(w).total_flops
    dt = time.perf_counter() - t0
    print(f"{args.model}: {args.n:,} width vectors -> workload tables in {dt:.2f} s: {args.n / dt:,.0f} per second "
          f"({len(m.workload())} layers each; target >= 2,000 for resnet50: {'met' if args.n / dt >= 2000 else 'MISSED'})")


if __name__ == "__main__":
    main()
