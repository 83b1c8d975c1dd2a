"""Fleet-level behaviour of the simulation: physical direction, determinism, snapshots."""

import numpy as np
import pandas as pd
import pytest

from twin.latency import latency_ms
from twin.scenario import load_scenario
from twin.simulation import BLOCK_SIZE, simulate
from zoo import get_model


def _run(write_scenario, extra="", **kw):
    return simulate(load_scenario(write_scenario(extra, **kw)))


def test_hotter_climate_throttles_more_and_wears_batteries_faster(write_scenario):
    mild = _run(write_scenario, "environment: {climate_mix: {temperate: 1.0}}\n", name="mild", days=200, devices=2000)
    hot = _run(write_scenario, "environment: {climate_mix: {hot: 1.0}}\n", name="hot", days=200, devices=2000)
    assert hot.history["thermal_throttled_frac"].mean() > mild.history["thermal_throttled_frac"].mean() + 0.05
    assert hot.history["battery_health_mean"].iloc[-1] < mild.history["battery_health_mean"].iloc[-1] - 0.01
    assert hot.history["latency_ms_mean"].mean() > mild.history["latency_ms_mean"].mean()


def test_older_fleet_has_a_wider_latency_spread(write_scenario):
    # one mode, no apps: what widens the spread is aging (dust, throttling, battery sag)
    r = _run(write_scenario, """\
        drift:
          power_modes: {switch_rate_per_year: 0}
          background: {arrival_rate_per_year: 0}
        environment: {climate_mix: {hot: 0.5, temperate: 0.5}, dust_rate_per_year: 0.4}
        """, days=560, devices=3000)
    h = r.history
    same_season = [(150, 515), (180, 545)]
    for young, old in same_season:
        assert h.loc[old, "latency_ms_std"] > 1.2 * h.loc[young, "latency_ms_std"]
        assert h.loc[old, "latency_ms_p99"] > h.loc[young, "latency_ms_p99"]


def test_low_power_mode_fleet_is_slower(write_scenario):
    top = _run(write_scenario, name="top", days=5)
    low = _run(write_scenario, "drift: {power_modes: {initial: {5W: 1.0}, switch_rate_per_year: 0}}\n", name="low", days=5)
    assert (low.history["mode_5W_frac"] == 1.0).all()
    assert low.history["latency_ms_mean"].iloc[-1] > 1.3 * top.history["latency_ms_mean"].iloc[-1]


def test_same_seed_same_bytes_whatever_the_shard_and_worker_count(write_scenario):
    path = write_scenario(devices=2 * BLOCK_SIZE + 1000, days=12)
    scenario = load_scenario(path)
    runs = [simulate(scenario, shards=1), simulate(scenario, shards=3), simulate(scenario, shards=2, workers=2)]
    ref = runs[0]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(ref.history, other.history, check_exact=True)
        pd.testing.assert_frame_equal(ref.devices_frame(), other.devices_frame(), check_exact=True)
    other_seed = simulate(scenario.with_overrides(seed=scenario.seed + 1))
    assert not ref.history["latency_ms_mean"].equals(other_seed.history["latency_ms_mean"])


def test_snapshots_and_final_state_give_each_devices_latency(write_scenario):
    scenario = load_scenario(write_scenario(days=20))
    r = simulate(scenario, snapshot_days=(0, 10))
    assert set(r.snapshots) == {0, 10} and r.final.day == 19
    w = get_model("resnet18").workload()
    # the recorded daily latency is the latency model's exact value on that day's state
    np.testing.assert_allclose(latency_ms(w, r.snapshots[10]), r.snapshots[10].state.latency_ms, rtol=1e-5)
    assert len(r.devices_frame()) == 500 and r.devices_frame()["device_id"].is_unique


def test_firmware_rollout_reaches_coverage_in_history(write_scenario):
    r = _run(write_scenario, """\
        drift:
          firmware: [{name: fw2, day: 3, overhead_scale: 0.8, waves: [0.5, 1.0], wave_interval_days: 4, coverage: 0.9}]
        """, days=15, devices=4000)
    h = r.history
    assert h.loc[2, "firmware_fw2_frac"] == 0
    assert h.loc[4, "firmware_fw2_frac"] == pytest.approx(0.45, abs=0.03)
    assert h.loc[14, "firmware_fw2_frac"] == pytest.approx(0.9, abs=0.02)
    assert h.loc[14, "latency_ms_mean"] < h.loc[2, "latency_ms_mean"]


def test_mains_powered_fleet_has_no_battery_columns(write_scenario):
    r = simulate(load_scenario(write_scenario(raw="""\
        name: mains
        fleet: {sku: jetson-xavier-nx, devices: 200, framework: tensorrt}
        time: {start: 2026-06-01, days: 5}
        """.replace("        ", ""))))
    assert "battery_health_mean" not in r.history.columns
    assert (r.final.state.supply_throttle == 1).all()
