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
from zoo.workload import LAYER_KINDS, PRECISION_BYTES, LayerKind

__all__ = ["PowerMode", "PrecisionSpec", "FrameworkProfile", "Thermal", "BatteryPack", "Contention", "PowerModel",
           "EnergyModel", "CalibrationRecord", "SKU", "load_sku", "list_skus", "parse_clocks", "with_clocks", "CLOCK_KEYS"]

SKU_DIR = Path(__file__).with_name("skus")
Precision = Literal["fp32", "fp16", "int8", "int4", "int2", "int1"]
_BYTES = PRECISION_BYTES
# what a measurement's or a prediction's clocks may give, and the PowerMode field each sets
CLOCK_KEYS = {"gpu_mhz": "compute_mhz", "emc_mhz": "memory_mhz", "cpu_mhz": "cpu_mhz", "cpu_cores": "cpu_cores"}
CLOCKS_MODE = "clocks "  # how the name of a mode at given clocks begins


class PowerMode(StrictModel):
    """One nvpmodel-style mode: clocks and power. ``compute`` is the GPU (or CPU threads on host-cpu)."""

    compute_mhz: PositiveFloat
    compute_units: PositiveInt = 1
    cpu_mhz: PositiveFloat
    cpu_cores: PositiveInt
    memory_mhz: PositiveFloat
    power_w: PositiveFloat | None = Field(None, description=(
        "module power while running inference; None: from the SKU's power model"))
    idle_w: PositiveFloat | None = Field(None, description="module idle power; None: from the SKU's power model")
    nvpmodel_id: int | None = None
    custom: bool = Field(False, description="clocks a measurement or prediction gave, not a mode of the board")

    @model_validator(mode="after")
    def _idle_below_active(self):
        if self.idle_w is not None and self.power_w is not None and self.idle_w >= self.power_w:
            raise ValueError(f"idle_w ({self.idle_w}) must be below power_w ({self.power_w})")
        return self


class PrecisionSpec(StrictModel):
    """One numeric precision a framework deploys in: its peak relative to the framework's first
    precision (int8 tensor cores run twice the fp16 rate) and how much of it the kernels reach."""

    peak_scale: PositiveFloat = Field(1.0, description="peak MACs/s relative to the framework's first precision")
    efficiency_scale: PositiveFloat = Field(1.0, description=(
        "multiplies every kind's compute efficiency (fitted by twin calibrate where rows ran it)"))


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
    channel_half: float = Field(0.0, ge=0, description=(
        "output channels (counted in whole channel tiles) at which a dense conv reaches half its efficiency: "
        "narrow layers underfill the tensor cores' GEMM tiles; 0 disables"))
    winograd_speedup: float = Field(1.0, ge=1, description=(
        "MAC reduction of the Winograd kernels this framework picks for 3x3 stride-1 dense convs; 1 disables"))
    fused: list[LayerKind] = []
    call_overhead_us: float = Field(0.0, ge=0, description=(
        "per inference, not per layer: input copy, engine enqueue, stream synchronisation"))
    precisions: dict[Precision, PrecisionSpec] = Field({}, description=(
        "precisions it deploys in, the first the default; empty: only the SKU's element_bytes precision"))
    unsupported: dict[Precision, str] = Field({}, description="precision -> why this board cannot run it")
    sparse_efficiency: dict[Literal["unstructured", "block", "2:4"], float] = Field({}, description=(
        "per sparsity structure, the share of pruned weights' MACs its kernels skip (0 or absent: dense kernels "
        "compute the zeros); twin.compressed"))

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
        if any(not 0 <= v <= 1 for v in self.sparse_efficiency.values()):
            raise ValueError("sparse_efficiency values must be in [0, 1]")
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


