"""Per-layer workload tables: the currency between the model zoo and the twin.

A table has one row per executed layer: its kind, FLOPs (multiply-accumulates, as the pruning
literature and fvcore count them), bytes read and written (fp32 tensors, 4 bytes per element; a SKU
that runs fp16 scales them), channels in/out, kernel, stride (input rows per output row), groups
and output spatial size, and the precision it runs in ("" for the deployment's own; a layer in a
mixed-precision engine names its own, e.g. int8). It is held as
numpy columns (fast to build and to consume) and converts to and from pandas / CSV / parquet.

The constructors ``conv``, ``linear``, ``norm`` ... compute a row from shapes, so hand-built tables
(tests), the zoo's analytic tables and traced modules all use the same arithmetic (``layer_costs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from testbed.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LAYER_KINDS", "LayerKind", "PRECISIONS", "PRECISION_BYTES", "SPARSITY", "Workload", "COLUMNS", "layer_costs", "stride_of", "conv", "linear", "norm", "activation", "add", "pool", "concat",
           "upsample", "read_workload"]

LayerKind = Literal["conv", "dwconv", "linear", "norm", "activation", "add", "pool", "concat", "upsample"]
LAYER_KINDS: tuple[str, ...] = LayerKind.__args__  # the language of workload tables; SKU files price each kind
ELEMENT_BYTES = 4  # tables count fp32 tensors
COLUMNS = ("name", "kind", "flops", "bytes_read", "bytes_written", "c_in", "c_out", "kernel",
           "stride", "groups", "h", "w")
PRECISIONS = ("", "fp32", "fp16", "int8", "int4", "int2", "int1")  # a row's precision code; "" (0): the deployment's own
# bytes per element of each precision; int2 also holds ternary weights, int1 binary (XNOR-popcount) ones
PRECISION_BYTES = {"fp32": 4, "fp16": 2, "int8": 1, "int4": 0.5, "int2": 0.25, "int1": 0.125}
# how a row's weights were pruned, when they were ("": dense); its ``density`` is the share kept
SPARSITY = ("", "unstructured", "block", "2:4")
BLOCK_FILTERS = 8  # a block spans this many filters: one index flag per block column covers that many weights
_OPTIONAL = {"name": None, "stride": 1, "precision": ""}  # columns a user's table may leave out, and their default
_INT_COLUMNS = ("c_in", "c_out", "kernel", "stride", "groups", "h", "w")
_FLOAT_COLUMNS = ("flops", "bytes_read", "bytes_written")
_KIND_CODE = {k: i for i, k in enumerate(LAYER_KINDS)}


@dataclass(frozen=True, eq=False)
class Workload:
    """A workload table as numpy columns; ``kind`` holds codes into ``LAYER_KINDS``, ``precision``
    codes into ``PRECISIONS`` (None: every row in the deployment's precision)."""

    kind: np.ndarray
    flops: np.ndarray
    bytes_read: np.ndarray
    bytes_written: np.ndarray
    c_in: np.ndarray
    c_out: np.ndarray
    kernel: np.ndarray
    stride: np.ndarray
    groups: np.ndarray
    h: np.ndarray
    w: np.ndarray
    name: tuple[str, ...] = ()
    precision: np.ndarray | None = None
    density: np.ndarray | None = None    # share of each row's weights kept (None: all)
    sparsity: np.ndarray | None = None   # codes into SPARSITY: how they were pruned (None: dense)

    def __post_init__(self):
        if self.precision is None:
            object.__setattr__(self, "precision", np.zeros(len(self.kind), np.int8))
        if self.density is None:
            object.__setattr__(self, "density", np.ones(len(self.kind)))
        if self.sparsity is None:
            object.__setattr__(self, "sparsity", np.zeros(len(self.kind), np.int8))

    @property
    def sparse(self) -> bool:
        """Whether some row's weights are pruned in place (not removed with their channels)."""
        return bool(np.any(self.sparsity))

    @property
    def weights(self) -> np.ndarray:
        """Weights per row (0 for rows without: norms, activations, adds...)."""
        n = self.c_out * (self.c_in // np.maximum(self.groups, 1)) * self.kernel ** 2
        return np.where(self.kind <= _KIND_CODE["linear"], n, 0).astype(np.float64)

    def index_bits(self) -> np.ndarray:
        """Per row, the bits of the index a sparse kernel reads beside the kept weights: a bit mask
        (unstructured), a flag per block column (block) or a 2-bit position per kept weight (2:4)."""
        n, code = self.weights, self.sparsity
        return np.select([code == SPARSITY.index("unstructured"), code == SPARSITY.index("block"),
                          code == SPARSITY.index("2:4")],
                         [n, np.ceil(n / BLOCK_FILTERS), 2 * self.density * n], 0.0)
    @property
    def mixed(self) -> bool:
        """Whether some row names its own precision."""
        return bool(np.any(self.precision))

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def total_flops(self) -> float:
        return float(self.flops.sum())

    @property
    def dense_flops(self) -> float:
        """FLOPs as the pruning literature counts a network: multiply-accumulates of convs and linears."""
        return float(self.flops[self.kind <= _KIND_CODE["linear"]].sum())

    @property
    def kept_flops(self) -> float:
        """``dense_flops`` of the weights kept: what a sparse network's FLOPs are counted as."""
        dense = self.kind <= _KIND_CODE["linear"]
        return float((self.flops * self.density)[dense].sum())

    @property
    def total_bytes(self) -> float:
        return float(self.bytes_read.sum() + self.bytes_written.sum())

    @classmethod
    def from_rows(cls, rows: list[dict]) -> "Workload":
        """Build from constructor rows (dicts with the COLUMNS keys)."""
        import pandas as pd

        return cls.from_frame(pd.DataFrame(rows, columns=list(COLUMNS)))

    @classmethod
    def from_frame(cls, df: "pd.DataFrame", source: str = "workload table") -> "Workload":
        import pandas as pd

        missing = [c for c in COLUMNS if c not in df.columns and c not in _OPTIONAL]
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
            column = df[c] if c in df.columns else pd.Series(_OPTIONAL[c], index=df.index)
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise InputError(f"{source}: {c}: every value must be a number >= 0")
            cols[c] = values if c in _FLOAT_COLUMNS else values.astype(np.int64)
        names = tuple(str(n) for n in df["name"]) if "name" in df.columns else ()
        precision = _codes(df, "precision", PRECISIONS, source, "precision(s)", "the deployment's")
        sparsity = _codes(df, "sparsity", SPARSITY, source, "structure(s)", "dense")
        density = None
        if "density" in df.columns:
            density = pd.to_numeric(df["density"], errors="coerce").to_numpy(dtype=np.float64)
            if not np.all((density > 0) & (density <= 1)):
                raise InputError(f"{source}: density: every value must be a share of weights kept, in (0, 1]")
        return cls(kind=np.array([_KIND_CODE[k] for k in df["kind"]], dtype=np.int8), name=names,
                   precision=precision, density=density, sparsity=sparsity, **cols)

    def to_frame(self) -> "pd.DataFrame":
        import pandas as pd

        df = pd.DataFrame({c: getattr(self, c) for c in COLUMNS[2:]})
        df.insert(0, "kind", [LAYER_KINDS[k] for k in self.kind])
        df.insert(0, "name", list(self.name) if self.name else [f"layer{i}" for i in range(len(self))])
        if self.mixed:
            df["precision"] = [PRECISIONS[p] for p in self.precision]
        if self.sparse:
            df["sparsity"] = [SPARSITY[p] for p in self.sparsity]
            df["density"] = self.density
        return df


def _codes(df: pd.DataFrame, column: str, allowed: tuple[str, ...], source, what: str, empty: str):
    """A categorical column as int8 codes into ``allowed`` (None when absent); empty cells are code 0."""
    import pandas as pd

    if column not in df.columns:
        return None
    given = ["" if pd.isna(p) else str(p).strip() for p in df[column]]
    bad = sorted(set(given) - set(allowed))
    if bad:
        raise InputError(f"{source}: {column}: unknown {what} {', '.join(bad)}; "
                         f"allowed: {', '.join(p for p in allowed if p)} or empty ({empty})")
    return np.array([allowed.index(p) for p in given], np.int8)


def read_workload(path: str | Path) -> Workload:
    """Read a workload table from CSV or parquet."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: workload table not found")
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas raises many types for unreadable files
        raise InputError(f"{path}: not a readable workload table ({exc.__class__.__name__}: {exc})") from None
    return Workload.from_frame(df, source=str(path))


# -- costs: the one place FLOPs and bytes are computed from shapes -------------------------------

def stride_of(h_in, h):
    """Input rows per output row (1 for same-size and upsampling layers)."""
    return np.maximum(1, np.rint(np.asarray(h_in, np.float64) / np.maximum(h, 1))).astype(np.int64)


def layer_costs(kind, c_in, c_out, kernel, groups, h_in, w_in, h, w, bias=False):
    """(FLOPs, bytes read, bytes written) of layers; every argument a scalar or an array.

    ``kind`` is a LAYER_KINDS name or code. Convolutions read their input and weights; element-wise
    layers read (add: two) inputs; concat and upsample only move data.
    """
    code = np.vectorize(_KIND_CODE.get, otypes=[np.int64])(kind) if np.asarray(kind).dtype.kind in "US" else np.asarray(kind)
    c_in, c_out, kernel, groups, h_in, w_in, h, w = (np.asarray(x, dtype=np.float64) for x in
                                                     (c_in, c_out, kernel, groups, h_in, w_in, h, w))
    k2, out_map, in_map = kernel * kernel, c_out * h * w, c_in * h_in * w_in
    weights = c_out * (c_in / groups) * k2 + np.where(bias, c_out, 0)
    is_ = lambda name: code == _KIND_CODE[name]  # noqa: E731
    conv_like = is_("conv") | is_("dwconv")
    flops = np.select([conv_like, is_("linear"), is_("pool"), is_("concat") | is_("upsample")],
                      [out_map * (c_in / groups) * k2, c_in * c_out, out_map * k2, 0.0], default=out_map)
    read = np.select([conv_like, is_("linear"), is_("norm"), is_("add")],
                     [in_map + weights, c_in + c_in * c_out + np.where(bias, c_out, 0), in_map + 2 * c_in, 2 * in_map],
                     default=in_map)
    return flops, read * ELEMENT_BYTES, out_map * ELEMENT_BYTES


# -- constructors: one row per layer, shapes in, FLOPs and bytes out ----------------------------

def _row(name, kind, c_in, c_out, kernel, groups, h_in, w_in, h, w, bias=False) -> dict:
    flops, read, written = layer_costs(kind, c_in, c_out, kernel, groups, h_in, w_in, h, w, bias)
    return dict(name=name, kind=kind, flops=float(flops), bytes_read=float(read), bytes_written=float(written),
                c_in=c_in, c_out=c_out, kernel=kernel, stride=int(stride_of(h_in, h)), groups=groups, h=h, w=w)


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def conv(name: str, c_in: int, c_out: int, kernel: int, h_in: int, w_in: int, stride: int = 1,
         groups: int = 1, padding: int | None = None, bias: bool = False) -> dict:
    """A 2-D convolution; depthwise when groups == c_in == c_out > 1."""
    pad = kernel // 2 if padding is None else padding
    h, w = conv_out(h_in, kernel, stride, pad), conv_out(w_in, kernel, stride, pad)
    kind = "dwconv" if groups > 1 and groups == c_in == c_out else "conv"
    return _row(name, kind, c_in, c_out, kernel, groups, h_in, w_in, h, w, bias)


def linear(name: str, n_in: int, n_out: int, bias: bool = True) -> dict:
    return _row(name, "linear", n_in, n_out, 1, 1, 1, 1, 1, 1, bias)


def norm(name: str, c: int, h: int, w: int) -> dict:
    """Inference batch norm: one multiply-add per element, reads the tensor and 2 per-channel vectors."""
    return _row(name, "norm", c, c, 1, 1, h, w, h, w)


def activation(name: str, c: int, h: int, w: int) -> dict:
    return _row(name, "activation", c, c, 1, 1, h, w, h, w)


def add(name: str, c: int, h: int, w: int) -> dict:
    return _row(name, "add", c, c, 1, 1, h, w, h, w)


def pool(name: str, c: int, h_in: int, w_in: int, kernel: int, stride: int, padding: int = 0) -> dict:
    h, w = conv_out(h_in, kernel, stride, padding), conv_out(w_in, kernel, stride, padding)
    return _row(name, "pool", c, c, kernel, 1, h_in, w_in, h, w)


def concat(name: str, channels: list[int], h: int, w: int) -> dict:
    total = sum(channels)
    return _row(name, "concat", total, total, 1, 1, h, w, h, w)


def upsample(name: str, c: int, h_in: int, w_in: int, scale: int = 2) -> dict:
    return _row(name, "upsample", c, c, 1, 1, h_in, w_in, h_in * scale, w_in * scale)
