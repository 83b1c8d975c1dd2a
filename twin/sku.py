"""The hardware catalogue: one YAML file per SKU under twin/skus/ (or any path a user gives).

A SKU file holds what the latency and energy model needs for one device type: peak compute,
memory bandwidth, power modes with their clocks and power, thermal limits, per-framework overhead
and efficiency per layer kind, contention sensitivities, and the battery pack (if any). Every
default carries its source in the file's comments and ``sources`` table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from testbed.errors import InputError
from testbed.schema import StrictModel, read_yaml_model
from zoo.workload import LAYER_KINDS, LayerKind

__all__ = ["PowerMode", "FrameworkProfile", "Thermal", "BatteryPack",
           "Contention", "CalibrationRecord", "SKU", "load_sku", "list_skus"]

SKU_DIR = Path(__file__).with_name("skus")



class PowerMode(StrictModel):
    """One nvpmodel-style mode: clocks and power. ``compute`` is the GPU (or CPU threads on host-cpu)."""

    compute_mhz: PositiveFloat
    compute_units: PositiveInt = 1
    cpu_mhz: PositiveFloat
    cpu_cores: PositiveInt
    memory_mhz: PositiveFloat
    power_w: PositiveFloat = Field(description="module power while running inference")
    idle_w: PositiveFloat
    nvpmodel_id: int | None = None

    @model_validator(mode="after")
    def _idle_below_active(self):
        if self.idle_w >= self.power_w:
            raise ValueError(f"idle_w ({self.idle_w}) must be below power_w ({self.power_w})")
        return self


class FrameworkProfile(StrictModel):
    """How one framework runs on this SKU: per-layer overhead (us) and compute efficiency per kind.

    A dense conv of W MACs runs at ``efficiency[kind] x W / (W + occupancy_half)``: on a GPU with
    many multiprocessors small convs leave some idle. 3x3 stride-1 dense convs run Winograd
    kernels: ``winograd_speedup`` divides their MACs. Kinds listed in ``fused`` are folded into the
    preceding layer (TensorRT fuses norm, activation and residual add into the conv): they cost
    neither overhead, compute nor memory traffic. ``call_overhead_us`` is paid once per inference.
    """

    overhead_us: dict[LayerKind, float]
    efficiency: dict[LayerKind, float]
    peak_gmacs: PositiveFloat | None = Field(None, description="peak this framework reaches, if not the SKU's (tensor cores)")
    occupancy_half_mmacs: float = Field(0.0, ge=0, description=(
        "work (million MACs) at which a dense conv reaches half its efficiency: small convs cannot "
        "fill the device; 0 disables"))
    winograd_speedup: float = Field(1.0, ge=1, description=(
        "MAC reduction of the Winograd kernels this framework picks for 3x3 stride-1 dense convs; 1 disables"))
    fused: list[LayerKind] = []
    call_overhead_us: float = Field(0.0, ge=0, description=(
        "per inference, not per layer: input copy, engine enqueue, stream synchronisation"))

    @model_validator(mode="after")
    def _complete(self):
        for table in ("overhead_us", "efficiency"):
            missing = [k for k in LAYER_KINDS if k not in getattr(self, table)]
            if missing:
                raise ValueError(f"{table} must give every layer kind; missing {', '.join(missing)}")
        if any(v < 0 for v in self.overhead_us.values()):
            raise ValueError("overhead_us values must be >= 0")
        if any(not 0 < v <= 1 for v in self.efficiency.values()):
            raise ValueError("efficiency values must be in (0, 1]")
        return self


class Thermal(StrictModel):
    throttle_c: float = Field(description="junction temperature where clocks start to throttle")
    shutdown_c: float
    thermal_resistance_c_per_w: PositiveFloat = Field(description="junction-to-ambient, nominal unit")
    min_clock_fraction: float = Field(0.3, gt=0, le=1, description="deepest thermal throttle")


class BatteryPack(StrictModel):
    """A Li-ion pack as field deployments use (cells in series x parallel) and its cut-off."""

    cells_series: PositiveInt
    cells_parallel: PositiveInt
    cell_capacity_ah: PositiveFloat
    internal_resistance_ohm: PositiveFloat = Field(description="whole pack, new, at 25 C")
    min_pack_v: PositiveFloat = Field(description="below this under load the board browns out / throttles")
    peak_power_factor: float = Field(1.3, ge=1, description="peak / average inference power")

    @property
    def capacity_ah(self) -> float:
        return self.cell_capacity_ah * self.cells_parallel

    @property
    def nominal_v(self) -> float:
        return 3.7 * self.cells_series

    @property
    def capacity_wh(self) -> float:
        return self.capacity_ah * self.nominal_v


class Contention(StrictModel):
    """Slowdown per busy background core, relative to the mode's core count, for each time term."""

    overhead: float = Field(ge=0)
    memory: float = Field(ge=0)
    compute: float = Field(ge=0)
    shared_cores: bool = Field(False, description=(
        "the network's compute runs on the CPU cores (a CPU SKU, compute_units = threads): background "
        "load slows compute and overhead only once threads + busy cores exceed cpu_cores"))


