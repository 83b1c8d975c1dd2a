"""Battery aging moves the physical way: heat and use wear packs; age and cold make them sag."""

import numpy as np
import pytest

from twin.battery import BatteryAging, age_battery, undervolted
from twin.fleet import FleetState
from twin.sku import load_sku

PACK = load_sku("jetson-nano").battery


def _age(days, temp_c, energy_wh, n=1):
    s = FleetState.nominal(n)
    for _ in range(days):
        age_battery(s, PACK, BatteryAging(), np.full(n, temp_c, np.float32), np.full(n, energy_wh, np.float32),
                    np.full(n, 0.2, np.float32))
    return s


def test_hotter_packs_fade_faster():
    cool, hot = _age(365, 20.0, 40.0), _age(365, 40.0, 40.0)
    assert hot.battery_health[0] < cool.battery_health[0] - 0.02


def test_more_use_fades_faster():
    light, heavy = _age(365, 25.0, 10.0), _age(365, 25.0, 80.0)
    assert heavy.battery_health[0] < light.battery_health[0]


def test_calendar_fade_follows_sqrt_time():
    one, four = _age(100, 25.0, 0.0), _age(400, 25.0, 0.0)
    assert (1 - four.battery_health[0]) / (1 - one.battery_health[0]) == pytest.approx(2.0, rel=0.01)


def test_resistance_grows_about_20_percent_in_400_days_at_25c():
    # Ecker et al. 2013, calendar aging at 25 C
    s = _age(400, 25.0, 0.0)
    assert s.battery_resistance_ratio[0] == pytest.approx(1.20, abs=0.02)


def test_wang_2011_cycle_law_at_constant_temperature():
    # 1000 full equivalent cycles of Wang's 2.2 Ah cell at 25 C, C/2: B exp(-31700 + 370.3 C)/(RT)) Ah^0.55
    cell_ah_per_day = 2.2
    pack_wh = cell_ah_per_day / (2.2 / PACK.cell_capacity_ah) * PACK.nominal_v * PACK.cells_parallel / 0.5
    s = FleetState.nominal(1)
    for _ in range(1000):
        age_battery(s, PACK, BatteryAging(calendar_pct_per_sqrt_day=0.0), np.float32([25.0]),
                    np.float32([pack_wh]), np.float32([0.5]))
    expected = 31630 * np.exp((-31700 + 370.3 * 0.5) / (8.314 * 298.15)) * 2200 ** 0.55
    assert 100 * (1 - s.battery_health[0]) == pytest.approx(expected, rel=0.01)


def _sags(health, resistance_ratio, cell_c, energy_wh=60.0):
    s = FleetState.nominal(1)
    s.battery_health[:], s.battery_resistance_ratio[:] = health, resistance_ratio
    return bool(undervolted(s, PACK, BatteryAging(), np.float32([cell_c]), np.float32([energy_wh]),
                            np.float32([13.0]))[0])


def test_only_aged_packs_in_the_cold_sag_below_cutoff():
    assert not _sags(1.0, 1.0, 25.0)
    assert not _sags(1.0, 1.0, -10.0)   # a fresh pack holds up in the cold
    assert not _sags(0.7, 1.6, 25.0)    # an aged pack holds up in the warm
    assert _sags(0.7, 1.6, -10.0)       # both together cross the cut-off


def test_a_deeper_discharge_sags_further():
    assert not _sags(0.8, 1.3, 0.0, energy_wh=30.0)
    assert _sags(0.8, 1.3, 0.0, energy_wh=90.0)
