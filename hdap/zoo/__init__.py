"""The model zoo: plain-torch networks with prunable units and analytic workload tables.

Importing the zoo does not import torch: architectures and their workload tables are numpy only
(the twin reads pruned-model specs with them); modules and the tracer load torch on first use.
"""

from hdap.zoo.registry import ZooModel, get_model, model_names

__all__ = ["ZooModel", "get_model", "model_names", "trace_workload"]


def __getattr__(name):
    if name == "trace_workload":
        from hdap.zoo.trace import trace_workload
        return trace_workload
    raise AttributeError(f"module 'hdap.zoo' has no attribute {name!r}")
