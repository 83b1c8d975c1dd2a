"""twin shape: the theory of what pruning for one device costs on another, and its diagnostic."""

import json

import numpy as np
import pytest
from test_calibrate import twin

from conftest import REPO
from twin.fleet import FleetState
from twin.scenario import load_scenario
from twin.shape import predicted_loss, shape_report, unit_costs
from twin.simulation import fleet_snapshot
from zoo import get_model


def test_the_formula_is_the_exact_loss_of_a_linear_latency_model():
    """Latency sum a_i w_i, accuracy sum c_i log w_i: A's optimum (w ~ c / a_A) timed on B, over B's
    own optimum at the same accuracy, is the weighted AM/GM of the ratios."""
    rng = np.random.default_rng(1)
    c, a_ref, a_b = rng.uniform(0.5, 2, 6), rng.uniform(0.1, 1, 6), rng.uniform(0.1, 1, 6)
    w_a = c / a_ref                               # A's optimum (any scale: the loss is a ratio)
    w_b = c / a_b * np.exp(np.sum(c * np.log(w_a * a_b / c)) / c.sum())  # B's optimum, same accuracy
    assert np.sum(c * np.log(w_b)) == pytest.approx(np.sum(c * np.log(w_a)))
    exact = (a_b @ w_a) / (a_b @ w_b) - 1
    theory = predicted_loss(a_b[None, :], a_ref, w_a)[0]
    assert theory == pytest.approx(exact, rel=1e-9)
    assert predicted_loss((3.0 * a_ref)[None, :], a_ref, w_a)[0] == pytest.approx(0.0, abs=1e-12)  # scale: free


def _fleet(**arrays):
    snap = fleet_snapshot(REPO / "scenarios" / "xavier-nx-modes.yaml", devices=4, day=0)
    state = FleetState.nominal(4, snap.sku.mode_names.index(snap.sku.usual_mode))
    for name, value in arrays.items():
        getattr(state, name)[:] = value
    snap.state = state
    snap.engines = None  # one engine build for all: these tests vary the slowdowns alone
    return snap


def test_uniform_slowdowns_change_no_shape_and_memory_clocks_do():
    zoo = get_model("resnet18")
    speed = [1.0, 0.9, 0.8, 0.7]
    slow = _fleet(silicon_speed=speed, memory_speed=speed)     # compute, memory and overhead alike...
    rep = shape_report(zoo, zoo.full_widths, slow)
    assert np.abs(rep.loss).max() < 1e-6                       # ... cost nothing
    memory = _fleet(memory_speed=[1.0, 0.6, 0.4, 0.25])         # only memory-bound units slow down
    rep = shape_report(zoo, zoo.full_widths, memory)
    assert rep.loss[0] == pytest.approx(0, abs=1e-9) and np.all(np.diff(rep.loss) >= 0) and rep.loss[-1] > 0.002
    # the fleet-mean objective is one device with the mean costs: its loss is below the mean of
    # the per-device losses (each device against its own optimum), and above zero
    assert 0 < rep.fleet_loss < rep.loss.mean()
    costs = unit_costs(zoo, zoo.full_widths, memory)
    ref = unit_costs(zoo, zoo.full_widths, memory.nominal())[0]
    assert rep.fleet_loss == pytest.approx(predicted_loss(costs.mean(axis=0)[None], ref, zoo.full_widths)[0])


def test_unit_costs_are_latency_per_channel_and_nominal_is_the_usual_mode():
    zoo = get_model("resnet18")
    snap = _fleet()
    nominal = snap.nominal()
    assert snap.sku.mode_names[nominal.state.power_mode[0]] == snap.sku.usual_mode
    costs = unit_costs(zoo, zoo.full_widths, nominal)
    assert costs.shape == (1, zoo.n_units) and (costs >= 0).all() and (costs > 0).sum() >= zoo.n_units - 2


def test_cli_prints_the_prediction_and_refuses_tables(tmp_path):
    r = twin("shape", REPO / "scenarios" / "xavier-nx-modes.yaml", "--model", "yolov8n", "--devices", "300", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["devices"] == 300 and out["predicted_loss_pct"]["max"] >= out["predicted_loss_pct"]["p50"] >= 0
    assert 0 < out["overhead_share"]["p50"] < 1
    assert 0 <= out["fleet_mean_loss_pct"] <= out["mean_predicted_loss_pct"]
    (tmp_path / "t.csv").write_text("x\n")
    r = twin("shape", REPO / "scenarios" / "xavier-nx-modes.yaml", "--model", tmp_path / "t.csv")
    assert r.returncode == 2 and "workload table without prunable units" in r.stderr and "Traceback" not in r.stderr
    r = twin("shape", REPO / "scenarios" / "xavier-nx-modes.yaml", "--model", "resnet18", "--rates", "0.5")
    assert r.returncode == 2 and "resnet18 has 8 prunable units, got 1 rates" in r.stderr


def test_a_nano_tensorrt_fleet_has_no_shape_for_resnet50():
    """At full width every ResNet-50 layer is compute-bound on a Nano under TensorRT, and the Nano's
    modes share one memory clock: every device is a scaled copy of the nominal one, and the
    nominal device's optimum is every device's."""
    scenario = load_scenario(REPO / "scenarios" / "nano-resnet50.yaml")
    zoo = get_model("resnet50")
    rep = shape_report(zoo, zoo.full_widths, fleet_snapshot(scenario, devices=500))
    assert np.abs(rep.loss).max() < 1e-4
