"""The fused daily kernel (twin.kernel) against the readable reference (advance_day, record)."""

import textwrap

import numpy as np
import pandas as pd
import pytest

from twin.latency import LatencyModel, _Breakpoints
from twin.scenario import load_scenario
from twin.simulation import simulate
from twin.sku import load_sku
from zoo import get_model
from zoo.workload import LAYER_KINDS

REPO = __import__("pathlib").Path(__file__).resolve().parent.parent

# battery aging and sag, firmware that changes kernels, per-device engine builds (xavier-nx-modes), a CPU SKU whose
# threads share cores with background apps, an FPGA fleet, mixed precision and power modes
SCENARIOS = ["jetson-nano-2y", "nano-rollout", "xavier-nx-modes", "host-cpu-fleet", "kria-k26-fleet",
             "xavier-nx-precision"]


def _both(scenario, **kw):
    return simulate(scenario, kernel="fused", **kw), simulate(scenario, kernel="reference", **kw)


def _same_state(a, b):
    fa, fb = a.to_frame(), b.to_frame()
    for c in fa.columns:
        assert np.array_equal(fa[c].to_numpy(), fb[c].to_numpy()), c


@pytest.mark.parametrize("name", SCENARIOS)
def test_fused_days_give_the_reference_bits(name):
    """Same devices bit for bit, every snapshot too; the history's float64 sums add in another
    order (1e-12 relative)."""
    sc = load_scenario(REPO / "scenarios" / f"{name}.yaml")
    sc = sc.with_overrides(devices=1001, days=min(sc.time.days, 150))  # not a multiple of any vector width
    days = (0, sc.time.days // 2)
    fused, ref = _both(sc, snapshot_days=days)
    _same_state(fused.final.state, ref.final.state)
    for day in days:
        _same_state(fused.snapshots[day].state, ref.snapshots[day].state)
    hf, hr = fused.history, ref.history
    assert list(hf.columns) == list(hr.columns)
    numeric = hr.select_dtypes("number").columns.drop("latency_ms_std")
    pd.testing.assert_frame_equal(hf[numeric], hr[numeric], check_exact=False, rtol=1e-12, atol=0)
    # the spread is sqrt(mean of squares - square of mean): the cancellation magnifies 1e-16 by (mean / std)^2
    np.testing.assert_allclose(hf["latency_ms_std"], hr["latency_ms_std"], rtol=1e-9)
    assert hf["date"].equals(hr["date"])


def test_fused_kernel_follows_rollouts_to_other_engine_builds(write_scenario):
    """A rollout moves devices to another (firmware, engine build) breakpoint table mid-run."""
    sc = load_scenario(write_scenario(raw=textwrap.dedent("""\
        name: rollout
        seed: 5
        fleet: {sku: jetson-xavier-nx, devices: 700, framework: tensorrt, precision: fp16}
        time: {start: 2026-01-01, days: 60}
        deployment: {workload: resnet50, engines: {kernel_sd: 0.1, builds: 3}}
        drift:
          firmware:
            - {name: fast-conv, day: 20, overhead_scale: 1.0, kernel_speed: {conv: 1.4}, waves: [0.3, 1.0],
               wave_interval_days: 10, coverage: 1.0}
        """)))
    fused, ref = _both(sc)
    _same_state(fused.final.state, ref.final.state)
    assert set(np.unique(fused.final.state.firmware)) == {1}


def test_breakpoint_counts_are_exact():
    """The bucketed lookup counts exactly the breakpoints below r, even at bucket edges and on them."""
    rng = np.random.default_rng(3)
    bp = _Breakpoints(rng.lognormal(0, 2, 300), rng.lognormal(0, 2, 300))
    r = np.concatenate([rng.lognormal(0, 3, 20_000), bp._rho, np.nextafter(bp._rho, 0), np.nextafter(bp._rho, np.inf)])
    for values in (r, r.astype(np.float32)):
        expected = np.searchsorted(bp._rho, values.astype(np.float64), side="left")
        assert np.array_equal(bp._count_below(values), expected)


def test_latency_tables_hold_every_firmware_and_build_variant():
    kinds = len(LAYER_KINDS)
    lm = LatencyModel(get_model("resnet50").workload(), load_sku("jetson-nano"), "tensorrt",
                      firmware_overhead=np.ones((2, kinds)), firmware_speed=np.array([[1.0] * kinds, [1.3] * kinds]))
    t = lm.tables()
    assert t["rho"].shape[0] == 2 and t["overhead_s"].shape == (2,)
    for v in range(2):
        assert np.all(np.diff(t["rho"][v][: t["count"][v]]) > 0) and np.all(np.isinf(t["rho"][v][t["count"][v]:]))


def test_unknown_kernel_is_refused():
    with pytest.raises(ValueError, match="kernel must be"):
        simulate(REPO / "scenarios" / "quickstart.yaml", kernel="turbo")