class PowerModel(StrictModel):
    """Module power from what the chip does, not from a mode's name.

    ``static_w + sum over units of full_w x d(f / f_top) x utilisation``, with the dynamic part of
    CMOS power ``d(x) = x (v + (1 - v) x)^2``: proportional to clock times voltage squared, the
    voltage falling linearly with the clock to ``voltage_floor`` of its top value (DVFS). The GPU's
    utilisation is its compute-busy share of the latency (scaled by the TPCs a mode leaves on),
    memory's the DRAM-busy share, and one CPU core runs the framework's thread throughout.
    ``wall`` power is what a meter at the socket sees: module plus carrier board, over the supply's
    efficiency (MLPerf Power measures there).
    """

    static_w: PositiveFloat = Field(description="module at idle: leakage, always-on rails, idle clocks")
    gpu_w: float = Field(ge=0, description="GPU dynamic power at the top GPU clock, every TPC busy")
    memory_w: float = Field(ge=0, description="DRAM and memory controller dynamic power at the top EMC clock, full bandwidth")
    cpu_core_w: float = Field(ge=0, description="one busy CPU core at the top CPU clock")
    voltage_floor: float = Field(0.6, gt=0, le=1, description="voltage at the lowest clocks / at the top clock")
    carrier_w: float = Field(0.0, ge=0, description="carrier board (dev kit) power at the wall side of the module")
    supply_efficiency: float = Field(1.0, gt=0, le=1, description="AC adapter efficiency at this load")
    active_memory_util: float = Field(0.5, ge=0, le=1, description=(
        "DRAM-busy share assumed for a mode's typical inference power (the fleet simulation's power_w)"))

    def dynamic(self, frac: float) -> float:
        """Dynamic power at ``frac`` of the top clock relative to the top clock's (CV^2 f)."""
        v = self.voltage_floor + (1 - self.voltage_floor) * frac
        return frac * v * v


