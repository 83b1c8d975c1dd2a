"""One HDAP trial on one simulated day, and its exact evaluation: what every study is made of.

A study fixes a fleet on a day (``StudyDay``: its snapshot, every device's measured features,
and exact latencies of fresh test architectures) and runs trials on it, one per setting (K,
feature kind, ...). A trial clusters the devices, profiles representatives through the fleet
interface (charged), fits the surrogates, estimates the fleet's mean and p95 for the test
architectures and searches for the pruned widths. Trials are independent tasks for the
executor: their inputs are the shared day and a small ``TrialSpec``, their result a ``Trial``.
Exact evaluation (ground truth) happens apart from HDAP's decisions, in ``StudyDay``.

Random streams (``testbed.streams``): a study fleet's seed is the scenario's (fleet 0) or drawn
from its ``study_fleet`` stream; a day measures each feature kind from its own ``features``
stream; the trials of a fleet and its oracle share one ``trial`` registry (common random
numbers: settings differ in K or features, not in noise); test and profiling architectures come
from the fleet's ``architectures`` stream, the same on every day and setting of a study fleet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdap.cluster import FleetClustering
from hdap.config import RunConfig
from hdap.features import FEATURE_KINDS, measure_features
from hdap.fleet import TwinFleet, TwinGroundTruth
from hdap.importance import ImportanceProxy
from hdap.method import default_slo_ms, exact_statistics, fit_estimate, oracle_truth, search
from hdap.objective import FleetEstimate
from hdap.surrogate import sample_architectures
from testbed.streams import Streams
from twin.fleet import FleetSnapshot
from zoo import ZooModel

__all__ = ["StudyDay", "TrialSpec", "Trial", "run_trial", "run_oracle", "run_trials", "judge", "study_fleet_seed",
           "TEST_ARCHITECTURES", "ORACLE_DEVICES"]

TEST_ARCHITECTURES = 20   # fresh sub-networks in the FLOPs band on which estimates are judged
ORACLE_DEVICES = 100_000  # the oracle's exact objective uses at most this many devices (uniform sample)


def study_fleet_seed(seed: int, number: int) -> int:
    """The seed of a study's fleet ``number``: the scenario's own for 0, else drawn from its
    ``study_fleet`` stream (so studies whose seeds differ by one share no fleet)."""
    return seed if number == 0 else Streams(seed).int_seed("study_fleet", number)


@dataclass(frozen=True)
class TrialSpec:
    k: int                    # clusters
    features: str = "probes"  # feature kind (hdap.features.FEATURE_KINDS)
    streams: Streams = Streams(0)


@dataclass
class Trial:
    spec: TrialSpec
    clustering: FleetClustering
    estimate: FleetEstimate
    rates: np.ndarray                  # HDAP's pick: per-unit pruning rates
    widths: np.ndarray                 # ... and the widths they give
    estimate_mean_ms: np.ndarray       # per test architecture, HDAP's estimate of the fleet mean
    estimate_p95_ms: np.ndarray        # ... and of the fleet p95
    device_mape: float                 # per-device estimate vs exact over the test architectures
    surrogate_device_s: float          # profiling cost of the representatives
    surrogate_holdout_mape: float      # mean over clusters of the chosen surrogate's hold-out MAPE


@dataclass
class StudyDay:
    """A fleet on one day as the studies see it: measured features and exact test latencies."""

    config: RunConfig
    snapshot: FleetSnapshot
    streams: Streams                         # the day's feature measurements
    features: dict[str, np.ndarray]          # kind -> (devices, features), measured
    unpruned_ms: dict[str, np.ndarray]       # kind -> each device's measured unpruned latency
    feature_device_s: dict[str, float]       # kind -> profiling cost of measuring the features
    test_rates: np.ndarray                   # (TEST_ARCHITECTURES, units)
    pool_rates: np.ndarray                   # sub-networks every cluster's surrogate is fitted on
    test_exact_ms: np.ndarray = field(repr=False)  # (TEST_ARCHITECTURES, devices), ground truth
    slo_ms: float = 0.0

    @staticmethod
    def measure(config: RunConfig, snapshot: FleetSnapshot, kinds: dict[str, int], streams: Streams) -> "StudyDay":
        """Measure the features of ``kinds`` (kind -> repeats) on every device through the fleet
        interface (noise from ``streams``), and the test architectures' truth. The test and
        profiling architectures depend only on the scenario's seed: every day and setting of a
        study shares them."""
        zoo, target = config.zoo, config.target_flops
        rng = config.streams.rng("architectures")
        share = config.pruning.int8_share
        pool = sample_architectures(zoo, [target], config.pruning.surrogate_samples, rng, share)
        test = sample_architectures(zoo, [target], TEST_ARCHITECTURES, rng, share)
        truth = TwinGroundTruth(snapshot)
        exact = np.array([truth.latency_ms(zoo.rates_workload(r)) for r in test], np.float32)
        day = StudyDay(config, snapshot, streams, {}, {}, {}, test, pool, exact,
                       default_slo_ms(config.pruning, zoo, snapshot, target))
        for kind, repeats in kinds.items():
            day.measure_features(kind, repeats)
        return day

    def measure_features(self, kind: str, repeats: int) -> None:
        """Measure every device's ``kind`` features (charged to ``feature_device_s[kind]``)."""
        fleet = TwinFleet(self.snapshot, self.config.scenario.measurement,
                          self.streams.rng("features", FEATURE_KINDS.index(kind)))
        self.features[kind], self.unpruned_ms[kind] = measure_features(fleet, self.snapshot.state.device_id, self.zoo,
                                                                       kind, repeats)
        self.feature_device_s[kind] = fleet.profiling_device_seconds

    @property
    def zoo(self) -> ZooModel:
        return self.config.zoo

    @property
    def target_flops(self) -> float:
        return self.config.target_flops

    def exact(self, widths, int8=None) -> tuple[float, float]:
        """The exact fleet mean and p95 (ms) of an architecture over every device."""
        lat = TwinGroundTruth(self.snapshot).latency_ms(self.zoo.workload(widths, int8))
        return float(lat.mean()), float(np.percentile(lat, 95))

    def exact_rates(self, rates) -> tuple[float, float]:
        """``exact`` of the architecture a rate vector describes."""
        zoo = self.zoo
        return self.exact(zoo.widths_from_rates(rates), zoo.int8_from_rates(rates))

    def test_exact_stats(self) -> tuple[np.ndarray, np.ndarray]:
        return self.test_exact_ms.mean(axis=1, dtype=np.float64), np.percentile(self.test_exact_ms, 95, axis=1)

    def base_proxy(self) -> ImportanceProxy:
        """The accuracy proxy of the study's network (initial weights from the scenario's ``init`` stream)."""
        return ImportanceProxy(self.zoo.module(seed=self.config.streams.int_seed("init")), self.zoo)


