"""YOLOv8n (ultralytics yolov8.yaml at depth 0.33, width 0.25): backbone, PAN neck, detect head.

C2f's first 1x1 conv (c1 -> 2c, then split in two) is held as two 1x1 convs (c1 -> c each), the
Torch-Pruning recipe ("C2f_v2") that lets dependency-aware pruning see no channel split; FLOPs and
parameters are identical. The network's outputs are the three raw head maps (box distribution and
class logits per level); decoding boxes (DFL softmax, anchors, NMS) is post-processing and not in
the workload table. Units: the standalone convs' outputs, each C2f's hidden width and output,
SPPF's hidden width and output (25).
"""

from __future__ import annotations

import torch
from torch import nn

from hdap.zoo.spec import Ch, NetSpec

__all__ = ["YOLOv8n", "yolov8n_spec", "UNITS", "FULL_WIDTHS"]

# (unit name, full width)
_UNITS = [("conv0", 16), ("conv1", 32), ("c2f2.hidden", 16), ("c2f2.out", 32), ("conv3", 64),
          ("c2f4.hidden", 32), ("c2f4.out", 64), ("conv5", 128), ("c2f6.hidden", 64), ("c2f6.out", 128),
          ("conv7", 256), ("c2f8.hidden", 128), ("c2f8.out", 256), ("sppf9.hidden", 128), ("sppf9.out", 256),
          ("c2f12.hidden", 64), ("c2f12.out", 128), ("c2f15.hidden", 32), ("c2f15.out", 64), ("conv16", 64),
          ("c2f18.hidden", 64), ("c2f18.out", 128), ("conv19", 128), ("c2f21.hidden", 128), ("c2f21.out", 256)]
UNITS = tuple(n for n, _ in _UNITS)
FULL_WIDTHS = tuple(w for _, w in _UNITS)
# C2f layers: (index, bottlenecks, shortcut)
_C2F = {2: (1, True), 4: (2, True), 6: (2, True), 8: (1, True), 12: (1, False), 15: (1, False), 18: (1, False),
        21: (1, False)}
NUM_CLASSES, REG_MAX, BOX_CH, CLS_CH = 80, 16, 64, 80  # Detect: c2 = max(16, 64 // 4, 4 x 16), c3 = max(64, 80)


