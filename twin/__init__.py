"""The fleet digital twin: devices of one SKU drifting apart, and their latency on any day.

Names load on first use, so the board harness (``twin board-bench``), which runs on the board
with torch, numpy and pydantic, imports neither simpy nor pandas. For notebooks::

    import twin
    sim = twin.simulate("scenarios/jetson-nano-2y.yaml", workers=2)
    sim.devices, sim.history                     # DataFrames: one row per device, per day
    twin.fleet_latency("scenarios/nano-resnet50.yaml", "resnet50").describe()

Networks and workload tables are the zoo's (``zoo``); the calibration sub-system (board
harness, measurement files, calibration, validation) is ``twin.calibration``.
"""

from importlib import import_module

__all__ = ["InputError", "FleetSnapshot", "FleetState", "LatencyModel", "energy_j", "latency_ms",
           "Measurement", "MeasurementNoise", "measure", "Scenario", "load_scenario",
           "SimulationResult", "simulate", "fleet_latency", "SKU", "list_skus", "load_sku", "Executor"]

_HOME = {"InputError": "testbed.errors", "FleetSnapshot": "twin.fleet", "FleetState": "twin.fleet",
         "LatencyModel": "twin.latency", "energy_j": "twin.latency", "latency_ms": "twin.latency",
         "Measurement": "twin.measurement", "MeasurementNoise": "twin.measurement", "measure": "twin.measurement",
         "Scenario": "twin.scenario", "load_scenario": "twin.scenario", "SimulationResult": "twin.simulation",
         "simulate": "twin.simulation", "fleet_latency": "twin.simulation", "SKU": "twin.sku",
         "list_skus": "twin.sku", "load_sku": "twin.sku", "Executor": "twin.executor"}


def __getattr__(name):
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'twin' has no attribute {name!r}")
