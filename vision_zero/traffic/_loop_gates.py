"""The compiled event loop's entry rules (numba): a link's room, its merge gate, a node's shared capacity.

Part of the link-event kernel (:mod:`vision_zero.traffic._loop_kernel` handles the events and calls these; the
arrays are :mod:`vision_zero.traffic._loop_state`'s). Here: when an entrant may enter a link (:func:`ready`:
its inflow slot and Newell's storage test), the outflow headway of a movement that gives way (:func:`discharge_s`:
gap acceptance with its conflicting flows), the merge gate's self-clocked fair queueing (:func:`join`,
:func:`first`, :func:`take`, :func:`arm`, :func:`wait_at`) and the line at a node with a shared flow capacity
(:func:`node_wait`).

A link's merge gate has one slot per entrance (slot 0: the link's origin queue; then each upstream link that
some route takes into it, :func:`~vision_zero.traffic._loop_state.gate_slots`); a waiting entrance is a flag in
its slot with its finish tag and arrival number, so an entrance waits at most once and the lowest (tag, arrival)
is a scan of a few slots.

After a change here, clear the numba cache of the kernel's callers (:mod:`vision_zero.traffic._loop_kernel`,
"numba's cache and the kernel's files").
"""

from __future__ import annotations

import numpy as np
from numba import njit

from vision_zero.core.units import S_PER_HOUR
from vision_zero.traffic._junction_capacity import potential_capacity_vph
from vision_zero.traffic._loop_state import (
    ARRIVALS,
    GATE,
    GSCHED,
    GSTUCK,
    GTOK,
    HW,
    HWI,
    INF,
    ISLOT,
    KERNEL,
    LANES,
    NIN,
    NL,
    NODE,
    NON,
    NWAIT,
    QH,
    QLEN,
    ROOM,
    SHARE,
    STO,
    STUCK,
    VCLOCK,
    WAVE,
    Int,
    Net,
    Plan,
    State,
    push,
)

__all__ = [
    "arm",
    "discharge_s",
    "first",
    "join",
    "node_wait",
    "ready",
    "take",
    "wait_at",
]


_capacity_vph = njit(cache=True)(potential_capacity_vph)  # HCM eq. 17-3: the same function, compiled


@njit(**KERNEL)
def ready(net: Net, plan: Plan, st: State, m: Int, s: Int, t: float) -> float:
    """Earliest time >= t at which an entrant of size ``s`` may enter ``m`` (inf: after an exit not yet made)."""
    r = st.lf[m, ISLOT]
    if r < t:
        r = t
    need = st.li[m, NIN] + s - net.lc[m, STO]
    if need > 0.0:
        base = net.qptr[m]
        # the first entry whose cumulative count reaches ``need`` (bisect_left over the strictly increasing cum),
        # found from the last answer for this link: ``need`` only grows as vehicles enter, so this moves on by
        # about one entry per call (a bisection read log2(entries) cache lines per call)
        lo = st.li[m, ROOM]
        n = st.li[m, QLEN]
        while lo < n and st.cx[base + lo, 0] < need:
            lo += 1
        while lo > 0 and st.cx[base + lo - 1, 0] >= need:
            lo -= 1
        st.li[m, ROOM] = lo
        if lo >= st.li[m, QH]:
            return INF if st.li[m, NON] > 0 else float(r)
        tr = st.cx[base + lo, 1] + net.lc[m, WAVE]
        if tr > r:
            r = tr
    return float(r)


@njit(inline="always", **KERNEL)
def discharge_s(net: Net, plan: Plan, st: State, li: Int, p: Int, s: Int, t: float) -> float:
    """Outflow headway after ``p`` left ``li`` at ``t`` by its movement (a link at a priority junction).

    Records the exit in its movement's flow if a conflict list reads it; a movement that gives way gets the
    headway of its capacity with its conflicting flow over the last ``flow_window_s`` (never below ``hw[li]``):
    Kimber & Coombe's linear capacity ``mv_a - sum(weight x flow)`` floored at one vehicle per ``stuck_time_s``
    per lane where ``mv_a > 0``, else HCM eq. 17-3's.
    """
    m = plan.pi[p, NL]
    if m < 0:
        return float(net.lc[li, HW] * s)  # the trip ends at the junction: it crosses no stream
    k = net.mv_ptr[li]
    while net.mv_next[k] != m:
        k += 1
    if net.mv_rec[k]:
        base = net.rec_ptr[k]
        n = st.rec_len[k]
        st.rec_n[base + n] = (st.rec_n[base + n - 1] if n else 0) + s
        st.rec_t[base + n] = t
        st.rec_len[k] = n + 1
    if net.mv_tf[k] <= 0.0:
        return float(net.lc[li, HW] * s)
    window = net.par[1]
    lo = t - window
    vc = 0.0
    for c in range(net.mc_ptr[k], net.mc_ptr[k + 1]):
        j = net.mc_slot[c]
        h = st.rec_h[j]
        nj = st.rec_len[j]
        base = net.rec_ptr[j]
        while h < nj and st.rec_t[base + h] <= lo:  # exits that left the window (the clock only moves on)
            h += 1
        st.rec_h[j] = h
        if h < nj:
            vc += net.mc_w[c] * (st.rec_n[base + nj - 1] - (st.rec_n[base + h - 1] if h else 0))
    a = net.mv_a[k]
    if a > 0.0:
        cap = a - vc * (S_PER_HOUR / window)
        floor = S_PER_HOUR / net.par[0]
        if cap < floor:
            cap = floor
    else:
        cap = _capacity_vph(vc * (S_PER_HOUR / window), net.mv_tc[k], net.mv_tf[k])
    g = S_PER_HOUR / (net.lc[li, LANES] * cap)
    h0 = net.lc[li, HW]
    return float((g if g > h0 else h0) * s)


