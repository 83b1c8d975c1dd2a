"""The model zoo: names as torchvision spells them, each with its prunable units.

A ``ZooModel`` builds its torch module for any width vector (channels kept per unit; 0 drops a
unit's residual block where an identity path exists) and, without building it, that
architecture's workload table from the compiled symbolic spec.

A search describes an architecture by a vector of per-unit pruning rates; a model ``in_space``
with depth appends one gene per droppable unit, and a gene of ``DROP_GENE`` or more drops it; with
precision, one more gene per unit, and a gene of ``INT8_GENE`` or more runs the unit in int8.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Callable

import numpy as np

from testbed.errors import InputError
from zoo.arch import cifar_resnet, mobilenet, resnet, vgg, yolo
from zoo.spec import NetSpec, Template
from zoo.workload import LAYER_KINDS, SPARSITY, Workload

_BLOCK = SPARSITY.index("block")

__all__ = ["ZooModel", "get_model", "model_names", "DROP_GENE", "INT8_GENE"]

DROP_GENE = 0.5
INT8_GENE = 0.5


@dataclass(frozen=True, eq=False)
class ZooModel:
    name: str
    family: str
    input_shape: tuple[int, int, int]
    full_widths: tuple[int, ...]
    unit_names: tuple[str, ...]
    _module: str = field(repr=False)   # "family:Class" in zoo.nets, imported on first use (torch)
    _spec: Callable[[int], NetSpec] = field(repr=False)   # input size -> symbolic spec
    extra_params: int = 0   # parameters outside the executed layers (YOLO's box-decoding DFL conv)
    size_step: int = 0      # input sizes the architecture takes: multiples of this (0: only its own)
    min_size: int = 32
    depth: bool = False     # rate vectors carry a drop gene per droppable unit (the width+depth space)
    precision: bool = False  # ... and an int8 gene per unit (the +precision spaces)
    block: bool = False     # a unit's width is the share of its layers' block columns kept, pruned in place
                            # (pruning.granularity: block): the network keeps its channels
    @property
    def n_units(self) -> int:
        return len(self.full_widths)

    @property
    def droppable(self) -> tuple[int, ...]:
        """Units whose residual block can be dropped (width 0)."""
        return self.template.droppable

    @property
    def n_rates(self) -> int:
        """Length of a rate vector: one rate per unit, plus a drop gene per droppable unit with depth
        and an int8 gene per unit with precision."""
        return self.n_units + (len(self.droppable) if self.depth else 0) + (self.n_units if self.precision else 0)

    def in_space(self, depth: bool, precision: bool = False, block: bool | None = None) -> "ZooModel":
        """The same network, its rate vectors with or without drop genes (``depth``) and int8 genes,
        its widths meaning channels or kept block columns (``block``; None: as this one's)."""
        block = self.block if block is None else bool(block)
        if bool(depth) == self.depth and bool(precision) == self.precision and block == self.block:
            return self
        return _variant(self.name, self.input_size, bool(depth), bool(precision), block)

    @property
    def input_size(self) -> int:
        return self.input_shape[-1]

    @cached_property
    def template(self) -> Template:
        return self._spec(self.input_size).compile()

    def at_size(self, size: int | None) -> "ZooModel":
        """The same network on ``size`` x ``size`` inputs: units, widths and weights are unchanged,
        the workload table is not. ``None``: this one."""
        if size is None or int(size) == self.input_size:
            return self
        return _variant(self.name, int(size), self.depth, self.precision, self.block)

    def check_widths(self, widths) -> np.ndarray:
        w = np.asarray(widths)
        if w.shape != (self.n_units,):
            raise InputError(f"{self.name} has {self.n_units} prunable units, got {w.size} widths")
        low = np.ones(self.n_units)
        low[list(self.droppable)] = 0
        if np.any(w < low) or np.any(w > np.asarray(self.full_widths)) or np.any(w != np.rint(w)):
            raise InputError(f"{self.name}: widths must be whole numbers from 1 to each unit's full width "
                             f"(0 drops the block of a unit in {list(self.droppable)})")
        return w.astype(np.int64)

    def widths_from_rates(self, rates) -> np.ndarray:
        """Channels kept per unit for per-unit pruning rates in [0, 1) (at least one channel); with
        depth, 0 for a droppable unit whose gene is at least DROP_GENE."""
        r = np.asarray(rates, dtype=np.float64)
        if r.shape != (self.n_rates,):
            genes = (f" and {len(self.droppable)} drop genes" if self.depth else "") + \
                (f" and {self.n_units} int8 genes" if self.precision else "")
            raise InputError(f"{self.name} has {self.n_units} prunable units{genes}, got {r.size} rates")
        if np.any(r < 0) or np.any(r >= 1):
            raise InputError(f"{self.name}: pruning rates must be in [0, 1), got {r[(r < 0) | (r >= 1)][0]:g}")
        widths = np.maximum(1, np.rint(np.asarray(self.full_widths) * (1 - r[:self.n_units]))).astype(np.int64)
        if self.depth:
            genes = r[self.n_units:self.n_units + len(self.droppable)]
            widths[np.array(self.droppable, dtype=np.int64)[genes >= DROP_GENE]] = 0
        return widths

    def int8_from_rates(self, rates) -> np.ndarray | None:
        """Which units run in int8 (None outside the precision spaces); a dropped block's unit runs nothing."""
        if not self.precision:
            return None
        flags = np.asarray(rates, dtype=np.float64)[self.n_rates - self.n_units:] >= INT8_GENE
        return flags & (self.widths_from_rates(rates) > 0) if self.depth else flags

    def rates_workload(self, rates) -> Workload:
        """The table of the architecture a rate vector describes: widths, dropped blocks and precision."""
        return self.workload(self.widths_from_rates(rates), self.int8_from_rates(rates))

    def rates_from_widths(self, widths, int8=None) -> np.ndarray:
        """A rate vector that gives ``widths`` (and ``int8``) back (dropped blocks need a model with
        depth; int8 units one with precision)."""
        w = self.check_widths(widths)
        rates = np.where(w > 0, 1 - w / np.asarray(self.full_widths), 0.0)
        if np.any(w == 0) and not self.depth:
            raise InputError(f"{self.name}: widths drop blocks; their rates need the width+depth space")
        if int8 is not None and np.any(int8) and not self.precision:
            raise InputError(f"{self.name}: int8 units need a +precision space")
        parts = [rates]
        if self.depth:
            parts.append(np.where(w[list(self.droppable)] == 0, DROP_GENE, 0.0))
        if self.precision:
            parts.append(np.where(np.zeros(self.n_units, bool) if int8 is None else np.asarray(int8, bool),
                                  INT8_GENE, 0.0))
        return np.concatenate(parts)

    def workload(self, widths=None, int8=None) -> Workload:
        """The architecture's per-layer table, analytically (no module is built); ``int8``: a flag per
        unit whose layers run in int8. With ``block``, the full network's table with each unit's dense
        layers keeping ``width / full width`` of their weights in blocks (``density``, ``sparsity``)."""
        if not self.block:
            return self.template.table(self.full_widths if widths is None else widths, int8)
        table = self.template.table(self.full_widths, int8)
        density = self._row_density(widths)
        return replace(table, density=density, sparsity=np.where(density < 1, _BLOCK, 0).astype(np.int8))

    def _row_density(self, widths) -> np.ndarray:
        """Per row of the full table, the share of weights a block-pruned ``widths`` keeps."""
        density = np.ones(len(self.template.kind))
        if widths is None:
            return density
        share = self.check_widths(widths) / np.asarray(self.full_widths, np.float64)
        rows, owner, _, _ = self._block_rows
        density[rows] = share[owner]
        return density

    @cached_property
    def _block_rows(self) -> tuple[np.ndarray, ...]:
        """The dense rows a unit owns (block granularity prunes them): row, owner, MACs, weights."""
        table, owner = self.template.table(self.full_widths), self.template.owner
        rows = np.flatnonzero((table.kind <= LAYER_KINDS.index("linear")) & (owner >= 0))
        return rows, owner[rows], table.flops[rows], table.weights[rows]

    def params(self, widths=None) -> int:
        if self.block and widths is not None:
            rows, owner, _, weights = self._block_rows
            pruned = weights * (1 - self._row_density(widths)[rows])
            return int(round(self.template.params(self.full_widths) - pruned.sum())) + self.extra_params
        return self.template.params(self.full_widths if widths is None else widths) + self.extra_params

    def flops(self, widths=None) -> float:
        if self.block and widths is not None:
            rows, owner, macs, _ = self._block_rows
            full = self.template.dense_flops(self.full_widths)
            return float(full - (macs * (1 - self._row_density(widths)[rows])).sum())
        return self.template.dense_flops(self.full_widths if widths is None else widths)

    def int8_share(self, widths, int8) -> float:
        """Share of the architecture's dense MACs that its int8 units run in int8."""
        widths = self.full_widths if widths is None else widths
        return self.template.int8_macs(widths, int8) / self.template.dense_flops(widths)

    def module(self, widths=None, seed: int | None = None):
        """A freshly initialised torch module with these widths; with ``seed``, its initial weights
        are drawn under ``torch.random.fork_rng`` so the caller's global generator is untouched."""
        import torch

        widths = [int(w) for w in (self.full_widths if widths is None else self.check_widths(widths))]
        if self.block:  # block pruning keeps every channel: masks, not a narrower module
            widths = list(self.full_widths)
        family, cls = self._module.split(":")
        build = getattr(importlib.import_module(f"zoo.nets.{family}"), cls)
        if seed is None:
            return build(self.name, widths)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return build(self.name, widths)


def _entries() -> dict[str, ZooModel]:
    out = {}
    for name in resnet.RESNET_LAYOUTS:
        w = resnet.full_widths(name)
        out[name] = ZooModel(name, "resnet", (3, 224, 224), tuple(w), tuple(f"block{i}" for i in range(len(w))),
                             "resnet:ResNet", lambda size, n=name: resnet.resnet_spec(n, size), size_step=32)
    for name in cifar_resnet.CIFAR_DEPTHS:
        w = cifar_resnet.full_widths(name)
        out[name] = ZooModel(name, "cifar_resnet", (3, 32, 32), tuple(w), tuple(f"block{i}" for i in range(len(w))),
                             "cifar_resnet:CifarResNet", lambda size, n=name: cifar_resnet.cifar_resnet_spec(n, size),
                             size_step=4, min_size=8)
    for base in vgg.VGG_CONFIGS:
        for name in (base, f"{base}_bn"):
            w = vgg.full_widths(name)
            units = tuple(f"conv{i}" for i in range(len(w) - 2)) + ("fc0", "fc1")
            out[name] = ZooModel(name, "vgg", (3, 224, 224), tuple(w), units, "vgg:VGG",
                                 lambda size, n=name: vgg.vgg_spec(n, size))
    w = vgg.full_widths("vgg16_cifar")
    out["vgg16_cifar"] = ZooModel("vgg16_cifar", "vgg", (3, 32, 32), tuple(w), tuple(f"conv{i}" for i in range(13)) + ("fc0",),
                                  "vgg:VGG", lambda size: vgg.vgg_spec("vgg16_cifar", size))
    w = mobilenet.full_widths("mobilenet_v1")
    out["mobilenet_v1"] = ZooModel("mobilenet_v1", "mobilenet", (3, 224, 224), tuple(w),
                                   ("stem",) + tuple(f"block{i}" for i in range(1, len(w))),
                                   "mobilenet:MobileNetV1", lambda size: mobilenet.mobilenet_v1_spec(size=size),
                                   size_step=32)
    w = mobilenet.full_widths("mobilenet_v2")
    out["mobilenet_v2"] = ZooModel("mobilenet_v2", "mobilenet", (3, 224, 224), tuple(w),
                                   tuple(f"block{i}" for i in range(len(w))), "mobilenet:MobileNetV2",
                                   lambda size: mobilenet.mobilenet_v2_spec(size=size), size_step=32)
    for name in yolo.SCALES:
        out[name] = ZooModel(name, "yolo", (3, 640, 640), yolo.config(name).full_widths, yolo.UNITS, "yolo:YOLOv8",
                             lambda size, n=name: yolo.yolo_spec(n, size), extra_params=yolo.REG_MAX, size_step=32)
    return out


_ZOO = _entries()


def model_names() -> list[str]:
    return list(_ZOO)


def get_model(name: str, input_size: int | None = None) -> ZooModel:
    """The zoo's ``name``, on its own input size or on ``input_size`` x ``input_size``."""
    if name not in _ZOO:
        raise InputError(f"unknown model {name!r}; the zoo has: {', '.join(_ZOO)}")
    return _ZOO[name].at_size(input_size)


@lru_cache(maxsize=64)
def _variant(name: str, size: int, depth: bool, precision: bool = False, block: bool = False) -> ZooModel:
    """The zoo's ``name`` on ``size`` inputs, its rate vectors with or without drop and int8 genes,
    its widths channels or kept block columns."""
    base = _ZOO[name]
    if size == base.input_size and not depth and not precision and not block:
        return base
    if size != base.input_size and base.size_step == 0:
        raise InputError(f"{name} takes {base.input_size}x{base.input_size} inputs only, got input size {size}")
    if size != base.input_size and (size < base.min_size or size % base.size_step):
        raise InputError(f"{name}: input size must be a multiple of {base.size_step} from {base.min_size}, got {size}")
    return replace(base, input_shape=(base.input_shape[0], size, size), depth=depth, precision=precision, block=block)
