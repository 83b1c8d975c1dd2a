"""Negatively Correlated Search (Tang, Yang & Yao 2016) over per-unit pruning rates, as HDAP uses it.

A population of Gaussian search processes, each with its own mutation scale. An offspring replaces
its parent when its normalised fitness over its normalised diversity (the Bhattacharyya distance
of its search distribution to the nearest other process) falls below a threshold lambda drawn
around 1, which keeps the processes apart. The scales follow the 1/5 success rule every ``epoch``
generations. Candidates are repaired to meet the FLOPs budget (their rates pushed uniformly towards
the maximum until they fit), so every evaluated architecture is feasible. In the depth spaces the
drop genes are searched alongside the rates, and the FLOPs repair moves widths only; in the
precision spaces so are the int8 genes, and a second repair keeps the share of MACs in int8 within
its budget (``int8_repair``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from zoo import INT8_GENE, ZooModel

__all__ = ["NCSResult", "ncs_minimize", "pattern_polish", "flops_repair", "int8_repair", "space_repair", "UNDECIDED"]

MAX_RATE = 0.95
UNDECIDED = INT8_GENE - 0.05  # a gene's start, and where a repair leaves one it turns off: one mutation away


def flops_repair(zoo: ZooModel, target_flops: float, slack: float = 0.03,
                 floor: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Map rates into the band [(1 - slack) x target, target] of FLOPs: too big, push every rate
    uniformly towards MAX_RATE; too small, shrink every rate towards ``floor`` (default 0; in a
    later round, the rates the network already has, so no unit grows back). Methods are then
    compared at the same FLOPs, as "ResNet-50 at 1.0 GFLOPs" means."""
    lo = np.zeros(zoo.n_rates) if floor is None else np.asarray(floor, dtype=np.float64)
    is_rate = np.arange(zoo.n_rates) < zoo.n_units  # the rest are drop and int8 genes, which it leaves alone

    def flops(r):
        return zoo.flops(zoo.widths_from_rates(r))

    def bisect(move, too_far) -> float:
        a, b = 0.0, 1.0
        for _ in range(20):
            mid = (a + b) / 2
            a, b = (mid, b) if too_far(move(mid)) else (a, mid)
        return b

    def repair(r: np.ndarray) -> np.ndarray:
        r = np.clip(r, lo, MAX_RATE)
        top_r, low_r = np.where(is_rate, MAX_RATE, r), np.where(is_rate, lo, r)
        f = flops(r)
        if f > target_flops:
            t = bisect(lambda a: r + a * (top_r - r), lambda x: flops(x) > target_flops)
            return r + t * (top_r - r)
        if f < (1 - slack) * target_flops:
            t = bisect(lambda a: low_r + (r - low_r) * (1 - a), lambda x: flops(x) < (1 - slack) * target_flops)
            return low_r + (r - low_r) * (1 - t)
        return r
    return repair


def int8_repair(zoo: ZooModel, share: float) -> Callable[[np.ndarray], np.ndarray]:
    """Turn int8 units back to the deployment's precision, the least decided first (lowest gene),
    until at most ``share`` of the dense MACs run in int8: the budget that stands in for int8's
    accuracy cost, as the FLOPs budget does for pruning's. Identity outside the precision spaces."""
    if not zoo.precision:
        return lambda r: r
    start = zoo.n_rates - zoo.n_units

    def repair(r: np.ndarray) -> np.ndarray:
        widths, genes = zoo.widths_from_rates(r), r[start:].copy()
        on = genes >= INT8_GENE
        for u in np.argsort(np.where(on, genes, np.inf), kind="stable")[:int(on.sum())]:
            if zoo.int8_share(widths, on) <= share:
                break
            on[u], genes[u] = False, UNDECIDED
        return np.concatenate([r[:start], genes])
    return repair


