"""Scenario files: one YAML describes a fleet, how it ages and what it runs.

The schema is a tree of typed models with documented defaults; every heterogeneity source has its
own section (``manufacturing``, ``battery``, ``drift``, ``environment``). Anything malformed is
one InputError naming the file, the key path and what is allowed.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    field_validator,
)

from testbed.errors import InputError
from testbed.schema import MAX_COUNT, StrictModel, read_yaml_model
from testbed.streams import Streams
from twin.battery import BatteryAging
from twin.config_drift import ConfigurationDrift
from twin.engines import Engines, EngineVariation
from twin.environment import Environment
from twin.manufacturing import ManufacturingVariance
from twin.measurement import MeasurementNoise
from twin.sku import SKU, list_skus, load_sku
from zoo import Workload, resolve_workload

MAX_DAYS = 3653  # ten years of service: every memory and time figure of a run grows with the day count

__all__ = ["Scenario", "FleetSpec", "TimeSpec", "DeploymentSpec", "load_scenario", "as_scenario"]


class FleetSpec(StrictModel):
    sku: str = Field(description="catalogue name (twin skus) or path to a SKU YAML file")
    devices: int = Field(gt=0, le=MAX_COUNT, description="1e6 accepted, as on the command line")
    framework: str = "pytorch"
    precision: str | None = Field(None, description="the framework's precision, e.g. fp16 or int8 (default: its first)")
    battery: bool = Field(False, description="devices run on the SKU's battery pack")
    sparse_kernels: dict[Literal["unstructured", "block", "2:4"], float] = Field({}, description=(
        "the deployed kernels' share of pruned MACs skipped per sparsity structure (a compiler's block-sparse "
        "kernels, say), replacing the SKU framework's own sparse_efficiency table; empty: the SKU's"))


    @field_validator("devices", mode="before")
    @classmethod
    def _count(cls, v):
        """YAML reads 1e6 as a string (YAML 1.1 floats need a dot): take it, and 1.0e6, as the count."""
        if isinstance(v, str) and "e" in v.lower():
            try:
                v = float(v)
            except ValueError:
                return v
        return int(v) if isinstance(v, float) and v.is_integer() else v


class TimeSpec(StrictModel):
    start: date
    days: int = Field(gt=0, le=MAX_DAYS, description="simulated days (at most ten years: a device generation's "
                      "service life)")
    deployment_day: NonNegativeInt = Field(0, description="day the pruned network is chosen and shipped")


class DeploymentSpec(StrictModel):
    workload: str = Field("resnet18", description="zoo model name, workload CSV/parquet, or pruned-model .json")
    input_size: PositiveInt | None = Field(None, description=(
        "N x N inputs for a zoo model or pruned spec (default: the model's own; multiples of 32 for YOLO)"))
    inferences_per_day: PositiveFloat = Field(100_000, description="mean per device (~1.2 per second)")
    usage_sigma: float = Field(0.3, ge=0, description="lognormal spread of inference volume per device")
    engines: EngineVariation = Field(default_factory=EngineVariation, description=(
        "engine builds differ in the kernel each layer shape gets (twin.engines)"))


class Scenario(StrictModel):
    name: str
    description: str = ""
    seed: int = 0
    fleet: FleetSpec
    time: TimeSpec
    deployment: DeploymentSpec = DeploymentSpec()
    manufacturing: ManufacturingVariance = ManufacturingVariance()
    battery: BatteryAging = BatteryAging()
    drift: ConfigurationDrift = ConfigurationDrift()
    environment: Environment = Environment()
    measurement: MeasurementNoise = MeasurementNoise()
    pruning: dict[str, Any] = Field(default_factory=dict, description=(
        "read by HDAP (hdap.config.PruningSpec), not by the twin"))
    _path: Path | None = PrivateAttr(default=None)    # the file it was read from
    _base_dir: Path = PrivateAttr(default=Path("."))  # the scenario file's folder: relative paths resolve here

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @property
    def source(self) -> str:
        """What error messages name: the scenario's file, or its name when built in code."""
        return str(self._path) if self._path is not None else f"scenario {self.name!r}"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ "):
            raise ValueError("name must be non-empty without spaces or slashes (it names output folders)")
        return v

    def sku_model(self) -> SKU:
        ref = self.fleet.sku
        ref = str(self.base_dir / ref) if ref.endswith((".yaml", ".yml")) else ref
        return _sku(ref, self.fleet.framework, tuple(sorted(self.fleet.sparse_kernels.items())))

    def engines(self) -> Engines | None:
        """The fleet's engine variation for the latency model (None when off)."""
        e = self.deployment.engines
        if e.kernel_sd == 0:
            return None
        return Engines(e.kernel_sd, e.builds, Streams(self.seed).int_seed("engines"))

    def workload_table(self) -> Workload:
        d = self.deployment
        return resolve_workload(d.workload, self.base_dir, input_size=d.input_size)

    def with_overrides(self, *, devices: int | None = None, days: int | None = None,
                       seed: int | None = None) -> "Scenario":
        """A copy with the CLI's overrides applied (each must be valid on its own)."""
        if days is not None and not 0 < days <= MAX_DAYS:
            raise InputError(f"--days: at most {MAX_DAYS} (ten years), got {days}")
        fleet = self.fleet.model_copy(update={"devices": devices}) if devices is not None else self.fleet
        time = self.time.model_copy(update={"days": days}) if days is not None else self.time
        copy = self.model_copy(update={"fleet": fleet, "time": time, "seed": self.seed if seed is None else seed})
        copy._base_dir, copy._path = self._base_dir, self._path
        return copy


