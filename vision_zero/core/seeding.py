"""Seeds and random streams: common random numbers across scenarios.

Replication *i* of every scenario draws demand, drivers, route choice and parameters from the same independent
streams, derived only from ``(seed, i, stream)``. So a difference between two scenarios is measured pair by pair,
and replication *i* gives the same result whichever executor runs it and in whatever order. Where a draw must be
the same for one thing in every scenario without taking from a stream (a driver's compliance with a limit, a
signal's offset), :func:`hash_unit` maps its integer id to [0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["STREAMS", "ReplicationRNG", "hash_unit", "replication_rngs"]

#: Fixed stream numbers. Never renumber: results of earlier runs depend on them. Number 2 was the drawn
#: pedestrian arrivals' (the record keeps pedestrians as Poisson rates since; not to be reused).
STREAMS: dict[str, int] = {"demand": 0, "drivers": 1, "parameters": 3, "routing": 4}


@dataclass(frozen=True)
class ReplicationRNG:
    """The independent random generators of one replication."""

    seed: int
    replication: int
    demand: np.random.Generator
    drivers: np.random.Generator
    parameters: np.random.Generator
    routing: np.random.Generator


def replication_rngs(seed: int, replication: int) -> ReplicationRNG:
    """Return the generators of replication ``replication`` of a run seeded with ``seed``.

    Each stream is ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(replication, stream)))``.
    """
    if seed < 0 or replication < 0:
        raise ValueError(f"seed and replication must be >= 0 (got {seed}, {replication})")

    def gen(stream: str) -> np.random.Generator:
        ss = np.random.SeedSequence(seed, spawn_key=(replication, STREAMS[stream]))
        return np.random.default_rng(ss)

    return ReplicationRNG(
        seed=seed,
        replication=replication,
        demand=gen("demand"),
        drivers=gen("drivers"),
        parameters=gen("parameters"),
        routing=gen("routing"),
    )


def hash_unit(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """A fixed, well-mixed map of integer ids to [0, 1) (SplitMix64 finaliser; Steele et al. 2014)."""
    z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)
