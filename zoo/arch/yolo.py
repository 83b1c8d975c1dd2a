"""YOLOv8 n/s/m/l/x (ultralytics yolov8.yaml): backbone, PAN neck, detect head.

One layout, scaled per model as ultralytics scales it: every channel count is
``make_divisible(min(c, max_channels) x width, 8)`` and every C2f repeats its bottleneck
``max(round(n x depth), 1)`` times (``SCALES``: depth, width, max_channels). The detect head's
hidden widths follow the unpruned P3 width (``c2 = max(16, P3 / 4, 4 x reg_max)``,
``c3 = max(P3, min(classes, 100))``) and are not pruned.

C2f's first 1x1 conv (c1 -> 2c, then split in two) is held as two 1x1 convs (c1 -> c each), the
Torch-Pruning recipe ("C2f_v2") that lets dependency-aware pruning see no channel split; FLOPs and
parameters are identical. The network's outputs are the three raw head maps (box distribution and
class logits per level); decoding boxes (DFL softmax, anchors, NMS) is post-processing and not in
the workload table. Units: the standalone convs' outputs, each C2f's hidden width and output,
SPPF's hidden width and output (25).

Torch-free: the architecture as data and its symbolic workload spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zoo.spec import Ch, NetSpec

__all__ = ["SCALES", "UNITS", "NUM_CLASSES", "REG_MAX", "YoloConfig", "config", "yolo_spec"]

# ultralytics yolov8.yaml "scales": depth multiple, width multiple, max channels
SCALES = {"yolov8n": (0.33, 0.25, 1024), "yolov8s": (0.33, 0.50, 1024), "yolov8m": (0.67, 0.75, 768),
          "yolov8l": (1.00, 1.00, 512), "yolov8x": (1.00, 1.25, 512)}

# (unit, channels at width 1 before the max_channels cap); a C2f's hidden width is half its output
_BASE = [("conv0", 64), ("conv1", 128), ("c2f2", 128), ("conv3", 256), ("c2f4", 256), ("conv5", 512),
         ("c2f6", 512), ("conv7", 1024), ("c2f8", 1024), ("sppf9", 1024), ("c2f12", 512), ("c2f15", 256),
         ("conv16", 256), ("c2f18", 512), ("conv19", 512), ("c2f21", 1024)]
_REPEATS = {2: 3, 4: 6, 6: 6, 8: 3, 12: 3, 15: 3, 18: 3, 21: 3}          # C2f bottlenecks at depth 1
_SHORTCUT = {2: True, 4: True, 6: True, 8: True, 12: False, 15: False, 18: False, 21: False}

UNITS = ("conv0", "conv1", "c2f2.hidden", "c2f2.out", "conv3", "c2f4.hidden", "c2f4.out", "conv5", "c2f6.hidden",
         "c2f6.out", "conv7", "c2f8.hidden", "c2f8.out", "sppf9.hidden", "sppf9.out", "c2f12.hidden", "c2f12.out",
         "c2f15.hidden", "c2f15.out", "conv16", "c2f18.hidden", "c2f18.out", "conv19", "c2f21.hidden", "c2f21.out")
NUM_CLASSES, REG_MAX = 80, 16


@dataclass(frozen=True)
class YoloConfig:
    """One scale of the family: full unit widths, C2f (bottlenecks, shortcut), head widths."""

    full_widths: tuple[int, ...]
    c2f: dict[int, tuple[int, bool]]
    box_ch: int
    cls_ch: int


def config(name: str) -> YoloConfig:
    depth, width, max_channels = SCALES[name]
    out = {u: math.ceil(min(c, max_channels) * width / 8) * 8 for u, c in _BASE}
    widths = {}
    for u, _ in _BASE:
        if u.startswith("c2f"):
            widths[f"{u}.hidden"], widths[f"{u}.out"] = int(out[u] * 0.5), out[u]
        elif u == "sppf9":
            widths["sppf9.hidden"], widths["sppf9.out"] = out["c2f8"] // 2, out[u]
        else:
            widths[u] = out[u]
    p3 = widths["c2f15.out"]
    return YoloConfig(tuple(widths[u] for u in UNITS),
                      {i: (max(round(n * depth), 1), _SHORTCUT[i]) for i, n in _REPEATS.items()},
                      max(16, p3 // 4, 4 * REG_MAX), max(p3, min(NUM_CLASSES, 100)))


def _conv(net, c1, c2, k, h, w, s=1):
    h2, w2 = net.conv(c1, c2, k, h, w, s)
    net.norm(c2, h2, w2), net.act(c2, h2, w2)
    return h2, w2


def _c2f_spec(net, cfg, i, c1, u, h, w):
    n, shortcut = cfg.c2f[i]
    c, c2 = u[f"c2f{i}.hidden"], u[f"c2f{i}.out"]
    _conv(net, c1, c, 1, h, w), _conv(net, c1, c, 1, h, w)
    for _ in range(n):
        _conv(net, c, c, 3, h, w), _conv(net, c, c, 3, h, w)
        if shortcut:
            net.add(c, h, w)
    net.concat([c] * (2 + n), h, w)
    _conv(net, c * (2 + n), c2, 1, h, w)
    return c2


def yolo_spec(name: str = "yolov8n", size: int = 640) -> NetSpec:
    cfg = config(name)
    box, cls = cfg.box_ch, cfg.cls_ch
    net = NetSpec(len(UNITS))
    u = {n: Ch.unit(i) for i, n in enumerate(UNITS)}
    h, w = _conv(net, 3, u["conv0"], 3, size, size, 2)
    h, w = _conv(net, u["conv0"], u["conv1"], 3, h, w, 2)
    x = _c2f_spec(net, cfg, 2, u["conv1"], u, h, w)
    h3, w3 = _conv(net, x, u["conv3"], 3, h, w, 2)
    p3 = _c2f_spec(net, cfg, 4, u["conv3"], u, h3, w3)
    h4, w4 = _conv(net, p3, u["conv5"], 3, h3, w3, 2)
    p4 = _c2f_spec(net, cfg, 6, u["conv5"], u, h4, w4)
    h5, w5 = _conv(net, p4, u["conv7"], 3, h4, w4, 2)
    x = _c2f_spec(net, cfg, 8, u["conv7"], u, h5, w5)
    c = u["sppf9.hidden"]
    _conv(net, x, c, 1, h5, w5)
    for _ in range(3):
        net.pool(c, h5, w5, 5, 1, 2)
    net.concat([c] * 4, h5, w5)
    p5 = u["sppf9.out"]
    _conv(net, 4 * c, p5, 1, h5, w5)
    net.upsample(p5, h5, w5)
    x12 = _c2f_spec(net, cfg, 12, net.concat([p5, p4], h4, w4), u, h4, w4)
    net.upsample(x12, h4, w4)
    out3 = _c2f_spec(net, cfg, 15, net.concat([x12, p3], h3, w3), u, h3, w3)
    _conv(net, out3, u["conv16"], 3, h3, w3, 2)
    out4 = _c2f_spec(net, cfg, 18, net.concat([u["conv16"], x12], h4, w4), u, h4, w4)
    _conv(net, out4, u["conv19"], 3, h4, w4, 2)
    out5 = _c2f_spec(net, cfg, 21, net.concat([u["conv19"], p5], h5, w5), u, h5, w5)
    for x, (hh, ww) in zip((out3, out4, out5), ((h3, w3), (h4, w4), (h5, w5))):
        _conv(net, x, box, 3, hh, ww), _conv(net, box, box, 3, hh, ww)
        net.conv(box, 4 * REG_MAX, 1, hh, ww, bias=True)
        _conv(net, x, cls, 3, hh, ww), _conv(net, cls, cls, 3, hh, ww)
        net.conv(cls, NUM_CLASSES, 1, hh, ww, bias=True)
        net.concat([4 * REG_MAX, NUM_CLASSES], hh, ww)
    return net

