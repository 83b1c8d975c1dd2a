"""The torch modules of mobilenet: see zoo.arch.mobilenet for the architecture and its units."""

from __future__ import annotations

from torch import nn

from zoo.arch.mobilenet import V1_BLOCKS, _v2_blocks

__all__ = ["MobileNetV1", "InvertedResidual", "MobileNetV2"]


def _cbr(c_in, c_out, k, stride, groups=1, act=nn.ReLU):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), act(inplace=True))


class MobileNetV1(nn.Module):
    def __init__(self, name: str, widths: list[int], num_classes: int = 1000):
        super().__init__()
        layers = [_cbr(3, widths[0], 3, 2)]
        for i, (_, stride) in enumerate(V1_BLOCKS, start=1):
            layers += [_cbr(widths[i - 1], widths[i - 1], 3, stride, groups=widths[i - 1]), _cbr(widths[i - 1], widths[i], 1, 1)]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        return self.fc(self.avgpool(self.features(x)).flatten(1))


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, hidden: int, c_out: int, stride: int, expand: bool, residual: bool):
        super().__init__()
        layers = [_cbr(c_in, hidden, 1, 1, act=nn.ReLU6)] if expand else []
        layers += [_cbr(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)
        self.use_res = residual  # from the unpruned architecture: a pruned stem may match c_out by chance

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, name: str, widths: list[int], num_classes: int = 1000):
        super().__init__()
        blocks = _v2_blocks()
        stem = widths[0] if blocks[0][0] == 1 else 32
        layers = [_cbr(3, stem, 3, 2, act=nn.ReLU6)]
        for i, (t, c_in, c_out, s) in enumerate(blocks):
            layers.append(InvertedResidual(stem if i == 0 else c_in, widths[i], c_out, s, expand=t != 1,
                                           residual=s == 1 and c_in == c_out) if widths[i] else nn.Identity())
        layers.append(_cbr(320, 1280, 1, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))

