"""Architectures as data (no torch): layouts, prunable units, symbolic workload specs."""
