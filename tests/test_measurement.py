import numpy as np
import pytest

from conftest import snapshot
from twin.latency import latency_ms
from twin.measurement import MeasurementNoise, measure
from zoo import get_model


def test_repeats_scatter_a_few_percent_around_the_exact_value():
    w = get_model("resnet18").workload()
    snap = snapshot(n=50)
    m = measure(w, snap, repeats=200, rng=np.random.default_rng(1))
    exact = latency_ms(w, snap)
    assert m.latency_ms.shape == (50, 200)
    np.testing.assert_allclose(m.median_ms, exact, rtol=0.01)
    spread = np.std(np.log(m.latency_ms / exact[:, None]))
    assert 0.02 < spread < 0.15  # 3 % lognormal plus rare outliers


def test_outliers_are_rare_and_slow():
    w = get_model("resnet18").workload()
    snap = snapshot(n=20)
    m = measure(w, snap, 500, np.random.default_rng(2), MeasurementNoise(sigma=0.0, outlier_rate=0.02))
    ratio = m.latency_ms / latency_ms(w, snap)[:, None]
    outliers = ratio > 1.2
    assert 0.01 < outliers.mean() < 0.03
    assert ratio[outliers].min() >= 1.5 - 1e-9


def test_cost_charges_setup_warmup_and_repeats_in_device_seconds():
    w = get_model("resnet18").workload()
    snap = snapshot(n=4)
    noise = MeasurementNoise(sigma=0.0, outlier_rate=0.0, setup_s=2.0, warmup=10)
    m = measure(w, snap, 30, np.random.default_rng(0), noise)
    lat_s = latency_ms(w, snap)[0] / 1e3
    assert m.cost_s == pytest.approx(4 * (2.0 + 40 * lat_s))


def test_same_seed_same_measurements():
    w = get_model("resnet18").workload()
    a = measure(w, snapshot(n=5), 10, np.random.default_rng(9)).latency_ms
    b = measure(w, snapshot(n=5), 10, np.random.default_rng(9)).latency_ms
    assert np.array_equal(a, b)
