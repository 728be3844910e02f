"""Turning the simulation's per-traversal times into a :class:`TrafficRecord` (numpy).

Private helper of :mod:`vision_zero.traffic.simulation`; every statistic is computed here, after the event loop, so the
loop itself only stores three times per vehicle and link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.units import M_PER_KM, S_PER_HOUR, mps_to_kph
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._position_kernels import lex_order
from vision_zero.traffic._record_kernels import crossing_pairs, key_stats, link_sums, period_strings
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
#: baseline's after its equilibrium: no driver outside his indifference band, or no more than
#: ``traffic.route_choice.band_outside_share`` of the trips) or ``cap`` (``max_iterations``
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
    """Per key, the smallest value with at least share ``q`` of the weight at or below it.

    numpy's form of the record's 85th percentiles: :func:`~vision_zero.traffic._record_kernels.key_stats` picks the
    same values without the sort, and the record falls back to this where its pick is not fixed.
    """
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
    nv = len(vperiod)
    # per route position (tens of millions in a city's day): compact index dtypes; the sums and the per-key
    # statistics are compiled passes over them (:mod:`~vision_zero.traffic._record_kernels`, numpy's numbers bit
    # for bit), not numpy's masks and gathers of per-position temporaries
    veh_of = np.repeat(np.arange(nv, dtype=np.int32), routes.n_links)
    link = routes.links
    per = np.asarray(vperiod, dtype=np.int32)[veh_of]
    size_f = np.asarray(vsize, dtype=np.float64)  # per vehicle: a traversal's weight
    n_keys = len(periods) * n_links
    limit = links["speed_limit_kph"].to_numpy(dtype=np.float64)
    kph_per_mps = mps_to_kph(1.0)

    # --- per link x period ---
    # speeds: the running time ``fft``, i.e. ``ee - ent`` except for a trip that waited at its origin (``ent`` =
    # departure); the sums in position order (``np.bincount``'s)
    entries, veh_km, veh_h, sum_v, over, vkm, vfree = link_sums(
        link,
        per,
        veh_of,
        size_f,
        ent,
        ex,
        fft,
        length,
        limit,
        n_links,
        n_keys,
        kph_per_mps,
        M_PER_KM,
        S_PER_HOUR,
    )
    # the 85th percentile, the speed histogram (key x 1000 + bin, ascending; exact sums) and the largest exit
    # queue: a traversal is queued from the end of its running time to its exit (or the window's end)
    p85, exact, uk, cnt, max_q = key_stats(
        link,
        per,
        veh_of,
        size_f,
        ent,
        ee,
        ex,
        fft,
        length,
        window_close,
        n_links,
        n_keys,
        kph_per_mps,
        _P85,
        SPEED_BIN_KPH,
        1000,
    )
    if not exact:  # a speed not finite, or a pick the composite sort leaves to its ties' order: numpy's form
        entered = np.isfinite(ent)
        ke = per[entered].astype(np.int64) * n_links + link[entered]
        with np.errstate(divide="ignore", invalid="ignore"):
            se = mps_to_kph(length[link[entered]] / fft[entered])
        pk, pv = _weighted_quantile_by_key(ke, se, size_f[veh_of[entered]], _P85)
        del ke, se
        p85 = np.full(n_keys, np.nan)
        p85[pk] = pv
    speed_hist = pd.DataFrame(
        {
            "period": names[(uk // 1000) // n_links].astype(str),
            "link": ((uk // 1000) % n_links).astype(np.int64),
            "bin_lo_kph": (uk % 1000) * SPEED_BIN_KPH,
            "count": np.round(cnt).astype(np.int64),
        }
    )
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
    passages = _passages(network, names, windows, link, per, size_f, veh_of, fft, length, ent, ee, ex, held)
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
        )[np.isfinite(ent)].reset_index(drop=True)
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
    link: IntArray | npt.NDArray[np.int32],
    per: npt.NDArray[np.int32],
    size_f: FloatArray,
    veh_of: npt.NDArray[np.int32],
    run_s: FloatArray,
    link_length_m: FloatArray,
    ent: FloatArray,
    ee: FloatArray,
    ex: FloatArray,
    held: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """One row per vehicle passing a crossing (see :attr:`TrafficRecord.passages`).

    Per route position: ``link``, ``per``, ``veh_of``, ``run_s``, ``ent`` (finite: entered), ``ee``, ``ex``,
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
    if len(cr) == 0 or len(cl) == 0 or not np.isfinite(ent).any():
        return empty
    c_id = cl["crossing"].to_numpy(dtype=np.int64)
    c_link = cl["link"].to_numpy(dtype=np.int64)
    at_node = cr["node"].to_numpy(dtype=np.int64)[c_id] >= 0
    own = cr["link"].to_numpy(dtype=np.int64)[c_id]
    off = cr["offset_m"].to_numpy(dtype=np.float64)[c_id]
    length = network.links["length_m"].to_numpy(dtype=np.float64)[c_link]
    frac = np.where(at_node, 1.0, np.clip(np.where(own == c_link, off, length - off) / length, 0.0, 1.0))
    # a crossing link's turning movements: each of the network's movements' turns once, looked up per passage
    move_start = out_rank = turns = np.zeros(0, dtype=np.int64)
    if at_node.any():
        u = network.links["u"].to_numpy(dtype=np.int64)
        v = network.links["v"].to_numpy(dtype=np.int64)
        moves = Movements.of(u, v, len(network.nodes))
        move_start, out_rank = moves.move_start, moves.out_rank
        turns = movement_turns(network.nodes, u, v, moves.a, moves.b).astype(np.int64)
    # pair every traversal with every crossing on its link (the crossing links by link, stable; each link's
    # traversals in position order), a passage's time from its period's start; then the rows in order of period
    # (by name), crossing and time, stable (np.lexsort((t, crossing, rank))), before a platoon's rows are repeated
    # (a platoon's rows are equal)
    order = np.argsort(c_link, kind="stable")
    row_start = np.searchsorted(c_link[order], np.arange(len(link_length_m) + 1)).astype(np.int64)
    rank = np.argsort(np.argsort(names.astype(str), kind="stable"), kind="stable").astype(np.int64)
    platoons = bool((np.round(size_f) != 1).any())
    key, k, crossing, t, speed, link_p, stopped, turning, pos = crossing_pairs(
        link,
        per,
        veh_of,
        ent,
        ee,
        ex,
        run_s,
        held,
        link_length_m,
        row_start,
        c_id[order],
        at_node[order],
        frac[order],
        windows,
        rank,
        len(cr),
        move_start,
        out_rank,
        turns,
        mps_to_kph(1.0),
        platoons,
    )
    o = lex_order(key, len(names) * len(cr), t)
    del key
    # a city's day has tens of millions of passages: each column is put in order, and the pairs' one freed, in turn
    k, crossing, t, speed, link_p = k[o], crossing[o], t[o], speed[o], link_p[o]
    stopped, turning = stopped[o], turning[o]
    rep = np.round(size_f[veh_of[pos[o]]]).astype(np.int64) if platoons else None
    del o, pos
    columns: dict[str, Any] = {  # arrays, and the period's extension array
        "period": _period_column(names, k),
        "crossing": crossing,
        "t_s": t,
        "speed_kph": speed,
        "link": link_p,
        "stopped": stopped,
        "turning": turning,
    }
    del k, crossing, t, speed, link_p, stopped, turning
    if rep is not None and (rep != 1).any():  # platoons: one row per vehicle
        for name in columns:
            columns[name] = np.repeat(columns[name], rep)
    return pd.DataFrame(columns, copy=False)  # the columns as they are, not consolidated into copies


def _period_column(
    names: npt.NDArray[np.object_], k: npt.NDArray[np.int32]
) -> pd.api.extensions.ExtensionArray | npt.NDArray[np.object_]:
    """The period names of the codes ``k``, as the column pandas makes of them.

    Built from the codes as an Arrow string array's buffers when pandas keeps strings in Arrow (a Python string per
    row, made and then converted, was the passages' peak; a dictionary array cast to strings took ~0.25 CPU-s for
    the full-demand district's 6 million rows), else the names per row.
    """
    column = names.astype(str).astype(object)
    dtype = pd.Series(column[:1]).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa

        encoded = [str(name).encode() for name in column]
        name_end = np.cumsum([len(b) for b in encoded], dtype=np.int64)
        name_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        offsets, data = period_strings(k, name_bytes, name_end)  # the buffers of a large_string array
        strings = pa.LargeStringArray.from_buffers(len(k), pa.py_buffer(offsets), pa.py_buffer(data))
        out: pd.api.extensions.ExtensionArray = pd.array(strings, dtype=dtype)
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
