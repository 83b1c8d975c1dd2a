"""How differently shaped a fleet's devices are for one network, and what that can cost.

With latency ``sum_i a_i w_i`` over a network's prunable units (``a_i``: a device's marginal
latency per channel of unit i, ``w_i``: channels kept) and accuracy roughly ``sum_i c_i log w_i``,
the best widths for device A under a latency budget are ``w_i ~ c_i / a_i(A)``. Timed on device B
they are slower than B's own optimum by

    loss(B) = (sum_i s_i r_i) / prod_i r_i ** s_i  - 1,     r_i = a_i(B) / a_i(A),

the weighted arithmetic over the weighted geometric mean of the cost ratios, with ``s_i`` unit i's
share of A's width-dependent latency. Scaling every unit alike (clock, throttling, silicon speed)
costs nothing; only a change of *shape* does. Per-layer framework overhead is not in any ``a_i``:
width pruning cannot remove it, however much it differs between devices.

For a fleet objective, the fleet-mean latency ``sum_i mean(a_i) w_i`` is one device with the mean
costs: the nominal optimum's loss against the best single architecture for the fleet mean is the
same formula with ``r_i = mean over devices of a_i / a_i(nominal)`` (``fleet_loss``); the mean of
the per-device losses is larger, as each device is measured against its own optimum.

``shape_report`` measures the ``a_i`` on every device of a simulated fleet by secants of the twin's
exact latency (each unit shrunk by a step, each layer keeping the kernel its engine build picked) and gives the loss
this theory predicts for the architecture optimised on the nominal device (``twin shape``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from testbed.errors import InputError
from twin.engines import kernel_multipliers
from twin.fleet import FleetSnapshot
from twin.latency import LatencyModel, slowdowns
from zoo import ZooModel

__all__ = ["ShapeReport", "unit_costs", "predicted_loss", "shape_report"]


def unit_costs(zoo: ZooModel, widths, snapshot: FleetSnapshot, step: float = 0.25) -> np.ndarray:
    """(devices, units): each device's latency (ms) saved per channel removed from each unit, the
    secant over removing ``step`` of the unit's channels (a staircase of whole tiles makes the
    tangent zero or infinite; a secant sees its mean slope)."""
    widths = np.asarray(zoo.check_widths(widths), dtype=int)
    s = snapshot
    # each layer keeps the kernel its engine picked at these widths: the secant measures the device's
    # speed on the layer, not a new kernel lottery for the narrower shape
    kernels = None if s.engines is None or s.engines.kernel_sd == 0 else kernel_multipliers(zoo.workload(widths), s.engines)

    def latency(w):
        return LatencyModel.of(zoo.workload(w), s, kernels).snapshot_ms(s)

    full = latency(widths)
    out = np.zeros((len(s), zoo.n_units))
    for i, w in enumerate(widths):
        if w < 2:
            continue
        smaller = widths.copy()
        smaller[i] = min(w - 1, max(1, int(round(w * (1 - step)))))  # at least one channel less
        out[:, i] = (full - latency(smaller)) / (w - smaller[i])
    return out


def predicted_loss(costs: np.ndarray, reference: np.ndarray, widths) -> np.ndarray:
    """Per device, the theory's loss (fraction) of the architecture optimised on the device with
    unit costs ``reference``. Units that cost nothing on the reference (inside a tile step) carry
    no weight."""
    ref = np.asarray(reference, float)
    live = ref > 0
    share = np.where(live, ref * np.asarray(widths, float), 0.0)
    share = share / share.sum()
    r = np.where(live, np.maximum(costs, 1e-30) / np.where(live, ref, 1.0), 1.0)
    return (r * share).sum(axis=1) / np.exp((np.log(r) * share).sum(axis=1)) - 1


@dataclass(frozen=True)
class ShapeReport:
    """What ``twin shape`` prints: the fleet's unit-cost ratios and the loss they predict."""

    units: tuple[str, ...]
    share: np.ndarray            # (units,) width-dependent latency share on the nominal device
    ratios: np.ndarray           # (devices, units) a_i(device) / a_i(nominal)
    loss: np.ndarray             # (devices,) predicted loss of the nominal optimum
    overhead_share: np.ndarray   # (devices,) share of latency no width pruning removes
    fleet_loss: float            # predicted loss of the nominal optimum in fleet-mean latency

    def summary(self) -> dict:
        """Percentiles of the predicted loss and of the shape spread (sd over units of log ratio,
        each device's own scale removed), weighted by the units' shares."""
        live = self.share > 0
        logs = np.log(np.maximum(self.ratios[:, live], 1e-30))
        w = self.share[live] / self.share[live].sum()
        centred = logs - (logs * w).sum(axis=1, keepdims=True)
        spread = np.sqrt((centred ** 2 * w).sum(axis=1))
        pct = lambda x: {k: float(v) for k, v in zip(("p50", "p90", "p99", "max"),  # noqa: E731
                                                     np.percentile(x, [50, 90, 99, 100]))}
        unit_sd = centred.std(axis=0)
        order = np.argsort(-unit_sd)[:5]
        names = [u for u, keep in zip(self.units, live) if keep]
        return {"devices": int(len(self.loss)), "predicted_loss_pct": {k: 100 * v for k, v in pct(self.loss).items()},
                "mean_predicted_loss_pct": float(100 * self.loss.mean()),
                "fleet_mean_loss_pct": float(100 * self.fleet_loss),
                "shape_spread_log": pct(spread), "overhead_share": pct(self.overhead_share),
                "most_varying_units": {names[i]: float(unit_sd[i]) for i in order}}


def shape_report(zoo: ZooModel, widths, snapshot: FleetSnapshot, step: float = 0.25) -> ShapeReport:
    """Unit-cost ratios of every device of ``snapshot`` to its nominal device, and the theory's loss."""
    if len(snapshot) == 0:
        raise InputError("twin shape: the fleet has no devices")
    widths = np.asarray(zoo.check_widths(widths), dtype=int)
    nominal = snapshot.nominal()
    ref = unit_costs(zoo, widths, nominal, step)[0]
    if not (ref > 0).any():
        raise InputError(f"twin shape: no unit of {zoo.name} changes its latency on a nominal {snapshot.sku.name}")
    costs = unit_costs(zoo, widths, snapshot, step)
    ratios = np.where(ref > 0, costs / np.where(ref > 0, ref, 1.0), np.nan)
    model = LatencyModel.of(zoo.workload(widths), snapshot)
    total = model.snapshot_ms(snapshot)
    _, _, g = slowdowns(snapshot.state, snapshot.sku)
    overhead = 1e3 * g * model.overhead_s[snapshot.state.firmware]
    share = np.where(ref > 0, ref * widths, 0.0)
    return ShapeReport(tuple(zoo.unit_names), share / share.sum(), ratios, predicted_loss(costs, ref, widths),
                       overhead / total, float(predicted_loss(costs.mean(axis=0)[None], ref, widths)[0]))