@njit(inline="always", **KERNEL)
def join(net: Net, st: State, m: Int, who: Int) -> None:
    """``who`` joins ``m``'s gate with its finish tag: max(virtual time, its last tag) + its step."""
    k = net.gptr[m]
    if who >= 0:
        k += 1
        while net.gwho[k] != who:
            k += 1
    tag = st.ltag[k]
    if tag < st.lf[m, VCLOCK]:
        tag = st.lf[m, VCLOCK]
    tag += net.lc[who, SHARE] if who >= 0 else net.lc[m, HWI]
    st.ltag[k] = tag
    a = st.cnt[ARRIVALS] + 1
    st.cnt[ARRIVALS] = a
    st.ginq[k] = True
    st.gtag[k] = tag
    st.garr[k] = a
    st.li[m, NWAIT] += 1


@njit(inline="always", **KERNEL)
def first(net: Net, st: State, m: Int) -> Int:
    """``m``'s gate slot holding the waiter with the lowest finish tag (then the earliest arrival)."""
    best = -1
    for k in range(net.gptr[m], net.gptr[m + 1]):
        if st.ginq[k] and (
            best < 0
            or st.gtag[k] < st.gtag[best]
            or (st.gtag[k] == st.gtag[best] and st.garr[k] < st.garr[best])
        ):
            best = k
    return best


@njit(inline="always", **KERNEL)
def take(net: Net, st: State, m: Int) -> Int:
    """Remove ``m``'s first waiter; advance the gate's clock; return who it was."""
    k = first(net, st, m)
    st.ginq[k] = False
    st.li[m, NWAIT] -= 1
    st.lf[m, VCLOCK] = st.gtag[k]
    return np.int64(net.gwho[k])


@njit(**KERNEL)
def arm(net: Net, st: State, m: Int, t: float, r: float) -> None:
    """Schedule ``m``'s gate at its ready time ``r``, or start its stuck timer when room waits for an exit."""
    if r < INF:
        st.li[m, GSTUCK] = False
        st.li[m, GSCHED] = True
        push(st, st.clk[0] + (r - t), np.int64(GATE), m, r, np.int64(0))
    elif not st.li[m, GSTUCK]:
        st.li[m, GSTUCK] = True
        st.li[m, GTOK] += 1
        stuck = net.par[0]
        push(st, st.clk[0] + stuck, np.int64(STUCK), m, t + stuck, st.li[m, GTOK])


@njit(inline="always", **KERNEL)
def wait_at(net: Net, st: State, m: Int, who: Int, t: float, r: float) -> None:
    """``who`` joins the line at ``m``'s entry; start the gate if it is idle (``r``: ``m``'s ready time)."""
    first = st.li[m, NWAIT] == 0
    join(net, st, m, who)
    if first:
        arm(net, st, m, t, r)


@njit(inline="always", **KERNEL)
def _node_tag(net: Net, st: State, li: Int, j: Int, k: Int) -> float:
    """``li``'s next finish tag at node ``k`` (its slot ``j``): max(virtual time, its last tag) + its step."""
    tag = st.nsf[j, 1]
    if tag < st.nf[k, 1]:
        tag = st.nf[k, 1]
    tag += net.lc[li, SHARE]
    st.nsf[j, 1] = tag
    return float(tag)


@njit(**KERNEL)
def node_wait(net: Net, plan: Plan, st: State, li: Int, p: Int, t: float) -> bool:
    """Whether the head ``p`` of ``li`` waits for its end node's shared flow capacity (then it joins its line).

    It joins the node's line with its finish tag (self-clocked fair queueing, as at a merge gate: entrances that
    keep the node saturated share it in proportion to capacity x merge priority); a node event at the node's next
    free time (or now, if it is free) lets the lowest tag cross. At a free node that event comes after every
    head that reaches the node at the same instant has joined, so a tie goes by the tags, not by event order.
    """
    j = np.int64(net.nslot[li])
    qh = st.li[li, QH]
    if st.nsi[j, 2] == qh + 1:
        return False  # this head passed the node already (it waited for a green after that)
    k = np.int64(net.nnode[j])
    st.nsf[j, 0] = _node_tag(net, st, li, j, k)
    a = st.cnt[ARRIVALS] + 1
    st.cnt[ARRIVALS] = a
    st.nsi[j, 0] = 1
    st.nsi[j, 1] = a
    st.ni[k, 0] += 1
    if not st.ni[k, 1]:
        st.ni[k, 1] = 1
        r = st.nf[k, 0]
        if r < t:
            r = t
        push(st, st.clk[0] + (r - t), np.int64(NODE), k, r, np.int64(0))
    return True
