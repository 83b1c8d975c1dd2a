"""Profiling a device the way a benchmark harness does: noisy repeats that cost device time.

Each repeat is the exact latency times lognormal noise (a few percent), and now and then an
outlier (a page fault, a clock change, a context switch) several times slower. Profiling is
charged in device-seconds: loading the network once, warm-up runs, then the timed repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from testbed.schema import StrictModel
from twin.fleet import FleetSnapshot
from twin.latency import LatencyModel
from zoo.workload import Workload

__all__ = ["MeasurementNoise", "Measurement", "measure"]


class MeasurementNoise(StrictModel):
    """Noise and cost of one profiling session (defaults: typical Jetson eager-mode benchmarks)."""

    sigma: float = Field(0.03, ge=0, le=1, description="lognormal sigma of a repeat")
    outlier_rate: float = Field(0.01, ge=0, lt=1, description="share of repeats that are outliers")
    outlier_factor: tuple[float, float] = Field((1.5, 3.0), description="outlier slowdown range")
    setup_s: float = Field(2.0, ge=0, description="loading the network once per device")
    warmup: int = Field(10, ge=0, description="untimed runs before the repeats")


@dataclass(frozen=True)
class Measurement:
    latency_ms: np.ndarray   # (devices, repeats)
    cost_s: float            # device-seconds spent

    @property
    def median_ms(self) -> np.ndarray:
        return np.median(self.latency_ms, axis=1)


def measure(workload: Workload | LatencyModel, snapshot: FleetSnapshot, repeats: int,
            rng: np.random.Generator, noise: MeasurementNoise | None = None) -> Measurement:
    """Noisy repeated latency measurements of ``workload`` on every device of ``snapshot``."""
    noise = noise or MeasurementNoise()
    model = workload if isinstance(workload, LatencyModel) else LatencyModel.of(workload, snapshot)
    exact = model.snapshot_ms(snapshot)
    shape = (len(exact), repeats)
    runs = exact[:, None] * rng.lognormal(0.0, noise.sigma, shape)
    outlier = rng.random(shape) < noise.outlier_rate
    lo, hi = noise.outlier_factor
    runs = np.where(outlier, runs * rng.uniform(lo, hi, shape), runs)
    cost = len(exact) * noise.setup_s + float(np.sum(exact)) * noise.warmup * 1e-3 + float(runs.sum()) * 1e-3
    return Measurement(runs, cost)
