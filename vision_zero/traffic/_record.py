"""Turning the simulation's per-traversal times into a :class:`TrafficRecord` (numpy).

Private helper of :mod:`vision_zero.traffic.simulation`; every statistic is computed here, after the event loop, so the
loop itself only stores three times per vehicle and link.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.units import S_PER_HOUR, m_to_km, mps_to_kph
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._position_kernels import key_bin_sums, lex_order, max_open_weight, stable_order
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import Movements, Routes, movement_turns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Width of the speed histogram bins [km/h].
SPEED_BIN_KPH = 5.0
#: Columns of :attr:`TrafficRecord.route_choice`.
ROUTE_CHOICE_COLUMNS: tuple[str, ...] = (
    "iteration",
    "phase",
    "relative_gap",
    "relative_gap_se",
    "outside_band",
    "turns_per_trip",
    "mean_trip_s",
    "arrived_share",
    "switched",
    "trees",
    "stop_reason",
)
#: Why a phase of the route choice stopped (the route-choice log's ``stop_reason`` on the phase's last row; the
#: loop's on its last row): ``gap_target`` (the equilibrium's relative gap reached
#: ``traffic.route_choice.relative_gap_target``), ``plateau`` (gap, mean trip and arrived share stopped moving
#: within the phase, :func:`~vision_zero.traffic.routing.gap_plateau`), ``band`` (the band phase, a variant's or a
#: baseline's after its equilibrium: no driver outside his indifference band) or ``cap`` (``max_iterations``
#: re-routing iterations run in the phase and none of the others held: not converged). A reason that holds at the
#: cap is given rather than ``cap``. A baseline's equilibrium may also stop by ``handover`` (:data:`HANDOVER`), never
#: the loop's last row (its band phase follows), so not among the loop's reasons the run summary counts.
STOP_REASONS: tuple[str, ...] = ("gap_target", "plateau", "band", "cap")
#: Why a baseline's equilibrium handed over to its band phase before its cap: its relative gap fell by less than
#: ``traffic.route_choice.handover_gap_change`` of itself in the last re-routing iteration (or rose) while at least
#: :data:`ARRIVAL_WARNING_SHARE` of the trips arrived (the equilibrium's last row only).
HANDOVER = "handover"


def _no_route_choice() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=str if c in ("phase", "stop_reason") else float) for c in ROUTE_CHOICE_COLUMNS}
    )


def _no_pedestrian_demand() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "crossing": pd.Series(dtype=np.int64),
            "period": pd.Series(dtype=str),
            "peds_per_h": pd.Series(dtype=np.float64),
        }
    )


#: A run in which fewer than this share of the routed trips arrive is reported loudly as gridlocked: its speeds
#: and flows describe a jam, not the network's traffic (issue #11's threshold; a reporting rule, not a model number).
ARRIVAL_WARNING_SHARE = 0.95


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
        bool (at a crossing on a node, the event loop held the vehicle at the stop line, so it passes from rest:
        it arrived in a red, waited out a give-way's follow-up headway, waited at the next link's entry longer
        than one of its inflow headways, or reached the line before a held vehicle ahead of it had left; one
        headway behind a moving vehicle is not a stop),
        ``turning`` bool (at a crossing on a node, the vehicle leaves the node on a link whose heading differs by
        more than 45 degrees from its approach: a turning movement, :func:`~vision_zero.traffic.routing.movement_turns`).
    pedestrian_demand
        The pedestrians arriving to cross, as Poisson rates: ``crossing`` int, ``period`` str, ``peds_per_h``
        float. The risk stage takes its expected casualties over these rates
        (:func:`vision_zero.risk.crossing_passages.pedestrian_rates`); no arrivals are drawn. Empty: no pedestrians.
    trips
        One row per vehicle trip: ``trip`` int, ``period`` str, ``origin``/``destination`` int (node ids),
        ``depart_s``, ``arrive_s`` float (NaN if still en route at the end), ``travel_time_s`` float (NaN if en
        route), ``veh_km`` float, ``completed`` bool. Added: ``routed`` bool (False: no path, or origin = destination;
        such a trip never departs and is neither completed nor en route); ``free_flow_time_s`` float (the trip's
        route at the driver's own desired speeds, no queueing: the denominator of the congestion index).
    speed_hist
        Sparse histogram of vehicle link speeds: ``period`` str, ``link`` int, ``bin_lo_kph`` float, ``count`` int,
        bins of :data:`SPEED_BIN_KPH` width.
    route_choice
        One row per simulation and phase of the route choice (:func:`vision_zero.traffic.simulation.simulate`),
        the last one being the recorded one: ``iteration`` (the simulation, 0 = the first routes; the simulation
        where a baseline's equilibrium stopped has a row of each phase), ``phase`` ("equilibrium": route swapping
        from free-flow routes; "band": boundedly rational switching, a variant's, and a baseline's after its
        equilibrium), ``relative_gap`` (0-1, of the
        routes driven in that simulation under its own time-sliced link times, see
        :func:`vision_zero.traffic.routing.relative_gap`; with ``relative_gap_se`` NaN on a band-phase row whose gap
        no stop rule read, never on the last row), ``turns_per_trip``, ``mean_trip_s`` (trips that
        arrived), ``arrived_share`` (arrived / routed vehicles, the summary's ``share_arrived``), ``switched``
        (vehicles that took a new route for the next simulation), ``trees`` (shortest-route trees grown after
        it), ``stop_reason`` str (why a phase stopped, one of :data:`STOP_REASONS` or, a baseline's equilibrium
        only, :data:`HANDOVER`, on its last row; "" on the others).
    stuck_moves
        Per period, the times the first vehicle waiting to enter a full link had waited ``traffic.stuck_time_s``
        and entered anyway (SUMO's teleports): a count of gridlock, 0 when traffic flows.
    link_events
        Only when asked for (``simulate(..., link_events=True)``), else None: one row per vehicle and link entered
        (SUMO's vehroute output with exit times): ``period`` str, ``vehicle`` int (the trip id; a platoon's first
        trip), ``size_veh`` int (the vehicles it stands for: its platoon's trips, one vehicle each), ``link`` int,
        ``enter_s``, ``run_end_s`` (end of its running time: it then waits at the link's end until ``exit_s``),
        ``exit_s`` float (NaN: still on the link when the period's window closed), seconds from the period's
        start, in order of vehicle and route.
    """

    periods: tuple[Period, ...]
    link_stats: pd.DataFrame
    passages: pd.DataFrame
    trips: pd.DataFrame
    speed_hist: pd.DataFrame
    route_choice: pd.DataFrame = field(default_factory=_no_route_choice)
    stuck_moves: tuple[int, ...] = ()
    link_events: pd.DataFrame | None = None
    pedestrian_demand: pd.DataFrame = field(default_factory=_no_pedestrian_demand)


