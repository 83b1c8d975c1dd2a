"""``hdap``: the pruning side of the testbed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from testbed.cli import (
    add_workers,
    int_list,
    integer,
    number_list,
    positive_float,
    positive_int,
    run,
    size_list,
    workers,
)
from testbed.errors import InputError
from testbed.io import writable_out

__all__ = ["main"]

# where a run goes without --out: beside, not into, the committed reports (which an explicit
# --out reports/... regenerates)
RUNS = Path("runs")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hdap", description="Homogeneous-Device Aware Pruning against a fleet.")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="list the model zoo")
    m.add_argument("--json", action="store_true", help="a list of {name, input_shape, params, flops, units}")
    pr = sub.add_parser("prune", help="prune a zoo model to per-unit rates or a FLOPs target")
    pr.add_argument("--model", required=True, help="zoo name (hdap models)")
    how = pr.add_mutually_exclusive_group(required=True)
    how.add_argument("--rates", type=number_list, help="per-unit pruning rates R1,R2,... in [0, 1)")
    how.add_argument("--flops", type=positive_float, help="target GFLOPs (multiply-accumulates), uniform rates")
    pr.add_argument("--input-size", type=positive_int, metavar="N", help="N x N inputs: any size the model takes (multiples of 32 for YOLO; default: the model's own)")
    pr.add_argument("--weights", help="trained full model's state dict (torch.save(model.state_dict(), F))")
    pr.add_argument("--importance", choices=["l2", "l1", "taylor"], default="l2",
                    help="channel criterion (default l2; taylor scores with a batch of --data)")
    pr.add_argument("--data", default="digits", help="calibration data for taylor (as for hdap train)")
    pr.add_argument("--seed", type=integer, default=0, help="initialisation seed when no weights are given")
    pr.add_argument("--out", required=True, help="FILE.pt; FILE.json is written beside it")
    rn = sub.add_parser("run", help="prune for a simulated fleet with HDAP and evaluate against baselines")
    rn.add_argument("scenario", nargs="?", default="scenarios/quickstart.yaml")
    rn.add_argument("--out", help="output folder (default: runs/<scenario name>)")
    add_workers(rn)
    va = sub.add_parser("validate", help="the twin's predictions against real measurements: MAPE, scatter, report")
    va.add_argument("measurements", help="measurement CSV (twin board-bench)")
    va.add_argument("--sku", required=True, help="SKU YAML or catalogue name (e.g. from twin calibrate)")
    va.add_argument("--out", help="output folder (default: runs/validate-<sku name>)")
    st = sub.add_parser("study", help="studies at fleet scale: clusters, aging, features, heterogeneity "
                                      "(runs/<scenario>-<study>/)")
    studies = st.add_subparsers(dest="study", required=True)
    sc = studies.add_parser("clusters", help="estimate error, profiling cost and achieved latency against K and fleet size")
    sc.add_argument("--k", type=int_list, default=[1, 2, 4, 8, 16, 32, 64], metavar="K1,K2,...")
    sc.add_argument("--devices", type=size_list, default=[1_000, 10_000, 100_000, 1_000_000], metavar="N1,N2,...",
                    help="fleet sizes (1e6 accepted; default 1e3,1e4,1e5,1e6)")
    sa = studies.add_parser("aging", help="a model pruned on day 0 as the fleet ages; re-clustering and re-pruning")
    sa.add_argument("--years", type=float, help="years after the deployment day (default: to the scenario's end)")
    sa.add_argument("--every", type=positive_int, default=90, help="days between checkpoints (default 90)")
    sf = studies.add_parser("features", help="the paper's features (repeated runs) against the probe set, same budget")
    sf.add_argument("--k", type=int_list, default=[2, 4, 8, 16], metavar="K1,K2,...")
    sh = studies.add_parser("heterogeneity", help="when fleet-aware compression pays: each shape mechanism's "
                                                  "magnitude against each search space")
    sh.add_argument("--mechanisms", type=_names, default=["modes", "software", "engines", "background"],
                    metavar="M1,M2,...", help="of modes, software, engines, background (default all)")
    sh.add_argument("--spaces", type=_names, default=["width", "width+depth"], metavar="S1,S2,...",
                    help="search spaces: width, width+depth, width+precision, width+depth+precision "
                         "(default width,width+depth; the +precision ones need a SKU that runs int8)")
    sh.add_argument("--magnitudes", action="append", metavar="MECHANISM=V1,V2,...",
                    help="a mechanism's magnitudes (repeatable; defaults in hdap.study.heterogeneity)")
    sh.add_argument("--devices", type=positive_int, help="fleet size (1e5 accepted; default the scenario's)")
    for p_ in (sc, sa, sf, sh):
        p_.add_argument("scenario", help="scenario YAML file")
        p_.add_argument("--out", help="output folder (default: runs/<scenario name>-<study>)")
        add_workers(p_, scheduler=True)
    for p_ in (sc, sf, sh):
        p_.add_argument("--seeds", type=positive_int, default=1, help="independent fleets per setting (default 1)")
    sp = studies.add_parser("platforms", help="mobile GPU or FPGA: accuracy, latency, energy and storage of "
                                              "compressed networks on each platform (runs/platforms/)")
    sp.add_argument("--models", type=_names, default=["resnet20", "mobilenet_v2@32"], metavar="M1,M2,...",
                    help="zoo models, NAME@SIZE for another input size, trained on digits (default resnet20,mobilenet_v2@32)")
    sp.add_argument("--platforms", type=_names, default=None, metavar="SKU1,...",
                    help="catalogue SKUs running TensorRT or Vitis AI (default jetson-xavier-nx, jetson-orin-nx, "
                         "kria-k26-dpu, zcu102-dpu, zcu104-dpu)")
    sp.add_argument("--schemes", default=None, metavar="S1,S2,...",
                    help="compression schemes (default all: float, int8, int4, ternary, binary, channel-int8, "
                         "unstructured-int8, block-int8, 2:4-int8)")
    sp.add_argument("--train-epochs", type=positive_int, default=15)
    sp.add_argument("--finetune-epochs", type=positive_int, default=3)
    sp.add_argument("--input-size", type=positive_int, default=224, metavar="N",
                    help="price latency and energy at N x N inputs (default 224)")
    sp.add_argument("--seed", type=integer, default=0)
    sp.add_argument("--out", help="output folder (default: runs/platforms)")
    tr = sub.add_parser("train", help="train a zoo model, or fine-tune a pruned one, and report accuracy")
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="zoo name: train from scratch")
    src.add_argument("--pruned", help="FILE.pt from hdap prune: fine-tune it")
    tr.add_argument("--data", default="digits", help="digits (bundled), cifar10:PATH, or an image-folder path")
    tr.add_argument("--input-size", type=positive_int, metavar="N", help="train on N x N images (default: the "
                    "model's own, or the size the pruned model was saved with)")
    tr.add_argument("--epochs", type=positive_int, default=20)
    tr.add_argument("--lr", type=positive_float, default=0.1)
    tr.add_argument("--batch-size", type=positive_int, default=64)
    tr.add_argument("--seed", type=integer, default=0)
    tr.add_argument("--out", required=True, help="FILE.pt (weights) and FILE.json (architecture)")
    for p_ in (pr, tr):
        p_.add_argument("--trust-pickle", action="store_true",
                        help="also read weight files that hold a whole pickled module (hdap wrote those before "
                             "2026-12-01): unsafe, unpickling runs code from the file")
    return p


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"must be comma-separated names, got {text!r}")
    return names


def _platforms(args) -> None:
    from hdap.compression import SCHEMES, parse_schemes
    from hdap.study.platforms import PLATFORMS, PlatformConfig, platform_report, run_platforms
    from hdap.study.report import write_study

    cfg = PlatformConfig(models=tuple(args.models), platforms=tuple(args.platforms or PLATFORMS),
                         schemes=tuple(parse_schemes(args.schemes) if args.schemes else SCHEMES.values()),
                         seed=args.seed, train_epochs=args.train_epochs, finetune_epochs=args.finetune_epochs,
                         input_size=args.input_size)
    cfg.check()
    out = writable_out(Path(args.out) if args.out else RUNS / "platforms")
    df, wall = run_platforms(cfg, progress=True)
    text, tables, figures = platform_report(df, cfg, wall)
    write_study(out, {"study": "platforms", **cfg.record()}, cfg.seed, "hdap study platforms", text, tables, figures,
                wall_s=round(wall, 1), argv=sys.argv[1:])
    print(text.split("## Test accuracy")[0])
    print(f"platforms study in {wall:.0f} s; wrote {out}/report.md, platforms.csv, accuracy.csv, energy_vs_accuracy.png")


def _study(args) -> None:
    import time

    if args.study == "platforms":
        return _platforms(args)

    from hdap.config import RunConfig
    from hdap.study.report import write_study
    from twin.executor import Executor

    config = RunConfig.of(args.scenario)
    out = writable_out(Path(args.out) if args.out else RUNS / f"{config.scenario.name}-{args.study}")
    t0, n_workers = time.perf_counter(), workers(args)
    with Executor(n_workers, args.scheduler) as ex:
        if args.study == "clusters":
            from hdap.study.clusters import clusters_report, clusters_study
            df = clusters_study(config, args.k, args.devices, args.seeds, ex, progress=True)
            report = clusters_report
        elif args.study == "heterogeneity":
            from hdap.study.heterogeneity import heterogeneity_report, heterogeneity_study, parse_magnitudes
            df = heterogeneity_study(config, args.mechanisms, args.spaces, parse_magnitudes(args.magnitudes),
                                     args.devices, args.seeds, ex, progress=True)
            report = heterogeneity_report
        elif args.study == "features":
            from hdap.study.features import features_report, features_study
            df = features_study(config, args.k, args.seeds, ex, progress=True)
            report = features_report
        else:
            from hdap.study.aging import aging_report, aging_study
            df = aging_study(config, args.years, args.every, ex, progress=True)
            report = aging_report
        where = ex.where
    wall = time.perf_counter() - t0
    text, tables, figures = report(df, config, where, wall)
    write_study(out, config.record(), config.scenario.seed, f"hdap study {args.study}", text, tables, figures,
                wall_s=round(wall, 1), workers=n_workers, scheduler=args.scheduler, argv=sys.argv[1:])
    print(next(iter(tables.values())).drop(columns=["seed", "wall_s"], errors="ignore")
          .to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"{args.study} study in {wall:.0f} s on {where}; wrote {out}/report.md, "
          + ", ".join(f"{t}.csv" for t in tables) + ", " + ", ".join(f"{f}.png" for f in figures))


def _validate(args) -> None:
    from testbed.io import atomic_dir
    from twin.calibration.validate import validation_table, write_validation
    from twin.sku import load_sku

    sku = load_sku(args.sku)
    out = writable_out(Path(args.out) if args.out else RUNS / f"validate-{sku.name}", whole=False)
    df = validation_table(args.measurements, sku)
    with atomic_dir(out, whole=False) as tmp:  # beside the measurements a loop keeps there
        summary = write_validation(df, sku, Path(args.measurements).name, tmp)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"wrote {out}/report.md, validation.csv, summary.csv, predicted_vs_measured.png")


def _run(args) -> None:
    from hdap.config import RunConfig
    from hdap.runner import run_hdap

    config = RunConfig.of(args.scenario)
    out = writable_out(Path(args.out) if args.out else RUNS / config.scenario.name)
    result = run_hdap(config, workers=workers(args), progress=True)
    result.write(out)
    table = result.summary()
    shown = table if table["accuracy"].notna().any() else table.drop(columns="accuracy")
    print(shown.to_string(float_format=lambda v: f"{v:.4g}"))
    exact = result.latency_ms["hdap"].mean()
    print(f"profiling {result.profiling_device_seconds / 3600:.1f} device-hours; HDAP estimate "
          f"{result.estimate_ms:.2f} ms vs exact {exact:.2f} ms ({result.estimate_ms / exact - 1:+.1%}); "
          f"wall time {sum(result.timings_s.values()):.0f} s ("
          + ", ".join(f"{k} {v:.0f} s" for k, v in result.timings_s.items()) + f"); wrote {out}/")


def _train(args) -> None:

    from hdap.data import load_data
    from hdap.prune import load_pruned, save_pruned
    from hdap.train import evaluate, train
    from zoo import get_model

    if args.model:
        zoo = get_model(args.model, args.input_size)
        widths = list(zoo.full_widths)
    else:
        module, spec = load_pruned(args.pruned, args.trust_pickle)
        zoo, widths = spec.zoo.at_size(args.input_size), list(spec.widths)
    writable_out(args.out, folder=False)
    if zoo.family == "yolo":
        raise InputError(f"hdap train: {zoo.name} is a detector; training and accuracy need a classifier "
                         f"(digits, CIFAR-10 or an image folder)")
    if args.model:
        module = zoo.module(seed=args.seed)
    train_set, test_set = load_data(args.data, size=zoo.input_shape[-1], seed=args.seed)
    before = evaluate(module, test_set)
    losses = train(module, train_set, args.epochs, args.lr, args.batch_size, seed=args.seed)
    acc = evaluate(module, test_set)
    save_pruned(module, zoo, widths, args.out, accuracy=acc, data=args.data, epochs=args.epochs, seed=args.seed)
    print(f"{zoo.name} ({zoo.flops(widths) / 1e9:.4g} GFLOPs) on {args.data}: test accuracy {before:.2%} -> {acc:.2%} "
          f"after {args.epochs} epochs (final loss {losses[-1]:.4f}); wrote {args.out}")


def _prune(args) -> None:
    from hdap.prune import load_full_model, prune_to_widths, save_pruned, widths_for_flops
    from zoo import get_model

    zoo = get_model(args.model, args.input_size)
    if not args.out.endswith(".pt"):
        raise InputError(f"--out must name a .pt file, got {args.out!r}")
    writable_out(args.out, folder=False)
    widths = zoo.widths_from_rates(args.rates) if args.rates is not None else widths_for_flops(zoo, args.flops * 1e9)
    module = load_full_model(zoo, args.weights, args.seed, args.trust_pickle)
    calibration = None
    if args.importance == "taylor":
        from hdap.data import load_data
        train_set, _ = load_data(args.data, size=zoo.input_shape[-1], seed=args.seed)
        calibration = train_set.tensors[0][:256], train_set.tensors[1][:256]
    pruned = prune_to_widths(module, zoo, widths, args.importance, calibration)
    spec = save_pruned(pruned, zoo, widths, Path(args.out), importance=args.importance, weights=args.weights)
    print(f"{zoo.name}: {zoo.flops() / 1e9:.4g} -> {spec.flops / 1e9:.4g} GFLOPs "
          f"({spec.flops / zoo.flops():.1%}), {zoo.params() / 1e6:.4g} -> {spec.params / 1e6:.4g} M params")
    print(f"widths: {','.join(map(str, spec.widths))}")
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")


def _models(args) -> None:
    from zoo import get_model, model_names

    rows = [{"name": n, "input_shape": list(get_model(n).input_shape), "params": get_model(n).params(),
             "flops": get_model(n).flops(), "units": get_model(n).n_units} for n in model_names()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'model':<14} {'input':<12} {'params (M)':>10} {'GFLOPs':>8} {'units':>6}")
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        print(f"{r['name']:<14} {shape:<12} {r['params'] / 1e6:>10.2f} {r['flops'] / 1e9:>8.3f} {r['units']:>6}")
    print("GFLOPs count multiply-accumulates of convs and linears, as the pruning literature does.")


def main(argv: list[str] | None = None) -> int:
    return run("hdap", {"models": _models, "prune": _prune, "train": _train, "run": _run,
                        "validate": _validate, "study": _study}, _parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
