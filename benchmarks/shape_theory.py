"""The shape theory (twin shape) against the twin's exact latency, on real fleet devices.

For a sample of devices from a scenario's fleet: prune the network for the nominal device and for
each device itself, by the theory's own objective (keep ``sum_i c_i log w_i`` at the accuracy of
uniform pruning to ``--keep`` of every unit, ``c_i`` the units' shares of the nominal device's
width-dependent latency), with a greedy that removes, step by step, the channels that save the
most exact latency per unit of that accuracy. The exact loss of the nominal device's pick on a
device is its latency there over the device's own pick's (the better of its greedy result and the
nominal pick: the greedy is no exact optimiser), minus one; the theory predicts it from the unit
costs at full width and at the nominal pick. Prints them per device and on average.

    python benchmarks/shape_theory.py [--scenario scenarios/nano-rollout.yaml] [--model mobilenet_v2]
                                      [--devices 24] [--keep 0.5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.latency import LatencyModel
from twin.scenario import load_scenario
from twin.shape import predicted_loss, unit_costs
from twin.simulation import fleet_snapshot
from zoo import get_model


def greedy(zoo, snap, c: np.ndarray, target: float, step: float = 0.05) -> np.ndarray:
    """Widths with ``sum c log w >= target`` found by removing, each step, ``step`` of the unit
    whose removal saves the most latency on ``snap``'s one device per accuracy lost."""
    w = np.array(zoo.full_widths)

    def lat(widths):
        return float(LatencyModel.of(zoo.workload(widths), snap).snapshot_ms(snap)[0])

    current = lat(w)
    while True:
        best, best_ratio = None, -np.inf
        for i in np.flatnonzero(c > 0):
            cut = max(1, int(np.ceil(step * w[i])))
            if w[i] - cut < 1:
                continue
            trial = w.copy()
            trial[i] -= cut
            lost = c[i] * (np.log(w[i]) - np.log(trial[i]))
            if (c * np.log(trial)).sum() < target:
                continue
            saved = current - lat(trial)
            if saved / lost > best_ratio:
                best, best_ratio = trial, saved / lost
        if best is None:
            return w
        w = best
        current = lat(w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/nano-rollout.yaml")
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--devices", type=int, default=24)
    ap.add_argument("--keep", type=float, default=0.5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    scenario = load_scenario(args.scenario)
    zoo = get_model(args.model)
    fleet = fleet_snapshot(scenario, devices=2000)
    nominal = fleet.nominal()
    full = np.array(zoo.full_widths)
    ref = unit_costs(zoo, full, nominal)[0]
    c = np.where(ref > 0, ref * full, 0.0)
    c = c / c.sum()
    target = float((c * np.log(np.maximum(1, np.round(args.keep * full)))).sum())
    theory_all = predicted_loss(unit_costs(zoo, full, fleet), ref, full)
    # the devices the theory ranks from least to most affected, evenly spaced over the fleet
    pick = np.argsort(theory_all)[np.linspace(0, len(fleet) - 1, args.devices).astype(int)]
    w_nominal = greedy(zoo, nominal, c, target)
    theory_at_pick = predicted_loss(unit_costs(zoo, w_nominal, fleet), unit_costs(zoo, w_nominal, nominal)[0], w_nominal)
    rows = []
    for i in pick:
        dev = fleet.take(np.array([i]))
        on = lambda w: float(LatencyModel.of(zoo.workload(w), dev).snapshot_ms(dev)[0])  # noqa: E731
        own = min(on(greedy(zoo, dev, c, target)), on(w_nominal))  # the greedy is no exact optimiser
        rows.append((int(dev.state.device_id[0]), 100 * theory_all[i], 100 * theory_at_pick[i],
                     100 * (on(w_nominal) / own - 1)))
    print(f"{args.model} on {scenario.name}: {args.devices} devices spanning the fleet's predicted loss; "
          f"accuracy kept as uniform pruning to {args.keep:g} of every unit")
    print("theory: the predicted loss from unit costs at full width, and at the nominal device's pick")
    print(f"{'device':>8} {'theory full %':>14} {'theory pick %':>14} {'exact %':>8}")
    for dev, full_w, at_pick, exact in rows:
        print(f"{dev:>8} {full_w:14.3f} {at_pick:14.3f} {exact:8.3f}")
    table = np.array([r[1:] for r in rows])
    print(f"mean: theory at full width {table[:, 0].mean():.3f} %, at the pick {table[:, 1].mean():.3f} %, "
          f"exact {table[:, 2].mean():.3f} %; largest |theory at the pick - exact| "
          f"{np.abs(table[:, 1] - table[:, 2]).max():.3f} points; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