def space_repair(zoo: ZooModel, target_flops: float, int8_share: float = 1.0,
                 floor: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """The FLOPs repair, then the int8 repair: what keeps a search's candidates feasible."""
    flops, int8 = flops_repair(zoo, target_flops, floor=floor), int8_repair(zoo, int8_share)
    return lambda r: int8(flops(r))


@dataclass
class NCSResult:
    best_x: np.ndarray
    best_f: float
    history: list[float] = field(default_factory=list)   # best fitness after each generation
    evaluations: int = 0
    archive: list[tuple[float, np.ndarray]] = field(default_factory=list)  # best distinct candidates, best first

    def _offer(self, f: float, x: np.ndarray, keep: int) -> None:
        if any(np.array_equal(x, y) for _, y in self.archive):
            return
        self.archive.append((float(f), x.copy()))
        self.archive.sort(key=lambda t: t[0])
        del self.archive[keep:]


def _bhattacharyya(mu1, s1, mu2, s2) -> float:
    """Distance between isotropic Gaussians N(mu1, s1^2 I) and N(mu2, s2^2 I)."""
    d = len(mu1)
    var = (s1 ** 2 + s2 ** 2) / 2
    return float(np.sum((mu1 - mu2) ** 2) / (8 * var) + 0.5 * d * np.log(var / (s1 * s2)))


def ncs_minimize(fitness: Callable[[np.ndarray], float], x0: np.ndarray, repair: Callable[[np.ndarray], np.ndarray],
                 rng: np.random.Generator, population: int = 10, generations: int = 100, sigma0: float = 0.1,
                 epoch: int = 10, r: float = 0.99, archive: int = 10, progress=None,
                 vectorized: bool = False) -> NCSResult:
    """Minimise ``fitness`` from around ``x0``; ``repair`` keeps candidates feasible. The result
    keeps the ``archive`` best distinct candidates seen; ``progress`` (a tqdm bar) advances once
    per generation. ``vectorized``: ``fitness`` takes a whole generation, (population, d) rates,
    and returns its (population,) values (a surrogate then predicts a generation in one call)."""
    d = len(x0)
    evaluate = (lambda x: np.asarray(fitness(x), dtype=np.float64)) if vectorized else \
        (lambda x: np.array([fitness(row) for row in x], dtype=np.float64))
    # the starting point itself is one individual: the search never ends worse than where it began
    xs = np.array([repair(np.clip(x0 + (rng.normal(0, sigma0, d) if i else 0), 0, MAX_RATE)) for i in range(population)])
    fs = evaluate(xs)
    sigmas = np.full(population, sigma0)
    success = np.zeros(population)
    best = int(np.argmin(fs))
    result = NCSResult(xs[best].copy(), float(fs[best]), evaluations=population)
    for f, x in zip(fs, xs):
        result._offer(f, x, archive)
    for t in range(generations):
        lam = rng.normal(1.0, 0.1 - 0.1 * t / generations)
        children = np.array([repair(np.clip(xs[i] + rng.normal(0, sigmas[i], d), 0, MAX_RATE)) for i in range(population)])
        fc = evaluate(children)
        result.evaluations += population
        shift = min(fs.min(), fc.min())
        f_par, f_chi = fs - shift + 1e-12, fc - shift + 1e-12
        total = f_par + f_chi

        def diversity(k, x, s):
            return min(_bhattacharyya(x, s, xs[j], sigmas[j]) for j in range(population) if j != k)

        d_par = np.array([diversity(i, xs[i], sigmas[i]) for i in range(population)])
        d_chi = np.array([diversity(i, children[i], sigmas[i]) for i in range(population)])
        dtot = d_par + d_chi + 1e-12
        for i in range(population):
            result._offer(fc[i], children[i], archive)
            if fc[i] < result.best_f:
                result.best_x, result.best_f = children[i].copy(), float(fc[i])
            if (f_chi[i] / total[i]) / (d_chi[i] / dtot[i] + 1e-12) < lam:
                xs[i], fs[i] = children[i], fc[i]
                success[i] += 1
        if (t + 1) % epoch == 0:
            rate = success / epoch
            sigmas = np.where(rate > 0.2, sigmas / r, np.where(rate < 0.2, sigmas * r, sigmas))
            success[:] = 0
        result.history.append(result.best_f)
        if progress is not None:
            progress.update(1)
    return result


def pattern_polish(fitness: Callable[[np.ndarray], np.ndarray], result: NCSResult,
                   repair: Callable[[np.ndarray], np.ndarray], n_rates: int, rounds: int, step: float = 0.05,
                   min_step: float = 0.005, archive: int = 10) -> NCSResult:
    """Coordinate pattern search from ``result.best_x`` (Hooke & Jeeves' exploratory moves): each
    round tries every rate gene (the first ``n_rates``) up and down by ``step``, every other gene
    (drop, int8) flipped across its threshold, and every pair of one such gene that is on and one
    that is off flipped together (drop this block instead of that one, at about the same FLOPs), all
    repaired, as one batch for the vectorised ``fitness``; it moves to the best of them when that
    improves, else halves ``step``. Stops after ``rounds`` rounds or when ``step`` falls below
    ``min_step``. Updates ``result`` in place."""
    x, f = result.best_x.copy(), result.best_f
    d = len(x)
    unit = np.eye(d)
    for _ in range(rounds):
        moves = [x + s * step * unit[i] for i in range(n_rates) for s in (1, -1)]
        flipped = np.where(x >= INT8_GENE, UNDECIDED, (1 + INT8_GENE) / 2)
        on = [j for j in range(n_rates, d) if x[j] >= INT8_GENE]
        off = [j for j in range(n_rates, d) if x[j] < INT8_GENE]
        moves += [np.where(unit[j] > 0, flipped, x) for j in range(n_rates, d)]
        moves += [np.where(unit[j] + unit[k] > 0, flipped, x) for j in on for k in off]  # swaps
        cands = np.unique(np.array([repair(np.clip(m, 0, MAX_RATE)) for m in moves]), axis=0)
        fc = np.asarray(fitness(cands), dtype=np.float64)
        result.evaluations += len(cands)
        best = int(np.argmin(fc))
        for fi, xi in zip(fc, cands):
            result._offer(fi, xi, archive)
        if fc[best] < f:
            x, f = cands[best].copy(), float(fc[best])
        else:
            step /= 2
            if step < min_step:
                break
        result.history.append(f)
    result.best_x, result.best_f = x, f
    return result
