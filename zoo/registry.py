"""The model zoo: names as torchvision spells them, each with its prunable units.

A ``ZooModel`` builds its torch module for any width vector (channels kept per unit) and, without
building it, that architecture's workload table from the compiled symbolic spec.
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
from zoo.workload import Workload

__all__ = ["ZooModel", "get_model", "model_names"]


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

    @property
    def n_units(self) -> int:
        return len(self.full_widths)

    @property
    def input_size(self) -> int:
        return self.input_shape[-1]

    @cached_property
    def template(self) -> Template:
        return self._spec(self.input_size).compile()

    def at_size(self, size: int | None) -> "ZooModel":
        """The same network on ``size`` x ``size`` inputs: units, widths and weights are unchanged,
        the workload table is not. ``None``: this one."""
        return self if size is None or int(size) == self.input_size else _at_size(self.name, int(size))

    def check_widths(self, widths) -> np.ndarray:
        w = np.asarray(widths)
        if w.shape != (self.n_units,):
            raise InputError(f"{self.name} has {self.n_units} prunable units, got {w.size} widths")
        if np.any(w < 1) or np.any(w > np.asarray(self.full_widths)) or np.any(w != np.rint(w)):
            raise InputError(f"{self.name}: widths must be whole numbers from 1 to each unit's full width")
        return w.astype(np.int64)

    def widths_from_rates(self, rates) -> np.ndarray:
        """Channels kept per unit for per-unit pruning rates in [0, 1) (at least one channel)."""
        r = np.asarray(rates, dtype=np.float64)
        if r.shape != (self.n_units,):
            raise InputError(f"{self.name} has {self.n_units} prunable units, got {r.size} rates")
        if np.any(r < 0) or np.any(r >= 1):
            raise InputError(f"{self.name}: pruning rates must be in [0, 1), got {r[(r < 0) | (r >= 1)][0]:g}")
        return np.maximum(1, np.rint(np.asarray(self.full_widths) * (1 - r))).astype(np.int64)

    def workload(self, widths=None) -> Workload:
        """The architecture's per-layer table, analytically (no module is built)."""
        return self.template.table(self.full_widths if widths is None else widths)

    def params(self, widths=None) -> int:
        return self.template.params(self.full_widths if widths is None else widths) + self.extra_params

    def flops(self, widths=None) -> float:
        return self.workload(widths).dense_flops

    def module(self, widths=None, seed: int | None = None):
        """A freshly initialised torch module with these widths; with ``seed``, its initial weights
        are drawn under ``torch.random.fork_rng`` so the caller's global generator is untouched."""
        import torch

        widths = [int(w) for w in (self.full_widths if widths is None else self.check_widths(widths))]
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
def _at_size(name: str, size: int) -> ZooModel:
    base = _ZOO[name]
    if base.size_step == 0:
        raise InputError(f"{name} takes {base.input_size}x{base.input_size} inputs only, got input size {size}")
    if size < base.min_size or size % base.size_step:
        raise InputError(f"{name}: input size must be a multiple of {base.size_step} from {base.min_size}, got {size}")
    return replace(base, input_shape=(base.input_shape[0], size, size))
