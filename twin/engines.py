"""Per-device inference engines: the kernel each layer gets differs from one engine build to the next.

TensorRT builds an engine on the device that runs it, timing candidate kernels for every layer;
"when implementations have similar timings, system noise can determine which one is chosen"
(TensorRT developer guide), and engines built from one network differ between builds and devices
(NVIDIA/TensorRT issue 4730). A fleet therefore runs a handful of distinct engines, each giving
every layer *shape* its own kernel speed: a pruned layer of another width is another shape and
another draw. No per-layer magnitude is published, so ``kernel_sd`` is a scenario parameter and
its default (0: off) says nothing about real fleets.

A device's build is a hash of its id and firmware version (an update rebuilds the engine); a
layer's time multiplier in a build is a lognormal draw keyed by the scenario's seed, the build and
the layer's shape. Everything is deterministic under the seed and costs no state per device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field, PositiveInt

from testbed.schema import StrictModel
from zoo.workload import Workload

__all__ = ["EngineVariation", "Engines", "build_of", "kernel_multipliers"]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


class EngineVariation(StrictModel):
    """A scenario's ``deployment.engines``: how much engine builds differ, and how many there are."""

    kernel_sd: float = Field(0.0, ge=0, le=1, description=(
        "sd of the log compute time of one layer shape's kernel between engine builds (ASSUMED: no "
        "published per-layer figure; 0 disables)"))
    builds: PositiveInt = Field(8, le=64, description="distinct engine builds across the fleet")


@dataclass(frozen=True)
class Engines:
    """Engine variation as the latency model needs it: spread, build count, and the seed of the draws."""

    kernel_sd: float
    builds: int
    seed: int


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays: a well-spread hash."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _combine(*parts) -> np.ndarray:
    h = np.uint64(0x9E3779B97F4A7C15)
    out = None
    for p in parts:
        v = np.asarray(p).astype(np.int64).astype(np.uint64)
        out = _mix(v + h) if out is None else _mix(out ^ (v + h))
    return out


def build_of(device_id: np.ndarray, firmware: np.ndarray, engines: Engines) -> np.ndarray:
    """Each device's engine build (0 .. builds - 1) for its firmware version."""
    return (_combine(engines.seed, device_id, firmware) % np.uint64(engines.builds)).astype(np.intp)


def kernel_multipliers(workload: Workload, engines: Engines) -> np.ndarray:
    """(builds, layers) compute-time multipliers, lognormal with sd ``kernel_sd`` and mean 1, the
    same for every layer of the same shape in a build."""
    shape = [workload.kind, workload.c_in, workload.c_out, workload.kernel, workload.stride, workload.h,
             workload.w, workload.groups]
    builds = np.arange(engines.builds)[:, None]
    u1 = (_combine(engines.seed, builds, 1, *shape) >> np.uint64(11)).astype(np.float64) / 2.0 ** 53
    u2 = (_combine(engines.seed, builds, 2, *shape) >> np.uint64(11)).astype(np.float64) / 2.0 ** 53
    z = np.sqrt(-2 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)   # Box-Muller: standard normal
    sd = engines.kernel_sd
    return np.exp(sd * z - sd * sd / 2)
