"""Energy per inference from what the inference does, the same physics on every platform.

    E = (static + one CPU core) x latency  +  s x node x sum(MACs x e_mac(precision) + on-chip bytes x e_sram)
        +  DRAM bytes x e_dram

Per-operation energies are Horowitz's (ISSCC 2014, 45 nm, 0.9 V): an 8-bit add 0.03 pJ, 32-bit add
0.1, 8-bit multiply 0.2, 32-bit float multiply 3.7, float add 0.9, 16-bit float multiply 1.1 and add
0.4; an 8 KB SRAM read ~10 pJ per 64 bits; DRAM 640 pJ per 32 bits. A MAC is a multiply plus the add
into its accumulator: int8 accumulates in 32 bits (0.2 + 0.1), int4 and int2 in 16 bits, their
multipliers scaling with the square of the width (0.2 x (b/8)^2: 8-bit 0.2 to 32-bit 3.1 in the same
table); a binary MAC is an XNOR plus a share of a popcount tree (assumed ~ one 8-bit add). The node
scales on-chip energy as C V^2: ``(nm / 45) x (V / 0.9)^2`` (first order; assumed), and so does a
lower clock, whose DVFS voltage (``PowerModel.voltage_floor``) falls with it. DRAM energy is not
scaled. ``s`` is what a real platform spends on chip per counted operation relative to the bare
arithmetic (instruction issue, register files, clock trees, the fabric's routing): fitted per SKU so
that the reference network's energy equals the measured module power (or the SKU's power model)
over its latency. Precision, sparsity and storage then move energy through the event counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from testbed.errors import InputError
from twin.latency import LatencyModel, nominal_inference, nominal_state, resolve_mode, slowdowns
from twin.sku import SKU
from zoo.workload import Workload

__all__ = ["MAC_PJ_45NM", "SRAM_PJ_PER_BYTE_45NM", "EnergyBreakdown", "inference_energy", "onchip_scale"]

MAC_PJ_45NM = {"fp32": 3.7 + 0.9, "fp16": 1.1 + 0.4, "int8": 0.2 + 0.1,
               "int4": 0.2 * (4 / 8) ** 2 + 0.05, "int2": 0.2 * (2 / 8) ** 2 + 0.05, "int1": 0.03}
SRAM_PJ_PER_BYTE_45NM = 10.0 / 8
ONCHIP_PASSES = 2.0  # each byte a layer reads or writes goes through an on-chip buffer once in, once out (assumed)


@dataclass(frozen=True)
class EnergyBreakdown:
    """One inference on one nominal device (mJ)."""

    latency_ms: float
    static_mj: float
    onchip_mj: float
    dram_mj: float

    @property
    def total_mj(self) -> float:
        return self.static_mj + self.onchip_mj + self.dram_mj

    @property
    def power_w(self) -> float:
        return self.total_mj / self.latency_ms


def _node(sku: SKU) -> float:
    e = sku.energy
    return (e.process_nm / 45) * (e.core_v / 0.9) ** 2


def _events(lm: LatencyModel) -> tuple[float, float, float]:
    """(on-chip pJ at 45 nm, on-chip bytes, DRAM bytes) of one inference."""
    mac_pj = sum(float(lm.macs[lm.row_precision == p].sum()) * pj for p, pj in MAC_PJ_45NM.items())
    return mac_pj, ONCHIP_PASSES * float(lm.moved_bytes.sum()), float(lm.moved_bytes.sum())


def _breakdown(workload: Workload, sku: SKU, framework: str, precision: str | None, mode: str | None,
               scale: float) -> EnergyBreakdown:
    if sku.energy is None or sku.power is None:
        raise InputError(f"{sku.name} has no energy model (energy and power blocks): energy is not predicted")
    mode = resolve_mode(sku, mode or "")
    a, b, g = (np.float32([x[0]]) for x in slowdowns(nominal_state(sku, mode), sku))
    lm = LatencyModel(workload, sku, framework, precision=precision)
    t = float(lm.latency_s(a, b, g)[0])
    p, m = sku.power, sku.power_modes[mode]
    top_cpu = max(sku.power_modes[n].cpu_mhz for n in sku.board_modes)
    static_w = p.static_w + p.cpu_core_w * p.dynamic(m.cpu_mhz / top_cpu)
    mac_pj, onchip_bytes, dram_bytes = _events(lm)
    top = max(sku.power_modes[n].compute_mhz for n in sku.board_modes)
    volts = p.dynamic(m.compute_mhz / top) / (m.compute_mhz / top)   # (V / V_top)^2 at this clock (DVFS)
    onchip_pj = scale * _node(sku) * volts * (mac_pj + onchip_bytes * SRAM_PJ_PER_BYTE_45NM)
    return EnergyBreakdown(1e3 * t, static_w * t * 1e3, onchip_pj * 1e-9, dram_bytes * sku.energy.dram_pj_per_byte * 1e-9)


_SCALES: dict[int, tuple[SKU, float]] = {}


def onchip_scale(sku: SKU) -> float:
    """On-chip energy per counted operation relative to Horowitz's bare arithmetic, from the
    reference run: measured module power where the SKU file gives one, else its power model."""
    hit = _SCALES.get(id(sku))
    if hit is not None and hit[0] is sku:
        return hit[1]
    from zoo import get_model

    e = sku.energy
    framework, precision = e.reference_framework or next(iter(sku.frameworks)), e.reference_precision
    wl = get_model(e.reference_model).workload()
    run = nominal_inference(wl, sku, framework, precision=precision)
    target_mj = run.energy_mj if e.reference_w is None else e.reference_w * run.latency_ms
    unit = _breakdown(wl, sku, framework, precision, None, 1.0)
    left = target_mj - unit.static_mj - unit.dram_mj
    if left <= 0:
        raise InputError(f"{sku.name}: the reference run's energy ({target_mj:.1f} mJ) is below its static and DRAM "
                         f"energy ({unit.static_mj + unit.dram_mj:.1f} mJ): check energy.reference_w and power.static_w")
    scale = left / unit.onchip_mj
    if len(_SCALES) > 32:
        _SCALES.clear()
    _SCALES[id(sku)] = (sku, scale)
    return scale


def inference_energy(workload: Workload, sku: SKU, framework: str | None = None, precision: str | None = None,
                     mode: str | None = None) -> EnergyBreakdown:
    """Latency and energy of one inference of ``workload`` on a nominal device of ``sku``."""
    framework = framework or next(iter(sku.frameworks))
    return _breakdown(workload, sku, framework, precision, mode, onchip_scale(sku) if sku.energy else 1.0)
