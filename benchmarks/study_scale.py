"""The clusters study at a million devices, and the simulation on a Dask LocalCluster beside one process.

1. ``hdap study clusters`` on scenarios/million.yaml at 1,000,000 devices, K = 1..64, one seed,
   on a LocalCluster of ``--workers`` processes: wall time and peak memory (target: <= 10 minutes).
2. The simulation of the same 1,000,000 devices over ``--days`` days in this one process and on a
   LocalCluster of ``--workers`` workers, side by side in one run: wall times and their ratio.
3. Streaming: 1 M and ``--stream-devices`` (default 10 M) devices for ``--stream-days`` days, every
   device's final state written to parquet block by block (as ``twin simulate`` does): peak
   memory of the main process and of the largest worker at both sizes, against the size of the
   fleet's state. Bounded memory means the two peaks are alike.

Each part runs in a fresh process of its own, so one part's peak is not another's leftover. Peak
memory is the largest resident set seen by sampling every 0.2 s: of the part's main process, of
each worker, and of all of them together.

    python benchmarks/study_scale.py [--devices 1e6] [--workers 2] [--days 730] [--only study|simulation|stream]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from twin.executor import Executor
from twin.scenario import load_scenario
from twin.simulation import device_frame, simulate

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "million.yaml"


class PeakMemory:
    """Peak resident memory (GB) of this process, of its largest descendant, and of all together."""

    def __init__(self, every_s: float = 0.2):
        self.every_s = every_s
        self.main = self.child = self.total = 0.0

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                kids = [p.memory_info().rss for p in me.children(recursive=True)]
            except psutil.Error:
                kids = []
            main = me.memory_info().rss
            self.main, self.child = max(self.main, main / 1e9), max([self.child] + [k / 1e9 for k in kids])
            self.total = max(self.total, (main + sum(kids)) / 1e9)
            self._stop.wait(self.every_s)

    def __enter__(self) -> "PeakMemory":
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def __str__(self) -> str:
        return (f"peak RSS main {self.main:.2f} GB, largest worker {self.child:.2f} GB, "
                f"all processes {self.total:.2f} GB")


def clusters(devices: int, workers: int) -> None:
    from hdap.config import RunConfig
    from hdap.study.clusters import clusters_study

    scenario = RunConfig.of(SCENARIO)
    ks = [1, 2, 4, 8, 16, 32, 64]
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        with Executor(workers) as ex:
            df = clusters_study(scenario, ks, [devices], 1, ex)
        wall = time.perf_counter() - t0
    print(f"clusters study, {devices:,} devices, K {ks}, 1 seed, LocalCluster of {workers} workers: "
          f"{wall:.0f} s ({wall / 60:.1f} min; target <= 10 min: {'met' if wall <= 600 else 'MISSED'}); {mem}")
    print(df[["k", "mean_error_pct", "p95_error_pct", "device_error_pct", "profiling_device_h", "gap_to_oracle_pct"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def simulation(devices: int, days: int, workers: int) -> None:
    scenario = load_scenario(SCENARIO).with_overrides(devices=devices, days=days)
    walls = {}
    for n in (1, workers):
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            with Executor(n) as ex:
                result = simulate(scenario, executor=ex)
            walls[n] = time.perf_counter() - t0
        where = "this process" if n == 1 else f"LocalCluster of {n} workers"
        print(f"simulation {devices:,} devices x {days} days, {where}: {walls[n]:.1f} s "
              f"({devices * days / walls[n] / 1e6:.1f} M device-days/s, cluster start-up included); {mem}; "
              f"final mean latency {result.history['latency_ms_mean'].iloc[-1]:.4f} ms")
    print(f"speed-up LocalCluster({workers}) / one process: {walls[1] / walls[workers]:.2f}x")


def stream(devices: int, days: int, workers: int) -> None:
    import pyarrow.parquet as pq

    from testbed.io import ParquetStream

    scenario = load_scenario(SCENARIO).with_overrides(devices=devices, days=days)
    sku, zones = scenario.sku_model(), scenario.environment.zone_names
    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as mem:
        path = Path(tmp) / "devices.parquet"
        t0 = time.perf_counter()
        with Executor(workers) as ex, ParquetStream(path) as out:
            simulate(scenario, executor=ex, keep_devices=False,
                     on_block=lambda final, snaps: out.write(device_frame(final, sku, zones)))
        wall = time.perf_counter() - t0
        rows, size = pq.ParquetFile(path).metadata.num_rows, path.stat().st_size / 1e9
    state_gb = devices * 27 * 4 / 1e9  # ~27 per-device arrays of 4 bytes (some are 1, 2 or 8)
    print(f"streamed {devices:,} devices x {days} days on {workers} workers to parquet in {wall:.0f} s: {rows:,} rows, "
          f"{size:.2f} GB on disk; the fleet's state is ~{state_gb:.1f} GB in memory; {mem}")


PARTS = ("study", "simulation", "stream")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=float, default=1e6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--days", type=int, default=730, help="simulation comparison (default: the scenario's 730)")
    ap.add_argument("--stream-devices", type=float, default=1e7)
    ap.add_argument("--stream-days", type=int, default=30)
    ap.add_argument("--only", choices=PARTS, help="run one part in this process (default: each in a fresh one)")
    args = ap.parse_args()
    if args.only is None:
        for part in PARTS:
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--only", part], check=True)
    elif args.only == "study":
        clusters(int(args.devices), args.workers)
    elif args.only == "simulation":
        simulation(int(args.devices), args.days, args.workers)
    else:
        for n in (int(args.devices), int(args.stream_devices)):
            stream(n, args.stream_days, args.workers)


if __name__ == "__main__":
    main()
