"""The measurement file: one CSV format for every latency measured on hardware.

One row is one network timed on one board in one configuration: batch-1 median latency over
``repeats`` timed runs, the raw runs, and what the board was (SKU, power mode, background load,
threads, clocks, precision, torch version), and where a meter read it, the power drawn while
inferring (``power_w``) and where (``power_scope``: ``module`` input rail or ``wall`` socket).
A row's mode is the SKU's mode ``power_mode`` names; a row that names none of its modes but gives
``clocks`` (``gpu_mhz=..;emc_mhz=..;cpu_mhz=..;cpu_cores=..``, any subset) ran at those clocks. ``twin board-bench`` writes it, ``twin calibrate`` fits a SKU to
it, ``hdap validate`` compares the twin's predictions with it. The published Jetson file
(shared/data/jetson_published_latency.csv) is a file of this format that leaves out the optional
columns, and is read as it is.

Writing needs only the standard library (it runs on the board); reading uses pandas.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.errors import InputError
from testbed.io import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "REQUIRED", "arch_hash", "write_rows", "read_measurements", "row_architecture"]

COLUMNS = ("board_id", "sku", "power_mode", "background_cores", "framework", "precision", "model", "widths",
           "arch_hash", "model_file", "input_shape", "batch", "threads", "warmup", "repeats", "latency_ms",
           "raw_ms", "torch_version", "clocks", "timestamp", "source", "power_w", "power_scope")
REQUIRED = ("sku", "model", "framework", "latency_ms")
# what an optional column means when a file leaves it out (power_mode "": the SKU's top mode)
_DEFAULTS = {"board_id": "", "power_mode": "", "background_cores": 0.0, "precision": "", "widths": "",
             "arch_hash": "", "model_file": "", "input_shape": "", "batch": 1, "threads": 0, "warmup": 0,
             "repeats": 1, "raw_ms": "", "torch_version": "", "clocks": "", "timestamp": "", "source": "",
             "power_w": "", "power_scope": ""}


def arch_hash(model: str, widths, input_size: int | None = None) -> str:
    """A short stable id of an architecture: zoo name, width vector and, when it is not the
    model's own, input size."""
    size = "" if input_size is None else f"@{int(input_size)}"
    return hashlib.sha1(f"{model}:{','.join(str(int(w)) for w in widths)}{size}".encode()).hexdigest()[:12]


def write_rows(path: str | Path, rows: list[dict]) -> None:
    """Append rows to a measurement CSV (created with its header if new), atomically: the file is
    rewritten to a temporary name and renamed, so an interrupted run leaves the old file whole."""
    path = Path(path)
    old = path.read_text() if path.is_file() else ""
    if old:
        header = tuple(next(csv.reader(io.StringIO(old)), []))
        if not header or header != COLUMNS[:len(header)]:  # a file of an earlier release lacks the last columns
            raise InputError(f"{path}: exists with other columns than a measurement file's; "
                             f"write to a new file (columns: {', '.join(COLUMNS)})")
    else:
        header = COLUMNS
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    if not old:
        writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, _DEFAULTS.get(c, "")) for c in header})
    atomic_write_text(path, old + buf.getvalue())


def read_measurements(path: str | Path) -> "pd.DataFrame":
    """Read and check a measurement CSV; optional columns are filled with their defaults.

    Raises InputError naming the file, the column and the row for a missing file or column, a
    latency that is not a positive number, or a batch other than 1.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: measurement file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a readable CSV: {str(exc).splitlines()[0]}") from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; a measurement file needs "
                         f"{', '.join(REQUIRED)} (optional: {', '.join(c for c in COLUMNS if c not in REQUIRED)})")
    if len(df) == 0:
        raise InputError(f"{path}: no measurement rows")
    for c, default in _DEFAULTS.items():
        if c not in df.columns:
            df[c] = default
        elif not isinstance(default, str):
            df[c] = df[c].replace("", str(default))
    for c in ("latency_ms", "background_cores", "batch", "threads", "warmup", "repeats"):
        values = pd.to_numeric(df[c], errors="coerce")
        bad = values.isna() | (values <= 0 if c == "latency_ms" else values < 0)
        if bad.any():
            i = int(bad.to_numpy().argmax())
            need = "a positive number" if c == "latency_ms" else "a number >= 0"
            raise InputError(f"{path}: row {i + 2}: {c} must be {need}, got {df[c].iloc[i]!r}")
        df[c] = values.astype(float if c in ("latency_ms", "background_cores") else int)
    if (df["batch"] != 1).any():
        i = int((df["batch"] != 1).to_numpy().argmax())
        raise InputError(f"{path}: row {i + 2}: batch must be 1 (the twin models batch-1 latency), got {df['batch'].iloc[i]}")
    for c in ("sku", "model", "framework"):
        empty = df[c].str.strip() == ""
        if empty.any():
            raise InputError(f"{path}: row {int(empty.to_numpy().argmax()) + 2}: {c} is empty")
    return df


def row_architecture(row, base_dir: str | Path = ".", where: str = "") -> tuple[str, tuple[int, ...] | None, int | None]:
    """(zoo name, width vector or None for full width, input size or None for the model's own) of a
    row: ``model`` is a zoo name or a pruned-model ``.json`` spec (relative to the CSV's folder); a
    ``widths`` entry wins; ``input_shape`` (``1x3xHxW``) may be any size the model takes."""
    from zoo import PrunedSpec, get_model

    model, widths = str(row["model"]), str(row.get("widths", "") or "")
    spec_size = None
    if model.endswith(".json"):
        try:
            spec = PrunedSpec.read(Path(base_dir) / model)
        except InputError as exc:
            raise InputError(f"{where}model: {exc}") from None
        model, spec_widths = spec.model, spec.widths
        spec_size = None if spec.input_shape is None else spec.input_shape[-1]
    else:
        spec_widths = None
    try:
        zoo = get_model(model)
    except InputError as exc:
        raise InputError(f"{where}model: {exc}") from None
    if widths.strip():
        try:
            parsed = tuple(int(w) for w in widths.replace(",", ";").split(";"))
        except ValueError:
            raise InputError(f"{where}widths: must be ';'-separated channel counts, got {widths!r}") from None
    else:
        parsed = spec_widths
    if parsed is not None:
        try:
            parsed = tuple(int(w) for w in zoo.check_widths(parsed))
        except InputError as exc:
            raise InputError(f"{where}widths: {exc}") from None
    size = spec_size
    shape = str(row.get("input_shape", "") or "")
    if shape:
        dims = shape.split("x")
        try:
            c, h, w = (int(d) for d in dims[-3:])
        except ValueError:
            c = h = w = -1
        if len(dims) not in (3, 4) or (len(dims) == 4 and dims[0] != "1") or c != zoo.input_shape[0] or h != w:
            raise InputError(f"{where}input_shape: {shape} is not a batch-1 shape {model} takes (1x3xNxN)")
        try:
            zoo.at_size(h)
        except InputError as exc:
            raise InputError(f"{where}input_shape: {exc}") from None
        size = h
    return model, parsed, None if size == zoo.input_size else size
