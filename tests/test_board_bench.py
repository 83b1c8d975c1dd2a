"""The board harness runs with torch alone and leaves no background load behind."""

import subprocess
import sys

from conftest import REPO

from twin.bench_csv import read_measurements
from twin.board_bench import background_load, board_clocks, time_module

# Run the CLI with simpy, pandas, scikit-learn and scipy made unimportable, as on a bare board.
BARE = ("import sys\nfor m in ('pandas', 'simpy', 'sklearn', 'scipy', 'seaborn'): sys.modules[m] = None\n"
        "from twin.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def test_board_bench_runs_with_torch_alone_and_writes_the_format(tmp_path):
    out = tmp_path / "m.csv"
    r = subprocess.run([sys.executable, "-c", BARE, "board-bench", "--model", "resnet20", "--random", "1",
                        "--sku", "host-cpu", "--board-id", "b7", "--threads", "1,2", "--background", "0,1",
                        "--warmup", "1", "--repeats", "3", "--out", out], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    df = read_measurements(out)
    assert len(df) == 2 * 2 * 2  # networks x threads x background
    assert set(df["threads"]) == {1, 2} and set(df["background_cores"]) == {0.0, 1.0}
    assert (df["board_id"] == "b7").all() and (df["repeats"] == 3).all() and (df["latency_ms"] > 0).all()
    assert df["torch_version"].str.len().min() > 0 and len(set(df["arch_hash"])) == 2
    for _, row in df.iterrows():  # the median of the raw repeats
        raw = sorted(float(v) for v in row["raw_ms"].split(";"))
        assert len(raw) == 3 and abs(raw[1] - row["latency_ms"]) < 1e-3


def test_background_load_processes_are_gone_afterwards():
    with background_load(2) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
    assert all(p.poll() is not None for p in procs)


def test_time_module_times_warmup_apart():
    from hdap.zoo import get_model

    import torch

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
