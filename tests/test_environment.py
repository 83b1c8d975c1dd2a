from datetime import date

import numpy as np
import pytest

from twin.environment import Environment, throttle_for_heat, zone_weather


def _weather(mix, start=date(2026, 1, 1), days=365):
    return zone_weather(Environment(climate_mix=mix), start, days, np.random.default_rng(0))


def test_seasons_peak_in_summer_by_hemisphere():
    peak, mean = _weather({"temperate": 1.0})
    july, january = mean[180:210, 0].mean(), mean[0:30, 0].mean()
    assert july > january + 10
    env = Environment(climate_mix={"south": 1.0}, zones={"south": dict(mean_c=15, seasonal_amplitude_c=8,
                                                                      diurnal_range_c=8, weather_sd_c=1, southern=True)})
    _, south = zone_weather(env, date(2026, 1, 1), 365, np.random.default_rng(0))
    assert south[0:30, 0].mean() > south[180:210, 0].mean() + 10
    assert np.all(peak >= mean)


def test_hot_zone_is_hotter_than_cold_zone():
    peak, _ = _weather({"cold": 0.5, "hot": 0.5})
    assert peak[:, 1].mean() > peak[:, 0].mean() + 15


def test_weather_is_shared_and_seeded():
    a = _weather({"hot": 1.0})
    b = _weather({"hot": 1.0})
    assert np.array_equal(a[0], b[0])


def test_throttling_only_above_the_limit_and_deeper_when_hotter():
    amb = np.array([20.0, 55.0, 75.0], np.float32)
    frac, junction = throttle_for_heat(amb, np.float32(10), np.float32(1.5), np.float32(5.0), 98.5, 0.15)
    assert frac[0] == 1.0 and junction[0] == pytest.approx(70.0)
    assert 1.0 > frac[1] > frac[2] >= 0.15
    assert junction[1] == pytest.approx(98.5, abs=0.01)


def test_unknown_zone_in_the_mix_is_rejected():
    with pytest.raises(ValueError, match="unknown zone.*arctic.*allowed: cold, temperate, hot, tropical"):
        Environment(climate_mix={"arctic": 1.0})
