"""hdap run end to end: every output, every method, every zoo family, the estimate is honest."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import run_main
from hdap import cli as hdap_cli
from hdap.config import RunConfig
from hdap.runner import METHODS, run_hdap
from zoo import get_model, trace_workload


def hdap(*args):
    return subprocess.run([sys.executable, "-m", "hdap.cli", *map(str, args)], capture_output=True, text=True)


def test_hdap_run_writes_report_results_and_pruned_model(write_scenario, tmp_path):
    path = write_scenario("""\
        deployment: {workload: resnet20}
        pruning: {flops_g: 0.02, generations: 10, surrogate_samples: 80, slo_ms: 4.0}
        """, devices=400, days=5)
    out = tmp_path / "report"
    r = hdap("run", path, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "hdap" in r.stdout and "wall time" in r.stdout
    results = json.loads((out / "results.json").read_text())
    assert set(results["methods"]) == set(METHODS)
    for m, row in results["methods"].items():
        assert {"fleet_mean_ms", "p50_ms", "p95_ms", "p99_ms", "slo_violations", "flops", "params", "accuracy",
                "speedup"} <= set(row)
        assert row["accuracy"] is None and 0 <= row["slo_violations"] <= 1
        if m != "unpruned":
            assert row["flops"] <= 0.02e9 and row["fleet_mean_ms"] < results["methods"]["unpruned"]["fleet_mean_ms"]
        if m in ("hdap", "single_device", "oracle"):
            assert row["flops"] >= 0.97 * 0.02e9
    assert results["slo_ms"] == 4.0 and results["objective"] == "weighted_mean"
    assert results["profiling_device_seconds"] > 0 and results["seed"] == 3
    assert results["hdap_estimate_ms"] == pytest.approx(results["methods"]["hdap"]["fleet_mean_ms"], rel=0.05)
    for f in ("report.md", "run.json", "latency_per_method.png", "latency_per_cluster.png", "search_convergence.png",
              "surrogate_vs_exact.png", "resnet20_hdap.pt", "resnet20_hdap.json"):
        assert (out / f).is_file(), f
    assert json.loads((out / "resnet20_hdap.json").read_text())["widths"] == results["widths"]["hdap"]
    assert "| hdap" in (out / "report.md").read_text()
    assert "torch" in json.loads((out / "run.json").read_text())["versions"]


@pytest.mark.slow  # 17 s: two whole hdap runs; the determinism of each stage is tested on its own
def test_same_seed_same_results(write_scenario, tmp_path):
    path = write_scenario("""\
        deployment: {workload: resnet20}
        pruning: {generations: 5, surrogate_samples: 40, objective: p95}
        """, devices=300, days=4)
    for out in ("a", "b"):
        assert hdap("run", path, "--out", tmp_path / out).returncode == 0
    assert (tmp_path / "a" / "results.json").read_bytes() == (tmp_path / "b" / "results.json").read_bytes()
    assert (tmp_path / "a" / "report.md").read_bytes() == (tmp_path / "b" / "report.md").read_bytes()


@pytest.mark.parametrize("model,flops_g,objective", [
    ("resnet18", 0.9, "mean"), ("vgg16_cifar", 0.15, "p95"), ("mobilenet_v1", 0.3, "slo"),
    ("mobilenet_v2", 0.15, "weighted_mean"), ("resnet20", 0.02, "weighted_mean"), ("yolov8n", 2.2, "weighted_mean")])
def test_every_zoo_family_goes_through_the_pipeline(write_scenario, model, flops_g, objective):
    path = write_scenario(f"""\
        deployment: {{workload: {model}}}
        pruning: {{flops_g: {flops_g}, generations: 3, population: 4, surrogate_samples: 30, k_max: 3,
                  objective: {objective}}}
        """, name=model, devices=150, days=3)
    r = run_hdap(RunConfig.of(path))
    zoo = get_model(model)
    for m in METHODS[1:]:
        assert zoo.flops(r.widths[m]) <= flops_g * 1e9 and r.latency_ms[m].mean() < r.latency_ms["unpruned"].mean()
    # HDAP's widths pruned out of the real torch module, with the analytic table's FLOPs
    traced = trace_workload(r.module, zoo.input_shape)
    assert traced.dense_flops == pytest.approx(zoo.flops(r.widths["hdap"]))
    assert np.array_equal(traced.c_out, zoo.workload(r.widths["hdap"]).c_out)


@pytest.mark.slow  # 53 s; the default run covers rounds with data in test_precision's end-to-end run
def test_with_data_hdap_prunes_in_rounds_with_measured_accuracy(write_scenario, tmp_path):
    path = write_scenario("""\
        deployment: {workload: resnet20}
        pruning: {data: digits, train_epochs: 2, rounds: 2, finetune_epochs: 1, generations: 4,
                  surrogate_samples: 40}
        """, devices=200, days=3)
    out = tmp_path / "r"
    r = hdap("run", path, "--out", out)
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in results["methods"].values())
    rounds = results["rounds"]
    assert len(rounds) == 2 and rounds[0]["budget_flops"] > rounds[1]["budget_flops"]
    assert all(rd["candidates_checked"] >= 1 and rd["held_out_tuned"] is not None for rd in rounds)
    assert np.all(np.array(rounds[1]["widths"]) <= np.array(rounds[0]["widths"]))  # no unit grows back
    assert (out / "accuracy_per_round.png").is_file() and "after fine-tuning" in (out / "report.md").read_text()
    assert json.loads((out / "resnet20_hdap.json").read_text())["accuracy"] == results["methods"]["hdap"]["accuracy"]


@pytest.mark.parametrize("extra,message", [
    ("deployment: {workload: resnet20}\npruning: {flops_g: 5.0}\n", "pruning.flops_g: resnet20 has"),
    ("deployment: {workload: resnet20}\npruning: {data: no/such/folder}\n", "pruning.data: .*not found"),
    ("deployment: {workload: resnet20}\npruning: {data: digits, weights: w.pt}\n", "pruning.weights: .*not found"),
    ("deployment: {workload: resnet20}\npruning: {weights: w.pt}\n", "pruning.weights: trained weights need pruning.data"),
    ("deployment: {workload: yolov8n}\npruning: {data: digits}\n", "pruning.data: yolov8n is a detector"),
    ("deployment: {workload: resnet20}\npruning: {objective: fastest}\n", "pruning.objective: .*weighted_mean"),
    ("deployment: {workload: resnet20}\npruning: {rounds: 0}\n", "pruning.rounds"),
    ("deployment: {workload: resnet20}\npruning: {input_size: 30}\n", "pruning.input_size: resnet20: input size must"),
    ("deployment: {workload: resnet20}\npruning: {nope: 1}\n", "pruning.nope: unknown key; allowed keys: .*flops_g"),
    ("deployment: {workload: vgg16_cifar}\npruning: {space: width+depth}\n", "pruning.space: vgg16_cifar has no residual"),
    ("deployment: {workload: resnet20}\npruning: {space: depth}\n", "pruning.space: .*width\\+depth"),
    ("deployment: {workload: resnet20}\npruning: {clusters: 40}\n", "pruning.clusters: 40 clusters x 3 representatives"),
    ("deployment: {workload: resnet20}\npruning: {representatives: 5000}\n", "pruning.representatives: 8 clusters"),
    ("deployment: {workload: resnet20}\npruning: {flops_g: 1e-9}\n", "pruning.flops_g: resnet20 keeps .* one channel"),
    ("deployment: {workload: resnet20, inferences_per_day: .inf}\n", "inferences_per_day: .*finite number"),
])
def test_hdap_run_rejects_bad_pruning_sections(write_scenario, tmp_path, extra, message):
    path = write_scenario(extra, devices=50, days=2)
    code, err = run_main(hdap_cli.main, ["run", path, "--out", tmp_path / "o"])  # in process: 15 cases
    assert code == 2 and "Traceback" not in err
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "o").exists()


def test_hdap_run_rejects_data_with_more_classes_than_the_model_has(write_scenario, tmp_path):
    from PIL import Image

    for c in range(12):
        (tmp_path / "imgs" / f"class{c}").mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (8, 8), (20 * c, i, 0)).save(tmp_path / "imgs" / f"class{c}" / f"{i}.png")
    path = write_scenario("deployment: {workload: resnet20}\npruning: {data: imgs}\n", devices=50, days=2)
    r = hdap("run", path, "--out", tmp_path / "o")
    assert r.returncode == 2 and "pruning.data: imgs has 12 classes; resnet20 has 10 outputs" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o").exists()


def test_hdap_prunes_the_network_at_the_deployed_input_size(write_scenario):
    path = write_scenario("""\
        deployment: {workload: yolov8n, input_size: 256}
        pruning: {flops_g: 0.3, generations: 3, population: 4, surrogate_samples: 30, k_max: 3}
        """, devices=120, days=2)
    config = RunConfig.of(path)
    assert config.zoo.input_shape == (3, 256, 256) and config.target_flops == 0.3e9
    r = run_hdap(config)
    assert r.zoo.flops(r.widths["hdap"]) <= 0.3e9 < get_model("yolov8n", 256).flops()
    traced = trace_workload(r.module, (3, 256, 256))
    assert traced.dense_flops == pytest.approx(r.zoo.flops(r.widths["hdap"]))


def test_data_none_means_latency_only(write_scenario):
    """The README and the schema say `data: none` is latency only: it reads as no data."""
    for spelling in ("none", "None", "null"):
        path = write_scenario(f"deployment: {{workload: resnet20}}\npruning: {{data: {spelling}}}\n", devices=50, days=2)
        assert RunConfig.of(path).pruning.data is None


@pytest.mark.parametrize("model,flops_g", [("resnet20", 0.02), ("mobilenet_v2", 0.12)])
def test_width_depth_space_drops_blocks_that_the_real_module_drops(write_scenario, model, flops_g):
    """Every searching method works in the same space; the pruned module, traced, is the table."""
    path = write_scenario(f"""\
        deployment: {{workload: {model}}}
        pruning: {{flops_g: {flops_g}, space: width+depth, generations: 15, population: 6, surrogate_samples: 60,
                  k_max: 3}}
        """, name=model, devices=150, days=3)
    r = run_hdap(RunConfig.of(path))
    zoo = r.zoo
    assert zoo.depth and zoo.n_rates == zoo.n_units + len(zoo.droppable)
    table = r.summary()
    assert table.loc["uniform_l2", "blocks_dropped"] == table.loc["global_magnitude", "blocks_dropped"] == 0
    assert table[["blocks_dropped"]].loc[["hdap", "single_device", "oracle"]].to_numpy().sum() > 0
    for m in METHODS[1:]:
        assert zoo.flops(r.widths[m]) <= flops_g * 1e9
        assert np.all(r.widths[m][[u for u in range(zoo.n_units) if u not in zoo.droppable]] >= 1)
    traced = trace_workload(r.module, zoo.input_shape)
    table = zoo.workload(r.widths["hdap"])
    assert len(traced) == len(table) and traced.dense_flops == pytest.approx(table.dense_flops)
    assert np.array_equal(traced.c_out, table.c_out)
