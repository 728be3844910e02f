"""The compiled link-event kernel of the event loop (numba): every per-link-entry rule over typed arrays.

Private helper of :mod:`vision_zero.traffic._loop`, which documents the link model and how this kernel and SimPy
share the clock; the kernel holds only the compiled work. It is the one home of the loop's rules (a link's
exit, the next link's entry, Newell's storage test, the merge gate's fair queueing, origin queues, stuck moves,
gap acceptance per movement): there is no second, interpreted copy. This module handles the events (a link's
head leaving, a gate, a stuck timer, a departure, a node's next free time) and is the kernel's public face; its
parts are :mod:`vision_zero.traffic._loop_state` (the arrays, their columns, the event heap in SimPy's order,
building and resetting them) and :mod:`vision_zero.traffic._loop_gates` (a link's room, its merge gate, a
node's shared capacity, a movement's discharge headway).

The state of one period is a :class:`State` of arrays (per link, per gate slot, per route position, the heap);
:func:`advance` handles every kernel event whose key is below a horizon and returns, so the caller can run SimPy
processes between two calls.

The kernel waits on memory more than it computes: a link exit reads its head's position record (written when the
vehicle entered the link, long evicted from the caches), the next link's row and the entry whose exit gives that
link room (Newell's test). So a link exit's heap entry carries its head's route position and next link, and when
an event is popped :func:`advance` asks the CPU (``llvm.prefetch``, :func:`_prefetch`: a hint, no value changes)
for the cache lines the next event will read while it handles this one; a link exit also fetches its next head's
record. The storage test reads each link entry's cumulative count and exit time from one 16-byte row of ``cx``
(the count as float64: the integer, compared to the same float64 as before), not from the entrant's position
record. Same events, same order, same times to the last bit; the AM peak's loop phase: district 1.41 -> 0.75 µs,
city 1.67 -> 1.03 µs per link entry (benchmarks/README.md, "The loop kernel waits on memory").

**numba's cache and the kernel's files.** A cached function holds the compiled code of every function it calls
and the values of the constants it reads, but numba checks only the function's own file for changes ("Notes on
Caching": changes in symbols defined in another file are not recognised). The kernel's functions call and read
across ``_loop_state``, ``_loop_gates``, this module and ``_junction_capacity`` (``potential_capacity_vph``,
compiled): after a change in one of them, delete ``vision_zero/traffic/__pycache__/*.nbi`` and ``*.nbc`` before
testing or timing, or callers cached in the other files keep the old code (``tests/traffic/test_loop_kernel.py``
fails on such a cache; a fresh checkout compiles everything).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from numba import njit, types
from numba.extending import intrinsic

from vision_zero.traffic._kernels import prefetch_codegen
from vision_zero.traffic._loop_gates import (
    arm,
    discharge_s,
    first,
    join,
    node_wait,
    ready,
    take,
    wait_at,
)
from vision_zero.traffic._loop_state import (
    BUSY,
    CYC,
    DEPART,
    EE,
    ENT,
    EX,
    FFT,
    GATE,
    GRN,
    GSCHED,
    GSTUCK,
    GTOK,
    GWY,
    HARG,
    HEAD,
    HELD,
    HKEY,
    HKIND,
    HREADY,
    HSIZE,
    HT,
    HTOK,
    HW,
    HWI,
    ISLOT,
    KERNEL,
    NIN,
    NL,
    NODE,
    NON,
    NSLOT,
    NWAIT,
    OFF,
    OHEAD,
    OTAIL,
    POS_COLS,
    PSZ,
    QH,
    QLEN,
    RL,
    ROOM,
    STUCK,
    STUCK_MOVES,
    Bool,
    Int,
    Net,
    Plan,
    State,
    final_times,
    gate_slots,
    grow_heap,
    new_state,
    pop,
    positions,
    push,
    start_period,
    times,
)

__all__ = [
    "HARG",
    "HKEY",
    "HSIZE",
    "NEED_ROOM",
    "NL",
    "POS_COLS",
    "RL",
    "STUCK_MOVES",
    "Net",
    "Plan",
    "State",
    "advance",
    "final_times",
    "gate_slots",
    "grow_heap",
    "new_state",
    "positions",
    "start_period",
    "times",
]


#: :func:`advance`'s return value when the heap must grow before it can go on (the caller grows it, calls again)
NEED_ROOM = 1


def _prefetch_intrinsic(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """Hint the CPU to bring the cache line of ``arr[i, j]`` in ahead of its use (``_kernels.prefetch_codegen``)."""
    return types.void(arr, i, j), prefetch_codegen


#: ``_prefetch(arr, i, j)`` in compiled code: fetch the cache line of ``arr[i, j]`` ahead of its use
_prefetch = cast(Callable[[npt.NDArray[Any], Int, Int], None], intrinsic(_prefetch_intrinsic))


@njit(**KERNEL)
def _head(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """Schedule the exit of link ``li``'s head: after running and giving way, in a discharge slot, on green.

    Marks the head held (it leaves from rest, ``HELD``) when what keeps it at the link's end is a stop: a red;
    a give-way hold (``GWY``); a discharge slot longer than the link's own inflow headway after the vehicle
    ahead (a give-way approach's or a yielding movement's follow-up headway, an entry capacity) that it reached
    the line before; or a vehicle ahead that was held and had not left when it reached the line (a standing
    queue). One outflow or inflow headway behind a moving vehicle is the spacing of a moving stream, not a stop.
    """
    qh = st.li[li, QH]
    p = np.int64(st.qs[net.qptr[li] + qh])
    ee = plan.pf[p, EE]
    c = net.lc[li, CYC]
    held = net.lc[li, GWY] > 0.0
    te = ee + net.lc[li, GWY]
    if te < t:
        te = t
    ns = st.lf[li, NSLOT]
    if qh > 0 and not held:
        q = np.int64(st.qs[net.qptr[li] + qh - 1])  # the vehicle ahead (it has left)
        xq = plan.pf[q, EX]
        if (
            ee < xq
        ):  # it reached the line before the vehicle ahead had left: a standing queue if that one stopped
            held = plan.pi[q, HELD] != 0
        # it waits out a give-way's follow-up: a discharge slot longer than the link's own inflow headway after the
        # vehicle ahead (at a signal the longer slot is the saturation flow, and a queue there is counted above)
        if not held and c <= 0.0 and ee < ns and ns - xq > net.lc[li, HWI] * plan.pi[q, PSZ] * (1.0 + 1e-9):
            held = True
    if te < ns:
        te = ns
    m = np.int64(plan.pi[p, NL])
    if m >= 0 and te < st.lf[m, ISLOT]:
        te = st.lf[m, ISLOT]  # the next link's inflow slot as known now (saves a wait at its gate)
    if c > 0.0:
        phi = (te - net.lc[li, OFF]) % c
        if phi >= net.lc[li, GRN]:
            te += c - phi
            held = True
    if held:
        plan.pi[p, HELD] = 1
    st.lf[li, HREADY] = te
    push(st, st.clk[0] + (te - t), np.int64(HEAD), li, te, p | ((m + 1) << 32))


@njit(**KERNEL)
def _enter(net: Net, plan: Plan, st: State, p: Int, m: Int, t: float) -> None:
    plan.pf[p, ENT] = t
    s = np.int64(plan.pi[p, PSZ])
    st.li[m, NON] += s
    n = st.li[m, NIN] + s
    st.li[m, NIN] = n
    st.lf[m, ISLOT] = t + net.lc[m, HWI] * s
    plan.pf[p, EE] = t + plan.pf[p, FFT]
    k = st.li[m, QLEN]
    st.qs[net.qptr[m] + k] = p
    st.cx[net.qptr[m] + k, 0] = n
    st.li[m, QLEN] = k + 1
    if not st.li[m, BUSY]:
        st.li[m, BUSY] = True
        _head(net, plan, st, m, t)


@njit(inline="always", **KERNEL)
def _leave_start(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """The head of ``li`` leaves it at ``t``: record its exit, free its slot and its room."""
    qh = st.li[li, QH]
    p = np.int64(st.qs[net.qptr[li] + qh])
    s = np.int64(plan.pi[p, PSZ])
    plan.pf[p, EX] = t
    st.cx[net.qptr[li] + qh, 1] = t
    st.li[li, QH] += 1
    st.li[li, NON] -= s
    if net.mv_ptr[li + 1] > net.mv_ptr[li]:
        st.lf[li, NSLOT] = t + discharge_s(net, plan, st, li, p, s, t)
    else:
        st.lf[li, NSLOT] = t + net.lc[li, HW] * s


@njit(inline="always", **KERNEL)
def _leave_end(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """After ``li``'s gate was served: schedule its next head, or mark it idle."""
    if st.li[li, QH] < st.li[li, QLEN]:
        _head(net, plan, st, li, t)
    else:
        st.li[li, BUSY] = False


