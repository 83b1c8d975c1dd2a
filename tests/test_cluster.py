"""The fleet interface, hardware-response features and clustering."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from conftest import snapshot
from hdap.cluster import FleetClustering
from hdap.features import measure_features, probe_set
from hdap.fleet import TwinFleet, TwinGroundTruth
from twin.fleet import FleetSnapshot
from twin.measurement import MeasurementNoise
from zoo import get_model


def _three_kinds_of_device(n_each=300, seed=0):
    """Top mode, low power mode, and top mode with a busy background app, with unit-to-unit spread."""
    rng = np.random.default_rng(seed)
    n = 3 * n_each
    group = np.repeat([0, 1, 2], n_each)
    snap = snapshot(n=n, power_mode=np.where(group == 1, 1, 0), background_cores=np.where(group == 2, 2.0, 0.0),
                    silicon_speed=rng.normal(1, 0.03, n), memory_speed=rng.normal(1, 0.03, n))
    return snap, group


def test_fleet_interface_lists_devices_and_charges_for_measurements():
    snap, _ = _three_kinds_of_device(10)
    fleet = TwinFleet(snap, rng=np.random.default_rng(1))
    devices = fleet.devices()
    assert list(devices.columns) == ["device_id", "sku", "region"] and len(devices) == 30
    w = get_model("resnet18").workload()
    m = fleet.measure(w, devices["device_id"][:5], repeats=7)
    assert m.latency_ms.shape == (5, 7) and fleet.profiling_device_seconds == pytest.approx(m.cost_s)
    assert m.cost_s > 5 * 2.0  # five model loads at least
    exact = TwinGroundTruth(snap).latency_ms(w)[:5]
    np.testing.assert_allclose(m.median_ms, exact, rtol=0.05)
    with pytest.raises(KeyError):
        fleet.measure(w, [10_000], 1)


def test_probe_features_separate_the_kinds_and_auto_k_finds_three():
    snap, group = _three_kinds_of_device()
    fleet = TwinFleet(snap, MeasurementNoise(sigma=0.02), rng=np.random.default_rng(0))
    x, unpruned = measure_features(fleet, fleet.devices()["device_id"], get_model("resnet50"))
    assert x.shape == (900, len(probe_set(get_model("resnet50"))))
    truth = TwinGroundTruth(snap).latency_ms(get_model("resnet50").workload())
    np.testing.assert_allclose(unpruned, truth, rtol=0.1)
    c = FleetClustering(random_state=0).fit(x)
    assert c.n_clusters_ == 3 and max(c.k_scores_, key=c.k_scores_.get) == 3
    assert adjusted_rand_score(group, c.labels_) > 0.95
    np.testing.assert_allclose(c.weights_, [1 / 3] * 3)
    for cluster, reps in enumerate(c.representatives_):
        assert len(reps) == 3 and np.all(c.labels_[reps] == cluster)


def test_paper_features_are_repeats_of_the_unpruned_network():
    snap, group = _three_kinds_of_device(50)
    fleet = TwinFleet(snap, rng=np.random.default_rng(0))
    x, unpruned = measure_features(fleet, fleet.devices()["device_id"], get_model("resnet50"), kind="paper", repeats=8)
    assert x.shape == (150, 8) and np.all(np.diff(x, axis=1) >= 0)  # sorted repeats
    np.testing.assert_allclose(unpruned, np.exp(np.median(x, axis=1)), rtol=0.01)


def test_probes_survive_tensorrt_fusion():
    snap, _ = _three_kinds_of_device(20)
    fleet = TwinFleet(FleetSnapshot(snap.state, snap.sku, "tensorrt", snap.firmware_overhead), rng=np.random.default_rng(0))
    x, _ = measure_features(fleet, fleet.devices()["device_id"], get_model("resnet50"))
    assert np.all(np.isfinite(x))


def test_fixed_k_and_large_fleets_use_minibatch():
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(m, 0.1, (40_000, 3)) for m in (0, 3)])
    c = FleetClustering(n_clusters=2, minibatch_above=50_000).fit(x)
    assert isinstance(c.kmeans_, MiniBatchKMeans)
    assert c.n_clusters_ == 2 and sorted(np.round(c.weights_, 3)) == [0.5, 0.5]
    small = FleetClustering(n_clusters=2, minibatch_above=50_000).fit(x[::2])
    assert type(small.kmeans_) is KMeans
    assert adjusted_rand_score(small.labels_, c.labels_[::2]) == 1.0  # the same two groups either way
