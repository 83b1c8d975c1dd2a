"""The fleet digital twin: devices of one SKU drifting apart, and their latency on any day."""

from twin.errors import InputError
from twin.fleet import FleetSnapshot, FleetState
from twin.latency import LatencyModel, energy_j, latency_ms
from twin.measurement import Measurement, MeasurementNoise, measure
from twin.scenario import Scenario, load_scenario
from twin.simulation import SimulationResult, simulate
from twin.sku import LAYER_KINDS, SKU, list_skus, load_sku
from twin.workload import Workload, read_workload

__all__ = ["InputError", "FleetSnapshot", "FleetState", "LatencyModel", "energy_j", "latency_ms",
           "Measurement", "MeasurementNoise", "measure", "Scenario", "load_scenario",
           "SimulationResult", "simulate", "LAYER_KINDS", "SKU", "list_skus", "load_sku", "Workload",
           "read_workload"]
