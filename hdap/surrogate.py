"""Per-cluster latency surrogates, trained on random sub-networks measured on representatives.

Two models of the same measurements:

- ``TreeSurrogate`` (the paper's): gradient-boosted trees, per-unit pruning rates in, cluster-mean
  latency out (fitted in log space).
- ``LayerSurrogate`` (structured): latency as a non-negative sum over the architecture's layers,
  read off its analytic workload table. Layers are grouped by what sets their speed (kind,
  kernel, stride, map size); per group, a cost per layer, per MAC and per byte, fitted by
  non-negative least squares on relative error; layers run in int8 get their own MAC and byte
  columns (their own throughputs). MACs count whole blocks of output channels
  (kernels compute channels in tiles); the block size is not known to HDAP, so it is chosen
  among ``ALIGNMENTS`` by cross-validation. Its coefficients read as overheads and throughputs.

Sub-networks are sampled where the search will look: half in the FLOPs band of the budgets the
search uses, half spread from light to heavy pruning; with depth and precision, blocks dropped and
units in int8 at random (within the int8 budget). ``fit_cluster_surrogate`` fits both models
on 80 % of the samples and keeps the one with the lower held-out MAPE; it reports both, with
Spearman rank correlation, and the profiling cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.optimize import nnls
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from hdap.fleet import Fleet
from hdap.search import MAX_RATE, flops_repair, int8_repair
from zoo import DROP_GENE, INT8_GENE, ZooModel, get_model

__all__ = ["ALIGNMENTS", "sample_rates", "sample_architectures", "profile", "TreeSurrogate", "LayerSurrogate",
           "ClusterSurrogate", "fit_cluster_surrogate", "SurrogateChoice", "SURROGATE_KINDS"]

SurrogateChoice = Literal["best", "tree", "layer"]
SURROGATE_KINDS: tuple[str, ...] = SurrogateChoice.__args__
ALIGNMENTS = (1, 8, 16, 32, 64)
_DENSE_KINDS = 3  # conv, dwconv, linear: the first three LAYER_KINDS


def sample_rates(n_units: int, n: int, rng: np.random.Generator, high: float = 0.9) -> np.ndarray:
    """Random per-unit pruning rates; a per-sample scale spreads them over light and heavy pruning."""
    scale = rng.uniform(0, high, (n, 1))
    return np.clip(scale * rng.uniform(0.3, 1.7, (n, n_units)), 0, high)


def sample_drops(n_genes: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Drop genes: each sample drops each droppable block with its own probability, up to one half."""
    if n_genes == 0:  # the width space: draw nothing, so its samples are what they always were
        return np.zeros((n, 0))
    share = rng.uniform(0, 0.5, (n, 1))
    return np.where(rng.random((n, n_genes)) < share, (1 + DROP_GENE) / 2, DROP_GENE / 2)


