"""The model zoo, the project's currency: networks, width vectors and workload tables.

Architectures are data (``zoo.arch``, numpy only): each network is named as torchvision spells
it, declares its prunable units, and gives the workload table of any width vector analytically.
Torch loads only on first use of a module (``ZooModel.module``, ``zoo.nets``) or the tracer. The
zoo imports neither the twin nor HDAP: both read networks from here.
"""

from importlib import import_module

from zoo.pruned import PrunedSpec
from zoo.reference import resolve_workload
from zoo.registry import DROP_GENE, INT8_GENE, ZooModel, get_model, model_names
from zoo.workload import LAYER_KINDS, PRECISIONS, Workload, layer_costs, read_workload

__all__ = ["DROP_GENE", "INT8_GENE", "ZooModel", "get_model", "model_names", "PrunedSpec", "Workload", "LAYER_KINDS", "PRECISIONS", "layer_costs",
           "read_workload", "resolve_workload", "trace_workload"]


def __getattr__(name):
    if name == "trace_workload":  # torch
        return import_module("zoo.trace").trace_workload
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
