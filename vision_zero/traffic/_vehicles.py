"""The trips as the simulation's vehicles, and the vehicles' best routes per departure slice.

Private helper of :mod:`vision_zero.traffic.simulation` (which documents the model): the trips table's checks
(:func:`check_trips`), each driver's desired-speed draw (:func:`driver_draws`, re-exported by the simulation), trips
grouped into vehicles (:class:`Vehicles`, :func:`group_vehicles`: platoons of trips with the same origin,
destination and period), their departure slices' rows of link costs (:class:`Slices`) and their best routes under
those costs (:func:`best_routes`; with probit perception errors, :func:`perceived_routes`), which both phases of the
route choice search (:mod:`vision_zero.traffic._route_choice`, :mod:`vision_zero.traffic._band_phase`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._model import TrafficSettings
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import Router, Routes, perceived_costs, slice_of

__all__ = [
    "Slices",
    "Vehicles",
    "best_routes",
    "check_trips",
    "driver_draws",
    "group_vehicles",
    "perceived_routes",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Vehicles:
    """Trips grouped into vehicles (platoons of ``size`` trips with the same OD and period)."""

    trip_vehicle: IntArray  # per trip: its vehicle
    period: IntArray  # per vehicle: period index
    origin: IntArray
    destination: IntArray
    depart_s: FloatArray  # per vehicle, from the period's start
    size: IntArray
    z: FloatArray
    first_trip: IntArray
    key: IntArray  # per vehicle: its driver, the draw id of its first trip (HeldRoutes.key)


def group_vehicles(trips: pd.DataFrame, period_index: IntArray, z: FloatArray, platoon_size: int) -> Vehicles:
    n = len(trips)
    o = trips["origin"].to_numpy(dtype=np.int64)
    d = trips["destination"].to_numpy(dtype=np.int64)
    dep = trips["depart_s"].to_numpy(dtype=np.float64)
    draw = trips["draw"].to_numpy(dtype=np.int64) if "draw" in trips.columns else np.arange(n, dtype=np.int64)
    if platoon_size <= 1:
        ids = np.arange(n, dtype=np.int64)
        return Vehicles(ids, period_index, o, d, dep, np.ones(n, dtype=np.int64), z, ids, draw)
    order = np.lexsort((dep, d, o, period_index))
    key_change = np.ones(n, dtype=bool)
    if n:
        key_change[1:] = (
            (np.diff(period_index[order]) != 0) | (np.diff(o[order]) != 0) | (np.diff(d[order]) != 0)
        )
    grp = np.cumsum(key_change) - 1
    grp_start = np.flatnonzero(key_change)
    rank = np.arange(n) - grp_start[grp]
    veh_key = grp * (n + 1) + rank // platoon_size
    uniq, veh_sorted = np.unique(veh_key, return_inverse=True)
    trip_vehicle = np.empty(n, dtype=np.int64)
    trip_vehicle[order] = veh_sorted
    nv = len(uniq)
    first = np.full(nv, n, dtype=np.int64)
    np.minimum.at(first, trip_vehicle, np.arange(n))  # trips are sorted by departure within a period
    size = np.bincount(trip_vehicle, minlength=nv).astype(np.int64)
    return Vehicles(
        trip_vehicle, period_index[first], o[first], d[first], dep[first], size, z[first], first, draw[first]
    )


def driver_draws(trips: pd.DataFrame, rng: np.random.Generator) -> FloatArray:
    """Each trip's standard-normal desired-speed draw: the ``k``-th draw of ``rng`` for the trip of draw id ``k``.

    The draw id is the trips table's optional ``draw`` column (ids >= 0, each at most once), else the row
    number. Elastic demand (:func:`vision_zero.traffic.demand.elastic_trips`) gives a variant's trips the ids of
    its baseline's, so a removed trip leaves a gap and every other trip keeps its baseline driver (common random
    numbers); a draw id is thus a driver, whatever the trips around it.
    """
    if "draw" not in trips.columns:
        return rng.standard_normal(len(trips))
    ids = trips["draw"].to_numpy(dtype=np.int64)
    if len(ids) and (ids.min() < 0 or len(np.unique(ids)) != len(ids)):
        raise DataError("trips table: column 'draw': expected distinct ids >= 0")
    out: FloatArray = rng.standard_normal(int(ids.max()) + 1 if len(ids) else 0)[ids]
    return out


def check_trips(trips: pd.DataFrame, network: RoadNetwork, periods: tuple[Period, ...]) -> IntArray:
    missing = [c for c in ("trip", "period", "origin", "destination", "depart_s") if c not in trips.columns]
    if missing:
        raise DataError(
            f"trips table: missing columns {missing}; expected trip, period, origin, destination, "
            f"depart_s (got {list(trips.columns)})"
        )
    names = {p.name: i for i, p in enumerate(periods)}
    # the distinct names first: a Python set over an Arrow-backed string column builds one str per trip
    # (~9 ms per 10k trips, #16); the periods' positions by one indexer, not a per-trip dict lookup
    period = trips["period"].astype(str)
    unknown = sorted(set(period.unique()) - set(names))
    if unknown:
        raise DataError(f"trips table: column 'period': expected one of {sorted(names)} (got {unknown[0]!r})")
    n_nodes = len(network.nodes)
    for col in ("origin", "destination"):
        val = trips[col].to_numpy()
        if len(val) and (val.min() < 0 or val.max() >= n_nodes):
            raise DataError(
                f"trips table: column {col!r}: expected node ids 0..{n_nodes - 1} "
                f"(got {int(val.min())}..{int(val.max())})"
            )
    dep = trips["depart_s"].to_numpy(dtype=np.float64)
    pidx: IntArray = np.fromiter(names.values(), dtype=np.int64, count=len(names))[
        pd.Index(list(names)).get_indexer(pd.Index(period))
    ]
    dur = np.array([p.duration_s for p in periods])[pidx] if len(pidx) else np.zeros(0)
    bad = np.flatnonzero(~((dep >= 0) & (dep <= dur)))
    if bad.size:
        raise DataError(
            f"trips table: row {bad[0]}, column 'depart_s': expected seconds within the period "
            f"0..{dur[bad[0]]:.0f} (got {float(dep[bad[0]])})"
        )
    return pidx


@dataclass(frozen=True)
class Slices:
    """Time slices of departure: one row of link costs per (period, slice); each vehicle's row."""

    row: IntArray  # per vehicle
    offset: IntArray  # per period: its first row
    count: IntArray  # per period: its number of slices
    slice_s: float

    @property
    def n_rows(self) -> int:
        return int(self.count.sum())

    @classmethod
    def of(cls, veh: Vehicles, periods: tuple[Period, ...], slice_s: float) -> Slices:
        if not slice_s > 0:
            raise DataError(f"traffic.route_choice.slice_s: expected seconds > 0 (got {slice_s})")
        count = np.array([max(1, math.ceil(p.duration_s / slice_s)) for p in periods], dtype=np.int64)
        offset = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
        row = offset[veh.period] + slice_of(veh.depart_s, slice_s, 1 << 62)
        row = np.minimum(row, offset[veh.period] + count[veh.period] - 1)
        return cls(row=row, offset=offset, count=count, slice_s=slice_s)


