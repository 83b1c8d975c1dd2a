"""MobileNetV1 (Howard et al. 2017, width 1.0) and MobileNetV2 (torchvision's definition).

Units. V1: the stem's and each depthwise-separable block's output channels (14). V2: each
inverted residual's hidden (expanded) width (17); the first block has no expansion, so its
unit is the stem's output, which its depthwise conv and projection read. Width 0 drops a V2
stride-1 block whose input and output channels are equal (it has the residual identity).

Torch-free: the architecture as data and its symbolic workload spec.
"""

from __future__ import annotations

from contextlib import nullcontext

from zoo.spec import Ch, NetSpec

__all__ = ["V1_BLOCKS", "V2_SETTINGS", "full_widths", "mobilenet_v1_spec", "mobilenet_v2_spec"]

V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


V2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _v2_blocks():
    """(expansion, c_in, c_out, stride) per inverted residual."""
    blocks, c_in = [], 32
    for t, c, n, s in V2_SETTINGS:
        for i in range(n):
            blocks.append((t, c_in, c, s if i == 0 else 1))
            c_in = c
    return blocks


def full_widths(name: str) -> list[int]:
    if name == "mobilenet_v1":
        return [32] + [c for c, _ in V1_BLOCKS]
    return [c_in * t for t, c_in, _, _ in _v2_blocks()]


def _cbr_spec(net, c_in, c_out, k, h, w, stride, depthwise=False):
    h2, w2 = net.conv(c_in, c_out, k, h, w, stride, depthwise=depthwise)
    net.norm(c_out, h2, w2), net.act(c_out, h2, w2)
    return h2, w2


def mobilenet_v1_spec(name: str = "mobilenet_v1", size: int = 224, num_classes: int = 1000) -> NetSpec:
    net = NetSpec(1 + len(V1_BLOCKS))
    h, w = _cbr_spec(net, 3, Ch.unit(0), 3, size, size, 2)
    for i, (_, stride) in enumerate(V1_BLOCKS, start=1):
        c = Ch.unit(i - 1)
        h, w = _cbr_spec(net, c, c, 3, h, w, stride, depthwise=True)
        h, w = _cbr_spec(net, c, Ch.unit(i), 1, h, w, 1)
    net.global_pool(Ch.unit(len(V1_BLOCKS)), h, w)
    net.linear(Ch.unit(len(V1_BLOCKS)), num_classes)
    return net


def mobilenet_v2_spec(name: str = "mobilenet_v2", size: int = 224, num_classes: int = 1000) -> NetSpec:
    blocks = _v2_blocks()
    net = NetSpec(len(blocks))
    h, w = _cbr_spec(net, 3, Ch.unit(0), 3, size, size, 2)
    for i, (t, c_in, c_out, s) in enumerate(blocks):
        hidden = Ch.unit(i)
        c_in = Ch.unit(0) if i == 0 else c_in
        residual = s == 1 and i > 0 and blocks[i][1] == c_out
        with net.block(i) if residual else nullcontext():
            if t != 1:
                _cbr_spec(net, c_in, hidden, 1, h, w, 1)
            h2, w2 = _cbr_spec(net, hidden, hidden, 3, h, w, s, depthwise=True)
            net.conv(hidden, c_out, 1, h2, w2), net.norm(c_out, h2, w2)
            if residual:
                net.add(c_out, h2, w2)
        h, w = h2, w2
    h, w = _cbr_spec(net, 320, 1280, 1, h, w, 1)
    net.global_pool(1280, h, w)
    net.linear(1280, num_classes)
    return net

