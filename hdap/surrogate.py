"""Per-cluster latency surrogates, trained on random sub-networks measured on representatives.

Two models of the same measurements:

- ``TreeSurrogate`` (the paper's): gradient-boosted trees, per-unit pruning rates in, cluster-mean
  latency out (fitted in log space).
- ``LayerSurrogate`` (structured): latency as a non-negative sum over the architecture's layers
  (per layer kind: a cost per layer, per FLOP and per byte) from its analytic workload table,
  by non-negative least squares. Its coefficients read as overheads and throughputs.

``fit_cluster_surrogate`` fits both on 80 % of the samples and keeps whichever has the lower
held-out MAPE; it reports both, with Spearman rank correlation, and the profiling cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import nnls
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor

from hdap.fleet import Fleet
from hdap.zoo import ZooModel
from twin.sku import LAYER_KINDS

__all__ = ["sample_rates", "profile", "TreeSurrogate", "LayerSurrogate", "ClusterSurrogate", "fit_cluster_surrogate"]


def sample_rates(n_units: int, n: int, rng: np.random.Generator, high: float = 0.9) -> np.ndarray:
    """Random per-unit pruning rates; a per-sample scale spreads them over light and heavy pruning."""
    scale = rng.uniform(0, high, (n, 1))
    return np.clip(scale * rng.uniform(0.3, 1.7, (n, n_units)), 0, high)


def profile(fleet: Fleet, zoo: ZooModel, device_ids, rates: np.ndarray, repeats: int = 5) -> np.ndarray:
    """Mean over ``device_ids`` of each architecture's median measured latency (ms)."""
    return np.array([fleet.measure(zoo.workload(zoo.widths_from_rates(r)), device_ids, repeats).median_ms.mean()
                     for r in rates])


class TreeSurrogate:
    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, zoo: ZooModel, rates: np.ndarray, latency_ms: np.ndarray) -> "TreeSurrogate":
        self.model_ = HistGradientBoostingRegressor(max_iter=400, learning_rate=0.08, random_state=self.random_state)
        self.model_.fit(rates, np.log(latency_ms))
        return self

    def predict(self, zoo: ZooModel, rates: np.ndarray) -> np.ndarray:
        return np.exp(self.model_.predict(np.atleast_2d(rates)))


def layer_features(zoo: ZooModel, rates: np.ndarray) -> np.ndarray:
    """Per architecture: per layer kind, the number of layers, MFLOPs and MB moved."""
    k = len(LAYER_KINDS)
    rows = []
    for r in np.atleast_2d(rates):
        w = zoo.workload(zoo.widths_from_rates(r))
        kind = w.kind.astype(np.intp)
        rows.append(np.concatenate([np.bincount(kind, minlength=k), np.bincount(kind, w.flops, k) / 1e6,
                                    np.bincount(kind, w.bytes_read + w.bytes_written, k) / 1e6]))
    return np.array(rows)


class LayerSurrogate:
    def fit(self, zoo: ZooModel, rates: np.ndarray, latency_ms: np.ndarray) -> "LayerSurrogate":
        x = layer_features(zoo, rates)
        self.scale_ = np.maximum(x.max(axis=0), 1e-12)
        # relative error: divide each row by its target so NNLS minimises squared relative error
        self.coef_, _ = nnls(x / self.scale_ / latency_ms[:, None], np.ones(len(latency_ms)))
        return self

    def predict(self, zoo: ZooModel, rates: np.ndarray) -> np.ndarray:
        return layer_features(zoo, rates) / self.scale_ @ self.coef_


def _mape(pred, true) -> float:
    return float(np.mean(np.abs(pred / true - 1)))


@dataclass
class ClusterSurrogate:
    model: TreeSurrogate | LayerSurrogate
    kind: str
    holdout: dict = field(default_factory=dict)   # {"tree": {"mape":..., "spearman":...}, "layer": {...}}
    profiling_device_seconds: float = 0.0

    def predict(self, zoo: ZooModel, rates) -> np.ndarray:
        return self.model.predict(zoo, rates)


def fit_cluster_surrogate(fleet: Fleet, zoo: ZooModel, representatives, n_samples: int = 500, repeats: int = 5,
                          choice: str = "best", seed: int = 0) -> ClusterSurrogate:
    """Profile ``n_samples`` random sub-networks on the representatives, fit both models, pick one."""
    rng = np.random.default_rng(seed)
    spent = fleet.profiling_device_seconds
    rates = sample_rates(zoo.n_units, n_samples, rng)
    latency = profile(fleet, zoo, representatives, rates, repeats)
    test = rng.random(n_samples) < 0.2
    holdout, models = {}, {}
    for name, model in (("tree", TreeSurrogate(seed)), ("layer", LayerSurrogate())):
        models[name] = model.fit(zoo, rates[~test], latency[~test])
        pred = model.predict(zoo, rates[test])
        holdout[name] = {"mape": _mape(pred, latency[test]),
                         "spearman": float(spearmanr(pred, latency[test]).statistic)}
    kind = min(holdout, key=lambda k: holdout[k]["mape"]) if choice == "best" else choice
    models[kind].fit(zoo, rates, latency)  # refit the chosen model on every sample
    return ClusterSurrogate(models[kind], kind, holdout, fleet.profiling_device_seconds - spent)
