"""The fleet digital twin: devices of one SKU drifting apart, and their latency on any day.

Names load on first use, so the board harness (``twin board-bench``), which runs on the board
with torch alone, imports neither simpy nor pandas.
"""

from importlib import import_module

__all__ = ["InputError", "FleetSnapshot", "FleetState", "LatencyModel", "energy_j", "latency_ms",
           "Measurement", "MeasurementNoise", "measure", "Scenario", "load_scenario",
           "SimulationResult", "simulate", "LAYER_KINDS", "SKU", "list_skus", "load_sku", "Workload",
           "read_workload", "Executor"]

_HOME = {"InputError": "errors", "FleetSnapshot": "fleet", "FleetState": "fleet", "LatencyModel": "latency",
         "energy_j": "latency", "latency_ms": "latency", "Measurement": "measurement",
         "MeasurementNoise": "measurement", "measure": "measurement", "Scenario": "scenario",
         "load_scenario": "scenario", "SimulationResult": "simulation", "simulate": "simulation",
         "LAYER_KINDS": "sku", "SKU": "sku", "list_skus": "sku", "load_sku": "sku", "Workload": "workload",
         "read_workload": "workload", "Executor": "executor"}


def __getattr__(name):
    if name in _HOME:
        return getattr(import_module(f"twin.{_HOME[name]}"), name)
    raise AttributeError(f"module 'twin' has no attribute {name!r}")
