"""End-to-end runs of the ``twin`` CLI: outputs, and every schema error path."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from testbed.errors import InputError

BASE = "name: e\nfleet: {sku: jetson-nano, devices: 100}\ntime: {start: 2026-01-01, days: 5}\n"


def twin(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "twin.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_simulate_writes_devices_history_and_run_record(tmp_path):
    out = tmp_path / "run"
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 300, "--days", 20, "--seed", 5, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "300 x jetson-nano devices, 20 days" in r.stdout and "latency mean" in r.stdout
    devices = pd.read_parquet(out / "devices.parquet")
    history = pd.read_parquet(out / "history.parquet")
    assert len(devices) == 300 and len(history) == 20
    assert {"device_id", "silicon_speed", "power_mode", "battery_health", "latency_ms"} <= set(devices.columns)
    assert {"day", "date", "latency_ms_p95", "battery_health_mean", "thermal_throttled_frac"} <= set(history.columns)
    record = json.loads((out / "run.json").read_text())
    assert record["seed"] == 5 and record["scenario"]["fleet"]["devices"] == 300
    assert sorted(p.name for p in out.iterdir()) == ["devices.parquet", "history.parquet", "run.json"]


def test_same_seed_same_bytes_across_worker_counts(tmp_path):
    from twin.simulation import BLOCK_SIZE
    scenario = REPO / "scenarios" / "quickstart.yaml"
    args = ("--devices", BLOCK_SIZE + 500, "--days", 6)
    assert twin("simulate", scenario, *args, "--out", tmp_path / "one").returncode == 0
    assert twin("simulate", scenario, *args, "--workers", 2, "--out", tmp_path / "two").returncode == 0
    for f in ("devices.parquet", "history.parquet"):
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes()


def test_skus_lists_the_catalogue():
    r = twin("skus", "--json")
    assert r.returncode == 0
    names = [s["name"] for s in json.loads(r.stdout)]
    assert names == ["host-cpu", "jetson-agx-orin", "jetson-agx-xavier", "jetson-nano", "jetson-orin-nano",
                     "jetson-orin-nx", "jetson-xavier-nx", "kria-k26-dpu", "zcu102-dpu", "zcu104-dpu"]


def test_console_scripts_are_installed():
    for script in ("twin", "hdap"):
        path = shutil.which(script)
        assert path, f"{script} console script missing: pip install -e . first"
    assert "jetson-nano" in subprocess.run(["twin", "skus"], capture_output=True, text=True).stdout


BAD = {
    "unknown_key": (BASE + "fleet_size: 3\n", r"unknown_key.yaml: fleet_size: unknown key; allowed keys: .*fleet"),
    "unknown_nested_key": (BASE.replace("devices: 100", "devices: 100, colour: red"),
                           r"fleet.colour: unknown key; allowed keys: battery, devices, framework, precision, sku"),
    "wrong_type": (BASE.replace("devices: 100", "devices: lots"), r"fleet.devices: .*valid integer.*'lots'"),
    "zero_count": (BASE.replace("devices: 100", "devices: 0"), r"fleet.devices: .*greater than 0, got 0"),
    "negative_days": (BASE.replace("days: 5", "days: -5"), r"time.days: .*greater than 0, got -5"),
    "unknown_sku": (BASE.replace("jetson-nano", "jetson-tx9"), r"fleet.sku: unknown SKU 'jetson-tx9'.*jetson-nano"),
    "unknown_mode": (BASE + "drift: {power_modes: {initial: {TURBO: 1}}}\n",
                     r"drift.power_modes.initial.TURBO: unknown power mode of jetson-nano; allowed: MAXN, 5W"),
    "unknown_framework": (BASE.replace("jetson-nano", "host-cpu").replace("devices: 100", "devices: 100, framework: tensorrt"),
                          r"fleet.framework: 'tensorrt' is not available on host-cpu; allowed: pytorch"),
    "unknown_zone": (BASE + "environment: {climate_mix: {arctic: 1}}\n", r"environment.climate_mix: unknown zone\(s\) arctic"),
    "malformed_yaml": ("name: e\nfleet: {sku: jetson-nano, devices: 10\ntime: [\n", r"malformed YAML at line \d+"),
    "not_a_mapping": ("- just\n- a list\n", r"must be a YAML mapping"),
    "missing_workload": (BASE + "deployment: {workload: nothere.csv}\n", r"deployment.workload: .*nothere.csv: workload table not found"),
    "huge_fleet": (BASE.replace("devices: 100", "devices: 1e12"), r"fleet.devices: .*less than or equal to 1000000000"),
    "fractional_fleet": (BASE.replace("devices: 100", "devices: 2.5"), r"fleet.devices: .*fractional part"),
    "ten_years_at_most": (BASE.replace("days: 5", "days: 306742"), r"time.days: .*less than or equal to 3653"),
    "infinite_share": (BASE + "drift: {power_modes: {initial: {MAXN: .inf}}}\n",
                       r"drift.power_modes.initial.MAXN: .*finite number"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenarios_fail_cleanly_and_write_nothing(tmp_path, case):
    text, pattern = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    r = twin("simulate", path, "--out", out)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr.startswith("twin: error: ") and str(path.name) in r.stderr
    assert re.search(pattern, r.stderr), r.stderr
    assert not out.exists()


def test_missing_scenario_file(tmp_path):
    r = twin("simulate", tmp_path / "nope.yaml", "--out", tmp_path / "out")
    assert r.returncode == 2 and "nope.yaml: scenario file not found" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_fleet_sizes_are_spelled_alike_in_yaml_and_on_the_command_line(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text(BASE.replace("devices: 100", "devices: 1e2"))
    r = twin("simulate", path, "--days", 2, "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert len(pd.read_parquet(tmp_path / "out" / "devices.parquet")) == 100


@pytest.mark.parametrize("flag,value", [("--devices", "0"), ("--days", "-3"), ("--devices", "many"), ("--seed", "x"),
                                        ("--devices", "1e400"), ("--devices", "1e12"), ("--devices", "2.7"),
                                        ("--days", "inf"), ("--devices", "nan")])
def test_impossible_cli_overrides(tmp_path, flag, value):
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", flag, value, "--out", tmp_path / "out")
    assert r.returncode == 2 and f"argument {flag}" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_days_beyond_ten_years_are_refused_before_any_work(tmp_path):
    """306,742 days of 100 devices ran out of 24 GB (found by tests/test_fuzz.py)."""
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--days", "5000", "--out", tmp_path / "out")
    assert r.returncode == 2 and "--days: at most 3653 (ten years), got 5000" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_snapshots_are_written_per_day(tmp_path):
    out = tmp_path / "run"
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 100, "--days", 10,
             "--snapshots", "0,5", "--out", out)
    assert r.returncode == 0, r.stderr
    snaps = pd.read_parquet(out / "snapshots.parquet")
    assert list(snaps.columns[:2]) == ["day", "device_id"] and len(snaps) == 200
    assert sorted(snaps["day"].unique()) == [0, 5]
    late = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--days", 10, "--snapshots", "12",
                "--out", tmp_path / "late")
    assert late.returncode == 2 and "--snapshots: day(s) 12 are past the run's last day 9" in late.stderr
    assert not (tmp_path / "late").exists()


def test_latency_prints_the_fleet_distribution(tmp_path):
    scenario = REPO / "scenarios" / "quickstart.yaml"
    full = twin("latency", scenario, "--model", "resnet50", "--devices", 300, "--day", 3, "--json")
    assert full.returncode == 0, full.stderr
    stats = json.loads(full.stdout)
    assert {"mean_ms", "p50_ms", "p95_ms", "p99_ms", "devices"} <= set(stats) and stats["devices"] == 300
    assert stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
    half = json.loads(twin("latency", scenario, "--model", "resnet50", "--devices", 300, "--day", 3, "--json",
                           "--rates", ",".join(["0.5"] * 16)).stdout)
    assert half["mean_ms"] < 0.8 * stats["mean_ms"] and half["flops"] < 0.5 * stats["flops"]
    text = twin("latency", scenario, "--model", "mobilenet_v2", "--devices", 50)
    assert text.returncode == 0 and "p95" in text.stdout


@pytest.mark.parametrize("args,message", [(("--model", "resnet9"), "unknown model 'resnet9'"),
                                          (("--model", "resnet50", "--rates", "0.5,0.5"), "16 prunable units, got 2 rates"),
                                          (("--model", "resnet50", "--day", "-1"), "simulates days 0 to 89"),
                                          (("--model", "resnet50", "--day", "90"), "simulates days 0 to 89 (time.days 90)"),
                                          (("--model", "resnet50", "--day", "1000000000"), "got 1000000000"),
                                          (("--model", "resnet20", "--rates", "0.1,nan"), "finite numbers")])
def test_latency_errors(args, message):
    r = twin("latency", REPO / "scenarios" / "quickstart.yaml", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_hdap_models_json():
    r = subprocess.run([sys.executable, "-m", "hdap.cli", "models", "--json"], capture_output=True, text=True)
    assert r.returncode == 0
    models = {m["name"]: m for m in json.loads(r.stdout)}
    assert models["resnet50"]["input_shape"] == [3, 224, 224]
    assert models["resnet50"]["params"] == 25_557_032 and models["resnet50"]["flops"] == pytest.approx(4.09e9, rel=0.01)
    assert models["yolov8n"]["params"] == 3_157_200 and models["yolov8n"]["input_shape"] == [3, 640, 640]
    assert all(isinstance(m["params"], int) and isinstance(m["flops"], float) for m in models.values())


def test_input_size_wherever_a_model_is_named(write_scenario, tmp_path):
    """--input-size on the CLIs, deployment.input_size in scenarios: the workload follows the pixels."""
    path = write_scenario("deployment: {workload: yolov8n, input_size: 320}\n", devices=50, days=2)
    at = {n: json.loads(twin("latency", path, "--model", "yolov8n", "--input-size", n, "--day", 1, "--workers", 1,
                             "--json").stdout) for n in (320, 640)}
    assert at[640]["flops"] == pytest.approx(4 * at[320]["flops"], rel=0.01) and at[640]["mean_ms"] > at[320]["mean_ms"]
    r = twin("simulate", path, "--out", tmp_path / "sim", "--workers", 1)
    assert r.returncode == 0, r.stderr
    history = pd.read_parquet(tmp_path / "sim" / "history.parquet")
    assert history["latency_ms_mean"].iloc[-1] == pytest.approx(at[320]["mean_ms"], rel=1e-6)
    predict = {n: json.loads(twin("predict", "--sku", "jetson-nano", "--model", "yolov8s", "--input-size", n,
                                  "--json").stdout)["latency_ms"] for n in (160, 480)}
    assert predict[480] > 2 * predict[160]  # 9x the pixels; per-layer overhead does not grow
    bad = write_scenario("deployment: {workload: yolov8n, input_size: 300}\n", name="bad", devices=50, days=2)
    for r in (twin("simulate", bad, "--out", tmp_path / "bad"),
              twin("predict", "--sku", "jetson-nano", "--model", "vgg16", "--input-size", 448),
              twin("latency", path, "--model", "yolov8n", "--input-size", 33, "--workers", 1)):
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "bad.yaml: deployment.input_size: yolov8n: input size must be a multiple of 32" in \
        twin("simulate", bad, "--out", tmp_path / "bad").stderr
    assert not (tmp_path / "bad").exists()


def test_out_where_nothing_can_be_made_is_refused_even_for_root(tmp_path):
    """Permission bits do not tell (root may write anywhere they allow): the place is tried."""
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 50, "--days", 2, "--out", "/proc/nope/x")
    assert r.returncode == 2 and "--out: cannot create /proc/nope/x" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("make", ["file", "under_a_file"])
def test_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, make):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    out = blocker if make == "file" else blocker / "run"
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 50, "--days", 2, "--out", out)
    assert r.returncode == 2 and "--out:" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""
    assert blocker.read_text() == "not a folder"
    hdap = subprocess.run([sys.executable, "-m", "hdap.cli", "run", REPO / "scenarios" / "quickstart.yaml",
                           "--out", out], capture_output=True, text=True)
    assert hdap.returncode == 2 and "--out:" in hdap.stderr and "Traceback" not in hdap.stderr
    assert "train" not in hdap.stderr  # refused before simulating or training anything


@pytest.mark.parametrize("command", [
    ("twin.cli", "simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", "2e6", "--days", "300"),  # threads
    ("hdap.cli", "study", "clusters", REPO / "scenarios" / "quickstart.yaml", "--devices", "3e5", "--k", "1,2,4,8",
     "--seeds", "4"),  # Dask worker processes; it writes its folder at the end
], ids=["simulate-threads", "study-dask-processes"])
def test_ctrl_c_at_a_terminal_stops_the_workers_quietly(tmp_path, command):
    """Ctrl-C reaches the whole process group: Dask workers ignore it and the main process closes
    them; worker threads finish their block and the blocks not started are dropped. One line, 130,
    nothing left behind."""
    import os
    import signal
    import time

    import psutil

    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", *command, "--workers", "2", "--out", out],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=_sigint_as_at_a_terminal)
    if command[1] == "simulate":
        _writing(out)
    else:  # the Dask workers are up
        deadline = time.monotonic() + 120
        while len(psutil.Process(p.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    time.sleep(4)  # the workers are busy (either run takes a minute)
    os.killpg(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=120)
    prog = command[0].split(".")[0]  # twin or hdap
    assert p.returncode == 130 and "Traceback" not in err and err.strip().splitlines()[-1] == f"{prog}: interrupted", err
    assert not out.exists() and not list(tmp_path.glob(".run.*"))


def _sigint_as_at_a_terminal():
    """In the child, before exec: Ctrl-C's default disposition, as at a terminal. A shell's
    background job starts with SIGINT ignored, the tests under it too, and a child inherits that
    (then Python never installs its handler, and the signal is lost)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _writing(folder, timeout=120):
    """Wait until a run is writing into ``folder`` (its temporary exists beside it)."""
    import time

    deadline = time.monotonic() + timeout
    while not list(folder.parent.glob(f".{folder.name}.*.*")) and time.monotonic() < deadline:
        time.sleep(0.2)


