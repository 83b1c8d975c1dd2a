"""Symbolic network descriptions: channel counts as linear expressions of the width vector.

A family describes its network once, layer by layer, with channel counts written as ``Ch``
expressions (a constant, one unit's width, sums for concatenation, multiples for split blocks).
Spatial sizes do not depend on widths, so they are plain numbers. Layers recorded inside
``NetSpec.block(unit)`` form a residual block with an identity path: a width of 0 for that unit
removes them (depth pruning: the block becomes the identity). ``NetSpec.compile`` turns the
description into arrays; ``Template.table(widths)`` then evaluates every layer's channels with
two matrix-vector products and hands them to ``zoo.workload.layer_costs``: tens of microseconds
per architecture, with no torch module built. A unit run in int8 (``table(widths, int8)``) puts the
dense layers whose output channels it sets, and the layers after them up to the next dense layer
(the norms and activations an engine fuses into them), in int8; so does a dense layer of fixed
width that reads only the unit's channels.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from zoo.workload import LAYER_KINDS, PRECISIONS, Workload, conv_out, layer_costs, stride_of

__all__ = ["Ch", "NetSpec", "Template"]

_CODE = {k: i for i, k in enumerate(LAYER_KINDS)}
_INT8 = PRECISIONS.index("int8")


class Ch:
    """A channel count: ``const + sum(coef[u] * width[u])``."""

    __slots__ = ("const", "coef")

    def __init__(self, const: float = 0.0, coef: dict[int, float] | None = None):
        self.const, self.coef = float(const), dict(coef or {})

    @staticmethod
    def unit(index: int) -> "Ch":
        return Ch(0.0, {index: 1.0})

    def __add__(self, other: "Ch | int") -> "Ch":
        other = other if isinstance(other, Ch) else Ch(other)
        coef = dict(self.coef)
        for k, v in other.coef.items():
            coef[k] = coef.get(k, 0.0) + v
        return Ch(self.const + other.const, coef)

    __radd__ = __add__

    def __mul__(self, factor: int) -> "Ch":
        return Ch(self.const * factor, {k: v * factor for k, v in self.coef.items()})

    __rmul__ = __mul__

    def row(self, n_units: int) -> np.ndarray:
        r = np.zeros(n_units + 1)
        r[0] = self.const
        for k, v in self.coef.items():
            r[k + 1] += v
        return r


def _ch(c) -> Ch:
    return c if isinstance(c, Ch) else Ch(c)


class NetSpec:
    """Records layers in execution order; each method returns the output spatial size."""

    def __init__(self, n_units: int):
        self.n_units = n_units
        self.layers: list[tuple] = []  # kind, c_in, c_out, kernel, depthwise, h_in, w_in, h, w, bias, block
        self._block = -1

    @contextmanager
    def block(self, unit: int):
        """Layers added inside form unit ``unit``'s residual block, which an identity can replace."""
        self._block = unit
        try:
            yield
        finally:
            self._block = -1

    def _add(self, kind, c_in, c_out, kernel, h_in, w_in, h, w, depthwise=False, bias=False):
        self.layers.append((kind, _ch(c_in), _ch(c_out), kernel, depthwise, h_in, w_in, h, w, bias, self._block))
        return h, w

    def conv(self, c_in, c_out, kernel, h, w, stride=1, padding=None, depthwise=False, bias=False):
        pad = kernel // 2 if padding is None else padding
        ho, wo = conv_out(h, kernel, stride, pad), conv_out(w, kernel, stride, pad)
        return self._add("dwconv" if depthwise else "conv", c_in, c_out, kernel, h, w, ho, wo, depthwise, bias)

    def linear(self, c_in, c_out, bias=True):
        return self._add("linear", c_in, c_out, 1, 1, 1, 1, 1, bias=bias)

    def norm(self, c, h, w):
        return self._add("norm", c, c, 1, h, w, h, w)

    def act(self, c, h, w):
        return self._add("activation", c, c, 1, h, w, h, w)

    def add(self, c, h, w):
        return self._add("add", c, c, 1, h, w, h, w)

    def pool(self, c, h, w, kernel, stride, padding=0):
        return self._add("pool", c, c, kernel, h, w, conv_out(h, kernel, stride, padding),
                         conv_out(w, kernel, stride, padding))

    def global_pool(self, c, h, w):
        return self._add("pool", c, c, h, h, w, 1, 1)

    def concat(self, channels: list, h, w) -> Ch:
        total = sum((_ch(c) for c in channels), Ch())
        self._add("concat", total, total, 1, h, w, h, w)
        return total

    def upsample(self, c, h, w, scale=2):
        return self._add("upsample", c, c, 1, h, w, h * scale, w * scale)

    def compile(self) -> "Template":
        cols = list(zip(*self.layers))
        kind = np.array([_CODE[k] for k in cols[0]], np.int8)
        e_in = np.array([c.row(self.n_units) for c in cols[1]])
        e_out = np.array([c.row(self.n_units) for c in cols[2]])
        ints = lambda i: np.array(cols[i], np.int64)  # noqa: E731
        return Template(kind, e_in, e_out, ints(3), np.array(cols[4], bool), ints(5), ints(6), ints(7),
                        ints(8), np.array(cols[9], bool), ints(10))


