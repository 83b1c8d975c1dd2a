"""HDAP, Homogeneous-Device Aware Pruning: prunes one network for a whole fleet of one SKU.

It sees devices only through the fleet interface (list devices, measure an architecture on some
of them); the twin implements it. The model zoo, clustering, surrogates and search arrive with
their issues.
"""

__all__: list[str] = []
