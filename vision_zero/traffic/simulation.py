"""The mesoscopic SimPy traffic simulation (see DESIGN.md "Traffic").

Contract: :func:`simulate` returns a :class:`TrafficRecord`; the risk model and the reports read only that.

The model (a link-queue model in the family of Gawron 1998 / MATSim's queue simulation, with a triangular
fundamental diagram and drivers' desired speeds):

* One SimPy :class:`~simpy.Environment` per replication, clock in seconds. Periods run one after another in it,
  each in its own window (departures in ``[0, duration_s)``, then up to ``drain_s`` for trips to finish).
* A vehicle (or platoon) enters a link and gets a running time ``length / speed`` from the link's state at
  entry: its own desired speed (:func:`desired_speed_kph`), lowered by the congested branch of a triangular
  fundamental diagram ``v = w (k_jam / k - 1)`` when the vehicles still running on the link (not yet in its
  exit queue, which is a point queue) exceed
  the critical density. It then joins the link's exit queue (FIFO).
* The head of a link leaves at the earliest time that is (a) after its running time (on the minor approach of
  an unsignalised priority junction, if ``traffic.route_choice.give_way_in_simulation`` is set, after its running
  time plus the give-way delay ``traffic.route_choice.give_way_delay_s``, :func:`give_way_delay_s`: HCM's control
  delay at low conflicting flow, analytic like the signal's green window), (b) one discharge
  headway after the previous exit (capacity: ``3600 / capacity_vph``; at a signal the saturation flow),
  (c) within a green of its approach at a signalised node (fixed-time two-phase plans), and (d) when the next
  link has storage room; otherwise it waits for room (spill-back) and after ``traffic.stuck_time_s`` enters
  anyway, so circular queues cannot freeze the network.
* One SimPy event per link exit (which is the next link's entry), plus one per departure: events are plain
  :class:`simpy.Event`-compatible objects with a callback, not a generator process per vehicle, and all
  statistics are computed afterwards with numpy from per-traversal times.

Route choice: probit (Daganzo and Sheffi 1977): each driver takes the shortest route under perceived link times,
the expected time times a lognormal perception error (``traffic.route_choice.perception_cv``; drivers fall into
``traffic.route_choice.perception_draws`` groups that share one draw of the errors per pass). Expected times are
first the drivers' mean desired-speed running times plus Webster's uniform signal delay and the give-way delay,
then the link times
simulated in the passes so far, averaged over passes. In re-routing pass ``k`` (of ``reroute_passes``) a random
share ``1 / (k + 1)`` of the trips takes its new best route (method of successive averages, Sheffi 1985 ch. 12),
so flows respond smoothly to a change in link times rather than all at once. The record of the last pass is
returned. All route-choice randomness comes from the routing stream (common random numbers).

References
----------
Gawron, C. (1998). An iterative algorithm to determine the dynamic user equilibrium in a traffic simulation
model. Int. J. Modern Physics C 9(3), 393-407.
Daganzo, C. F., Sheffi, Y. (1977). On stochastic models of traffic assignment. Transp. Sci. 11(3), 253-274.
Sheffi, Y. (1985). Urban Transportation Networks. Prentice-Hall, ch. 11-12.
Webster, F. V. (1958). Traffic signal settings. Road Research Technical Paper 39, HMSO.
Newell, G. F. (1993). A simplified theory of kinematic waves in highway traffic. Transp. Res. B 27(4), 281-303.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import simpy

from vision_zero.core.errors import DataError
from vision_zero.core.units import S_PER_HOUR, kph_to_mps
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._loop import Links, link_constants, run_period
from vision_zero.traffic._model import (
    TrafficSettings,
    desired_speed_kph,
    expected_running_time_s,
    give_way_delay_s,
    signal_plans,
)
from vision_zero.traffic._record import SPEED_BIN_KPH, TrafficRecord, build_record
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import Router, Routes, msa_switchers, perceived_costs

__all__ = [
    "SPEED_BIN_KPH",
    "TrafficRecord",
    "TrafficSettings",
    "desired_speed_kph",
    "expected_link_cost_s",
    "give_way_delay_s",
    "simulate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Vehicles:
    """Trips grouped into vehicles (platoons of ``size`` trips with the same OD and period)."""

    trip_vehicle: IntArray  # per trip: its vehicle
    period: IntArray  # per vehicle: period index
    origin: IntArray
    destination: IntArray
    depart_s: FloatArray  # per vehicle, from the period's start
    size: IntArray
    z: FloatArray
    first_trip: IntArray


def _vehicles(trips: pd.DataFrame, period_index: IntArray, z: FloatArray, platoon_size: int) -> _Vehicles:
    n = len(trips)
    o = trips["origin"].to_numpy(dtype=np.int64)
    d = trips["destination"].to_numpy(dtype=np.int64)
    dep = trips["depart_s"].to_numpy(dtype=np.float64)
    if platoon_size <= 1:
        ids = np.arange(n, dtype=np.int64)
        return _Vehicles(ids, period_index, o, d, dep, np.ones(n, dtype=np.int64), z, ids)
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
    return _Vehicles(trip_vehicle, period_index[first], o[first], d[first], dep[first], size, z[first], first)


def _check_trips(trips: pd.DataFrame, network: RoadNetwork, periods: tuple[Period, ...]) -> IntArray:
    missing = [c for c in ("trip", "period", "origin", "destination", "depart_s") if c not in trips.columns]
    if missing:
        raise DataError(
            f"trips table: missing columns {missing}; expected trip, period, origin, destination, "
            f"depart_s (got {list(trips.columns)})"
        )
    names = {p.name: i for i, p in enumerate(periods)}
    unknown = sorted(set(trips["period"].astype(str)) - set(names))
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
    pidx: IntArray = np.asarray(trips["period"].astype(str).map(names).to_numpy(), dtype=np.int64)
    dur = np.array([p.duration_s for p in periods])[pidx] if len(pidx) else np.zeros(0)
    bad = np.flatnonzero(~((dep >= 0) & (dep <= dur)))
    if bad.size:
        raise DataError(
            f"trips table: row {bad[0]}, column 'depart_s': expected seconds within the period "
            f"0..{dur[bad[0]]:.0f} (got {float(dep[bad[0]])})"
        )
    return pidx


def simulate(
    network: RoadNetwork,
    trips: pd.DataFrame,
    pedestrians: pd.DataFrame | None,
    *,
    rng: np.random.Generator,
    periods: tuple[Period, ...],
    platoon_size: int = 1,
    reroute_passes: int = 1,
    pedestrian_rng: np.random.Generator | None = None,
    routing_rng: np.random.Generator | None = None,
    settings: TrafficSettings | None = None,
    drain_s: float = S_PER_HOUR,
) -> TrafficRecord:
    """Simulate one replication of the trips on the network; return what it observed.

    Parameters
    ----------
    network
        The road network (optional link columns of interventions are honoured, see :mod:`vision_zero.network.road_network`).
    trips
        Trips table (:mod:`vision_zero.traffic.demand`): ``trip``, ``period``, ``origin``, ``destination``, ``depart_s``.
    pedestrians
        Pedestrian demand (``crossing``, ``period``, ``peds_per_h``) or None for no pedestrians.
    rng
        Drivers' stream: one standard-normal desired-speed draw per trip, in trip order (common random numbers:
        scenarios with the same trips give each driver the same relative speed). Nothing else is drawn from it.
    periods
        The periods the trips belong to, simulated in this order.
    platoon_size
        Trips with the same origin, destination and period travel as platoons of up to this many vehicles
        (one event per platoon and link; a platoon takes ``size`` storage and ``size`` discharge headways).
        Useful only when many trips share an OD pair (zone-based demand); 1 = single vehicles.
    reroute_passes
        Re-routing passes after the first simulation (0 = free-flow routes only).
    pedestrian_rng
        Stream for pedestrian arrivals (Poisson); default: a child spawned from ``rng`` (not consuming it).
    routing_rng
        Stream for route choice (perception groups, perception errors, which trips switch in a pass); its use
        depends only on the number of vehicles and links, so scenarios on the same links share it. Default: a
        second child spawned from ``rng``.
    settings
        Model numbers (default :meth:`TrafficSettings.from_parameters`).
    drain_s
        After the last departure of a period, time given to trips to finish [s]; later ones stay en route.
    """
    if platoon_size < 1 or reroute_passes < 0:
        raise DataError(
            f"simulate: expected platoon_size >= 1 and reroute_passes >= 0 "
            f"(got {platoon_size}, {reroute_passes})"
        )
    st = TrafficSettings.from_parameters() if settings is None else settings
    pidx = _check_trips(trips, network, periods)
    ped_rng = rng.spawn(1)[0] if pedestrian_rng is None else pedestrian_rng
    route_rng = rng.spawn(1)[0] if routing_rng is None else routing_rng
    z = rng.standard_normal(len(trips))
    veh = _vehicles(trips, pidx, z, platoon_size)
    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    sig = signal_plans(network, st)
    router = Router(network)
    n_links = len(links)
    mean_v = desired_speed_kph(links, np.arange(n_links), np.zeros(n_links), st)
    give_way = give_way_delay_s(network, st)
    cost0 = expected_running_time_s(links, st) + sig.uniform_delay_s()
    draws = max(1, st.route_perception_draws)
    group = route_rng.integers(0, draws, len(veh.origin))
    costs = [cost0 + give_way for _ in periods]
    routes = _route_by_period(router, veh, costs, group, route_rng, st)
    held = give_way if st.give_way_in_simulation else np.zeros(n_links)  # in the simulated times, or not
    lk = link_constants(network, sig, held, mean_v, st)
    for k in range(reroute_passes + 1):
        times, windows, close = _simulate_once(network, veh, routes, periods, lk, st, drain_s)
        if k == reroute_passes:
            break
        measured = _measured_costs(veh, routes, times, close, [cost0 + held] * len(periods), n_links)
        # expected times: the running average of the times simulated in passes 0..k (pass 0 replaces cost0), plus
        # the give-way delay where the simulation did not hold vehicles for it (``held``)
        costs = [c + (m + give_way - held - c) / (k + 1) for c, m in zip(costs, measured, strict=True)]
        chosen = msa_switchers(len(veh.origin), pass_index=k + 1, rng=route_rng)
        routes = routes.replace(
            chosen, _route_by_period(router, veh, costs, group, route_rng, st, only=chosen)
        )
    return build_record(
        network,
        trips,
        pedestrians,
        periods,
        veh.trip_vehicle,
        veh.period,
        veh.depart_s,
        veh.size,
        routes,
        times.ent,
        times.ee,
        times.ex,
        windows,
        close,
        ped_rng,
        length,
    )


def expected_link_cost_s(network: RoadNetwork, settings: TrafficSettings | None = None) -> FloatArray:
    """Drivers' expected time on each link before any simulation [s]: route choice's first costs in :func:`simulate`.

    The mean desired-speed running time, Webster's uniform signal delay and the give-way delay at priority
    junctions. Elastic demand (:func:`vision_zero.traffic.demand.elastic_trips`) compares a variant's OD times
    under these costs with its baseline's.
    """
    st = TrafficSettings.from_parameters() if settings is None else settings
    sig = signal_plans(network, st)
    out: FloatArray = (
        expected_running_time_s(network.links, st) + sig.uniform_delay_s() + give_way_delay_s(network, st)
    )
    return out


def _route_by_period(
    router: Router,
    veh: _Vehicles,
    costs: list[FloatArray],
    group: IntArray,
    rng: np.random.Generator,
    st: TrafficSettings,
    only: IntArray | None = None,
) -> Routes:
    """Best routes under perceived times: one draw of perception errors per group of drivers and period.

    ``only``: route just these vehicles (the others get empty routes); the draws consumed are the same.
    """
    n = len(veh.origin)
    wanted = np.ones(n, dtype=bool)
    if only is not None:
        wanted[:] = False
        wanted[only] = True
    draws = max(1, st.route_perception_draws)
    parts: list[tuple[IntArray, Routes]] = []
    for k, cost in enumerate(costs):
        perceived = perceived_costs(cost, rng=rng, cv=st.route_perception_cv, draws=draws)
        for g in range(draws):
            idx = np.flatnonzero((veh.period == k) & (group == g) & wanted)
            if idx.size:
                parts.append((idx, router.route(veh.origin[idx], veh.destination[idx], perceived[g])))
    lens = np.zeros(n, dtype=np.int64)
    for idx, r in parts:
        lens[idx] = r.n_links
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    flat = np.empty(int(ptr[-1]), dtype=np.int64)
    for idx, r in parts:
        dst = np.repeat(ptr[idx], r.n_links) + (np.arange(len(r.links)) - np.repeat(r.ptr[:-1], r.n_links))
        flat[dst] = r.links
    return Routes(ptr=ptr, links=flat)


@dataclass(frozen=True)
class _Times:
    """Per route position (vehicle x link): entry, end of running (queue join) and exit times [s, absolute]."""

    ent: FloatArray
    ee: FloatArray
    ex: FloatArray
    fft: FloatArray


def _simulate_once(
    network: RoadNetwork,
    veh: _Vehicles,
    routes: Routes,
    periods: tuple[Period, ...],
    lk: Links,
    st: TrafficSettings,
    drain_s: float,
) -> tuple[_Times, FloatArray, FloatArray]:
    links = network.links
    rl = routes.links
    npos = len(rl)
    nv = len(veh.origin)
    veh_of = np.repeat(np.arange(nv), routes.n_links)
    nl = np.full(npos, -1, dtype=np.int64)
    if npos:
        last = routes.ptr[1:][routes.n_links > 0] - 1
        nl[:-1] = rl[1:]
        nl[last] = -1
    v_kph = desired_speed_kph(links, rl, veh.z[veh_of], st)
    fft = links["length_m"].to_numpy(dtype=np.float64)[rl] / kph_to_mps(v_kph)
    # per-position state as typed arrays (8 bytes per value instead of a Python object per value)
    ent, ee, ex = (
        _doubles(np.full(npos, np.nan)),
        _doubles(np.full(npos, np.nan)),
        _doubles(np.full(npos, np.nan)),
    )
    rl_l, nl_l, fft_l = _ints(rl), _ints(nl), _doubles(fft)
    psz = _ints(veh.size[veh_of])
    start, stop = routes.ptr[:-1].tolist(), routes.ptr[1:].tolist()
    env = simpy.Environment()
    t0 = 0.0
    windows = np.zeros(len(periods))
    close = np.zeros(len(periods))
    for k, per in enumerate(periods):
        windows[k] = t0
        idx = np.flatnonzero(veh.period == k)
        idx = idx[np.argsort(veh.depart_s[idx], kind="stable")]
        dep = (t0 + veh.depart_s[idx]).tolist()
        t_end = t0 + per.duration_s + drain_s
        run_period(env, t_end, idx.tolist(), dep, start, stop, rl_l, nl_l, fft_l, psz, ent, ee, ex, lk, st)
        close[k] = t_end
        t0 = t_end
    as_np = [np.frombuffer(a, dtype=np.float64).copy() for a in (ent, ee, ex)]
    return _Times(as_np[0], as_np[1], as_np[2], fft), windows, close


def _doubles(values: FloatArray) -> array[float]:
    out = array("d")
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def _ints(values: IntArray) -> array[int]:
    out = array("q")
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return out


def _measured_costs(
    veh: _Vehicles, routes: Routes, times: _Times, close: FloatArray, prev: list[FloatArray], n_links: int
) -> list[FloatArray]:
    """Mean simulated link travel time per period; links unused in a period keep their previous cost.

    Traversals still on the link when the period's window closed count with their time so far (a lower bound):
    leaving them out would make a gridlocked link look fast, because only its early vehicles got through.
    """
    veh_of = np.repeat(np.arange(len(veh.origin)), routes.n_links)
    per = veh.period[veh_of]
    entered = np.isfinite(times.ent)
    tt = np.where(np.isfinite(times.ex), times.ex, close[per]) - times.ent
    out = []
    for k, c in enumerate(prev):
        m = entered & (per == k)
        cnt = np.bincount(routes.links[m], minlength=n_links)
        tot = np.bincount(routes.links[m], weights=tt[m], minlength=n_links)
        out.append(np.where(cnt > 0, tot / np.maximum(cnt, 1), c))
    return out
