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
* The head of a link leaves at the earliest time that is (a) after its running time, (b) one discharge
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
first the drivers' mean desired-speed running times plus Webster's uniform signal delay, then the link times
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

import math
from array import array
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import simpy
from scipy.special import ndtr

from vision_zero._traffic_record import build_record
from vision_zero.errors import DataError
from vision_zero.network import RoadNetwork
from vision_zero.parameters import ParameterSet, load_parameters
from vision_zero.periods import Period
from vision_zero.routing import Router, Routes, msa_switchers, perceived_costs
from vision_zero.units import M_PER_KM, S_PER_HOUR, kph_to_mps

__all__ = [
    "SPEED_BIN_KPH",
    "TrafficRecord",
    "TrafficSettings",
    "desired_speed_kph",
    "give_way_delay_s",
    "simulate",
]

#: Width of the speed histogram bins [km/h].
SPEED_BIN_KPH = 5.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TrafficRecord:
    """What one replication of the simulation observed, per period.

    Attributes
    ----------
    periods
        The simulated periods, in order.
    link_stats
        One row per (period, link) with traffic: ``period`` str, ``link`` int, ``entries`` int [veh],
        ``veh_km`` float, ``veh_h`` float, ``mean_speed_kph``, ``p85_speed_kph`` float (space-mean over the
        vehicles that traversed the link), ``share_over_limit`` float [0-1], ``max_queue_veh`` float.
        Added: ``travel_speed_kph`` (veh_km / veh_h, including queueing and signal delay). Speeds are each
        vehicle's running speed over the link (length / running time, before it joins the exit queue); the mean
        is over vehicles, the 85th percentile the speed 85% of vehicles do not exceed. ``veh_km``/``veh_h``
        count the traversals completed by the end of the period's window; ``entries`` all that began.
    passages
        One row per vehicle passing a crossing: ``period`` str, ``crossing`` int, ``t_s`` float (seconds from the
        period's start), ``speed_kph`` float (the vehicle's approach speed). Added: ``link`` int, ``stopped``
        bool (the vehicle had waited at the stop line, at a crossing on a node, so it passes from rest).
    pedestrians
        One row per pedestrian arriving to cross: ``period`` str, ``crossing`` int, ``t_s`` float.
    trips
        One row per vehicle trip: ``trip`` int, ``period`` str, ``origin``/``destination`` int (node ids),
        ``depart_s``, ``arrive_s`` float (NaN if still en route at the end), ``travel_time_s`` float (NaN if en
        route), ``veh_km`` float, ``completed`` bool. Added: ``routed`` bool (False: no path, or origin = destination;
        such a trip never departs and is neither completed nor en route).
    speed_hist
        Sparse histogram of vehicle link speeds: ``period`` str, ``link`` int, ``bin_lo_kph`` float, ``count`` int,
        bins of :data:`SPEED_BIN_KPH` width.
    """

    periods: tuple[Period, ...]
    link_stats: pd.DataFrame
    passages: pd.DataFrame
    pedestrians: pd.DataFrame
    trips: pd.DataFrame
    speed_hist: pd.DataFrame


@dataclass(frozen=True)
class TrafficSettings:
    """The numbers of the traffic model (from ``traffic.toml`` / ``network.toml``; see there for sources)."""

    offset_kph: float
    cv: float
    min_speed_kph: float
    backward_wave_kph: float
    jam_density_veh_per_km_lane: float
    stuck_time_s: float
    cycle_s: float
    lost_time_per_phase_s: float
    saturation_flow_vphpl: float
    route_perception_cv: float
    route_perception_draws: int
    give_way_delay_s: float = 0.0

    @classmethod
    def from_parameters(cls, params: ParameterSet | None = None) -> TrafficSettings:
        """Central values from a parameter set (default: the shipped files)."""
        p = load_parameters() if params is None else params
        return cls.from_values(p.central())

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> TrafficSettings:
        """From parameter values by dotted name, e.g. one replication's ``ParameterSet.draw(rng)``."""
        return cls(
            offset_kph=values["traffic.desired_speed.offset_kph"],
            cv=values["traffic.desired_speed.cv"],
            min_speed_kph=values["traffic.desired_speed.min_kph"],
            backward_wave_kph=values["traffic.backward_wave_speed_kph"],
            jam_density_veh_per_km_lane=values["network.jam_density_veh_per_km_per_lane"],
            stuck_time_s=values["traffic.stuck_time_s"],
            cycle_s=values["traffic.signal.cycle_s"],
            lost_time_per_phase_s=values["traffic.signal.lost_time_per_phase_s"],
            saturation_flow_vphpl=values["traffic.signal.saturation_flow_vphpl"],
            route_perception_cv=values["traffic.route_choice.perception_cv"],
            route_perception_draws=int(values["traffic.route_choice.perception_draws"]),
            give_way_delay_s=values["traffic.route_choice.give_way_delay_s"],
        )