def best_routes(
    router: Router,
    veh: Vehicles,
    slices: Slices,
    costs: FloatArray,
    turn_s: FloatArray | None,
    only: IntArray | None = None,
    *,
    paths: bool = True,
    limit_s: FloatArray | None = None,
) -> tuple[FloatArray, Routes]:
    """Cost and links of the best route of every vehicle (or of ``only``; the others: inf and an empty route).

    Under its departure slice's link costs plus the turns' extra times: one tree per origin and slice.
    ``limit_s``: per vehicle, the cost beyond which its best route is not wanted (:meth:`Router.shortest`).
    """
    return router.best_by_row(
        veh.origin, veh.destination, slices.row, costs, turn_s, only, paths=paths, limit_s=limit_s
    )


def perceived_routes(
    router: Router,
    veh: Vehicles,
    slices: Slices,
    costs: FloatArray,
    group: IntArray,
    rng: np.random.Generator,
    st: TrafficSettings,
    only: IntArray | None,
    turn_s: FloatArray | None,
) -> Routes:
    """Best routes of the vehicles ``only`` (default: all; the others get empty routes).

    Without perception errors (``perception_cv = 0``, the default) the best routes under each departure slice's
    link costs; with them (the probit sensitivity option) under one draw of perceived costs per group of drivers
    and slice (the draws consumed are the same whoever is routed).
    """
    n = len(veh.origin)
    wanted = np.ones(n, dtype=bool)
    if only is not None:
        wanted[:] = False
        wanted[only] = True
    draws = max(1, st.route_perception_draws) if st.route_perception_cv > 0 else 1
    if draws == 1:
        return best_routes(router, veh, slices, costs, turn_s, np.flatnonzero(wanted))[1]
    parts: list[tuple[IntArray, Routes]] = []
    for r in range(slices.n_rows):
        perceived = perceived_costs(costs[r], rng=rng, cv=st.route_perception_cv, draws=draws)
        for g in range(draws):
            idx = np.flatnonzero((slices.row == r) & (group == g) & wanted)
            if idx.size:
                rt = router.shortest(veh.origin[idx], veh.destination[idx], perceived[g], turn_s)[1]
                parts.append((idx, rt))
    return Routes.concat_by_index(n, parts)
