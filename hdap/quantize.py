"""Quantization-aware fine-tuning for the +precision spaces: int8 fake quantization of units.

The twin runs a unit's layers in int8 when its flag is set (``zoo.spec.Template.owner``: the conv
and linear layers whose output channels follow the unit, else whose input channels do); here the
same layers of the torch module get TensorRT's int8 scheme as fake quantization: weights symmetric
per output channel, inputs symmetric per tensor, scales from min/max observers (a moving average
for inputs), gradients straight through (``torch.ao.quantization.FakeQuantize``). Accuracy after
fine-tuning so is the accuracy of the int8 layers an engine would run. Input observers update only
in training mode (batch-norm re-estimation and fine-tuning on the training split), so evaluation
never calibrates on the data it scores.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.ao.quantization import FakeQuantize, MovingAverageMinMaxObserver, PerChannelMinMaxObserver

from hdap.compression import Compressed, replace_layer
from hdap.units import channel_probe
from zoo import ZooModel

__all__ = ["FakeQuantized", "unit_layers", "quantize_units", "dequantize", "plain", "quantized_units"]


class FakeQuantized(nn.Module):
    """A conv or linear layer run with int8 weights and inputs (fake quantization)."""

    def __init__(self, layer: nn.Conv2d | nn.Linear):
        super().__init__()
        self.layer = layer
        self.weight_fq = FakeQuantize(observer=PerChannelMinMaxObserver, quant_min=-127, quant_max=127,
                                      dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
        self.input_fq = FakeQuantize(observer=MovingAverageMinMaxObserver, quant_min=-127, quant_max=127,
                                     dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.input_fq.observer_enabled[0] = int(self.training)
        x = self.input_fq(x)
        w = self.weight_fq(self.layer.weight)
        if isinstance(self.layer, nn.Conv2d):
            return self.layer._conv_forward(x, w, self.layer.bias)
        return nn.functional.linear(x, w, self.layer.bias)


def unit_layers(name: str) -> tuple[tuple[str, ...], ...]:
    """Per unit, the names of the conv and linear layers (depthwise included) that run in its
    precision, by the twin's rule (``hdap.units``)."""
    return channel_probe(name).owned()


def quantize_units(module: nn.Module, zoo: ZooModel, int8) -> nn.Module:
    """Wrap, in place, the layers of the units flagged in ``int8`` (None or none: nothing) in
    ``FakeQuantized``; returns ``module``. Layers of dropped blocks are not in the module: skipped."""
    if int8 is None or not np.any(int8):
        return module
    layers = dict(module.named_modules())
    for u in np.flatnonzero(np.asarray(int8, bool)):
        for name in unit_layers(zoo.name)[u]:
            if isinstance(layers.get(name), (nn.Conv2d, nn.Linear)):
                replace_layer(module, name, FakeQuantized(layers[name]))
    return module


def dequantize(module: nn.Module) -> nn.Module:
    """Unwrap, in place, every ``FakeQuantized`` layer (its trained float weights stay) and every
    block-pruned ``Compressed`` one (its weights masked); returns ``module``."""
    for name, m in list(module.named_modules()):
        if isinstance(m, Compressed):
            with torch.no_grad():
                m.layer.weight.mul_(m.mask)
        if isinstance(m, (FakeQuantized, Compressed)):
            replace_layer(module, name, m.layer)
    return module


def plain(module: nn.Module) -> nn.Module:
    """An unwrapped copy: what Torch-Pruning, the importance proxy and a saved state dict take."""
    return dequantize(copy.deepcopy(module))


def quantized_units(module: nn.Module, zoo: ZooModel) -> np.ndarray:
    """Per unit, whether ``module`` runs its layers fake-quantized."""
    wrapped = {n for n, m in module.named_modules() if isinstance(m, FakeQuantized)}
    return np.array([bool(names) and all(n in wrapped for n in names) for names in unit_layers(zoo.name)])
