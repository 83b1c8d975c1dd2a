"""The workload table of a real torch module, read off its torch.fx graph with shape propagation.

It is the ground truth that the analytic tables (``zoo.spec``) are tested against, and the
way to get a table for a module that is not in the zoo. Views (flatten, split, getitem) cost
nothing; an op it does not know is an error, so nothing is silently left out.
"""

from __future__ import annotations

import operator

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from testbed.errors import InputError
from zoo.workload import LAYER_KINDS, Workload, layer_costs, stride_of

__all__ = ["trace_workload"]

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Sigmoid, nn.GELU)
_FREE_MODULES = (nn.Dropout, nn.Identity, nn.Flatten)
_FREE_CALLS = {torch.flatten, operator.getitem, torch.split, torch.chunk, getattr}
_FREE_METHODS = {"flatten", "view", "reshape", "split", "chunk", "size", "contiguous"}
_ADDS = {operator.add, operator.iadd, torch.add}


def _shape(node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()


def _chw(shape):
    c = shape[1] if len(shape) > 1 else 1
    h = shape[2] if len(shape) > 2 else 1
    w = shape[3] if len(shape) > 3 else 1
    return c, h, w


def trace_workload(module: nn.Module, input_shape: tuple[int, ...]) -> Workload:
    """Batch-1 workload table of ``module`` on an input of ``input_shape`` (C, H, W); each row is
    named by its module's qualified name (a function's by its graph node)."""
    gm = fx.symbolic_trace(module)
    was_training = module.training
    module.eval()
    with torch.no_grad():
        ShapeProp(gm).propagate(torch.zeros(1, *input_shape))
    module.train(was_training)
    rows, names = [], []

    def emit(kind, c_in, c_out, k, groups, h_in, w_in, h, w, bias=False):
        rows.append((kind, c_in, c_out, k, groups, h_in, w_in, h, w, bias))
        names.append(str(node.target) if node.op == "call_module" else node.name)

    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        out = _shape(node)
        first = node.args[0] if node.args else None
        c_in, h_in, w_in = _chw(_shape(first)) if isinstance(first, fx.Node) else (0, 0, 0)
        c, h, w = _chw(out)
        if node.op == "call_module":
            m = gm.get_submodule(node.target)
            if isinstance(m, nn.Conv2d):
                dw = m.groups > 1 and m.groups == m.in_channels == m.out_channels
                emit("dwconv" if dw else "conv", m.in_channels, m.out_channels, m.kernel_size[0], m.groups,
                     h_in, w_in, h, w, m.bias is not None)
            elif isinstance(m, nn.Linear):
                emit("linear", m.in_features, m.out_features, 1, 1, 1, 1, 1, 1, m.bias is not None)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                emit("norm", c, c, 1, 1, h, w, h, w)
            elif isinstance(m, _ACTIVATIONS):
                emit("activation", c, c, 1, 1, h, w, h, w)
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
                emit("pool", c, c, k, 1, h_in, w_in, h, w)
            elif isinstance(m, nn.AdaptiveAvgPool2d):
                emit("pool", c, c, h_in // h, 1, h_in, w_in, h, w)
            elif isinstance(m, nn.Upsample):
                emit("upsample", c, c, 1, 1, h_in, w_in, h, w)
            elif not isinstance(m, _FREE_MODULES):
                raise InputError(f"trace_workload: no cost rule for module {type(m).__name__} ({node.target})")
        elif node.op == "call_function":
            if node.target in _ADDS:
                emit("add", c, c, 1, 1, h, w, h, w)
            elif node.target is torch.cat:
                emit("concat", c, c, 1, 1, h, w, h, w)
            elif node.target is F.pad:
                emit("concat", c, c, 1, 1, h, w, h, w)  # zero padding: a copy into more channels
            elif node.target in (F.relu, F.silu, torch.relu):
                emit("activation", c, c, 1, 1, h, w, h, w)
            elif node.target not in _FREE_CALLS:
                raise InputError(f"trace_workload: no cost rule for function {getattr(node.target, '__name__', node.target)}")
        elif node.op == "call_method":
            if node.target == "add":
                emit("add", c, c, 1, 1, h, w, h, w)
            elif node.target not in _FREE_METHODS:
                raise InputError(f"trace_workload: no cost rule for method {node.target}")
    kinds, *cols = zip(*rows)
    flops, read, written = layer_costs(list(kinds), *cols)
    ints = [np.asarray(c, np.int64) for c in cols[:8]]
    return Workload(kind=np.array([LAYER_KINDS.index(k) for k in kinds], np.int8), flops=flops, bytes_read=read,
                    bytes_written=written, c_in=ints[0], c_out=ints[1], kernel=ints[2],
                    stride=stride_of(ints[4], ints[6]), groups=ints[3], h=ints[6], w=ints[7], name=tuple(names))
