"""What the search minimises: a statistic of the fleet's latency distribution for an architecture.

``FleetEstimate`` is HDAP's model of the fleet, built only from measurements: each cluster's
surrogate predicts its representatives' mean latency, and each device is that prediction times
its own speed relative to the representatives (from its measured latency of the unpruned
network while clustering: devices of a cluster share a shape and differ in speed). A cluster
keeps its speed ratios as ``QUANTILES`` quantiles, so the fleet mean, p95 and the share of
devices over an SLO cost O(clusters x quantiles) per architecture, whatever the fleet size.

Objectives (``OBJECTIVES``):

- ``weighted_mean`` (default): the fleet mean latency, clusters weighted by their share;
- ``mean``: the paper's fitness, the unweighted mean over clusters of latency relative to the
  unpruned network;
- ``p95``: the fleet's 95th percentile latency;
- ``slo``: the share of devices slower than ``slo_ms`` (ties broken by the mean).

``fleet_statistic`` computes the same statistics from exact per-device latencies (the oracle and
the evaluation).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from hdap.surrogate import ClusterSurrogate
from zoo import ZooModel

__all__ = ["Objective", "OBJECTIVES", "QUANTILES", "FleetEstimate", "fleet_statistic", "weighted_quantile"]

Objective = Literal["weighted_mean", "mean", "p95", "slo"]
OBJECTIVES: tuple[str, ...] = Objective.__args__
QUANTILES = 200
_TIE = 1e-6  # weight of the mean in the slo objective: only breaks ties between equal shares


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(cum) - 1)])


class _Statistic(ABC):
    """One objective: its value from exact per-device latencies and from HDAP's estimate."""

    @abstractmethod
    def exact(self, latency_ms: np.ndarray, slo_ms: float | None) -> float: ...

    @abstractmethod
    def estimated(self, est: "FleetEstimate", cms: np.ndarray, slo_ms: float | None) -> np.ndarray:
        """Values for (architectures, clusters) cluster predictions ``cms``."""


class _WeightedMean(_Statistic):
    def exact(self, latency_ms, slo_ms):
        return float(latency_ms.mean())

    def estimated(self, est, cms, slo_ms):
        return cms @ (est.weights_ * est.ratio_mean_)


class _PaperMean(_WeightedMean):
    """Exact: the fleet mean; estimated: the unweighted mean over clusters relative to unpruned."""

    def estimated(self, est, cms, slo_ms):
        return np.mean(cms / est._unpruned, axis=1)


class _P95(_Statistic):
    def exact(self, latency_ms, slo_ms):
        return float(np.percentile(latency_ms, 95))

    def estimated(self, est, cms, slo_ms):
        return np.array([weighted_quantile(*est.quantile_devices(c), 0.95) for c in cms])


class _SLO(_Statistic):
    def exact(self, latency_ms, slo_ms):
        return float(np.mean(latency_ms > slo_ms)) + _TIE * float(latency_ms.mean()) / slo_ms

    def estimated(self, est, cms, slo_ms):
        out = []
        for c in cms:
            lat, w = est.quantile_devices(c)
            out.append(float(w @ (lat > slo_ms)) + _TIE * float(c @ (est.weights_ * est.ratio_mean_)) / slo_ms)
        return np.array(out)


_STATISTICS: dict[str, _Statistic] = {"weighted_mean": _WeightedMean(), "mean": _PaperMean(), "p95": _P95(),
                                      "slo": _SLO()}


def _statistic(objective: str) -> _Statistic:
    """The one place an objective's name is looked up."""
    if objective not in _STATISTICS:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    return _STATISTICS[objective]


def fleet_statistic(latency_ms: np.ndarray, objective: str, slo_ms: float | None = None) -> float:
    """The objective's statistic of exact per-device latencies (``mean`` is the fleet mean here)."""
    return _statistic(objective).exact(latency_ms, slo_ms)


class FleetEstimate:
    """The fleet's latency distribution as HDAP estimates it, for any architecture."""

    def __init__(self, zoo: ZooModel, surrogates: list[ClusterSurrogate], labels: np.ndarray,
                 speed_ratio: np.ndarray):
        self.zoo = zoo
        self.surrogates = surrogates
        k = len(surrogates)
        self.labels_, self.speed_ratio_ = labels, speed_ratio
        self.weights_ = np.bincount(labels, minlength=k) / len(labels)
        probs = (np.arange(QUANTILES) + 0.5) / QUANTILES
        self.ratio_quantiles_ = np.array([np.quantile(speed_ratio[labels == c], probs) for c in range(k)])
        self.ratio_mean_ = np.array([speed_ratio[labels == c].mean() for c in range(k)])
        self._unpruned = self.cluster_ms(np.zeros(zoo.n_rates))

    def cluster_ms(self, rates) -> np.ndarray:
        """Each cluster surrogate's prediction (ms) for its representatives: (clusters,) for one
        rate vector, (architectures, clusters) for a 2-D array of them."""
        out = np.column_stack([s.predict(self.zoo, np.atleast_2d(rates)) for s in self.surrogates])
        return out if np.ndim(rates) == 2 else out[0]

    def mean_ms(self, rates) -> float:
        return self.statistic(rates, "weighted_mean")

    def per_device_ms(self, rates) -> np.ndarray:
        """Every clustered device's estimated latency (ms): its cluster's prediction times its speed."""
        return self.speed_ratio_ * self.cluster_ms(rates)[self.labels_]

    def quantile_devices(self, cms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(latencies, weights) of the quantile devices that stand for the fleet, given each
        cluster's predicted latency ``cms``."""
        lat = (self.ratio_quantiles_ * cms[:, None]).ravel()
        return lat, np.repeat(self.weights_ / QUANTILES, QUANTILES)

    def statistics(self, rates: np.ndarray, objective: str, slo_ms: float | None = None) -> np.ndarray:
        """``statistic`` of every row of ``rates``, with one surrogate call per cluster."""
        return _statistic(objective).estimated(self, self.cluster_ms(np.atleast_2d(rates)), slo_ms)

    def statistic(self, rates, objective: str, slo_ms: float | None = None) -> float:
        return float(self.statistics(np.atleast_2d(rates), objective, slo_ms)[0])
