"""``hdap study``: the questions the testbed exists to answer, at up to a million devices.

- ``clusters``: estimate error, profiling cost and achieved latency against K and fleet size;
- ``aging``: a model pruned on day 0 as the fleet ages; what re-clustering and re-pruning gain;
- ``features``: the paper's clustering features against the probe set at the same budget;
- ``heterogeneity``: when compressing for the fleet beats compressing for one device, per shape
  mechanism, magnitude and search space, against the theory of ``twin.shape``.

Modules: ``trial`` (one HDAP trial on one day, and its exact evaluation), one module per study,
``report`` (writing a study's folder). Trials run on a ``twin.executor.Executor``.
"""

__all__ = ["STUDIES"]

STUDIES = ("clusters", "aging", "features", "heterogeneity")
