"""The fleet simulation: SimPy drives time, numpy moves every device at once.

The fleet is cut into blocks of ``BLOCK_SIZE`` consecutive device ids. Each block is simulated by
its own SimPy environment whose processes are fleet-level generators, one per kind of change:

- ``daily``: at the end of each day, weather, dust, thermal throttling, the deployed network's
  latency and energy, battery aging and supply sag, for every device of the block at once;
- ``mode_switches``, ``background_apps``, ``maintenance``: mid-day batches of discrete events
  (which devices switch power mode, install or drop an app, get cleaned), sampled per day;
- ``rollout``: one process per firmware release, waking at each staged wave.

A block's random streams derive from (seed, block), and fleet-wide weather from the seed alone
(``testbed.streams``: ``block`` and ``fleet``), so a block's trajectory never depends on how blocks
are grouped. A shard is a contiguous range of
blocks, the task handed to a worker (twin.executor: local threads, or a Dask cluster): the shard
and worker counts change speed, not bytes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import simpy
from tqdm import tqdm

from testbed.errors import InputError
from testbed.io import available_memory_bytes
from testbed.streams import Streams
from twin.battery import age_battery, undervolted
from twin.config_drift import (
    arrive_background,
    depart_background,
    draw_modes,
    firmware_overhead_table,
    mode_weights,
    roll_out,
    switch_modes,
)
from twin.environment import draw_installation, throttle_for_heat, zone_weather
from twin.executor import Executor
from twin.fleet import FleetSnapshot, FleetState
from twin.kernel import DayKernel
from twin.latency import LatencyModel, latency_ms, power_w, slowdowns
from twin.manufacturing import draw_birth_traits
from twin.scenario import Scenario, as_scenario
from twin.sku import SKU
from twin.summary import DailyRecorder, fleet_history
from zoo import Workload, resolve_workload

__all__ = ["BLOCK_SIZE", "SimulationResult", "simulate", "fleet_snapshot", "fleet_latency", "device_frame"]

BLOCK_SIZE = 32_768
SECONDS_PER_DAY = 86_400.0
_STREAMS = ("birth", "modes", "background", "maintenance", "supply")


@dataclass(frozen=True, eq=False)
class _Context:
    """What every block needs; built once, shipped to workers."""

    scenario: Scenario
    sku: SKU
    latency: LatencyModel
    zone_peak_c: np.ndarray
    zone_mean_c: np.ndarray
    firmware_overhead: np.ndarray
    firmware_speed: np.ndarray
    initial_modes: np.ndarray
    preferred_modes: np.ndarray
    snapshot_days: tuple[int, ...]
    kernel: str = "fused"  # "fused": twin.kernel's compiled day; "reference": advance_day and record

    @property
    def days(self) -> int:
        return self.scenario.time.days


@dataclass(eq=False)
class _BlockResult:
    block: int
    final: FleetState
    recorder: DailyRecorder
    snapshots: dict[int, FleetState]


@dataclass(eq=False)
class SimulationResult:
    """A finished run: the fleet on its last day, daily fleet summaries, optional day snapshots."""

    scenario: Scenario
    final: FleetSnapshot | None   # None when the run streamed its devices (keep_devices=False)
    history: pd.DataFrame
    snapshots: dict[int, FleetSnapshot] = field(default_factory=dict)

    def devices_frame(self) -> pd.DataFrame:
        """One row per device: id, birth traits and final state, with names for the coded columns."""
        return _named(self.final)

    @property
    def devices(self) -> pd.DataFrame:
        """``devices_frame()``: the fleet on its last day, one row per device."""
        return self.devices_frame()

    def snapshots_frame(self) -> pd.DataFrame:
        """Every device's state on each snapshot day, stacked, with a ``day`` column first."""
        frames = [_named(snap).assign(day=day) for day, snap in sorted(self.snapshots.items())]
        df = pd.concat(frames, ignore_index=True)
        return df[["day"] + [c for c in df.columns if c != "day"]]


def _named(snap: FleetSnapshot) -> pd.DataFrame:
    return device_frame(snap.state, snap.sku, snap.zone_names)


def device_frame(state: FleetState, sku: SKU, zone_names: tuple[str, ...]) -> pd.DataFrame:
    """One row per device of ``state``, power mode and climate zone by name."""
    df = state.to_frame()
    df["power_mode"] = pd.Categorical.from_codes(df["power_mode"], sku.mode_names)
    df["climate_zone"] = pd.Categorical.from_codes(df["climate_zone"], zone_names)
    return df


