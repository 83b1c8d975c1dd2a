"""The importance-retention proxy and the hardware-blind baselines."""

import numpy as np
import torch

from hdap.baselines import global_magnitude_widths
from hdap.importance import ImportanceProxy, filter_norms
from hdap.prune import unit_anchors, widths_for_flops
from zoo import get_model


def test_retention_grows_with_width_and_keeps_the_strongest_filters():
    zoo = get_model("resnet56")
    module = zoo.module(seed=0)
    proxy = ImportanceProxy(module, zoo)
    full = np.array(zoo.full_widths)
    assert proxy.retention(full) == 1.0 and proxy.retention(np.ones_like(full)) < 0.1
    half = widths_for_flops(zoo, zoo.flops() / 2)
    assert proxy.retention(half) > np.mean(half / full)  # the kept filters are the strongest ones
    for u in range(zoo.n_units):
        wider = half.copy()
        wider[u] += 1
        assert proxy.retention(wider) > proxy.retention(half)
    assert ImportanceProxy(zoo.module(seed=1), zoo).retention(half) != proxy.retention(half)


def test_global_magnitude_removes_the_weakest_filters_first():
    zoo = get_model("resnet20")
    module = zoo.module(seed=0)
    weak_unit = 4
    with torch.no_grad():  # make one unit's filters far weaker than every other unit's
        dict(module.named_modules())[unit_anchors(zoo.name)[weak_unit][0]].weight.mul_(0.01)
    target = 0.8 * zoo.flops()
    w = global_magnitude_widths(module, zoo, target)
    assert zoo.flops(w) <= target
    # normalised per unit, so scaling a whole unit changes nothing: it is not singled out
    assert abs(w[weak_unit] / zoo.full_widths[weak_unit] - np.median(w / np.array(zoo.full_widths))) < 0.3
    norms = filter_norms(module, zoo)
    assert [len(n) for n in norms] == list(zoo.full_widths)