_P85 = 0.85


def _weighted_quantile_by_key(
    key: IntArray, value: FloatArray, weight: FloatArray, q: float
) -> tuple[IntArray, FloatArray]:
    """Per key, the smallest value with at least share ``q`` of the weight at or below it."""
    if key.size == 0:
        return key, value
    span = float(np.max(value)) + 1.0 if value.size else 1.0
    order = np.argsort(key * span + np.maximum(value, 0.0))  # one float sort: key, then value (both >= 0)
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    keys, n = k[starts], k.size
    del k  # per entry: each array freed when done with (peak memory), in-place arithmetic
    w = weight[order]
    cum = np.cumsum(w)
    total = np.add.reduceat(w, starts)
    del w
    before = np.r_[0.0, cum[:-1]][starts]
    grp = np.repeat(np.arange(starts.size, dtype=np.int32), np.diff(np.r_[starts, n]))
    got = before[grp]
    np.subtract(cum, got, out=got)  # the weight of the key's values up to each
    del cum
    need = total[grp]
    need *= q
    need -= 1e-9
    idx = np.flatnonzero(got >= need)
    del got, need
    _, first = np.unique(grp[idx], return_index=True)
    return keys, value[order[idx[first]]]


def _max_queue(k: IntArray, start: FloatArray, end: FloatArray, wm: FloatArray, n_keys: int) -> FloatArray:
    """Per key, the largest weight of intervals ``[start, end)`` open at once (vehicles in the exit queue).

    ``k``, ``start``, ``end``, ``wm``: per interval of positive length, its key, start, end and weight.

    The maximum of the step function is reached at some interval start, where it equals the weight started so far
    minus the weight ended so far (ends at the same instant first): times rounded to the microsecond, each key's
    events swept in time order (:func:`~vision_zero.traffic._position_kernels.max_open_weight`).
    """
    if k.size == 0:
        return np.zeros(n_keys)
    s_us = np.round(start * 1e6).astype(np.int64)
    e_us = np.round(end * 1e6).astype(np.int64)
    out: FloatArray = max_open_weight(
        k, s_us, e_us, np.asarray(wm, dtype=np.float64), n_keys
    )  # compiled sweep
    return out


