"""The baselines HDAP is judged against, all behind one signature: ``(BaselineInputs) -> Baseline``.

Every baseline prunes the same network to the same FLOPs budget, and is evaluated exactly like
HDAP (``hdap.runner``):

- ``uniform_l2``: the same rate in every unit (L2-magnitude channels, as HDAP prunes);
- ``global_magnitude``: the globally weakest filters go until the budget holds: weights alone
  decide where the channels go (FLOPs-driven, hardware-blind);
- ``single_device``: HDAP's search against a surrogate of one nominal factory-fresh device
  (single-device hardware-aware pruning: what one would do with one board on the desk);
- ``oracle``: HDAP's search against the exact latency of every device (or a uniform sample of
  ``pruning.oracle_devices``): the best the search can do with perfect knowledge of the fleet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hdap.config import RunConfig
from hdap.fleet import TwinFleet
from hdap.importance import ImportanceProxy, filter_norms
from hdap.method import exact_statistics, oracle_truth, search
from hdap.prune import widths_for_flops
from hdap.surrogate import fit_cluster_surrogate
from testbed.streams import Streams
from twin.fleet import FleetSnapshot
from zoo import ZooModel

__all__ = ["BaselineInputs", "Baseline", "BASELINES", "uniform_l2", "global_magnitude", "single_device", "oracle",
           "global_magnitude_widths"]


@dataclass(frozen=True, eq=False)
class BaselineInputs:
    """What a baseline may use: the run, the full network, the fleet on the deployment day."""

    config: RunConfig
    base: object                  # the full torch network (trained, when the run has data)
    proxy: ImportanceProxy        # its accuracy proxy, for the searching baselines' floor
    snapshot: FleetSnapshot       # the fleet (the oracle's truth; the nominal device's SKU)
    slo_ms: float
    streams: Streams              # the run's: searching baselines search with HDAP's first-round stream
    progress: bool = False        # (common random numbers: the methods differ in objective, not in noise)


@dataclass
class Baseline:
    widths: np.ndarray
    history: list[float] = field(default_factory=list)   # a searching baseline's best fitness per generation
    int8: np.ndarray | None = None                        # units run in int8 (the +precision spaces' searches)

    @staticmethod
    def of(zoo: ZooModel, rates: np.ndarray, history: list[float]) -> "Baseline":
        """A searching baseline's pick from its rate vector."""
        return Baseline(zoo.widths_from_rates(rates), history, zoo.int8_from_rates(rates))


def uniform_l2(inp: BaselineInputs) -> Baseline:
    return Baseline(widths_for_flops(inp.config.zoo, inp.config.target_flops))


def global_magnitude(inp: BaselineInputs) -> Baseline:
    return Baseline(global_magnitude_widths(inp.base, inp.config.zoo, inp.config.target_flops))


def single_device(inp: BaselineInputs) -> Baseline:
    cfg, zoo = inp.config, inp.config.zoo
    own = inp.streams.child("single_device")
    nominal = TwinFleet(inp.snapshot.nominal(), cfg.scenario.measurement, own.rng("measurement"))
    surrogate = fit_cluster_surrogate(nominal, zoo, [0], [cfg.target_flops], cfg.pruning.surrogate_samples,
                                      choice=cfg.pruning.surrogate, rng=own.rng("surrogate"),
                                      int8_share=cfg.pruning.int8_share)
    res = search(zoo, lambda r: surrogate.predict(zoo, r), cfg.target_flops, inp.proxy, cfg.pruning,
                 inp.streams.rng("search", 0), desc="search single device", progress=inp.progress)
    return Baseline.of(zoo, res.best_x, res.history)


def oracle(inp: BaselineInputs) -> Baseline:
    cfg, zoo = inp.config, inp.config.zoo
    truth = oracle_truth(inp.snapshot, cfg.pruning.oracle_devices, inp.streams.rng("oracle"))
    res = search(zoo, exact_statistics(truth, zoo, cfg.pruning.objective, inp.slo_ms), cfg.target_flops, inp.proxy,
                 cfg.pruning, inp.streams.rng("search", 0), desc="search oracle", progress=inp.progress)
    return Baseline.of(zoo, res.best_x, res.history)


BASELINES: dict[str, Callable[[BaselineInputs], Baseline]] = {
    "uniform_l2": uniform_l2, "global_magnitude": global_magnitude, "single_device": single_device, "oracle": oracle}


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
