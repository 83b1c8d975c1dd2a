"""The FLOPs-driven global magnitude baseline (uniform pruning is ``hdap.prune.widths_for_flops``).

(The hardware-aware baselines, the same search against one nominal device and against the exact
fleet, live in the pipeline: they differ from HDAP only in what the search minimises.)
"""

from __future__ import annotations

import numpy as np

from hdap.importance import filter_norms
from hdap.zoo import ZooModel

__all__ = ["global_magnitude_widths"]


def global_magnitude_widths(module, zoo: ZooModel, target_flops: float) -> np.ndarray:
    """Remove the globally weakest filters (L2 norm over the unit's mean, so units of different
    scale compare) until the FLOPs budget holds: where the channels go is decided by weights alone."""
    norms = [n / n.mean() for n in filter_norms(module, zoo)]
    order = np.argsort(np.concatenate(norms), kind="stable")
    owner = np.concatenate([np.full(len(n), u) for u, n in enumerate(norms)])[order]
    widths = np.array([len(n) for n in norms])
    step = max(1, len(order) // 400)
    for start in range(0, len(order), step):
        if zoo.flops(widths) <= target_flops:
            break
        for u in owner[start:start + step]:
            widths[u] = max(1, widths[u] - 1)
    return widths
