"""Named random streams: every generator in the project is spawned from one root seed.

A stream is ``SeedSequence(seed, spawn_key=(code of its name, *index))``: streams with different
names or indices are independent, whatever their seeds, so no stream is ever made by adding to a
seed (``seed + 1`` would make run 1's second stream run 2's first). The codes are fixed here, once:
the simulation's ``fleet`` (0) and ``block`` (1) and the fleet interface's ``measurement`` (2)
streams keep the keys they always had, so simulated fleets are unchanged by this registry.
``Streams.child`` nests a registry (one per study fleet, trial or round) under a key of its own.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAMS", "Streams"]

# name -> spawn-key code; a code is never reused for another meaning
STREAMS: dict[str, int] = {
    "fleet": 0,             # twin: fleet-wide weather, firmware rollout
    "block": 1,             # twin: one block of devices (index: block number)
    "measurement": 2,       # twin's fleet interface: noise of timed runs
    "clustering": 3,        # hdap: K-means seeds and silhouette subsamples
    "surrogate": 4,         # hdap: sub-networks profiled per cluster (index: cluster), CV folds
    "search": 5,            # hdap: NCS mutations (index: round or baseline)
    "init": 6,              # initial weights of a network (torch)
    "architectures": 7,     # hdap studies: shared profiling pool and test architectures
    "oracle": 8,            # hdap: the oracle's device sample
    "check": 9,             # hdap run: fresh architectures the surrogates are checked on
    "data": 10,             # data splits, shuffling, batch-norm re-estimation
    "trial": 11,            # hdap studies: the trials of one study fleet
    "features": 12,         # hdap studies: feature measurement (index: feature kind)
    "study_fleet": 13,      # hdap studies: independent fleets (index: seed number)
    "single_device": 14,    # hdap's single-device baseline: its nominal device's measurements
    "checkpoint": 15,       # hdap's aging study: one checkpoint day (index: day)
    "engines": 16,          # twin: engine builds' kernel choices per layer shape
}


class Streams:
    """The random streams of one run, all spawned from ``seed`` (under ``key``, for a child)."""

    def __init__(self, seed: int, key: tuple[int, ...] = ()):
        self.seed, self.key = int(seed), tuple(int(k) for k in key)

    def sequence(self, name: str, *index: int) -> np.random.SeedSequence:
        if name not in STREAMS:
            raise KeyError(f"unknown random stream {name!r}; streams: {', '.join(STREAMS)}")
        return np.random.SeedSequence(self.seed, spawn_key=self.key + (STREAMS[name], *map(int, index)))

    def rng(self, name: str, *index: int) -> np.random.Generator:
        """A numpy generator for the stream."""
        return np.random.default_rng(self.sequence(name, *index))

    def int_seed(self, name: str, *index: int) -> int:
        """A 31-bit integer for libraries that take one (torch, scikit-learn), drawn from the stream."""
        return int(self.sequence(name, *index).generate_state(1)[0] >> 1)

    def child(self, name: str, *index: int) -> "Streams":
        """A registry of its own under this one: its streams are independent of this one's."""
        return Streams(self.seed, self.key + (STREAMS[name], *map(int, index)))

    def __repr__(self) -> str:
        return f"Streams(seed={self.seed}, key={self.key})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Streams) and (self.seed, self.key) == (other.seed, other.key)

    def __hash__(self) -> int:
        return hash((self.seed, self.key))
