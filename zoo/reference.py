"""What a user may name where a network is expected: a zoo model, a workload table file, or a
pruned model's spec (its ``.json``, or the ``.pt`` it sits beside)."""

from __future__ import annotations

from pathlib import Path

from zoo.pruned import PrunedSpec
from zoo.registry import get_model
from zoo.workload import Workload, read_workload

__all__ = ["resolve_workload"]


def resolve_workload(ref: str, base_dir: str | Path = ".", rates=None) -> Workload:
    """The workload table ``ref`` names; file paths are relative to ``base_dir``. ``rates``:
    per-unit pruning rates of a zoo model."""
    if rates is not None:
        zoo = get_model(ref)
        return zoo.workload(zoo.widths_from_rates(rates))
    path = Path(base_dir) / ref
    if ref.endswith(".json"):
        return PrunedSpec.read(path).workload()
    if ref.endswith(".pt"):
        return PrunedSpec.read(PrunedSpec.beside(path)).workload()
    if ref.endswith((".csv", ".parquet")):
        return read_workload(path)
    return get_model(ref).workload()