BUNDLED = Path(__file__).resolve().parent.parent / "scenarios"  # the repository's, beside the packages


def bundled_scenarios() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.yaml"))


def locate_scenario(path: str | Path) -> Path:
    """``path`` where it is a file; else the bundled scenario it names (``quickstart``,
    ``quickstart.yaml`` or ``scenarios/quickstart.yaml``), so they run from any directory."""
    path = Path(path)
    if path.is_file() or path.suffix not in ("", ".yaml", ".yml") or len(path.parts) > 2 or \
            (len(path.parts) == 2 and path.parts[0] != "scenarios"):
        return path
    bundled = BUNDLED / f"{path.stem}.yaml"
    return bundled if bundled.is_file() else path


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario, including what depends on its SKU (modes, framework, workload);
    a bundled one also by name (``locate_scenario``). Its ``pruning`` section is HDAP's to read
    (``hdap.config``)."""
    path = locate_scenario(path)
    if not path.is_file():
        raise InputError(f"{path}: scenario file not found; bundled scenarios (by name, from any directory): "
                         f"{', '.join(bundled_scenarios())}")
    scenario = read_yaml_model(path, Scenario, "scenario")
    scenario._base_dir, scenario._path = path.resolve().parent, path
    problems = _check_against_sku(scenario)
    if problems:
        raise InputError("\n".join(f"{path}: {field}: {msg}" for field, msg in problems))
    return scenario


def as_scenario(scenario: "Scenario | str | Path") -> Scenario:
    """A loaded scenario, or the one read from a path."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def _check_against_sku(s: Scenario) -> list[tuple[str, str]]:
    try:
        sku = s.sku_model()
    except InputError as exc:
        return [("fleet.sku", f"{exc}; catalogue: {', '.join(list_skus())}" if "catalogue" not in str(exc) else str(exc))]
    problems = []
    if s.fleet.framework not in sku.frameworks:
        problems.append(("fleet.framework", f"{s.fleet.framework!r} is not available on {sku.name}; "
                                            f"allowed: {', '.join(sku.frameworks)}"))
    elif s.fleet.precision is not None:
        try:
            sku.precision_of(s.fleet.framework, s.fleet.precision)
        except InputError as exc:
            problems.append(("fleet.precision", str(exc)))
    if s.fleet.battery and sku.battery is None:
        problems.append(("fleet.battery", f"{sku.name} has no battery pack in its SKU file"))
    for key in ("initial", "preferences"):
        for mode in getattr(s.drift.power_modes, key):
            if mode not in sku.power_modes:
                problems.append((f"drift.power_modes.{key}.{mode}", f"unknown power mode of {sku.name}; "
                                 f"allowed: {', '.join(sku.mode_names)}"))
    if s.time.deployment_day >= s.time.days:
        problems.append(("time.deployment_day", f"must be < time.days ({s.time.days}), got {s.time.deployment_day}"))
    try:
        resolve_workload(s.deployment.workload, s.base_dir)
    except InputError as exc:
        return problems + [("deployment.workload", str(exc))]
    try:
        s.workload_table()  # the same network at deployment.input_size
    except InputError as exc:
        problems.append(("deployment.input_size", str(exc)))
    return problems


@lru_cache(maxsize=32)
def _sku(ref: str, framework: str, kernels: tuple[tuple[str, float], ...]) -> SKU:
    """The fleet's SKU with the scenario's sparse kernels, one object per setting (the twin memoises
    per SKU object)."""
    sku = load_sku(ref)
    return sku if not kernels or framework not in sku.frameworks else sku.with_sparse_kernels(framework, dict(kernels))
