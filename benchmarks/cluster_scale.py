"""HDAP's clustering at fleet scale, and how well automatic K finds a known number of groups.

1. The million-device scenario on its deployment day: wall time of measuring every device's probe
   features through the fleet interface and of clustering them (MiniBatchKMeans, K chosen by
   silhouette on a 5,000-device subsample), peak memory, the K chosen and its silhouette scores.
2. Synthetic fleets of G known device configurations (power mode x background load x thermal
   throttling), 3,000 devices each, unit-to-unit spread as the twin's defaults: the K that auto-K
   picks, and the adjusted Rand index of its clusters against the true configurations.

    python benchmarks/cluster_scale.py [--devices 1000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from hdap.cluster import FleetClustering
from hdap.features import measure_features
from hdap.fleet import TwinFleet
from testbed.streams import Streams
from twin.fleet import FleetSnapshot, FleetState
from twin.scenario import load_scenario
from twin.simulation import simulate
from twin.sku import load_sku
from zoo import get_model

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "million.yaml"
# (power mode, background cores, thermal clock fraction) of each known configuration
CONFIGS = [(0, 0.0, 1.0), (1, 0.0, 1.0), (0, 2.0, 1.0), (0, 0.0, 0.5), (1, 1.5, 1.0), (0, 1.0, 0.7)]


def million(devices: int, workers: int) -> None:
    scenario = load_scenario(SCENARIO).with_overrides(devices=devices)
    day = scenario.time.deployment_day
    t = time.perf_counter()
    snap = simulate(scenario.with_overrides(days=day + 1), workers=workers).final
    sim_s = time.perf_counter() - t
    streams = Streams(scenario.seed)
    fleet = TwinFleet(snap, scenario.measurement, streams.rng("measurement"))
    ids = fleet.devices()["device_id"].to_numpy()
    t = time.perf_counter()
    features, _ = measure_features(fleet, ids, get_model(scenario.deployment.workload))
    feat_s = time.perf_counter() - t
    t = time.perf_counter()
    c = FleetClustering(random_state=streams.int_seed("clustering")).fit(features)
    clust_s = time.perf_counter() - t
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"{devices:,} devices ({scenario.name}, day {day}): simulation {sim_s:.1f} s ({workers} workers), "
          f"features {feat_s:.1f} s, clustering {clust_s:.1f} s, peak RSS {peak_gb:.2f} GB (main process)")
    print(f"  auto-K chose K={c.n_clusters_}, cluster shares {np.round(c.weights_, 3).tolist()}; "
          f"silhouette " + ", ".join(f"K={k} {v:.3f}" for k, v in c.k_scores_.items()))
    print(f"  profiling cost of the features: {fleet.profiling_device_seconds / 3600:,.0f} device-hours "
          f"({fleet.profiling_device_seconds / devices:.1f} s per device)")


def known_groups(groups: int, per_group: int = 3000, seed: int = 0) -> tuple[int, float]:
    streams = Streams(seed)
    rng = streams.rng("fleet")
    truth = np.repeat(np.arange(groups), per_group)
    n = len(truth)
    state = FleetState.nominal(n)
    mode, cores, throttle = (np.array(v)[truth] for v in zip(*CONFIGS[:groups]))
    state.power_mode[:] = mode
    state.background_cores[:] = cores
    state.thermal_throttle[:] = throttle
    state.silicon_speed[:] = rng.normal(1, 0.035, n)
    state.memory_speed[:] = rng.normal(1, 0.03, n)
    snap = FleetSnapshot(state, load_sku("jetson-nano"), "pytorch", np.ones((1, 9)))
    fleet = TwinFleet(snap, rng=streams.rng("measurement"))
    features, _ = measure_features(fleet, state.device_id, get_model("resnet18"))
    c = FleetClustering(random_state=streams.int_seed("clustering")).fit(features)
    return c.n_clusters_, adjusted_rand_score(truth, c.labels_)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=float, default=1e6)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    million(int(args.devices), args.workers)
    print("auto-K on fleets of known configurations (3,000 devices each):")
    for g in range(2, len(CONFIGS) + 1):
        k, ari = known_groups(g)
        print(f"  {g} configurations: auto-K chose {k}, adjusted Rand index {ari:.3f}")


if __name__ == "__main__":
    main()
