"""Fleet simulation speed: the fused daily kernel, the readable reference, and SimPy per device.

Prints, in one run:
- the fused kernel (twin.kernel) and the readable reference path (advance_day + record) side by
  side in this process on the same fleet (65,536 devices x 200 days by default), their device-days
  per second and ratio;
- this machine's memory bandwidth (a large numpy copy) against the bytes of state a device-day
  must read and write (twin.kernel.STATE_READ / STATE_WRITTEN): the rate that bandwidth would allow;
- device-days per second and peak memory for the million-device scenario over 730 days (2 workers
  by default: threads of this process, so its peak RSS is the run's);
- the same model run naively: one SimPy process per device on 10,000 devices, each calling the
  very same daily physics (``advance_day``) and event functions on its own one-device view of the
  state, for fewer days (rates are per device-day, so the ratio compares like with like).

With ``--baseline DIR`` (a checkout of an earlier commit, e.g. ``git worktree add /tmp/old REV``)
it also runs both checkouts in fresh processes, alternately, three times: one worker on the
comparison fleet, and the million-device run on ``--workers`` with the peak RSS summed over the
process tree (an earlier main ran its workers as Dask processes).

    python benchmarks/fleet_sim.py [--devices 1000000] [--days 730] [--workers 2] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import simpy

from twin.config_drift import arrive_background, depart_background, switch_modes
from twin.fleet import FleetState
from twin.kernel import STATE_READ, STATE_WRITTEN
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


def side_by_side(devices: int, days: int, rounds: int = 7) -> tuple[dict[str, float], float]:
    """Device-days per second of each kernel on one worker (this process): ``rounds`` pairs of
    runs, back to back in alternating order, so a slow spell of this shared machine hits both
    kernels of a pair alike. Returns each kernel's median rate and the median of the pairs' ratios."""
    scenario = load_scenario(SCENARIO).with_overrides(devices=devices, days=days)
    simulate(scenario.with_overrides(devices=100, days=2))  # compile (or load) the fused kernel first
    rates: dict[str, list[float]] = {"fused": [], "reference": []}
    for i in range(rounds):
        for kernel in ("fused", "reference")[:: 1 if i % 2 else -1]:
            t0 = time.perf_counter()
            simulate(scenario, kernel=kernel)
            rates[kernel].append(devices * days / (time.perf_counter() - t0))
    ratios = np.array(rates["fused"]) / np.array(rates["reference"])
    return {k: float(np.median(v)) for k, v in rates.items()}, float(np.median(ratios))


def copy_bandwidth(megabytes: int = 512) -> float:
    """Bytes per second a large numpy copy moves (read + write counted), best of 5."""
    src = np.ones(megabytes * 2**20 // 8)
    dst = np.empty_like(src)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


def state_bytes_per_device_day() -> int:
    state = FleetState.nominal(1)
    return sum(getattr(state, f).itemsize for f in STATE_READ + STATE_WRITTEN)


# Run by --baseline in a fresh process with PYTHONPATH at a checkout: that checkout's simulate, timed.
_CHECKOUT_RUN = """
import sys, threading, time
import numpy as np, psutil
from twin.scenario import load_scenario
from twin.simulation import simulate

def main():
    np.seterr(all="ignore")
    devices, days, workers = (int(a) for a in sys.argv[2:5])
    scenario = load_scenario(sys.argv[1]).with_overrides(devices=devices, days=days)
    simulate(scenario.with_overrides(devices=100, days=2))
    peak, me, done = [0], psutil.Process(), threading.Event()
    def sample():
        while not done.wait(0.05):
            total = 0
            for p in [me] + me.children(recursive=True):
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], total)
    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    simulate(scenario, workers=workers)
    wall = time.perf_counter() - t0
    done.set()
    print(devices * days / wall, wall, peak[0])

if __name__ == "__main__":
    main()
"""


def checkout_run(checkout: Path, devices: int, days: int, workers: int) -> tuple[float, float, float]:
    """(device-days per second, wall seconds, peak RSS of the process tree in bytes) of the checkout's
    simulate on the million-device scenario, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run([sys.executable, "-c", _CHECKOUT_RUN, str(checkout / "scenarios" / SCENARIO.name),
                          str(devices), str(days), str(workers)], env=env, cwd=checkout, capture_output=True,
                         text=True, check=True)
    rate, wall, peak = (float(x) for x in out.stdout.split())
    return rate, wall, peak


