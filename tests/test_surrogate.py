import numpy as np
import pytest

from conftest import snapshot
from hdap.fleet import TwinFleet, TwinGroundTruth
from hdap.surrogate import LayerSurrogate, TreeSurrogate, fit_cluster_surrogate, sample_rates
from hdap.zoo import get_model


def test_sampled_rates_span_light_to_heavy_pruning():
    r = sample_rates(16, 2000, np.random.default_rng(0))
    assert r.shape == (2000, 16) and r.min() >= 0 and r.max() <= 0.9
    assert np.quantile(r.mean(axis=1), 0.1) < 0.15 and np.quantile(r.mean(axis=1), 0.9) > 0.6


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2"])
def test_surrogates_predict_held_out_architectures_within_5_percent(name):
    zoo = get_model(name)
    fleet = TwinFleet(snapshot(n=3, background_cores=[0, 1.0, 0]), seed=0)
    s = fit_cluster_surrogate(fleet, zoo, [0, 1, 2], n_samples=300, seed=1)
    assert s.holdout["tree"]["mape"] < 0.05 and s.holdout["layer"]["mape"] < 0.05
    assert s.holdout["layer"]["spearman"] > 0.9
    assert s.kind == min(s.holdout, key=lambda k: s.holdout[k]["mape"])
    assert s.profiling_device_seconds == pytest.approx(fleet.profiling_device_seconds)
    assert s.profiling_device_seconds > 300 * 3 * 2.0  # a model load per architecture and device at least
    # against the noise-free truth of the cluster's mean device on fresh architectures
    rates = sample_rates(zoo.n_units, 50, np.random.default_rng(7))
    truth = TwinGroundTruth(snapshot(n=3, background_cores=[0, 1.0, 0]))
    exact = np.array([truth.latency_ms(zoo.workload(zoo.widths_from_rates(r))).mean() for r in rates])
    assert np.mean(np.abs(s.predict(zoo, rates) / exact - 1)) < 0.05


def test_layer_surrogate_is_non_negative_and_both_are_deterministic():
    zoo = get_model("resnet56")
    rates = sample_rates(zoo.n_units, 100, np.random.default_rng(0))
    y = np.array([zoo.flops(zoo.widths_from_rates(r)) for r in rates]) / 1e6 + 5.0
    layer = LayerSurrogate().fit(zoo, rates, y)
    assert np.all(layer.coef_ >= 0)
    np.testing.assert_allclose(layer.predict(zoo, rates), y, rtol=0.01)
    a = TreeSurrogate(3).fit(zoo, rates, y).predict(zoo, rates)
    b = TreeSurrogate(3).fit(zoo, rates, y).predict(zoo, rates)
    assert np.array_equal(a, b)
