"""Fleet state as arrays, one entry per device: static birth traits and dynamic state.

Arrays, not objects, so that a day of a million devices is a few dozen numpy operations. A
``FleetSnapshot`` pairs a state with what it takes to turn it into latencies (SKU, framework,
firmware overhead table): it is what the latency model, hdap's fleet interface and the output
files consume.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from twin.engines import Engines
from twin.sku import SKU

__all__ = ["FleetState", "FleetSnapshot", "BIRTH_TRAITS"]

BIRTH_TRAITS = ("silicon_speed", "memory_speed", "power_factor", "thermal_resistance",
                "battery_capacity", "battery_resistance", "usage", "climate_zone", "enclosure_c",
                "dust_exposure", "rollout_rank")


@dataclass(eq=False)
class FleetState:
    """Per-device arrays. Multipliers are relative to the SKU's nominal unit (1.0)."""

    device_id: np.ndarray
    # birth traits (manufacturing, installation, usage)
    silicon_speed: np.ndarray        # compute and CPU speed of this die
    memory_speed: np.ndarray         # DRAM speed of this board
    power_factor: np.ndarray         # power draw (leakage) of this die
    thermal_resistance: np.ndarray   # junction-to-ambient, as assembled
    battery_capacity: np.ndarray     # pack capacity at birth
    battery_resistance: np.ndarray   # pack resistance at birth
    usage: np.ndarray                # inferences per day relative to the deployment's mean
    climate_zone: np.ndarray         # index into the scenario's climate zones (the region)
    enclosure_c: np.ndarray          # enclosure / sun heating over ambient
    dust_exposure: np.ndarray        # dust accumulation rate multiplier
    rollout_rank: np.ndarray         # position in staged firmware rollouts, uniform [0, 1)
    # dynamic state
    power_mode: np.ndarray           # index into the SKU's power modes
    background_cores: np.ndarray     # CPU cores busy with background apps
    background_until: np.ndarray     # day the current background app leaves
    firmware: np.ndarray             # index: 0 factory, i the i-th release
    dust: np.ndarray                 # fractional rise of thermal resistance from dust
    ambient_c: np.ndarray            # today's peak ambient around the module
    junction_c: np.ndarray           # today's peak junction temperature
    thermal_throttle: np.ndarray     # clock fraction left by thermal throttling (1 = none)
    supply_throttle: np.ndarray      # clock fraction left by under-voltage throttling (1 = none)
    battery_health: np.ndarray       # capacity / nominal capacity
    battery_resistance_ratio: np.ndarray  # pack resistance / nominal new resistance at 25 C
    battery_calendar_acc: np.ndarray # accumulated Arrhenius-weighted time (sqrt law state)
    battery_cycle_acc: np.ndarray    # accumulated Arrhenius-weighted throughput (Ah^0.55 law state)
    energy_wh: np.ndarray            # energy used today
    latency_ms: np.ndarray           # today's latency of the deployed network

    def __len__(self) -> int:
        return len(self.device_id)

    @staticmethod
    def nominal(n: int, power_mode: int = 0) -> "FleetState":
        """``n`` factory-fresh nominal units: every multiplier 1, no load, no dust, no throttling."""
        ones, zeros = np.ones(n, np.float32), np.zeros(n, np.float32)
        values = {f.name: ones.copy() for f in fields(FleetState)}
        values.update(device_id=np.arange(n, dtype=np.int64), climate_zone=np.zeros(n, np.int8),
                      power_mode=np.full(n, power_mode, np.int8), firmware=np.zeros(n, np.int8),
                      background_until=np.zeros(n, np.int32), rollout_rank=zeros.copy())
        for name in ("enclosure_c", "background_cores", "dust", "ambient_c", "junction_c",
                     "battery_calendar_acc", "battery_cycle_acc", "energy_wh", "latency_ms"):
            values[name] = zeros.copy()
        return FleetState(**values)

    def take(self, index) -> "FleetState":
        return FleetState(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def copy(self) -> "FleetState":
        return FleetState(**{f.name: getattr(self, f.name).copy() for f in fields(self)})

    @staticmethod
    def concat(parts: list["FleetState"], consume: bool = False) -> "FleetState":
        """The parts end to end. ``consume``: each part's column is dropped once copied, so joining
        a fleet needs its state once plus one column, not twice (the parts are unusable after)."""
        joined = {}
        for f in fields(FleetState):
            joined[f.name] = np.concatenate([getattr(p, f.name) for p in parts])
            if consume:
                for p in parts:
                    setattr(p, f.name, None)
        return FleetState(**joined)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(eq=False)
class FleetSnapshot:
    """A fleet on one day, with the context its latencies depend on."""

    state: FleetState
    sku: SKU
    framework: str
    firmware_overhead: np.ndarray = field(repr=False)  # (releases + 1, layer kinds) overhead scales
    day: int = 0
    zone_names: tuple[str, ...] = ()
    precision: str | None = None  # the framework's precision (None: its default)
    firmware_speed: np.ndarray | None = field(default=None, repr=False)  # (releases + 1, kinds) kernel speed
    engines: Engines | None = None  # engine builds' kernel variation (None: every device alike)

    def __len__(self) -> int:
        return len(self.state)

    def nominal(self) -> "FleetSnapshot":
        """One factory-fresh device of this fleet's SKU in its usual mode, with factory firmware and
        the fleet's software: the single device one would prune for."""
        state = FleetState.nominal(1, self.sku.mode_names.index(self.sku.usual_mode))
        return FleetSnapshot(state, self.sku, self.framework, self.firmware_overhead, precision=self.precision,
                             firmware_speed=self.firmware_speed, engines=self.engines)

    def take(self, index) -> "FleetSnapshot":
        return FleetSnapshot(self.state.take(index), self.sku, self.framework,
                             self.firmware_overhead, self.day, self.zone_names, self.precision, self.firmware_speed,
                             self.engines)
