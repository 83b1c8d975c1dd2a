"""The public API of each package is pinned: changing it is a decision, not an accident."""

import hdap
import twin


def test_twin_public_api():
    assert sorted(twin.__all__) == sorted([
        "InputError", "FleetSnapshot", "FleetState", "LatencyModel", "energy_j", "latency_ms", "Measurement",
        "MeasurementNoise", "measure", "Scenario", "load_scenario", "SimulationResult", "simulate",
        "LAYER_KINDS", "SKU", "list_skus", "load_sku", "Workload", "read_workload"])
    for name in twin.__all__:
        assert hasattr(twin, name)


def test_hdap_public_api_is_empty_until_the_zoo_lands():
    assert hdap.__all__ == []


def test_input_error_is_a_value_error():
    assert issubclass(twin.InputError, ValueError)
