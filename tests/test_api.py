"""The public API of each package is pinned: changing it is a decision, not an accident."""

import hdap
import twin


def test_twin_public_api():
    assert sorted(twin.__all__) == sorted([
        "InputError", "FleetSnapshot", "FleetState", "LatencyModel", "energy_j", "latency_ms", "Measurement",
        "MeasurementNoise", "measure", "Scenario", "load_scenario", "SimulationResult", "simulate",
        "LAYER_KINDS", "SKU", "list_skus", "load_sku", "Workload", "read_workload", "Executor"])
    for name in twin.__all__:
        assert hasattr(twin, name)


def test_hdap_public_api_lives_in_its_modules():
    import hdap.prune
    import hdap.zoo

    assert hdap.__all__ == []
    assert sorted(hdap.zoo.__all__) == ["ZooModel", "get_model", "model_names", "trace_workload"]
    assert sorted(hdap.prune.__all__) == ["IMPORTANCES", "load_full_model", "load_pruned", "prune_to_widths",
                                          "save_pruned", "unit_anchors", "widths_for_flops"]


def test_input_error_is_a_value_error():
    assert issubclass(twin.InputError, ValueError)
