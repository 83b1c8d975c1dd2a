"""``hdap run``: HDAP against a simulated fleet, evaluated exactly against the baselines.

Steps: simulate the scenario to its deployment day; measure every device's hardware-response
features (through the fleet interface, charged); cluster; profile random sub-networks on each
cluster's representatives and fit its surrogate; then, in ``rounds`` steps towards the FLOPs
budget, search per-unit pruning rates with NCS against the fleet estimate (under the accuracy
floor), prune with Torch-Pruning and fine-tune (in the +precision spaces, the int8 units fake-
quantized: quantization-aware fine-tuning, ``hdap.quantize``). The baselines (``hdap.baselines``) prune to the
same budget, and every method is evaluated exactly on every device.

Random streams (``testbed.streams``, from the scenario's seed): ``measurement``, ``clustering``,
``surrogate`` (per cluster), ``search`` (per round), ``init`` and ``data`` (the network and its
training), ``check`` (fresh architectures the surrogates are checked on).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hdap.baselines import BASELINES, BaselineInputs
from hdap.cluster import FleetClustering
from hdap.config import RunConfig
from hdap.features import measure_features
from hdap.fleet import TwinFleet, TwinGroundTruth
from hdap.importance import ImportanceProxy
from hdap.method import INFEASIBLE, budgets, default_slo_ms, fit_estimate, search
from hdap.prune import prune_to_widths
from hdap.quantize import plain, quantize_units
from hdap.surrogate import ClusterSurrogate, sample_architectures
from twin.scenario import Scenario
from twin.simulation import simulate
from zoo import ZooModel

__all__ = ["METHODS", "Round", "RunResult", "run_hdap"]

METHODS = ("unpruned", "hdap", *BASELINES)


@dataclass
class Round:
    """One search-prune-fine-tune round of HDAP."""

    budget_flops: float
    widths: list[int]
    int8_units: list[int]                 # units run in int8 (the +precision spaces)
    objective: float                      # the fleet estimate's value for the chosen widths
    history: list[float]                  # best fitness per generation
    held_out_pruned: float | None = None  # held-out accuracy after pruning (batch norm re-estimated)
    held_out_tuned: float | None = None   # ... and after fine-tuning
    candidates_checked: int = 0           # pruned and measured to meet the accuracy floor


@dataclass
class RunResult:
    config: RunConfig
    widths: dict[str, np.ndarray]
    int8: dict[str, np.ndarray | None]         # per method, units run in int8 (None: the deployment's precision)
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

    @property
    def scenario(self) -> Scenario:
        return self.config.scenario

    @property
    def zoo(self) -> ZooModel:
        return self.config.zoo

    def summary(self) -> pd.DataFrame:
        """One row per method (``METHODS``): exact fleet latency statistics over every device,
        speedup over the unpruned mean, share of devices over the SLO, FLOPs, parameters, residual
        blocks dropped (depth spaces only), units in int8 (precision spaces only) and test accuracy
        (NaN without data)."""
        rows = []
        for m, lat in self.latency_ms.items():
            p50, p95, p99 = np.percentile(lat, [50, 95, 99])
            rows.append({"method": m, "fleet_mean_ms": float(lat.mean()), "p50_ms": float(p50), "p95_ms": float(p95),
                         "p99_ms": float(p99), "slo_violations": float(np.mean(lat > self.slo_ms)),
                         "flops": self.zoo.flops(self.widths[m]), "params": self.zoo.params(self.widths[m]),
                         "int8_units": int(np.sum(self.int8[m])) if self.int8[m] is not None else 0,
                         "accuracy": self.accuracy[m]})
        table = pd.DataFrame(rows).set_index("method")
        table["accuracy"] = table["accuracy"].astype(float)
        if self.zoo.depth:  # the depth spaces: how many residual blocks each method removed
            table.insert(len(table.columns) - 1, "blocks_dropped", [int(np.sum(self.widths[m] == 0)) for m in table.index])
        if not self.zoo.precision:
            table = table.drop(columns="int8_units")
        table.insert(1, "speedup", table.loc["unpruned", "fleet_mean_ms"] / table["fleet_mean_ms"])
        return table

    def write(self, out: str | Path) -> None:
        """report.md, results.json, the figures, run.json and HDAP's pruned model into ``out``,
        all or nothing."""
        from hdap.report import write_run

        write_run(self, Path(out))


def run_hdap(config: RunConfig, workers: int = 1, progress: bool = False) -> RunResult:
    scenario, cfg, zoo, target = config.scenario, config.pruning, config.zoo, config.target_flops
    streams = config.streams
    full = np.array(zoo.full_widths)
    clock, timings = time.perf_counter(), {}

    def lap(stage: str) -> None:
        nonlocal clock
        timings[stage] = time.perf_counter() - clock
        clock = time.perf_counter()

    day = scenario.time.deployment_day
    snap = simulate(scenario.with_overrides(days=day + 1), workers=workers, progress=progress).final
    fleet, truth = TwinFleet(snap, scenario.measurement, streams.rng("measurement")), TwinGroundTruth(snap)
    ids = fleet.devices()["device_id"].to_numpy()
    lab = None
    if config.data is not None:
        from hdap.finetune import AccuracyLab
        lab = AccuracyLab(config, streams, progress)
    base = lab.base_model() if lab else zoo.module(seed=streams.int_seed("init"))
    base_proxy = ImportanceProxy(base, zoo)
    int8_of = zoo.int8_from_rates
    lap("simulate and base model")

    # HDAP: cluster by hardware response, profile representatives, fit surrogates
    features, unpruned_ms = measure_features(fleet, ids, zoo, cfg.features)
    clustering = FleetClustering(cfg.clusters, cfg.k_max, cfg.representatives,
                                 random_state=streams.int_seed("clustering")).fit(features)
    lap("features and clustering")
    steps = budgets(zoo, target, cfg.rounds)
    surrogates, estimate = fit_estimate(fleet, ids, clustering, unpruned_ms, zoo, cfg, steps, streams,
                                        progress=progress)
    spent = fleet.profiling_device_seconds
    lap("profiling and surrogates")
    slo = default_slo_ms(cfg, zoo, snap, target)

    # HDAP's rounds: search against the fleet estimate, prune, fine-tune
    module, current, current_int8, rounds = base, full, None, []
    base_held_out = lab.held_out_accuracy(base) if lab else None
    for t, budget in enumerate(steps):
        proxy = ImportanceProxy(plain(module), zoo) if lab else base_proxy
        res = search(zoo, lambda r: estimate.statistics(r, cfg.objective, slo), budget, proxy, cfg,
                     streams.rng("search", t), floor_rates=zoo.rates_from_widths(current, current_int8),
                     desc=f"search hdap {t + 1}/{cfg.rounds}", progress=progress)
        chosen = Round(budget, [], [], res.best_f, res.history)
        x = res.best_x
        if lab:  # measured floor: the best candidates in turn until one keeps enough accuracy
            tried = []
            for f, cand in res.archive:  # int8 units fake-quantized, their input scales set in BN re-estimation
                pruned = quantize_units(prune_to_widths(module, zoo, zoo.widths_from_rates(cand)), zoo, int8_of(cand))
                tried.append((lab.pruned_accuracy(pruned), f, cand, pruned))
                if tried[-1][0] >= cfg.accuracy_floor * base_held_out or f >= INFEASIBLE:
                    break
            ok = [a for a in tried if a[0] >= cfg.accuracy_floor * base_held_out]  # else the most accurate
            acc, chosen.objective, x, module = ok[0] if ok else max(tried, key=lambda a: a[0])
            chosen.held_out_pruned, chosen.candidates_checked = acc, len(tried)
            lab.finetune(module, cfg.finetune_epochs, desc=f"fine-tune {t + 1}/{cfg.rounds}")
            chosen.held_out_tuned = lab.held_out_accuracy(module)
        current, current_int8 = zoo.widths_from_rates(x), int8_of(x)
        chosen.widths = [int(w) for w in current]
        chosen.int8_units = [] if current_int8 is None else np.flatnonzero(current_int8).tolist()
        rounds.append(chosen)
    hdap_module = module if lab else prune_to_widths(base, zoo, current)
    lap("hdap search, prune, fine-tune")

    # the baselines, on the same budget
    inputs = BaselineInputs(config, base, base_proxy, snap, slo, streams, progress)
    baselines = {name: make(inputs) for name, make in BASELINES.items()}
    widths = {"unpruned": full, "hdap": current, **{m: b.widths for m, b in baselines.items()}}
    int8 = {"unpruned": None, "hdap": current_int8, **{m: b.int8 for m, b in baselines.items()}}
    lap("baselines")

    accuracy = dict.fromkeys(METHODS)
    if lab:
        accuracy["unpruned"], accuracy["hdap"] = lab.test_accuracy(base), lab.test_accuracy(hdap_module)
        for m in BASELINES:
            pruned = quantize_units(prune_to_widths(base, zoo, widths[m]), zoo, int8[m])
            lab.finetune(pruned, cfg.rounds * cfg.finetune_epochs, desc=f"fine-tune {m}")
            accuracy[m] = lab.test_accuracy(pruned)
        lap("baseline fine-tuning")

    latency = {m: truth.latency_ms(zoo.workload(widths[m], int8[m])) for m in METHODS}
    check = []
    fresh = sample_architectures(zoo, steps, 20, streams.rng("check"), cfg.int8_share)
    for c in range(clustering.n_clusters_):
        members = clustering.labels_ == c
        for r in fresh:
            predicted = estimate.ratio_mean_[c] * surrogates[c].predict(zoo, r)[0]
            check.append((c, float(predicted), float(truth.latency_ms(zoo.rates_workload(r))[members].mean())))
    lap("exact evaluation")
    history = {"hdap": [h for r in rounds for h in r.history],
               **{m: b.history for m, b in baselines.items() if b.history}}
    return RunResult(config, widths, int8, latency, accuracy, clustering.labels_, clustering.weights_, surrogates, rounds,
                     history, estimate.mean_ms(zoo.rates_from_widths(current, current_int8)), spent, slo, clustering.k_scores_, check, timings,
                     hdap_module)