def run_trial(spec: TrialSpec, day: StudyDay) -> Trial:
    """Cluster, profile representatives, fit surrogates, estimate and search: HDAP at one setting."""
    cfg, zoo, streams = day.config.pruning, day.zoo, spec.streams
    features, unpruned = day.features[spec.features], day.unpruned_ms[spec.features]
    clustering = FleetClustering(spec.k, cfg.k_max, cfg.representatives,
                                 random_state=streams.int_seed("clustering")).fit(features)
    profiled = np.unique(np.concatenate(clustering.representatives_))
    fleet = TwinFleet(day.snapshot.take(profiled), day.config.scenario.measurement, streams.rng("measurement"))
    surrogates, estimate = fit_estimate(fleet, day.snapshot.state.device_id, clustering, unpruned, zoo, cfg,
                                        [day.target_flops], streams, rates=day.pool_rates)
    device_err = [np.mean(np.abs(estimate.per_device_ms(r) / exact - 1)) for r, exact in zip(day.test_rates,
                                                                                             day.test_exact_ms)]
    res = search(zoo, lambda r: estimate.statistics(r, cfg.objective, day.slo_ms), day.target_flops, day.base_proxy(),
                 cfg, streams.rng("search", 0))
    return Trial(spec, clustering, estimate, res.best_x, zoo.widths_from_rates(res.best_x),
                 estimate.statistics(day.test_rates, "weighted_mean"), estimate.statistics(day.test_rates, "p95"),
                 float(np.mean(device_err)), fleet.profiling_device_seconds,
                 float(np.mean([s.holdout[s.kind]["mape"] for s in surrogates])))


def run_oracle(streams: Streams, day: StudyDay) -> np.ndarray:
    """The oracle's rates: the same search, on the exact objective of (a sample of) the fleet."""
    cfg, zoo = day.config.pruning, day.zoo
    truth = oracle_truth(day.snapshot, cfg.oracle_devices or ORACLE_DEVICES, streams.rng("oracle"))
    res = search(zoo, exact_statistics(truth, zoo, cfg.objective, day.slo_ms), day.target_flops, day.base_proxy(),
                 cfg, streams.rng("search", 0))
    return res.best_x


def _job(spec: TrialSpec | Streams, day: StudyDay):
    return run_oracle(spec, day) if isinstance(spec, Streams) else run_trial(spec, day)


def run_trials(day: StudyDay, specs: list[TrialSpec], streams: Streams, executor,
               bar=None) -> tuple[np.ndarray, list[Trial]]:
    """The oracle (on ``streams``, the trials' registry) and one trial per spec on ``day``, as
    executor tasks sharing the day: the oracle's rates and the trials, in order. ``bar``
    advances per task."""
    done = []
    for result in executor.map(_job, [streams, *specs], executor.share(day)):
        done.append(result)
        if bar is not None:
            bar.update(1)
    return done[0], done[1:]


def judge(trial: Trial, day: StudyDay, oracle: tuple[float, float]) -> dict:
    """A trial's estimate errors on the test architectures (%), its profiling cost (device-hours)
    and the exact fleet latency of its pick against the oracle's (``oracle``: mean, p95 in ms)."""
    exact_mean, exact_p95 = day.test_exact_stats()
    mean, p95 = day.exact_rates(trial.rates)
    feature_s = day.feature_device_s[trial.spec.features]
    return {"mean_error_pct": 100 * float(np.mean(np.abs(trial.estimate_mean_ms / exact_mean - 1))),
            "p95_error_pct": 100 * float(np.mean(np.abs(trial.estimate_p95_ms / exact_p95 - 1))),
            "device_error_pct": 100 * trial.device_mape,
            "surrogate_holdout_pct": 100 * trial.surrogate_holdout_mape,
            "feature_device_h": feature_s / 3600, "surrogate_device_h": trial.surrogate_device_s / 3600,
            "profiling_device_h": (feature_s + trial.surrogate_device_s) / 3600,
            "hdap_mean_ms": mean, "hdap_p95_ms": p95, "oracle_mean_ms": oracle[0], "oracle_p95_ms": oracle[1],
            "gap_to_oracle_pct": 100 * (mean / oracle[0] - 1)}