def _block_streams(seed: int, block: int) -> dict[str, np.random.Generator]:
    seqs = Streams(seed).sequence("block", block).spawn(len(_STREAMS))
    return {name: np.random.Generator(np.random.PCG64(s)) for name, s in zip(_STREAMS, seqs)}


def _birth(ctx: _Context, block: int, rng: np.random.Generator) -> FleetState:
    sc = ctx.scenario
    lo = block * BLOCK_SIZE
    n = min(BLOCK_SIZE, sc.fleet.devices - lo)
    f32 = lambda v: np.full(n, v, np.float32)  # noqa: E731
    traits = draw_birth_traits(sc.manufacturing, n, rng)
    site = draw_installation(sc.environment, n, rng)
    sigma = sc.deployment.usage_sigma
    return FleetState(
        device_id=np.arange(lo, lo + n, dtype=np.int64), **traits, **site,
        usage=rng.lognormal(-0.5 * sigma * sigma, sigma, n).astype(np.float32),
        rollout_rank=rng.random(n, dtype=np.float32),
        power_mode=draw_modes(ctx.initial_modes, n, rng),
        background_cores=f32(0), background_until=np.zeros(n, np.int32), firmware=np.zeros(n, np.int8),
        dust=f32(0), ambient_c=f32(0), junction_c=f32(0), thermal_throttle=f32(1), supply_throttle=f32(1),
        battery_health=traits["battery_capacity"].copy() if sc.fleet.battery else f32(1),
        battery_resistance_ratio=traits["battery_resistance"].copy() if sc.fleet.battery else f32(1),
        battery_calendar_acc=f32(0), battery_cycle_acc=f32(0), energy_wh=f32(0), latency_ms=f32(0))


def advance_day(state: FleetState, ctx: _Context, day: int, rng: np.random.Generator) -> None:
    """One day for every device of ``state``: the vectorised physics, in place."""
    sc, sku = ctx.scenario, ctx.sku
    zone = state.climate_zone
    state.ambient_c[:] = ctx.zone_peak_c[day][zone] + state.enclosure_c
    state.dust += np.float32(sc.environment.dust_rate_per_year / 365.25) * state.dust_exposure
    idle_w, active_w, _ = power_w(state, sku)
    th = sku.thermal
    resistance = np.float32(th.thermal_resistance_c_per_w) * state.thermal_resistance * (1 + state.dust)
    state.thermal_throttle[:], state.junction_c[:] = throttle_for_heat(
        state.ambient_c, active_w, idle_w, resistance, np.float32(th.throttle_c), np.float32(th.min_clock_fraction))
    a, b, g = slowdowns(state, sku)
    latency_s = ctx.latency.state_latency_s(state, a, b, g)
    state.latency_ms[:] = latency_s * 1e3
    drawn_w = power_w(state, sku)[2]  # with today's thermal throttle
    busy_s = np.minimum(np.float32(sc.deployment.inferences_per_day) * state.usage * latency_s.astype(np.float32),
                        np.float32(SECONDS_PER_DAY))
    state.energy_wh[:] = (drawn_w * busy_s + idle_w * (np.float32(SECONDS_PER_DAY) - busy_s)) / np.float32(3600)
    if sc.fleet.battery:
        pack, params = sku.battery, sc.battery
        cell_c = ctx.zone_mean_c[day][zone] + state.enclosure_c
        c_rate = active_w / np.float32(pack.nominal_v * pack.capacity_ah)
        age_battery(state, pack, params, cell_c, state.energy_wh, c_rate)
        sag = undervolted(state, pack, params, cell_c, state.energy_wh, active_w * np.float32(pack.peak_power_factor))
        # the hardware reacts to today's sag from tomorrow on; some devices drop to the lowest mode
        state.supply_throttle[:] = np.where(sag, np.float32(params.undervolt_clock_fraction), np.float32(1))
        sagging = np.flatnonzero(sag)
        drop = sagging[rng.random(len(sagging)) < params.downgrade_probability]
        state.power_mode[drop] = sku.mode_names.index(sku.lowest_mode)


