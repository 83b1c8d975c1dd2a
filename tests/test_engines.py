"""Engine builds: per-(build, layer shape) kernel speed, deterministic under the seed."""

import numpy as np
import pytest

from conftest import REPO
from twin.engines import Engines, build_of, kernel_multipliers
from twin.latency import LatencyModel
from twin.scenario import load_scenario
from twin.shape import shape_report
from twin.simulation import fleet_snapshot
from twin.sku import load_sku
from zoo import get_model


def test_multipliers_are_lognormal_per_layer_shape_and_deterministic():
    w = get_model("resnet152").workload()
    e = Engines(0.1, 8, seed=5)
    m = kernel_multipliers(w, e)
    assert m.shape == (8, len(w.kind))
    np.testing.assert_array_equal(m, kernel_multipliers(w, Engines(0.1, 8, seed=5)))
    assert not np.allclose(m, kernel_multipliers(w, Engines(0.1, 8, seed=6)))
    logs = np.log(m)
    assert logs.std() == pytest.approx(0.1, rel=0.25) and m.mean() == pytest.approx(1.0, abs=0.02)
    # layers of the same shape (ResNet-152's repeated bottlenecks) get the same kernel in a build
    groups = w.to_frame().groupby(["kind", "c_in", "c_out", "kernel", "stride", "h", "w", "groups"]).indices
    repeated = [idx for idx in groups.values() if len(idx) > 1]
    assert len(repeated) > 5
    for idx in repeated:
        assert np.all(m[:, idx] == m[:, idx[:1]])


def test_builds_follow_device_and_firmware():
    e = Engines(0.05, 8, seed=1)
    ids = np.arange(4000)
    b0, b1 = build_of(ids, np.zeros(4000, np.int8), e), build_of(ids, np.ones(4000, np.int8), e)
    assert set(np.unique(b0)) == set(range(8)) and np.all(np.bincount(b0) > 400)
    assert (b0 != b1).mean() > 0.8      # an update rebuilds the engine
    np.testing.assert_array_equal(b0, build_of(ids, np.zeros(4000, np.int8), e))


def test_fast_path_equals_direct_sum_with_builds_and_releases():
    from zoo.workload import LAYER_KINDS

    rng = np.random.default_rng(4)
    speed = np.ones((2, len(LAYER_KINDS)))
    speed[1, LAYER_KINDS.index("conv")] = 1.3
    sku = load_sku("jetson-xavier-nx")
    model = LatencyModel(get_model("resnet18").workload(), sku, "tensorrt", np.ones((2, len(LAYER_KINDS))),
                         firmware_speed=speed, engines=Engines(0.1, 4, seed=3))
    a, b, g = np.exp(rng.normal(0, 1.0, (3, 500)))
    fw, build = rng.integers(0, 2, 500), rng.integers(0, 4, 500)
    fast = model.latency_s(a, b, g, fw, build)
    call = sku.frameworks["tensorrt"].call_overhead_us * 1e-6
    direct = np.array([model.layer_latency_s(a[i], b[i], g[i], fw[i], build[i]).sum() + g[i] * call
                       for i in range(500)])
    np.testing.assert_allclose(fast, direct, rtol=1e-12)


def test_engine_variation_spreads_latency_and_shape(tmp_path):
    text = (REPO / "scenarios" / "xavier-nx-hot.yaml").read_text()
    zoo = get_model("resnet18")
    loss, spread = [], []
    for sd in (0.0, 0.05, 0.15):
        path = tmp_path / f"e{sd}.yaml"
        path.write_text(text.replace("  inferences_per_day: 500000", f"  inferences_per_day: 500000\n  engines: {{kernel_sd: {sd}}}"))
        snap = fleet_snapshot(load_scenario(path), devices=400, day=5)
        lat = LatencyModel.of(zoo.workload(), snap).snapshot_ms(snap)
        spread.append(np.std(np.log(lat)))
        loss.append(shape_report(zoo, zoo.full_widths, snap).loss.mean())
    assert spread[0] < spread[1] < spread[2]
    assert loss[0] < loss[1] < loss[2]
    (tmp_path / "bad.yaml").write_text(text.replace("  inferences_per_day: 500000",
                                                    "  inferences_per_day: 500000\n  engines: {kernel_sd: -1}"))
    from testbed.errors import InputError

    with pytest.raises(InputError, match=r"bad.yaml: deployment.engines.kernel_sd"):
        load_scenario(tmp_path / "bad.yaml")
