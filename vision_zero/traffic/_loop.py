"""The event loop of the mesoscopic traffic simulation (one period on one SimPy environment).

Private helper of :mod:`vision_zero.traffic.simulation`, which documents the model; this module holds only the hot path:
per-link constants as Python lists, a minimal SimPy event type, and :func:`run_period`, which fills per-route-
position entry, queue-join and exit times in place (DESIGN.md "Performance").
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from vision_zero.core.units import M_PER_KM, S_PER_HOUR, kph_to_mps
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._model import Signals, TrafficSettings

__all__ = ["Links", "link_constants", "run_period"]

FloatArray = npt.NDArray[np.float64]


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
    headway_s: list[float]
    storage: list[float]
    n_crit: list[float]
    jam_per_m: list[float]
    cycle_s: list[float]
    offset_s: list[float]
    green_s: list[float]
    give_way_s: list[float]  # delay at the stop line of a minor approach to a priority junction (0 elsewhere)


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
    # Environment.schedule inlined on the hot path (the same heap entry: now + delay, priority, event id, event)
    queue: list[tuple[float, int, int, _Call]] = env._queue  # type: ignore[assignment]
    eid = env._eid
    length, hw, sto, ncrit, kjl = lk.length_m, lk.headway_s, lk.storage, lk.n_crit, lk.jam_per_m
    cyc, off, grn, gwy = lk.cycle_s, lk.offset_s, lk.green_s, lk.give_way_s
    w_mps = kph_to_mps(settings.backward_wave_kph)
    vmin_mps = kph_to_mps(settings.min_speed_kph)
    stuck = settings.stuck_time_s

    def head(li: int, t: float) -> None:
        """Schedule the exit of link ``li``'s head: after running and giving way, in a discharge slot, on green."""
        te = ee[qs[li][qh[li]]] + gwy[li]
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
        ev = hev[li]
        ev.callbacks = HEAD
        ev.t = te
        heappush(queue, (env._now + (te - t), 1, next(eid), ev))

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
                te += gwy[m]
                ns = nslot[m]
                if te < ns:
                    te = ns
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
        ns = t + hw[li] * s
        nslot[li] = ns
        if nwait[li]:
            wake(li, t)
        if hd < len(lst):
            te = ee[lst[hd]] + gwy[li]
            if te < ns:
                te = ns
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
            ev.callbacks = DEPART  # at most one departure is pending: reuse its event
            ev.arg = i + 1
            ev.t = tn
            heappush(queue, (env._now + (tn - t), 1, next(eid), ev))

    HEAD = (on_head,)
    STUCK = (on_stuck,)
    DEPART = (on_depart,)
    # at most one exit event per link is pending (``busy``), so each link reuses one event object
    hev = [_Call(HEAD, li, 0.0) for li in range(n_links)]
    if n_veh:
        schedule(_Call(DEPART, 0, depart_abs[0]), 1, depart_abs[0] - env.now)
    env.run(until=t_end)
    alive[0] = False


def link_constants(
    network: RoadNetwork, sig: Signals, give_way_s: FloatArray, mean_v: FloatArray, st: TrafficSettings
) -> Links:
    """Per-link constants of :func:`run_period`; ``give_way_s`` from :func:`~vision_zero.traffic._model.give_way_delay_s`."""
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
    return Links(
        length.tolist(),
        hw.tolist(),
        storage.tolist(),
        ncrit.tolist(),
        kjl.tolist(),
        sig.cycle_s.tolist(),
        sig.offset_s.tolist(),
        sig.green_s.tolist(),
        np.asarray(give_way_s, dtype=np.float64).tolist(),
    )
