"""Scenario files: one YAML describes a fleet, how it ages and what it runs.

The schema is a tree of typed models with documented defaults; every heterogeneity source has its
own section (``manufacturing``, ``battery``, ``drift``, ``environment``). Anything malformed is
one InputError naming the file, the key path and what is allowed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    field_validator,
)

from twin._yaml import StrictModel, read_yaml_model
from twin.battery import BatteryAging
from twin.config_drift import ConfigurationDrift
from twin.environment import Environment
from twin.errors import InputError
from twin.manufacturing import ManufacturingVariance
from twin.measurement import MeasurementNoise
from twin.sku import SKU, list_skus, load_sku
from twin.workload import Workload, resolve_workload

__all__ = ["Scenario", "FleetSpec", "TimeSpec", "DeploymentSpec", "PruningSpec", "load_scenario"]


class FleetSpec(StrictModel):
    sku: str = Field(description="catalogue name (twin skus) or path to a SKU YAML file")
    devices: PositiveInt
    framework: str = "pytorch"
    battery: bool = Field(False, description="devices run on the SKU's battery pack")


class TimeSpec(StrictModel):
    start: date
    days: PositiveInt = Field(description="simulated days")
    deployment_day: NonNegativeInt = Field(0, description="day the pruned network is chosen and shipped")


class DeploymentSpec(StrictModel):
    workload: str = Field("resnet18", description="zoo model name, workload CSV/parquet, or pruned-model .json")
    inferences_per_day: PositiveFloat = Field(100_000, description="mean per device (~1.2 per second)")
    usage_sigma: float = Field(0.3, ge=0, description="lognormal spread of inference volume per device")


class PruningSpec(StrictModel):
    """What ``hdap run`` does with the fleet (the twin itself ignores this section). Defaults follow
    the HDAP paper (DESIGN.md section 4) except the objective: the fleet-weighted mean, with the
    paper's unweighted mean as ``mean``."""

    model: str | None = Field(None, description="zoo name to prune (default: deployment.workload)")
    flops_g: PositiveFloat | None = Field(None, description="FLOPs budget in G multiply-accumulates (default: half)")
    # clustering
    clusters: PositiveInt | Literal["auto"] = Field("auto", description="K, or auto: best silhouette of 2..k_max")
    k_max: int = Field(8, ge=2)
    representatives: PositiveInt = Field(3, description="devices profiled per cluster")
    features: Literal["probes", "paper"] = "probes"
    # surrogates
    surrogate_samples: int = Field(400, ge=20, description="random sub-networks profiled per cluster")
    surrogate: Literal["best", "tree", "layer"] = "best"
    # search
    objective: Literal["weighted_mean", "mean", "p95", "slo"] = "weighted_mean"
    slo_ms: PositiveFloat | None = Field(None, description=(
        "latency SLO; default 1.25 x uniform pruning's latency on a nominal factory-fresh device"))
    population: PositiveInt = 10
    generations: PositiveInt = 100
    rounds: PositiveInt = Field(1, description="search-prune-fine-tune rounds to reach the budget")
    accuracy_floor: float = Field(0.9, gt=0, le=1, description=(
        "pruned accuracy / unpruned accuracy must stay above this (measured with data, else the "
        "importance-retention proxy relative to uniform pruning's)"))
    oracle_devices: PositiveInt | None = Field(None, description="devices the oracle's exact objective uses (default all)")
    # data: accuracy and fine-tuning
    data: str | None = Field(None, description="digits, cifar10:PATH or an image-folder path; none: latency only")
    weights: str | None = Field(None, description="trained full model (.pt); default: trained here on the data")
    train_epochs: PositiveInt = 20
    finetune_epochs: PositiveInt = Field(2, description="per round")
    lr: PositiveFloat = 0.1
    finetune_lr: PositiveFloat = 0.02
    batch_size: PositiveInt = 64


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
    pruning: PruningSpec = PruningSpec()
    _base_dir: Path = PrivateAttr(default=Path("."))  # the scenario file's folder: relative paths resolve here

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ "):
            raise ValueError("name must be non-empty without spaces or slashes (it names output folders)")
        return v

    def sku_model(self) -> SKU:
        ref = self.fleet.sku
        return load_sku(self.base_dir / ref if ref.endswith((".yaml", ".yml")) else ref)

    def workload_table(self) -> Workload:
        return resolve_workload(self.deployment.workload, self.base_dir)

    def with_overrides(self, *, devices: int | None = None, days: int | None = None,
                       seed: int | None = None) -> "Scenario":
        """A copy with the CLI's overrides applied (each must be valid on its own)."""
        fleet = self.fleet.model_copy(update={"devices": devices}) if devices is not None else self.fleet
        time = self.time.model_copy(update={"days": days}) if days is not None else self.time
        copy = self.model_copy(update={"fleet": fleet, "time": time, "seed": self.seed if seed is None else seed})
        copy._base_dir = self._base_dir
        return copy


def load_scenario(path: str | Path, for_pruning: bool = False) -> Scenario:
    """Read and validate a scenario, including what depends on its SKU (modes, framework) and,
    ``for_pruning`` (hdap run) or when it names a model to prune, its pruning section."""
    path = Path(path)
    scenario = read_yaml_model(path, Scenario, "scenario")
    scenario._base_dir = path.resolve().parent
    problems = _check_against_sku(scenario)
    if for_pruning or scenario.pruning.model is not None:
        problems += _check_pruning(scenario)
    if problems:
        raise InputError("\n".join(f"{path}: {field}: {msg}" for field, msg in problems))
    return scenario


def _check_against_sku(s: Scenario) -> list[tuple[str, str]]:
    try:
        sku = s.sku_model()
    except InputError as exc:
        return [("fleet.sku", f"{exc}; catalogue: {', '.join(list_skus())}" if "catalogue" not in str(exc) else str(exc))]
    problems = []
    if s.fleet.framework not in sku.frameworks:
        problems.append(("fleet.framework", f"{s.fleet.framework!r} is not available on {sku.name}; "
                                            f"allowed: {', '.join(sku.frameworks)}"))
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
        s.workload_table()
    except InputError as exc:
        problems.append(("deployment.workload", str(exc)))
    return problems


def _check_pruning(s: Scenario) -> list[tuple[str, str]]:
    from hdap.zoo import get_model  # numpy only

    p = s.pruning
    name = p.model or s.deployment.workload
    try:
        zoo = get_model(name)
    except InputError as exc:
        return [("pruning.model" if p.model else "deployment.workload", f"hdap run prunes a zoo model: {exc}")]
    problems = []
    if p.flops_g is not None and p.flops_g * 1e9 >= zoo.flops():
        problems.append(("pruning.flops_g", f"{zoo.name} has {zoo.flops() / 1e9:.4g} GFLOPs; the budget must be below it"))
    if p.data is not None and zoo.family == "yolo":
        problems.append(("pruning.data", f"{zoo.name} is a detector; accuracy and fine-tuning need a classifier"))
    if p.data is not None and p.data != "digits" and not p.data.startswith("cifar10:") \
            and not (s.base_dir / p.data).is_dir():
        problems.append(("pruning.data", f"{s.base_dir / p.data}: not found; allowed: digits, cifar10:PATH or an image folder"))
    if p.weights is not None and not (s.base_dir / p.weights).is_file():
        problems.append(("pruning.weights", f"{s.base_dir / p.weights}: not found"))
    if p.weights is not None and p.data is None:
        problems.append(("pruning.weights", "trained weights need pruning.data to fine-tune and measure accuracy on"))
    return problems