def _slow_simulation(out):
    return subprocess.Popen([sys.executable, "-m", "twin.cli", "simulate", REPO / "scenarios" / "quickstart.yaml",
                             "--devices", "2e5", "--days", "300", "--workers", "1", "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_output_folder_is_always_one_whole_run(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    quick = ("--devices", 100, "--days", 3, "--workers", 1, "--out", out)
    # a run with snapshots, then one without: no stale snapshots.parquet from the first
    assert twin("simulate", REPO / "scenarios" / "quickstart.yaml", *quick, "--snapshots", "1").returncode == 0
    assert (out / "snapshots.parquet").is_file()
    assert twin("simulate", REPO / "scenarios" / "quickstart.yaml", *quick).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["devices.parquet", "history.parquet", "run.json"]
    # a second writer while the first runs is refused, and the first finishes whole
    first = _slow_simulation(out)
    _writing(out)
    second = twin("simulate", REPO / "scenarios" / "quickstart.yaml", *quick)
    assert second.returncode == 2 and "another run is writing" in second.stderr and "Traceback" not in second.stderr
    assert first.wait(timeout=300) == 0
    assert len(pd.read_parquet(out / "devices.parquet")) == 200_000
    # a run killed mid-write leaves its temporary; the next run removes it and the folder stays whole
    killed = _slow_simulation(out)
    _writing(out)
    time.sleep(1)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert list(tmp_path.glob(".run.*.*")) and len(pd.read_parquet(out / "devices.parquet")) == 200_000
    assert twin("simulate", REPO / "scenarios" / "quickstart.yaml", *quick).returncode == 0
    assert not list(tmp_path.glob(".run.*")) and len(pd.read_parquet(out / "devices.parquet")) == 100


def test_a_run_killed_at_any_point_leaves_a_whole_run_or_none(tmp_path):
    """SIGKILL or SIGINT at seeded random points from start to finish: the output folder is one
    whole run or absent, Ctrl-C answers with one line and 130, and the next run succeeds whole."""
    import signal
    import time

    rng = np.random.default_rng(7)
    out = tmp_path / "run"
    args = [sys.executable, "-m", "twin.cli", "simulate", REPO / "scenarios" / "quickstart.yaml",
            "--devices", "3e4", "--days", "60", "--workers", "1", "--out", out]
    for sig in [signal.SIGKILL, signal.SIGINT] * 2:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=_sigint_as_at_a_terminal)
        time.sleep(rng.uniform(0.5, 5.0))
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
        assert "Traceback" not in err, err
        if p.returncode == -signal.SIGINT:  # landed after the run, while Python shut down with default handlers
            assert not err and out.exists(), err
        elif sig == signal.SIGINT and p.returncode != 0:
            assert p.returncode == 130 and err.strip().splitlines()[-1] == "twin: interrupted", err
        if out.exists():  # a whole run: its record and every device
            assert json.loads((out / "run.json").read_text())["scenario"]["fleet"]["devices"] == 30_000
            assert len(pd.read_parquet(out / "devices.parquet")) == 30_000
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 100, "--days", 3, "--workers", 1,
             "--out", out)
    assert r.returncode == 0 and len(pd.read_parquet(out / "devices.parquet")) == 100
    assert not list(tmp_path.glob(".run.*"))  # the killed runs' temporaries are gone


