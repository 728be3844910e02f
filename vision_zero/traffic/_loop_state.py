"""The compiled event loop's state (numba): what its arrays hold, its event heap, building and resetting it.

Part of the link-event kernel (:mod:`vision_zero.traffic._loop_kernel` handles the events; the storage test, merge
gates and node capacities are in :mod:`vision_zero.traffic._loop_gates`). This module owns the kernel's layout:
the per-link constants (:class:`Net`), the vehicles' route-position records (:class:`Plan`) and the mutable state
of one period (:class:`State`), each array's columns and counter slots by name; the numba options of every
per-event function (:data:`KERNEL`); the event heap (:func:`push`, :func:`pop`); the arrays of a simulation
(:func:`gate_slots`, :func:`positions`, :func:`new_state`, :func:`grow_heap`), the reset of a period
(:func:`start_period`) and the times read back (:func:`times`, :func:`final_times`).

Events are kept in the kernel's own binary heap ordered by (key, event number), which is SimPy's order for
events of one priority: ``key`` is computed exactly as SimPy's ``Environment.schedule`` computes its heap time
(the key of the event being handled plus the delay), and event numbers count up in scheduling order, so the
kernel handles the same events in the same order as the interpreted SimPy loop it replaced, and fills the same
times to the last bit (``tests/traffic/test_golden.py``). An event carries its own exact time ``t`` besides its
key, as the SimPy events did.

Every function the kernel runs per event is compiled with numba's runtime off (``_nrt=False``, as numba does for
its own allocation-free helpers): they allocate nothing, and with the runtime on, each call between them took
and released a reference to every array of the three tuples passed (~50 arrays: ~100 atomic reference-count
calls per call), which was ~2/3 of the kernel's time (district: 7.3 -> 2.5 CPU-s per simulation). A function
that allocated would fail to compile, not leak. :func:`start_period` keeps the runtime (a column copy).

After a change here, clear the numba cache of the kernel's callers (:mod:`vision_zero.traffic._loop_kernel`,
"numba's cache and the kernel's files").
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "ARRIVALS",
    "BUSY",
    "CYC",
    "DEPART",
    "EE",
    "ENT",
    "EX",
    "FFT",
    "GATE",
    "GRN",
    "GSCHED",
    "GSTUCK",
    "GTOK",
    "GWY",
    "HARG",
    "HEAD",
    "HELD",
    "HKEY",
    "HKIND",
    "HREADY",
    "HSIZE",
    "HT",
    "HTOK",
    "HW",
    "HWI",
    "INF",
    "ISLOT",
    "KERNEL",
    "LANES",
    "NIN",
    "NL",
    "NODE",
    "NON",
    "NSLOT",
    "NWAIT",
    "OFF",
    "OHEAD",
    "OTAIL",
    "POS_COLS",
    "PSZ",
    "QH",
    "QLEN",
    "RL",
    "ROOM",
    "SHARE",
    "STO",
    "STUCK",
    "STUCK_MOVES",
    "VCLOCK",
    "WAVE",
    "Bool",
    "Int",
    "Net",
    "Plan",
    "Routed",
    "State",
    "final_times",
    "gate_slots",
    "grow_heap",
    "new_state",
    "pop",
    "positions",
    "push",
    "start_period",
    "times",
]


F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
B = npt.NDArray[np.bool_]
Int = int | np.int64  # an integer argument: Python int from Python, int64 inside the kernel
Bool = bool | np.bool_

# event kinds
HEAD = 0  # the exit of a link's head vehicle (= its entry into the next link)
GATE = 1  # a link's merge gate may admit its next waiter
STUCK = 2  # the first waiter of a full link has waited ``stuck_time_s``
DEPART = 3  # the next departure of the period
NODE = 4  # a node with a shared flow capacity may let its next waiting head cross

# slots of State.cnt
HSIZE = 0  # events in the heap
_EID = 1  # next event number
ARRIVALS = 2  # gate arrivals so far (the tie-break of equal finish tags)
STUCK_MOVES = 3  # stuck moves so far

# columns of Net.lc (per-link constants: outflow and inflow headways [s], storage [veh], backward-wave time [s],
# signal cycle, offset and green [s], give-way hold [s], fair-queueing step as an entrance [s], lanes)
HW = 0
HWI = 1
STO = 2
WAVE = 3
CYC = 4
OFF = 5
GRN = 6
GWY = 7
SHARE = 8
LANES = 9
_LI_COLS = ("non", "nin", "qh", "qlen", "nwait", "gtok", "ohead", "otail", "busy", "gsched", "gstuck", "room")
# columns of State.li (per link: vehicles on it, vehicles that entered it, head index and length of its block of
# qs, waiters at its gate, its stuck timer's token, front and end of its origin queue in oq, flags: an exit event
# is pending or its head waits at a gate, a gate event is pending, the gate waits for an exit; the entry in its
# block whose exit last gave room under Newell's storage test)
NON = 0
NIN = 1
QH = 2
QLEN = 3
NWAIT = 4
GTOK = 5
OHEAD = 6
OTAIL = 7
BUSY = 8
GSCHED = 9
GSTUCK = 10
ROOM = 11
# One 48-byte record per route position, seen as six float64 (Plan.pf) and as twelve int32 (Plan.pi, the same
# memory): its running time, the times the kernel fills (entry, end of running = queue join, exit), then its link,
# the next link of the route (-1: the last) and the platoon's vehicles; so a link entry's data sits in one cache
# line (or two) instead of one per field.
FFT = 0
ENT = 1
EE = 2
EX = 3
RL = 8  # int32 columns of Plan.pi: float64 columns 4 and 5
NL = 9
PSZ = 10
# 1: the vehicle was held at the link's end, it left from rest (see :func:`~vision_zero.traffic._loop_kernel._head`);
# else 0
HELD = 11
POS_COLS = 6  # float64 columns of a position record
# One 48-byte record per heap entry (State.hf as float64, State.hi as int64: the same memory), so a sift step
# moves one record instead of six arrays' entries: SimPy's heap time (the key), the event's own time, its event
# number (the tie-break), kind, argument (link or departure index) and a stuck timer's token (a link exit: its
# head's route position in the low 32 bits, 1 + the next link above; only read to prefetch their cache lines).
HKEY = 0
HT = 1
_HEID = 2
HKIND = 3
HARG = 4
HTOK = 5
_HEAP_COLS = 6
# columns of State.lf (per link: earliest next exit, earliest next entry, the gate's virtual time, the time its
# head could leave when it was last scheduled: its wait at the next link's gate counts from there)
NSLOT = 0
ISLOT = 1
VCLOCK = 2
HREADY = 3

INF = np.inf

#: numba options of every per-event function: cached, no GIL, numba's runtime off (see the module's docstring)
KERNEL: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": False}


class Net(NamedTuple):
    """Per-link constants (see :class:`vision_zero.traffic._loop.Links`) and scalar settings."""

    lc: F64  # per link (rows), its constants (columns HW ... LANES): one link's in one or two cache lines
    mv_ptr: I64  # per link + 1: its movement slots at a priority junction (none: gap acceptance off or no such end)
    mv_next: I32  # per movement slot: the next link
    mv_tc: F64  # per movement slot: critical gap [s]
    mv_tf: F64  # per movement slot: follow-up headway [s] (0: does not give way)
    mv_a: F64  # per movement slot: Kimber & Coombe's intercept [veh/h per lane] (0: HCM eq. 17-3)
    mv_rec: B  # per movement slot: its exits are recorded (a conflict list reads its flow)
    mc_ptr: I64  # per movement slot + 1: its conflicts mc_slot / mc_w[mc_ptr[k]:mc_ptr[k + 1]]
    mc_slot: I32
    mc_w: F64  # weight of the conflicting slot's flow (HCM Exhibit 17-4, or Kimber & Coombe's x Y x factor)
    rec_ptr: I64  # per movement slot + 1: its block of State.rec_t / rec_n (room for every exit by it)
    gptr: I64  # per link, its gate slots gptr[l]:gptr[l + 1] (the first: the origin queue)
    gwho: I32  # per gate slot, its entrance (-1: the origin queue)
    qptr: I64  # per link, its block of route positions in State.qs / State.cx
    optr: I64  # per link, its block of vehicles in State.oq (vehicles whose route starts on it)
    par: F64  # stuck_time_s, flow_window_s
    nslot: I32  # per link: its slot at its end node's shared flow capacity (-1: the node has none)
    nnode: I32  # per node slot: its node (an index of the nodes with a shared flow capacity)
    nwho: I32  # per node slot: its entering link
    nptr: I64  # per node with a shared flow capacity + 1: its slots nptr[k]:nptr[k + 1]
    nhw: F64  # per node with a shared flow capacity: its headway per vehicle, 3600 / capacity [s]


class Plan(NamedTuple):
    """Per route position and per vehicle: what the vehicles do (read-only) and the times they fill."""

    pf: F64  # per position (rows): its record as float64: running time [s]; entry, queue-join, exit time (filled)
    pi: I32  # per position (rows): the same records as int32: link, next link (-1: last), platoon (RL ... PSZ)
    start: I64  # per vehicle: its first position
    stop: I64  # per vehicle: one after its last position
    waited: F64  # per vehicle: departure time of a vehicle waiting at its origin


class State(NamedTuple):
    """The mutable state of one period (all arrays: the kernel writes them in place)."""

    li: I32  # per link (rows): its integer state, columns NON ... ROOM (48 bytes: one link's in one or two cache lines)
    lf: F64  # per link (rows): its time state, columns NSLOT, ISLOT, VCLOCK
    ginq: B  # per gate slot: the entrance waits
    gtag: F64  # per gate slot: its finish tag
    garr: I64  # per gate slot: its arrival number
    ltag: F64  # per gate slot: the entrance's last finish tag
    qs: I32  # per link block: route positions in entry order
    cx: F64  # per link block (rows): nin after each entry (an integer as float64), the entrant's exit time
    oq: I32  # per link block: vehicles waiting to depart onto it
    hf: F64  # heap (rows): one event's record as float64 (columns HKEY, HT; see :data:`_HEAP_COLS`)
    hi: I64  # heap (rows): the same records as int64 (columns _HEID ... HTOK: the same memory as ``hf``)
    rec_t: F64  # per recorded movement slot's block: its exit times, in order
    rec_n: I64  # per recorded movement slot's block: vehicles that exited by it after each exit
    rec_len: I64  # per movement slot: exits recorded
    rec_h: I64  # per movement slot: its first exit still inside the flow window (only moves on)
    stk: I64  # the serving stack (links)
    stail: B  # per stack frame: leave's tail follows (the served link's head left)
    cnt: I64  # counters (see the module's HSIZE ...)
    clk: F64  # clk[0]: the key of the event being handled (SimPy's ``now``)
    order: I64  # the period's vehicles in departure order
    dep: F64  # their departure times (absolute)
    nf: F64  # per node with a shared flow capacity (rows): its next free time, its virtual time (fair queueing)
    ni: I64  # per such node (rows): heads waiting for it, a node event is pending
    nsf: F64  # per node slot (rows): the waiting head's finish tag, the entrance's last finish tag
    nsi: I64  # per node slot (rows): its head waits, its arrival number, 1 + the head index (QH) that passed last


class Routed(NamedTuple):
    """What one pass over the route positions counts (:func:`positions`), besides their records."""

    on_link: I64  # per link: route positions on it (its block of State.qs / State.cx)
    starts: I64  # per link: routes that start on it (its block of State.oq)
    pairs: I64  # the distinct movements ``next * n_links + link`` the routes take, ascending


@njit(inline="always")
def _movement_seen(head: I64, val: I32, nxt: I64, a: Int, b: Int) -> bool:
    """Whether link ``a``'s short list of next links (``head``, ``val``, ``nxt``) holds ``b``."""
    k = head[a]
    while k >= 0 and val[k] != b:
        k = nxt[k]
    return bool(k >= 0)


