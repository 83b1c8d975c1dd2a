"""Daily fleet summaries that merge exactly across blocks.

Each block records, per day, float64 sums (for means and spreads), minima and maxima, counts per
power mode and firmware, and an integer histogram of the deployed network's latency on
log-spaced bins (0.35 % wide, from 1/8 to 8x the nominal latency). Blocks merge by adding in
block order, so the fleet's history is the same bytes whatever the shard or worker count;
latency percentiles are read off the merged histogram (bin centres, 0.35 % resolution).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

__all__ = ["DailyRecorder", "fleet_history"]

_MEAN = ("ambient_c", "junction_c", "thermal_throttled", "undervolted", "battery_health",
         "battery_resistance_ratio", "dust", "background", "latency_ms", "latency_sq", "energy_wh")
_MIN = ("battery_health_min", "latency_ms_min")
_MAX = ("junction_c_max", "latency_ms_max")
HIST_BINS = 1200
HIST_OCTAVES = 3  # each side of nominal


@dataclass(eq=False)
class DailyRecorder:
    """Per-block daily aggregates; ``record`` is called once per simulated day."""

    days: int
    modes: int
    firmwares: int
    nominal_ms: float
    shutdown_c: float

    def __post_init__(self):
        self.count = 0
        self.sums = np.zeros((self.days, len(_MEAN)))
        self.mins = np.full((self.days, len(_MIN)), np.inf)
        self.maxs = np.full((self.days, len(_MAX)), -np.inf)
        self.eol = np.zeros(self.days, np.int64)
        self.overheat = np.zeros(self.days, np.int64)
        self.mode_counts = np.zeros((self.days, self.modes), np.int64)
        self.fw_counts = np.zeros((self.days, self.firmwares), np.int64)
        self.hist = np.zeros((self.days, HIST_BINS), np.int32)
        self._lo = np.log2(self.nominal_ms) - HIST_OCTAVES
        self._per_log2 = HIST_BINS / (2 * HIST_OCTAVES)

    def record(self, day: int, s) -> None:
        self.count = len(s)
        f64 = np.float64
        lat = s.latency_ms
        self.sums[day] = [s.ambient_c.sum(dtype=f64), s.junction_c.sum(dtype=f64),
                          np.count_nonzero(s.thermal_throttle < 1), np.count_nonzero(s.supply_throttle < 1),
                          s.battery_health.sum(dtype=f64), s.battery_resistance_ratio.sum(dtype=f64),
                          s.dust.sum(dtype=f64), np.count_nonzero(s.background_cores > 0),
                          lat.sum(dtype=f64), np.square(lat, dtype=f64).sum(), s.energy_wh.sum(dtype=f64)]
        self.mins[day] = [s.battery_health.min(), lat.min()]
        self.maxs[day] = [s.junction_c.max(), lat.max()]
        self.eol[day] = np.count_nonzero(s.battery_health < 0.8)
        self.overheat[day] = np.count_nonzero(s.junction_c > self.shutdown_c)
        self.mode_counts[day] = np.bincount(s.power_mode, minlength=self.modes)
        self.fw_counts[day] = np.bincount(s.firmware, minlength=self.firmwares)
        idx = np.clip(((np.log2(lat) - self._lo) * self._per_log2).astype(np.intp), 0, HIST_BINS - 1)
        self.hist[day] = np.bincount(idx, minlength=HIST_BINS)

    def absorb(self, other: "DailyRecorder") -> "DailyRecorder":
        """Add the next block's recorder into this one (the running fleet total, so a run holds one
        recorder, not one per block: a block's histogram alone is 3.5 MB over two years). Folded in
        block order, the sums are the same bytes whatever the shard or worker count."""
        self.count += other.count
        self.sums += other.sums
        np.minimum(self.mins, other.mins, out=self.mins)
        np.maximum(self.maxs, other.maxs, out=self.maxs)
        self.eol += other.eol
        self.overheat += other.overheat
        self.mode_counts += other.mode_counts
        self.fw_counts += other.fw_counts
        if self.hist.dtype != np.int64:  # per block a day's bin fits int32; the fleet's may not
            self.hist = self.hist.astype(np.int64)
        self.hist += other.hist
        return self

    def bin_centres_ms(self) -> np.ndarray:
        return 2 ** (self._lo + (np.arange(HIST_BINS) + 0.5) / self._per_log2)


def fleet_history(total: DailyRecorder, start: date, mode_names, firmware_names, battery: bool) -> pd.DataFrame:
    """One row per day for the whole fleet, from its blocks' recorders absorbed in block order."""
    n, sums, mins, maxs, hist = total.count, total.sums, total.mins, total.maxs, total.hist
    mean = {k: sums[:, i] / n for i, k in enumerate(_MEAN)}
    days = len(sums)
    out = {"day": np.arange(days), "date": [start + timedelta(days=int(d)) for d in range(days)],
           "devices": np.full(days, n)}
    for k in ("ambient_c", "junction_c"):
        out[f"{k}_mean"] = mean[k]
    out["junction_c_max"] = maxs[:, 0]
    out["thermal_throttled_frac"] = mean["thermal_throttled"]
    out["overheat_shutdown_frac"] = total.overheat / n  # hot even at the deepest throttle
    out["dust_mean"] = mean["dust"]
    out["background_frac"] = mean["background"]
    if battery:
        out["undervolt_frac"] = mean["undervolted"]
        out["battery_health_mean"] = mean["battery_health"]
        out["battery_health_min"] = mins[:, 0]
        out["battery_eol_frac"] = total.eol / n
        out["battery_resistance_ratio_mean"] = mean["battery_resistance_ratio"]
    out["energy_wh_mean"] = mean["energy_wh"]
    out["latency_ms_mean"] = mean["latency_ms"]
    out["latency_ms_std"] = np.sqrt(np.maximum(mean["latency_sq"] - mean["latency_ms"] ** 2, 0))
    centres = total.bin_centres_ms()
    cum = np.cumsum(hist, axis=1)
    for q in (50, 95, 99):
        out[f"latency_ms_p{q}"] = centres[np.argmax(cum >= np.ceil(q / 100 * n), axis=1)]
    out["latency_ms_min"], out["latency_ms_max"] = mins[:, 1], maxs[:, 1]
    modes = total.mode_counts
    for i, m in enumerate(mode_names):
        out[f"mode_{m}_frac"] = modes[:, i] / n
    fw = total.fw_counts
    for i, name in enumerate(firmware_names):
        out[f"firmware_{name}_frac"] = fw[:, i] / n
    return pd.DataFrame(out)
