"""Writing outputs all-or-nothing: into a temporary file or folder beside the target, then renamed.

Every file the project writes goes through ``atomic_file`` (one file) or ``atomic_dir`` (a run's
folder), so an interrupted run leaves the old output whole and nothing that looks complete, and
two runs into one folder never mix.
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

__all__ = ["available_memory_bytes", "atomic_file", "atomic_write_text", "atomic_dir", "writable_out", "run_record", "ParquetStream", "RUN_RECORD"]

RUN_RECORD = "run.json"  # what marks a folder as one run's output (twin simulate, hdap run, hdap study)


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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a file the user writes is 0644 under umask 022
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def writable_out(out: str | Path, folder: bool = True, whole: bool = True) -> Path:
    """``out`` as a place a run can write its result (a folder, or with ``folder=False`` a file),
    checked before any work: an InputError now rather than a traceback after the run. ``whole``:
    the folder will be replaced as a whole (``atomic_dir``), so it must be new, empty or a run's."""
    out = Path(out)
    if folder and out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} is a file; give a folder (it will hold the run's files)")
    if folder and whole:
        _check_replaceable(out)
    if not folder and out.is_dir():
        raise InputError(f"--out: {out} is a folder; give a file name")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out: cannot create {out}: {parent} is not a folder this user can write to")
    try:  # permissions do not tell everything (root, read-only mounts, /proc): try it, leave nothing
        os.rmdir(tempfile.mkdtemp(prefix=".probe.", dir=parent))
    except OSError as exc:
        raise InputError(f"--out: cannot create {out} in {parent}: {exc.strerror}") from None
    return out


@contextmanager
def atomic_dir(out: str | Path, whole: bool = True):
    """Yield a temporary folder beside ``out``; on success it becomes ``out``, else nothing is left.

    ``whole``: the folder is one run's output and is replaced as a whole (swapped in by two
    renames, so it is complete or absent and never mixes two runs); a folder that holds files but
    no run record is refused rather than replaced. ``whole=False``: the new files replace their
    namesakes and other files stay (``hdap validate`` writes beside a loop's measurements). Either
    way one writer at a time (a lock beside ``out``; a second is refused), and temporaries left by
    a killed run are removed first."""
    import fcntl

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f".{out.name}.lock"
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"--out: another run is writing {out} now; wait for it or choose another folder") from None
        tmp = None
        try:
            _remove_stale(out)
            if whole:
                _check_replaceable(out)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", dir=out.parent))
            yield tmp
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a folder the user makes is 0755 under umask 022
            if whole:
                old = out.parent / f".{out.name}.{os.getpid()}.old"
                if out.exists():
                    os.replace(out, old)
                os.replace(tmp, out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                out.mkdir(exist_ok=True)
                for f in tmp.iterdir():
                    os.replace(f, out / f.name)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            lock_path.unlink(missing_ok=True)


def _check_replaceable(out: Path) -> None:
    """A run's folder is replaced whole: refuse one that holds files but no run record."""
    if out.is_dir() and any(out.iterdir()) and not (out / RUN_RECORD).is_file():
        raise InputError(f"--out: {out} holds files that are not a run's output (no {RUN_RECORD}); "
                         "give a new or empty folder")


def _remove_stale(out: Path) -> None:
    """Delete ``.{out.name}.{pid}.*`` temporaries whose process is gone (a run killed mid-write)."""
    for tmp in out.parent.glob(f".{out.name}.*.*"):
        pid = tmp.name[len(out.name) + 2:].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def available_memory_bytes() -> int:
    """Memory this machine can still give (Linux ``MemAvailable``; else all physical memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
