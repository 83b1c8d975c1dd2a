"""HDAP's configuration: a scenario's ``pruning`` section, typed, and what a run derives from it.

The twin reads a scenario's fleet and leaves its ``pruning`` section alone; HDAP validates it
here (``PruningSpec``), against the scenario it sits in (the network must be in the zoo, the
budget below its FLOPs, data and weights must exist). Every problem is one line naming the file
and the key path (``scenario.yaml: pruning.flops_g: ...``). ``RunConfig`` is what ``hdap run``
and the studies take: the scenario, its pruning section, the network and the FLOPs budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat, PositiveInt, ValidationError, field_validator

from hdap.data import DataRef
from hdap.features import FeatureKind
from hdap.objective import Objective
from hdap.surrogate import SurrogateChoice
from testbed.errors import InputError
from testbed.schema import StrictModel, describe_validation_error
from testbed.streams import Streams
from twin.scenario import Scenario, as_scenario
from zoo import ZooModel, get_model

__all__ = ["PruningSpec", "RunConfig", "SearchSpace", "SEARCH_SPACES"]

SearchSpace = Literal["width", "width+depth", "width+precision", "width+depth+precision"]
SEARCH_SPACES: tuple[str, ...] = SearchSpace.__args__


class PruningSpec(StrictModel):
    """A scenario's ``pruning`` section: what ``hdap run`` and the studies do with the fleet. Defaults follow
    the HDAP paper (DESIGN.md section 4) except the objective: the fleet-weighted mean, with the
    paper's unweighted mean as ``mean``."""

    model: str | None = Field(None, description="zoo name to prune (default: deployment.workload)")
    flops_g: PositiveFloat | None = Field(None, description="FLOPs budget in G multiply-accumulates (default: half)")
    input_size: PositiveInt | None = Field(None, description=(
        "N x N inputs of the network to prune (default: deployment.input_size when it prunes the deployed "
        "network, else the model's own)"))
    # clustering
    clusters: PositiveInt | Literal["auto"] = Field("auto", description="K, or auto: best silhouette of 2..k_max")
    k_max: int = Field(8, ge=2)
    representatives: PositiveInt = Field(3, description="devices profiled per cluster")
    features: FeatureKind = "probes"
    # surrogates
    surrogate_samples: int = Field(400, ge=20, description="random sub-networks profiled per cluster")
    surrogate: SurrogateChoice = "best"
    # search
    space: SearchSpace = Field("width", description=(
        "width: channels per unit; +depth: also drop residual blocks that have an identity path; +precision: "
        "also run units in int8 on SKUs whose framework runs it (every search and the oracle; uniform and "
        "global-magnitude pruning keep every block and the deployment's precision)"))
    granularity: Literal["channel", "block"] = Field("channel", description=(
        "channel: a unit's rate removes output channels (Torch-Pruning); block: it prunes that share of the "
        "block columns (8 filters x 4 channels) of the unit's layers in place, which pays only where the fleet's "
        "kernels skip pruned blocks (fleet.sparse_kernels; needs space: width)"))
    int8_share: float = Field(0.5, ge=0, le=1, description=(
        "+precision spaces: at most this share of the network's dense MACs in int8; it stands in for int8's "
        "accuracy cost in the search as the FLOPs budget does for pruning's (assumed default; with data, "
        "accuracy is measured after quantization-aware fine-tuning)"))
    objective: Objective = "weighted_mean"
    slo_ms: PositiveFloat | None = Field(None, description=(
        "latency SLO; default 1.25 x uniform pruning's latency on a nominal factory-fresh device"))
    population: PositiveInt = 10
    generations: PositiveInt = 100
    mutation_sd: PositiveFloat = Field(0.1, description=(
        "NCS's initial mutation sd per gene (rates lie in [0, 0.95]); adapted by the 1/5 success rule"))
    restarts: PositiveInt = Field(1, description=(
        "independent NCS runs per search, the best kept (every search: HDAP's, the baselines', the oracle's)"))
    polish: int = Field(0, ge=0, description=(
        "rounds of coordinate pattern search from NCS's best, each trying every gene once (0: off; every search)"))
    rounds: PositiveInt = Field(1, description="search-prune-fine-tune rounds to reach the budget")
    accuracy_floor: float = Field(0.9, gt=0, le=1, description=(
        "pruned accuracy / unpruned accuracy must stay above this (measured with data, else the "
        "importance-retention proxy relative to uniform pruning's)"))
    oracle_devices: PositiveInt | None = Field(None, description="devices the oracle's exact objective uses (default all)")
    # data: accuracy and fine-tuning
    data: str | None = Field(None, description="digits, cifar10:PATH or an image-folder path; none (or null): latency only")
    weights: str | None = Field(None, description="trained full model (.pt); default: trained here on the data")
    train_epochs: PositiveInt = 20
    finetune_epochs: PositiveInt = Field(2, description="per round")
    lr: PositiveFloat = 0.1
    finetune_lr: PositiveFloat = 0.02
    batch_size: PositiveInt = 64

    @field_validator("data")
    @classmethod
    def _none_is_latency_only(cls, v: str | None) -> str | None:
        return None if v is not None and v.strip().lower() == "none" else v