def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 50, "--days", 2, "--out", tmp_path)
    assert r.returncode == 2 and "not a run's output (no run.json)" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_simulate_runs_its_blocks_on_threads_of_every_core_by_default_and_the_bytes_do_not_change(tmp_path):
    import os

    for args, expected in (((), os.cpu_count()), (("--workers", "1"), 1), (("--workers", "3"), 3)):
        out = tmp_path / f"w{expected}"
        r = twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 70_000, "--days", 5, *args,
                 "--out", out)
        assert r.returncode == 0, r.stderr
        assert json.loads((out / "run.json").read_text())["workers"] == expected
    for name in ("devices.parquet", "history.parquet"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w3" / name).read_bytes()


def test_outputs_get_the_modes_of_files_the_user_makes(tmp_path):
    import os
    import stat

    out = tmp_path / "run"
    assert twin("simulate", REPO / "scenarios" / "quickstart.yaml", "--devices", 50, "--days", 2, "--out", out).returncode == 0
    (tmp_path / "ref.txt").write_text("x")
    (tmp_path / "ref").mkdir()
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(out) == mode(tmp_path / "ref")
    assert {mode(p) for p in out.iterdir()} == {mode(tmp_path / "ref.txt")}


def test_bundled_scenarios_run_by_name_from_any_directory(tmp_path):
    for name in ("quickstart", "quickstart.yaml", "scenarios/quickstart.yaml"):
        r = subprocess.run([sys.executable, "-m", "twin.cli", "simulate", name, "--devices", "50", "--days", "2",
                            "--out", "o"], capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "twin.cli", "simulate", "no-such-fleet", "--out", "p"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "no-such-fleet: scenario file not found; bundled scenarios" in r.stderr
    assert "quickstart" in r.stderr and not (tmp_path / "p").exists()


def test_a_fleet_that_cannot_be_held_in_memory_is_refused_before_any_work():
    from twin.scenario import load_scenario
    from twin.simulation import check_memory

    scenario = load_scenario(REPO / "scenarios" / "million.yaml")
    check_memory(scenario, available=10**12)
    with pytest.raises(InputError, match=r"million.yaml: fleet.devices: holding 1,000,000 devices needs about "
                                         r"0.2\d* GB .* this machine has 0.1 GB available.*twin simulate. streams"):
        check_memory(scenario, available=10**8)
