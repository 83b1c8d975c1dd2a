"""``twin``: simulate fleets and browse the hardware catalogue."""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

from testbed.cli import add_workers, day_list, int_list, integer, number_list, positive_int, run, workers
from testbed.errors import InputError
from testbed.io import writable_out

__all__ = ["main"]



DEVICE_DAYS_PER_WORKER_S = 25e6  # measured: benchmarks/fleet_sim.py, 51-67 M device-days/s on 2 worker threads (2-core VM)

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twin", description="Digital twin of a fleet of edge devices.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("simulate", help="run a scenario; write devices.parquet and history.parquet")
    s.add_argument("scenario", help="scenario YAML file")
    s.add_argument("--devices", type=positive_int, help="override fleet.devices (1e6 accepted)")
    s.add_argument("--days", type=positive_int, help="override time.days")
    s.add_argument("--seed", type=integer, help="override seed")
    s.add_argument("--out", help="output folder (default: out/<scenario name>)")
    add_workers(s, scheduler=True)
    s.add_argument("--snapshots", type=day_list, default=(), metavar="D1,D2,...",
                   help="also write every device's state on these days to snapshots.parquet")
    lat = _fleet_day_parser(sub, "latency", "the fleet's latency distribution for a network on one day",
                            "zoo name (hdap models), pruned-model .json or workload CSV")
    lat.add_argument("--json", action="store_true", help="print {mean_ms, p50_ms, p95_ms, p99_ms, devices}")
    sh = _fleet_day_parser(sub, "shape", "how differently the fleet's devices weigh a network's units, and what "
                                         "pruning for the nominal device alone is predicted to cost",
                           "zoo name (hdap models) or pruned-model .json")
    sh.add_argument("--json", action="store_true", help="print the summary as JSON")
    b = sub.add_parser("board-bench", help="time networks on this board (torch, numpy, pydantic); append rows to a measurement CSV")
    b.add_argument("--model", action="append", default=[], help="zoo model to time (repeatable)")
    b.add_argument("--model-file", action="append", default=[], metavar="F.pt",
                   help="pruned model saved by hdap prune / hdap run, with its .json beside it (repeatable)")
    b.add_argument("--trust-pickle", action="store_true",
                   help="also read --model-file files that hold a whole pickled module (written before "
                        "2026-12-01): unsafe, unpickling runs code from the file")
    b.add_argument("--widths", type=int_list, action="append", metavar="W1,W2,...",
                   help="channels kept per unit: times the --model network pruned to these widths instead of "
                        "unpruned (repeatable: one network each)")
    b.add_argument("--random", type=int, default=0, metavar="N",
                   help="also time N random sub-networks of each --model (per-unit rates uniform in [0, 0.75), --seed)")
    b.add_argument("--input-size", type=positive_int, metavar="N", help="N x N inputs: any size the model takes (multiples of 32 for YOLO; default: the model's own)")
    b.add_argument("--sku", required=True, help="SKU name recorded in the rows (e.g. jetson-nano, host-cpu)")
    b.add_argument("--board-id", default=socket.gethostname(), help="this board's id (default: host name)")
    b.add_argument("--power-mode", default="", help="mode recorded in the rows (default: nvpmodel's on a Jetson; "
                                                    "on a CPU SKU the thread count picks the mode)")
    b.add_argument("--threads", type=int_list, default=[1], metavar="N1,N2", help="torch thread counts to time (default 1)")
    b.add_argument("--background", type=number_list, default=[0.0], metavar="C1,C2",
                   help="busy background cores to run beside, as duty-cycled processes: 0.5 is one process "
                        "busy half of every 4 ms, 1 one busy core (default 0)")
    b.add_argument("--warmup", type=positive_int, default=5)
    b.add_argument("--repeats", type=positive_int, default=30)
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("--precision", default=None, choices=["fp32", "fp16"], help="default: fp16 on cuda, fp32 on cpu")
    b.add_argument("--seed", type=integer, default=0, help="initial weights of --model networks")
    b.add_argument("--out", required=True, help="measurement CSV to append to")
    c = sub.add_parser("calibrate", help="fit a SKU's latency parameters to a measurement CSV")
    c.add_argument("measurements", help="measurement CSV (twin board-bench, or the published Jetson file)")
    c.add_argument("--sku", required=True, help="base SKU: catalogue name or YAML; its rows are fitted")
    c.add_argument("--out", required=True, help="calibrated SKU YAML to write")
    c.add_argument("--leave-one-out", action="store_true",
                   help="also fit with each network left out in turn and report its prediction error")
    c.add_argument("--search-tiles", action="store_true",
                   help="also choose the channel and pixel tile sizes (needs rows of odd-width, pruned networks)")
    pr = sub.add_parser("predict", help="a network's latency on one nominal device of a SKU")
    pr.add_argument("--sku", required=True, help="catalogue name or SKU YAML (e.g. from twin calibrate)")
    pr.add_argument("--model", help="zoo name (hdap models)")
    pr.add_argument("--model-file", metavar="F.pt", help="pruned model: reads the .json spec beside it")
    pr.add_argument("--input-size", type=positive_int, metavar="N", help="N x N inputs: any size the model takes (multiples of 32 for YOLO; default: the model's own)")
    pr.add_argument("--mode", default="", help="power mode (default: the SKU's default, else its top mode)")
    pr.add_argument("--clocks", metavar="gpu_mhz=X,emc_mhz=Y,cpu_mhz=Z,cpu_cores=N",
                    help="run at these clocks instead of a named mode (any subset; the rest as --mode)")
    pr.add_argument("--framework", default="pytorch")
    pr.add_argument("--precision", help="fp32, fp16 or int8, as the framework offers (default: its first)")
    pr.add_argument("--background", type=float, default=0.0, metavar="CORES", help="busy background cores (default 0)")
    pr.add_argument("--wall", action="store_true",
                    help="power and energy of the whole system at the socket (module, carrier board, supply), as "
                         "MLPerf's meter sees it, instead of the module's")
    pr.add_argument("--json", action="store_true", help="print {latency_ms, power_w, energy_mj, ...}")
    k = sub.add_parser("skus", help="list the hardware catalogue")
    k.add_argument("--json", action="store_true")
    return p


