"""CIFAR ResNets (He et al. 2016, section 4.2): ResNet-20/56/110 on 32x32 inputs.

Three stages of n basic blocks at 16/32/64 channels, option-A shortcuts (stride-2 subsampling and
zero-padded channels, no parameters): 0.27 M / 0.85 M / 1.7 M parameters. One unit per block: its
inner width (conv1's outputs).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from hdap.zoo.spec import Ch, NetSpec

__all__ = ["CifarResNet", "cifar_resnet_spec", "CIFAR_DEPTHS"]

CIFAR_DEPTHS = {"resnet20": 3, "resnet56": 9, "resnet110": 18}
_PLANES = (16, 32, 64)


def full_widths(name: str) -> list[int]:
    return [p for p in _PLANES for _ in range(CIFAR_DEPTHS[name])]


class ShortcutA(nn.Module):
    """Option A: take every other pixel and pad the new channels with zeros."""

    def __init__(self, pad: int):
        super().__init__()
        self.pad = pad

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlockA(nn.Module):
    def __init__(self, c_in: int, width: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = ShortcutA((planes - c_in) // 2) if stride != 1 or c_in != planes else nn.Identity()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, name: str, widths: list[int], num_classes: int = 10):
        super().__init__()
        n = CIFAR_DEPTHS[name]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        c_in, blocks = 16, []
        for stage, planes in enumerate(_PLANES):
            for b in range(n):
                blocks.append(BasicBlockA(c_in, widths[len(blocks)], planes, 2 if stage > 0 and b == 0 else 1))
                c_in = planes
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layers(self.relu(self.bn1(self.conv1(x))))
        return self.fc(self.avgpool(x).flatten(1))


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
            h2, w2 = net.conv(c_in, width, 3, h, w, stride)
            net.norm(width, h2, w2), net.act(width, h2, w2)
            net.conv(width, planes, 3, h2, w2), net.norm(planes, h2, w2)
            if stride != 1 or c_in != planes:
                net.concat([planes], h2, w2)  # the zero-padded shortcut: a copy into more channels
            net.add(planes, h2, w2), net.act(planes, h2, w2)
            h, w, c_in, u = h2, w2, planes, u + 1
    net.global_pool(64, h, w)
    net.linear(64, num_classes)
    return net
