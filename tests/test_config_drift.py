import numpy as np
import pytest

from twin.config_drift import (
    BackgroundLoad,
    FirmwareRelease,
    PowerModeDrift,
    arrive_background,
    depart_background,
    firmware_overhead_table,
    mode_weights,
    roll_out,
    switch_modes,
)
from twin.fleet import FleetState
from twin.sku import load_sku


def test_mode_switches_happen_at_the_configured_rate_and_land_by_preference():
    sku = load_sku("jetson-nano")
    s = FleetState.nominal(100_000)
    cum = mode_weights({"5W": 1.0}, sku)
    switched = switch_modes(s, PowerModeDrift(switch_rate_per_year=36.525), cum, np.random.default_rng(0))
    assert switched / 100_000 == pytest.approx(1 - np.exp(-0.1), rel=0.05)
    assert np.count_nonzero(s.power_mode == 1) == switched


def test_background_apps_arrive_and_leave_on_schedule():
    s = FleetState.nominal(50_000)
    params = BackgroundLoad(arrival_rate_per_year=365.25, mean_duration_days=5, cores=(1.0, 1.0))
    arrived = arrive_background(s, params, day=0, rng=np.random.default_rng(0))
    assert arrived / 50_000 == pytest.approx(1 - np.exp(-1), rel=0.05)
    assert np.all(s.background_cores[s.background_until > 0] == 1.0)
    depart_background(s, day=1000)
    assert not s.background_cores.any()


def test_staged_rollout_reaches_its_waves_and_coverage():
    s = FleetState.nominal(100_000)
    s.rollout_rank[:] = np.random.default_rng(0).random(100_000)
    release = FirmwareRelease(name="x", day=0, overhead_scale=0.9, waves=[0.1, 1.0], coverage=0.8)
    roll_out(s, 1, release.waves[0], release.coverage)
    assert np.mean(s.firmware == 1) == pytest.approx(0.08, abs=0.005)
    roll_out(s, 1, release.waves[1], release.coverage)
    assert np.mean(s.firmware == 1) == pytest.approx(0.8, abs=0.005)


def test_firmware_overhead_table_per_kind():
    table = firmware_overhead_table([FirmwareRelease(name="a", day=1, overhead_scale=0.5),
                                     FirmwareRelease(name="b", day=2, overhead_scale={"conv": 2.0})])
    assert table.shape == (3, 9)
    assert np.all(table[0] == 1) and np.all(table[1] == 0.5)
    assert table[2, 0] == 2.0 and table[2, 1] == 1.0


def test_waves_must_increase():
    with pytest.raises(ValueError, match="waves must be increasing"):
        FirmwareRelease(name="x", day=0, overhead_scale=1.0, waves=[0.5, 0.2])
