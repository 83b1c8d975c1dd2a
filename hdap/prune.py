"""Structured pruning to a width vector, with Torch-Pruning's dependency graph.

For each prunable unit the zoo knows which layers' output channels it sets (its anchors, found by
building the architecture on the meta device with that unit one channel narrower). Each anchor's
dependency group (the batch norms, depthwise convs, residual partners, concatenation slices and
consumers that must lose the same channels) is scored by an importance criterion and its least
important channels are removed until the unit has its target width. The classifier's outputs are
never anchors, so they stay intact. A unit of width 0 has its residual block replaced by the
identity first (depth pruning), as ``zoo.module`` builds it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch_pruning as tp
from torch import nn

from hdap.compression import Compressed, Scheme, prune_mask, replace_layer
from hdap.quantize import plain, unit_layers
from hdap.units import channel_probe
from testbed.errors import InputError
from testbed.io import atomic_file
from zoo import PrunedSpec, ZooModel
from zoo.pruned import load_weights

__all__ = ["IMPORTANCES", "unit_anchors", "prune_to_widths", "widths_for_flops", "save_pruned", "load_pruned",
           "load_full_model"]

IMPORTANCES = ("l2", "l1", "taylor")


def _out_channels(m: nn.Module) -> int:
    return m.out_channels if isinstance(m, nn.Conv2d) else m.out_features


def unit_anchors(name: str) -> tuple[tuple[str, ...], ...]:
    """Per unit, the names of the (non-depthwise) conv / linear layers whose outputs it sets."""
    return channel_probe(name).anchors()


def dropped_blocks(zoo: ZooModel, widths) -> list[str]:
    """Module names of the blocks ``widths`` drops: where ``zoo.module(widths)`` has an identity and
    the full network has not."""
    with torch.device("meta"):
        full = dict(zoo.module().named_modules())
        return [n for n, m in zoo.module(widths).named_modules()
                if isinstance(m, nn.Identity) and not isinstance(full.get(n), nn.Identity)]


def _importance(kind: str):
    if kind == "l2":
        return tp.importance.GroupMagnitudeImportance(p=2)
    if kind == "l1":
        return tp.importance.GroupMagnitudeImportance(p=1)
    if kind == "taylor":
        return tp.importance.GroupTaylorImportance()
    raise InputError(f"unknown importance {kind!r}; allowed: {', '.join(IMPORTANCES)}")


def prune_to_widths(module: nn.Module, zoo: ZooModel, widths, importance: str = "l2",
                    calibration: tuple[torch.Tensor, torch.Tensor] | None = None) -> nn.Module:
    """A pruned copy of ``module`` (a full-width ``zoo`` network) with exactly ``widths``; a
    fake-quantized module's copy is unwrapped first (``hdap.quantize``).

    ``calibration`` (inputs, labels) is needed for Taylor importance: its loss gradients score
    the channels; the magnitude criteria need no data.
    """
    widths = zoo.check_widths(widths)
    if zoo.block:
        return _block_prune(module, zoo, widths)
    imp = _importance(importance)
    if importance == "taylor" and calibration is None:
        raise InputError("taylor importance needs a calibration batch (inputs and labels)")
    model = plain(module).eval()
    for name in dropped_blocks(zoo, widths) if np.any(widths == 0) else ():
        replace_layer(model, name, nn.Identity())
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.zeros(1, *zoo.input_shape), verbose=False)
    layers = dict(model.named_modules())
    for unit, names in enumerate(unit_anchors(zoo.name)):
        for name in names if widths[unit] else ():
            layer = layers[name]
            excess = _out_channels(layer) - int(widths[unit])
            if excess <= 0:  # already narrowed as part of an earlier anchor's group
                continue
            if importance == "taylor":
                model.zero_grad()
                x, y = calibration
                nn.functional.cross_entropy(model(x), y).backward()
            fn = tp.prune_conv_out_channels if isinstance(layer, nn.Conv2d) else tp.prune_linear_out_channels
            scores = imp(graph.get_pruning_group(layer, fn, idxs=list(range(_out_channels(layer)))))
            drop = torch.argsort(scores)[:excess].tolist()
            graph.get_pruning_group(layer, fn, idxs=drop).prune()
    model.zero_grad(set_to_none=True)
    return model


def _block_prune(module: nn.Module, zoo: ZooModel, widths: np.ndarray) -> nn.Module:
    """A copy of ``module`` whose units' layers (``hdap.quantize.unit_layers``: the twin's owners) keep
    ``width / full width`` of their block columns, masked in place (``hdap.compression``); weights a
    mask pruned before stay pruned, having no norm left."""
    model = plain(module).eval()
    layers = dict(model.named_modules())
    for unit, names in enumerate(unit_layers(zoo.name)):
        density = widths[unit] / zoo.full_widths[unit]
        if density >= 1:
            continue
        scheme = Scheme("block", 32, "block", float(density))
        for name in names:
            replace_layer(model, name, Compressed(layers[name], 32, prune_mask(layers[name].weight, scheme)))
    return model


def widths_for_flops(zoo: ZooModel, target_flops: float) -> np.ndarray:
    """The uniform pruning rate whose architecture is closest to ``target_flops`` from below (every
    block kept)."""
    zoo = zoo.in_space(depth=False)
    full = zoo.flops()
    floor = zoo.flops(zoo.widths_from_rates(np.full(zoo.n_units, 0.999)))
    if not floor <= target_flops <= full:
        raise InputError(f"--flops: {zoo.name} can reach {floor / 1e9:.4g} to {full / 1e9:.4g} GFLOPs by pruning "
                         f"its units uniformly, got {target_flops / 1e9:.4g}")
    lo, hi = 0.0, 0.999
    for _ in range(40):  # bisection on the rate: FLOPs fall as the rate rises
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if zoo.flops(zoo.widths_from_rates(np.full(zoo.n_units, mid))) > target_flops else (lo, mid)
    return zoo.widths_from_rates(np.full(zoo.n_units, hi))


def save_pruned(module: nn.Module, zoo: ZooModel, widths, path: str | Path, int8=None, **extra) -> PrunedSpec:
    """Write ``FILE.pt`` (the module's weights: a state dict, which loads without running code;
    a fake-quantized module's float weights) and ``FILE.json`` (its spec: the architecture and the
    units ``int8`` runs in int8, what the twin needs, no torch), each all-or-nothing."""
    spec = PrunedSpec.of(zoo, widths, int8, **extra)
    with atomic_file(path) as tmp_pt, atomic_file(PrunedSpec.beside(path)) as tmp_json:
        torch.save(plain(module).state_dict(), tmp_pt)
        tmp_json.write_text(spec.to_json())
    return spec


def load_pruned(path: str | Path, trust_pickle: bool = False) -> tuple[nn.Module, PrunedSpec]:
    """The module and its validated spec, from ``FILE.pt`` and the ``FILE.json`` beside it: the
    spec's architecture is built from the zoo and the weights loaded into it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: not found")
    spec = PrunedSpec.read(PrunedSpec.beside(path))
    module = load_weights(path, spec.zoo, spec.widths, trust_pickle)
    if spec.granularity == "block":  # the pruned weights stay pruned through any fine-tuning
        for name, layer in [(n, m) for n, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]:
            if not bool(layer.weight.all()):
                replace_layer(module, name, Compressed(layer, 32, layer.weight.detach() != 0))
    return module, spec


def load_full_model(zoo: ZooModel, weights: str | None, seed: int = 0, trust_pickle: bool = False) -> nn.Module:
    """A full-width ``zoo`` network: trained weights from a file (a state dict; a whole pickled
    module only with ``trust_pickle``), or, without one, freshly initialised under ``seed``."""
    if weights is None:
        return zoo.module(seed=seed)
    return load_weights(weights, zoo, trust_pickle=trust_pickle)
