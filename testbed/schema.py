"""Read a YAML file into a pydantic model, turning every problem into one InputError line.

Errors name the file, the full key path (``fleet.devices``) and what is allowed, in the spirit of
OmegaConf's ``full_key`` messages.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from testbed.errors import InputError

__all__ = ["MAX_COUNT", "StrictModel", "read_yaml_model", "validate_mapping", "describe_validation_error"]

MAX_COUNT = 10**9  # devices, days, repeats: beyond this no run on one machine or a small cluster ends


def read_yaml_model(path: str | Path, model: type[BaseModel], what: str) -> Any:
    """Parse ``path`` as YAML and validate it against ``model``."""
    import yaml  # here, not at the top: the board harness reads pruned-model specs without PyYAML

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file; a {what} file is YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}: malformed YAML{where}: {problem}") from None
    return validate_mapping(data, model, path, what, "YAML")


def validate_mapping(data: Any, model: type[BaseModel], path: str | Path, what: str, language: str) -> Any:
    """Validate parsed file content (YAML, JSON) against ``model``: one InputError line per problem."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: a {what} must be a {language} mapping of keys to values, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation_error(exc, model, path)) from None


def describe_validation_error(exc: ValidationError, model: type[BaseModel], path: str | Path,
                              prefix: str = "") -> str:
    """One line per problem: ``file: field.path: problem (allowed: ...), got ...``; ``prefix`` is
    the key path of the section ``model`` validated (``pruning``)."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"])) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, err["loc"][:-1])
            problem = f"unknown key; allowed keys: {', '.join(allowed)}" if allowed else "unknown key"
        else:
            problem = err["msg"]
            if problem.startswith("Value error, "):
                problem = problem[len("Value error, "):]
            if "input" in err and err["type"] != "missing":
                problem += f", got {err['input']!r}"
        lines.append(f"{path}: {loc}: {problem}")
    return "\n".join(lines)


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Walk the schema along ``loc`` to the mapping that had the unknown key."""
    ann: Any = model
    for part in loc:
        cls = _model_in(ann)
        if cls is not None and isinstance(part, str) and part in cls.model_fields:
            ann = cls.model_fields[part].annotation
        else:  # a dict key or list index: step into the container's value type
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            ann = args[-1] if args else None
    cls = _model_in(ann)
    return sorted(cls.model_fields) if cls is not None else []


def _model_in(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        for arg in typing.get_args(ann):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None


class StrictModel(BaseModel):
    """Base of every schema: unknown keys are errors, numbers are finite (no .inf or .nan from
    YAML), instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
