"""Hardware-response features of devices, measured through the fleet interface.

Default: the latencies of a small probe set chosen to span the three regimes that make devices
differ in shape (compute-bound wide convs, memory-bound element-wise maps, overhead-bound tiny
layers) plus the network being pruned. Option ``"paper"``: the authors' features, repeated runs
of the unpruned network. Features are log median latencies (log: slowdowns multiply).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from hdap.fleet import Fleet
from zoo import ZooModel
from zoo.workload import Workload, concat, conv, linear, upsample

__all__ = ["probe_set", "measure_features", "FeatureKind", "FEATURE_KINDS"]

FeatureKind = Literal["probes", "paper"]
FEATURE_KINDS: tuple[str, ...] = FeatureKind.__args__


def probe_set(zoo: ZooModel) -> dict[str, Workload]:
    """The default probes: one per latency regime, and the unpruned network. The memory probe
    only moves data (copies and upsampling of big maps), which no framework fuses away."""
    memory = []
    for i in range(3):
        memory += [concat(f"cat{i}", [64, 64], 112, 112), upsample(f"up{i}", 64, 112, 112)]
    return {"compute": Workload.from_rows([conv(f"c{i}", 256, 256, 3, 28, 28) for i in range(4)]),
            "memory": Workload.from_rows(memory),
            "overhead": Workload.from_rows([linear(f"fc{i}", 16, 16) for i in range(100)]),
            "network": zoo.workload()}


def measure_features(fleet: Fleet, device_ids, zoo: ZooModel, kind: str = "probes",
                     repeats: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(devices, features) array and each device's median latency (ms) of the unpruned network;
    costs profiling time on every listed device."""
    if kind == "probes":
        medians = [fleet.measure(w, device_ids, repeats).median_ms for w in probe_set(zoo).values()]
        return np.log(np.column_stack(medians)), medians[-1]
    if kind == "paper":
        runs = fleet.measure(zoo.workload(), device_ids, repeats).latency_ms
        return np.log(np.sort(runs, axis=1)), np.median(runs, axis=1)
    raise ValueError(f"feature kind must be one of {', '.join(FEATURE_KINDS)}, got {kind!r}")