class CalibrationRecord(StrictModel):
    """How ``twin calibrate`` made this file: the measurements, what it fitted and how well."""

    measurements: str
    rows: int
    networks: list[str] = Field([], description="arch_hash of every network the fit used")
    fitted: dict[str, list[float]] = Field(description="parameter -> [base value, fitted value]")
    fit_mape_pct: float
    fit_max_error_pct: float
    boards: int
    board_speed_sd: float | None = Field(None, description=(
        "spread (sd of log) of the boards' speed around the fit: manufacturing variance"))
    modes: list[str] = Field([], description="power modes the rows ran in (others keep the base SKU's values)")
    frameworks: list[str] = Field([], description="frameworks the rows ran")
    warnings: list[str] = Field([], description="what the fit could not do: physical bounds reached, terms not separated")

    def unseen(self, sku_name: str, mode: str, framework: str) -> list[str]:
        """Warnings for a prediction in a mode or framework no row of the fit ran in: its
        parameters there are the base SKU's, which no measurement informed."""
        if not self.modes:
            return []
        out = []
        if mode not in self.modes:
            out.append(f"{sku_name} was calibrated on rows in mode(s) {', '.join(self.modes)}; {mode} had none, so "
                       f"its clocks are the base SKU's, not fitted (time rows in {mode} and calibrate again)")
        if framework not in self.frameworks:
            out.append(f"{sku_name} was calibrated on {', '.join(self.frameworks)} rows; {framework} had none, so its "
                       f"overheads and efficiencies are the base SKU's, not fitted")
        return out


class SKU(StrictModel):
    name: str
    description: str
    peak_gmacs: PositiveFloat = Field(description="peak multiply-accumulates per second (1e9) at the top mode")
    channel_tile: PositiveInt = Field(description="output-channel granularity of the compute kernels")
    input_channel_tile: PositiveInt = Field(1, description="input-channel granularity of dense convs with more "
                                                           "input channels than one tile (the reduction of a "
                                                           "blocked layout); 1: no padding")
    spatial_tile: PositiveInt = Field(1, description="output-pixel granularity of the conv kernels' tiles "
                                                     "(implicit GEMM rows); 1: no padding")
    element_bytes: Literal[1, 2, 4] = Field(2, description="bytes per tensor element as deployed (fp16: 2)")
    bandwidth_gbs: PositiveFloat = Field(description="DRAM bandwidth at the top memory clock (GB/s)")
    memory_efficiency: float = Field(gt=0, le=1)
    power_modes: dict[str, PowerMode]
    thermal: Thermal
    contention: Contention
    frameworks: dict[str, FrameworkProfile]
    battery: BatteryPack | None = None
    sources: dict[str, str] = {}
    calibration: CalibrationRecord | None = None

    @model_validator(mode="after")
    def _non_empty(self):
        if not self.power_modes:
            raise ValueError("power_modes must list at least one mode")
        if not self.frameworks:
            raise ValueError("frameworks must list at least one framework")
        return self

    @property
    def mode_names(self) -> list[str]:
        return list(self.power_modes)

    @property
    def top_mode(self) -> str:
        """The fastest mode: most compute, then fastest CPU (ties keep file order)."""
        return max(self.power_modes, key=lambda m: (
            self.power_modes[m].compute_mhz * self.power_modes[m].compute_units,
            self.power_modes[m].cpu_mhz * self.power_modes[m].cpu_cores))

    @property
    def lowest_mode(self) -> str:
        return min(self.power_modes, key=lambda m: self.power_modes[m].power_w)


def list_skus() -> list[str]:
    """Names of the SKUs shipped in the catalogue."""
    return sorted(p.stem for p in SKU_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def _load_path(path: Path) -> SKU:
    return read_yaml_model(path, SKU, "SKU")


def load_sku(name_or_path: str | Path) -> SKU:
    """Load a catalogue SKU by name (``jetson-nano``) or a SKU YAML file by path."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        return _load_path(Path(text).resolve())
    path = SKU_DIR / f"{text}.yaml"
    if not path.is_file():
        raise InputError(f"unknown SKU {text!r}; the catalogue has: {', '.join(list_skus())}")
    return _load_path(path)
