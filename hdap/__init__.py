"""HDAP, Homogeneous-Device Aware Pruning: prunes one network for a whole fleet of one SKU.

It sees devices only through the fleet interface (list devices, measure an architecture on some
of them); the twin implements it. Modules: ``hdap.zoo`` (networks, units, workload tables),
``hdap.prune`` (Torch-Pruning to a width vector), ``hdap.data`` and ``hdap.train``.
"""

__all__: list[str] = []
