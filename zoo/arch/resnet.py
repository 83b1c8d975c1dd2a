"""ResNets as torchvision defines them (ResNet-18 ... 152), with prunable inner widths.

One unit per residual block: BasicBlock's inner width (conv1's outputs), Bottleneck's inner
width (conv1's and conv2's outputs). Block outputs are tied across the residual adds and stay.
A block without a downsampling shortcut (every block after each stage's first) can be dropped:
width 0 makes it the identity.

Torch-free: the architecture as data and its symbolic workload spec.
"""

from __future__ import annotations

from contextlib import nullcontext

from zoo.spec import Ch, NetSpec

__all__ = ["RESNET_LAYOUTS", "full_widths", "resnet_spec"]

# (block, blocks per stage)
RESNET_LAYOUTS = {"resnet18": ("basic", (2, 2, 2, 2)), "resnet34": ("basic", (3, 4, 6, 3)),
                  "resnet50": ("bottleneck", (3, 4, 6, 3)), "resnet101": ("bottleneck", (3, 4, 23, 3)),
                  "resnet152": ("bottleneck", (3, 8, 36, 3))}


_PLANES = (64, 128, 256, 512)


def full_widths(name: str) -> list[int]:
    _, counts = RESNET_LAYOUTS[name]
    return [p for p, n in zip(_PLANES, counts) for _ in range(n)]


def resnet_spec(name: str, size: int = 224, num_classes: int = 1000) -> NetSpec:
    kind, counts = RESNET_LAYOUTS[name]
    net = NetSpec(sum(counts))
    h, w = net.conv(3, 64, 7, size, size, stride=2, padding=3)
    net.norm(64, h, w), net.act(64, h, w)
    h, w = net.pool(64, h, w, 3, 2, 1)
    c_in, u = 64, 0
    for stage, (planes, n) in enumerate(zip(_PLANES, counts), start=1):
        for b in range(n):
            stride = 2 if stage > 1 and b == 0 else 1
            width = Ch.unit(u)
            out = planes if kind == "basic" else planes * 4
            identity = stride == 1 and c_in == out   # no downsample: the block can become the identity
            with net.block(u) if identity else nullcontext():
                if kind == "basic":
                    h2, w2 = net.conv(c_in, width, 3, h, w, stride)
                    net.norm(width, h2, w2), net.act(width, h2, w2)
                    net.conv(width, out, 3, h2, w2), net.norm(out, h2, w2)
                else:
                    net.conv(c_in, width, 1, h, w), net.norm(width, h, w), net.act(width, h, w)
                    h2, w2 = net.conv(width, width, 3, h, w, stride)
                    net.norm(width, h2, w2), net.act(width, h2, w2)
                    net.conv(width, out, 1, h2, w2), net.norm(out, h2, w2)
                if not identity:
                    net.conv(c_in, out, 1, h, w, stride, padding=0), net.norm(out, h2, w2)
                net.add(out, h2, w2), net.act(out, h2, w2)
            h, w, c_in, u = h2, w2, out, u + 1
    net.global_pool(c_in, h, w)
    net.linear(c_in, num_classes)
    return net

