"""The torch modules of yolo: see zoo.arch.yolo for the architecture and its units."""

from __future__ import annotations

import torch
from torch import nn

from zoo.arch.yolo import NUM_CLASSES, REG_MAX, UNITS, config

__all__ = ["Conv", "Bottleneck", "C2f", "SPPF", "Detect", "YOLOv8"]


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
    def __init__(self, ch: tuple[int, int, int], box: int, cls: int):
        super().__init__()
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, box, 3), Conv(box, box, 3), nn.Conv2d(box, 4 * REG_MAX, 1))
                                 for c in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, cls, 3), Conv(cls, cls, 3), nn.Conv2d(cls, NUM_CLASSES, 1))
                                 for c in ch)
        self.dfl = nn.Conv2d(REG_MAX, 1, 1, bias=False).requires_grad_(False)  # used by box decoding only

    def forward(self, p3, p4, p5):
        return [torch.cat([self.cv2[i](x), self.cv3[i](x)], 1) for i, x in enumerate((p3, p4, p5))]


class YOLOv8(nn.Module):
    """Any scale of the family (``name``: yolov8n ... yolov8x) at any width vector."""

    def __init__(self, name: str, widths: list[int]):
        super().__init__()
        self.cfg = cfg = config(name)
        w = dict(zip(UNITS, widths))
        self.conv0 = Conv(3, w["conv0"], 3, 2)
        self.conv1 = Conv(w["conv0"], w["conv1"], 3, 2)
        self.c2f2 = self._c2f(cfg, 2, w["conv1"], w)
        self.conv3 = Conv(w["c2f2.out"], w["conv3"], 3, 2)
        self.c2f4 = self._c2f(cfg, 4, w["conv3"], w)
        self.conv5 = Conv(w["c2f4.out"], w["conv5"], 3, 2)
        self.c2f6 = self._c2f(cfg, 6, w["conv5"], w)
        self.conv7 = Conv(w["c2f6.out"], w["conv7"], 3, 2)
        self.c2f8 = self._c2f(cfg, 8, w["conv7"], w)
        self.sppf9 = SPPF(w["c2f8.out"], w["sppf9.hidden"], w["sppf9.out"])
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.c2f12 = self._c2f(cfg, 12, w["sppf9.out"] + w["c2f6.out"], w)
        self.c2f15 = self._c2f(cfg, 15, w["c2f12.out"] + w["c2f4.out"], w)
        self.conv16 = Conv(w["c2f15.out"], w["conv16"], 3, 2)
        self.c2f18 = self._c2f(cfg, 18, w["conv16"] + w["c2f12.out"], w)
        self.conv19 = Conv(w["c2f18.out"], w["conv19"], 3, 2)
        self.c2f21 = self._c2f(cfg, 21, w["conv19"] + w["sppf9.out"], w)
        self.detect = Detect((w["c2f15.out"], w["c2f18.out"], w["c2f21.out"]), cfg.box_ch, cfg.cls_ch)

    @staticmethod
    def _c2f(cfg, i: int, c1: int, w: dict) -> C2f:
        n, shortcut = cfg.c2f[i]
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

