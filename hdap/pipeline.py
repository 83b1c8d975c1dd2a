"""``hdap run``: HDAP against a simulated fleet, evaluated exactly against baselines.

Steps: simulate the scenario to its deployment day; measure every device's hardware-response
features (through the fleet interface, charged); cluster; profile random sub-networks on each
cluster's representatives and fit its surrogate; then, in ``rounds`` steps towards the FLOPs
budget, search per-unit pruning rates with NCS against the fleet estimate (under the accuracy
floor), prune with Torch-Pruning and fine-tune. Baselines on the same fleet and budget: uniform
pruning, FLOPs-driven global magnitude pruning, the same search against one nominal
factory-fresh device (single-device hardware-aware pruning), and an oracle searching with the
exact latency of every device. Every method is then evaluated exactly on every device.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from hdap.baselines import global_magnitude_widths
from hdap.cluster import FleetClustering
from hdap.features import measure_features
from hdap.fleet import Fleet, TwinFleet, TwinGroundTruth
from hdap.importance import ImportanceProxy
from hdap.objective import FleetEstimate, fleet_statistic
from hdap.prune import prune_to_widths, widths_for_flops
from hdap.search import NCSResult, flops_repair, ncs_minimize
from hdap.surrogate import ClusterSurrogate, fit_cluster_surrogate, sample_architectures
from hdap.zoo import ZooModel, get_model
from twin.fleet import FleetSnapshot, FleetState
from twin.scenario import Scenario
from twin.simulation import simulate

__all__ = ["METHODS", "Round", "RunResult", "run_hdap", "fit_estimate", "search_for", "exact_statistics",
           "oracle_truth", "default_slo_ms", "target_flops"]

METHODS = ("unpruned", "hdap", "uniform_l2", "global_magnitude", "single_device", "oracle")
INFEASIBLE = 1e9  # fitness of a candidate under the accuracy floor (plus its shortfall)
DEFAULT_SLO_FACTOR = 1.25


@dataclass
class Round:
    """One search-prune-fine-tune round of HDAP."""

    budget_flops: float
    widths: list[int]
    objective: float                      # the fleet estimate's value for the chosen widths
    history: list[float]                  # best fitness per generation
    held_out_pruned: float | None = None  # held-out accuracy after pruning (batch norm re-estimated)
    held_out_tuned: float | None = None   # ... and after fine-tuning
    candidates_checked: int = 0           # pruned and measured to meet the accuracy floor


@dataclass
class RunResult:
    scenario: Scenario
    zoo: ZooModel
    widths: dict[str, np.ndarray]
    latency_ms: dict[str, np.ndarray]          # exact, every device
    accuracy: dict[str, float | None]          # test accuracy after fine-tuning (None: no data)
    labels: np.ndarray
    weights: np.ndarray
    surrogates: list[ClusterSurrogate]
    rounds: list[Round]
    search_history: dict[str, list[float]]
    estimate_ms: float                         # HDAP's own estimate of its fleet mean
    profiling_device_seconds: float
    slo_ms: float
    k_scores: dict = field(default_factory=dict)
    surrogate_check: list = field(default_factory=list)   # (cluster, predicted, exact) on fresh architectures
    timings_s: dict[str, float] = field(default_factory=dict)
    module: object = None                      # HDAP's pruned torch module (fine-tuned with data)


def _budgets(zoo: ZooModel, target: float, rounds: int) -> list[float]:
    """Geometric steps from the full network's FLOPs down to the target."""
    full = zoo.flops()
    return [full * (target / full) ** ((t + 1) / rounds) for t in range(rounds)]


def _search(zoo: ZooModel, objective, budget: float, floor_rates: np.ndarray, proxy: ImportanceProxy,
            accuracy_floor: float, cfg, seed: int, desc: str, progress: bool) -> NCSResult:
    """NCS from uniform pruning of the current widths, within the budget, above the proxy floor.
    ``objective`` maps a generation's (population, units) rates to their values."""
    repair = flops_repair(zoo, budget, floor=floor_rates)
    x0 = repair(floor_rates)
    need = accuracy_floor * proxy.retention(zoo.widths_from_rates(x0))

    def fitness(rates):
        kept = np.array([proxy.retention(zoo.widths_from_rates(r)) for r in rates])
        return np.where(kept >= need, objective(rates), INFEASIBLE + need - kept)

    with tqdm(total=cfg.generations, desc=desc, unit="gen", disable=not progress, leave=False) as bar:
        return ncs_minimize(fitness, x0, repair, np.random.default_rng(seed), population=cfg.population,
                            generations=cfg.generations, progress=bar, vectorized=True)


