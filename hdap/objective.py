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
        self.weights_ = np.bincount(labels, minlength=k) / len(labels)
        probs = (np.arange(QUANTILES) + 0.5) / QUANTILES
        self.ratio_quantiles_ = np.array([np.quantile(speed_ratio[labels == c], probs) for c in range(k)])
        self.ratio_mean_ = np.array([speed_ratio[labels == c].mean() for c in range(k)])
        self._unpruned = self.cluster_ms(np.zeros(zoo.n_units))

    def cluster_ms(self, rates) -> np.ndarray:
        """Each cluster surrogate's prediction (ms) for its representatives."""
        return np.array([s.predict(self.zoo, rates)[0] for s in self.surrogates])

    def mean_ms(self, rates) -> float:
        return float(self.weights_ @ (self.ratio_mean_ * self.cluster_ms(rates)))

    def device_ms(self, rates) -> tuple[np.ndarray, np.ndarray]:
        """(latencies, weights) of the quantile devices that stand for the fleet."""
        lat = self.ratio_quantiles_ * self.cluster_ms(rates)[:, None]
        return lat.ravel(), np.repeat(self.weights_ / QUANTILES, QUANTILES)

    def statistic(self, rates, objective: str, slo_ms: float | None = None) -> float:
        if objective == "weighted_mean":
            return self.mean_ms(rates)
        if objective == "mean":
            return float(np.mean(self.cluster_ms(rates) / self._unpruned))
        lat, w = self.device_ms(rates)
        if objective == "p95":
            return weighted_quantile(lat, w, 0.95)
        if objective == "slo":
            return float(w @ (lat > slo_ms)) + _TIE * self.mean_ms(rates) / slo_ms
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
