"""Where independent pieces of work run: this process, local worker processes, or a Dask cluster.

Simulation shards and study sweeps are lists of independent tasks whose results are combined in a
fixed order, so the numbers never depend on where or in how many places the tasks ran.
``Executor.map`` yields results in the order of its inputs while keeping at most ``window`` tasks
submitted and not yet consumed: a caller that folds each result into a running summary and drops
it holds a bounded number of results, however many tasks there are.

- ``Executor(workers=1)``: in this process, no Dask.
- ``Executor(workers=N)``: a ``dask.distributed.LocalCluster`` of N single-threaded worker
  processes, started on entry and stopped on exit.
- ``Executor(workers=N, threads=True)``: N threads of this process, for tasks that spend their
  time in code that releases the GIL (the simulation's compiled kernel and numpy): no start-up,
  no copies of results, one copy of the interpreter and its libraries instead of N + 1.
- ``Executor(scheduler="tcp://host:8786")``: an existing Dask cluster.

With Dask, a worker that dies mid-task loses nothing: the scheduler runs its unfinished tasks
again elsewhere (its nanny restarts it), and each task's result is consumed exactly once.
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

from testbed.errors import InputError

__all__ = ["Executor"]


_IGNORE_SIGINT = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"  # a worker preload: script text


class Executor:
    def __init__(self, workers: int = 1, scheduler: str | None = None, window: int | None = None,
                 threads: bool = False):
        if workers < 1:
            raise InputError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.scheduler = scheduler
        self.window = window
        self.threads = threads and scheduler is None and workers > 1
        self.client = None
        self._cluster = None
        self._pool = None

    def __enter__(self) -> "Executor":
        if self.scheduler is None and self.workers == 1:
            return self
        if self.threads:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="executor")
            return self
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout="10s", set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise InputError(f"--scheduler: cannot reach a Dask scheduler at {self.scheduler!r} ({exc})") from None
        else:
            # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which pins glibc's mmap threshold at
            # 128 KiB: every block-sized numpy temporary is then mmapped and unmapped, and the simulation
            # ran 4x slower (measured). Our workers keep glibc's adaptive default.
            env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                   if k != "MALLOC_TRIM_THRESHOLD_"}
            # Ctrl-C at a terminal reaches the whole process group; only this process answers it, by
            # closing the cluster: the workers ignore SIGINT (each printed a traceback)
            with dask.config.set({"distributed.nanny.pre-spawn-environ": env, "distributed.worker.preload": [_IGNORE_SIGINT]}):
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                             dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self._cluster, set_as_default=False)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:  # on Ctrl-C: tasks not started are dropped, running ones finish
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client = self._cluster = None

    @property
    def n_workers(self) -> int:
        """Workers available now (1 in this process)."""
        if self._pool is not None:
            return self.workers
        if self.client is None:
            return 1
        return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))

    @property
    def where(self) -> str:
        if self._pool is not None:
            return f"{self.workers} threads of this process"
        if self.client is None:
            return "this process"
        return f"Dask scheduler {self.scheduler}" if self.scheduler else f"Dask LocalCluster of {self.workers} workers"

    def share(self, obj: Any) -> Any:
        """``obj`` for use as an argument of many tasks: sent to the workers once, not per task."""
        if self.client is None:
            return obj
        return self.client.scatter(obj, broadcast=True, hash=False)

    def map(self, fn: Callable, items: Iterable, *shared: Any) -> Iterator:
        """``fn(item, *shared)`` for every item, yielded in the order of ``items``."""
        if self.client is None and self._pool is None:
            for item in items:
                yield fn(item, *shared)
            return
        window = self.window or 2 * self.n_workers
        pending: deque = deque()
        for item in items:
            if self._pool is not None:
                pending.append(self._pool.submit(fn, item, *shared))
            else:
                pending.append(self.client.submit(fn, item, *shared, pure=False))
            if len(pending) >= window:
                yield _take(pending.popleft())
        while pending:
            yield _take(pending.popleft())


def _take(future):
    result = future.result()
    if hasattr(future, "release"):  # a Dask future: the cluster may drop the result now
        future.release()
    return result
