"""Seeds and random streams: common random numbers across scenarios.

Replication *i* of every scenario draws demand, drivers, route choice and parameters from the same independent
streams, derived only from ``(seed, i, stream)``. So a difference between two scenarios is measured pair by pair,
and replication *i* gives the same result whichever executor runs it and in whatever order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["STREAMS", "ReplicationRNG", "pilot_rngs", "replication_rngs"]

#: Fixed stream numbers. Never renumber: results of earlier runs depend on them. Number 2 was the drawn
#: pedestrian arrivals' (the record keeps pedestrians as Poisson rates since; not to be reused). Number 5 is the
#: pilot equilibrium's (:func:`pilot_rngs`), not a replication's.
STREAMS: dict[str, int] = {"demand": 0, "drivers": 1, "parameters": 3, "routing": 4}
PILOT_STREAM = 5


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


def pilot_rngs(seed: int) -> ReplicationRNG:
    """The generators of a pilot equilibrium: trips and drivers of its own for a warm start to start from.

    (:func:`vision_zero.traffic.simulation.simulate_vehicles`' ``start``; ``benchmarks/bench_city.py --warm-start``.)

    Stream :data:`PILOT_STREAM` of replication 0, split into one child per stream of :data:`STREAMS` (spawn keys
    ``(0, 5, 0..3)``): independent of every replication's streams, so the pilot draws trips and drivers of its own
    and no replication's results depend on another's. ``replication`` is -1.
    """
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (got {seed})")
    children = np.random.SeedSequence(seed, spawn_key=(0, PILOT_STREAM)).spawn(len(STREAMS))
    gens = {name: np.random.default_rng(ss) for name, ss in zip(STREAMS, children, strict=True)}
    return ReplicationRNG(seed=seed, replication=-1, **gens)
