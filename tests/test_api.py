"""The public API of each package is pinned: changing it is a decision, not an accident.

And the notebook API works as the README shows it: ``hdap.run`` with ``summary()``,
``twin.simulate`` and ``twin.fleet_latency``, each on a scenario path or a loaded scenario.
"""

import matplotlib
import numpy as np
import pandas as pd
import pytest

import hdap
import testbed
import twin
import zoo


def test_public_apis():
    assert sorted(testbed.__all__) == ["InputError", "Streams"]
    assert sorted(zoo.__all__) == sorted(["DROP_GENE", "INT8_GENE", "PRECISIONS", "ZooModel", "get_model", "model_names", "PrunedSpec", "Workload",
                                          "LAYER_KINDS", "layer_costs", "read_workload", "resolve_workload",
                                          "trace_workload"])
    assert sorted(twin.__all__) == sorted([
        "InputError", "FleetSnapshot", "FleetState", "LatencyModel", "energy_j", "latency_ms", "Measurement",
        "MeasurementNoise", "measure", "Scenario", "load_scenario", "SimulationResult", "simulate",
        "fleet_latency", "SKU", "list_skus", "load_sku", "Executor"])
    assert sorted(hdap.__all__) == ["METHODS", "RunConfig", "RunResult", "run"]
    for pkg in (testbed, zoo, twin, hdap):
        for name in pkg.__all__:
            assert hasattr(pkg, name), (pkg.__name__, name)


def test_input_error_is_one_type_and_a_value_error():
    assert issubclass(testbed.InputError, ValueError) and twin.InputError is testbed.InputError


def test_hdap_run_summary_is_a_frame_indexed_by_method(write_scenario, tmp_path):
    path = write_scenario("""\
        deployment: {workload: resnet20}
        pruning: {flops_g: 0.02, generations: 4, population: 4, surrogate_samples: 30}
        """, devices=120, days=3)
    settings = dict(matplotlib.rcParams)
    result = hdap.run(path, out=tmp_path / "run")
    assert dict(matplotlib.rcParams) == settings  # the figures changed no global setting (backend, style)
    table = result.summary()
    assert isinstance(table, pd.DataFrame) and tuple(table.index) == hdap.METHODS
    assert {"fleet_mean_ms", "p50_ms", "p95_ms", "p99_ms", "flops", "params", "accuracy"} <= set(table.columns)
    assert (table["p50_ms"] <= table["p95_ms"]).all() and (table["p95_ms"] <= table["p99_ms"]).all()
    assert table.loc["hdap", "flops"] <= 0.02e9 and table["accuracy"].isna().all()
    assert (tmp_path / "run" / "results.json").is_file() and (tmp_path / "run" / "resnet20_hdap.json").is_file()
    again = hdap.run(twin.load_scenario(path))  # a loaded scenario: the same run
    pd.testing.assert_frame_equal(again.summary(), table)


def test_twin_simulate_and_fleet_latency_take_a_path_or_a_scenario(write_scenario):
    path = write_scenario(devices=300, days=4)
    sim = twin.simulate(path)
    assert isinstance(sim.devices, pd.DataFrame) and len(sim.devices) == 300 and len(sim.history) == 4
    pd.testing.assert_frame_equal(twin.simulate(twin.load_scenario(path)).history, sim.history)
    lat = twin.fleet_latency(path, "resnet18", day=3)
    assert lat.index.name == "device_id" and len(lat) == 300 and (lat > 0).all()
    assert lat.mean() == pytest.approx(sim.history["latency_ms_mean"].iloc[-1], rel=1e-6)
    half = twin.fleet_latency(path, "resnet18", day=3, rates=np.full(zoo.get_model("resnet18").n_units, 0.5))
    assert (half < lat).all()
