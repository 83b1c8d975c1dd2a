"""A compressed network on one platform: the precision each layer really runs in, and how its
weights were pruned, as columns of its workload table (``twin.latency`` prices them).

Bits: a layer trained at b bits runs at the narrowest precision the platform has that holds b
(``SKU.runs_as``): a GPU without 4-bit kernels runs 4-bit weights as int8, no faster, and reads
them as int8 (the engine unpacks them at load). A float-trained network runs in the framework's
default precision where that is a float one (TensorRT fp16); a DPU runs only quantized networks.
Sparsity: the table's ``density`` and ``sparsity`` columns; the framework's kernels skip pruned MACs
only for structures they support (``FrameworkProfile.sparse_efficiency``;
``SKU.with_sparse_kernels`` for a compiler's). Channel pruning needs none of this: the pruned
network's own table is smaller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from testbed.errors import InputError
from twin.sku import SKU
from zoo.workload import PRECISIONS, SPARSITY, Workload

__all__ = ["LayerCompression", "precision_for_bits", "platform_workload"]

_BITS_PRECISION = {32: "fp32", 16: "fp16", 8: "int8", 4: "int4", 2: "int2", 1: "int1"}


@dataclass(frozen=True)
class LayerCompression:
    """One conv or linear layer as trained: its bit width (weights and inputs; 32: float), the share
    of weights kept and how they were pruned."""

    bits: int = 32
    density: float = 1.0
    structure: str = ""      # one of zoo.workload.SPARSITY ("": dense)


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


def platform_workload(workload: Workload, layers: dict[str, LayerCompression], sku: SKU, framework: str) -> Workload:
    """``workload`` (a traced table: rows named by module) with ``layers``' compression as ``sku``
    runs it: each row's precision, density and sparsity. A layer not named keeps float and dense;
    norms and activations follow the precision of the weighted layer before them."""
    missing = [n for n in layers if n not in workload.name]
    if missing:
        raise InputError(f"compressed layer(s) {', '.join(missing[:3])} are not rows of the workload")
    precision = np.zeros(len(workload), np.int8)
    density, sparsity = workload.density.copy(), workload.sparsity.copy()
    current = precision_for_bits(sku, framework, 32 if not layers else max(c.bits for c in layers.values()))
    for i, name in enumerate(workload.name):
        c = layers.get(name)
        if c is not None:
            current = precision_for_bits(sku, framework, c.bits)
            density[i], sparsity[i] = c.density, SPARSITY.index(c.structure)
        precision[i] = PRECISIONS.index(current)
    return replace(workload, precision=precision, density=density, sparsity=sparsity)
