"""Every shipped scenario validates and runs (briefly)."""

import pytest

from conftest import REPO
from hdap.config import RunConfig
from twin.scenario import load_scenario
from twin.simulation import simulate

SHIPPED = sorted((REPO / "scenarios").glob("*.yaml"))


def test_the_required_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"quickstart", "jetson-nano-2y", "xavier-nx-hot", "million", "nano-resnet50", "resnet56-digits",
            "xavier-nx-modes", "orin-nano-modes"} <= names
    assert load_scenario(REPO / "scenarios" / "million.yaml").fleet.devices == 1_000_000


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_runs(path):
    s = load_scenario(path).with_overrides(devices=200, days=3)
    RunConfig.of(path)  # its pruning section is valid too
    r = simulate(s)
    assert len(r.history) == 3 and r.history["latency_ms_mean"].gt(0).all()
