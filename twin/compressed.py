"""A compressed network on one platform: what its bit width and sparsity change in the work a
device does and the bytes it moves.

Bits: a layer trained at b bits runs at the narrowest precision the platform has that holds b
(``SKU.runs_as``): a GPU without 4-bit kernels runs 4-bit weights as int8, no faster, and reads
them as int8 (the engine unpacks them at load). A float-trained network runs in the framework's
default precision where that is a float one (TensorRT fp16); a DPU runs only quantized networks.

Sparsity: a kernel skips the pruned weights' MACs only where it supports the structure
(``FrameworkProfile.sparse_efficiency``: the share it skips; absent: dense kernels compute the
zeros and read dense weights). Where it skips, it reads the kept weights plus the format's index.
Channel pruning needs none of this: the pruned network's own table is smaller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from testbed.errors import InputError
from twin.sku import SKU
from zoo.workload import ELEMENT_BYTES, LAYER_KINDS, PRECISION_BYTES, PRECISIONS, Workload

__all__ = ["LayerCompression", "precision_for_bits", "platform_workload", "weight_counts"]

_BITS_PRECISION = {32: "fp32", 16: "fp16", 8: "int8", 4: "int4", 2: "int2", 1: "int1"}
_WEIGHTED = [LAYER_KINDS.index(k) for k in ("conv", "dwconv", "linear")]


@dataclass(frozen=True)
class LayerCompression:
    """One conv or linear layer as trained: its bit width (weights and inputs; 32: float), the share
    of weights kept, how they were pruned, and the index bits of the sparse format a kernel reads."""

    bits: int = 32
    density: float = 1.0
    structure: str = "dense"      # dense | unstructured | block | 2:4
    index_bits: float = 0.0


def precision_for_bits(sku: SKU, framework: str, bits: int) -> str:
    """The precision a layer trained at ``bits`` runs in on ``sku``."""
    if bits not in _BITS_PRECISION:
        raise InputError(f"bits must be one of {', '.join(map(str, _BITS_PRECISION))}, got {bits}")
    if bits >= 16:
        default = sku.precision_of(framework)[0]
        if not default.startswith("fp"):
            raise InputError(f"{framework} on {sku.name} runs only quantized networks ({default}); "
                             f"a float network must be quantized first")
        return default
    return sku.runs_as(framework, _BITS_PRECISION[bits])


def weight_counts(workload: Workload) -> np.ndarray:
    """Weights per row (0 for layers without)."""
    n = workload.c_out * (workload.c_in // np.maximum(workload.groups, 1)) * workload.kernel ** 2
    return np.where(np.isin(workload.kind, _WEIGHTED), n, 0).astype(np.float64)


def platform_workload(workload: Workload, layers: dict[str, LayerCompression], sku: SKU, framework: str,
                      sparse_efficiency: dict[str, float] | None = None) -> Workload:
    """``workload`` (a traced table: rows named by module) as ``sku`` runs it with ``layers``'
    compression: each row's precision, the MACs its kernels skip and the weight bytes they read.
    A layer not named keeps float and dense; norms and activations follow the precision of the
    weighted layer before them. ``sparse_efficiency`` replaces the framework's own table."""
    missing = [n for n in layers if n not in workload.name]
    if missing:
        raise InputError(f"compressed layer(s) {', '.join(missing[:3])} are not rows of the workload")
    skip_table = sku.frameworks[framework].sparse_efficiency if sparse_efficiency is None else sparse_efficiency
    flops, read = workload.flops.copy(), workload.bytes_read.copy()
    precision = np.zeros(len(workload), np.int8)
    weights = weight_counts(workload)
    current = precision_for_bits(sku, framework, 32 if not layers else max(c.bits for c in layers.values()))
    for i, name in enumerate(workload.name):
        c = layers.get(name)
        if c is not None:
            current = precision_for_bits(sku, framework, c.bits)
            skip = skip_table.get(c.structure, 0.0) if c.structure != "dense" else 0.0
            flops[i] *= 1 - (1 - c.density) * skip
            if skip > 0:  # a sparse kernel reads the kept weights and the index, not the dense matrix
                size = PRECISION_BYTES[current]
                stored = (c.density * weights[i] * size * 8 + c.index_bits) / 8
                read[i] += (stored * ELEMENT_BYTES / size) - weights[i] * ELEMENT_BYTES
        precision[i] = PRECISIONS.index(current)
    return replace(workload, flops=flops, bytes_read=read, precision=precision)
