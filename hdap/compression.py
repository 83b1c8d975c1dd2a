"""Compression schemes of the platform study: quantization to 8, 4, 2 (ternary) and 1 (binary)
bits, and pruning by channels, by blocks, unstructured, or 2:4, each fine-tuned on data.

A scheme wraps every conv and linear layer in ``Compressed``: its weights are masked (pruning)
and fake-quantized, its input fake-quantized, gradients straight through, so fine-tuning trains
the network the hardware will run. Weights: b >= 3 bits symmetric per output channel; 2 bits
ternary (TWN, Li & Liu 2016: threshold 0.7 x mean |w|, one scale per channel); 1 bit binary
(XNOR-Net, Rastegari et al. 2016: sign x mean |w| per channel). Inputs: per tensor from a running
maximum, unsigned where the layer's inputs never go negative (after ReLU), 1-bit inputs as
{0, s} or sign x s. As in the binary-network literature, the first and last layers keep 8 bits.

Block pruning (Yuan et al. 2022, after Ma et al.'s block-based column-row pruning) sees a layer's
weights as a matrix of filters x (input channels x kernel positions), cut into blocks of
``block_filters`` filters x ``block_channels`` channels; within each block it prunes whole columns
(one channel's kernel position across the block's filters) by L2 norm, so every filter of a block
skips the same inputs, which is what lets hardware skip them.

Storage is counted exactly from the masks: dense, CSR, COO, run-length (4-bit zero runs, as
Deep Compression), bit mask, the block format (a column mask per block) and 2:4's 2-bit indices.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from testbed.errors import InputError
from twin.compressed import LayerCompression

__all__ = ["Scheme", "SCHEMES", "parse_schemes", "Compressed", "compress", "uncompressed", "layer_compression", "storage_bits",
           "STORAGE_FORMATS"]

STORAGE_FORMATS = ("dense", "block", "2:4", "bitmask", "rle", "csr", "coo")  # ties go to the first


@dataclass(frozen=True)
class Scheme:
    """One compression: bit width of weights and inputs (32: float), what is pruned, how much is kept."""

    name: str
    bits: int = 32
    structure: str = "dense"       # dense | channel | unstructured | block | 2:4
    density: float = 1.0
    block_filters: int = 8
    block_channels: int = 4

    @property
    def pruned(self) -> bool:
        return self.structure != "dense"


SCHEMES = {s.name: s for s in (
    Scheme("float"), Scheme("int8", 8), Scheme("int4", 4), Scheme("ternary", 2), Scheme("binary", 1),
    Scheme("channel-int8", 8, "channel", 0.5), Scheme("unstructured-int8", 8, "unstructured", 0.5),
    Scheme("block-int8", 8, "block", 0.5), Scheme("2:4-int8", 8, "2:4", 0.5))}


def parse_schemes(text: str) -> list[Scheme]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in SCHEMES]
    if bad or not names:
        raise InputError(f"--schemes: unknown scheme(s) {', '.join(bad) or '(none)'}; allowed: {', '.join(SCHEMES)}")
    return [SCHEMES[n] for n in names]


class _STE(torch.autograd.Function):
    """Round in the forward pass, identity in the backward pass."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):
        return g


class _Straight(torch.autograd.Function):
    """Forward ``q`` exactly, backward the gradient to ``x`` unchanged (straight-through estimator)."""

    @staticmethod
    def forward(ctx, x, q):
        return q.clone()

    @staticmethod
    def backward(ctx, g):
        return g, None