def _col(links: pd.DataFrame, name: str, default: FloatArray | float) -> FloatArray:
    if name in links.columns:
        return links[name].to_numpy(dtype=np.float64)
    return np.broadcast_to(np.asarray(default, dtype=np.float64), (len(links),)).astype(np.float64)


def desired_speed_kph(
    links: pd.DataFrame, link: IntArray, z: FloatArray, settings: TrafficSettings
) -> FloatArray:
    """Desired speed of drivers with standard-normal draws ``z`` on links ``link`` [km/h].

    ``mean = reference + offset + speed_response x (limit - reference)`` (SCIENCE.md §4, §8); the driver's speed
    is ``mean x (1 + cv z)``; the part above the limit is scaled by ``over_limit_factor``; where
    ``design_speed_kph`` is set the speed is capped at ``design x (1 + cv z)`` (the same driver is as relatively
    fast on a calmed street); never below ``min_speed_kph``.

    ``mean_speed_factor`` and ``over_limit_factor`` (speed cameras) are two measured outcomes of one measure
    (Wilson et al. 2010: the mean speed falls by ``1 - mean_speed_factor``, the excess over the limit shrinks), not
    two effects to multiply: the over-limit compression already lowers the mean by
    ``(1 - over_limit_factor) x E[(v - limit)+]`` (normal partial expectation), and all speeds are scaled by
    ``min(1, mean_speed_factor x mean / compressed mean)`` only for the rest of the measured fall in the mean.
    """
    limit = links["speed_limit_kph"].to_numpy(dtype=np.float64)
    ref = _col(links, "reference_speed_kph", limit)
    resp = _col(links, "speed_response", 1.0)
    msf = _col(links, "mean_speed_factor", 1.0)
    olf = _col(links, "over_limit_factor", 1.0)
    design = _col(links, "design_speed_kph", np.nan)
    lim, r = limit[link], ref[link]
    mean = r + settings.offset_kph + resp[link] * (lim - r)
    rel = 1.0 + settings.cv * z
    v = mean * rel
    o = olf[link]
    v = np.where(v > lim, lim + o * (v - lim), v) * _mean_scale(mean, lim, o, msf[link], settings.cv)
    d = design[link]
    v = np.where(np.isfinite(d), np.minimum(v, d * rel), v)
    return np.maximum(v, settings.min_speed_kph)


def _mean_scale(
    mean: FloatArray, limit: FloatArray, over_limit_factor: FloatArray, mean_factor: FloatArray, cv: float
) -> FloatArray:
    """Factor on all speeds so the mean falls by ``mean_factor`` in all, counting the over-limit compression."""
    sd = np.maximum(cv * mean, 1e-9)
    d = (mean - limit) / sd
    excess = sd * np.exp(-0.5 * d * d) / math.sqrt(2.0 * math.pi) + (mean - limit) * ndtr(d)
    compressed = mean - (1.0 - over_limit_factor) * excess
    out: FloatArray = np.minimum(1.0, mean_factor * mean / np.maximum(compressed, 1e-9))
    return np.where(over_limit_factor < 1.0, out, mean_factor)


@dataclass(frozen=True)
class _Signals:
    cycle_s: FloatArray  # per link; 0 = the link's end is not signalised
    offset_s: FloatArray
    green_s: FloatArray

    def uniform_delay_s(self) -> FloatArray:
        """Webster's first (uniform) delay term at low flow, c (1 - lambda)^2 / 2, per link [s]."""
        c = self.cycle_s
        lam = np.divide(self.green_s, c, out=np.ones_like(c), where=c > 0)
        return np.where(c > 0, 0.5 * c * (1.0 - lam) ** 2, 0.0)