@njit(inline="always")
def _sorted_pairs(head: I64, val: I32, nxt: I64, n: Int, n_links: Int) -> I64:
    """The ``n`` listed movements as ``next * n_links + link``, ascending."""
    out = np.empty(n, dtype=np.int64)
    j = 0
    for a in range(n_links):
        k = head[a]
        while k >= 0:
            out[j] = np.int64(val[k]) * n_links + a
            j += 1
            k = nxt[k]
    out.sort()
    return out


@njit(cache=True, nogil=True)
def _fill_positions(
    pf: F64, pi: I32, rl: I32, start: I64, stop: I64, fft: F64, size: I32, n_links: Int
) -> tuple[I64, I64, I64]:
    """Write every column of every record, one record after the other, and count :class:`Routed`'s figures.

    A position's next link is the route's next position's (-1 at its last), its platoon its vehicle's: derived
    here rather than held in per-position arrays of their own (a district's full day has 10 M positions: three
    such arrays were 120 MB of new memory per simulation, faulted in by the OS). Column by column, numpy's
    strided writes took ~1.5 CPU-s for 7.5 M positions (a city's AM peak, load ~9).

    The distinct movements are what ``np.unique`` of the pairs gives, without sorting every position: a
    position's pair is a movement, and a link has only a few, so each link keeps a short list of the next links
    seen (a city's 7.5 M positions take ~90 k movements: np.unique sorted them in ~3 CPU-s per simulation at
    load ~10).
    """
    on_link = np.zeros(n_links, dtype=np.int64)
    starts = np.zeros(n_links, dtype=np.int64)
    head = np.full(n_links, -1, dtype=np.int64)  # per link, its last distinct next link's entry
    cap = 4 * n_links + 16
    val = np.empty(cap, dtype=np.int32)
    nxt = np.empty(cap, dtype=np.int64)
    n = 0
    for v in range(len(start)):
        lo, hi = start[v], stop[v]
        if lo < hi:
            starts[rl[lo]] += 1
        for i in range(lo, hi):
            a = rl[i]
            b = np.int64(rl[i + 1]) if i + 1 < hi else np.int64(-1)
            pf[i, FFT] = fft[i]
            pf[i, ENT] = np.nan
            pf[i, EE] = np.nan
            pf[i, EX] = np.nan
            pi[i, RL] = a
            pi[i, NL] = b
            pi[i, PSZ] = size[v]
            pi[i, HELD] = 0
            on_link[a] += 1
            if b < 0 or _movement_seen(head, val, nxt, a, b):
                continue
            if n == cap:
                cap *= 2
                val2 = np.empty(cap, dtype=np.int32)
                nxt2 = np.empty(cap, dtype=np.int64)
                val2[:n] = val[:n]
                nxt2[:n] = nxt[:n]
                val, nxt = val2, nxt2
            val[n] = b
            nxt[n] = head[a]
            head[a] = n
            n += 1
    return on_link, starts, _sorted_pairs(head, val, nxt, n, n_links)


