"""``hdap validate``: predicted against measured, held-out networks told apart, a report written."""

import subprocess
import sys

import pandas as pd
from test_calibrate import NETS, synthetic_measurements

from conftest import REPO
from twin.calibration.calibrate import calibrate, resolve_rows
from twin.calibration.measurement_csv import read_measurements
from twin.calibration.sku_file import write_sku
from twin.sku import load_sku


def hdap(*args):
    return subprocess.run([sys.executable, "-m", "hdap.cli", *map(str, args)], capture_output=True, text=True, cwd=REPO)


def test_validate_reports_mape_on_held_out_networks(tmp_path):
    base = load_sku("host-cpu")
    synthetic_measurements(tmp_path / "cal.csv", base, NETS[:4])
    cal = calibrate(resolve_rows(read_measurements(tmp_path / "cal.csv"), base, tmp_path, "c"), base, "cal.csv")
    write_sku(cal.sku, tmp_path / "sku.yaml")
    held_out = [("resnet18", [16, 16, 32, 32, 64, 64, 128, 128]), ("resnet18", None)]
    synthetic_measurements(tmp_path / "new.csv", base, held_out)
    out = tmp_path / "report"
    r = hdap("validate", tmp_path / "new.csv", "--sku", tmp_path / "sku.yaml", "--out", out)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["predicted_vs_measured.png", "report.md", "summary.csv",
                                                      "validation.csv"]
    rows = pd.read_csv(out / "validation.csv")
    assert len(rows) == 8 and set(rows["set"]) == {"held out", "calibration"}  # full ResNet-18 was in the fit
    assert rows.loc[rows["set"] == "held out", "arch_hash"].nunique() == 1
    assert rows["error_pct"].abs().max() < 1.0  # the measurements follow the base SKU exactly
    summary = pd.read_csv(out / "summary.csv")
    assert {"2-threads", "2-threads + 1 bg", "1-thread", "all"} <= set(summary["configuration"])
    assert "MAPE" in r.stdout or "mape_pct" in r.stdout
    assert "held out" in (out / "report.md").read_text()


def test_validate_bad_input_exits_2_and_writes_nothing(tmp_path):
    (tmp_path / "m.csv").write_text("sku,model,framework,latency_ms\nhost-cpu,resnet18,pytorch,0\n")
    out = tmp_path / "report"
    r = hdap("validate", tmp_path / "m.csv", "--sku", "host-cpu", "--out", out)
    assert r.returncode == 2 and "latency_ms must be a positive number" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    r = hdap("validate", tmp_path / "none.csv", "--sku", "host-cpu", "--out", out)
    assert r.returncode == 2 and "none.csv: measurement file not found" in r.stderr
