"""How well does this board reproduce its own latencies, per configuration?

A twin calibrated on one session's measurements cannot be closer to a later session than the board
is to itself. This times the same networks ``--sessions`` times with ``twin board-bench``'s
harness (each session a fresh round of every configuration, seconds apart) and prints, per
configuration and network, the medians of the sessions and their spread: (max - min) / mean of
the session medians, and the largest deviation of one session from the mean of the others.

    python benchmarks/board_repeatability.py [--sessions 5] [--threads 1,2] [--background 0,0.5,1]
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from twin.calibration.board_bench import bench_rows

NETWORKS = {"resnet18": None, "resnet18 uniform 50 %": [29, 29, 59, 59, 118, 118, 236, 236]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--background", default="0,0.5,1")
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    background = [float(b) for b in args.background.split(",")]
    medians = defaultdict(list)
    for _ in range(args.sessions):
        for label, widths in NETWORKS.items():
            rows = bench_rows(["resnet18"], [], sku="host-cpu", board_id="this", threads=threads, background=background,
                              warmup=5, repeats=args.repeats, widths=[widths] if widths else None, log=lambda *_: None)
            for r in rows:
                medians[(r["threads"], r["background_cores"], label)].append(r["latency_ms"])
    print(f"{args.sessions} sessions of {args.repeats} timed runs each; medians in ms")
    print(f"{'threads':>7} {'background':>10}  {'network':24} {'session medians':48} {'spread':>7} {'worst':>7}")
    for (n, bg, label), ms in sorted(medians.items()):
        mean = statistics.fmean(ms)
        worst = max(abs(m / statistics.fmean(ms[:i] + ms[i + 1:]) - 1) for i, m in enumerate(ms))
        print(f"{n:>7} {bg:>10g}  {label:24} {' '.join(f'{m:7.2f}' for m in ms):48} "
              f"{100 * (max(ms) - min(ms)) / mean:6.1f}% {100 * worst:6.1f}%")


if __name__ == "__main__":
    main()