def positions(
    rl: I32, start: I64, stop: I64, fft: F64, size: I32, n_links: Int, out: F64 | None = None
) -> tuple[F64, I32, Routed]:
    """Per route position, its record (:class:`Plan`'s ``pf`` and ``pi``: two views of the same memory).

    ``rl``, ``fft``: per position its link and running time; ``start``, ``stop``, ``size``: per vehicle its
    positions ``start:stop`` (together every position) and its platoon's vehicles. ``out``: memory for the
    records (``(len(rl), 6)`` float64, C order; every column is written), else new. Also returns the counts of
    the same pass (:class:`Routed`).
    """
    pf = np.empty((len(rl), POS_COLS)) if out is None else out
    pi = pf.view(np.int32)
    routed = Routed(*_fill_positions(pf, pi, rl, start, stop, fft, size, n_links))
    return pf, pi, routed


def gate_slots(pairs: I64, n_links: Int) -> tuple[I64, I32]:
    """Per link, its gate slots: the origin queue, then each distinct upstream link some route takes into it.

    ``pairs``: the routes' distinct movements, ascending (:attr:`Routed.pairs`).
    """
    to = pairs // max(n_links, 1)
    frm = pairs % max(n_links, 1)
    count = np.bincount(to, minlength=n_links) + 1
    gptr = np.zeros(n_links + 1, dtype=np.int64)
    np.cumsum(count, out=gptr[1:])
    gwho = np.full(int(gptr[-1]), -1, dtype=np.int32)
    # pairs are sorted by (to, from): the upstream links of link l fill gptr[l] + 1 .. gptr[l + 1]
    rank = np.arange(len(pairs)) - np.searchsorted(to, to)
    gwho[gptr[to] + 1 + rank] = frm
    return gptr, gwho


