"""CIFAR ResNets (He et al. 2016, section 4.2): ResNet-20/56/110 on 32x32 inputs.

Three stages of n basic blocks at 16/32/64 channels, option-A shortcuts (stride-2 subsampling and
zero-padded channels, no parameters): 0.27 M / 0.85 M / 1.7 M parameters. One unit per block: its
inner width (conv1's outputs); width 0 drops a block with an identity shortcut (all but each
stage's first).

Torch-free: the architecture as data and its symbolic workload spec.
"""

from __future__ import annotations

from contextlib import nullcontext

from zoo.spec import Ch, NetSpec

__all__ = ["CIFAR_DEPTHS", "full_widths", "cifar_resnet_spec"]

CIFAR_DEPTHS = {"resnet20": 3, "resnet56": 9, "resnet110": 18}


_PLANES = (16, 32, 64)


def full_widths(name: str) -> list[int]:
    return [p for p in _PLANES for _ in range(CIFAR_DEPTHS[name])]


def cifar_resnet_spec(name: str, size: int = 32, num_classes: int = 10) -> NetSpec:
    n = CIFAR_DEPTHS[name]
    net = NetSpec(3 * n)
    h, w = net.conv(3, 16, 3, size, size)
    net.norm(16, h, w), net.act(16, h, w)
    c_in, u = 16, 0
    for stage, planes in enumerate(_PLANES):
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            width = Ch.unit(u)
            identity = stride == 1 and c_in == planes  # no option-A shortcut: the block can become the identity
            with net.block(u) if identity else nullcontext():
                h2, w2 = net.conv(c_in, width, 3, h, w, stride)
                net.norm(width, h2, w2), net.act(width, h2, w2)
                net.conv(width, planes, 3, h2, w2), net.norm(planes, h2, w2)
                if not identity:
                    net.concat([planes], h2, w2)  # the zero-padded shortcut: a copy into more channels
                net.add(planes, h2, w2), net.act(planes, h2, w2)
            h, w, c_in, u = h2, w2, planes, u + 1
    net.global_pool(64, h, w)
    net.linear(64, num_classes)
    return net

