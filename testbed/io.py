"""Writing outputs all-or-nothing: into a temporary file or folder beside the target, then renamed.

Every file the project writes goes through ``atomic_file`` (one file) or ``atomic_dir`` (a run's
folder), so an interrupted run leaves the old output whole and nothing that looks complete.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from testbed.errors import InputError

__all__ = ["atomic_file", "atomic_write_text", "atomic_dir", "writable_out", "run_record", "ParquetStream"]


@contextmanager
def atomic_file(path: str | Path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def writable_out(out: str | Path, folder: bool = True) -> Path:
    """``out`` as a place a run can write its result (a folder, or with ``folder=False`` a file),
    checked before any work: an InputError now rather than a traceback after the run."""
    out = Path(out)
    if folder and out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} is a file; give a folder (it will hold the run's files)")
    if not folder and out.is_dir():
        raise InputError(f"--out: {out} is a folder; give a file name")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out: cannot create {out}: {parent} is not a folder this user can write to")
    return out


@contextmanager
def atomic_dir(out: str | Path):
    """Yield a temporary folder; on success its files replace those of ``out``, else nothing is left."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        out.mkdir(exist_ok=True)
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class ParquetStream:
    """A parquet file written a table at a time (row groups), so it never has to fit in memory.
    Nothing is created until the first write."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._writer = None

    def write(self, df) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)

    def __enter__(self) -> "ParquetStream":
        return self

    def __exit__(self, *exc) -> None:
        if self._writer is not None:
            self._writer.close()


def run_record(scenario: dict, seed: int, **extra) -> str:
    """JSON recording what produced a run: the scenario as resolved, its seed, package versions."""
    versions = {p: _version(p) for p in ("hdap-testbed", "numpy", "pandas", "simpy", "pyarrow", "pydantic",
                                         "scikit-learn", "torch", "torch-pruning")}
    body = {"scenario": scenario, "seed": seed, "python": platform.python_version(), "versions": versions, **extra}
    return json.dumps(body, indent=2, default=str)


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None
