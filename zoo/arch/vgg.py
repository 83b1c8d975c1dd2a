"""VGG-11/13/16/19 (with and without batch norm) as torchvision defines them, and the CIFAR VGG-16
of the filter-pruning literature (Li et al. 2017: 13 conv-BN layers, a 512-wide hidden fc).

Units: every conv's output channels and every hidden fc's outputs.

Torch-free: the architecture as data and its symbolic workload spec.
"""

from __future__ import annotations

from zoo.spec import Ch, NetSpec

__all__ = ["VGG_CONFIGS", "full_widths", "vgg_spec"]

VGG_CONFIGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def _layout(name: str) -> tuple[list, bool, bool]:
    """(conv config, batch norm, CIFAR head)."""
    if name == "vgg16_cifar":
        return VGG_CONFIGS["vgg16"], True, True
    base = name.removesuffix("_bn")
    return VGG_CONFIGS[base], name.endswith("_bn"), False


def full_widths(name: str) -> list[int]:
    cfg, _, cifar = _layout(name)
    return [c for c in cfg if c != "M"] + ([512] if cifar else [4096, 4096])


def vgg_spec(name: str, size: int | None = None, num_classes: int | None = None) -> NetSpec:
    cfg, bn, cifar = _layout(name)
    size = size or (32 if cifar else 224)
    num_classes = num_classes or (10 if cifar else 1000)
    net = NetSpec(len(full_widths(name)))
    h = w = size
    c_in, u = Ch(3), 0
    for v in cfg:
        if v == "M":
            h, w = net.pool(c_in, h, w, 2, 2)
            continue
        c = Ch.unit(u)
        net.conv(c_in, c, 3, h, w, bias=True)
        if bn:
            net.norm(c, h, w)
        net.act(c, h, w)
        c_in, u = c, u + 1
    if cifar:
        hidden = Ch.unit(u)
        net.linear(c_in * (h * w), hidden), net.norm(hidden, 1, 1), net.act(hidden, 1, 1)
        net.linear(hidden, num_classes)
    else:
        net.pool(c_in, h, w, h // 7, h // 7)
        h1, h2 = Ch.unit(u), Ch.unit(u + 1)
        net.linear(c_in * 49, h1), net.act(h1, 1, 1)
        net.linear(h1, h2), net.act(h2, 1, 1)
        net.linear(h2, num_classes)
    return net

