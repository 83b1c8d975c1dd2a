"""Where work runs never changes a number: this process, a Dask LocalCluster, a dying worker."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from twin.executor import Executor
from twin.scenario import load_scenario
from twin.simulation import BLOCK_SIZE, device_frame, simulate


def _square(x, offset):
    return x * x + offset


def _die_once(x, marker_dir):
    """Kills its worker process the first time it sees ``x == 3``."""
    marker = os.path.join(marker_dir, f"died-{x}")
    if x == 3 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return x * 10


@pytest.fixture(scope="module")
def cluster():
    with Executor(workers=2) as ex:
        yield ex


def test_results_come_back_in_input_order_wherever_they_ran(cluster):
    serial = list(Executor(workers=1).map(_square, range(20), 5))
    assert serial == [x * x + 5 for x in range(20)]
    assert list(cluster.map(_square, range(20), cluster.share(5))) == serial
    assert cluster.n_workers == 2 and "LocalCluster of 2" in cluster.where


def test_an_existing_cluster_is_reached_by_its_scheduler_address(cluster):
    address = cluster.client.scheduler.address
    with Executor(scheduler=address) as ex:
        assert list(ex.map(_square, range(5), 1)) == [x * x + 1 for x in range(5)]
        assert ex.n_workers == 2 and address in ex.where


def test_a_worker_that_dies_mid_task_loses_nothing_and_counts_nothing_twice(cluster, tmp_path):
    out = list(cluster.map(_die_once, range(8), str(tmp_path)))
    assert out == [x * 10 for x in range(8)]
    assert (tmp_path / "died-3").exists()  # the worker really died, and its task ran again elsewhere


def test_simulation_is_the_same_in_process_and_on_a_local_cluster(write_scenario, cluster):
    scenario = load_scenario(write_scenario(devices=BLOCK_SIZE + 500, days=6))
    one = simulate(scenario, workers=1)
    two = simulate(scenario, executor=cluster)
    pd.testing.assert_frame_equal(one.devices_frame(), two.devices_frame())
    pd.testing.assert_frame_equal(one.history, two.history)


def test_simulation_is_the_same_on_worker_threads(write_scenario):
    """Local workers are threads (the kernel releases the GIL): blocks finish out of order, the
    outputs keep block order."""
    scenario = load_scenario(write_scenario(devices=3 * BLOCK_SIZE + 77, days=5))
    one = simulate(scenario, workers=1)
    for threads in (2, 3):
        many = simulate(scenario, workers=threads)
        pd.testing.assert_frame_equal(one.devices_frame(), many.devices_frame())
        pd.testing.assert_frame_equal(one.history, many.history)


def test_streamed_blocks_are_the_whole_fleet_and_nothing_is_kept(write_scenario):
    scenario = load_scenario(write_scenario(devices=2 * BLOCK_SIZE + 10, days=3))
    parts = []
    streamed = simulate(scenario, keep_devices=False, snapshot_days=(1,),
                        on_block=lambda final, snaps: parts.append((final, snaps[1])))
    kept = simulate(scenario, snapshot_days=(1,))
    assert streamed.final is None and streamed.snapshots == {} and len(parts) == 3
    frames = pd.concat([device_frame(f, kept.final.sku, kept.final.zone_names) for f, _ in parts], ignore_index=True)
    pd.testing.assert_frame_equal(frames, kept.devices_frame())
    np.testing.assert_array_equal(np.concatenate([s.latency_ms for _, s in parts]), kept.snapshots[1].state.latency_ms)
    pd.testing.assert_frame_equal(streamed.history, kept.history)


def test_unreachable_scheduler_is_one_clear_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "twin.cli", "simulate", "scenarios/quickstart.yaml", "--days", "2",
                        "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "--scheduler: cannot reach a Dask scheduler at 'tcp://127.0.0.1:1'" in r.stderr
    assert list(tmp_path.iterdir()) == []
