"""``hdap``: the pruning side of the testbed."""

from __future__ import annotations

import argparse
import json
import sys

from twin.errors import InputError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hdap", description="Homogeneous-Device Aware Pruning against a fleet.")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="list the model zoo")
    m.add_argument("--json", action="store_true", help="a list of {name, input_shape, params, flops, units}")
    return p


def _models(args) -> None:
    from hdap.zoo import get_model, model_names

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
    args = _parser().parse_args(argv)
    try:
        {"models": _models}[args.command](args)
    except InputError as exc:
        print(f"hdap: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
