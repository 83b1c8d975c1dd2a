"""HDAP's steps, as ``hdap run`` and every study use them.

Cluster the fleet by measured hardware response, profile each cluster's representatives through
the fleet interface (charged), fit one latency surrogate per cluster and combine them into the
fleet estimate (``fit_estimate``); then search per-unit pruning rates with NCS against it, under
the FLOPs budget and the accuracy floor (``search``). The same search against another objective
(one nominal device, the exact fleet) is how the hardware-aware baselines are made
(``hdap.baselines``), so HDAP and they differ only in what they minimise.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from hdap.cluster import FleetClustering
from hdap.fleet import Fleet, TwinGroundTruth
from hdap.importance import ImportanceProxy
from hdap.objective import FleetEstimate, fleet_statistic
from hdap.prune import widths_for_flops
from hdap.search import UNDECIDED, NCSResult, ncs_minimize, pattern_polish, space_repair
from hdap.surrogate import ClusterSurrogate, fit_cluster_surrogate
from testbed.streams import Streams
from twin.fleet import FleetSnapshot
from zoo import ZooModel

__all__ = ["INFEASIBLE", "DEFAULT_SLO_FACTOR", "budgets", "fit_estimate", "search", "exact_statistics",
           "oracle_truth", "default_slo_ms"]

INFEASIBLE = 1e9  # fitness of a candidate under the accuracy floor (plus its shortfall)
DEFAULT_SLO_FACTOR = 1.25


def budgets(zoo: ZooModel, target: float, rounds: int) -> list[float]:
    """Geometric steps from the full network's FLOPs down to the target, one per round."""
    full = zoo.flops()
    return [full * (target / full) ** ((t + 1) / rounds) for t in range(rounds)]


def fit_estimate(fleet: Fleet, ids: np.ndarray, clustering: FleetClustering, unpruned_ms: np.ndarray, zoo: ZooModel,
                 pruning, budgets: list[float], streams: Streams, rates: np.ndarray | None = None,
                 progress: bool = False) -> tuple[list[ClusterSurrogate], FleetEstimate]:
    """Profile each cluster's representatives (``ids`` index the clustered devices) through
    ``fleet``, fit its surrogate, and build the fleet estimate; each device's speed relative to
    its cluster's representatives comes from its measured unpruned latency. ``rates``: the
    sub-networks to profile (default: sampled per cluster from stream ``surrogate``)."""
    reps = clustering.representatives_
    speed_ratio = unpruned_ms / np.array([unpruned_ms[r].mean() for r in reps])[clustering.labels_]
    surrogates = [fit_cluster_surrogate(fleet, zoo, ids[r], budgets, pruning.surrogate_samples,
                                        choice=pruning.surrogate, rng=streams.rng("surrogate", c), rates=rates,
                                        int8_share=pruning.int8_share)
                  for c, r in enumerate(tqdm(reps, desc="profile clusters", disable=not progress, leave=False))]
    return surrogates, FleetEstimate(zoo, surrogates, clustering.labels_, speed_ratio)


def search(zoo: ZooModel, objective, budget: float, proxy: ImportanceProxy, pruning, rng: np.random.Generator,
           floor_rates: np.ndarray | None = None, desc: str = "search", progress: bool = False) -> NCSResult:
    """NCS from uniform pruning of the current widths (``floor_rates``: already pruned, default
    none) to ``budget`` FLOPs, keeping the accuracy proxy above ``pruning.accuracy_floor`` of
    uniform pruning's. ``objective`` maps a generation's (population, units) rates to values
    (``FleetEstimate.statistics``, ``exact_statistics``, a surrogate). ``pruning.restarts``
    independent NCS runs, the best by ``objective`` kept: one run stalls in a local optimum that
    differs from run to run by a percent or more in the depth spaces, the size of what is measured;
    ``pruning.polish`` rounds of pattern search take each run's best to its nearest local optimum
    before the best is kept."""
    floor_rates = np.zeros(zoo.n_rates) if floor_rates is None else floor_rates
    repair = space_repair(zoo, budget, pruning.int8_share, floor=floor_rates)
    # drop and int8 genes start undecided, just short of acting: the start is still uniform pruning
    x0 = repair(np.where(np.arange(zoo.n_rates) < zoo.n_units, floor_rates, np.maximum(floor_rates, UNDECIDED)))
    need = pruning.accuracy_floor * proxy.retention(zoo.widths_from_rates(x0))

    def fitness(rates):
        kept = np.array([proxy.retention(zoo.widths_from_rates(r)) for r in rates])
        return np.where(kept >= need, objective(rates), INFEASIBLE + need - kept)

    runs = []
    with tqdm(total=pruning.restarts * pruning.generations, desc=desc, unit="gen", disable=not progress,
              leave=False) as bar:
        for _ in range(pruning.restarts):  # independent runs from the same start, one stream in turn
            runs.append(ncs_minimize(fitness, x0, repair, rng, population=pruning.population,
                                     generations=pruning.generations, sigma0=pruning.mutation_sd, progress=bar,
                                     vectorized=True))
    if pruning.polish:
        runs = [pattern_polish(fitness, res, repair, zoo.n_units, pruning.polish) for res in runs]
    best = min(runs, key=lambda res: res.best_f)
    best.evaluations = sum(res.evaluations for res in runs)
    return best


def exact_statistics(truth: TwinGroundTruth, zoo: ZooModel, objective: str, slo_ms: float | None):
    """The oracle's objective: a generation's rates -> the exact statistic over ``truth``'s devices."""
    return lambda rates: [fleet_statistic(truth.latency_ms(zoo.rates_workload(r)), objective, slo_ms) for r in rates]


def oracle_truth(snap: FleetSnapshot, devices: int | None, rng: np.random.Generator) -> TwinGroundTruth:
    """Exact latencies of every device, or of a uniform sample of ``devices`` of them."""
    if devices is None or devices >= len(snap):
        return TwinGroundTruth(snap)
    return TwinGroundTruth(snap.take(np.sort(rng.choice(len(snap), devices, replace=False))))



def default_slo_ms(pruning, zoo: ZooModel, snap: FleetSnapshot, target: float) -> float:
    """``pruning.slo_ms``, or DEFAULT_SLO_FACTOR x uniform pruning's latency on a nominal device."""
    if pruning.slo_ms:
        return pruning.slo_ms
    uniform = zoo.workload(widths_for_flops(zoo, target))
    return DEFAULT_SLO_FACTOR * float(TwinGroundTruth(snap.nominal()).latency_ms(uniform)[0])