class _Block:
    """One block's SimPy world: its state, its streams, and one process per kind of change."""

    def __init__(self, ctx: _Context, block: int):
        self.ctx = ctx
        self.rng = _block_streams(ctx.scenario.seed, block)
        self.state = _birth(ctx, block, self.rng["birth"])
        self.recorder = DailyRecorder(ctx.days, len(ctx.sku.power_modes), len(ctx.firmware_overhead),
                                      float(ctx.latency.latency_s(*np.ones((3, 1)))[0] * 1e3),
                                      ctx.sku.thermal.shutdown_c)
        self.snapshots: dict[int, FleetState] = {}
        self.kernel = DayKernel(ctx) if ctx.kernel == "fused" else None
        self.env = simpy.Environment()
        drift = ctx.scenario.drift
        self.env.process(self.daily())
        self.env.process(self.mid_day(lambda day: switch_modes(self.state, drift.power_modes, ctx.preferred_modes, self.rng["modes"])))
        self.env.process(self.mid_day(self.background_apps))
        self.env.process(self.mid_day(self.maintenance))
        for number, release in enumerate(drift.firmware, start=1):
            self.env.process(self.rollout(number, release))

    def run(self) -> _BlockResult:
        self.env.run(until=self.ctx.days + 0.25)
        return _BlockResult(int(self.state.device_id[0] // BLOCK_SIZE), self.state, self.recorder, self.snapshots)

    def daily(self):
        for day in range(self.ctx.days):
            yield self.env.timeout(1)  # day d ends at t = d + 1, after its mid-day events
            if self.kernel is None:
                advance_day(self.state, self.ctx, day, self.rng["supply"])
                self.recorder.record(day, self.state)
            else:
                self.kernel.advance(self.state, day, self.rng["supply"], self.recorder)
            if day in self.ctx.snapshot_days:
                self.snapshots[day] = self.state.copy()

    def mid_day(self, apply):
        yield self.env.timeout(0.5)
        while True:
            apply(int(self.env.now))
            yield self.env.timeout(1)

    def background_apps(self, day: int) -> None:
        (depart_background if self.kernel is None else self.kernel.depart_background)(self.state, day)
        arrive_background(self.state, self.ctx.scenario.drift.background, day, self.rng["background"])

    def maintenance(self, day: int) -> None:
        env = self.ctx.scenario.environment
        hits = self.rng["maintenance"].binomial(len(self.state), -np.expm1(-env.cleaning_rate_per_year / 365.25))
        self.state.dust[self.rng["maintenance"].choice(len(self.state), hits, replace=False)] = 0

    def rollout(self, number: int, release):
        yield self.env.timeout(release.day + 0.5)
        for share in release.waves:
            roll_out(self.state, number, share, release.coverage)
            if self.kernel is not None:
                self.kernel.firmware_changed()
            yield self.env.timeout(release.wave_interval_days)


def _run_shard(blocks: list[int], ctx: _Context) -> list[_BlockResult]:
    return [_Block(ctx, b).run() for b in blocks]


def _context(scenario: Scenario, snapshot_days, kernel: str = "fused") -> _Context:
    sku = scenario.sku_model()
    fw = firmware_overhead_table(scenario.drift.firmware)
    speed = firmware_overhead_table(scenario.drift.firmware, "kernel_speed")
    fleet_rng = np.random.Generator(np.random.PCG64(Streams(scenario.seed).sequence("fleet")))
    peak, mean = zone_weather(scenario.environment, scenario.time.start, scenario.time.days, fleet_rng)
    pm = scenario.drift.power_modes
    return _Context(scenario, sku, LatencyModel(scenario.workload_table(), sku, scenario.fleet.framework, fw,
                                                scenario.fleet.precision, speed, scenario.engines()),
                    peak, mean, fw, speed, mode_weights(pm.initial, sku), mode_weights(pm.preferences or pm.initial, sku),
                    tuple(sorted(set(snapshot_days))), kernel)


def check_memory(scenario: Scenario, snapshots: int = 0, available: int | None = None) -> None:
    """Refuse, before any work, a fleet whose state cannot be held in memory: every device's state
    (``FleetState``, about 100 bytes), twice while the blocks are joined, once more per snapshot day."""
    per_device = sum(a.nbytes for a in vars(FleetState.nominal(1)).values() if isinstance(a, np.ndarray))
    need = scenario.fleet.devices * per_device * (2 + snapshots)
    available = available_memory_bytes() if available is None else available
    if need > 0.8 * available:
        raise InputError(f"{scenario.source}: fleet.devices: holding {scenario.fleet.devices:,} devices needs about "
                         f"{need / 1e9:.3g} GB ({per_device} bytes of state each, x{2 + snapshots} while joined and "
                         f"snapshotted); this machine has {available / 1e9:.3g} GB available. `twin simulate` streams "
                         "any fleet to disk in bounded memory; HDAP and the studies hold the fleet: give them fewer "
                         "devices (fleet.devices, or a study's --devices) or a machine with more memory")


def simulate(scenario: Scenario | str | Path, *, shards: int | None = None, workers: int = 1, executor: Executor | None = None,
             snapshot_days: tuple[int, ...] = (), keep_devices: bool = True,
             on_block: Callable[[FleetState, dict[int, FleetState]], None] | None = None,
             progress: bool = False, kernel: str = "fused") -> SimulationResult:
    """Run ``scenario`` (loaded, or a path) and return its final fleet (``.devices``), daily
    history (``.history``) and requested day snapshots.

    ``shards`` groups blocks into that many contiguous ranges, the tasks (default: one per block).
    They run on ``executor`` (default: ``workers`` local processes; 1: this process). None of
    these changes any output. Blocks come back in device-id order; ``on_block(final, snapshots)``
    sees each one (to stream it to disk), and with ``keep_devices=False`` it is then dropped, so
    a fleet bigger than memory runs in memory bounded by a few blocks (``final`` is then None and
    ``snapshots`` empty; the daily history is always kept).

    ``kernel``: "fused" (default) runs each day through twin.kernel's compiled passes, "reference"
    through ``advance_day`` and ``DailyRecorder.record``, the readable definition it is tested against.
    """
    if kernel not in ("fused", "reference"):
        raise ValueError(f"kernel must be 'fused' or 'reference', got {kernel!r}")
    scenario = as_scenario(scenario)
    if keep_devices:
        check_memory(scenario, len(snapshot_days))
    ctx = _context(scenario, snapshot_days, kernel)
    n_blocks = -(-scenario.fleet.devices // BLOCK_SIZE)
    groups = [list(g) for g in np.array_split(np.arange(n_blocks), min(shards or n_blocks, n_blocks))]
    finals, snaps, total = [], [], None
    with contextlib.ExitStack() as stack:
        if executor is None:  # threads: the blocks run in twin.kernel's compiled code and numpy, without the GIL
            executor = stack.enter_context(Executor(workers=min(workers, len(groups)), threads=True))
        bar = stack.enter_context(tqdm(total=scenario.fleet.devices, unit="device", disable=not progress,
                                       desc=scenario.name))
        for done in executor.map(_run_shard, groups, executor.share(ctx)):
            for r in done:
                if on_block is not None:
                    on_block(r.final, r.snapshots)
                total = r.recorder if total is None else total.absorb(r.recorder)
                if keep_devices:
                    finals.append(r.final)
                    snaps.append(r.snapshots)
                bar.update(len(r.final))
    zones = scenario.environment.zone_names

    def snap(states, day):
        return FleetSnapshot(FleetState.concat(states, consume=True), ctx.sku, scenario.fleet.framework,
                             ctx.firmware_overhead, day, zones, scenario.fleet.precision, ctx.firmware_speed,
                             scenario.engines())

    fw_names = ["factory"] + [r.name for r in scenario.drift.firmware]
    history = fleet_history(total, scenario.time.start, ctx.sku.mode_names, fw_names, scenario.fleet.battery)
    if not keep_devices:
        return SimulationResult(scenario, None, history)
    return SimulationResult(scenario, snap(finals, scenario.time.days - 1), history,
                            {d: snap([s[d] for s in snaps], d) for d in ctx.snapshot_days if d < scenario.time.days})


def fleet_snapshot(scenario: Scenario | str | Path, *, day: int | None = None, devices: int | None = None,
                   workers: int = 1) -> FleetSnapshot:
    """Every device of the fleet on ``day`` (default: the deployment day)."""
    scenario = as_scenario(scenario)
    day = scenario.time.deployment_day if day is None else day
    if not 0 <= day < scenario.time.days:
        raise InputError(f"--day: {scenario.source} simulates days 0 to {scenario.time.days - 1} (time.days "
                         f"{scenario.time.days}); got {day}")
    return simulate(scenario.with_overrides(devices=devices, days=day + 1), workers=workers).final


def fleet_latency(scenario: Scenario | str | Path, model: str | Workload, *, day: int | None = None,
                  devices: int | None = None, rates=None, input_size: int | None = None,
                  workers: int = 1) -> pd.Series:
    """Exact batch-1 latency (ms) of ``model`` on every device of the fleet on ``day`` (default:
    the deployment day), indexed by device id. ``model``: a zoo name (pruned by per-unit
    ``rates`` if given, on ``input_size`` inputs if given), a workload CSV / parquet, a pruned
    model's spec, or a ``Workload``."""
    workload = model if isinstance(model, Workload) else resolve_workload(model, rates=rates, input_size=input_size)
    final = fleet_snapshot(scenario, day=day, devices=devices, workers=workers)
    return pd.Series(latency_ms(workload, final), index=pd.Index(final.state.device_id, name="device_id"),
                     name="latency_ms")
