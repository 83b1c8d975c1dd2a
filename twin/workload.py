"""Per-layer workload tables: the currency between the model zoo and the twin.

A table has one row per executed layer: its kind, FLOPs (multiply-accumulates, as the pruning
literature and fvcore count them), bytes read and written (fp32 tensors, 4 bytes per element; a SKU
that runs fp16 scales them), channels in/out, kernel, groups and output spatial size. It is held as
numpy columns (fast to build and to consume) and converts to and from pandas / CSV / parquet.

The constructors ``conv``, ``linear``, ``norm`` ... compute a row from shapes, so hand-built tables
(tests, the bundled reference) and analytic tables (the zoo) use the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twin.errors import InputError
from twin.sku import LAYER_KINDS

__all__ = ["Workload", "COLUMNS", "conv", "linear", "norm", "activation", "add", "pool", "concat",
           "upsample", "read_workload"]

ELEMENT_BYTES = 4  # tables count fp32 tensors
COLUMNS = ("name", "kind", "flops", "bytes_read", "bytes_written", "c_in", "c_out", "kernel",
           "groups", "h", "w")
_INT_COLUMNS = ("c_in", "c_out", "kernel", "groups", "h", "w")
_FLOAT_COLUMNS = ("flops", "bytes_read", "bytes_written")
_KIND_CODE = {k: i for i, k in enumerate(LAYER_KINDS)}


@dataclass(frozen=True, eq=False)
class Workload:
    """A workload table as numpy columns; ``kind`` holds codes into ``LAYER_KINDS``."""

    kind: np.ndarray
    flops: np.ndarray
    bytes_read: np.ndarray
    bytes_written: np.ndarray
    c_in: np.ndarray
    c_out: np.ndarray
    kernel: np.ndarray
    groups: np.ndarray
    h: np.ndarray
    w: np.ndarray
    name: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def total_flops(self) -> float:
        return float(self.flops.sum())

    @property
    def total_bytes(self) -> float:
        return float(self.bytes_read.sum() + self.bytes_written.sum())

    @classmethod
    def from_rows(cls, rows: list[dict]) -> "Workload":
        """Build from constructor rows (dicts with the COLUMNS keys)."""
        return cls.from_frame(pd.DataFrame(rows, columns=list(COLUMNS)))

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "workload table") -> "Workload":
        missing = [c for c in COLUMNS if c not in df.columns and c != "name"]
        if missing:
            raise InputError(f"{source}: missing column(s) {', '.join(missing)}; "
                             f"a workload table has columns {', '.join(COLUMNS)}")
        if len(df) == 0:
            raise InputError(f"{source}: the table has no layers")
        bad = sorted(set(df["kind"]) - set(LAYER_KINDS))
        if bad:
            raise InputError(f"{source}: kind: unknown layer kind(s) {', '.join(map(str, bad))}; "
                             f"allowed: {', '.join(LAYER_KINDS)}")
        cols = {}
        for c in _FLOAT_COLUMNS + _INT_COLUMNS:
            values = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise InputError(f"{source}: {c}: every value must be a number >= 0")
            cols[c] = values if c in _FLOAT_COLUMNS else values.astype(np.int64)
        names = tuple(str(n) for n in df["name"]) if "name" in df.columns else ()
        return cls(kind=np.array([_KIND_CODE[k] for k in df["kind"]], dtype=np.int8), name=names, **cols)

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame({c: getattr(self, c) for c in COLUMNS[2:]})
        df.insert(0, "kind", [LAYER_KINDS[k] for k in self.kind])
        df.insert(0, "name", list(self.name) if self.name else [f"layer{i}" for i in range(len(self))])
        return df


def read_workload(path: str | Path) -> Workload:
    """Read a workload table from CSV or parquet."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: workload table not found")
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for unreadable files
        raise InputError(f"{path}: not a readable workload table ({exc.__class__.__name__}: {exc})") from None
    return Workload.from_frame(df, source=str(path))


# -- constructors: one row per layer, shapes in, FLOPs and bytes out ----------------------------

def _row(name, kind, flops, read, written, c_in, c_out, kernel, groups, h, w) -> dict:
    return dict(name=name, kind=kind, flops=float(flops), bytes_read=float(read) * ELEMENT_BYTES,
                bytes_written=float(written) * ELEMENT_BYTES, c_in=c_in, c_out=c_out, kernel=kernel,
                groups=groups, h=h, w=w)


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def conv(name: str, c_in: int, c_out: int, kernel: int, h_in: int, w_in: int, stride: int = 1,
         groups: int = 1, padding: int | None = None, bias: bool = False) -> dict:
    """A 2-D convolution; depthwise when groups == c_in == c_out > 1."""
    pad = kernel // 2 if padding is None else padding
    h, w = conv_out(h_in, kernel, stride, pad), conv_out(w_in, kernel, stride, pad)
    weights = c_out * (c_in // groups) * kernel * kernel + (c_out if bias else 0)
    flops = c_out * h * w * (c_in // groups) * kernel * kernel
    kind = "dwconv" if groups > 1 and groups == c_in == c_out else "conv"
    return _row(name, kind, flops, c_in * h_in * w_in + weights, c_out * h * w, c_in, c_out, kernel,
                groups, h, w)


def linear(name: str, n_in: int, n_out: int, bias: bool = True) -> dict:
    return _row(name, "linear", n_in * n_out, n_in + n_in * n_out + (n_out if bias else 0), n_out,
                n_in, n_out, 1, 1, 1, 1)


def norm(name: str, c: int, h: int, w: int) -> dict:
    """Inference batch norm: one multiply-add per element, reads the tensor and 2 per-channel vectors."""
    return _row(name, "norm", c * h * w, c * h * w + 2 * c, c * h * w, c, c, 1, 1, h, w)


def activation(name: str, c: int, h: int, w: int) -> dict:
    return _row(name, "activation", c * h * w, c * h * w, c * h * w, c, c, 1, 1, h, w)


def add(name: str, c: int, h: int, w: int) -> dict:
    return _row(name, "add", c * h * w, 2 * c * h * w, c * h * w, c, c, 1, 1, h, w)


def pool(name: str, c: int, h_in: int, w_in: int, kernel: int, stride: int, padding: int = 0) -> dict:
    h, w = conv_out(h_in, kernel, stride, padding), conv_out(w_in, kernel, stride, padding)
    return _row(name, "pool", c * h * w * kernel * kernel, c * h_in * w_in, c * h * w, c, c, kernel, 1, h, w)


def concat(name: str, channels: list[int], h: int, w: int) -> dict:
    total = sum(channels)
    return _row(name, "concat", 0, total * h * w, total * h * w, total, total, 1, 1, h, w)


def upsample(name: str, c: int, h_in: int, w_in: int, scale: int = 2) -> dict:
    h, w = h_in * scale, w_in * scale
    return _row(name, "upsample", 0, c * h_in * w_in, c * h * w, c, c, 1, 1, h, w)
