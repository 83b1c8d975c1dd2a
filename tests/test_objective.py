"""The fleet estimate and the search objectives."""

import numpy as np
import pytest

from hdap.objective import FleetEstimate, fleet_statistic, weighted_quantile
from hdap.surrogate import ClusterSurrogate
from zoo import get_model


class _Fixed:
    """A surrogate whose prediction is a fixed latency times (1 - mean rate)."""

    def __init__(self, ms):
        self.ms = ms

    def predict(self, zoo, rates):
        return np.array([self.ms * (1 - np.mean(r)) for r in np.atleast_2d(rates)])


def _fleet(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], [3000, 1000])
    ratio = np.where(labels == 0, rng.lognormal(0, 0.05, 4000), rng.lognormal(0.1, 0.1, 4000))
    zoo = get_model("resnet20")
    est = FleetEstimate(zoo, [ClusterSurrogate(_Fixed(10.0), "tree"), ClusterSurrogate(_Fixed(30.0), "tree")],
                        labels, ratio)
    return est, zoo, labels, ratio


def test_estimate_matches_the_per_device_model_it_compresses():
    est, zoo, labels, ratio = _fleet()
    rates = np.full(zoo.n_units, 0.5)
    per_device = ratio * np.where(labels == 0, 5.0, 15.0)
    assert est.mean_ms(rates) == pytest.approx(per_device.mean(), rel=1e-9)
    assert est.statistic(rates, "weighted_mean") == est.mean_ms(rates)
    assert est.statistic(rates, "p95") == pytest.approx(np.percentile(per_device, 95), rel=0.01)
    slo = 16.0
    assert est.statistic(rates, "slo", slo) == pytest.approx(np.mean(per_device > slo), abs=0.01)
    np.testing.assert_allclose(est.weights_, [0.75, 0.25])


def test_paper_objective_is_the_unweighted_mean_relative_to_unpruned():
    est, zoo, _, _ = _fleet()
    assert est.statistic(np.full(zoo.n_units, 0.5), "mean") == pytest.approx(0.5)
    assert est.statistic(np.zeros(zoo.n_units), "mean") == pytest.approx(1.0)


def test_exact_statistics_and_errors():
    lat = np.arange(1, 101, dtype=float)
    assert fleet_statistic(lat, "weighted_mean") == fleet_statistic(lat, "mean") == 50.5
    assert fleet_statistic(lat, "p95") == pytest.approx(95.05)
    assert fleet_statistic(lat, "slo", 90.0) == pytest.approx(0.10, abs=1e-4)
    assert weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.1, 0.8]), 0.5) == 3.0
    with pytest.raises(ValueError, match="objective must be one of"):
        fleet_statistic(lat, "median")
