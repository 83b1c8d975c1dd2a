import numpy as np
import pytest

from twin.manufacturing import ManufacturingVariance, draw_birth_traits


def test_spreads_match_their_parameters_and_stay_truncated():
    p = ManufacturingVariance()
    t = draw_birth_traits(p, 200_000, np.random.default_rng(0))
    assert np.std(t["silicon_speed"]) == pytest.approx(p.silicon_speed_sd, rel=0.05)
    assert np.std(t["power_factor"]) == pytest.approx(p.power_sd, rel=0.05)
    assert np.mean(t["memory_speed"]) == pytest.approx(1.0, abs=1e-3)
    # jetson_specs.md: ~10-20 % between identical units
    spread = t["silicon_speed"].max() / t["silicon_speed"].min()
    assert 1.15 < spread <= (1 + 3 * p.silicon_speed_sd) / (1 - 3 * p.silicon_speed_sd) + 1e-6


def test_zero_variance_gives_identical_units():
    zero = ManufacturingVariance(**{k: 0.0 for k in ManufacturingVariance.model_fields if k.endswith("_sd") and k != "truncate_sd"})
    t = draw_birth_traits(zero, 100, np.random.default_rng(0))
    assert all(np.all(v == 1.0) for v in t.values())
