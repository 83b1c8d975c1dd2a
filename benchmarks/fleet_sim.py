"""Fleet simulation speed: vectorised blocks against one SimPy process per device.

Prints device-days per second and peak memory for the million-device scenario over 730 days
(local worker processes, 2 by default), and, in the same run, the same model run naively: one
SimPy process per device on 10,000 devices, each calling the very same daily physics
(``advance_day``) and event functions on its own one-device view of the state. The naive run
covers fewer days (it is slow); rates are per device-day, so the ratio compares like with like.

    python benchmarks/fleet_sim.py [--devices 1000000] [--days 730] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import simpy

from twin.config_drift import arrive_background, depart_background, switch_modes
from twin.scenario import load_scenario
from twin.simulation import _birth, _block_streams, _context, advance_day, simulate

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "million.yaml"


def naive_rate(devices: int, days: int) -> float:
    """Device-days per second with one SimPy process per device (same physics, scalar views)."""
    scenario = load_scenario(SCENARIO).with_overrides(devices=devices, days=days)
    ctx = _context(scenario, ())
    rng = _block_streams(scenario.seed, 0)
    state = _birth(ctx, 0, rng["birth"])
    views = [state.take(slice(i, i + 1)) for i in range(devices)]
    drift = scenario.drift
    env = simpy.Environment()

    def device(view):
        yield env.timeout(0.5)
        for day in range(days):
            switch_modes(view, drift.power_modes, ctx.preferred_modes, rng["modes"])
            depart_background(view, day)
            arrive_background(view, drift.background, day, rng["background"])
            yield env.timeout(0.5)
            advance_day(view, ctx, day, rng["supply"])
            yield env.timeout(0.5)

    for v in views:
        env.process(device(v))
    t0 = time.perf_counter()
    env.run()
    return devices * days / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--naive-devices", type=int, default=10_000)
    ap.add_argument("--naive-days", type=int, default=10)
    args = ap.parse_args()

    scenario = load_scenario(SCENARIO).with_overrides(devices=args.devices, days=args.days)
    t0 = time.perf_counter()
    result = simulate(scenario, workers=args.workers)
    wall = time.perf_counter() - t0
    fast = args.devices * args.days / wall
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"vectorised: {args.devices:,} devices x {args.days} days, {args.workers} worker(s): {wall:.1f} s, "
          f"{fast / 1e6:.1f} M device-days/s")
    print(f"peak RSS: main {main_rss:.2f} GB, largest worker {child_rss:.2f} GB, "
          f"all processes <= {main_rss + args.workers * child_rss:.2f} GB")
    print(f"final day: latency mean {result.history['latency_ms_mean'].iloc[-1]:.2f} ms, "
          f"battery health {result.history['battery_health_mean'].iloc[-1]:.3f}")
    slow = naive_rate(args.naive_devices, args.naive_days)
    print(f"naive: one SimPy process per device, {args.naive_devices:,} devices x {args.naive_days} days: "
          f"{slow / 1e3:.1f} k device-days/s")
    print(f"speed-up vectorised / naive: {fast / slow:.0f}x")
    print(f"targets: 1M x 730 in <= 60 s: {'met' if wall <= 60 else 'MISSED'}; "
          f"peak RSS <= 3 GB: {'met' if main_rss + args.workers * child_rss <= 3 else 'MISSED'}; "
          f">= 300x naive: {'met' if fast / slow >= 300 else 'MISSED'}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
