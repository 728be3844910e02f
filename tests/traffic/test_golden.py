"""Golden results of one small traffic run: a speed-up that is not meant to change the model must not change them.

One replication of the tiny schematic network at three times its default demand (queues, spill-back, gates and
re-routing all happen), two periods, the default equilibrium route choice, with pedestrians: the hash of every
table the record holds and of the vehicles' per-traversal times. The hash covers values rounded to 1e-6 (what a
result could show), so it does not depend on the last bits of a float sum.

**If you changed the traffic model on purpose** (a rule in ``_loop.py``/``_model.py``, route choice, a parameter
value), the hash changes: check that the change is the one you meant, then replace :data:`GOLDEN` with the value the
failing test prints, and say so in the commit message. A speed-up that changes it is a model change.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from vision_zero.core.parameters import load_parameters
from vision_zero.core.seeding import replication_rngs
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic import demand
from vision_zero.traffic.simulation import TrafficRecord, record_of, simulate_vehicles

#: sha256 of :func:`_digest` for the run of :func:`_run` (see the module docstring before changing it).
GOLDEN = "5b8dee8f1aec6863fa2d21a4b19d14c3e527eb1e004870e21578c33c1ddf7ccd"


def _run(network: RoadNetwork) -> tuple[TrafficRecord, list[np.ndarray]]:
    params = load_parameters()
    periods = tuple(p for p in demand.default_periods(params) if p.name in ("am_peak", "inter_peak"))
    rngs = replication_rngs(2019, 0)
    daily = 3.0 * demand.default_daily_trips(network, params)
    trips = demand.generate_trips(network, rng=rngs.demand, periods=periods, daily_trips=daily, params=params)
    peds = demand.pedestrian_demand(network, periods=periods, params=params)
    vehicles = simulate_vehicles(network, trips, rng=rngs.drivers, routing_rng=rngs.routing, periods=periods)
    record = record_of(network, trips, peds, periods, vehicles)
    arrays = [
        vehicles.routes.ptr,
        vehicles.routes.links,
        vehicles.times.ent,
        vehicles.times.ee,
        vehicles.times.ex,
    ]
    return record, arrays


def _digest(record: TrafficRecord, arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    tables = {
        "link_stats": record.link_stats,
        "passages": record.passages,
        "pedestrian_demand": record.pedestrian_demand,
        "trips": record.trips,
        "speed_hist": record.speed_hist,
        "route_choice": record.route_choice,
    }
    for name, table in tables.items():
        h.update(name.encode())
        h.update(_table_bytes(table))
    for a in arrays:
        h.update(_array_bytes(np.asarray(a)))
    h.update(repr(record.stuck_moves).encode())
    return h.hexdigest()


def _array_bytes(a: np.ndarray) -> bytes:
    if a.dtype.kind == "f":
        return np.round(a.astype(np.float64), 6).tobytes()
    if a.dtype.kind in "iub":
        return a.astype(np.int64).tobytes()
    return repr(a.tolist()).encode()


def _table_bytes(table: pd.DataFrame) -> bytes:
    out = [repr(list(table.columns)).encode()]
    for col in table.columns:
        out.append(_array_bytes(table[col].to_numpy()))
    return b"".join(out)


def test_small_run_matches_its_golden_hash(tiny_network: RoadNetwork) -> None:
    record, arrays = _run(tiny_network)
    assert record.route_choice["switched"].sum() > 0  # re-routing happened
    got = _digest(record, arrays)
    assert got == GOLDEN, (
        f"the traffic results changed (hash {got}); if the model was changed on purpose, set GOLDEN to it "
        "(see the module docstring)"
    )