def _fleet_day_parser(sub, name: str, help: str, model_help: str) -> argparse.ArgumentParser:
    """A command about one network on the fleet of a scenario on one simulated day."""
    p = sub.add_parser(name, help=help)
    p.add_argument("scenario", help="scenario YAML file")
    p.add_argument("--model", required=True, help=model_help)
    p.add_argument("--rates", type=number_list, help="per-unit pruning rates R1,R2,... (zoo models)")
    p.add_argument("--input-size", type=positive_int, metavar="N",
                   help="N x N inputs: any size the model takes (multiples of 32 for YOLO; default: the model's own)")
    p.add_argument("--day", type=integer, help="simulated day (default: the scenario's deployment day)")
    p.add_argument("--devices", type=positive_int, help="override fleet.devices")
    add_workers(p)
    return p


def _simulate(args) -> None:
    from testbed.io import ParquetStream, atomic_dir, run_record
    from twin.executor import Executor
    from twin.scenario import load_scenario
    from twin.simulation import device_frame, simulate

    scenario = load_scenario(args.scenario).with_overrides(devices=args.devices, days=args.days, seed=args.seed)
    late = [d for d in args.snapshots if d >= scenario.time.days]
    if late:
        raise InputError(f"--snapshots: day(s) {', '.join(map(str, late))} are past the run's last day "
                         f"{scenario.time.days - 1}")
    out = writable_out(Path(args.out) if args.out else Path("out") / scenario.name)
    big = scenario.fleet.devices * scenario.time.days > 5e7
    n_workers = workers(args)  # threads of this process: nothing to start, so every core even for a small run
    sku, zones = scenario.sku_model(), scenario.environment.zone_names
    estimate_s = scenario.fleet.devices * scenario.time.days / (DEVICE_DAYS_PER_WORKER_S * n_workers)
    if estimate_s > 600:
        print(f"twin simulate: {scenario.fleet.devices * scenario.time.days:.3g} device-days take about "
              f"{estimate_s / 3600:.1f} hours on {n_workers} worker(s) at ~{DEVICE_DAYS_PER_WORKER_S / 1e6:.1f} M "
              "device-days/s each (benchmarks/fleet_sim.py on a 2-core VM); Ctrl-C stops it, leaving nothing; "
              "a Dask cluster (--scheduler) shares it over more workers", file=sys.stderr)
    t0 = time.perf_counter()
    # devices stream to disk block by block: memory stays bounded however big the fleet
    with atomic_dir(out) as tmp, Executor(n_workers, args.scheduler, threads=True) as ex, \
            ParquetStream(tmp / "devices.parquet") as devices, ParquetStream(tmp / "snapshots.parquet") as snaps:
        def on_block(final, snapshots):
            devices.write(device_frame(final, sku, zones))
            for day, state in sorted(snapshots.items()):
                frame = device_frame(state, sku, zones)
                frame.insert(0, "day", day)
                snaps.write(frame)

        result = simulate(scenario, executor=ex, snapshot_days=args.snapshots, keep_devices=False,
                          on_block=on_block, progress=big or sys.stderr.isatty())
        wall = time.perf_counter() - t0
        result.history.to_parquet(tmp / "history.parquet", index=False)
        (tmp / "run.json").write_text(run_record(scenario.model_dump(mode="json"), scenario.seed, wall_s=round(wall, 3), workers=n_workers,
                                                 scheduler=args.scheduler))
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

    from twin.scenario import load_scenario
    from twin.simulation import fleet_latency

    scenario = load_scenario(args.scenario)
    day = scenario.time.deployment_day if args.day is None else args.day
    lat = fleet_latency(scenario, args.model, day=day, devices=args.devices, rates=args.rates,
                        input_size=args.input_size, workers=workers(args)).to_numpy()
    p50, p95, p99 = np.percentile(lat, [50, 95, 99])
    stats = {"mean_ms": float(lat.mean()), "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99),
             "devices": int(len(lat))}
    if args.json:
        from zoo import resolve_workload

        flops = resolve_workload(args.model, rates=args.rates, input_size=args.input_size).dense_flops
        print(json.dumps({**stats, "model": args.model, "day": day, "input_size": args.input_size, "flops": flops}))
        return
    devices = args.devices or scenario.fleet.devices
    precision = f" {scenario.fleet.precision}" if scenario.fleet.precision else ""
    size = f" at {args.input_size}x{args.input_size}" if args.input_size else ""
    print(f"{args.model}{size} on {scenario.name} ({devices:,} x {scenario.fleet.sku}, {scenario.fleet.framework}{precision}), "
          f"day {day}:")
    print(f"mean {stats['mean_ms']:.2f} ms, p50 {p50:.2f}, p95 {p95:.2f}, p99 {p99:.2f}")


