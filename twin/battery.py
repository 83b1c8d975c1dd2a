"""Battery aging and supply sag for devices that run on Li-ion packs.

Capacity fade = calendar + cycle, each Arrhenius in cell temperature:

- calendar: Q_cal[%] = k_cal(T) sqrt(t) (Wang et al. 2014; NREL BLAST-Lite); with a varying
  temperature the state is sum(k_cal(T_d)^2 x 1 day), so Q_cal = sqrt(state).
- cycle (Wang et al. 2011): Q_cyc[%] = B exp((-31700 + 370.3 C) / (R T)) Ah^0.55, Ah the charge
  throughput of Wang's 2.2 Ah cell (ours scaled to equal full cycles); the state is
  sum(k_cyc(T_d)^(1/0.55) x dAh_d), so Q_cyc = state^0.55.

Resistance grows with fade: +20 % after 400 days at 25 C (Ecker et al. 2013), and rises in the
cold (Arrhenius). Each day the pack discharges to a minimum state of charge set by the day's
energy; the terminal voltage at peak draw, OCV - I R, falling below the pack's cut-off throttles
the clocks (over-current / under-voltage throttling) and may send the device to its lowest mode.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from testbed.schema import StrictModel
from twin.sku import BatteryPack

__all__ = ["BatteryAging", "age_battery", "undervolted"]

GAS_CONSTANT = 8.314    # J / (mol K)
T_REF_K = 298.15        # 25 C
WANG_CELL_AH = 2.2      # Wang et al. 2011 cells


class BatteryAging(StrictModel):
    calendar_pct_per_sqrt_day: float = Field(0.21, ge=0, description="assumed: ~4 % after a year at 25 C")
    calendar_activation_j_mol: float = Field(50_000, ge=0, description="assumed, NMC calendar fade")
    cycle_b: float = Field(31_630, ge=0, description="Wang 2011 pre-factor at C/2")
    cycle_activation_j_mol: float = Field(31_700, ge=0, description="Wang 2011")
    cycle_c_rate_j_mol: float = Field(370.3, description="Wang 2011 C-rate term")
    cycle_exponent: float = Field(0.55, gt=0, le=1, description="Wang 2011 throughput exponent")
    resistance_growth_per_pct: float = Field(0.048, ge=0, description="0.20 / Q_cal(400 d, 25 C): Ecker 2013")
    resistance_activation_j_mol: float = Field(25_000, ge=0, description="assumed: ~2.5x resistance at 0 C")
    discharge_fraction: float = Field(0.5, gt=0, le=1, description="share of a day's energy drawn from the pack")
    undervolt_clock_fraction: float = Field(0.6, gt=0, le=1, description="assumed hardware throttle depth")
    downgrade_probability: float = Field(0.05, ge=0, le=1, description="per under-voltage day: drop to the lowest mode")


def _arrhenius(activation_j_mol: float, temp_k):
    return np.exp(np.float32(-activation_j_mol / GAS_CONSTANT) * (1 / temp_k - np.float32(1 / T_REF_K)))


def age_battery(state, pack: BatteryPack, params: BatteryAging, cell_c, energy_wh, c_rate) -> None:
    """Advance every pack by one day at cell temperature ``cell_c`` having delivered ``energy_wh``."""
    temp_k = cell_c + np.float32(273.15)
    k_cal = np.float32(params.calendar_pct_per_sqrt_day)
    state.battery_calendar_acc += k_cal * k_cal * _arrhenius(2 * params.calendar_activation_j_mol, temp_k)
    z = params.cycle_exponent
    # k_cyc^(1/z) in one exp: (ln B + (-Ea + c C) / (R T)) / z
    k_cyc = np.exp((np.float32(np.log(params.cycle_b)) + (np.float32(-params.cycle_activation_j_mol)
                    + np.float32(params.cycle_c_rate_j_mol) * c_rate) / (np.float32(GAS_CONSTANT) * temp_k)) / np.float32(z))
    cell_ah = energy_wh * np.float32(params.discharge_fraction / pack.nominal_v / pack.cells_parallel)
    state.battery_cycle_acc += k_cyc * cell_ah * np.float32(WANG_CELL_AH / pack.cell_capacity_ah)
    fade_pct = np.sqrt(state.battery_calendar_acc) + state.battery_cycle_acc ** np.float32(z)
    state.battery_health[:] = state.battery_capacity * (1 - fade_pct / np.float32(100))
    state.battery_resistance_ratio[:] = state.battery_resistance * (1 + np.float32(params.resistance_growth_per_pct) * fade_pct)


def undervolted(state, pack: BatteryPack, params: BatteryAging, cell_c, energy_wh, peak_w):
    """Whether the pack sags below its cut-off at peak draw at the end of today's discharge."""
    capacity_wh = np.float32(pack.capacity_wh) * np.maximum(state.battery_health, np.float32(1e-3))
    soc = np.clip(1 - energy_wh * np.float32(params.discharge_fraction) / capacity_wh, 0, 1)
    # NMC open-circuit voltage per cell: 3.0 V empty, knee below ~10 %, 4.15 V full
    ocv = np.float32(pack.cells_series) * (3.0 + 0.65 * soc + 0.5 * (1 - np.exp(-soc / np.float32(0.05))))
    temp_k = cell_c + np.float32(273.15)
    ohm = np.float32(pack.internal_resistance_ohm) * state.battery_resistance_ratio \
        / _arrhenius(params.resistance_activation_j_mol, temp_k)
    terminal = ocv - peak_w / ocv * ohm
    return terminal < np.float32(pack.min_pack_v)