def build_record(
    network: RoadNetwork,
    trips: pd.DataFrame,
    pedestrians: pd.DataFrame | None,
    periods: tuple[Period, ...],
    trip_vehicle: IntArray,
    vperiod: IntArray,
    vdepart_s: FloatArray,
    vsize: IntArray,
    routes: Routes,
    ent: FloatArray,
    ee: FloatArray,
    ex: FloatArray,
    windows: FloatArray,
    window_close: FloatArray,
    length: FloatArray,
    fft: FloatArray,
    stuck_moves: IntArray,
    first_trip: IntArray,
    held: npt.NDArray[np.bool_],
    link_events: bool = False,
) -> TrafficRecord:
    """Assemble the record of one replication (see :class:`TrafficRecord`).

    ``fft``: free running time per route position; ``first_trip``: per vehicle, its first trip's row in ``trips``;
    ``held``: per route position, the event loop held the vehicle at the link's end (it left from rest).
    """
    links = network.links
    n_links = len(links)
    names = np.array([p.name for p in periods], dtype=object)
    dur = np.array([p.duration_s for p in periods], dtype=np.float64)
    nv = len(vperiod)
    # per route position (tens of millions in a city's day): compact index dtypes, temporaries freed when done
    veh_of = np.repeat(np.arange(nv, dtype=np.int32), routes.n_links)
    link = routes.links
    per = np.asarray(vperiod, dtype=np.int32)[veh_of]
    size_f = np.asarray(vsize, dtype=np.float64)  # per vehicle: a traversal's weight
    entered = np.isfinite(ent)
    exited = np.isfinite(ex)
    n_keys = len(periods) * n_links

    def key_w(mask: npt.NDArray[np.bool_]) -> tuple[IntArray, FloatArray]:
        """Of the positions ``mask``: their key (period x link) and weight (per-position arrays only masked)."""
        return per[mask].astype(np.int64) * n_links + link[mask], size_f[veh_of[mask]]

    # --- per link x period ---
    ke, we = key_w(entered)
    le = link[entered]
    with np.errstate(divide="ignore", invalid="ignore"):  # the running time ``fft``: ``ee - ent`` except for
        se = mps_to_kph(length[le] / fft[entered])  # a trip that waited at its origin (``ent`` = departure)
    entries = np.bincount(ke, we, n_keys)
    kx, wx = key_w(exited)
    veh_km = np.bincount(kx, wx * m_to_km(length[link[exited]]), n_keys)
    veh_h = np.bincount(kx, wx * (ex[exited] - ent[exited]) / S_PER_HOUR, n_keys)
    del kx, wx
    sum_v = np.bincount(ke, we * se, n_keys)
    limit = links["speed_limit_kph"].to_numpy(dtype=np.float64)
    over = np.bincount(ke, we * (se > limit[le] + 1e-9), n_keys)
    del le
    pk, pv = _weighted_quantile_by_key(ke, se, we, _P85)
    p85 = np.full(n_keys, np.nan)
    p85[pk] = pv

    # --- speed histogram (before the queues: frees the per-entry arrays) ---
    b = np.floor(se / SPEED_BIN_KPH).astype(np.int64)
    uk, cnt = key_bin_sums(
        ke, np.clip(b, 0, 999), we, n_keys, 1000
    )  # key x 1000 + bin, ascending; exact sums
    del ke, we, se, b
    speed_hist = pd.DataFrame(
        {
            "period": names[(uk // 1000) // n_links].astype(str),
            "link": ((uk // 1000) % n_links).astype(np.int64),
            "bin_lo_kph": (uk % 1000) * SPEED_BIN_KPH,
            "count": np.round(cnt).astype(np.int64),
        }
    )

    # queue: a traversal is queued from the end of its running time to its exit (or the window's end)
    win_end = windows + dur  # departures end; queues after that still count until the drain ends
    end = np.where(exited, ex, window_close[per])
    queued = entered & (end > ee)
    max_q = np.zeros(n_keys)
    for i in range(len(periods)):  # a period at a time (peak memory): its keys are its own; whole-vehicle
        in_p = queued & (per == i)  # weights, so the running sums and maxima are exact either way
        kq, wq = key_w(in_p)
        np.maximum(max_q, _max_queue(kq, ee[in_p], end[in_p], wq, n_keys), out=max_q)
        del in_p, kq, wq
    del end, queued
    has = np.flatnonzero(entries > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        link_stats = pd.DataFrame(
            {
                "period": names[has // n_links].astype(str),
                "link": (has % n_links).astype(np.int64),
                "entries": np.round(entries[has]).astype(np.int64),
                "veh_km": veh_km[has],
                "veh_h": veh_h[has],
                "mean_speed_kph": sum_v[has] / entries[has],
                "p85_speed_kph": p85[has],
                "share_over_limit": over[has] / entries[has],
                "max_queue_veh": max_q[has],
                "travel_speed_kph": np.where(veh_h[has] > 0, veh_km[has] / veh_h[has], np.nan),
            }
        )

    # --- trips ---
    n_route = routes.n_links
    last = np.maximum(routes.ptr[1:] - 1, 0)
    routed_v = n_route > 0
    arrive_abs = np.where(routed_v, ex[last] if len(ex) else np.nan, np.nan)
    vkm = np.bincount(veh_of[exited], m_to_km(length[link[exited]]), nv).astype(np.float64)
    vfree = np.bincount(veh_of, fft, nv).astype(np.float64)
    tv = trip_vehicle
    win_v = windows[vperiod[tv]]
    arrive_s = arrive_abs[tv] - win_v
    trips_out = pd.DataFrame(
        {
            "trip": trips["trip"].to_numpy(dtype=np.int64),
            # the column's array as it is: to_numpy() of an Arrow-backed string column builds one Python str per
            # trip, converted back to Arrow here (~175 ms on a city day's 400k trips, #16)
            "period": trips["period"].astype(str).array,
            "origin": trips["origin"].to_numpy(dtype=np.int64),
            "destination": trips["destination"].to_numpy(dtype=np.int64),
            "depart_s": trips["depart_s"].to_numpy(dtype=np.float64),
            "arrive_s": arrive_s,
            "travel_time_s": arrive_s - vdepart_s[tv],
            "veh_km": vkm[tv],
            "completed": np.isfinite(arrive_s),
            "routed": routed_v[tv],
            "free_flow_time_s": np.where(routed_v[tv], vfree[tv], np.nan),
        }
    )

    # --- passages at crossings ---
    next_link = np.full(len(link), -1, dtype=np.int32)
    if len(link) > 1:
        same = veh_of[1:] == veh_of[:-1]
        next_link[:-1][same] = link[1:][same]
    passages = _passages(
        network,
        names,
        windows,
        win_end,
        link,
        per,
        size_f,
        veh_of,
        fft,
        length,
        ee,
        ex,
        entered,
        next_link,
        held,
    )
    events = None
    if link_events:
        trip_ids = trips["trip"].to_numpy(dtype=np.int64)
        win = windows[per]
        events = pd.DataFrame(
            {
                "period": names[per].astype(str),
                "vehicle": trip_ids[first_trip][veh_of] if nv else np.zeros(0, dtype=np.int64),
                "size_veh": vsize[veh_of].astype(np.int64),
                "link": link.astype(np.int64),
                "enter_s": ee - fft - win,  # the entry itself (``ent`` has a first link's origin wait)
                "run_end_s": ee - win,
                "exit_s": ex - win,
            }
        )[entered].reset_index(drop=True)
    stuck = tuple(int(x) for x in stuck_moves)
    return TrafficRecord(
        periods,
        link_stats,
        passages,
        trips_out,
        speed_hist,
        stuck_moves=stuck,
        link_events=events,
        pedestrian_demand=_demand_of(pedestrians, len(network.crossings)),
    )


def _passages(
    network: RoadNetwork,
    names: npt.NDArray[np.object_],
    windows: FloatArray,
    win_end: FloatArray,
    link: IntArray | npt.NDArray[np.int32],
    per: npt.NDArray[np.int32],
    size_f: FloatArray,
    veh_of: npt.NDArray[np.int32],
    run_s: FloatArray,
    link_length_m: FloatArray,
    ee: FloatArray,
    ex: FloatArray,
    entered: npt.NDArray[np.bool_],
    next_link: npt.NDArray[np.int32],
    held: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """One row per vehicle passing a crossing (see :attr:`TrafficRecord.passages`).

    Per route position: ``link``, ``per``, ``veh_of``, ``run_s``, ``ee``, ``ex``, ``entered``, ``next_link``,
    ``held``; per vehicle its weight ``size_f``; per link ``link_length_m``.
    """
    cr, cl = network.crossings, network.crossing_links
    empty = pd.DataFrame(
        {
            "period": pd.Series(dtype=str),
            "crossing": pd.Series(dtype=np.int64),
            "t_s": pd.Series(dtype=np.float64),
            "speed_kph": pd.Series(dtype=np.float64),
            "link": pd.Series(dtype=np.int64),
            "stopped": pd.Series(dtype=bool),
            "turning": pd.Series(dtype=bool),
        }
    )
    if len(cr) == 0 or len(cl) == 0 or not entered.any():
        return empty
    c_id = cl["crossing"].to_numpy(dtype=np.int64)
    c_link = cl["link"].to_numpy(dtype=np.int64)
    at_node = cr["node"].to_numpy(dtype=np.int64)[c_id] >= 0
    own = cr["link"].to_numpy(dtype=np.int64)[c_id]
    off = cr["offset_m"].to_numpy(dtype=np.float64)[c_id]
    length = network.links["length_m"].to_numpy(dtype=np.float64)[c_link]
    frac = np.where(at_node, 1.0, np.clip(np.where(own == c_link, off, length - off) / length, 0.0, 1.0))
    # pair every traversal with every crossing on its link (sorted join on link id; a counting sort, stable)
    pos = np.flatnonzero(entered)
    pos = pos[stable_order(link[pos], len(link_length_m))]
    pl = link[pos]
    order = np.argsort(c_link, kind="stable")
    lo = np.searchsorted(pl, c_link[order], side="left")
    hi = np.searchsorted(pl, c_link[order], side="right")
    reps = hi - lo
    pair_c = np.repeat(order, reps)
    pair_p = (
        pos[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])] if reps.sum() else pos[:0]
    )
    # a city's day has tens of millions of passages: each array below is freed as soon as it is done with
    del pos, pl, lo, hi, reps
    node = at_node[pair_c]
    t = np.where(node, ex[pair_p], ee[pair_p] - run_s[pair_p] * (1.0 - frac[pair_c]))
    ok = np.isfinite(t)
    pair_c, pair_p, t, node = pair_c[ok], pair_p[ok], t[ok], node[ok]
    del ok
    stopped = node & held[pair_p]
    nxt = next_link[pair_p]
    turning = np.zeros(len(pair_p), dtype=bool)
    moving_on = node & (nxt >= 0)
    if moving_on.any():  # each of the network's movements' turns once, then looked up per passage
        u = network.links["u"].to_numpy(dtype=np.int64)
        v = network.links["v"].to_numpy(dtype=np.int64)
        moves = Movements.of(u, v, len(network.nodes))
        turns = movement_turns(network.nodes, u, v, moves.a, moves.b)
        turning[moving_on] = turns[moves.ids(link[pair_p][moving_on], nxt[moving_on])] > 0
    del nxt, moving_on, node
    k = per[pair_p]
    crossing = c_id[pair_c]
    del pair_c
    t -= windows[k]  # seconds from the period's start
    # rows in order of period (by name), crossing and time, stable: sorted before the platoons' rows are repeated
    # (a platoon's rows are equal)
    rank = np.argsort(np.argsort(names.astype(str), kind="stable"), kind="stable")
    o = lex_order(rank[k] * len(cr) + crossing, len(names) * len(cr), t)  # np.lexsort((t, crossing, rank[k]))
    pair_p, k, crossing, t, stopped, turning = pair_p[o], k[o], crossing[o], t[o], stopped[o], turning[o]
    del o
    rep = np.round(size_f[veh_of[pair_p]]).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):  # the approach speed: the running speed on the link
        speed = mps_to_kph(link_length_m[link[pair_p]] / run_s[pair_p])
    columns = {
        "period": _period_column(names, k),
        "crossing": crossing,
        "t_s": t,
        "speed_kph": speed,
        "link": link[pair_p].astype(np.int64),
        "stopped": stopped,
        "turning": turning,
    }
    del k, crossing, t, speed, pair_p, stopped, turning
    if (rep != 1).any():  # platoons: one row per vehicle
        for name in columns:
            columns[name] = np.repeat(columns[name], rep)
    return pd.DataFrame(columns, copy=False)  # the columns as they are, not consolidated into copies


def _period_column(
    names: npt.NDArray[np.object_], k: npt.NDArray[np.int32]
) -> pd.api.extensions.ExtensionArray | npt.NDArray[np.object_]:
    """The period names of the codes ``k``, as the column pandas makes of them.

    Built from the codes by Arrow when pandas keeps strings in Arrow (a Python string per row, made and then
    converted, was the passages' peak), else the names per row.
    """
    column = names.astype(str).astype(object)
    dtype = pd.Series(column[:1]).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa

        codes = pa.DictionaryArray.from_arrays(pa.array(k), pa.array(column.tolist(), type=pa.string()))
        out: pd.api.extensions.ExtensionArray = pd.array(codes.cast(pa.large_string()), dtype=dtype)
        return out
    return column[k]


def _demand_of(demand: pd.DataFrame | None, n_crossings: int) -> pd.DataFrame:
    """The pedestrian demand of the network's crossings (:attr:`TrafficRecord.pedestrian_demand`)."""
    if demand is None or not len(demand):
        return _no_pedestrian_demand()
    d = demand[["crossing", "period", "peds_per_h"]]
    d = d[(d["crossing"] >= 0) & (d["crossing"] < n_crossings)]
    return d.astype({"crossing": np.int64, "period": str, "peds_per_h": np.float64}).reset_index(drop=True)


def traffic_summary(record: TrafficRecord) -> dict[str, float]:
    """The run summary of one replication's traffic (simulated trips, not annualised).

    ``trips`` (all), ``trips_routed`` (with a path; the others never depart), ``trips_completed`` (arrived within
    their period's window), ``trips_en_route`` (routed, not arrived), ``trips_unrouted``, ``share_arrived``
    (completed / routed; 1 when nothing is routed) and ``stuck_moves`` (all periods, see
    :attr:`TrafficRecord.stuck_moves`). The congestion index, which needs the network's free-flow routes, is
    :func:`vision_zero.traffic.demand.congestion_index`.
    """
    t = record.trips
    completed = t["completed"].to_numpy(dtype=bool)
    routed = t["routed"].to_numpy(dtype=bool) if "routed" in t else np.ones(len(t), dtype=bool)
    n_routed = int(routed.sum())
    return {
        "trips": float(len(t)),
        "trips_routed": float(n_routed),
        "trips_completed": float(completed.sum()),
        "trips_en_route": float((routed & ~completed).sum()),
        "trips_unrouted": float((~routed).sum()),
        "share_arrived": float(completed.sum()) / n_routed if n_routed else 1.0,
        "stuck_moves": float(sum(record.stuck_moves)),
    }
