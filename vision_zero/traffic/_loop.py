"""The event loop of the mesoscopic traffic simulation (one period on one SimPy environment).

Private helper of :mod:`vision_zero.traffic.simulation`, which documents the model; this module holds only the hot
path: per-link constants as Python lists, a minimal SimPy event type, and :func:`run_period`, which fills per-route-
position entry, queue-join and exit times in place (DESIGN.md "Performance").

The link model is a link transmission model (Yperman 2007) in event form: a vehicle leaves link ``l`` for link ``m``
at the earliest time that is after its running time (at its own desired speed), one outflow headway of ``l`` after
the previous exit, within a green of ``l``'s signal, one inflow headway of ``m`` after the previous entry into
``m`` (``m``'s capacity), and when ``m`` has room under Newell's simplified kinematic wave model: an entrant of
size ``s`` needs ``N_in(m) + s <= N_out(m, t - L_m / w) + storage_m``, i.e. the space freed by a vehicle leaving
``m``'s downstream end reaches its upstream end one backward-wave travel time ``L_m / w`` later. A vehicle that
cannot go waits at the end of its link (the queue sits where it physically forms, spilling back link by link).
Vehicles waiting to enter ``m`` (heads of upstream links, and the origin queue of trips starting on ``m``) are
served one at a time by self-clocked fair queueing (Golestani 1994): each waiter gets a finish tag, its
entrance's last tag (or the gate's virtual time, if later) plus the entrance's inflow headway divided by its merge
priority, and the lowest tag goes first; so saturated entrances share a merge in proportion to their capacities
(times the optional link column ``merge_priority``; Tampere et al. 2011's capacity-proportional node model,
UXsim's ``merge_priority``), and a lone arrival at an idle merge goes at once. With
``traffic.give_way.gap_acceptance`` on, a vehicle leaving a link at a priority junction by a movement that gives
way (every movement of a minor approach, a left turn from the major road) holds the link's next exit for HCM's
gap-acceptance headway (eq. 17-3, its service time) with its movement's conflicting flow over the last
``traffic.give_way.flow_window_s`` (Exhibit 17-4, :func:`~vision_zero.traffic._model.give_way_movements`); off
by default. Entrants never get a lower speed than their desired one: over-saturation builds a queue that discharges at capacity, it does not cut throughput.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from vision_zero.core.units import S_PER_HOUR, kph_to_mps
from vision_zero.network.road_network import RoadNetwork, junction_control, link_column
from vision_zero.traffic._model import (
    GiveWayMovements,
    Signals,
    TrafficSettings,
    give_way_approach,
    give_way_movements,
    potential_capacity_vph,
)

__all__ = ["Links", "link_constants", "run_period"]

FloatArray = npt.NDArray[np.float64]
_INF = math.inf


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
class Links:
    """Per-link constants of the hot loop, as Python lists (fast scalar access)."""

    length_m: list[float]
    headway_s: list[float]  # outflow: one exit per this many seconds (a green's saturation flow at a signal)
    inflow_headway_s: list[float]  # inflow: one entry per this many seconds (the link's flow capacity)
    storage: list[float]  # vehicles at jam density
    wave_s: list[float]  # backward-wave travel time over the link, length / w [s]
    cycle_s: list[float]
    offset_s: list[float]
    green_s: list[float]
    give_way_s: list[float]  # delay at the stop line of a minor approach to a priority junction (0 elsewhere)
    #: the movements of priority junctions and what each gives way to (None: gap acceptance off), and each
    #: link's lanes (a yielding movement's capacity is lanes x HCM's potential capacity per lane)
    movements: GiveWayMovements | None = None
    lanes: list[float] = dataclasses.field(default_factory=list)
    #: per link as an entrance of a merge: its fair-queueing step, inflow headway / merge priority (empty: the
    #: inflow headway, i.e. capacity-proportional shares)
    merge_headway_s: list[float] = dataclasses.field(default_factory=list)


def run_period(  # noqa: C901 (the event loop is one function on purpose: DESIGN.md "Performance")
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
    lk: Links,
    settings: TrafficSettings,
) -> int:
    """Simulate one period's vehicles until ``t_end`` (absolute clock), filling ent/ee/ex in place.

    Returns the number of stuck-vehicle moves: times the first vehicle waiting to enter a full link had waited
    ``settings.stuck_time_s`` without room appearing and entered anyway (SUMO's teleport on ``time-to-teleport``).

    The exit of a link's head vehicle (``on_head``) is the hot path: it is written out in one function, with the
    next link's entry and both links' next-exit scheduling inlined, because Python function calls cost as much
    as the arithmetic here. Rare paths (a waiting line at a link's entry, origin queues, stuck vehicles) are
    helpers.
    """
    n_links = len(lk.length_m)
    non = [0] * n_links  # vehicles on the link
    nin = [0] * n_links  # vehicles that entered the link so far (cumulative)
    qs: list[list[int]] = [[] for _ in range(n_links)]  # FIFO of route positions (append-only, head index)
    cum: list[list[int]] = [[] for _ in range(n_links)]  # per qs entry: nin after it entered
    qh = [0] * n_links
    busy = [False] * n_links  # an exit event is pending for the head, or the head is waiting at a gate
    nslot = [-_INF] * n_links  # earliest next exit (outflow headway)
    islot = [-_INF] * n_links  # earliest next entry (inflow headway)
    # the gate of each link: who waits to enter it (link >= 0, or -1: its origin queue) as (finish tag, arrival
    # number, who); served in tag order: self-clocked fair queueing weighted by each entrance's capacity
    gate: list[list[tuple[float, int, int]]] = [[] for _ in range(n_links)]
    vclock = [0.0] * n_links  # the tag of the waiter last admitted into the link (the gate's virtual time)
    last_tag: dict[int, dict[int, float]] = {}  # link -> entrance -> its last finish tag
    arrivals = [0]
    nwait = [0] * n_links  # len(gate[link]), as a list for a cheap test on the hot path
    gsched = [False] * n_links  # a gate event is pending
    gstuck = [False] * n_links  # the gate waits for an exit (room unknown); a stuck timer runs
    gtok = [0] * n_links
    origin: dict[int, deque[int]] = {}  # link -> vehicles waiting to depart onto it
    # a vehicle that waited at its origin: its departure time, recorded as its first link's ``ent`` (the wait
    # counts in that link's travel time, as route choice must see it; its running time stays ``fft``)
    waited_from: dict[int, float] = {}
    stuck_moves = [0]
    alive = [True]
    schedule: Any = env.schedule  # takes _Call events (SimPy's event protocol) and an int priority
    # Environment.schedule inlined on the hot path (the same heap entry: now + delay, priority, event id, event)
    queue: list[tuple[float, int, int, _Call]] = env._queue  # type: ignore[assignment]
    eid = env._eid
    hw, hwi, sto, wave = lk.headway_s, lk.inflow_headway_s, lk.storage, lk.wave_s
    cyc, off, grn, gwy = lk.cycle_s, lk.offset_s, lk.green_s, lk.give_way_s
    stuck = settings.stuck_time_s
    share = lk.merge_headway_s or hwi  # an entrance's tag step: its inflow headway / merge priority
    # gap acceptance per movement (HCM 2000 ch. 17): per link at a priority junction its first movement slot
    # (-1 elsewhere) and its next links in slot order; per slot its critical gap, follow-up headway (0: does not
    # yield), whether its exits are recorded, its conflicts as (slot, weight); per recorded slot its exit times,
    # the cumulative vehicles after each, and the first exit still inside the flow window
    gw = lk.movements
    n_slots = gw.n_slots if gw is not None else 0
    lanes = lk.lanes
    window = settings.give_way_flow_window_s
    vph_per_veh = S_PER_HOUR / window
    if gw is not None and n_slots:
        gptr = gw.ptr.tolist()
        gnext = gw.next_link.tolist()
        slot0 = [gptr[li] if gptr[li + 1] > gptr[li] else -1 for li in range(n_links)]
        slot_next = [tuple(gnext[gptr[li] : gptr[li + 1]]) for li in range(n_links)]
        s_tc, s_tf, s_rec = gw.critical_gap_s.tolist(), gw.follow_up_s.tolist(), gw.record.tolist()
        cptr, cslot, cw = gw.conflict_ptr.tolist(), gw.conflict_slot.tolist(), gw.conflict_weight.tolist()
        s_conf = [
            tuple(zip(cslot[cptr[k] : cptr[k + 1]], cw[cptr[k] : cptr[k + 1]], strict=True))
            for k in range(n_slots)
        ]
    else:
        slot0, slot_next, s_tc, s_tf, s_rec, s_conf = [-1] * n_links, [], [], [], [], []
    s_t: list[list[float]] = [[] for _ in range(n_slots)]
    s_n: list[list[int]] = [[] for _ in range(n_slots)]
    s_h = [0] * n_slots

    def discharge_s(li: int, p: int, s: int, t: float) -> float:
        """Outflow headway after ``p`` left ``li`` at ``t`` by its movement (a link at a priority junction).

        Records the exit in its movement's flow if a conflict list reads it; a movement that gives way gets HCM
        eq. 17-3's headway with its conflicting flow over the last ``flow_window_s`` (never below ``hw[li]``).
        """
        m = nl[p]
        if m < 0:
            return hw[li] * s  # the trip ends at the junction: it crosses no stream
        k = slot0[li] + slot_next[li].index(m)
        if s_rec[k]:
            n = s_n[k]
            n.append((n[-1] if n else 0) + s)
            s_t[k].append(t)
        if s_tf[k] <= 0.0:
            return hw[li] * s
        lo = t - window
        vc = 0.0
        for j, w in s_conf[k]:
            tj = s_t[j]
            h = s_h[j]
            nj = len(tj)
            while h < nj and tj[h] <= lo:  # exits that left the window (the clock only moves on)
                h += 1
            s_h[j] = h
            if h < nj:
                c = s_n[j]
                vc += w * (c[-1] - (c[h - 1] if h else 0))
        g = S_PER_HOUR / (lanes[li] * potential_capacity_vph(vc * vph_per_veh, s_tc[k], s_tf[k]))
        h0 = hw[li]
        return (g if g > h0 else h0) * s

    def head(li: int, t: float) -> None:
        """Schedule the exit of link ``li``'s head: after running and giving way, in a discharge slot, on green."""
        p = qs[li][qh[li]]
        te = ee[p] + gwy[li]
        if te < t:
            te = t
        ns = nslot[li]
        if te < ns:
            te = ns
        m = nl[p]
        if m >= 0 and te < islot[m]:
            te = islot[m]  # the next link's inflow slot as known now (saves a wait at its gate)
        c = cyc[li]
        if c > 0.0:
            phi = (te - off[li]) % c
            if phi >= grn[li]:
                te += c - phi
        ev = hev[li]
        ev.callbacks = HEAD
        ev.t = te
        heappush(queue, (env._now + (te - t), 1, next(eid), ev))

    def ready(m: int, s: int, t: float) -> float:
        """Earliest time >= t at which an entrant of size ``s`` may enter ``m`` (inf: after an exit not yet made)."""
        r = islot[m]
        if r < t:
            r = t
        need = nin[m] + s - sto[m]
        if need > 0.0:
            j = bisect_left(cum[m], need)
            if j >= qh[m]:
                return _INF if non[m] > 0 else r
            tr = ex[qs[m][j]] + wave[m]
            if tr > r:
                r = tr
        return r

    def enter(p: int, m: int, t: float) -> None:
        ent[p] = t
        s = psz[p]
        non[m] += s
        n = nin[m] + s
        nin[m] = n
        islot[m] = t + hwi[m] * s
        ee[p] = t + fft[p]
        qs[m].append(p)
        cum[m].append(n)
        if not busy[m]:
            busy[m] = True
            head(m, t)

    def leave(li: int, t: float) -> None:
        """The head of ``li`` has left it at ``t``: free its slot, serve its gate, schedule its next head."""
        p = qs[li][qh[li]]
        s = psz[p]
        ex[p] = t
        qh[li] += 1
        non[li] -= s
        nslot[li] = t + (hw[li] * s if slot0[li] < 0 else discharge_s(li, p, s, t))
        if nwait[li] and not gsched[li]:
            serve(li, t)
        if qh[li] < len(qs[li]):
            head(li, t)
        else:
            busy[li] = False

    def join(m: int, who: int) -> None:
        """``who`` joins ``m``'s gate with its finish tag: max(virtual time, its last tag) + its step."""
        tags = last_tag.get(m)
        if tags is None:
            tags = last_tag[m] = {}
        tag = tags.get(who, 0.0)
        if tag < vclock[m]:
            tag = vclock[m]
        tag += share[who] if who >= 0 else hwi[m]
        tags[who] = tag
        arrivals[0] += 1
        gate[m].append((tag, arrivals[0], who))
        nwait[m] += 1

    def wait_at(m: int, who: int, t: float, r: float) -> None:
        """``who`` joins the line at ``m``'s entry; start the gate if it is idle (``r``: ``m``'s ready time)."""
        first = not nwait[m]
        join(m, who)
        if first:
            arm(m, t, r)

    def take(m: int) -> int:
        """Remove ``m``'s waiter with the lowest finish tag (then the earliest arrival); advance the gate's clock."""
        g = gate[m]
        e = min(g) if len(g) > 1 else g[0]
        g.remove(e)
        nwait[m] -= 1
        vclock[m] = e[0]
        return e[2]

    def arm(m: int, t: float, r: float) -> None:
        """Schedule ``m``'s gate at its ready time ``r``, or start its stuck timer when room waits for an exit."""
        if r < _INF:
            gstuck[m] = False
            gsched[m] = True
            ev = _Call(GATE, m, r)
            heappush(queue, (env._now + (r - t), 1, next(eid), ev))
        elif not gstuck[m]:
            gstuck[m] = True
            gtok[m] += 1
            ev = _Call(STUCK, m, t + stuck)
            ev.tok = gtok[m]
            schedule(ev, 1, stuck)

    def candidate(m: int, x: int) -> int:
        return qs[x][qh[x]] if x >= 0 else start[origin[m][0]]

    def next_waiter(m: int) -> int:
        g = gate[m]
        return (min(g) if len(g) > 1 else g[0])[2]

    def admit(m: int, x: int, p: int, t: float) -> None:
        """Let waiter ``x`` (an upstream link's head, or -1: the origin queue) into ``m`` at ``t``."""
        if x >= 0:
            c = cyc[x]
            if c > 0.0 and (t - off[x]) % c >= grn[x]:
                head(x, t)  # its signal turned red while it waited: it goes on the next green
                return
            enter(p + 1, m, t)
            leave(x, t)
        else:
            oq = origin[m]
            veh = oq.popleft()
            enter(p, m, t)
            ent[p] = waited_from.pop(veh)
            if oq:
                join(m, -1)

    def serve(m: int, t: float) -> None:
        """Admit waiters of ``m``'s gate (lowest finish tag first) while ``m`` can take them; then re-arm the gate."""
        g = gate[m]
        while g:
            x = next_waiter(m)
            p = candidate(m, x)
            r = ready(m, psz[p], t)
            if r > t:
                arm(m, t, r)
                return
            gstuck[m] = False
            take(m)
            admit(m, x, p, t)

    def on_gate(ev: _Call) -> None:
        m = ev.arg
        gsched[m] = False
        if alive[0]:
            serve(m, ev.t)

    def on_stuck(ev: _Call) -> None:
        m = ev.arg
        if not alive[0] or not gstuck[m] or gtok[m] != ev.tok or gsched[m] or not nwait[m]:
            return
        # the first in line waited stuck_time_s for room: it enters the full link anyway (breaks gridlock)
        t = ev.t
        gstuck[m] = False
        x = take(m)
        stuck_moves[0] += 1
        if x >= 0:
            enter(qs[x][qh[x]] + 1, m, t)
            leave(x, t)
        else:
            oq = origin[m]
            veh = oq.popleft()
            enter(start[veh], m, t)
            ent[start[veh]] = waited_from.pop(veh)
            if oq:
                join(m, -1)
        if nwait[m] and not gsched[m]:
            serve(m, t)

    def on_head(ev: _Call) -> None:  # noqa: C901 (the hot path, inlined on purpose: DESIGN.md "Performance")
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
            if nwait[m]:
                wait_at(m, li, t, 0.0)  # others are in line before it
                return
            # ready(m, s, t), inlined
            r = islot[m]
            if r < t:
                r = t
            need = nin[m] + s - sto[m]
            if need > 0.0:
                j = bisect_left(cum[m], need)
                if j >= qh[m]:
                    if non[m] > 0:
                        r = _INF
                else:
                    tr = ex[qs[m][j]] + wave[m]
                    if tr > r:
                        r = tr
            if r > t:
                wait_at(m, li, t, r)
                return
            # the next link's entry, inlined
            p1 = p + 1
            ent[p1] = t
            non[m] += s
            n = nin[m] + s
            nin[m] = n
            islot[m] = t + hwi[m] * s
            te = t + fft[p1]
            ee[p1] = te
            qs[m].append(p1)
            cum[m].append(n)
            if not busy[m]:
                busy[m] = True
                te += gwy[m]
                ns = nslot[m]
                if te < ns:
                    te = ns
                m2 = nl[p1]
                if m2 >= 0 and te < islot[m2]:
                    te = islot[m2]
                c = cyc[m]
                if c > 0.0:
                    phi = (te - off[m]) % c
                    if phi >= grn[m]:
                        te += c - phi
                e2 = hev[m]
                e2.callbacks = HEAD
                e2.t = te
                heappush(queue, (env._now + (te - t), 1, next(eid), e2))
        ex[p] = t
        hd += 1
        qh[li] = hd
        non[li] -= s
        ns = t + (hw[li] * s if slot0[li] < 0 else discharge_s(li, p, s, t))
        nslot[li] = ns
        if nwait[li] and not gsched[li]:
            serve(li, t)
        if hd < len(lst):
            p2 = lst[hd]
            te = ee[p2] + gwy[li]
            if te < ns:
                te = ns
            m2 = nl[p2]
            if m2 >= 0 and te < islot[m2]:
                te = islot[m2]
            c = cyc[li]
            if c > 0.0:
                phi = (te - off[li]) % c
                if phi >= grn[li]:
                    te += c - phi
            ev.callbacks = HEAD  # this link's event, popped: reuse it
            ev.t = te
            heappush(queue, (env._now + (te - t), 1, next(eid), ev))
        else:
            busy[li] = False

    n_veh = len(order)

    def depart(veh: int, t: float) -> None:
        p = start[veh]
        m = rl[p]
        if nwait[m]:
            waited_from[veh] = t
            oq = origin.get(m)
            if oq:
                oq.append(veh)  # the origin queue is already in line
                return
            origin[m] = deque((veh,))
            wait_at(m, -1, t, 0.0)
            return
        r = ready(m, psz[p], t)
        if r <= t:
            enter(p, m, t)
        else:
            waited_from[veh] = t
            origin[m] = deque((veh,))
            wait_at(m, -1, t, r)

    def on_depart(ev: _Call) -> None:
        if not alive[0]:
            return
        i = ev.arg
        t = ev.t
        veh = order[i]
        if start[veh] < stop[veh]:
            depart(veh, t)
        if i + 1 < n_veh:
            tn = depart_abs[i + 1]
            ev.callbacks = DEPART  # at most one departure is pending: reuse its event
            ev.arg = i + 1
            ev.t = tn
            heappush(queue, (env._now + (tn - t), 1, next(eid), ev))

    HEAD = (on_head,)
    GATE = (on_gate,)
    STUCK = (on_stuck,)
    DEPART = (on_depart,)
    # at most one exit event per link is pending (``busy``), so each link reuses one event object
    hev = [_Call(HEAD, li, 0.0) for li in range(n_links)]
    if n_veh:
        schedule(_Call(DEPART, 0, depart_abs[0]), 1, depart_abs[0] - env.now)
    env.run(until=t_end)
    alive[0] = False
    return stuck_moves[0]


def flow_capacity_vph(network: RoadNetwork, mean_v_kph: FloatArray, st: TrafficSettings) -> FloatArray:
    """A link's own flow capacity, all lanes [veh/h]: the capacity of its triangular fundamental diagram.

    ``u w k_jam / (u + w)`` at the link's mean desired speed ``u`` (Newell 1993; the capacity UXsim and the link
    transmission model give a link), ``k_jam`` the link's own storage per metre (``storage_veh / length_m``, so
    lanes, a road diet or a test network's storage count), ``w`` the backward wave speed
    ``traffic.backward_wave_speed_kph``; lower where the optional link column ``link_capacity_vph`` sets an
    explicit bottleneck. About 1,900 veh/h/lane at a 50 km/h limit, 1,700 at 30 km/h (a slow link is a bottleneck).

    The road class's ``capacity_vph`` (MATSim's per-class values, ``network.capacity_vph_per_lane``) is *not*
    used: those figures include the losses at the junctions along a road, which this model simulates where
    they happen (signals, give-way approaches, ``exit_capacity_vph``); applied along a whole link they would
    count them twice and cap a link's inflow at a junction's capacity.
    """
    links = network.links
    length = np.maximum(links["length_m"].to_numpy(dtype=np.float64), 1e-9)
    kjam = links["storage_veh"].to_numpy(dtype=np.float64) / length  # veh per metre, all lanes
    u = kph_to_mps(np.maximum(mean_v_kph, 1e-9))
    w = kph_to_mps(st.backward_wave_kph)
    q_fd: FloatArray = u * w * kjam / (u + w) * S_PER_HOUR
    if "link_capacity_vph" in links.columns:
        x = links["link_capacity_vph"].to_numpy(dtype=np.float64)
        q_fd = np.where(np.isfinite(x), np.minimum(q_fd, x), q_fd)
    return q_fd


def link_constants(
    network: RoadNetwork,
    sig: Signals,
    give_way_s: FloatArray,
    give_way_vph: FloatArray,
    mean_v: FloatArray,
    st: TrafficSettings,
) -> Links:
    """Per-link constants of :func:`run_period`.

    Inflow headway: ``3600 / flow capacity`` (:func:`flow_capacity_vph`, the link's own). Outflow headway: the
    junction at the link's end: at a signal, the saturation flow of its lanes (within the green); on the approach
    of a give-way junction, ``give_way_vph`` (:func:`~vision_zero.traffic._model.give_way_capacity_vph`, NaN
    elsewhere) if lower than the flow capacity; elsewhere (a bend, a major road through a junction) the flow
    capacity. An optional link column ``exit_capacity_vph`` caps the outflow further (a node's capacity on the
    links entering it, e.g. a roundabout's entry capacity). On a minor approach of a priority junction the
    outflow headway is a floor. With ``traffic.give_way.gap_acceptance`` on, the approach-level give-way capacity
    is not applied on minor approaches of priority junctions (roundabout entries keep it): :func:`run_period`
    gives each vehicle leaving a link at a priority junction its movement's gap-acceptance headway (HCM eq. 17-3
    with the movement's own critical gap, follow-up headway and conflicting flow over the last
    ``traffic.give_way.flow_window_s``; :func:`~vision_zero.traffic._model.give_way_movements`). ``give_way_s``
    from :func:`~vision_zero.traffic._model.give_way_delay_s` (a constant hold, or zeros).
    """
    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    lanes = np.maximum(links["lanes"].to_numpy(dtype=np.float64), 1.0)
    cap = flow_capacity_vph(network, mean_v, st)
    movements = give_way_movements(network, st) if st.give_way_gap_acceptance else None
    if (
        movements is not None
    ):  # each movement's own t_f replaces the approach-level capacity at priority junctions
        v = links["v"].to_numpy(dtype=np.int64)
        roundabout = (junction_control(network.nodes) == "roundabout")[v]
        give_way_vph = np.where(give_way_approach(network) & ~roundabout, np.nan, give_way_vph)
    out_cap = np.where(np.isfinite(give_way_vph), np.minimum(cap, give_way_vph), cap)
    if "exit_capacity_vph" in links.columns:
        x = links["exit_capacity_vph"].to_numpy(dtype=np.float64)
        out_cap = np.where(np.isfinite(x), np.minimum(out_cap, x), out_cap)
    hw_out = np.where(
        sig.cycle_s > 0,
        S_PER_HOUR / (st.saturation_flow_vphpl * lanes),
        S_PER_HOUR / np.maximum(out_cap, 1.0),
    )
    hw_in = S_PER_HOUR / np.maximum(cap, 1.0)
    storage = np.maximum(links["storage_veh"].to_numpy(dtype=np.float64), 1.0)
    wave = length / kph_to_mps(st.backward_wave_kph)
    return Links(
        length.tolist(),
        hw_out.tolist(),
        hw_in.tolist(),
        storage.tolist(),
        wave.tolist(),
        sig.cycle_s.tolist(),
        sig.offset_s.tolist(),
        sig.green_s.tolist(),
        np.asarray(give_way_s, dtype=np.float64).tolist(),
        movements,
        lanes.tolist(),
        (hw_in / np.maximum(link_column(links, "merge_priority"), 1e-9)).tolist(),
    )