def times(plan: Plan) -> tuple[F64, F64, F64]:
    """Per route position: entry, queue-join and exit times so far (views of the records; NaN: not yet)."""
    return plan.pf[:, ENT], plan.pf[:, EE], plan.pf[:, EX]


@njit(cache=True, nogil=True)
def final_times(pf: F64, pi: I32, ent: F64, ee: F64, ex: F64, held: B) -> None:
    """Per route position: entry, queue-join and exit times and whether it was held, into compact arrays.

    One pass over the records (four strided column copies read them four times). The running times are not
    copied back: they are the ones :func:`positions` wrote.
    """
    for i in range(pf.shape[0]):
        ent[i] = pf[i, ENT]
        ee[i] = pf[i, EE]
        ex[i] = pf[i, EX]
        held[i] = pi[i, HELD] != 0


def new_state(net: Net, plan: Plan, n_links: Int, blocks: tuple[I32, F64] | None = None) -> State:
    """Arrays for a simulation's periods (reset by :func:`start_period`).

    ``blocks``: memory for the per-link-block arrays ``qs`` and ``cx`` (``len(plan.pi)`` and ``(len(plan.pi), 2)``),
    zeroed here as new ones are; else new.
    """
    n_slots = len(net.gwho)
    if blocks is None:
        qs, cx = np.zeros(len(plan.pi), np.int32), np.zeros((len(plan.pi), 2))
    else:
        qs, cx = blocks
        qs[:] = 0
        cx[:] = 0.0
    heap = 6 * n_links + 64
    z = np.zeros
    hf = z((heap, _HEAP_COLS))
    li = z((n_links, len(_LI_COLS)), np.int32)
    li[:, OHEAD] = net.optr[:-1]
    li[:, OTAIL] = net.optr[:-1]
    return State(
        li,
        z((n_links, 4)),
        z(n_slots, np.bool_),
        z(n_slots),
        z(n_slots, np.int64),
        z(n_slots),
        qs,
        cx,
        z(int(net.optr[-1]), np.int32),
        hf,
        hf.view(np.int64),
        z(int(net.rec_ptr[-1])),
        z(int(net.rec_ptr[-1]), np.int64),
        z(len(net.mv_next), np.int64),
        z(len(net.mv_next), np.int64),
        z(2 * n_links + 4, np.int64),
        z(2 * n_links + 4, np.bool_),
        z(8, np.int64),
        z(2),
        z(0, np.int64),
        z(0),
        z((len(net.nhw), 2)),
        z((len(net.nhw), 2), np.int64),
        z((len(net.nwho), 2)),
        z((len(net.nwho), 3), np.int64),
    )


