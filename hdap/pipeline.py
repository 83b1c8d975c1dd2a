"""``hdap run``: HDAP against a simulated fleet, evaluated exactly against baselines.

Steps: simulate the scenario to its deployment day; measure every device's hardware-response
features (through the fleet interface, charged); cluster; profile random sub-networks on each
cluster's representatives and fit its surrogate; search per-unit pruning rates with NCS against
the population-weighted surrogate objective under the FLOPs budget. Baselines on the same fleet
and budget: uniform pruning, FLOPs-driven global magnitude pruning, the same search against one
nominal factory-fresh device (single-device hardware-aware pruning), and an oracle searching
with the exact latency of a device sample. Every method is then evaluated exactly on every device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdap.cluster import FleetClustering
from hdap.features import measure_features
from hdap.fleet import TwinFleet, TwinGroundTruth
from hdap.prune import unit_anchors, widths_for_flops
from hdap.search import flops_repair, ncs_minimize
from hdap.surrogate import fit_cluster_surrogate
from hdap.zoo import ZooModel, get_model
from twin.errors import InputError
from twin.fleet import FleetSnapshot, FleetState
from twin.scenario import Scenario
from twin.simulation import simulate

__all__ = ["RunResult", "run_hdap"]

METHODS = ("unpruned", "hdap", "uniform_l2", "global_magnitude", "single_device", "oracle")


@dataclass
class RunResult:
    scenario: Scenario
    zoo: ZooModel
    widths: dict[str, np.ndarray]
    latency_ms: dict[str, np.ndarray]          # exact, every device
    labels: np.ndarray
    weights: np.ndarray
    surrogates: list = field(default_factory=list)
    search_history: dict[str, list[float]] = field(default_factory=dict)
    estimate_ms: float = 0.0                  # HDAP's own estimate of its fleet mean
    profiling_device_seconds: float = 0.0
    k_scores: dict = field(default_factory=dict)
    surrogate_check: list = field(default_factory=list)   # (cluster, predicted, measured) on fresh archs


def _global_magnitude_widths(zoo: ZooModel, target: float, seed: int) -> np.ndarray:
    """Remove the globally smallest-L2 filters (of each unit's first anchor) until the budget holds."""
    layers = dict(zoo.module(seed=seed).named_modules())
    norms = [layers[a[0]].weight.detach().flatten(1).norm(dim=1).numpy() for a in unit_anchors(zoo.name)]
    norms = [n / n.mean() for n in norms]  # per-layer normalised, as global magnitude pruning does
    order = np.argsort(np.concatenate(norms), kind="stable")
    owner = np.concatenate([np.full(len(n), u) for u, n in enumerate(norms)])
    widths = np.array(zoo.full_widths)
    step = max(1, len(order) // 200)
    for start in range(0, len(order), step):
        if zoo.flops(widths) <= target:
            break
        for u in owner[order[start:start + step]]:
            widths[u] = max(1, widths[u] - 1)
    return widths


def _search(zoo, fitness, target, cfg, seed) -> tuple[np.ndarray, list[float]]:
    x0 = 1 - widths_for_flops(zoo, target) / np.array(zoo.full_widths)
    res = ncs_minimize(fitness, x0, flops_repair(zoo, target), np.random.default_rng(seed),
                       population=cfg.population, generations=cfg.generations)
    return zoo.widths_from_rates(res.best_x), res.history


def run_hdap(scenario: Scenario, workers: int = 1, progress: bool = False) -> RunResult:
    cfg = scenario.pruning
    zoo = get_model(cfg.model or scenario.deployment.workload)
    target = (cfg.flops_g * 1e9) if cfg.flops_g else zoo.flops() / 2
    if target >= zoo.flops():
        raise InputError(f"pruning.flops_g: {zoo.name} has {zoo.flops() / 1e9:.4g} GFLOPs; the budget must be below it")
    day = scenario.time.deployment_day
    snap = simulate(scenario.with_overrides(days=day + 1), workers=workers, progress=progress).final
    fleet, truth = TwinFleet(snap, scenario.measurement, scenario.seed), TwinGroundTruth(snap)
    ids = fleet.devices()["device_id"].to_numpy()

    # HDAP: cluster by hardware response, profile representatives, fit surrogates, search
    clustering = FleetClustering(cfg.clusters, cfg.k_max, cfg.representatives, random_state=scenario.seed)
    clustering.fit(measure_features(fleet, ids, zoo, cfg.features))
    surrogates = [fit_cluster_surrogate(fleet, zoo, ids[reps], cfg.surrogate_samples, choice=cfg.surrogate,
                                        seed=scenario.seed + c) for c, reps in enumerate(clustering.representatives_)]
    share = clustering.weights_ if cfg.objective == "weighted_mean" else np.full(clustering.n_clusters_, 1 / clustering.n_clusters_)

    def fleet_estimate(rates):
        return float(sum(w * s.predict(zoo, rates)[0] for w, s in zip(share, surrogates)))

    widths, history = {"unpruned": np.array(zoo.full_widths)}, {}
    widths["hdap"], history["hdap"] = _search(zoo, fleet_estimate, target, cfg, scenario.seed)
    estimate = float(sum(w * s.predict(zoo, 1 - widths["hdap"] / np.array(zoo.full_widths))[0]
                         for w, s in zip(clustering.weights_, surrogates)))
    spent = fleet.profiling_device_seconds

    # baselines on the same budget
    widths["uniform_l2"] = widths_for_flops(zoo, target)
    widths["global_magnitude"] = _global_magnitude_widths(zoo, target, scenario.seed)
    nominal = FleetSnapshot(FleetState.nominal(1), snap.sku, snap.framework, snap.firmware_overhead)
    single = fit_cluster_surrogate(TwinFleet(nominal, scenario.measurement, scenario.seed), zoo, [0],
                                   cfg.surrogate_samples, choice=cfg.surrogate, seed=scenario.seed)
    widths["single_device"], history["single_device"] = _search(zoo, lambda r: float(single.predict(zoo, r)[0]),
                                                                target, cfg, scenario.seed)
    sample = np.random.default_rng(scenario.seed).choice(len(ids), min(cfg.oracle_devices, len(ids)), replace=False)
    truth_sample = TwinGroundTruth(snap.take(sample))
    widths["oracle"], history["oracle"] = _search(
        zoo, lambda r: float(truth_sample.latency_ms(zoo.workload(zoo.widths_from_rates(r))).mean()),
        target, cfg, scenario.seed)

    latency = {m: truth.latency_ms(zoo.workload(w)) for m, w in widths.items()}
    check = []  # surrogate predicted vs noise-free cluster mean on fresh architectures
    rng = np.random.default_rng(scenario.seed + 99)
    for c, s in enumerate(surrogates):
        members = clustering.labels_ == c
        for r in rng.uniform(0, 0.8, (20, zoo.n_units)):
            check.append((c, float(s.predict(zoo, r)[0]), float(truth.latency_ms(zoo.workload(zoo.widths_from_rates(r)))[members].mean())))
    return RunResult(scenario, zoo, widths, latency, clustering.labels_, clustering.weights_, surrogates, history,
                     estimate, spent, clustering.k_scores_, check)
