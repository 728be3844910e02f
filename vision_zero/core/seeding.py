"""Seeds and random streams: common random numbers across scenarios.

Replication *i* of every scenario draws demand, drivers, route choice and parameters from the same independent
streams, derived only from ``(seed, i, stream)``. So a difference between two scenarios is measured pair by pair,
and replication *i* gives the same result whichever executor runs it and in whatever order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["STREAMS", "ReplicationRNG", "replication_rngs"]

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