def quantize_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Fake-quantized weights, one scale per output channel (dim 0)."""
    flat = w.reshape(len(w), -1)
    if bits == 1:
        scale = flat.abs().mean(1, keepdim=True)
        q = torch.where(flat >= 0, 1.0, -1.0) * scale
    elif bits == 2:
        delta = 0.7 * flat.abs().mean(1, keepdim=True)
        keep = (flat.abs() > delta).float()
        scale = (flat.abs() * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp(min=1)
        q = torch.sign(flat) * keep * scale
    else:
        levels = 2 ** (bits - 1) - 1
        scale = flat.abs().amax(1, keepdim=True).clamp(min=1e-8) / levels
        q = _STE.apply(flat / scale).clamp(-levels, levels) * scale
    return _Straight.apply(flat, q.detach()).reshape_as(w)


class Compressed(nn.Module):
    """A conv or linear layer run as the scheme's hardware would: masked, quantized weights and
    quantized inputs (``bits`` >= 16: float)."""

    def __init__(self, layer: nn.Conv2d | nn.Linear, bits: int, mask: torch.Tensor | None):
        super().__init__()
        self.layer, self.bits = layer, bits
        self.register_buffer("mask", torch.ones_like(layer.weight) if mask is None else mask.float())
        self.register_buffer("input_max", torch.zeros(()))
        self.register_buffer("input_min", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.bool))

    def _quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                hi, lo = x.abs().max(), x.min()
                if not self.seen:
                    self.input_max.copy_(hi), self.input_min.copy_(lo), self.seen.fill_(True)
                else:
                    self.input_max.mul_(0.9).add_(0.1 * hi)
                    self.input_min.copy_(torch.minimum(self.input_min, lo))
        top = self.input_max.clamp(min=1e-8)
        unsigned = bool(self.input_min >= 0)
        if self.bits == 1:
            q = (x > top / 2).float() * top / 2 if unsigned else torch.where(x >= 0, 1.0, -1.0) * x.abs().mean()
            return _Straight.apply(x, q.detach())
        levels = 2 ** self.bits - 1 if unsigned else 2 ** (self.bits - 1) - 1
        scale = top / levels
        return _STE.apply(x / scale).clamp(0 if unsigned else -levels, levels) * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.layer.weight * self.mask
        if self.bits < 16:
            w, x = quantize_weight(w, self.bits), self._quantize_input(x)
        if isinstance(self.layer, nn.Conv2d):
            return self.layer._conv_forward(x, w, self.layer.bias)
        return nn.functional.linear(x, w, self.layer.bias)


def uncompressed(module: nn.Module) -> nn.Module:
    """A copy with every ``Compressed`` layer unwrapped (its float weights masked): what tracing takes."""
    out = copy.deepcopy(module)
    for name, m in [(n, m) for n, m in out.named_modules() if isinstance(m, Compressed)]:
        with torch.no_grad():
            m.layer.weight.mul_(m.mask)
        replace_layer(out, name, m.layer)
    return out


def replace_layer(module: nn.Module, name: str, child: nn.Module) -> None:
    """Put ``child`` where the submodule called ``name`` (dotted) is."""
    parent, _, attr = name.rpartition(".")
    setattr(module.get_submodule(parent) if parent else module, attr, child)


def _matrix(w: torch.Tensor) -> torch.Tensor:
    """Weights as filters x (channels x kernel positions)."""
    return w.reshape(len(w), -1)


def prune_mask(w: torch.Tensor, scheme: Scheme) -> torch.Tensor:
    """The kept weights of one layer under ``scheme`` (same shape as ``w``)."""
    m = _matrix(w.detach())
    keep = torch.ones_like(m, dtype=torch.bool)
    if scheme.structure == "unstructured":
        k = max(1, round(scheme.density * m.numel()))
        threshold = m.abs().flatten().kthvalue(m.numel() - k + 1).values
        keep = m.abs() >= threshold
    elif scheme.structure == "2:4":
        cols = m.shape[1] - m.shape[1] % 4
        groups = m[:, :cols].abs().reshape(len(m), -1, 4)
        top = groups.topk(2, dim=2).indices
        g = torch.zeros_like(groups, dtype=torch.bool).scatter_(2, top, True)
        keep[:, :cols] = g.reshape(len(m), cols)
    elif scheme.structure == "block":
        keep = _block_keep(m, scheme, m.shape[1] // w.shape[1] if w.dim() == 4 else 1)
    return keep.reshape(w.shape)


def _block_keep(m: torch.Tensor, scheme: Scheme, kernel: int) -> torch.Tensor:
    """Block pruning of a filters x columns matrix, all blocks at once: each block's columns ranked
    by L2 norm over its filters, the top share kept (at least one; a ragged edge block by its own
    column count)."""
    bf, width = scheme.block_filters, scheme.block_channels * kernel
    rows, cols = m.shape
    pr, pc = -rows % bf, -cols % width
    padded = torch.nn.functional.pad(m, (0, pc, 0, pr))
    blocks = padded.reshape(-1, bf, padded.shape[1] // width, width)           # row block, filter, col block, col
    norms = blocks.norm(dim=1)                                                 # row block, col block, col
    valid = torch.zeros(padded.shape[1], dtype=torch.bool)
    valid[:cols] = True
    valid = valid.reshape(-1, width)                                           # col block, col
    norms = torch.where(valid, norms, torch.tensor(-1.0))
    k = (scheme.density * valid.sum(1)).round().clamp(min=1)                  # per col block
    rank = norms.argsort(dim=-1, descending=True).argsort(dim=-1)
    kept = rank < k[None, :, None]                                             # row block, col block, col
    full = kept[:, None, :, :].expand(-1, bf, -1, -1).reshape(padded.shape)
    return full[:rows, :cols]


def _edge_layers(module: nn.Module) -> tuple[str, str]:
    names = [n for n, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return names[0], names[-1]


def compress(module: nn.Module, scheme: Scheme) -> nn.Module:
    """A copy of ``module`` with every conv and linear layer wrapped as ``scheme`` runs it (channel
    pruning has already made the network narrower: its layers are only quantized). The first and
    last layers keep 8 bits below that and are not pruned."""
    out = copy.deepcopy(module)
    first, last = _edge_layers(out)
    for name, layer in [(n, m) for n, m in out.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]:
        edge = name in (first, last)
        bits = max(scheme.bits, 8) if edge else scheme.bits
        sparse = scheme.structure in ("unstructured", "block", "2:4") and not edge
        if bits >= 16 and not sparse:
            continue
        replace_layer(out, name, Compressed(layer, bits, prune_mask(layer.weight, scheme) if sparse else None))
    return out


def storage_bits(mask: np.ndarray, bits: int, scheme: Scheme | None = None) -> dict[str, float]:
    """Exact stored bits of one layer's weights (``mask``: its kept weights, any shape, filters
    first) in every format that applies; values at ``bits`` each."""
    m = np.asarray(mask, bool).reshape(len(mask), -1)
    rows, cols = m.shape
    n, kept = m.size, int(m.sum())
    out = {"dense": float(n * bits)}
    if kept == n:
        return out
    col_bits, row_bits = max(1, math.ceil(math.log2(cols))), max(1, math.ceil(math.log2(rows)))
    out["csr"] = float(kept * (bits + col_bits) + (rows + 1) * 32)
    out["coo"] = float(kept * (bits + col_bits + row_bits))
    flat = m.ravel()
    idx = np.flatnonzero(flat)
    gaps = np.diff(np.concatenate([[-1], idx])) - 1      # zeros before each kept weight
    fillers = int(np.sum(gaps // 16))                      # a 4-bit run holds 15 zeros; longer runs need fillers
    out["rle"] = float((kept + fillers) * (bits + 4))
    out["bitmask"] = float(n + kept * bits)
    if scheme is not None and scheme.structure == "block":
        width = _block_width(mask, scheme)
        blocks_cols = sum(min(width, cols - c) for c in range(0, cols, width)) * math.ceil(rows / scheme.block_filters)
        out["block"] = float(blocks_cols + kept * bits)  # one flag per block column, then the kept values
    if scheme is not None and scheme.structure == "2:4":
        out["2:4"] = float(kept * (bits + 2) + (n - kept * 2) * bits)  # 2-bit position per kept value; a tail stays dense
    return out


def _block_width(mask: np.ndarray, scheme: Scheme) -> int:
    shape = np.shape(mask)
    kernel = int(np.prod(shape[2:])) if len(shape) == 4 else 1
    return scheme.block_channels * kernel


def layer_compression(module: nn.Module, scheme: Scheme) -> tuple[dict[str, LayerCompression],
                                                                   dict[str, dict[str, float]]]:
    """Per conv and linear layer of a ``compress``-ed module (by name), what the twin needs
    (``twin.compressed``) and its exact storage in every format that applies."""
    layers, storage = {}, {}
    wrapped = {n for n, m in module.named_modules() if isinstance(m, Compressed)}
    for name, m in module.named_modules():
        if isinstance(m, Compressed):
            mask, bits = m.mask.detach().cpu().numpy().astype(bool), (m.bits if m.bits < 16 else 32)
        elif isinstance(m, (nn.Conv2d, nn.Linear)) and not any(name.startswith(w + ".") for w in wrapped):
            mask, bits = np.ones(tuple(m.weight.shape), bool), 32
        else:
            continue
        structure = "" if mask.all() else scheme.structure
        layers[name] = LayerCompression(bits, float(mask.mean()), structure)
        storage[name] = storage_bits(mask, bits, scheme)
    return layers, storage