class Conv(nn.Module):
    """ultralytics Conv: conv (same padding, no bias), batch norm, SiLU."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool):
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1: int, c: int, c2: int, n: int, shortcut: bool):
        super().__init__()
        self.cv0, self.cv1 = Conv(c1, c, 1), Conv(c1, c, 1)
        self.m = nn.ModuleList(Bottleneck(c, shortcut) for _ in range(n))
        self.cv2 = Conv((2 + n) * c, c2, 1)

    def forward(self, x):
        y = [self.cv0(x), self.cv1(x)]
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c: int, c2: int, k: int = 5):
        super().__init__()
        self.cv1, self.cv2 = Conv(c1, c, 1), Conv(4 * c, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y0 = self.cv1(x)
        y1 = self.m(y0)
        y2 = self.m(y1)
        return self.cv2(torch.cat([y0, y1, y2, self.m(y2)], 1))


class Detect(nn.Module):
    def __init__(self, ch: tuple[int, int, int]):
        super().__init__()
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, BOX_CH, 3), Conv(BOX_CH, BOX_CH, 3), nn.Conv2d(BOX_CH, 4 * REG_MAX, 1))
                                 for c in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, CLS_CH, 3), Conv(CLS_CH, CLS_CH, 3), nn.Conv2d(CLS_CH, NUM_CLASSES, 1))
                                 for c in ch)
        self.dfl = nn.Conv2d(REG_MAX, 1, 1, bias=False).requires_grad_(False)  # used by box decoding only

    def forward(self, p3, p4, p5):
        return [torch.cat([self.cv2[i](x), self.cv3[i](x)], 1) for i, x in enumerate((p3, p4, p5))]


class YOLOv8n(nn.Module):
    def __init__(self, name: str, widths: list[int]):
        super().__init__()
        w = dict(zip(UNITS, widths))
        self.conv0 = Conv(3, w["conv0"], 3, 2)
        self.conv1 = Conv(w["conv0"], w["conv1"], 3, 2)
        self.c2f2 = self._c2f(2, w["conv1"], w)
        self.conv3 = Conv(w["c2f2.out"], w["conv3"], 3, 2)
        self.c2f4 = self._c2f(4, w["conv3"], w)
        self.conv5 = Conv(w["c2f4.out"], w["conv5"], 3, 2)
        self.c2f6 = self._c2f(6, w["conv5"], w)
        self.conv7 = Conv(w["c2f6.out"], w["conv7"], 3, 2)
        self.c2f8 = self._c2f(8, w["conv7"], w)
        self.sppf9 = SPPF(w["c2f8.out"], w["sppf9.hidden"], w["sppf9.out"])
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.c2f12 = self._c2f(12, w["sppf9.out"] + w["c2f6.out"], w)
        self.c2f15 = self._c2f(15, w["c2f12.out"] + w["c2f4.out"], w)
        self.conv16 = Conv(w["c2f15.out"], w["conv16"], 3, 2)
        self.c2f18 = self._c2f(18, w["conv16"] + w["c2f12.out"], w)
        self.conv19 = Conv(w["c2f18.out"], w["conv19"], 3, 2)
        self.c2f21 = self._c2f(21, w["conv19"] + w["sppf9.out"], w)
        self.detect = Detect((w["c2f15.out"], w["c2f18.out"], w["c2f21.out"]))

    @staticmethod
    def _c2f(i: int, c1: int, w: dict) -> C2f:
        n, shortcut = _C2F[i]
        return C2f(c1, w[f"c2f{i}.hidden"], w[f"c2f{i}.out"], n, shortcut)

    def forward(self, x):
        x = self.c2f2(self.conv1(self.conv0(x)))
        p3 = self.c2f4(self.conv3(x))
        p4 = self.c2f6(self.conv5(p3))
        p5 = self.sppf9(self.c2f8(self.conv7(p4)))
        x12 = self.c2f12(torch.cat([self.up(p5), p4], 1))
        out3 = self.c2f15(torch.cat([self.up(x12), p3], 1))
        out4 = self.c2f18(torch.cat([self.conv16(out3), x12], 1))
        out5 = self.c2f21(torch.cat([self.conv19(out4), p5], 1))
        return self.detect(out3, out4, out5)


def _conv(net, c1, c2, k, h, w, s=1):
    h2, w2 = net.conv(c1, c2, k, h, w, s)
    net.norm(c2, h2, w2), net.act(c2, h2, w2)
    return h2, w2


def _c2f_spec(net, i, c1, u, h, w):
    n, shortcut = _C2F[i]
    c, c2 = u[f"c2f{i}.hidden"], u[f"c2f{i}.out"]
    _conv(net, c1, c, 1, h, w), _conv(net, c1, c, 1, h, w)
    for _ in range(n):
        _conv(net, c, c, 3, h, w), _conv(net, c, c, 3, h, w)
        if shortcut:
            net.add(c, h, w)
    net.concat([c] * (2 + n), h, w)
    _conv(net, c * (2 + n), c2, 1, h, w)
    return c2


def yolov8n_spec(name: str = "yolov8n", size: int = 640) -> NetSpec:
    net = NetSpec(len(UNITS))
    u = {n: Ch.unit(i) for i, n in enumerate(UNITS)}
    h, w = _conv(net, 3, u["conv0"], 3, size, size, 2)
    h, w = _conv(net, u["conv0"], u["conv1"], 3, h, w, 2)
    x = _c2f_spec(net, 2, u["conv1"], u, h, w)
    h3, w3 = _conv(net, x, u["conv3"], 3, h, w, 2)
    p3 = _c2f_spec(net, 4, u["conv3"], u, h3, w3)
    h4, w4 = _conv(net, p3, u["conv5"], 3, h3, w3, 2)
    p4 = _c2f_spec(net, 6, u["conv5"], u, h4, w4)
    h5, w5 = _conv(net, p4, u["conv7"], 3, h4, w4, 2)
    x = _c2f_spec(net, 8, u["conv7"], u, h5, w5)
    c = u["sppf9.hidden"]
    _conv(net, x, c, 1, h5, w5)
    for _ in range(3):
        net.pool(c, h5, w5, 5, 1, 2)
    net.concat([c] * 4, h5, w5)
    p5 = u["sppf9.out"]
    _conv(net, 4 * c, p5, 1, h5, w5)
    net.upsample(p5, h5, w5)
    x12 = _c2f_spec(net, 12, net.concat([p5, p4], h4, w4), u, h4, w4)
    net.upsample(x12, h4, w4)
    out3 = _c2f_spec(net, 15, net.concat([x12, p3], h3, w3), u, h3, w3)
    _conv(net, out3, u["conv16"], 3, h3, w3, 2)
    out4 = _c2f_spec(net, 18, net.concat([u["conv16"], x12], h4, w4), u, h4, w4)
    _conv(net, out4, u["conv19"], 3, h4, w4, 2)
    out5 = _c2f_spec(net, 21, net.concat([u["conv19"], p5], h5, w5), u, h5, w5)
    for x, (hh, ww) in zip((out3, out4, out5), ((h3, w3), (h4, w4), (h5, w5))):
        _conv(net, x, BOX_CH, 3, hh, ww), _conv(net, BOX_CH, BOX_CH, 3, hh, ww)
        net.conv(BOX_CH, 4 * REG_MAX, 1, hh, ww, bias=True)
        _conv(net, x, CLS_CH, 3, hh, ww), _conv(net, CLS_CH, CLS_CH, 3, hh, ww)
        net.conv(CLS_CH, NUM_CLASSES, 1, hh, ww, bias=True)
        net.concat([4 * REG_MAX, NUM_CLASSES], hh, ww)
    return net
