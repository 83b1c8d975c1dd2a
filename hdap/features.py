"""Hardware-response features of devices, measured through the fleet interface.

Default: the latencies of a small probe set chosen to span the three regimes that make devices
differ in shape (compute-bound wide convs, memory-bound element-wise maps, overhead-bound tiny
layers) plus the network being pruned. Option ``"paper"``: the authors' features, repeated runs
of the unpruned network. Features are log median latencies (log: slowdowns multiply).
"""

from __future__ import annotations

import numpy as np

from hdap.fleet import Fleet
from hdap.zoo import ZooModel
from twin.workload import Workload, activation, add, conv, linear, norm

__all__ = ["probe_set", "measure_features", "FEATURE_KINDS"]

FEATURE_KINDS = ("probes", "paper")


def probe_set(zoo: ZooModel) -> dict[str, Workload]:
    """The default probes: one per latency regime, and the unpruned network."""
    memory = []
    for i in range(3):
        memory += [norm(f"n{i}", 64, 112, 112), activation(f"a{i}", 64, 112, 112), add(f"s{i}", 64, 112, 112)]
    return {"compute": Workload.from_rows([conv(f"c{i}", 256, 256, 3, 28, 28) for i in range(4)]),
            "memory": Workload.from_rows(memory),
            "overhead": Workload.from_rows([linear(f"fc{i}", 16, 16) for i in range(100)]),
            "network": zoo.workload()}


def measure_features(fleet: Fleet, device_ids, zoo: ZooModel, kind: str = "probes", repeats: int = 5) -> np.ndarray:
    """(devices, features) array; costs profiling time on every listed device."""
    if kind == "probes":
        cols = [np.log(fleet.measure(w, device_ids, repeats).median_ms) for w in probe_set(zoo).values()]
        return np.column_stack(cols)
    if kind == "paper":
        return np.log(np.sort(fleet.measure(zoo.workload(), device_ids, repeats).latency_ms, axis=1))
    raise ValueError(f"feature kind must be one of {', '.join(FEATURE_KINDS)}, got {kind!r}")
