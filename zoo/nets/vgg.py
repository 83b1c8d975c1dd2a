"""The torch modules of vgg: see zoo.arch.vgg for the architecture and its units."""

from __future__ import annotations

from torch import nn

from zoo.arch.vgg import _layout

__all__ = ["VGG"]


class VGG(nn.Module):
    def __init__(self, name: str, widths: list[int], num_classes: int | None = None):
        super().__init__()
        cfg, bn, cifar = _layout(name)
        num_classes = num_classes or (10 if cifar else 1000)
        layers, c_in, u = [], 3, 0
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers += [nn.Conv2d(c_in, widths[u], 3, padding=1)] + ([nn.BatchNorm2d(widths[u])] if bn else [])
            layers.append(nn.ReLU(inplace=True))
            c_in, u = widths[u], u + 1
        self.features = nn.Sequential(*layers)
        if cifar:
            self.avgpool = nn.Identity()
            self.classifier = nn.Sequential(nn.Linear(c_in, widths[u]), nn.BatchNorm1d(widths[u]), nn.ReLU(inplace=True),
                                            nn.Linear(widths[u], num_classes))
        else:
            self.avgpool = nn.AdaptiveAvgPool2d(7)
            self.classifier = nn.Sequential(
                nn.Linear(c_in * 49, widths[u]), nn.ReLU(inplace=True), nn.Dropout(),
                nn.Linear(widths[u], widths[u + 1]), nn.ReLU(inplace=True), nn.Dropout(),
                nn.Linear(widths[u + 1], num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))