@njit(**KERNEL)
def _leave(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """The head of ``li`` has left it at ``t``: free its slot, serve its gate, schedule its next head."""
    _leave_start(net, plan, st, li, t)
    if st.li[li, NWAIT] and not st.li[li, GSCHED]:
        _serve(net, plan, st, li, t, np.bool_(True))
    else:
        _leave_end(net, plan, st, li, t)


@njit(inline="always", **KERNEL)
def _admit_origin(net: Net, plan: Plan, st: State, m: Int, t: float) -> None:
    """The first vehicle of ``m``'s origin queue enters ``m`` at ``t`` (its wait counts in its entry time)."""
    veh = np.int64(st.oq[st.li[m, OHEAD]])
    st.li[m, OHEAD] += 1
    p = plan.start[veh]
    _enter(net, plan, st, p, m, t)
    plan.pf[p, ENT] = plan.waited[veh]
    if st.li[m, OHEAD] < st.li[m, OTAIL]:
        join(net, st, m, np.int64(-1))


@njit(**KERNEL)
def _serve(net: Net, plan: Plan, st: State, m0: Int, t: float, tail0: Bool) -> None:
    """Admit waiters of ``m0``'s gate (lowest finish tag first) while it can take them; then re-arm the gate.

    An admitted upstream link's head leaves it, which serves that link's gate in turn before the link schedules
    its next head: a depth-first cascade, run on an explicit stack (``tail``: the frame's link schedules its
    next head when its gate is done, the rest of :func:`_leave`).
    """
    stk, tail = st.stk, st.stail
    stk[0] = m0
    tail[0] = tail0
    sp = 1
    while sp > 0:
        m = stk[sp - 1]
        if st.li[m, NWAIT] == 0:
            sp -= 1
            if tail[sp]:
                _leave_end(net, plan, st, m, t)
            continue
        k = first(net, st, m)
        x = np.int64(net.gwho[k])
        p = np.int64(st.qs[net.qptr[x] + st.li[x, QH]]) if x >= 0 else plan.start[st.oq[st.li[m, OHEAD]]]
        r = ready(net, plan, st, m, np.int64(plan.pi[p, PSZ]), t)
        if r > t:
            arm(net, st, m, t, r)
            sp -= 1
            if tail[sp]:
                _leave_end(net, plan, st, m, t)
            continue
        st.li[m, GSTUCK] = False
        take(net, st, m)
        if x < 0:
            _admit_origin(net, plan, st, m, t)
            continue
        c = net.lc[x, CYC]
        if c > 0.0 and (t - net.lc[x, OFF]) % c >= net.lc[x, GRN]:
            _head(net, plan, st, x, t)  # its signal turned red while it waited: it goes on the next green
            continue
        if t - st.lf[x, HREADY] > net.lc[m, HWI] * plan.pi[p, PSZ] * (1.0 + 1e-9):
            plan.pi[p, HELD] = 1  # it waited at the gate for more than one entrant's inflow headway: a queue
        _enter(net, plan, st, p + 1, m, t)
        _leave_start(net, plan, st, x, t)
        if st.li[x, NWAIT] and not st.li[x, GSCHED]:
            if sp >= len(stk):
                raise RuntimeError("serving stack full")
            stk[sp] = x
            tail[sp] = True
            sp += 1
        else:
            _leave_end(net, plan, st, x, t)


@njit(inline="always", **KERNEL)
def _cross(net: Net, plan: Plan, st: State, li: Int, p: Int, m: Int, t: float) -> None:
    """The head ``p`` of ``li`` crosses into ``m`` at ``t``, or waits at ``m``'s gate."""
    if st.li[m, NWAIT]:
        wait_at(net, st, m, li, t, 0.0)  # others are in line before it
        return
    r = ready(net, plan, st, m, np.int64(plan.pi[p, PSZ]), t)
    if r > t:
        wait_at(net, st, m, li, t, r)
        return
    _enter(net, plan, st, p + 1, m, t)
    _leave(net, plan, st, li, t)


@njit(**KERNEL)
def _on_node(net: Net, plan: Plan, st: State, k: Int, t: float) -> None:
    """Node ``k``'s next free time: its waiting head with the lowest (finish tag, arrival) crosses it."""
    st.ni[k, 1] = 0
    best = -1
    for j in range(net.nptr[k], net.nptr[k + 1]):
        if st.nsi[j, 0] and (
            best < 0
            or st.nsf[j, 0] < st.nsf[best, 0]
            or (st.nsf[j, 0] == st.nsf[best, 0] and st.nsi[j, 1] < st.nsi[best, 1])
        ):
            best = j
    if best < 0:
        return
    st.nsi[best, 0] = 0
    st.ni[k, 0] -= 1
    st.nf[k, 1] = st.nsf[best, 0]
    x = np.int64(net.nwho[best])
    qh = st.li[x, QH]
    p = np.int64(st.qs[net.qptr[x] + qh])
    s = plan.pi[p, PSZ]
    st.nf[k, 0] = t + net.nhw[k] * s
    st.nsi[best, 2] = qh + 1
    if t - st.lf[x, HREADY] > net.nhw[k] * s * (1.0 + 1e-9):
        plan.pi[p, HELD] = 1  # it waited for the node for more than its own slot: a queue
    _cross(net, plan, st, x, p, np.int64(plan.pi[p, NL]), t)
    # after the crossing: a head it lets reach the node at the next free time is scheduled first and joins the
    # line before the node event picks (a saturated entrance keeps its turn)
    if st.ni[k, 0]:
        st.ni[k, 1] = 1
        r = st.nf[k, 0]
        push(st, st.clk[0] + (r - t), np.int64(NODE), k, r, np.int64(0))


@njit(inline="always", **KERNEL)
def _on_head(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    qh = st.li[li, QH]
    p = np.int64(st.qs[net.qptr[li] + qh])
    if qh + 1 < st.li[li, QLEN]:  # the next head's record, which _head reads when this one has left
        nxt = st.qs[net.qptr[li] + qh + 1]
        _prefetch(plan.pf, nxt, 0)
        _prefetch(plan.pf, nxt, POS_COLS - 1)
    m = np.int64(plan.pi[p, NL])
    if m >= 0:
        if net.nslot[li] >= 0 and node_wait(net, plan, st, li, p, t):
            return
        _cross(net, plan, st, li, p, m, t)
        return
    _leave(net, plan, st, li, t)


@njit(inline="always", **KERNEL)
def _on_stuck(net: Net, plan: Plan, st: State, m: Int, t: float, tok: Int) -> None:
    if not st.li[m, GSTUCK] or st.li[m, GTOK] != tok or st.li[m, GSCHED] or not st.li[m, NWAIT]:
        return
    # the first in line waited stuck_time_s for room: it enters the full link anyway (breaks gridlock)
    st.li[m, GSTUCK] = False
    x = take(net, st, m)
    st.cnt[STUCK_MOVES] += 1
    if x >= 0:
        p = np.int64(st.qs[net.qptr[x] + st.li[x, QH]])
        plan.pi[p, HELD] = 1  # it stood first in line for stuck_time_s
        _enter(net, plan, st, p + 1, m, t)
        _leave(net, plan, st, x, t)
    else:
        _admit_origin(net, plan, st, m, t)
    if st.li[m, NWAIT] and not st.li[m, GSCHED]:
        _serve(net, plan, st, m, t, np.bool_(False))


@njit(inline="always", **KERNEL)
def _depart(net: Net, plan: Plan, st: State, veh: Int, t: float) -> None:
    p = plan.start[veh]
    m = np.int64(plan.pi[p, RL])
    if st.li[m, NWAIT]:
        plan.waited[veh] = t
        queued = st.li[m, OHEAD] < st.li[m, OTAIL]
        st.oq[st.li[m, OTAIL]] = veh
        st.li[m, OTAIL] += 1
        if not queued:  # else the origin queue is already in line
            wait_at(net, st, m, np.int64(-1), t, 0.0)
        return
    r = ready(net, plan, st, m, np.int64(plan.pi[p, PSZ]), t)
    if r <= t:
        _enter(net, plan, st, p, m, t)
    else:
        plan.waited[veh] = t
        st.oq[st.li[m, OTAIL]] = veh
        st.li[m, OTAIL] += 1
        wait_at(net, st, m, np.int64(-1), t, r)


@njit(**KERNEL)
def advance(net: Net, plan: Plan, st: State, horizon: float) -> int:
    """Handle every kernel event whose key is below ``horizon`` (SimPy's next event time), in SimPy's order.

    Returns 0, or :data:`NEED_ROOM` when the heap must grow first (then nothing was lost: call again).
    """
    room = 3 * len(st.lf) + 16  # an event schedules about one head, one gate and one stuck timer per link
    n_dep = len(st.order)
    while st.cnt[HSIZE] > 0 and st.hf[0, HKEY] < horizon:
        if st.cnt[HSIZE] + room > len(st.hf):
            return NEED_ROOM
        st.clk[0] = st.hf[0, HKEY]
        kind = st.hi[0, HKIND]
        arg = st.hi[0, HARG]
        t = st.hf[0, HT]
        tok = st.hi[0, HTOK]
        pop(st)
        if st.cnt[HSIZE] > 0 and st.hi[0, HKIND] == HEAD:
            # the next event is (most likely) the exit of the head whose record is its token: fetch it meanwhile
            q = st.hi[0, HTOK]
            p = q & 0xFFFFFFFF
            _prefetch(plan.pf, p, 0)
            _prefetch(plan.pf, p, POS_COLS - 1)
            _prefetch(st.li, st.hi[0, HARG], 0)
            m = (q >> 32) - 1
            if m >= 0:
                _prefetch(st.li, m, 0)
                _prefetch(st.lf, m, 0)
                _prefetch(net.lc, m, 0)
                _prefetch(st.cx, net.qptr[m] + st.li[m, ROOM], 0)
        if kind == HEAD:
            _on_head(net, plan, st, arg, t)
        elif kind == GATE:
            st.li[arg, GSCHED] = False
            _serve(net, plan, st, arg, t, np.bool_(False))
        elif kind == STUCK:
            _on_stuck(net, plan, st, arg, t, tok)
        elif kind == NODE:
            _on_node(net, plan, st, arg, t)
        else:
            veh = st.order[arg]
            if plan.start[veh] < plan.stop[veh]:
                _depart(net, plan, st, veh, t)
            if arg + 1 < n_dep:
                tn = st.dep[arg + 1]
                push(st, st.clk[0] + (tn - t), np.int64(DEPART), arg + 1, tn, np.int64(0))
    return 0