@dataclass(frozen=True, eq=False)
class Template:
    """A compiled NetSpec: the workload table of any width vector in a few array operations."""

    kind: np.ndarray
    e_in: np.ndarray     # (layers, units + 1): c_in = e_in @ [1, widths]
    e_out: np.ndarray
    kernel: np.ndarray
    depthwise: np.ndarray
    h_in: np.ndarray
    w_in: np.ndarray
    h: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    block: np.ndarray    # the unit whose width 0 removes the layer (its residual block), or -1

    @property
    def droppable(self) -> tuple[int, ...]:
        """Units whose residual block an identity can replace."""
        return tuple(int(u) for u in np.unique(self.block[self.block >= 0]))

    @cached_property
    def owner(self) -> np.ndarray:
        """Per layer, the unit whose precision it runs in (-1: the deployment's): a dense layer's is the
        one unit its output channels follow, else the one its input channels follow (a bottleneck's
        last conv belongs to its block); every other layer follows the dense layer before it."""
        def single(e):
            units = e[:, 1:] != 0
            return np.where(units.sum(axis=1) == 1, units.argmax(axis=1), -1)
        by_out, by_in = single(self.e_out), single(self.e_in)
        own = np.where(by_out >= 0, by_out, by_in)
        out, last = np.empty(len(self.kind), np.int64), -1
        for i, k in enumerate(self.kind):
            last = own[i] if k <= _CODE["linear"] else last
            out[i] = last
        return out

    @property
    def quantizable(self) -> tuple[int, ...]:
        """Units that own a layer: those an int8 flag changes."""
        return tuple(int(u) for u in np.unique(self.owner[self.owner >= 0]))

    def int8_macs(self, widths, int8) -> float:
        """Dense MACs run in int8 by the units flagged in ``int8`` (without building the table)."""
        macs, keep = self._dense_macs(widths)
        flags = np.concatenate([np.asarray(int8, bool), [False]])
        return float(macs[keep & flags[self.owner[self._dense_rows]]].sum())

    @cached_property
    def _dense_rows(self) -> np.ndarray:
        return np.flatnonzero(self.kind <= _CODE["linear"])

    @cached_property
    def _dense(self) -> tuple[np.ndarray, ...]:
        """The conv, dwconv and linear rows: what ``dense_flops`` sums."""
        rows = self._dense_rows
        return (self.e_in[rows], self.e_out[rows], self.depthwise[rows], self.block[rows],
                (self.kernel[rows] ** 2 * self.h[rows] * self.w[rows]).astype(np.float64))

    def _dense_macs(self, widths) -> tuple[np.ndarray, np.ndarray]:
        """(MACs, executed?) of every dense row."""
        e_in, e_out, depthwise, block, k2hw = self._dense
        v = np.concatenate([[1.0], np.asarray(widths, dtype=np.float64)])
        c_in, c_out = np.rint(e_in @ v), np.rint(e_out @ v)
        return c_out * k2hw * np.where(depthwise, 1.0, c_in), (block < 0) | (v[1:][np.maximum(block, 0)] > 0)

    def dense_flops(self, widths) -> float:
        """``table(widths).dense_flops`` without building the table (the search's FLOPs repair asks
        for it thousands of times per search)."""
        macs, keep = self._dense_macs(widths)
        return float(macs[keep].sum())

    def kept(self, widths) -> np.ndarray:
        """Which layers execute: all but those of blocks whose unit has width 0."""
        w = np.asarray(widths)
        return (self.block < 0) | (w[np.maximum(self.block, 0)] > 0)

    def channels(self, widths) -> tuple[np.ndarray, np.ndarray]:
        """(c_in, c_out) of every layer, executed or not."""
        v = np.concatenate([[1.0], np.asarray(widths, dtype=np.float64)])
        return np.rint(self.e_in @ v).astype(np.int64), np.rint(self.e_out @ v).astype(np.int64)

    def params(self, widths) -> int:
        """Learnable parameters of the layers in the table (weights, biases, norm scale and shift)."""
        c_in, c_out = self.channels(widths)
        groups = np.where(self.depthwise, np.maximum(c_in, 1), 1)
        weights = c_out * (c_in // groups) * self.kernel ** 2 + np.where(self.bias, c_out, 0)
        per_layer = np.select([np.isin(self.kind, [_CODE["conv"], _CODE["dwconv"], _CODE["linear"]]),
                               self.kind == _CODE["norm"]], [weights, 2 * c_out], 0)
        return int(per_layer[self.kept(widths)].sum())

    def table(self, widths, int8=None) -> Workload:
        """The workload table of ``widths``; ``int8`` (a flag per unit) puts those units' layers in int8."""
        keep = self.kept(widths)
        c_in, c_out = (c[keep] for c in self.channels(widths))
        groups = np.where(self.depthwise[keep], c_in, 1)
        kernel, h_in, w_in, h, w = self.kernel[keep], self.h_in[keep], self.w_in[keep], self.h[keep], self.w[keep]
        flops, read, written = layer_costs(self.kind[keep], c_in, c_out, kernel, groups, h_in, w_in, h, w,
                                           self.bias[keep])
        precision = None
        if int8 is not None and np.any(int8):
            flags = np.concatenate([np.asarray(int8, bool), [False]])  # owner -1 reads the last: False
            precision = np.where(flags[self.owner[keep]], _INT8, 0).astype(np.int8)
        return Workload(kind=self.kind[keep], flops=flops, bytes_read=read, bytes_written=written, c_in=c_in,
                        c_out=c_out, kernel=kernel, stride=stride_of(h_in, h), groups=groups, h=h, w=w,
                        precision=precision)
