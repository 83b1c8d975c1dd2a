"""hdap run end to end on a small fleet: every output, every method, the estimate is honest."""

import json
import subprocess
import sys

import pytest


def test_hdap_run_writes_report_results_and_pruned_model(write_scenario, tmp_path):
    path = write_scenario("""\
        deployment: {workload: resnet20}
        pruning: {flops_g: 0.02, generations: 10, surrogate_samples: 80, oracle_devices: 100}
        """, devices=400, days=5)
    out = tmp_path / "report"
    r = subprocess.run([sys.executable, "-m", "hdap.cli", "run", str(path), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    assert set(results["methods"]) == {"unpruned", "hdap", "uniform_l2", "global_magnitude", "single_device", "oracle"}
    for m, row in results["methods"].items():
        assert {"fleet_mean_ms", "p50_ms", "p95_ms", "p99_ms", "flops", "params", "accuracy"} <= set(row)
        if m != "unpruned":
            assert 0.97 * 0.02e9 <= row["flops"] <= 0.02e9 or m in ("uniform_l2", "global_magnitude")
            assert row["fleet_mean_ms"] < results["methods"]["unpruned"]["fleet_mean_ms"]
    assert results["profiling_device_seconds"] > 0 and results["seed"] == 3
    hdap = results["methods"]["hdap"]["fleet_mean_ms"]
    assert results["hdap_estimate_ms"] == pytest.approx(hdap, rel=0.05)
    for f in ("report.md", "latency_per_method.png", "latency_per_cluster.png", "search_convergence.png",
              "surrogate_vs_exact.png", "resnet20_hdap.pt", "resnet20_hdap.json"):
        assert (out / f).is_file(), f
    assert "| hdap" in (out / "report.md").read_text()


def test_hdap_run_rejects_an_impossible_budget(write_scenario, tmp_path):
    path = write_scenario("deployment: {workload: resnet20}\npruning: {flops_g: 5.0}\n", devices=50, days=2)
    r = subprocess.run([sys.executable, "-m", "hdap.cli", "run", str(path), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "pruning.flops_g" in r.stderr and not (tmp_path / "o").exists()
