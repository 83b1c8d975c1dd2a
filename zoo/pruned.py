"""The pruned model's spec: which zoo network, the channels kept in each prunable unit, and the
units it runs in int8 (a mixed-precision engine; none: the deployment's precision throughout).

``hdap prune``, ``hdap train`` and ``hdap run`` write it as ``FILE.json`` beside the module's
``FILE.pt``; the twin prices it, the board harness times it, measurement files refer to it. It is
read and written here only, and validated on reading: the model must be in the zoo and the widths
must fit it. Other keys (accuracy, data, seed, ...) are kept as they were written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from testbed.errors import InputError
from testbed.io import atomic_write_text
from testbed.schema import validate_mapping
from zoo.registry import ZooModel, get_model
from zoo.workload import Workload

__all__ = ["PrunedSpec", "load_weights", "PICKLE_RISK"]

PICKLE_RISK = ("unpickling a whole saved module runs code stored in the file; pass --trust-pickle only for a "
               "file you made or trust")


class PrunedSpec(BaseModel):
    """A zoo network pruned to ``widths`` for ``input_shape``; ``flops`` (MACs) and ``params`` as the
    zoo counts them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str
    widths: tuple[int, ...]
    int8_units: tuple[int, ...] = ()
    granularity: Literal["channel", "block"] = "channel"   # block: widths are kept block columns, masks in place
    input_shape: tuple[int, int, int] | None = None
    flops: float | None = None
    params: int | None = None

    @field_validator("model")
    @classmethod
    def _in_the_zoo(cls, name: str) -> str:
        get_model(name)  # an InputError (a ValueError) names the zoo's models
        return name

    @field_validator("widths")
    @classmethod
    def _fit_the_model(cls, widths, info: ValidationInfo):
        if "model" in info.data:
            get_model(info.data["model"]).check_widths(widths)
        return widths

    @field_validator("int8_units")
    @classmethod
    def _are_units(cls, units, info: ValidationInfo):
        if "model" in info.data:
            n = get_model(info.data["model"]).n_units
            if any(not 0 <= u < n for u in units) or len(set(units)) != len(units):
                raise ValueError(f"must be distinct unit indices from 0 to {n - 1}")
        return tuple(sorted(units))

    @field_validator("input_shape")
    @classmethod
    def _is_one_the_model_takes(cls, shape, info: ValidationInfo):
        if shape is not None and "model" in info.data:
            model = get_model(info.data["model"])
            if shape[0] != model.input_shape[0] or shape[1] != shape[2]:
                raise ValueError(f"{list(shape)} is not a shape {info.data['model']} takes (3, N, N)")
            model.at_size(shape[-1])  # an InputError names the sizes it takes
        return shape

    @classmethod
    def of(cls, zoo: ZooModel, widths, int8=None, **extra) -> "PrunedSpec":
        widths = tuple(int(w) for w in zoo.check_widths(widths))
        units = () if int8 is None else tuple(int(u) for u in np.flatnonzero(int8))
        return cls(model=zoo.name, widths=widths, int8_units=units, input_shape=zoo.input_shape,
                   granularity="block" if zoo.block else "channel",
                   flops=zoo.flops(widths), params=zoo.params(widths), **extra)

    @property
    def int8(self) -> np.ndarray | None:
        """Per unit, whether it runs in int8 (None: no unit does)."""
        if not self.int8_units:
            return None
        flags = np.zeros(len(self.widths), bool)
        flags[list(self.int8_units)] = True
        return flags

    @property
    def zoo(self) -> ZooModel:
        """The zoo model at the input size the spec was saved with (its default when none)."""
        zoo = get_model(self.model, None if self.input_shape is None else self.input_shape[-1])
        return zoo.in_space(False, False, self.granularity == "block")

    def workload(self, input_size: int | None = None) -> Workload:
        """The architecture's table, at its own input size or at ``input_size``."""
        return self.zoo.at_size(input_size).workload(self.widths, self.int8)

    @staticmethod
    def beside(module_path: str | Path) -> Path:
        """Where the spec of a saved module lives: ``FILE.json`` beside ``FILE.pt``."""
        return Path(module_path).with_suffix(".json")

    @classmethod
    def read(cls, path: str | Path) -> "PrunedSpec":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: pruned-model spec not found")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not a pruned-model spec (not JSON: {exc})") from None
        return validate_mapping(data, cls, path, "pruned-model spec", "JSON")

    def write(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_json())

    def to_json(self) -> str:
        body = self.model_dump(mode="json")
        body = {**body, "widths": list(self.widths), "int8_units": list(self.int8_units)}
        if not self.int8_units:
            del body["int8_units"]
        if self.granularity == "channel":  # as files written before block pruning existed
            del body["granularity"]
        return json.dumps(body, indent=2)


def load_weights(path: str | Path, zoo: ZooModel, widths=None, trust_pickle: bool = False):
    """A ``zoo`` module of ``widths`` (default full) holding the weights saved at ``path``: a state
    dict, read with ``weights_only=True`` so no code in the file runs. A whole pickled module (what
    hdap wrote before 2026-12-01) is refused unless ``trust_pickle``."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not trust_pickle:
            raise InputError(f"{path}: holds a whole pickled module, not weights; {PICKLE_RISK}") from None
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for files it cannot read
        raise InputError(f"{path}: not a torch weights file ({exc.__class__.__name__})") from None
    if isinstance(loaded, torch.nn.Module):
        loaded = loaded.state_dict()
    module = zoo.module(widths)
    try:
        module.load_state_dict(loaded)
    except (RuntimeError, TypeError, AttributeError) as exc:
        what = "a full" if widths is None else "this pruned"
        raise InputError(f"{path}: not weights of {what} {zoo.name}: {str(exc).splitlines()[0]}") from None
    return module