def fit_estimate(fleet: Fleet, ids: np.ndarray, clustering: FleetClustering, unpruned_ms: np.ndarray, zoo: ZooModel,
                 cfg, budgets: list[float], seed: int, rates: np.ndarray | None = None,
                 progress: bool = False) -> tuple[list[ClusterSurrogate], FleetEstimate]:
    """Profile each cluster's representatives (``ids`` index the clustered devices) through
    ``fleet``, fit its surrogate, and build the fleet estimate; each device's speed relative to
    its cluster's representatives comes from its measured unpruned latency. ``rates``: the
    sub-networks to profile (default: sampled per cluster)."""
    reps = clustering.representatives_
    speed_ratio = unpruned_ms / np.array([unpruned_ms[r].mean() for r in reps])[clustering.labels_]
    surrogates = [fit_cluster_surrogate(fleet, zoo, ids[r], budgets, cfg.surrogate_samples, choice=cfg.surrogate,
                                        seed=seed + c, rates=rates)
                  for c, r in enumerate(tqdm(reps, desc="profile clusters", disable=not progress, leave=False))]
    return surrogates, FleetEstimate(zoo, surrogates, clustering.labels_, speed_ratio)


def exact_statistics(truth: TwinGroundTruth, zoo: ZooModel, objective: str, slo_ms: float | None):
    """The oracle's objective: a generation's rates -> the exact statistic over ``truth``'s devices."""
    return lambda rates: [fleet_statistic(truth.latency_ms(zoo.workload(zoo.widths_from_rates(r))), objective, slo_ms)
                          for r in rates]


def target_flops(scenario: Scenario) -> float:
    """The FLOPs budget: the scenario's ``pruning.flops_g``, or half the unpruned network's."""
    cfg = scenario.pruning
    return cfg.flops_g * 1e9 if cfg.flops_g else get_model(cfg.model or scenario.deployment.workload).flops() / 2


def oracle_truth(snap: FleetSnapshot, devices: int | None, seed: int) -> TwinGroundTruth:
    """Exact latencies of every device, or of a seeded uniform sample of ``devices`` of them."""
    if devices is None or devices >= len(snap):
        return TwinGroundTruth(snap)
    return TwinGroundTruth(snap.take(np.sort(np.random.default_rng(seed).choice(len(snap), devices, replace=False))))


def default_slo_ms(cfg, zoo: ZooModel, snap: FleetSnapshot, target: float) -> float:
    """The scenario's SLO, or DEFAULT_SLO_FACTOR x uniform pruning's latency on a nominal device."""
    if cfg.slo_ms:
        return cfg.slo_ms
    nominal = FleetSnapshot(FleetState.nominal(1), snap.sku, snap.framework, snap.firmware_overhead)
    uniform = zoo.workload(widths_for_flops(zoo, target))
    return DEFAULT_SLO_FACTOR * float(TwinGroundTruth(nominal).latency_ms(uniform)[0])


def search_for(zoo: ZooModel, objective, target: float, proxy: ImportanceProxy, cfg, seed: int,
               desc: str = "search", progress: bool = False) -> NCSResult:
    """One search from the full network to ``target`` FLOPs; ``objective`` maps a generation's
    rates to their values (``FleetEstimate.statistics``, ``exact_statistics``, a surrogate)."""
    return _search(zoo, objective, target, np.zeros(zoo.n_units), proxy, cfg.accuracy_floor, cfg, seed, desc, progress)


