"""Calibration: it recovers known parameters, the shipped Jetson files match the published rows,
and the CLIs (calibrate, predict) keep the error contract."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import REPO
from twin.calibration.calibrate import apply_params, calibrate, leave_one_out, resolve_rows, select_rows
from twin.calibration.measurement_csv import read_measurements, write_rows
from twin.latency import nominal_latency_ms
from twin.sku import load_sku

PUBLISHED = REPO / "tests" / "data" / "jetson_published_latency.csv"  # a copy of shared/data/'s
TRUTH = {"frameworks.pytorch.overhead_scale": 1.6, "frameworks.pytorch.efficiency.conv": 0.7,
         "memory_efficiency": 0.5, "power_modes.1-thread.compute_mhz": 3400.0, "contention.compute": 2.0,
         "contention.overhead": 4.0}
NETS = [("resnet18", None), ("resnet50", None), ("mobilenet_v2", None), ("resnet56", None), ("vgg11", None),
        ("resnet18", [32, 40, 64, 100, 128, 200, 256, 300])]


def twin(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "twin.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def synthetic_measurements(path, sku, nets=NETS, rng=None):
    """What a host-cpu board following ``sku`` exactly would measure, with 1 % noise."""
    from zoo import get_model

    rows = []
    for name, widths in nets:
        w = get_model(name).workload(widths)
        for mode, threads in (("2-threads", 2), ("1-thread", 1)):
            for bg in (0.0, 1.0):
                ms = nominal_latency_ms(w, sku, "pytorch", mode, bg)
                if rng is not None:
                    ms *= float(np.exp(rng.normal(0, 0.01)))
                rows.append({"board_id": "b", "sku": sku.name, "threads": threads, "background_cores": bg,
                             "framework": "pytorch", "model": name, "latency_ms": ms,
                             "widths": "" if widths is None else ";".join(map(str, widths))})
    write_rows(path, rows)


def fitted(path, base):
    rows = resolve_rows(select_rows(read_measurements(path), base.name, "f"), base, path.parent, "f")
    return rows, calibrate(rows, base, "f")


def test_calibration_recovers_the_parameters_that_made_the_measurements(tmp_path):
    base = load_sku("host-cpu")
    truth = apply_params(base, TRUTH)
    # an overhead-bound network too (resnet20): it tells per-layer overhead from per-inference and pooling time
    synthetic_measurements(tmp_path / "m.csv", truth, nets=NETS + [("resnet20", None)])
    _, cal = fitted(tmp_path / "m.csv", base)
    assert cal.mape_pct < 0.5
    for name, value in TRUTH.items():  # contention trades off a little against the 1-thread CPU clock
        assert cal.params[name][1] == pytest.approx(value, rel=0.15 if name.startswith("contention") else 0.05), name
    # the written file predicts what the fit table says
    out = tmp_path / "host.yaml"
    from twin.calibration.sku_file import write_sku
    write_sku(cal.sku, out, header="test")
    again = load_sku(out)
    r = cal.table.iloc[0]
    from zoo import get_model
    assert nominal_latency_ms(get_model(r["model"]).workload(), again, "pytorch", r["mode"], r["background_cores"]) \
        == pytest.approx(r["predicted_ms"], rel=1e-9)
    assert again.calibration.rows == len(cal.table) and len(again.calibration.networks) == len(NETS) + 1


def test_noisy_measurements_predict_held_out_networks_within_a_few_percent(tmp_path):
    base = load_sku("host-cpu")
    synthetic_measurements(tmp_path / "m.csv", apply_params(base, TRUTH), rng=np.random.default_rng(0))
    rows, _ = fitted(tmp_path / "m.csv", base)
    loo = leave_one_out(rows, base)
    assert len(loo) == len(rows) and loo["error_pct"].abs().mean() < 3.0


@pytest.mark.parametrize("sku", ["jetson-nano", "jetson-agx-xavier"])
def test_shipped_jetson_files_reproduce_the_published_rows_within_10_percent(sku):
    base = load_sku(sku)
    df = select_rows(read_measurements(PUBLISHED), sku, "published")
    for _, r in df.iterrows():
        from zoo import get_model
        pred = nominal_latency_ms(get_model(r["model"]).workload(), base, r["framework"])
        assert abs(pred / r["latency_ms"] - 1) < 0.10, (r["model"], r["framework"], pred, r["latency_ms"])


@pytest.mark.parametrize("sku", ["jetson-nano", "jetson-agx-xavier"])
def test_calibrating_on_the_published_rows_fits_them_within_10_percent(sku):
    base = load_sku(sku)
    rows = resolve_rows(select_rows(read_measurements(PUBLISHED), sku, "p"), base, PUBLISHED.parent, "p")
    cal = calibrate(rows, base, "p")
    assert cal.table["error_pct"].abs().max() < 10
    loo = leave_one_out(rows, base)  # networks not in the fit: looser, but sensible
    assert loo["error_pct"].abs().max() < 25


def test_physical_direction_on_the_host_cpu():
    """Threads + background beyond the cores slow it; a background core beside one thread does not."""
    from zoo import get_model

    sku, w = load_sku("host-cpu"), get_model("resnet18").workload()
    one, two = (nominal_latency_ms(w, sku, mode=m) for m in ("1-thread", "2-threads"))
    assert two < one
    assert nominal_latency_ms(w, sku, mode="2-threads", background_cores=1) > 1.3 * two
    assert nominal_latency_ms(w, sku, mode="1-thread", background_cores=1) < 1.05 * one


def test_calibrate_cli_writes_a_loadable_sku_and_reports_errors(tmp_path):
    out = tmp_path / "agx.yaml"
    r = twin("calibrate", PUBLISHED, "--sku", "jetson-agx-xavier", "--out", out, "--leave-one-out")
    assert r.returncode == 0, r.stderr
    assert "leave one network out: MAPE" in r.stdout and "fit: MAPE" in r.stdout
    sku = load_sku(out)
    assert sku.name == "jetson-agx-xavier" and sku.calibration.rows == 8
    assert yaml.safe_load(out.read_text())["calibration"]["measurements"] == "jetson_published_latency.csv"


@pytest.mark.parametrize("text, args, message", [
    ("sku,model,latency_ms\njetson-nano,resnet18,3\n", (), r"missing column\(s\) framework"),
    ("sku,model,framework,latency_ms\njetson-nano,resnet18,pytorch,-1\n", (), r"row 2: latency_ms must be a positive number"),
    ("sku,model,framework,latency_ms\njetson-nano,resnet9,pytorch,3\n", (), r"row 2: model: unknown model 'resnet9'"),
    ("sku,model,framework,latency_ms\njetson-nano,resnet18,pytorch,3\n", ("--sku", "jetson-tx9"), r"unknown SKU 'jetson-tx9'"),
    ("sku,model,framework,latency_ms\njetson-tx2,resnet18,pytorch,3\n", (), r"no rows for SKU 'jetson-nano'; the file has: jetson-tx2"),
    ("sku,model,framework,latency_ms\njetson-nano,resnet18,onnx,3\n", (), r"row 2: framework: 'onnx' is not a framework"),
    ("sku,model,framework,latency_ms,power_mode\njetson-nano,resnet18,pytorch,3,TURBO\n", (), r"row 2: power_mode: unknown power mode 'TURBO'"),
])
def test_calibrate_bad_input_exits_2_and_writes_nothing(tmp_path, text, args, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    out = tmp_path / "out.yaml"
    r = twin("calibrate", path, "--sku", "jetson-nano", *args, "--out", out)
    assert r.returncode == 2 and re.search(message, r.stderr), r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_predict_cli(tmp_path):
    r = twin("predict", "--sku", "jetson-nano", "--model", "resnet50", "--framework", "tensorrt", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["mode"] == "MAXN" and 0.9 * 29.8 < got["latency_ms"] < 1.1 * 29.8
    slow = json.loads(twin("predict", "--sku", "jetson-nano", "--model", "resnet50", "--mode", "5W", "--json").stdout)
    assert slow["latency_ms"] > json.loads(twin("predict", "--sku", "jetson-nano", "--model", "resnet50", "--json").stdout)["latency_ms"]
    (tmp_path / "p.json").write_text(json.dumps({"model": "resnet18", "widths": [32] * 8}))
    small = json.loads(twin("predict", "--sku", "host-cpu", "--model-file", tmp_path / "p.pt", "--json").stdout)
    full = json.loads(twin("predict", "--sku", "host-cpu", "--model", "resnet18", "--json").stdout)
    assert small["latency_ms"] < full["latency_ms"] and full["mode"] == "2-threads"
    r = twin("predict", "--sku", "host-cpu", "--model", "resnet18", "--mode", "8-threads")
    assert r.returncode == 2 and "unknown power mode '8-threads' of host-cpu" in r.stderr
    r = twin("predict", "--sku", "host-cpu")
    assert r.returncode == 2 and "exactly one of --model" in r.stderr


def test_a_fit_that_needs_an_impossible_clock_stops_at_the_physical_bound_and_says_so(tmp_path):
    """A 1-thread mode that only a 9 GHz CPU could explain: the fit stays at the SKU's clock plus
    boost headroom and warns, instead of reporting a clock no chip runs at."""
    from twin.calibration.calibrate import CLOCK_HEADROOM

    base = load_sku("host-cpu")
    synthetic_measurements(tmp_path / "m.csv", apply_params(base, {**TRUTH, "power_modes.1-thread.cpu_mhz": 9000.0}),
                           nets=NETS + [("resnet20", None)])
    _, cal = fitted(tmp_path / "m.csv", base)
    limit = max(m.cpu_mhz for m in base.power_modes.values()) * CLOCK_HEADROOM
    assert cal.params["power_modes.1-thread.cpu_mhz"][1] <= limit * 1.001
    assert any("power_modes.1-thread.cpu_mhz ended on its physical bound" in w for w in cal.warnings)
    assert cal.sku.calibration.warnings == cal.warnings


def test_rows_that_cannot_separate_two_terms_are_told_apart_from_rows_that_can(tmp_path):
    base = load_sku("host-cpu")
    same_depth = [("resnet56", None), ("resnet56", [8] * 27)]   # one depth: per-layer and per-call overhead move together
    synthetic_measurements(tmp_path / "a.csv", apply_params(base, TRUTH), nets=same_depth)
    _, cal = fitted(tmp_path / "a.csv", base)
    assert any("cannot separate" in w and "overhead_scale" in w and "call_overhead_us" in w for w in cal.warnings), \
        cal.warnings
    assert any("twin board-bench --random N" in w for w in cal.warnings)
    synthetic_measurements(tmp_path / "b.csv", apply_params(base, TRUTH), nets=NETS + [("resnet20", None)])
    _, good = fitted(tmp_path / "b.csv", base)
    assert not any("overhead_scale" in w and "call_overhead_us" in w for w in good.warnings), good.warnings


def test_predicting_in_a_mode_the_calibration_never_saw_warns(tmp_path):
    base = load_sku("host-cpu")
    one_thread = tmp_path / "one.csv"
    synthetic_measurements(tmp_path / "all.csv", apply_params(base, TRUTH))
    df = read_measurements(tmp_path / "all.csv")
    write_rows(one_thread, df[df["threads"] == 1].to_dict("records"))
    r = twin("calibrate", one_thread, "--sku", "host-cpu", "--out", tmp_path / "one.yaml")
    assert r.returncode == 0, r.stderr
    assert load_sku(tmp_path / "one.yaml").calibration.modes == ["1-thread"]
    default = twin("predict", "--sku", tmp_path / "one.yaml", "--model", "resnet20")     # the 2-thread mode
    assert default.returncode == 0 and "warning: host-cpu was calibrated on rows in mode(s) 1-thread; 2-threads had none" \
        in default.stderr
    seen = twin("predict", "--sku", tmp_path / "one.yaml", "--model", "resnet20", "--mode", "1-thread")
    assert seen.returncode == 0 and "warning" not in seen.stderr