def _shape(args) -> None:
    from twin.scenario import load_scenario
    from twin.shape import shape_report
    from twin.simulation import fleet_snapshot
    from zoo import PrunedSpec, get_model

    scenario = load_scenario(args.scenario)
    if args.model.endswith((".json", ".pt")):
        if args.rates is not None:
            raise InputError("--rates applies to a zoo model, not a pruned spec (it has its widths)")
        path = Path(args.model)
        spec = PrunedSpec.read(PrunedSpec.beside(path) if args.model.endswith(".pt") else path)
        zoo, widths = get_model(spec.model, args.input_size), spec.widths
    elif args.model.endswith((".csv", ".parquet")):
        raise InputError(f"--model: {args.model} is a workload table without prunable units; give a zoo model "
                         f"or a pruned spec")
    else:
        zoo = get_model(args.model, args.input_size)
        widths = zoo.full_widths if args.rates is None else zoo.widths_from_rates(args.rates)
    day = scenario.time.deployment_day if args.day is None else args.day
    snapshot = fleet_snapshot(scenario, day=day, devices=args.devices, workers=workers(args))
    summary = shape_report(zoo, widths, snapshot).summary()
    if args.json:
        print(json.dumps({"scenario": scenario.name, "model": args.model, "day": day, **summary}))
        return
    loss, spread, over = summary["predicted_loss_pct"], summary["shape_spread_log"], summary["overhead_share"]
    print(f"{args.model} on {scenario.name} ({summary['devices']:,} x {scenario.fleet.sku}, {scenario.fleet.framework}), "
          f"day {day}:")
    print(f"shape spread (sd of log unit-cost ratio to the nominal device, each device's scale removed): "
          f"p50 {spread['p50']:.3f}, p90 {spread['p90']:.3f}, max {spread['max']:.3f}")
    print(f"predicted loss of the nominal device's optimum: mean {summary['mean_predicted_loss_pct']:.2f} %, "
          f"p50 {loss['p50']:.2f}, p90 {loss['p90']:.2f}, p99 {loss['p99']:.2f}, max {loss['max']:.2f} % "
          f"(each device against its own optimum); in fleet-mean latency: {summary['fleet_mean_loss_pct']:.2f} %")
    print(f"latency share no width pruning removes (framework overhead): p50 {over['p50']:.1%}, max {over['max']:.1%}")
    print("units whose cost ratio varies most: " + ", ".join(f"{u} ({sd:.3f})" for u, sd in
                                                            summary["most_varying_units"].items()))


