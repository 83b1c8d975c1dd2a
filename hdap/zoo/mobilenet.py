"""MobileNetV1 (Howard et al. 2017, width 1.0) and MobileNetV2 (torchvision's definition).

Units. V1: the stem's and each depthwise-separable block's output channels (14). V2: each
inverted residual's hidden (expanded) width (17); the first block has no expansion, so its
unit is the stem's output, which its depthwise conv and projection read.
"""

from __future__ import annotations

from torch import nn

from hdap.zoo.spec import Ch, NetSpec

__all__ = ["MobileNetV1", "MobileNetV2", "mobilenet_v1_spec", "mobilenet_v2_spec"]

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
    def __init__(self, c_in: int, hidden: int, c_out: int, stride: int, expand: bool):
        super().__init__()
        layers = [_cbr(c_in, hidden, 1, 1, act=nn.ReLU6)] if expand else []
        layers += [_cbr(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)
        self.use_res = stride == 1 and c_in == c_out

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, name: str, widths: list[int], num_classes: int = 1000):
        super().__init__()
        blocks = _v2_blocks()
        stem = widths[0] if blocks[0][0] == 1 else 32
        layers = [_cbr(3, stem, 3, 2, act=nn.ReLU6)]
        for i, (t, c_in, c_out, s) in enumerate(blocks):
            layers.append(InvertedResidual(stem if i == 0 else c_in, widths[i], c_out, s, expand=t != 1))
        layers.append(_cbr(320, 1280, 1, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


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
        if t != 1:
            _cbr_spec(net, c_in, hidden, 1, h, w, 1)
        h2, w2 = _cbr_spec(net, hidden, hidden, 3, h, w, s, depthwise=True)
        net.conv(hidden, c_out, 1, h2, w2), net.norm(c_out, h2, w2)
        if s == 1 and i > 0 and blocks[i][1] == c_out:
            net.add(c_out, h2, w2)
        h, w = h2, w2
    h, w = _cbr_spec(net, 320, 1280, 1, h, w, 1)
    net.global_pool(1280, h, w)
    net.linear(1280, num_classes)
    return net
