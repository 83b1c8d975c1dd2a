"""The board harness runs with torch alone and leaves no background load behind."""

import subprocess
import sys
import time

import torch

from conftest import REPO
from twin.calibration.board_bench import background_load, board_clocks, pin_allocator, time_module, time_modules
from twin.calibration.measurement_csv import read_measurements

# Run the CLI with simpy, pandas, scikit-learn, scipy, PyYAML and matplotlib made unimportable, as on a bare board.
BARE = ("import sys\nfor m in ('pandas', 'simpy', 'sklearn', 'scipy', 'seaborn', 'yaml', 'matplotlib'): sys.modules[m] = None\n"
        "from twin.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def test_board_bench_runs_with_torch_alone_and_writes_the_format(tmp_path):
    out = tmp_path / "m.csv"
    r = subprocess.run([sys.executable, "-c", BARE, "board-bench", "--model", "resnet20", "--random", "1",
                        "--sku", "host-cpu", "--board-id", "b7", "--threads", "1,2", "--background", "0,0.5",
                        "--warmup", "1", "--repeats", "3", "--out", out], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    df = read_measurements(out)
    assert len(df) == 2 * 2 * 2  # networks x threads x background
    assert set(df["threads"]) == {1, 2} and set(df["background_cores"]) == {0.0, 0.5}
    assert (df["board_id"] == "b7").all() and (df["repeats"] == 3).all() and (df["latency_ms"] > 0).all()
    assert df["torch_version"].str.len().min() > 0 and len(set(df["arch_hash"])) == 2
    for _, row in df.iterrows():  # the median of the raw repeats
        raw = sorted(float(v) for v in row["raw_ms"].split(";"))
        assert len(raw) == 3 and abs(raw[1] - row["latency_ms"]) < 1e-3


def test_background_load_processes_are_gone_afterwards():
    with background_load(2) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
    assert all(p.poll() is not None for p in procs)
    with background_load(1.5) as procs:
        assert len(procs) == 2
    with background_load(0) as procs:
        assert procs == []


def test_fractional_background_load_keeps_that_share_of_a_core_busy():
    import psutil

    with background_load(0.5) as procs:
        child = psutil.Process(procs[0].pid)
        before = sum(child.cpu_times()[:2])
        time.sleep(2.0)
        busy = (sum(child.cpu_times()[:2]) - before) / 2.0
    assert 0.25 < busy < 0.75  # half a core, give or take the scheduler


def test_networks_are_timed_in_interleaved_rounds():
    from zoo import get_model

    zoo = get_model("resnet20")
    calls = []

    class Counted(torch.nn.Module):
        def __init__(self, tag):
            super().__init__()
            self.tag, self.net = tag, zoo.module(seed=0)

        def forward(self, x):
            calls.append(self.tag)
            return self.net(x)

    times = time_modules([Counted("a"), Counted("b")], [zoo.input_shape] * 2, threads=1, warmup=1, repeats=4)
    assert [len(t) for t in times] == [4, 4] and min(min(t) for t in times) > 0
    # warm-up, then rounds: one untimed run and up to three timed runs of each network in turn
    assert "".join(calls) == "ab" + "aaaa" + "bbbb" + "aa" + "bb"


def test_allocator_is_pinned_on_glibc():
    import platform

    assert pin_allocator() is (platform.libc_ver()[0] == "glibc")


def test_time_module_times_warmup_apart():
    from zoo import get_model

    zoo, before = get_model("resnet20"), torch.get_num_threads()
    times = time_module(zoo.module(seed=0), zoo.input_shape, threads=1 if before > 1 else 2, warmup=2, repeats=4)
    assert len(times) == 4 and min(times) > 0 and torch.get_num_threads() == before
    assert "cpu_mhz=" in board_clocks() or board_clocks() == ""


def test_board_bench_input_errors(tmp_path):
    def bench(*args):
        return subprocess.run([sys.executable, "-m", "twin.cli", "board-bench", "--sku", "host-cpu", *map(str, args)],
                              capture_output=True, text=True, cwd=REPO)
    out = tmp_path / "m.csv"
    r = bench("--out", out)
    assert r.returncode == 2 and "give at least one --model" in r.stderr
    r = bench("--model", "resnet20", "--widths", "1,2", "--out", out)
    assert r.returncode == 2 and "resnet20 has 9 prunable units" in r.stderr and "Traceback" not in r.stderr
    r = bench("--model-file", tmp_path / "none.pt", "--out", out)
    assert r.returncode == 2 and "none.pt not found" in r.stderr
    assert not out.exists()
