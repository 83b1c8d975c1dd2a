"""How much a device's shape changes its best architecture: the most fleet-awareness can gain.

For a few device shapes of the twin (nominal; low power mode; memory contended by background
apps; thermally throttled, as slowdowns of compute a, memory b and framework overhead g), the
exact-latency NCS optimum at the FLOPs budget (best of three seeds), then every optimum timed on
every shape. Row r, column c: latency on shape c of the architecture found for shape r, over
shape c's own optimum. Off-diagonal entries above 1 are what pruning for the wrong device costs;
HDAP's edge over single-device pruning cannot exceed them. Also prints each optimum against
uniform pruning (the FLOPs-driven baseline) on its own shape.

    python benchmarks/shape_sensitivity.py [--model resnet50] [--gflops 1.0] [--sku jetson-nano]
                                           [--framework tensorrt]
"""

from __future__ import annotations

import argparse

import numpy as np

from hdap.prune import widths_for_flops
from hdap.search import flops_repair, ncs_minimize
from twin.latency import LatencyModel
from twin.sku import load_sku
from zoo import get_model

SHAPES = {"nominal": (1.0, 1.0, 1.0), "5W mode": (1.44, 1.0, 1.61), "memory contended": (1.0, 2.0, 1.5),
          "throttled": (3.0, 1.0, 1.3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--gflops", type=float, default=1.0)
    ap.add_argument("--sku", default="jetson-nano")
    ap.add_argument("--framework", default="tensorrt")
    args = ap.parse_args()
    zoo, sku, target = get_model(args.model), load_sku(args.sku), args.gflops * 1e9

    def latency(rates, shape) -> float:
        model = LatencyModel(zoo.workload(zoo.widths_from_rates(rates)), sku, args.framework)
        return float(model.latency_s(*(np.array([v]) for v in shape))[0] * 1e3)

    x0 = 1 - widths_for_flops(zoo, target) / np.array(zoo.full_widths)
    best = {}
    print(f"{args.model} at {args.gflops} GFLOPs, {args.sku} ({args.framework}); shapes as (compute, memory, overhead) slowdowns")
    for name, shape in SHAPES.items():
        runs = [ncs_minimize(lambda r: latency(r, shape), x0, flops_repair(zoo, target), np.random.default_rng(s),
                             generations=150) for s in range(3)]
        best[name] = min(runs, key=lambda r: r.best_f).best_x
        print(f"  {name:17s} {shape}: uniform {latency(x0, shape):.3f} ms, optimum {latency(best[name], shape):.3f} ms "
              f"({latency(best[name], shape) / latency(x0, shape):.3f} of uniform)")
    names = list(SHAPES)
    print("optimised for (rows) timed on (columns), over the column's own optimum:")
    print(" " * 19 + "".join(f"{n[:12]:>14s}" for n in names))
    for r in names:
        cells = [latency(best[r], SHAPES[c]) / latency(best[c], SHAPES[c]) for c in names]
        print(f"  {r:17s}" + "".join(f"{v:14.3f}" for v in cells))


if __name__ == "__main__":
    main()