class EnergyModel(StrictModel):
    """What ``twin.energy`` needs to count an inference's energy from its events: the process the
    logic is built in (Horowitz's 45 nm per-operation energies scale to it), DRAM energy per byte,
    and the power of one measured run that fixes how much on-chip energy a MAC really costs here
    (a GPU spends far more on instruction issue and register files per MAC than the arithmetic;
    an FPGA's dataflow less). Without a measured run the SKU's power model stands in."""

    process_nm: PositiveFloat
    core_v: PositiveFloat = Field(description="logic supply voltage at the top clock")
    dram_pj_per_byte: PositiveFloat = Field(160.0, description=(
        "DRAM access energy; 160: Horowitz (ISSCC 2014), 640 pJ per 32 bits"))
    reference_w: PositiveFloat | None = Field(None, description=(
        "measured module power of the reference run (reference_model in the usual mode); "
        "None: the SKU's power model"))
    reference_model: str = "resnet50"
    reference_framework: str | None = Field(None, description="framework of the reference run; None: the first")
    reference_precision: str | None = Field(None, description="its precision; None: the framework's first")
    source: str = ""


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
    precisions: list[str] = Field([], description="framework/precision pairs the rows ran")
    power_rows: int = Field(0, description="rows with a measured power the power model was fitted to")
    warnings: list[str] = Field([], description="what the fit could not do: physical bounds reached, terms not separated")

    def unseen(self, sku_name: str, mode: str, framework: str, precision: str | None = None) -> list[str]:
        """Warnings for a prediction in a mode, framework or precision no row of the fit ran in:
        its parameters there are the base SKU's, which no measurement informed. Clocks given
        explicitly are the user's, so only the framework and precision are checked for them."""
        if not self.modes:
            return []
        out = []
        if mode not in self.modes and not mode.startswith(CLOCKS_MODE):
            out.append(f"{sku_name} was calibrated on rows in mode(s) {', '.join(self.modes)}; {mode} had none, so "
                       f"its clocks are the base SKU's, not fitted (time rows in {mode} and calibrate again)")
        if framework not in self.frameworks:
            out.append(f"{sku_name} was calibrated on {', '.join(self.frameworks)} rows; {framework} had none, so its "
                       f"overheads and efficiencies are the base SKU's, not fitted")
        elif precision and self.precisions and f"{framework}/{precision}" not in self.precisions:
            out.append(f"{sku_name} was calibrated on {', '.join(self.precisions)} rows; {framework}/{precision} had "
                       f"none, so its efficiency is the base SKU's, not fitted")
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
    element_bytes: Literal[1, 2, 4] = Field(2, description=(
        "bytes per tensor element in a framework without precisions listed (fp16: 2)"))
    bandwidth_gbs: PositiveFloat = Field(description="DRAM bandwidth at the top memory clock (GB/s)")
    memory_efficiency: float = Field(gt=0, le=1)
    power_modes: dict[str, PowerMode]
    thermal: Thermal
    contention: Contention
    frameworks: dict[str, FrameworkProfile]
    battery: BatteryPack | None = None
    power: PowerModel | None = Field(None, description="module power from utilisation and clocks; None: the modes' figures")
    energy: EnergyModel | None = Field(None, description="event-based energy per inference (twin.energy); None: not modelled")
    default_mode: str | None = Field(None, description=(
        "the mode a measurement or prediction that names none ran in (how the published benchmarks ran the "
        "board); None: the top mode"))
    sources: dict[str, str] = {}
    calibration: CalibrationRecord | None = None

    @model_validator(mode="after")
    def _non_empty(self):
        if not self.power_modes:
            raise ValueError("power_modes must list at least one mode")
        if not self.frameworks:
            raise ValueError("frameworks must list at least one framework")
        if self.default_mode is not None and self.default_mode not in self.power_modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not one of power_modes ({', '.join(self.power_modes)})")
        if self.power is None:
            bare = [n for n, m in self.power_modes.items() if m.power_w is None or m.idle_w is None]
            if bare:
                raise ValueError(f"power_modes.{bare[0]}: power_w and idle_w are needed when the SKU has no power model")
        return self

    @property
    def mode_names(self) -> list[str]:
        return list(self.power_modes)

    @property
    def board_modes(self) -> list[str]:
        """The board's own modes, without clocks a measurement or prediction added."""
        return [n for n, m in self.power_modes.items() if not m.custom]

    @property
    def top_mode(self) -> str:
        """The fastest board mode: most compute, then fastest CPU (ties keep file order). Peaks and
        bandwidth are at its clocks."""
        return max(self.board_modes, key=lambda m: (
            self.power_modes[m].compute_mhz * self.power_modes[m].compute_units,
            self.power_modes[m].cpu_mhz * self.power_modes[m].cpu_cores))

    @property
    def lowest_mode(self) -> str:
        return min(self.board_modes, key=lambda m: self.mode_power_w(m)[1])

    @property
    def usual_mode(self) -> str:
        """The mode meant when none is named."""
        return self.default_mode or self.top_mode

    def precision_of(self, framework: str, precision: str | None = None) -> tuple[str, PrecisionSpec, float]:
        """(name, spec, element bytes) of ``precision`` in ``framework`` (None: its default); an
        InputError lists what the framework runs and why the board cannot run the rest."""
        prof = self.frameworks[framework]
        table = prof.precisions or {_NAME[self.element_bytes]: PrecisionSpec()}
        name = precision or next(iter(table))
        if name not in table:
            why = f" ({prof.unsupported[name]})" if name in prof.unsupported else ""
            raise InputError(f"precision {name!r} is not available for {framework} on {self.name}{why}; "
                             f"allowed: {', '.join(table)}")
        return name, table[name], _BYTES[name]

    def runs_as(self, framework: str, precision: str) -> str:
        """The precision ``framework`` runs a layer of ``precision`` in: its own where the framework
        has kernels for it, else the narrowest one it has that is at least as wide (a GPU without
        4-bit kernels runs 4-bit weights as int8: no faster, only smaller on disk)."""
        prof = self.frameworks[framework]
        table = prof.precisions or {_NAME[self.element_bytes]: PrecisionSpec()}
        if precision in table:
            return precision
        wider = [p for p in table if _BYTES[p] >= _BYTES[precision]]
        if not wider:
            raise InputError(f"{framework} on {self.name} runs nothing as wide as {precision}; it runs {', '.join(table)}")
        return min(wider, key=lambda p: _BYTES[p])

    def with_sparse_kernels(self, framework: str, efficiency: dict[str, float]) -> "SKU":
        """This SKU with ``framework``'s sparse kernels replaced (a compiler's block-sparse kernels,
        for instance): ``efficiency`` per structure, the share of pruned MACs they skip."""
        prof = self.frameworks[framework].model_copy(update={"sparse_efficiency": dict(efficiency)})
        prof = FrameworkProfile.model_validate(prof.model_dump())
        return self.model_copy(update={"frameworks": {**self.frameworks, framework: prof}})

    def mode_power_w(self, mode: str) -> tuple[float, float]:
        """(idle, typical inference) module power of a mode: as the file gives them, else from
        the power model with the GPU fully busy and memory ``active_memory_util`` busy."""
        m = self.power_modes[mode]
        if m.power_w is not None and m.idle_w is not None:
            return m.idle_w, m.power_w
        p = self.power
        return p.static_w, self.module_power_w(mode, gpu_util=1.0, memory_util=p.active_memory_util)

    def module_power_w(self, mode: str, gpu_util: float, memory_util: float) -> float:
        """Module power in ``mode`` with the GPU and DRAM busy those shares of the time and one
        CPU core running the framework's thread (needs the power model)."""
        p, m = self.power, self.power_modes[mode]
        top = {k: max(getattr(self.power_modes[b], k) for b in self.board_modes)
               for k in ("compute_mhz", "memory_mhz", "cpu_mhz", "compute_units")}
        units = m.compute_units / top["compute_units"]
        return (p.static_w + p.gpu_w * p.dynamic(m.compute_mhz / top["compute_mhz"]) * units * min(gpu_util, 1.0)
                + p.memory_w * p.dynamic(m.memory_mhz / top["memory_mhz"]) * min(memory_util, 1.0)
                + p.cpu_core_w * p.dynamic(m.cpu_mhz / top["cpu_mhz"]))

    def wall_power_w(self, module_w: float) -> float:
        """Whole-system power at the socket for a module drawing ``module_w``."""
        return (module_w + self.power.carrier_w) / self.power.supply_efficiency


