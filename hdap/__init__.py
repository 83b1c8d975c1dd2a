"""HDAP, Homogeneous-Device Aware Pruning: prunes one network for a whole fleet of one SKU.

It sees devices only through the fleet interface (``hdap.fleet``: list devices, measure an
architecture on some of them); the twin implements it. Modules: ``hdap.zoo`` (networks, units,
workload tables), ``hdap.features`` and ``hdap.cluster`` (hardware-response clusters),
``hdap.surrogate`` (per-cluster latency models), ``hdap.objective`` (the fleet estimate),
``hdap.search`` (NCS), ``hdap.importance`` (accuracy proxy), ``hdap.prune`` (Torch-Pruning to a
width vector), ``hdap.baselines``, ``hdap.data``, ``hdap.train``, ``hdap.finetune``, and
``hdap.pipeline`` / ``hdap.report`` (``hdap run``), ``hdap.study`` (``hdap study``: clusters,
aging, features at fleet scale), ``hdap.validate`` (``hdap validate``).
"""

__all__: list[str] = []
