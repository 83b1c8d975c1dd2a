"""The model zoo: plain-torch networks with prunable units and analytic workload tables."""

from hdap.zoo.registry import ZooModel, get_model, model_flops, model_names
from hdap.zoo.trace import trace_workload

__all__ = ["ZooModel", "get_model", "model_flops", "model_names", "trace_workload"]
