"""The fleet interface: all HDAP ever learns about devices.

HDAP may list devices with what an operator knows of them (id, SKU, region) and ask for an
architecture to be measured N times on chosen devices, which is noisy and costs device-seconds. The
twin implements the interface for one simulated day (``TwinFleet``); a real-board backend will
too. Exact latencies live apart, in ``TwinGroundTruth``, for evaluating results, never for
making HDAP's decisions.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from testbed.streams import Streams
from twin.fleet import FleetSnapshot
from twin.latency import LatencyModel
from twin.measurement import Measurement, MeasurementNoise, measure
from zoo.workload import Workload

__all__ = ["Fleet", "TwinFleet", "TwinGroundTruth"]


class Fleet(Protocol):
    def devices(self) -> pd.DataFrame:
        """One row per device: ``device_id``, ``sku``, ``region``."""

    def measure(self, workload: Workload, device_ids: np.ndarray, repeats: int) -> Measurement:
        """Timed batch-1 runs of ``workload`` on each device (rows follow ``device_ids``)."""

    @property
    def profiling_device_seconds(self) -> float:
        """Device time spent on measurements so far."""


class TwinFleet:
    """The twin's fleet on one day, seen only through measurements."""

    def __init__(self, snapshot: FleetSnapshot, noise: MeasurementNoise | None = None,
                 rng: np.random.Generator | None = None):
        """``rng``: the measurement noise's stream (``Streams.rng("measurement")``)."""
        self._snapshot = snapshot
        self._noise = noise or MeasurementNoise()
        self._rng = Streams(0).rng("measurement") if rng is None else rng
        self._index = pd.Index(snapshot.state.device_id)
        self._spent_s = 0.0

    def devices(self) -> pd.DataFrame:
        s = self._snapshot
        zones = np.asarray(s.zone_names, dtype=object)[s.state.climate_zone] if s.zone_names else "unknown"
        return pd.DataFrame({"device_id": s.state.device_id, "sku": s.sku.name, "region": zones})

    def measure(self, workload: Workload, device_ids, repeats: int) -> Measurement:
        rows = self._index.get_indexer(np.asarray(device_ids))
        if np.any(rows < 0):
            raise KeyError("measure: unknown device id(s)")
        result = measure(workload, self._snapshot.take(rows), repeats, self._rng, self._noise)
        self._spent_s += result.cost_s
        return result

    @property
    def profiling_device_seconds(self) -> float:
        return self._spent_s


class TwinGroundTruth:
    """Noise-free latency of any architecture on every device: for evaluation only."""

    def __init__(self, snapshot: FleetSnapshot):
        self._snapshot = snapshot

    def latency_ms(self, workload: Workload) -> np.ndarray:
        s = self._snapshot
        return LatencyModel.of(workload, s).snapshot_ms(s)
