"""Writing a SKU as YAML (``twin calibrate``'s output), all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import yaml

from testbed.io import atomic_write_text
from twin.sku import SKU

__all__ = ["write_sku"]


def write_sku(sku: SKU, path: str | Path, header: str = "") -> None:
    """Write ``sku`` so that ``load_sku(path)`` reads it back equal; ``header`` becomes a comment."""
    path = Path(path)
    body = yaml.safe_dump(sku.model_dump(mode="json"), sort_keys=False, default_flow_style=None, width=110)
    text = "".join(f"# {line}\n" for line in header.splitlines()) + body
    atomic_write_text(path, text)