@dataclass(frozen=True, eq=False)
class RunConfig:
    """A scenario with its validated pruning section: everything ``hdap run`` and a study need."""

    scenario: Scenario
    pruning: PruningSpec

    @classmethod
    def of(cls, scenario: "Scenario | str | Path | RunConfig") -> "RunConfig":
        """Validate ``scenario``'s pruning section (a path is read first); InputError on any problem."""
        if isinstance(scenario, RunConfig):
            return scenario
        scenario = as_scenario(scenario)
        try:
            pruning = PruningSpec.model_validate(scenario.pruning)
        except ValidationError as exc:
            raise InputError(describe_validation_error(exc, PruningSpec, scenario.source, prefix="pruning")) from None
        config = cls(scenario, pruning)
        problems = config._problems()
        if problems:
            raise InputError("\n".join(f"{scenario.source}: {key}: {msg}" for key, msg in problems))
        return config

    def with_scenario(self, scenario: Scenario) -> "RunConfig":
        """The same pruning section on another version of the scenario (devices, seed, days)."""
        return RunConfig(scenario, self.pruning)

    @property
    def model_name(self) -> str:
        return self.pruning.model or self.scenario.deployment.workload

    @property
    def input_size(self) -> int | None:
        p, d = self.pruning, self.scenario.deployment
        if p.input_size is not None:
            return p.input_size
        return d.input_size if p.model in (None, d.workload) else None

    @cached_property
    def zoo(self) -> ZooModel:
        """The network to prune, its rate vectors in the search space (drop genes with depth, int8
        genes with precision)."""
        space = self.pruning.space
        return get_model(self.model_name, self.input_size).in_space("depth" in space, "precision" in space,
                                                                   self.pruning.granularity == "block")

    @property
    def target_flops(self) -> float:
        """The FLOPs budget: ``pruning.flops_g``, or half the unpruned network's."""
        return self.pruning.flops_g * 1e9 if self.pruning.flops_g else self.zoo.flops() / 2

    @property
    def streams(self) -> Streams:
        """The run's random streams, spawned from the scenario's seed."""
        return Streams(self.scenario.seed)

    @cached_property
    def data(self) -> DataRef | None:
        return None if self.pruning.data is None else DataRef.parse(self.pruning.data, self.scenario.base_dir)

    @property
    def weights(self) -> Path | None:
        return None if self.pruning.weights is None else self.scenario.base_dir / self.pruning.weights

    def record(self) -> dict:
        """The scenario as resolved, its pruning section with every default filled in."""
        return {**self.scenario.model_dump(mode="json"), "pruning": self.pruning.model_dump(mode="json")}

    def _problems(self) -> list[tuple[str, str]]:
        p = self.pruning
        try:
            get_model(self.model_name)
        except InputError as exc:
            return [("pruning.model" if p.model else "deployment.workload", f"hdap prunes a zoo model: {exc}")]
        try:
            zoo = self.zoo
        except InputError as exc:
            return [("pruning.input_size" if p.input_size else "deployment.input_size", str(exc))]
        problems = []
        devices, k = self.scenario.fleet.devices, p.k_max if p.clusters == "auto" else p.clusters
        if k * p.representatives > devices:
            key = "pruning.representatives" if p.representatives > devices // 2 else \
                "pruning.k_max" if p.clusters == "auto" else "pruning.clusters"
            problems.append((key, f"{k} clusters x {p.representatives} representatives need more devices than the "
                             f"fleet's {devices:,}; allowed: clusters x representatives <= fleet.devices"))
        if zoo.block and p.space != "width":
            problems.append(("pruning.granularity", "block pruning keeps every block and the deployment's precision; "
                             f"it needs pruning.space: width, got {p.space}"))
        if zoo.block and not self.scenario.sku_model().frameworks[self.scenario.fleet.framework].sparse_efficiency.get("block"):
            problems.append(("pruning.granularity", f"{self.scenario.fleet.framework} on {self.scenario.fleet.sku} "
                             "computes pruned blocks as zeros, so block pruning cannot make it faster; name the "
                             "kernels that skip them in fleet.sparse_kernels (e.g. {block: 0.9})"))
        if zoo.depth and not zoo.droppable:
            problems.append(("pruning.space", f"{zoo.name} has no residual block with an identity path to drop; "
                             "allowed: width, width+precision"))
        if zoo.precision:
            fleet, sku = self.scenario.fleet, self.scenario.sku_model()
            try:
                sku.precision_of(fleet.framework, "int8")
                if sku.precision_of(fleet.framework, fleet.precision)[0] == "int8":
                    problems.append(("pruning.space", "the fleet already runs every layer in int8 (fleet.precision); "
                                     "the +precision spaces choose int8 units of a higher-precision engine"))
            except InputError as exc:
                problems.append(("pruning.space", f"{exc}; the +precision spaces need int8"))
        floor = zoo.flops(zoo.in_space(False).widths_from_rates(np.full(zoo.n_units, 0.999)))  # one channel per unit
        if p.flops_g is not None and p.flops_g * 1e9 >= zoo.flops():
            problems.append(("pruning.flops_g", f"{zoo.name} has {zoo.flops() / 1e9:.4g} GFLOPs; the budget must be below it"))
        elif p.flops_g is not None and p.flops_g * 1e9 < floor:
            problems.append(("pruning.flops_g", f"{zoo.name} keeps {floor / 1e9:.4g} GFLOPs with one channel per unit; "
                             f"allowed: {floor / 1e9:.4g} to {zoo.flops() / 1e9:.4g}, got {p.flops_g:g}"))
        if p.data is not None and zoo.family == "yolo":
            problems.append(("pruning.data", f"{zoo.name} is a detector; accuracy and fine-tuning need a classifier"))
        elif p.data is not None:
            try:
                self.data
            except InputError as exc:
                problems.append(("pruning.data", str(exc)))
        if p.weights is not None and not self.weights.is_file():
            problems.append(("pruning.weights", f"{self.weights}: not found"))
        if p.weights is not None and p.data is None:
            problems.append(("pruning.weights", "trained weights need pruning.data to fine-tune and measure accuracy on"))
        return problems
