"""Shared fixtures: hand-built workloads of known character and small scenario files."""

from __future__ import annotations

import contextlib
import io
import textwrap
from pathlib import Path

import numpy as np
import pytest

from twin.fleet import FleetSnapshot, FleetState
from twin.sku import load_sku
from zoo.workload import Workload, activation, add, conv, linear, norm

REPO = Path(__file__).resolve().parent.parent


def compute_bound() -> Workload:
    """Wide 3x3 convs on a small map: many MACs per byte."""
    return Workload.from_rows([conv(f"c{i}", 512, 512, 3, 14, 14) for i in range(4)])


def memory_bound() -> Workload:
    """Element-wise layers on big maps: no reuse, bytes dominate."""
    rows = []
    for i in range(4):
        rows += [norm(f"n{i}", 128, 448, 448), activation(f"a{i}", 128, 448, 448), add(f"s{i}", 128, 448, 448)]
    return Workload.from_rows(rows)


def overhead_bound() -> Workload:
    """Many tiny layers: framework overhead dominates."""
    return Workload.from_rows([linear(f"fc{i}", 16, 16) for i in range(200)])


def snapshot(sku: str = "jetson-nano", n: int = 1, framework: str = "pytorch", **arrays) -> FleetSnapshot:
    state = FleetState.nominal(n)
    for name, value in arrays.items():
        getattr(state, name)[:] = value
    return FleetSnapshot(state, load_sku(sku), framework, np.ones((1, 9)))


def run_main(main, argv) -> tuple[int, str]:
    """Exit code and stderr of a CLI's ``main`` run in this process (no interpreter start-up: a
    subprocess pays ~3 s of imports per call)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse refuses its arguments
            code = exc.code
    return code, err.getvalue()


BASE_SCENARIO = """\
name: {name}
seed: {seed}
fleet: {{sku: jetson-nano, devices: {devices}, battery: true}}
time: {{start: 2026-01-01, days: {days}}}
"""


@pytest.fixture
def write_scenario(tmp_path):
    """Write a scenario YAML: the base fleet plus any extra YAML text; returns its path."""

    def _write(extra: str = "", *, name="t", seed=3, devices=500, days=30, raw: str | None = None) -> Path:
        text = raw if raw is not None else BASE_SCENARIO.format(name=name, seed=seed, devices=devices, days=days) \
            + textwrap.dedent(extra)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        return path

    return _write