def against_baseline(baseline: Path, args) -> None:
    """This checkout and ``baseline`` alternately in fresh processes, three times: medians."""
    here = Path(__file__).resolve().parent.parent
    one: dict[Path, list] = {here: [], baseline: []}
    full: dict[Path, list] = {here: [], baseline: []}
    for _ in range(3):
        for checkout in (baseline, here):
            one[checkout].append(checkout_run(checkout, args.compare_devices, args.compare_days, 1)[0])
            full[checkout].append(checkout_run(checkout, args.devices, args.days, args.workers))
    for name, checkout in (("baseline", baseline), ("this checkout", here)):
        rates, runs = np.array(one[checkout]), np.array(full[checkout])
        print(f"{name} ({checkout}): one worker {np.median(rates) / 1e6:.1f} M device-days/s (of "
              f"{', '.join(f'{r / 1e6:.1f}' for r in rates)}); {args.devices:,} x {args.days} days on "
              f"{args.workers} workers {np.median(runs[:, 1]):.1f} s, peak RSS {np.median(runs[:, 2]) / 2**30:.2f} GB")
    print(f"this checkout / baseline, one worker: {np.median(one[here]) / np.median(one[baseline]):.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--compare-devices", type=int, default=65_536)
    ap.add_argument("--compare-days", type=int, default=100)
    ap.add_argument("--naive-devices", type=int, default=10_000)
    ap.add_argument("--naive-days", type=int, default=10)
    ap.add_argument("--baseline", type=Path, help="a checkout of an earlier commit to run against, side by side")
    args = ap.parse_args()

    scenario = load_scenario(SCENARIO).with_overrides(devices=args.devices, days=args.days)
    simulate(scenario.with_overrides(devices=100, days=2))  # the compiled kernel cached before timing
    t0 = time.perf_counter()
    result = simulate(scenario, workers=args.workers)
    wall = time.perf_counter() - t0
    fast = args.devices * args.days / wall
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"fused kernel: {args.devices:,} devices x {args.days} days, {args.workers} worker thread(s): {wall:.1f} s, "
          f"{fast / 1e6:.1f} M device-days/s")
    print(f"peak RSS: {rss:.2f} GB (one process: the workers are its threads)")
    print(f"final day: latency mean {result.history['latency_ms_mean'].iloc[-1]:.2f} ms, "
          f"battery health {result.history['battery_health_mean'].iloc[-1]:.3f}")
    rates, ratio = side_by_side(args.compare_devices, args.compare_days)
    print(f"one worker, {args.compare_devices:,} devices x {args.compare_days} days, medians of 7 alternating pairs: "
          f"fused kernel {rates['fused'] / 1e6:.1f} M device-days/s, reference {rates['reference'] / 1e6:.1f} M "
          f"device-days/s; median ratio of the pairs {ratio:.2f}x")
    bandwidth, per_day = copy_bandwidth(), state_bytes_per_device_day()
    bound = bandwidth / per_day
    print(f"memory: copy bandwidth {bandwidth / 1e9:.1f} GB/s; a device-day reads and writes {per_day} bytes of "
          f"state, so bandwidth allows {bound / 1e6:.0f} M device-days/s per core; the fused kernel runs at "
          f"{rates['fused'] / bound:.1%} of that ({1e9 / rates['fused']:.1f} ns per device-day against "
          f"{1e9 / bound:.1f} ns)")

    slow = naive_rate(args.naive_devices, args.naive_days)
    print(f"naive: one SimPy process per device, {args.naive_devices:,} devices x {args.naive_days} days: "
          f"{slow / 1e3:.1f} k device-days/s")
    print(f"speed-up fused / naive: {fast / slow:.0f}x")
    if args.baseline is not None:
        against_baseline(args.baseline.resolve(), args)
    print(f"targets: fused >= 4x reference: {'met' if ratio >= 4 else 'MISSED'} ({ratio:.2f}x); "
          f"1M x 730 on 2 workers in <= 30 s: {'met' if wall <= 30 else 'MISSED'} ({wall:.1f} s); "
          f"peak RSS <= 1 GB: {'met' if rss <= 1 else 'MISSED'} ({rss:.2f} GB)")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
