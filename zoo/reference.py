"""What a user may name where a network is expected: a zoo model, a workload table file, or a
pruned model's spec (its ``.json``, or the ``.pt`` it sits beside)."""

from __future__ import annotations

from pathlib import Path

from testbed.errors import InputError
from zoo.pruned import PrunedSpec
from zoo.registry import get_model
from zoo.workload import Workload, read_workload

__all__ = ["resolve_workload"]


def resolve_workload(ref: str, base_dir: str | Path = ".", rates=None, input_size: int | None = None) -> Workload:
    """The workload table ``ref`` names; file paths are relative to ``base_dir``. ``rates``:
    per-unit pruning rates of a zoo model; ``input_size``: the network on N x N inputs (a zoo
    model or a pruned spec; a table file has its sizes in it)."""
    if rates is not None:
        zoo = get_model(ref, input_size)
        return zoo.workload(zoo.widths_from_rates(rates))
    path = Path(base_dir) / ref
    if ref.endswith(".json"):
        return PrunedSpec.read(path).workload(input_size)
    if ref.endswith(".pt"):
        return PrunedSpec.read(PrunedSpec.beside(path)).workload(input_size)
    if ref.endswith((".csv", ".parquet")):
        if input_size is not None:
            raise InputError(f"{path}: a workload table has its layers' sizes in it; an input size does not apply")
        return read_workload(path)
    return get_model(ref, input_size).workload()
