"""Which torch layers each prunable unit sets: found once per network by building it on the meta
device with that unit one channel narrower and seeing which conv and linear layers change.

Pruning (``hdap.prune``) takes a unit's anchors from here (the non-depthwise layers whose outputs
it sets); quantization (``hdap.quantize``) the layers that run in its precision, by the rule the
zoo's tables use (``zoo.spec.Template.owner``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from zoo import get_model

__all__ = ["ChannelProbe", "channel_probe"]


@dataclass(frozen=True)
class ChannelProbe:
    """Per conv / linear layer (module order): whether it is depthwise, and the units whose width
    moves its output and its input channels."""

    depthwise: dict[str, bool]
    outs: dict[str, tuple[int, ...]]
    ins: dict[str, tuple[int, ...]]
    n_units: int

    def anchors(self) -> tuple[tuple[str, ...], ...]:
        """Per unit, the non-depthwise layers whose outputs it sets."""
        return tuple(tuple(n for n, units in self.outs.items() if u in units and not self.depthwise[n])
                     for u in range(self.n_units))

    def owned(self) -> tuple[tuple[str, ...], ...]:
        """Per unit, the layers that run in its precision: the one unit their output channels
        follow, else the one their input channels follow."""
        def owner(n):
            return self.outs[n][0] if len(self.outs[n]) == 1 else self.ins[n][0] if len(self.ins[n]) == 1 else -1
        return tuple(tuple(n for n in self.outs if owner(n) == u) for u in range(self.n_units))


def _shapes(module: nn.Module) -> dict[str, tuple[int, int, bool]]:
    out = {}
    for n, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            out[n] = (m.in_channels, m.out_channels, m.groups > 1 and m.groups == m.in_channels)
        elif isinstance(m, nn.Linear):
            out[n] = (m.in_features, m.out_features, False)
    return out


@lru_cache(maxsize=None)
def channel_probe(name: str) -> ChannelProbe:
    zoo = get_model(name)
    full = list(zoo.full_widths)
    with torch.device("meta"):
        base = _shapes(zoo.module(full))
        outs, ins = {n: [] for n in base}, {n: [] for n in base}
        for u in range(zoo.n_units):
            probe = full.copy()
            probe[u] -= 1
            for n, (c_in, c_out, _) in _shapes(zoo.module(probe)).items():
                if c_out != base[n][1]:
                    outs[n].append(u)
                if c_in != base[n][0]:
                    ins[n].append(u)
    return ChannelProbe({n: s[2] for n, s in base.items()}, {n: tuple(v) for n, v in outs.items()},
                        {n: tuple(v) for n, v in ins.items()}, zoo.n_units)
