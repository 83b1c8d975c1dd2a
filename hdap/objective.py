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

import numpy as np

from hdap.surrogate import ClusterSurrogate
from hdap.zoo import ZooModel

__all__ = ["OBJECTIVES", "QUANTILES", "FleetEstimate", "fleet_statistic", "weighted_quantile"]

OBJECTIVES = ("weighted_mean", "mean", "p95", "slo")
QUANTILES = 200
_TIE = 1e-6  # weight of the mean in the slo objective: only breaks ties between equal shares


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, q * cum[-1]), len(cum) - 1)])


def fleet_statistic(latency_ms: np.ndarray, objective: str, slo_ms: float | None = None) -> float:
    """The objective's statistic of exact per-device latencies (``mean`` is the fleet mean here)."""
    if objective in ("weighted_mean", "mean"):
        return float(latency_ms.mean())
    if objective == "p95":
        return float(np.percentile(latency_ms, 95))
    if objective == "slo":
        return float(np.mean(latency_ms > slo_ms)) + _TIE * float(latency_ms.mean()) / slo_ms
    raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")


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
        self._unpruned = self.cluster_ms(np.zeros(zoo.n_units))

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

    def device_ms(self, rates) -> tuple[np.ndarray, np.ndarray]:
        """(latencies, weights) of the quantile devices that stand for the fleet."""
        lat = self.ratio_quantiles_ * self.cluster_ms(rates)[:, None]
        return lat.ravel(), np.repeat(self.weights_ / QUANTILES, QUANTILES)

    def statistics(self, rates: np.ndarray, objective: str, slo_ms: float | None = None) -> np.ndarray:
        """``statistic`` of every row of ``rates``, with one surrogate call per cluster."""
        cms = self.cluster_ms(np.atleast_2d(rates))
        if objective == "weighted_mean":
            return cms @ (self.weights_ * self.ratio_mean_)
        if objective == "mean":
            return np.mean(cms / self._unpruned, axis=1)
        return np.array([self._from_cluster_ms(c, objective, slo_ms) for c in cms])

    def _from_cluster_ms(self, cms: np.ndarray, objective: str, slo_ms: float | None) -> float:
        lat = (self.ratio_quantiles_ * cms[:, None]).ravel()
        w = np.repeat(self.weights_ / QUANTILES, QUANTILES)
        if objective == "p95":
            return weighted_quantile(lat, w, 0.95)
        if objective == "slo":
            return float(w @ (lat > slo_ms)) + _TIE * float(cms @ (self.weights_ * self.ratio_mean_)) / slo_ms
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")

    def statistic(self, rates, objective: str, slo_ms: float | None = None) -> float:
        return float(self.statistics(np.atleast_2d(rates), objective, slo_ms)[0])