_NAME = {4: "fp32", 2: "fp16", 1: "int8"}  # a SKU's element_bytes as a precision


def parse_clocks(text: str, where: str = "clocks") -> dict[str, float]:
    """``gpu_mhz=X,emc_mhz=Y,cpu_mhz=Z,cpu_cores=N`` (``,`` or ``;`` between; any subset) as a dict."""
    out = {}
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in CLOCK_KEYS:
            raise InputError(f"{where}: unknown clock {key!r}; allowed: {', '.join(CLOCK_KEYS)} (e.g. gpu_mhz=803.25)")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not (number > 0 and number < 1e5) or (key == "cpu_cores" and number != int(number)):
            raise InputError(f"{where}: {key} must be a positive {'integer' if key == 'cpu_cores' else 'number (MHz)'}, "
                             f"got {value.strip()!r}")
        out[key] = int(number) if key == "cpu_cores" else number
    if not out:
        raise InputError(f"{where}: give at least one of {', '.join(CLOCK_KEYS)}")
    return out


def with_clocks(sku: SKU, clocks: dict[str, float], base_mode: str | None = None) -> tuple[SKU, str]:
    """``sku`` with a mode at these clocks (the rest as ``base_mode``, default the usual mode) and
    its name. Clocks above the board's top mode are refused: peaks are defined there."""
    base = sku.power_modes[base_mode or sku.usual_mode]
    fields = {CLOCK_KEYS[k]: v for k, v in clocks.items()}
    for key, value in clocks.items():
        limit = max(getattr(sku.power_modes[m], CLOCK_KEYS[key]) for m in sku.board_modes)
        if value > limit * 1.0001:
            raise InputError(f"clocks: {key}={value:g} is above {sku.name}'s highest ({limit:g}); "
                             f"allowed: up to {limit:g}")
    name = CLOCKS_MODE + ",".join(f"{k}={v:g}" for k, v in clocks.items())
    mode = base.model_copy(update={**fields, "custom": True, "nvpmodel_id": None,
                                   "power_w": None if sku.power else base.power_w,
                                   "idle_w": None if sku.power else base.idle_w})
    return sku.model_copy(update={"power_modes": {**sku.power_modes, name: mode}}), name


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