def run_hdap(scenario: Scenario, workers: int = 1, progress: bool = False) -> RunResult:
    cfg, seed = scenario.pruning, scenario.seed
    zoo = get_model(cfg.model or scenario.deployment.workload)
    target = target_flops(scenario)
    full = np.array(zoo.full_widths)
    clock, timings = time.perf_counter(), {}

    def lap(stage: str) -> None:
        nonlocal clock
        timings[stage] = time.perf_counter() - clock
        clock = time.perf_counter()

    day = scenario.time.deployment_day
    snap = simulate(scenario.with_overrides(days=day + 1), workers=workers, progress=progress).final
    fleet, truth = TwinFleet(snap, scenario.measurement, seed), TwinGroundTruth(snap)
    ids = fleet.devices()["device_id"].to_numpy()
    lab = None
    if cfg.data is not None:
        from hdap.finetune import AccuracyLab
        lab = AccuracyLab(cfg, zoo, scenario.base_dir, seed, progress)
    base = lab.base_model() if lab else zoo.module(seed=seed)
    base_proxy = ImportanceProxy(base, zoo)
    lap("simulate and base model")

    # HDAP: cluster by hardware response, profile representatives, fit surrogates
    features, unpruned_ms = measure_features(fleet, ids, zoo, cfg.features)
    clustering = FleetClustering(cfg.clusters, cfg.k_max, cfg.representatives, random_state=seed).fit(features)
    lap("features and clustering")
    budgets = _budgets(zoo, target, cfg.rounds)
    surrogates, estimate = fit_estimate(fleet, ids, clustering, unpruned_ms, zoo, cfg, budgets, seed, progress=progress)
    spent = fleet.profiling_device_seconds
    lap("profiling and surrogates")

    nominal = FleetSnapshot(FleetState.nominal(1), snap.sku, snap.framework, snap.firmware_overhead)
    widths = {"unpruned": full, "uniform_l2": widths_for_flops(zoo, target)}
    slo = default_slo_ms(cfg, zoo, snap, target)

    # HDAP's rounds: search against the fleet estimate, prune, fine-tune
    module, current, rounds = base, full, []
    base_held_out = lab.held_out_accuracy(base) if lab else None
    for t, budget in enumerate(budgets):
        floor_rates = 1 - current / full
        proxy = ImportanceProxy(module, zoo) if lab else base_proxy
        res = _search(zoo, lambda r: estimate.statistics(r, cfg.objective, slo), budget, floor_rates, proxy,
                      cfg.accuracy_floor, cfg, seed + t, f"search hdap {t + 1}/{cfg.rounds}", progress)
        chosen = Round(budget, [], res.best_f, res.history)
        x = res.best_x
        if lab:  # measured floor: the best candidates in turn until one keeps enough accuracy
            tried = []
            for f, cand in res.archive:
                pruned = prune_to_widths(module, zoo, zoo.widths_from_rates(cand))
                tried.append((lab.pruned_accuracy(pruned), f, cand, pruned))
                if tried[-1][0] >= cfg.accuracy_floor * base_held_out or f >= INFEASIBLE:
                    break
            ok = [a for a in tried if a[0] >= cfg.accuracy_floor * base_held_out]  # else the most accurate
            acc, chosen.objective, x, module = ok[0] if ok else max(tried, key=lambda a: a[0])
            chosen.held_out_pruned, chosen.candidates_checked = acc, len(tried)
            lab.finetune(module, cfg.finetune_epochs, desc=f"fine-tune {t + 1}/{cfg.rounds}")
            chosen.held_out_tuned = lab.held_out_accuracy(module)
        current = zoo.widths_from_rates(x)
        chosen.widths = [int(w) for w in current]
        rounds.append(chosen)
    widths["hdap"] = current
    hdap_module = module if lab else prune_to_widths(base, zoo, current)
    lap("hdap search, prune, fine-tune")

    # baselines on the same budget
    widths["global_magnitude"] = global_magnitude_widths(base, zoo, target)
    single = fit_cluster_surrogate(TwinFleet(nominal, scenario.measurement, seed), zoo, [0], [target],
                                   cfg.surrogate_samples, choice=cfg.surrogate, seed=seed)
    res_single = search_for(zoo, lambda r: single.predict(zoo, r), target, base_proxy, cfg, seed,
                            "search single device", progress)
    exact = exact_statistics(oracle_truth(snap, cfg.oracle_devices, seed), zoo, cfg.objective, slo)
    res_oracle = search_for(zoo, exact, target, base_proxy, cfg, seed, "search oracle", progress)
    widths["single_device"] = zoo.widths_from_rates(res_single.best_x)
    widths["oracle"] = zoo.widths_from_rates(res_oracle.best_x)
    lap("baseline searches")

    accuracy = dict.fromkeys(METHODS)
    if lab:
        accuracy["unpruned"], accuracy["hdap"] = lab.test_accuracy(base), lab.test_accuracy(hdap_module)
        for m in ("uniform_l2", "global_magnitude", "single_device", "oracle"):
            pruned = prune_to_widths(base, zoo, widths[m])
            lab.finetune(pruned, cfg.rounds * cfg.finetune_epochs, desc=f"fine-tune {m}")
            accuracy[m] = lab.test_accuracy(pruned)
        lap("baseline fine-tuning")

    latency = {m: truth.latency_ms(zoo.workload(widths[m])) for m in METHODS}
    hdap_rates = 1 - widths["hdap"] / full
    check, rng = [], np.random.default_rng(seed + 99)
    fresh = sample_architectures(zoo, budgets, 20, rng)
    for c in range(clustering.n_clusters_):
        members = clustering.labels_ == c
        for r in fresh:
            predicted = estimate.ratio_mean_[c] * surrogates[c].predict(zoo, r)[0]
            check.append((c, float(predicted), float(truth.latency_ms(zoo.workload(zoo.widths_from_rates(r)))[members].mean())))
    lap("exact evaluation")
    return RunResult(scenario, zoo, widths, latency, accuracy, clustering.labels_, clustering.weights_, surrogates,
                     rounds, {"hdap": [h for r in rounds for h in r.history], "single_device": res_single.history,
                              "oracle": res_oracle.history},
                     estimate.mean_ms(hdap_rates), spent, slo, clustering.k_scores_, check, timings, hdap_module)
