"""Manufacturing variance: each unit's silicon, memory, power, thermal and battery traits at birth.

Magnitudes (shared/data/jetson_specs.md): identical units differ by ~10 % in performance and ~12 %
in energy (Srinivasa et al.), up to 20 % (Separated by Birth, HotMobile 2017); boards of one Jetson
model differ significantly (Snowflakes at the Edge, EdgeSys 2021; SEC 2022). A normal spread with
sd 3.5 % truncated at 3 sd gives a fleet range of about +-10 %.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from testbed.schema import StrictModel

__all__ = ["ManufacturingVariance", "draw_birth_traits"]


class ManufacturingVariance(StrictModel):
    """Relative standard deviations of per-unit traits (1.0 is the nominal unit)."""

    silicon_speed_sd: float = Field(0.035, ge=0, lt=0.3, description="compute and CPU speed")
    memory_speed_sd: float = Field(0.03, ge=0, lt=0.3, description="DRAM speed (board, timing)")
    power_sd: float = Field(0.04, ge=0, lt=0.3, description="power draw / leakage (~12 % range)")
    thermal_resistance_sd: float = Field(0.10, ge=0, lt=0.3, description="assumed: heatsink and paste assembly")
    battery_capacity_sd: float = Field(0.02, ge=0, lt=0.3, description="assumed: cell grading")
    battery_resistance_sd: float = Field(0.08, ge=0, lt=0.3, description="assumed: cells, welds, BMS")
    truncate_sd: float = Field(3.0, gt=0, description="draws are clipped at this many sd")


def draw_birth_traits(params: ManufacturingVariance, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-unit multipliers, float32, one draw of six standard normals per device."""
    z = np.clip(rng.standard_normal((6, n), dtype=np.float32), -params.truncate_sd, params.truncate_sd)
    sds = (params.silicon_speed_sd, params.memory_speed_sd, params.power_sd, params.thermal_resistance_sd,
           params.battery_capacity_sd, params.battery_resistance_sd)
    names = ("silicon_speed", "memory_speed", "power_factor", "thermal_resistance", "battery_capacity",
             "battery_resistance")
    return {name: (1 + np.float32(sd) * z[i]).astype(np.float32) for i, (name, sd) in enumerate(zip(names, sds))}