def _signals(network: RoadNetwork, settings: TrafficSettings) -> _Signals:
    """Fixed-time two-phase plans at signal-controlled nodes.

    Approaches are grouped by axis (mostly east-west vs north-south, from the link's bearing); effective green
    ``cycle - 2 x lost time`` is split between the two groups in proportion to their widest approach (lanes);
    offsets are a fixed pseudo-random function of the node's OSM id (uncoordinated signals, the same in every
    scenario and replication; an arithmetic sequence would give neighbouring signals a systematic bad progression).
    """
    nodes, links = network.nodes, network.links
    n = len(links)
    if "junction_control" in nodes.columns:
        sig_node = (nodes["junction_control"].astype(str) == "signal").to_numpy()
    else:
        sig_node = nodes["signalised"].to_numpy(dtype=bool)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    x, y = nodes["x_m"].to_numpy(dtype=np.float64), nodes["y_m"].to_numpy(dtype=np.float64)
    phase = (np.abs(x[v] - x[u]) < np.abs(y[v] - y[u])).astype(np.int64)
    lanes = links["lanes"].to_numpy(dtype=np.float64)
    on = sig_node[v]
    c = settings.cycle_s
    lost = settings.lost_time_per_phase_s
    w = np.zeros((len(nodes), 2))
    np.maximum.at(w, (v[on], phase[on]), lanes[on])
    tot = w.sum(axis=1)
    g = np.divide((c - 2 * lost) * w, tot[:, None], out=np.zeros_like(w), where=tot[:, None] > 0)
    node_off = _hash_unit(nodes["osmid"].to_numpy(dtype=np.int64)) * c
    cycle = np.where(on, c, 0.0)
    green = g[v, phase]
    offset = node_off[v] + np.where(phase == 1, g[v, 0] + lost, 0.0)
    return (
        _Signals(
            cycle_s=cycle.astype(np.float64),
            offset_s=np.where(on, offset, 0.0),
            green_s=np.where(on, green, 0.0),
        )
        if n
        else _Signals(np.zeros(0), np.zeros(0), np.zeros(0))
    )


def _hash_unit(ids: IntArray) -> FloatArray:
    """A fixed, well-mixed map of integer ids to [0, 1) (SplitMix64 finaliser; Steele et al. 2014)."""
    z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


class _Call:
    """A pre-triggered SimPy event with one callback: what SimPy's ``step`` needs, and nothing more.

    SimPy processes an event by calling each entry of ``callbacks`` and then checking ``_ok``; sharing one
    callbacks tuple per kind of event and keeping ``_ok`` on the class makes an event two attribute stores, far
    cheaper than a ``Timeout`` or a generator process per vehicle (DESIGN.md "Performance").
    """

    __slots__ = ("arg", "callbacks", "t", "tok")  # tok: only on stuck-timer events
    _ok = True
    _value = None
    tok: int

    def __init__(self, callbacks: tuple[Callable[[Any], None], ...], arg: int, t: float) -> None:
        self.callbacks: tuple[Callable[[Any], None], ...] | None = callbacks
        self.arg = arg
        self.t = t


@dataclass
class _Links:
    """Per-link constants of the hot loop, as Python lists (fast scalar access)."""

    length_m: list[float]
    headway_s: list[float]
    storage: list[float]
    n_crit: list[float]
    jam_per_m: list[float]
    cycle_s: list[float]
    offset_s: list[float]
    green_s: list[float]