def grow_heap(st: State) -> State:
    """The same state with twice the heap room."""
    n = len(st.hf)
    hf = np.zeros((2 * n, _HEAP_COLS))
    hf[:n] = st.hf
    return st._replace(hf=hf, hi=hf.view(np.int64))


@njit(cache=True, nogil=True)
def start_period(st: State, now: float) -> None:
    """Reset the per-period state and schedule the period's first departure at SimPy's ``now``."""
    for c in range(st.li.shape[1]):
        if c != OHEAD and c != OTAIL:
            st.li[:, c] = 0
    # vehicles still waiting at an origin at the end of the last period stay there
    st.li[:, OHEAD] = st.li[:, OTAIL]
    st.lf[:, NSLOT] = -INF
    st.lf[:, ISLOT] = -INF
    st.lf[:, VCLOCK] = 0.0
    st.lf[:, HREADY] = 0.0
    st.ginq[:] = False
    st.ltag[:] = 0.0
    st.rec_len[:] = 0
    st.rec_h[:] = 0
    st.cnt[:] = 0
    st.nf[:, 0] = -INF
    st.nf[:, 1] = 0.0
    st.ni[:] = 0
    st.nsf[:] = 0.0
    st.nsi[:] = 0
    st.clk[0] = now
    if len(st.order):
        push(st, now + (st.dep[0] - now), np.int64(DEPART), np.int64(0), st.dep[0], np.int64(0))


