"""HDAP, Homogeneous-Device Aware Pruning: prunes one network for a whole fleet of one SKU.

It sees devices only through the fleet interface (``hdap.fleet``: list devices, measure an
architecture on some of them); the twin implements it. Modules, in the order a run uses them:

- ``config``: a scenario's ``pruning`` section, typed and validated (``RunConfig``);
- ``features``, ``cluster``: hardware-response features and the clusters they give;
- ``surrogate``: one latency model per cluster; ``objective``: the fleet estimate and statistics;
- ``search``: Negatively Correlated Search; ``importance``: the accuracy proxy;
- ``method``: HDAP's steps together (fit the estimate, search it); ``baselines``: the others;
- ``prune``, ``data``, ``train``, ``finetune``: Torch-Pruning to a width vector, and accuracy;
- ``runner`` and ``report``: ``hdap run``; ``study``: ``hdap study`` (clusters, aging, features).

For notebooks::

    import hdap
    result = hdap.run("scenarios/nano-resnet50.yaml")
    result.summary()        # a DataFrame indexed by method
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

__all__ = ["run", "RunConfig", "RunResult", "METHODS"]

_HOME = {"RunConfig": "hdap.config", "RunResult": "hdap.runner", "METHODS": "hdap.runner"}


def run(scenario, out: str | Path | None = None, workers: int = 1, progress: bool = False):
    """HDAP and every baseline on ``scenario`` (a path, a loaded ``twin.Scenario`` or a
    ``RunConfig``), evaluated exactly on every device; with ``out``, the run's report folder is
    written there too (as ``hdap run`` writes it). Returns a ``RunResult``."""
    from hdap.config import RunConfig
    from hdap.runner import run_hdap

    result = run_hdap(RunConfig.of(scenario), workers=workers, progress=progress)
    if out is not None:
        result.write(out)
    return result


def __getattr__(name):
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'hdap' has no attribute {name!r}")
