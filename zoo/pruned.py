"""The pruned model's spec: which zoo network, and the channels kept in each prunable unit.

``hdap prune``, ``hdap train`` and ``hdap run`` write it as ``FILE.json`` beside the module's
``FILE.pt``; the twin prices it, the board harness times it, measurement files refer to it. It is
read and written here only, and validated on reading: the model must be in the zoo and the widths
must fit it. Other keys (accuracy, data, seed, ...) are kept as they were written.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from testbed.errors import InputError
from testbed.io import atomic_write_text
from testbed.schema import describe_validation_error
from zoo.registry import ZooModel, get_model
from zoo.workload import Workload

__all__ = ["PrunedSpec"]


class PrunedSpec(BaseModel):
    """A zoo network pruned to ``widths``; ``flops`` (MACs) and ``params`` as the zoo counts them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str
    widths: tuple[int, ...]
    input_shape: tuple[int, int, int] | None = None
    flops: float | None = None
    params: int | None = None

    @model_validator(mode="after")
    def _fits_the_zoo(self):
        zoo = get_model(self.model)  # an InputError (a ValueError) names the zoo's models
        zoo.check_widths(self.widths)
        if self.input_shape is not None and tuple(self.input_shape) != zoo.input_shape:
            raise ValueError(f"input_shape {list(self.input_shape)} is not {self.model}'s {list(zoo.input_shape)}")
        return self

    @classmethod
    def of(cls, zoo: ZooModel, widths, **extra) -> "PrunedSpec":
        widths = tuple(int(w) for w in zoo.check_widths(widths))
        return cls(model=zoo.name, widths=widths, input_shape=zoo.input_shape, flops=zoo.flops(widths),
                   params=zoo.params(widths), **extra)

    @property
    def zoo(self) -> ZooModel:
        return get_model(self.model)

    def workload(self) -> Workload:
        return self.zoo.workload(self.widths)

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
        if not isinstance(data, dict):
            raise InputError(f"{path}: a pruned-model spec is a JSON object with 'model' and 'widths'")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InputError(describe_validation_error(exc, cls, path)) from None

    def write(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_json())

    def to_json(self) -> str:
        body = self.model_dump(mode="json")
        return json.dumps({**body, "widths": list(self.widths)}, indent=2)