def _run_period(
    env: simpy.Environment,
    t_end: float,
    order: list[int],
    depart_abs: list[float],
    start: list[int],
    stop: list[int],
    rl: array[int],
    nl: array[int],
    fft: array[float],
    psz: array[int],
    ent: array[float],
    ee: array[float],
    ex: array[float],
    lk: _Links,
    settings: TrafficSettings,
) -> None:
    """Simulate one period's vehicles until ``t_end`` (absolute clock), filling ent/ee/ex in place.

    The exit of a link's head vehicle (``on_head``) is the hot path: it is written out in one function, with the
    next link's entry and both links' next-exit scheduling inlined, because Python function calls cost as much
    as the arithmetic here. Rare paths (congested entry, blocked head, waiting departures) are helpers.
    """
    n_links = len(lk.length_m)
    non = [0] * n_links  # vehicles on the link
    qs: list[list[int]] = [[] for _ in range(n_links)]  # FIFO of route positions (append-only, head index)
    qh = [0] * n_links
    qp = [0] * n_links  # first position not yet at the end of its running time (queue pointer)
    busy = [False] * n_links  # an exit event is pending for the head, or the head is blocked
    blocked = [False] * n_links
    tok = [0] * n_links
    nslot = [-math.inf] * n_links  # earliest next discharge
    waiters: dict[int, deque[int]] = {}  # link -> links (>= 0) and departures (-1 - vehicle) waiting for room
    nwait = [0] * n_links  # len(waiters[link]), as a list for a cheap test on the hot path
    alive = [True]
    schedule: Any = env.schedule  # takes _Call events (SimPy's event protocol) and an int priority
    length, hw, sto, ncrit, kjl = lk.length_m, lk.headway_s, lk.storage, lk.n_crit, lk.jam_per_m
    cyc, off, grn = lk.cycle_s, lk.offset_s, lk.green_s
    w_mps = kph_to_mps(settings.backward_wave_kph)
    vmin_mps = kph_to_mps(settings.min_speed_kph)
    stuck = settings.stuck_time_s

    def head(li: int, t: float) -> None:
        """Schedule the exit of link ``li``'s head: after its running time, a free discharge slot and on green."""
        te = ee[qs[li][qh[li]]]
        if te < t:
            te = t
        ns = nslot[li]
        if te < ns:
            te = ns
        c = cyc[li]
        if c > 0.0:
            phi = (te - off[li]) % c
            if phi >= grn[li]:
                te += c - phi
        schedule(_Call(HEAD, li, te), 1, te - t)

    def congested(m: int, t: float, r: float) -> float:
        """Running time on ``m`` under the triangular diagram's congested branch (running vehicles only)."""
        lst = qs[m]
        k = qp[m]
        hd = qh[m]
        if k < hd:
            k = hd
        ln = len(lst)
        while k < ln and ee[lst[k]] <= t:
            k += 1
        qp[m] = k
        moving = ln - k
        if moving >= ncrit[m]:
            lm = length[m]
            v = w_mps * (kjl[m] * lm / (moving + 1) - 1.0)
            if v < vmin_mps:
                v = vmin_mps
            if lm / v > r:
                return lm / v
        return r

    def enter(p: int, m: int, t: float) -> None:
        ent[p] = t
        n = non[m]
        non[m] = n + psz[p]
        r = fft[p]
        if n >= ncrit[m]:
            r = congested(m, t, r)
        ee[p] = t + r
        qs[m].append(p)
        if not busy[m]:
            busy[m] = True
            head(m, t)

    def wait_for_room(m: int, who: int) -> None:
        w = waiters.get(m)
        if w is None:
            w = waiters[m] = deque()
        nwait[m] += 1
        w.append(who)

    def depart_enter(veh: int, t: float) -> None:
        p = start[veh]
        m = rl[p]
        nm = non[m]
        if nm > 0 and nm + psz[p] > sto[m]:
            wait_for_room(m, -1 - veh)
        else:
            enter(p, m, t)

    def wake(li: int, t: float) -> None:
        """Room was freed on ``li``: let the first one waiting for it try again."""
        x = waiters[li].popleft()
        nwait[li] -= 1
        if x >= 0:
            if blocked[x]:
                blocked[x] = False
                head(x, t)
        else:
            depart_enter(-1 - x, t)

    def block(li: int, m: int, t: float) -> None:
        blocked[li] = True
        tok[li] += 1
        wait_for_room(m, li)
        ev = _Call(STUCK, li, t + stuck)
        ev.tok = tok[li]
        schedule(ev, 1, stuck)

    def on_head(ev: _Call) -> None:
        if not alive[0]:
            return
        li = ev.arg
        t = ev.t
        lst = qs[li]
        hd = qh[li]
        p = lst[hd]
        s = psz[p]
        m = nl[p]
        if m >= 0:
            nm = non[m]
            if nm > 0 and nm + s > sto[m]:
                block(li, m, t)
                return
            # the next link's entry, inlined
            p1 = p + 1
            ent[p1] = t
            non[m] = nm + s
            r = fft[p1]
            if nm >= ncrit[m]:
                r = congested(m, t, r)
            te = t + r
            ee[p1] = te
            qs[m].append(p1)
            if not busy[m]:
                busy[m] = True
                ns = nslot[m]
                if te < ns:
                    te = ns
                c = cyc[m]
                if c > 0.0:
                    phi = (te - off[m]) % c
                    if phi >= grn[m]:
                        te += c - phi
                schedule(_Call(HEAD, m, te), 1, te - t)
        ex[p] = t
        hd += 1
        qh[li] = hd
        non[li] -= s
        ns = t + hw[li] * s
        nslot[li] = ns
        if nwait[li]:
            wake(li, t)
        if hd < len(lst):
            te = ee[lst[hd]]
            if te < ns:
                te = ns
            c = cyc[li]
            if c > 0.0:
                phi = (te - off[li]) % c
                if phi >= grn[li]:
                    te += c - phi
            schedule(_Call(HEAD, li, te), 1, te - t)
        else:
            busy[li] = False

    def on_stuck(ev: _Call) -> None:
        li = ev.arg
        if not alive[0] or not blocked[li] or tok[li] != ev.tok:
            return
        # blocked for stuck_time_s: enter the full link anyway (resolves circular spill-back)
        blocked[li] = False
        p = qs[li][qh[li]]
        m = nl[p]
        waiters[m].remove(li)
        nwait[m] -= 1
        s = psz[p]
        enter(p + 1, m, ev.t)
        ex[p] = ev.t
        qh[li] += 1
        non[li] -= s
        nslot[li] = ev.t + hw[li] * s
        if nwait[li]:
            wake(li, ev.t)
        if qh[li] < len(qs[li]):
            head(li, ev.t)
        else:
            busy[li] = False

    n_veh = len(order)

    def on_depart(ev: _Call) -> None:
        if not alive[0]:
            return
        i = ev.arg
        t = ev.t
        veh = order[i]
        if start[veh] < stop[veh]:
            depart_enter(veh, t)
        if i + 1 < n_veh:
            tn = depart_abs[i + 1]
            schedule(_Call(DEPART, i + 1, tn), 1, tn - t)

    HEAD = (on_head,)
    STUCK = (on_stuck,)
    DEPART = (on_depart,)
    if n_veh:
        schedule(_Call(DEPART, 0, depart_abs[0]), 1, depart_abs[0] - env.now)
    env.run(until=t_end)
    alive[0] = False


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
        The road network (optional link columns of interventions are honoured, see :mod:`vision_zero.network`).
    trips
        Trips table (:mod:`vision_zero.demand`): ``trip``, ``period``, ``origin``, ``destination``, ``depart_s``.
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
    sig = _signals(network, st)
    router = Router(network)
    n_links = len(links)
    mean_v = desired_speed_kph(links, np.arange(n_links), np.zeros(n_links), st)
    give_way = give_way_delay_s(network, st)
    cost0 = _expected_running_time_s(links, st) + sig.uniform_delay_s()
    draws = max(1, st.route_perception_draws)
    group = route_rng.integers(0, draws, len(veh.origin))
    costs = [cost0 + give_way for _ in periods]
    routes = _route_by_period(router, veh, costs, group, route_rng, st)
    lk = _link_constants(network, sig, mean_v, st)
    for k in range(reroute_passes + 1):
        times, windows, close = _simulate_once(network, veh, routes, periods, lk, st, drain_s)
        if k == reroute_passes:
            break
        measured = _measured_costs(veh, routes, times, close, [cost0] * len(periods), n_links)
        # expected times: the running average of the times simulated in passes 0..k (pass 0 replaces cost0)
        costs = [c + (m + give_way - c) / (k + 1) for c, m in zip(costs, measured, strict=True)]
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


