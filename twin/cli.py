"""``twin``: simulate fleets and browse the hardware catalogue."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from twin._cli import day_list, integer, positive_int, rates, run
from twin.errors import InputError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twin", description="Digital twin of a fleet of edge devices.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("simulate", help="run a scenario; write devices.parquet and history.parquet")
    s.add_argument("scenario", help="scenario YAML file")
    s.add_argument("--devices", type=positive_int, help="override fleet.devices (1e6 accepted)")
    s.add_argument("--days", type=positive_int, help="override time.days")
    s.add_argument("--seed", type=integer, help="override seed")
    s.add_argument("--out", help="output folder (default: out/<scenario name>)")
    s.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                   help="local worker processes (default: all cores; never changes the output)")
    s.add_argument("--snapshots", type=day_list, default=(), metavar="D1,D2,...",
                   help="also write every device's state on these days to snapshots.parquet")
    lat = sub.add_parser("latency", help="the fleet's latency distribution for a network on one day")
    lat.add_argument("scenario", help="scenario YAML file")
    lat.add_argument("--model", required=True, help="zoo name (hdap models), pruned-model .json or workload CSV")
    lat.add_argument("--rates", type=rates, help="per-unit pruning rates R1,R2,... (zoo models)")
    lat.add_argument("--day", type=integer, help="simulated day (default: the scenario's deployment day)")
    lat.add_argument("--devices", type=positive_int, help="override fleet.devices")
    lat.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    lat.add_argument("--json", action="store_true", help="print {mean_ms, p50_ms, p95_ms, p99_ms, devices}")
    k = sub.add_parser("skus", help="list the hardware catalogue")
    k.add_argument("--json", action="store_true")
    return p


def _simulate(args) -> None:
    from twin.output import atomic_dir, run_record
    from twin.scenario import load_scenario
    from twin.simulation import simulate

    scenario = load_scenario(args.scenario).with_overrides(devices=args.devices, days=args.days, seed=args.seed)
    late = [d for d in args.snapshots if d >= scenario.time.days]
    if late:
        raise InputError(f"--snapshots: day(s) {', '.join(map(str, late))} are past the run's last day "
                         f"{scenario.time.days - 1}")
    out = Path(args.out) if args.out else Path("out") / scenario.name
    big = scenario.fleet.devices * scenario.time.days > 5e7
    t0 = time.perf_counter()
    result = simulate(scenario, workers=args.workers, snapshot_days=args.snapshots,
                      progress=big or sys.stderr.isatty())
    wall = time.perf_counter() - t0
    with atomic_dir(out) as tmp:
        result.devices_frame().to_parquet(tmp / "devices.parquet", index=False)
        result.history.to_parquet(tmp / "history.parquet", index=False)
        if args.snapshots:
            result.snapshots_frame().to_parquet(tmp / "snapshots.parquet", index=False)
        (tmp / "run.json").write_text(run_record(scenario, wall_s=round(wall, 3), workers=args.workers))
    last = result.history.iloc[-1]
    n, days = scenario.fleet.devices, scenario.time.days
    print(f"{scenario.name}: {n:,} x {scenario.fleet.sku} devices, {days} days from {scenario.time.start} "
          f"(seed {scenario.seed}) in {wall:.1f} s, {n * days / wall / 1e6:.2f} M device-days/s")
    print(f"day {days - 1} ({last['date']}): {scenario.deployment.workload} latency mean {last['latency_ms_mean']:.2f} ms, "
          f"p50 {last['latency_ms_p50']:.2f}, p95 {last['latency_ms_p95']:.2f}, p99 {last['latency_ms_p99']:.2f}; "
          f"thermally throttled {last['thermal_throttled_frac']:.1%}")
    if scenario.fleet.battery:
        print(f"battery health mean {last['battery_health_mean']:.3f} (min {last['battery_health_min']:.3f}), "
              f"under-voltage {last['undervolt_frac']:.1%}, below 80 % {last['battery_eol_frac']:.1%}")
    print(f"wrote {out}/devices.parquet, history.parquet, {'snapshots.parquet, ' if args.snapshots else ''}run.json")


def _latency(args) -> None:
    import numpy as np

    from twin.latency import latency_ms
    from twin.scenario import load_scenario
    from twin.simulation import simulate
    from twin.workload import resolve_workload

    scenario = load_scenario(args.scenario)
    day = scenario.time.deployment_day if args.day is None else args.day
    if day < 0:
        raise InputError(f"--day must be >= 0, got {day}")
    if args.rates is not None:
        from hdap.zoo import get_model
        model = get_model(args.model)
        workload = model.workload(model.widths_from_rates(args.rates))
    else:
        workload = resolve_workload(args.model)
    scenario = scenario.with_overrides(devices=args.devices, days=day + 1)
    fleet = simulate(scenario, workers=args.workers).final
    lat = latency_ms(workload, fleet)
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    stats = {"mean_ms": float(lat.mean()), "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99),
             "devices": int(len(lat))}
    if args.json:
        print(json.dumps({**stats, "model": args.model, "day": day, "flops": workload.dense_flops}))
        return
    print(f"{args.model} on {scenario.name} ({stats['devices']:,} x {scenario.fleet.sku}, {scenario.fleet.framework}), day {day}:")
    print(f"mean {stats['mean_ms']:.2f} ms, p50 {p50:.2f}, p95 {p95:.2f}, p99 {p99:.2f}")


def _skus(args) -> None:
    from twin.sku import list_skus, load_sku

    rows = []
    for name in list_skus():
        s = load_sku(name)
        rows.append({"name": name, "description": s.description, "peak_gmacs": s.peak_gmacs,
                     "bandwidth_gbs": s.bandwidth_gbs, "power_modes": s.mode_names,
                     "frameworks": list(s.frameworks), "battery_wh": round(s.battery.capacity_wh, 1) if s.battery else None})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        print(f"{r['name']:<18} {r['description']}")
        print(f"{'':<18} {r['peak_gmacs']:g} GMAC/s, {r['bandwidth_gbs']:g} GB/s; modes {', '.join(r['power_modes'])}; "
              f"frameworks {', '.join(r['frameworks'])}; battery {r['battery_wh'] or 'none'}{' Wh' if r['battery_wh'] else ''}")


def main(argv: list[str] | None = None) -> int:
    return run("twin", {"simulate": _simulate, "latency": _latency, "skus": _skus}, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