def sample_int8(n_units: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Int8 genes: each sample puts each unit in int8 with its own probability, from none to all."""
    share = rng.uniform(0, 1, (n, 1))
    return np.where(rng.random((n, n_units)) < share, (1 + INT8_GENE) / 2, INT8_GENE / 2)


def sample_architectures(zoo: ZooModel, budgets: list[float], n: int, rng: np.random.Generator,
                         int8_share: float = 1.0) -> np.ndarray:
    """``n`` rate vectors: half repaired into the FLOPs band of one of ``budgets`` (random
    directions around uniform pruning), half spread from light to heavy pruning; with depth,
    blocks dropped at random in both halves; with precision, units in int8 at random, repaired to
    at most ``int8_share`` of the MACs."""
    repairs = [flops_repair(zoo, b) for b in budgets]
    starts = [repair(np.zeros(zoo.n_rates))[:zoo.n_units] for repair in repairs]  # uniform pruning in each band
    n_int8 = zoo.n_units if zoo.precision else 0
    genes = np.hstack([sample_drops(zoo.n_rates - zoo.n_units - n_int8, n, rng),
                       sample_int8(n_int8, n, rng) if n_int8 else np.zeros((n, 0))])
    band = [repairs[i % len(repairs)](np.clip(np.concatenate(
        [starts[i % len(repairs)] + rng.normal(0, 0.25, zoo.n_units), genes[i]]), 0, MAX_RATE)) for i in range(n // 2)]
    spread = np.hstack([sample_rates(zoo.n_units, n - n // 2, rng), genes[n // 2:]])
    int8 = int8_repair(zoo, int8_share)
    return np.array([int8(r) for r in np.vstack([np.array(band).reshape(-1, zoo.n_rates), spread])])


def profile(fleet: Fleet, zoo: ZooModel, device_ids, rates: np.ndarray, repeats: int = 5) -> np.ndarray:
    """Mean over ``device_ids`` of each architecture's median measured latency (ms)."""
    return np.array([fleet.measure(zoo.rates_workload(r), device_ids, repeats).median_ms.mean() for r in rates])


class TreeSurrogate:
    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, zoo: ZooModel, rates: np.ndarray, latency_ms: np.ndarray) -> "TreeSurrogate":
        self.model_ = HistGradientBoostingRegressor(max_iter=400, learning_rate=0.08, random_state=self.random_state)
        # one thread: a few hundred samples gain nothing from more, and where torch's OpenMP runtime
        # was loaded after scikit-learn's the two runtimes' spinning threads make the fit ~20x slower
        with threadpool_limits(1, user_api="openmp"):
            self.model_.fit(rates, np.log(latency_ms))
        return self

    def predict(self, zoo: ZooModel, rates: np.ndarray) -> np.ndarray:
        return np.exp(self.model_.predict(np.atleast_2d(rates)))


@lru_cache(maxsize=None)
def _layer_groups(name: str, size: int) -> tuple[np.ndarray, int]:
    """Per layer of zoo model ``name`` on ``size`` inputs, the index of its group: layers of one
    kind, kernel, stride and map size."""
    w = get_model(name, size).workload()
    keys = list(zip(w.kind.tolist(), w.kernel.tolist(), w.stride.tolist(), w.h.tolist()))
    names = sorted(set(keys))
    return np.array([names.index(k) for k in keys]), len(names)


@lru_cache(maxsize=16_384)
def _layer_arrays(name: str, size: int, block: bool, widths: tuple[int, ...],
                  int8: tuple[bool, ...] | None) -> tuple[np.ndarray, ...]:
    """(executed?, dense layer?, int8?, output channels, MACs, bytes moved) per layer of the full
    network (a dropped block's layers: not executed, no cost). Cached: the clusters' surrogates are
    fitted on, and the search asks them about, the same architectures."""
    zoo = get_model(name, size).in_space(False, False, block)
    kept = zoo.template.kept(widths)
    w = zoo.workload(list(widths), int8)

    def scatter(values):
        out = np.zeros(len(kept))
        out[kept] = values
        return out
    return (kept, scatter(w.kind < _DENSE_KINDS).astype(bool), scatter(w.precision > 0).astype(bool),
            np.maximum(scatter(w.c_out), 1), scatter(w.flops * w.density), scatter(w.bytes_read + w.bytes_written))


def layer_features(zoo: ZooModel, rates: np.ndarray, alignment: int = 1) -> np.ndarray:
    """Per architecture and layer group: the number of layers, MMACs (output channels counted in
    whole blocks of ``alignment``) and MB moved; in the precision spaces, the MMACs and MB of the
    group's int8 layers apart."""
    group, n = _layer_groups(zoo.name, zoo.input_size)
    rows = []
    for r in np.atleast_2d(rates):
        int8 = zoo.int8_from_rates(r)
        kept, dense, low, c_out, flops, moved = _layer_arrays(
            zoo.name, zoo.input_size, zoo.block, tuple(int(v) for v in zoo.widths_from_rates(r)),
            None if int8 is None else tuple(bool(v) for v in int8))
        macs = flops * np.where(dense, np.ceil(c_out / alignment) * alignment / c_out, 1.0)
        cols = [np.bincount(group, kept, n), np.bincount(group, macs * ~low, n) / 1e6,
                np.bincount(group, moved * ~low, n) / 1e6]
        if zoo.precision:
            cols += [np.bincount(group, macs * low, n) / 1e6, np.bincount(group, moved * low, n) / 1e6]
        rows.append(np.concatenate(cols))
    return np.array(rows)


