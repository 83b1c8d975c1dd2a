"""Built-in reference workloads, for scenarios that name a network before the zoo is involved.

ResNet-18 at 224x224 (torchvision layout: 1.82 GMACs), built from the workload constructors. It
is the network a scenario deploys by default: what each device runs every day, and so what drives
its daily energy and battery wear.
"""

from __future__ import annotations

from twin.errors import InputError
from twin.workload import Workload, activation, add, conv, linear, norm, pool

__all__ = ["reference_workload", "REFERENCE_NAMES"]


def _resnet18(num_classes: int = 1000, size: int = 224) -> Workload:
    rows = [conv("conv1", 3, 64, 7, size, size, stride=2, padding=3)]
    h = rows[-1]["h"]
    rows += [norm("bn1", 64, h, h), activation("relu", 64, h, h), pool("maxpool", 64, h, h, 3, 2, 1)]
    h, c_in = rows[-1]["h"], 64
    for stage, c in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            p = f"layer{stage}.{block}"
            rows.append(conv(f"{p}.conv1", c_in, c, 3, h, h, stride=stride))
            h2 = rows[-1]["h"]
            rows += [norm(f"{p}.bn1", c, h2, h2), activation(f"{p}.relu1", c, h2, h2),
                     conv(f"{p}.conv2", c, c, 3, h2, h2), norm(f"{p}.bn2", c, h2, h2)]
            if stride != 1 or c_in != c:
                rows += [conv(f"{p}.downsample.0", c_in, c, 1, h, h, stride=stride, padding=0),
                         norm(f"{p}.downsample.1", c, h2, h2)]
            rows += [add(f"{p}.add", c, h2, h2), activation(f"{p}.relu2", c, h2, h2)]
            h, c_in = h2, c
    rows += [pool("avgpool", 512, h, h, h, 1), linear("fc", 512, num_classes)]
    return Workload.from_rows(rows)


_BUILDERS = {"resnet18": _resnet18}
REFERENCE_NAMES = tuple(_BUILDERS)


def reference_workload(name: str) -> Workload:
    """The bundled workload called ``name``."""
    if name not in _BUILDERS:
        raise InputError(f"unknown reference workload {name!r}; built in: {', '.join(REFERENCE_NAMES)}")
    return _BUILDERS[name]()
