"""The torch modules of cifar_resnet: see zoo.arch.cifar_resnet for the architecture and its units."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from zoo.arch.cifar_resnet import _PLANES, CIFAR_DEPTHS

__all__ = ["ShortcutA", "BasicBlockA", "CifarResNet"]


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
                width = widths[len(blocks)]  # 0: the block is dropped
                blocks.append(BasicBlockA(c_in, width, planes, 2 if stage > 0 and b == 0 else 1) if width else nn.Identity())
                c_in = planes
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.layers(self.relu(self.bn1(self.conv1(x))))
        return self.fc(self.avgpool(x).flatten(1))

