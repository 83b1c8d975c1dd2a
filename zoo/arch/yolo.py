"""YOLOv8n (ultralytics yolov8.yaml at depth 0.33, width 0.25): backbone, PAN neck, detect head.

C2f's first 1x1 conv (c1 -> 2c, then split in two) is held as two 1x1 convs (c1 -> c each), the
Torch-Pruning recipe ("C2f_v2") that lets dependency-aware pruning see no channel split; FLOPs and
parameters are identical. The network's outputs are the three raw head maps (box distribution and
class logits per level); decoding boxes (DFL softmax, anchors, NMS) is post-processing and not in
the workload table. Units: the standalone convs' outputs, each C2f's hidden width and output,
SPPF's hidden width and output (25).

Torch-free: the architecture as data and its symbolic workload spec.
"""

from __future__ import annotations

from zoo.spec import Ch, NetSpec

__all__ = ["UNITS", "FULL_WIDTHS", "NUM_CLASSES", "REG_MAX", "BOX_CH", "CLS_CH", "yolov8n_spec"]

# (unit name, full width)
_UNITS = [("conv0", 16), ("conv1", 32), ("c2f2.hidden", 16), ("c2f2.out", 32), ("conv3", 64),
          ("c2f4.hidden", 32), ("c2f4.out", 64), ("conv5", 128), ("c2f6.hidden", 64), ("c2f6.out", 128),
          ("conv7", 256), ("c2f8.hidden", 128), ("c2f8.out", 256), ("sppf9.hidden", 128), ("sppf9.out", 256),
          ("c2f12.hidden", 64), ("c2f12.out", 128), ("c2f15.hidden", 32), ("c2f15.out", 64), ("conv16", 64),
          ("c2f18.hidden", 64), ("c2f18.out", 128), ("conv19", 128), ("c2f21.hidden", 128), ("c2f21.out", 256)]


UNITS = tuple(n for n, _ in _UNITS)


FULL_WIDTHS = tuple(w for _, w in _UNITS)


# C2f layers: (index, bottlenecks, shortcut)
NUM_CLASSES, REG_MAX, BOX_CH, CLS_CH = 80, 16, 64, 80  # Detect: c2 = max(16, 64 // 4, 4 x 16), c3 = max(64, 80)
_C2F = {2: (1, True), 4: (2, True), 6: (2, True), 8: (1, True), 12: (1, False), 15: (1, False), 18: (1, False),
        21: (1, False)}


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