@njit(inline="always", **KERNEL)
def _move(st: State, dst: Int, src: Int) -> None:
    """Copy the heap entry at ``src`` to ``dst`` (a sift step; bit for bit, through the int64 view)."""
    for c in range(_HEAP_COLS):
        st.hi[dst, c] = st.hi[src, c]


@njit(inline="always", **KERNEL)
def _put(st: State, i: Int, key: float, e: Int, kind: Int, arg: Int, t: float, tok: Int) -> None:
    """Write a heap entry at ``i``."""
    st.hf[i, HKEY] = key
    st.hf[i, HT] = t
    st.hi[i, _HEID] = e
    st.hi[i, HKIND] = kind
    st.hi[i, HARG] = arg
    st.hi[i, HTOK] = tok


@njit(**KERNEL)
def push(st: State, key: float, kind: Int, arg: Int, t: float, tok: Int) -> None:
    """Schedule an event (SimPy's heap entry: key, then event number)."""
    n = st.cnt[HSIZE]
    if n >= len(st.hf):
        raise RuntimeError("event heap full")  # advance() keeps room; this would be a bug
    e = st.cnt[_EID]
    st.cnt[_EID] = e + 1
    i = n
    while i > 0:
        up = (i - 1) >> 1
        k = st.hf[up, HKEY]
        if k < key or (k == key and st.hi[up, _HEID] < e):
            break
        _move(st, i, up)
        i = up
    _put(st, i, key, e, kind, arg, t, tok)
    st.cnt[HSIZE] = n + 1


@njit(inline="always", **KERNEL)
def pop(st: State) -> None:
    """Remove the heap's first event (read it from index 0 before)."""
    n = st.cnt[HSIZE] - 1
    st.cnt[HSIZE] = n
    if n == 0:
        return
    key = st.hf[n, HKEY]
    e = st.hi[n, _HEID]
    kind = st.hi[n, HKIND]
    arg = st.hi[n, HARG]
    t = st.hf[n, HT]
    tok = st.hi[n, HTOK]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        r = c + 1
        kc = st.hf[c, HKEY]
        if r < n:
            kr = st.hf[r, HKEY]
            if kr < kc or (kr == kc and st.hi[r, _HEID] < st.hi[c, _HEID]):
                c = r
                kc = kr
        if key < kc or (key == kc and e < st.hi[c, _HEID]):
            break
        _move(st, i, c)
        i = c
    _put(st, i, key, e, kind, arg, t, tok)