def _nnls_relative(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative coefficients minimising squared relative error; returns (coef, column scale)."""
    scale = np.maximum(x.max(axis=0), 1e-12)
    coef, _ = nnls(x / scale / y[:, None], np.ones(len(y)))
    return coef, scale


class LayerSurrogate:
    def __init__(self, alignments: tuple[int, ...] = ALIGNMENTS, folds: int = 5, random_state: int = 0):
        self.alignments = alignments
        self.folds = folds
        self.random_state = random_state

    def fit(self, zoo: ZooModel, rates: np.ndarray, latency_ms: np.ndarray) -> "LayerSurrogate":
        fold = np.random.default_rng(self.random_state).permutation(len(latency_ms)) % self.folds
        self.cv_mape_ = {}
        for a in self.alignments:
            x = layer_features(zoo, rates, a)
            errors = []
            for k in range(self.folds):
                coef, scale = _nnls_relative(x[fold != k], latency_ms[fold != k])
                errors.append(np.abs(x[fold == k] / scale @ coef / latency_ms[fold == k] - 1))
            self.cv_mape_[a] = float(np.mean(np.concatenate(errors)))
        self.alignment_ = min(self.cv_mape_, key=self.cv_mape_.get)
        self.coef_, self.scale_ = _nnls_relative(layer_features(zoo, rates, self.alignment_), latency_ms)
        return self

    def predict(self, zoo: ZooModel, rates: np.ndarray) -> np.ndarray:
        return layer_features(zoo, rates, self.alignment_) / self.scale_ @ self.coef_


def _mape(pred, true) -> float:
    return float(np.mean(np.abs(pred / true - 1)))


def _spearman(pred, true) -> float | None:
    """Rank correlation; None where it is undefined (a constant prediction or target)."""
    if np.ptp(pred) == 0 or np.ptp(true) == 0:
        return None
    return float(spearmanr(pred, true).statistic)


@dataclass
class ClusterSurrogate:
    model: TreeSurrogate | LayerSurrogate
    kind: str
    holdout: dict = field(default_factory=dict)   # {"tree": {"mape":..., "spearman":...}, "layer": {...}}
    profiling_device_seconds: float = 0.0
    samples: int = 0

    def predict(self, zoo: ZooModel, rates) -> np.ndarray:
        return self.model.predict(zoo, rates)


def fit_cluster_surrogate(fleet: Fleet, zoo: ZooModel, representatives, budgets: list[float], n_samples: int = 400,
                          repeats: int = 5, choice: str = "best", rng: np.random.Generator | None = None,
                          rates: np.ndarray | None = None, int8_share: float = 1.0) -> ClusterSurrogate:
    """Profile ``n_samples`` sub-networks on the representatives (or the given ``rates``, shared
    by several clusters), fit both models, pick one. ``rng`` draws the sub-networks, the hold-out
    split and the models' own seeds."""
    if choice not in SURROGATE_KINDS:
        raise ValueError(f"surrogate must be one of {', '.join(SURROGATE_KINDS)}, got {choice!r}")
    rng = np.random.default_rng() if rng is None else rng
    seed = int(rng.integers(2**31))
    spent = fleet.profiling_device_seconds
    rates = sample_architectures(zoo, budgets, n_samples, rng, int8_share) if rates is None else np.asarray(rates)
    n_samples = len(rates)
    latency = profile(fleet, zoo, representatives, rates, repeats)
    test = rng.random(n_samples) < 0.2
    holdout, models = {}, {}
    for name, model in (("tree", TreeSurrogate(seed)), ("layer", LayerSurrogate(random_state=seed))):
        models[name] = model.fit(zoo, rates[~test], latency[~test])
        pred = model.predict(zoo, rates[test])
        holdout[name] = {"mape": _mape(pred, latency[test]),
                         "spearman": _spearman(pred, latency[test])}
    kind = min(holdout, key=lambda k: holdout[k]["mape"]) if choice == "best" else choice
    models[kind].fit(zoo, rates, latency)  # refit the chosen model on every sample
    return ClusterSurrogate(models[kind], kind, holdout, fleet.profiling_device_seconds - spent, n_samples)
