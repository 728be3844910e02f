"""One simulation of given routes (the network loading) and what the route choice reads of it.

Private helper of :mod:`vision_zero.traffic.simulation` (which documents the model): every period of the vehicles'
routes through the event loop (:mod:`vision_zero.traffic._loop`) in one SimPy environment, the per-position times
(:class:`Times`), the simulated link costs per departure slice and each movement's extra time, each route's cost
under them and the log's figures of the driving (:func:`simulated`), and the running times a re-routing iteration
carries over to the next simulation (:func:`carried`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import simpy

from vision_zero.core.units import kph_to_mps
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._loop import EventLoop, Links, Records
from vision_zero.traffic._model import (
    TrafficSettings,
    compliance_draws,
    desired_speed_kph,
    free_flow_speed_kph,
)
from vision_zero.traffic._position_kernels import carried_values, slice_costs
from vision_zero.traffic._vehicles import Slices, Vehicles
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import Router, Routes, route_cost_s

__all__ = ["Times", "carried", "simulated"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _mean_trip_s(routes: Routes, times: Times, windows: FloatArray, veh: Vehicles) -> float:
    """Mean time from departure to arrival of the trips that arrived [s] (NaN if none did)."""
    has = routes.n_links > 0
    arrive = np.full(len(veh.origin), np.nan)
    arrive[has] = times.ex[routes.ptr[1:][has] - 1]
    tt = arrive - (windows[veh.period] + veh.depart_s)
    ok = np.isfinite(tt)
    return float(np.sum(tt[ok] * veh.size[ok]) / veh.size[ok].sum()) if ok.any() else math.nan


def _arrived_share(routes: Routes, times: Times, veh: Vehicles) -> float:
    """Arrived / routed vehicles, weighted by platoon size (the record summary's ``share_arrived``; 1 if none)."""
    has = routes.n_links > 0
    arrived = np.isfinite(times.ex[routes.ptr[1:][has] - 1])
    routed = float(veh.size[has].sum())
    return float(veh.size[has][arrived].sum() / routed) if routed > 0 else 1.0


def _turns_per_trip(router: Router, routes: Routes, veh: Vehicles, edges: IntArray) -> float:
    routed = routes.n_links > 0
    if not routed.any():
        return 0.0
    w = veh.size[routed].astype(np.float64)
    return float(np.sum(router.turns(routes, edges)[routed] * w) / w.sum())


#: route positions per block of :func:`_simulate_once`'s elementwise per-position work
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Times:
    """Per route position (vehicle x link): entry, end of running (queue join) and exit times [s, absolute]."""

    ent: FloatArray
    ee: FloatArray
    ex: FloatArray
    fft: FloatArray
    stuck_moves: IntArray  # per period: first-in-line vehicles moved into a full link after stuck_time_s
    held: BoolArray  # held at the link's end: it left from rest (a red, a give-way, a standing queue)


def simulated(
    network: RoadNetwork,
    veh: Vehicles,
    periods: tuple[Period, ...],
    lk: Links,
    st: TrafficSettings,
    drain_s: float,
    records: Records,
    router: Router,
    slices: Slices,
    cost0: FloatArray,
    routes: Routes,
    known: tuple[FloatArray, BoolArray] | None,
    extra_s: FloatArray,
) -> tuple[Times, FloatArray, FloatArray, IntArray, FloatArray, FloatArray, FloatArray, dict[str, float]]:
    """One simulation of ``routes`` (:func:`_simulate_once`) and what the route choice reads of it.

    Its times, window starts and ends, the routes' turn-graph edges, the link costs per slice (plus ``extra_s``)
    and movement extras (:func:`_slice_costs`), each vehicle's route cost and the log's figures of the driving.
    """
    times, windows, close = _simulate_once(network, veh, routes, periods, lk, st, drain_s, known, records)
    edges = router.edge_ids(routes)
    costs, turn_s = _slice_costs(veh, routes, times, windows, close, slices, cost0, edges, router.n_edges)
    costs += extra_s
    current = route_cost_s(routes, costs, slices.row, turn_s, edges)
    driven = {
        "turns_per_trip": _turns_per_trip(router, routes, veh, edges),
        "mean_trip_s": _mean_trip_s(routes, times, windows, veh),
        "arrived_share": _arrived_share(routes, times, veh),
    }
    return times, windows, close, edges, costs, turn_s, current, driven


def carried(old: Routes, new: Routes, changed: IntArray, values: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Per position of ``new``: ``values`` (per position of ``old``) where its vehicle is not in ``changed``.

    ``new`` is ``old`` with the routes of vehicles ``changed`` replaced (:meth:`Routes.replace`). Returns the
    carried values (unset where not carried) and the mask of the positions that were not carried.
    """
    keep = np.ones(len(new), dtype=bool)
    keep[changed] = False
    out: tuple[FloatArray, BoolArray] = carried_values(old.ptr, new.ptr, keep, values)  # compiled pass
    return out


def _simulate_once(
    network: RoadNetwork,
    veh: Vehicles,
    routes: Routes,
    periods: tuple[Period, ...],
    lk: Links,
    st: TrafficSettings,
    drain_s: float,
    known: tuple[FloatArray, BoolArray] | None = None,
    records: Records | None = None,
) -> tuple[Times, FloatArray, FloatArray]:
    """One simulation of every period on ``routes``: per-position times, the periods' window starts and ends.

    ``known``: running times per position already known (a vehicle's desired speed on a link does not depend on
    the rest of its route) and the mask of the positions still to compute (:func:`carried`); default: all.
    ``records``: the event loop's per-position memory (:class:`~vision_zero.traffic._loop.Records`), reused by
    the equilibrium's simulations; default: new memory.
    """
    links = network.links
    rl = routes.links
    npos = len(rl)
    # running times, elementwise over the positions: in blocks, so the desired speed's dozen temporaries stay
    # small (a city's day has tens of millions of positions); the same numbers as in one go
    length = links["length_m"].to_numpy(dtype=np.float64)
    ff = free_flow_speed_kph(links, st.offset_kph, st.hcm)

    def running(at: slice | IntArray, who: npt.NDArray[np.integer]) -> None:
        """The running times of positions ``at`` (of vehicles ``who``) into ``fft``."""
        z = veh.z[who]
        v_kph = desired_speed_kph(links, rl[at], z, st, compliance_draw=compliance_draws(z), free_flow_kph=ff)
        fft[at] = length[rl[at]] / kph_to_mps(v_kph)

    if known is None:
        fft = np.empty(npos)
        veh_of = np.repeat(np.arange(len(veh.origin), dtype=np.int32), routes.n_links)  # its vehicle
        for a in range(0, npos, _BLOCK):
            running(slice(a, a + _BLOCK), veh_of[a : a + _BLOCK])
        del veh_of
    else:  # the few positions of changed routes: their vehicles by bisection, not a per-position array
        fft, mask = known
        todo = np.flatnonzero(mask)
        for a in range(0, len(todo), _BLOCK):
            at = todo[a : a + _BLOCK]
            running(at, np.searchsorted(routes.ptr, at, side="right") - 1)
        del todo
    # the loop derives each position's next link and platoon in its own pass (no per-position arrays here)
    loop = EventLoop(lk, st, rl, fft, veh.size, routes.ptr[:-1], routes.ptr[1:], records)
    env = simpy.Environment()
    t0 = 0.0
    windows = np.zeros(len(periods))
    close = np.zeros(len(periods))
    stuck = np.zeros(len(periods), dtype=np.int64)
    for k, per in enumerate(periods):
        windows[k] = t0
        idx = np.flatnonzero(veh.period == k)
        idx = idx[np.argsort(veh.depart_s[idx], kind="stable")]
        t_end = t0 + per.duration_s + drain_s
        stuck[k] = loop.run_period(env, t_end, idx, t0 + veh.depart_s[idx])
        close[k] = t_end
        t0 = t_end
    ent, ee, ex, held = loop.results()
    return Times(ent, ee, ex, fft, stuck, held), windows, close


def _slice_costs(
    veh: Vehicles,
    routes: Routes,
    times: Times,
    windows: FloatArray,
    close: FloatArray,
    slices: Slices,
    empty_s: FloatArray,
    edges: IntArray,
    n_edges: int,
) -> tuple[FloatArray, FloatArray]:
    """Simulated link travel times per (period, time slice of link entry) and link, and each movement's extra.

    Returns ``(costs, turn_s)``: ``costs`` of shape (rows, links) is the mean time on the link of the vehicles
    that entered it in the slice (``empty_s``, its expected free-flow time, where nobody did); ``turn_s`` (one
    per turn-graph edge, :meth:`Router.edge_ids`) is the mean difference between the time on the link of the
    vehicles that entered it by that movement (or started on it) and the slice's mean, over all slices (0 where
    unused). At signals this difference is large: a vehicle that turned left its last junction in the other
    phase and meets a red at the next, while through traffic rides the green. Traversals still on the link when
    the period's window closed count with their time so far (a lower bound): leaving them out would make a
    gridlocked link look fast, because only its early vehicles got through.
    """
    # one compiled pass for the rows' means, one for the movements' deviations (only the traversals that began
    # count; their row: the slice of the entry, :func:`slice_of` clipped to the period's slices)
    mean, turn_s = slice_costs(
        routes.ptr,
        routes.links,
        times.ent,
        times.ex,
        edges,
        veh.period,
        veh.size,
        windows,
        close,
        slices.offset,
        slices.count,
        float(slices.slice_s),
        np.asarray(empty_s, dtype=np.float64),
        slices.n_rows,
        n_edges,
    )
    costs: FloatArray = mean.reshape(slices.n_rows, len(empty_s))
    return costs, turn_s
