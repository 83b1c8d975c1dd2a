"""Configuration drift: users switching power modes, background apps, staged firmware rollouts.

Each is a batch update over the devices it touches on a day; the simulation's SimPy processes
decide when. Defaults are assumptions a scenario overrides: a mode switch every year or so, a
background app (1/4 to 1.5 cores) arriving a few times a year and staying a month, firmware
releases reaching 90 % of the fleet in waves a week apart.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from testbed.schema import StrictModel
from twin.sku import SKU
from zoo.workload import LAYER_KINDS, LayerKind

__all__ = ["PowerModeDrift", "BackgroundLoad", "FirmwareRelease", "ConfigurationDrift",
           "mode_weights", "draw_modes", "switch_modes", "arrive_background", "depart_background",
           "roll_out", "firmware_overhead_table"]


class PowerModeDrift(StrictModel):
    initial: dict[str, PositiveFloat] = Field(default_factory=dict, description="mode shares at birth; empty: all in the top mode")
    switch_rate_per_year: float = Field(1.0, ge=0, description="mode changes per device-year")
    preferences: dict[str, PositiveFloat] = Field(default_factory=dict, description="where switches land; empty: as initial")


class BackgroundLoad(StrictModel):
    arrival_rate_per_year: float = Field(4.0, ge=0, description="background apps installed per device-year")
    mean_duration_days: PositiveFloat = 30.0
    cores: tuple[float, float] = Field((0.25, 1.5), description="uniform range of CPU cores an app keeps busy")

    @model_validator(mode="after")
    def _range(self):
        if not 0 <= self.cores[0] <= self.cores[1]:
            raise ValueError("cores must be (low, high) with 0 <= low <= high")
        return self


class FirmwareRelease(StrictModel):
    name: str
    day: NonNegativeInt = Field(description="simulation day of the first wave")
    overhead_scale: PositiveFloat | dict[LayerKind, PositiveFloat] = Field(
        description="framework overhead relative to factory firmware, for all kinds or per kind")
    kernel_speed: PositiveFloat | dict[LayerKind, PositiveFloat] = Field(1.0, description=(
        "compute speed of the release's kernels relative to factory firmware, for all kinds or per kind (> 1 "
        "faster): cuDNN and TensorRT releases change one kind's kernels, e.g. depthwise convs"))
    waves: list[float] = Field(default_factory=lambda: [0.05, 0.25, 1.0], description="cumulative share of the covered fleet per wave")
    wave_interval_days: PositiveInt = 7
    coverage: float = Field(0.9, ge=0, le=1, description="share of devices that ever take updates")

    @model_validator(mode="after")
    def _waves(self):
        if not self.waves or any(not 0 < w <= 1 for w in self.waves) or sorted(self.waves) != self.waves:
            raise ValueError("waves must be increasing shares in (0, 1]")
        return self


class ConfigurationDrift(StrictModel):
    power_modes: PowerModeDrift = PowerModeDrift()
    background: BackgroundLoad = BackgroundLoad()
    firmware: list[FirmwareRelease] = []


def mode_weights(shares: dict[str, float], sku: SKU) -> np.ndarray:
    """Cumulative probabilities over the SKU's modes (all weight on the top mode if empty)."""
    shares = shares or {sku.usual_mode: 1.0}
    w = np.array([shares.get(m, 0.0) for m in sku.mode_names])
    return np.cumsum(w / w.sum())[:-1]


def draw_modes(cum_weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.searchsorted(cum_weights, rng.random(n), side="right").astype(np.int8)


def _pick(n: int, rate_per_day: float, rng: np.random.Generator) -> np.ndarray:
    """Devices hit today by a per-device Poisson process of the given rate."""
    hits = rng.binomial(n, -np.expm1(-rate_per_day))
    return rng.choice(n, size=hits, replace=False) if hits else np.empty(0, np.intp)


def switch_modes(state, params: PowerModeDrift, cum_weights: np.ndarray, rng: np.random.Generator) -> int:
    idx = _pick(len(state), params.switch_rate_per_year / 365.25, rng)
    state.power_mode[idx] = draw_modes(cum_weights, len(idx), rng)
    return len(idx)


def arrive_background(state, params: BackgroundLoad, day: int, rng: np.random.Generator) -> int:
    idx = _pick(len(state), params.arrival_rate_per_year / 365.25, rng)
    lo, hi = params.cores
    state.background_cores[idx] = np.maximum(state.background_cores[idx], rng.uniform(lo, hi, len(idx)).astype(np.float32))
    stay = np.ceil(rng.exponential(params.mean_duration_days, len(idx))).astype(np.int32)
    state.background_until[idx] = np.maximum(state.background_until[idx], day + stay)
    return len(idx)


def depart_background(state, day: int) -> None:
    np.copyto(state.background_cores, 0, where=state.background_until <= day)


def roll_out(state, release_number: int, share: float, coverage: float) -> None:
    """Wave of a release: devices whose rollout rank falls within the covered share take it."""
    take = state.rollout_rank < np.float32(share * coverage)
    state.firmware[take] = np.maximum(state.firmware[take], release_number)


def firmware_overhead_table(releases: list[FirmwareRelease], field: str = "overhead_scale") -> np.ndarray:
    """(releases + 1, layer kinds) multipliers of each release's ``overhead_scale`` (or
    ``kernel_speed``); row 0 is the factory firmware."""
    rows = [np.ones(len(LAYER_KINDS))]
    for r in releases:
        s = getattr(r, field)
        rows.append(np.array([s if isinstance(s, float) else s.get(k, 1.0) for k in LAYER_KINDS]))
    return np.array(rows)
