"""hdap study: clusters, aging and features on small fleets; same numbers wherever they run."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import BASE_SCENARIO, run_main
from hdap import cli as hdap_cli
from hdap.config import RunConfig
from hdap.study.aging import aging_study
from hdap.study.clusters import clusters_study
from hdap.study.features import features_study
from hdap.study.trial import StudyDay, TrialSpec, run_trial, study_fleet_seed
from testbed.streams import Streams
from twin.executor import Executor
from twin.simulation import simulate

# two power modes in equal shares: devices differ in shape, not only in speed
FLEET = """\
    deployment: {workload: resnet20}
    drift:
      power_modes: {initial: {MAXN: 0.5, 5W: 0.5}}
      background: {arrival_rate_per_year: 6, mean_duration_days: 60, cores: [1.0, 2.0]}
    pruning: {flops_g: 0.02, population: 4, generations: 6, surrogate_samples: 60, representatives: 2}
    """


def hdap(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hdap.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def scenario(write_scenario):
    return RunConfig.of(write_scenario(FLEET, devices=600, days=40))


def test_more_clusters_estimate_each_device_better(scenario):
    with Executor(1) as ex:
        df = clusters_study(scenario, [1, 4], [600], 1, ex)
    one, four = df.set_index("k").loc[1], df.set_index("k").loc[4]
    assert four["device_error_pct"] < one["device_error_pct"]           # shapes differ: one cluster cannot fit all
    assert four["surrogate_device_h"] == pytest.approx(4 * one["surrogate_device_h"], rel=0.25)
    assert four["feature_device_h"] == one["feature_device_h"] > 0      # measured once per fleet, whatever K
    assert (df["hdap_mean_ms"] > 0).all() and (df["oracle_mean_ms"] > 0).all()


@pytest.mark.slow  # 20 s: starts a Dask LocalCluster; test_executor covers shard placement
def test_clusters_study_same_numbers_in_process_and_on_a_local_cluster(scenario):
    with Executor(1) as ex:
        serial = clusters_study(scenario, [1, 2], [300, 600], 1, ex)
    with Executor(2) as ex:
        dask = clusters_study(scenario, [1, 2], [300, 600], 1, ex)
    pd.testing.assert_frame_equal(serial.drop(columns="wall_s"), dask.drop(columns="wall_s"))


def test_trial_is_deterministic_and_picks_widths_in_budget(scenario):
    sc = scenario.scenario
    snap = simulate(sc.with_overrides(days=sc.time.deployment_day + 1)).final
    day = StudyDay.measure(scenario, snap, {"probes": 5}, Streams(0))
    a, b = run_trial(TrialSpec(3, "probes", Streams(1)), day), run_trial(TrialSpec(3, "probes", Streams(1)), day)
    np.testing.assert_array_equal(a.widths, b.widths)
    np.testing.assert_array_equal(a.estimate_mean_ms, b.estimate_mean_ms)
    assert day.zoo.flops(a.widths) <= 0.02e9 and a.clustering.n_clusters_ == 3


def test_aging_checkpoints_drift_and_repruning(write_scenario):
    raw = BASE_SCENARIO.format(name="aging", seed=3, devices=400, days=400).replace(
        "days: 400}", "days: 400, deployment_day: 100}") + textwrap.dedent(FLEET)
    sc = RunConfig.of(write_scenario(raw=raw))
    with Executor(1) as ex:
        df = aging_study(sc, 0.6, 100, ex)
    assert df["day"].tolist() == [100, 200, 300] and df["years"].iloc[0] == 0
    assert df["moved_cluster_pct"].iloc[0] < 5           # the same fleet, measured again: almost nobody moves
    assert df["moved_cluster_pct"].iloc[-1] > df["moved_cluster_pct"].iloc[0]  # modes and apps change: drift
    assert (df["reclustering_device_h"] > 0).all() and df["ari_vs_day0"].between(-1, 1).all()


def test_features_study_compares_at_the_same_profiling_budget(scenario):
    with Executor(1) as ex:
        df = features_study(scenario, [2], 1, ex)
    paper, probes = df.set_index("features").loc["paper"], df.set_index("features").loc["probes"]
    assert paper["repeats"] > probes["repeats"]
    assert paper["feature_device_h"] == pytest.approx(probes["feature_device_h"], rel=0.1)


def test_study_cli_writes_report_and_rejects_bad_input(write_scenario, tmp_path):
    path = write_scenario(FLEET, devices=300, days=40)
    out = tmp_path / "clusters"
    r = hdap("study", "clusters", path, "--k", "1,2", "--devices", "2e2,3e2", "--workers", 1, "--out", out)
    assert r.returncode == 0, r.stderr
    assert {"report.md", "clusters.csv", "summary.csv", "estimate_error.png", "latency_and_cost.png",
            "run.json"} <= {p.name for p in out.iterdir()}
    assert len(pd.read_csv(out / "clusters.csv")) == 4 and "Mean over seeds" in (out / "report.md").read_text()
    for args, message in [(["clusters", "--k", "0"], "--k, --devices and --seeds must be >= 1"),
                          (["clusters", "--k", "200", "--devices", "300"], "allowed: K <= 150"),
                          (["clusters", "--devices", "1e2,abc"], "argument --devices"),
                          (["aging", "--every", "500"], "--every must be between 1 and"),
                          (["features", "--k", "1000"], "--k must be between 1 and 150")]:
        code, err = run_main(hdap_cli.main, ["study", args[0], path, *args[1:], "--workers", 1, "--out", tmp_path / "bad"])
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
        assert not (tmp_path / "bad").exists()


def test_study_fleets_are_independent_of_neighbouring_seeds(scenario):
    """Fleet 1 of a study with seed s is not fleet 0 of the study with seed s + 1 (no seed arithmetic)."""
    seeds = {study_fleet_seed(s, n) for s in range(5) for n in range(3)}
    assert len(seeds) == 15
    assert study_fleet_seed(7, 0) == 7 and study_fleet_seed(7, 1) != 8
    with Executor(1) as ex:
        two = clusters_study(scenario, [2], [300], 2, ex)
    assert two["seed"].tolist() == [scenario.scenario.seed, study_fleet_seed(scenario.scenario.seed, 1)]
