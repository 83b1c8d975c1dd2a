"""What both CLIs share: argument types and running a command with the project's error contract.

Bad input is an InputError, printed as one line ``PROG: error: ...`` with exit code 2 and no
traceback; output piped into a pager or ``head`` that closes early is not an error.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Callable

from testbed.errors import InputError
from testbed.schema import MAX_COUNT

__all__ = ["positive_int", "positive_float", "integer", "int_list", "size_list", "number_list", "day_list",
           "add_workers", "workers", "run"]


def positive_int(text: str) -> int:
    """A whole number from 1 to MAX_COUNT; 1e6 is accepted, 2.5 and 1e400 are not."""
    try:
        value = float(text) if "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if not 1 <= value <= MAX_COUNT or value != int(value):
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_COUNT:.0e}, got {text!r}")
    return int(value)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def add_workers(parser: argparse.ArgumentParser, scheduler: bool = False) -> None:
    """``--workers`` (and ``--scheduler``), meaning the same on every command that has them."""
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="local workers (default: all cores; 1: this process): threads for twin's and "
                             "hdap run's fleet simulation, Dask worker processes for a study's trials and fleets; "
                             "never changes the output")
    if scheduler:
        parser.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask cluster (tcp://host:8786)")


def workers(args: argparse.Namespace) -> int:
    """``--workers`` as given, else all cores."""
    if args.workers is not None:
        return args.workers
    return os.cpu_count() or 1


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def day_list(text: str) -> tuple[int, ...]:
    try:
        days = tuple(int(d) for d in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated day numbers, got {text!r}") from None
    if any(d < 0 for d in days):
        raise argparse.ArgumentTypeError(f"days must be >= 0, got {text!r}")
    return days


def int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {text!r}") from None


def size_list(text: str) -> list[int]:
    """Comma-separated positive counts; 1e6 is accepted."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive counts (1e6 accepted), got {text!r}") from None
    if any(not 1 <= v <= MAX_COUNT or v != int(v) for v in values):
        raise argparse.ArgumentTypeError(f"must be comma-separated positive counts (1e6 accepted), got {text!r}")
    return [int(v) for v in values]


def number_list(text: str) -> list[float]:
    try:
        values = [float(r) for r in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"must be comma-separated finite numbers, got {text!r}")
    return values


def _close_progress_bars() -> None:
    """Close the interrupted work's tqdm bars now: left to the garbage collector, they redraw after
    the last message."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def run(prog: str, handlers: dict[str, Callable], args: argparse.Namespace) -> int:
    try:
        handlers[args.command](args)
    except InputError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _close_progress_bars()
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
