"""Where devices live: climate zones and seasons, enclosures, dust, and thermal throttling.

Every zone has an annual mean, a seasonal swing (peak in mid-July north, mid-January south), a
diurnal range and day-to-day weather (an AR(1) anomaly shared by the zone's devices). The zone
defaults are assumed, representative of Koppen climate classes. A device's module sits in an
enclosure some degrees above ambient. Dust raises thermal resistance month by month until a
cleaning. The junction runs at ambient + power x thermal resistance; above the SKU's throttle
limit the clocks drop until it no longer does (down to the SKU's deepest throttle).
"""

from __future__ import annotations

from datetime import date

import numpy as np
from pydantic import Field, PositiveFloat, field_validator

from testbed.schema import StrictModel

__all__ = ["ClimateZone", "Environment", "DEFAULT_ZONES", "draw_installation", "zone_weather",
           "throttle_for_heat"]


class ClimateZone(StrictModel):
    mean_c: float = Field(description="annual mean daily temperature")
    seasonal_amplitude_c: float = Field(ge=0, description="half the summer-winter difference")
    diurnal_range_c: float = Field(ge=0, description="daily max minus daily min")
    weather_sd_c: float = Field(ge=0, description="sd of day-to-day weather anomalies")
    southern: bool = False


DEFAULT_ZONES: dict[str, ClimateZone] = {  # assumed representative values per Koppen class
    "cold": ClimateZone(mean_c=3, seasonal_amplitude_c=13, diurnal_range_c=9, weather_sd_c=3.5),
    "temperate": ClimateZone(mean_c=11, seasonal_amplitude_c=8, diurnal_range_c=9, weather_sd_c=2.5),
    "hot": ClimateZone(mean_c=26, seasonal_amplitude_c=9, diurnal_range_c=14, weather_sd_c=2.0),
    "tropical": ClimateZone(mean_c=27, seasonal_amplitude_c=1.5, diurnal_range_c=8, weather_sd_c=1.5),
}


class Environment(StrictModel):
    zones: dict[str, ClimateZone] = Field(default_factory=dict, description="extra or overriding zones")
    climate_mix: dict[str, PositiveFloat] = Field(default_factory=lambda: {"temperate": 1.0},
                                                  description="share of devices per zone")
    enclosure_c: tuple[float, float] = Field((0.0, 8.0), description="uniform range of enclosure heating")
    weather_memory_days: PositiveFloat = 3.0
    dust_rate_per_year: float = Field(0.15, ge=0, description="assumed: thermal resistance rise per year")
    dust_exposure_sigma: float = Field(0.5, ge=0, description="lognormal spread of dust exposure by site")
    cleaning_rate_per_year: float = Field(0.5, ge=0, description="maintenance visits that clear the dust")

    @field_validator("climate_mix")
    @classmethod
    def _known_zones(cls, mix, info):
        known = {**DEFAULT_ZONES, **info.data.get("zones", {})}
        unknown = [z for z in mix if z not in known]
        if unknown:
            raise ValueError(f"unknown zone(s) {', '.join(unknown)}; allowed: {', '.join(known)} "
                             f"(or define them under zones)")
        return mix

    @field_validator("enclosure_c")
    @classmethod
    def _ordered(cls, v):
        if v[0] > v[1]:
            raise ValueError("must be [low, high] with low <= high")
        return v

    @property
    def all_zones(self) -> dict[str, ClimateZone]:
        return {**DEFAULT_ZONES, **self.zones}

    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(self.climate_mix)


def draw_installation(env: Environment, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Zone, enclosure heating and dust exposure of each device's site."""
    weights = np.array(list(env.climate_mix.values()))
    zone = np.searchsorted(np.cumsum(weights / weights.sum())[:-1], rng.random(n), side="right")
    lo, hi = env.enclosure_c
    return {"climate_zone": zone.astype(np.int8),
            "enclosure_c": rng.uniform(lo, hi, n).astype(np.float32),
            "dust_exposure": rng.lognormal(-0.5 * env.dust_exposure_sigma ** 2, env.dust_exposure_sigma, n).astype(np.float32)}


def zone_weather(env: Environment, start: date, days: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Daily (peak, mean) temperature per zone, arrays of shape (days, zones), shared by all shards."""
    zones = [env.all_zones[z] for z in env.zone_names]
    doy = (start.toordinal() - date(start.year, 1, 1).toordinal()) + np.arange(days)
    phi = np.exp(-1.0 / env.weather_memory_days)
    shocks = rng.standard_normal((days, len(zones)))
    anomaly = np.empty_like(shocks)
    anomaly[0] = shocks[0]
    for d in range(1, days):  # AR(1) with unit stationary variance
        anomaly[d] = phi * anomaly[d - 1] + np.sqrt(1 - phi * phi) * shocks[d]
    mean = np.empty((days, len(zones)))
    peak = np.empty_like(mean)
    for j, z in enumerate(zones):
        summer = 15 if z.southern else 196  # day of year of the warmest day
        mean[:, j] = z.mean_c + z.seasonal_amplitude_c * np.cos(2 * np.pi * (doy - summer) / 365.25) \
            + z.weather_sd_c * anomaly[:, j]
        peak[:, j] = mean[:, j] + z.diurnal_range_c / 2
    return peak.astype(np.float32), mean.astype(np.float32)


def throttle_for_heat(ambient_c, active_w, idle_w, resistance_c_per_w, throttle_c, min_fraction):
    """Clock fraction that keeps the junction at the throttle limit, and the junction temperature.

    Power is idle + (active - idle) x clock fraction; the junction sits at ambient + power x R.
    """
    allowed_w = (throttle_c - ambient_c) / resistance_c_per_w
    fraction = np.clip((allowed_w - idle_w) / (active_w - idle_w), min_fraction, 1.0)
    junction = ambient_c + (idle_w + (active_w - idle_w) * fraction) * resistance_c_per_w
    return fraction.astype(np.float32), junction.astype(np.float32)