#: Road classes in order of priority at a junction (higher = more major); unlisted classes rank 0.
_PRIORITY_RANK: dict[str, int] = {
    "motorway": 6,
    "motorway_link": 6,
    "trunk": 5,
    "trunk_link": 5,
    "primary": 4,
    "primary_link": 4,
    "secondary": 3,
    "secondary_link": 3,
    "tertiary": 2,
    "tertiary_link": 2,
    "unclassified": 1,
    "residential": 1,
}


def give_way_delay_s(network: RoadNetwork, settings: TrafficSettings) -> FloatArray:
    """Per link, the delay of giving way at its end [s], a term of route choice's generalised cost.

    ``settings.give_way_delay_s`` where the link ends at an unsignalised junction (3 or more legs) at which
    another road has a higher class (:data:`_PRIORITY_RANK`), else 0: the minor approach of a priority junction
    (HCM two-way stop control delay at low conflicting flow). The simulation itself does not stop vehicles at
    priority junctions; without this term a route along residential streets would cost no more than the same
    length of arterial, and a small slowdown on an arterial would send its traffic through the side streets.

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
    """
    links, nodes = network.links, network.nodes
    n_nodes = len(nodes)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    if "junction_control" in nodes.columns:
        sig = (nodes["junction_control"].astype(str) == "signal").to_numpy()
    else:
        sig = nodes["signalised"].to_numpy(dtype=bool)
    rank = links["highway"].astype(str).map(_PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    top = np.zeros(n_nodes, dtype=np.int64)
    np.maximum.at(top, u, rank)
    np.maximum.at(top, v, rank)
    ends = np.concatenate([np.stack([u, v], 1), np.stack([v, u], 1)])
    ends = np.unique(ends[ends[:, 0] != ends[:, 1]], axis=0)
    legs = np.bincount(ends[:, 0], minlength=n_nodes) if len(ends) else np.zeros(n_nodes, dtype=np.int64)
    minor = ~sig[v] & (legs[v] >= 3) & (rank < top[v])
    return np.where(minor, settings.give_way_delay_s, 0.0)


def _expected_running_time_s(links: pd.DataFrame, st: TrafficSettings) -> FloatArray:
    """Mean over drivers of a link's free running time [s]: ``length x E[1 / desired speed]``.

    The expectation over the standard-normal driver draw is taken by Gauss-Hermite quadrature (9 nodes), so the
    over-limit compression of cameras and the cap of calming count for all drivers, not only the median one.
    """
    n = len(links)
    nodes, weights = np.polynomial.hermite_e.hermegauss(9)
    weights = weights / weights.sum()
    idx = np.arange(n)
    inv = np.zeros(n)
    for x, w in zip(nodes, weights, strict=True):
        inv += w / kph_to_mps(desired_speed_kph(links, idx, np.full(n, x), st))
    out: FloatArray = links["length_m"].to_numpy(dtype=np.float64) * inv
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


def _link_constants(network: RoadNetwork, sig: _Signals, mean_v: FloatArray, st: TrafficSettings) -> _Links:
    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    lanes = np.maximum(links["lanes"].to_numpy(dtype=np.float64), 1.0)
    cap = links["capacity_vph"].to_numpy(dtype=np.float64)
    hw = np.where(
        sig.cycle_s > 0, S_PER_HOUR / (st.saturation_flow_vphpl * lanes), S_PER_HOUR / np.maximum(cap, 1.0)
    )
    kjl = st.jam_density_veh_per_km_lane / M_PER_KM * lanes  # vehicles per metre of link, all lanes
    w = kph_to_mps(st.backward_wave_kph)
    v = kph_to_mps(mean_v)
    ncrit = kjl * w / (v + w) * length  # vehicles at the critical density of the triangular diagram
    storage = np.maximum(links["storage_veh"].to_numpy(dtype=np.float64), 1.0)
    return _Links(
        length.tolist(),
        hw.tolist(),
        storage.tolist(),
        ncrit.tolist(),
        kjl.tolist(),
        sig.cycle_s.tolist(),
        sig.offset_s.tolist(),
        sig.green_s.tolist(),
    )


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
    lk: _Links,
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
        _run_period(env, t_end, idx.tolist(), dep, start, stop, rl_l, nl_l, fft_l, psz, ent, ee, ex, lk, st)
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
