"""How much of a network's filter importance a width vector keeps: the search's accuracy proxy.

Per prunable unit, the L2 norms of the filters of its first anchor layer (the criterion
``hdap prune`` removes channels by) are sorted; keeping the ``w`` strongest keeps their share of
the unit's total. ``retention`` averages that share over units, each unit counting alike: the kept
importance that latency-aware pruning maximises (HALP, Shen et al., NeurIPS 2022, sums kept
channel importance under a latency budget). The search holds it above a floor relative to
uniform pruning. It needs no data: the search uses it when a scenario has none, and between
measured checks when it has.
"""

from __future__ import annotations

import numpy as np

from hdap.prune import unit_anchors
from zoo import ZooModel

__all__ = ["ImportanceProxy", "filter_norms"]


def filter_norms(module, zoo: ZooModel) -> list[np.ndarray]:
    """Per unit, the L2 norm of each output filter of its first anchor layer (module order); none
    for a unit whose block an earlier round dropped (its layers are gone)."""
    layers = dict(module.named_modules())
    return [layers[a[0]].weight.detach().flatten(1).norm(dim=1).numpy().astype(np.float64) if a[0] in layers
            else np.zeros(0) for a in unit_anchors(zoo.name)]


class ImportanceProxy:
    """Share of filter importance kept, from a (full or pruned) module of ``zoo``."""

    def __init__(self, module, zoo: ZooModel):
        self.zoo = zoo
        self.kept_share_ = []
        for norms in filter_norms(module, zoo):
            top = np.sort(norms)[::-1]
            self.kept_share_.append(np.concatenate([[0.0], np.cumsum(top) / max(top.sum(), 1e-12)]))

    def retention(self, widths) -> float:
        """Mean over units of the importance share the ``widths`` strongest filters hold."""
        return float(np.mean([share[min(int(w), len(share) - 1)] for share, w in zip(self.kept_share_, widths)]))