def _board_bench(args) -> None:
    from twin.calibration.board_bench import bench_rows
    from twin.calibration.measurement_csv import write_rows

    if not args.model and not args.model_file:
        raise InputError("board-bench: give at least one --model NAME or --model-file F.pt")
    if args.widths and len(args.model) != 1:
        raise InputError("--widths applies to exactly one --model")
    if any(n < 1 for n in args.threads) or any(b < 0 for b in args.background):
        raise InputError("--threads must be >= 1 and --background >= 0")
    precision = args.precision or ("fp16" if args.device == "cuda" else "fp32")
    rows = bench_rows(args.model, args.model_file, sku=args.sku, board_id=args.board_id, threads=args.threads,
                      background=args.background, warmup=args.warmup, repeats=args.repeats,
                      power_mode=args.power_mode, widths=args.widths, device=args.device, precision=precision,
                      seed=args.seed, random_subnets=args.random, input_size=args.input_size,
                      trust_pickle=args.trust_pickle)
    write_rows(args.out, rows)
    print(f"wrote {len(rows)} row(s) to {args.out}")


def _calibrate(args) -> None:
    from twin.calibration.calibrate import calibrate, leave_one_out, resolve_rows, select_rows
    from twin.calibration.measurement_csv import read_measurements
    from twin.calibration.sku_file import write_sku
    from twin.sku import load_sku

    out = writable_out(args.out, folder=False)
    if out.suffix not in (".yaml", ".yml"):
        raise InputError(f"--out: {out} must be a .yaml file")
    base = load_sku(args.sku)
    path = Path(args.measurements)
    rows = resolve_rows(select_rows(read_measurements(path), base.name, str(path)), base, path.parent, str(path))
    cal = calibrate(rows, base, source=path.name, search_tiles=args.search_tiles)
    tiles = {k: getattr(cal.sku, k) for k in ("channel_tile", "spatial_tile", "input_channel_tile")}
    loo = leave_one_out(rows, base.model_copy(update=tiles)) if args.leave_one_out else None
    cols = ["row", "board_id", "framework", "mode", "background_cores", "model", "arch_hash", "measured_ms",
            "predicted_ms", "error_pct"]
    table = cal.table[cols + [c for c in ("measured_w", "predicted_w", "energy_error_pct") if c in cal.table]].copy()
    if loo is not None:
        table["loo_predicted_ms"], table["loo_error_pct"] = loo["predicted_ms"].to_numpy(), loo["error_pct"].to_numpy()
    print(f"{base.name}: {len(rows)} rows of {path}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("parameters (base -> fitted):")
    for name, (before, after) in cal.params.items():
        print(f"  {name}: {before:.4g} -> {after:.4g}")
    err = cal.table["error_pct"].abs()
    print(f"fit: MAPE {err.mean():.2f} %, max {err.max():.2f} % over {len(rows)} rows")
    if "energy_error_pct" in cal.table:
        energy = cal.table["energy_error_pct"].dropna().abs()
        print(f"energy per inference: MAPE {energy.mean():.2f} %, max {energy.max():.2f} % over {len(energy)} power row(s)")
    if loo is not None:
        print(f"leave one network out: MAPE {loo['error_pct'].abs().mean():.2f} %, max {loo['error_pct'].abs().max():.2f} %")
    if cal.board_speed_sd is not None:
        print(f"boards: {cal.sku.calibration.boards}, speed spread around the fit (sd of log) {cal.board_speed_sd:.4f}: "
              f"manufacturing.silicon_speed_sd for scenarios of this SKU")
    for warning in cal.warnings:
        print(f"twin: warning: {warning}", file=sys.stderr)
    write_sku(cal.sku, out, header=f"calibrated by twin calibrate from {path.name} ({len(rows)} rows) on base {args.sku}")
    print(f"wrote {out}")


def _predict(args) -> None:
    from twin.latency import nominal_inference, resolve_mode
    from twin.sku import load_sku, parse_clocks, with_clocks
    from zoo import resolve_workload

    if bool(args.model) == bool(args.model_file):
        raise InputError("predict: give exactly one of --model NAME or --model-file F.pt")
    if not 0 <= args.background < 1e4:
        raise InputError(f"--background must be a number of cores from 0 to 10,000, got {args.background:g}")
    sku = load_sku(args.sku)
    if args.framework not in sku.frameworks:
        raise InputError(f"--framework: {args.framework!r} is not available on {sku.name}; allowed: {', '.join(sku.frameworks)}")
    label = str(args.model_file or args.model)
    workload = resolve_workload(label, input_size=args.input_size)
    mode = resolve_mode(sku, args.mode)
    if args.clocks is not None:
        sku, mode = with_clocks(sku, parse_clocks(args.clocks, "--clocks"), mode)
    precision = sku.precision_of(args.framework, args.precision)[0]
    inf = nominal_inference(workload, sku, args.framework, mode, args.background, precision)
    warnings = sku.calibration.unseen(sku.name, mode, args.framework, precision) if sku.calibration else []
    if sku.power is None and args.wall:
        warnings.append(f"{sku.name} has no power model: power and energy are not predicted")
    for warning in warnings:
        print(f"twin: warning: {warning}", file=sys.stderr)
    power = inf.wall_w if args.wall else inf.power_w
    energy = inf.wall_energy_mj if args.wall else inf.energy_mj
    if args.json:
        print(json.dumps({"latency_ms": inf.latency_ms, "power_w": power, "energy_mj": energy,
                          "power_scope": "wall" if args.wall else "module", "model": label,
                          "input_size": args.input_size, "sku": sku.name, "mode": mode, "framework": args.framework,
                          "precision": precision, "background_cores": args.background, "flops": workload.dense_flops,
                          "gpu_util": inf.gpu_util, "memory_util": inf.memory_util}))
        return
    size = f" at {args.input_size}x{args.input_size}" if args.input_size else ""
    watts = "" if power is None else (f"; {power:.2f} W {'at the wall' if args.wall else 'module'}, "
                                      f"{energy:.2f} mJ per inference")
    print(f"{label}{size} on {sku.name} ({mode}, {args.framework} {precision}, {args.background:g} background cores): "
          f"{inf.latency_ms:.3f} ms{watts}")


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
    return run("twin", {"simulate": _simulate, "latency": _latency, "shape": _shape, "board-bench": _board_bench,
                        "calibrate": _calibrate, "predict": _predict, "skus": _skus}, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
