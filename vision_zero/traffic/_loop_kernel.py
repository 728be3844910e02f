"""The compiled link-event kernel of the event loop (numba): every per-link-entry rule over typed arrays.

Private helper of :mod:`vision_zero.traffic._loop`, which documents the link model and how this kernel and SimPy
share the clock; this module holds only the compiled work. It is the one home of the loop's rules (a link's
exit, the next link's entry, Newell's storage test, the merge gate's fair queueing, origin queues, stuck moves,
gap acceptance per movement): there is no second, interpreted copy.

Events are kept in the kernel's own binary heap ordered by (key, event number), which is SimPy's order for
events of one priority: ``key`` is computed exactly as SimPy's ``Environment.schedule`` computes its heap time
(the key of the event being handled plus the delay), and event numbers count up in scheduling order, so the
kernel handles the same events in the same order as the interpreted SimPy loop it replaced, and fills the same
times to the last bit (``tests/traffic/test_golden.py``). An event carries its own exact time ``t`` besides its
key, as the SimPy events did.

The state of one period is a :class:`State` of arrays (per link, per gate slot, per route position, the heap);
:func:`advance` handles every kernel event whose key is below a horizon and returns, so the caller can run SimPy
processes between two calls.

A link's merge gate has one slot per entrance (slot 0: the link's origin queue; then each upstream link that
some route takes into it, :func:`gate_slots`); a waiting entrance is a flag in its slot with its finish tag and
arrival number, so an entrance waits at most once and the lowest (tag, arrival) is a scan of a few slots.

Every function the kernel runs per event is compiled with numba's runtime off (``_nrt=False``, as numba does for
its own allocation-free helpers): they allocate nothing, and with the runtime on, each call between them took
and released a reference to every array of the three tuples passed (~50 arrays: ~100 atomic reference-count
calls per call), which was ~2/3 of the kernel's time (district: 7.3 -> 2.5 CPU-s per simulation). A function
that allocated would fail to compile, not leak. :func:`start_period` keeps the runtime (a column copy).

The kernel waits on memory more than it computes: a link exit reads its head's position record (written when the
vehicle entered the link, long evicted from the caches), the next link's row and the entry whose exit gives that
link room (Newell's test). So a link exit's heap entry carries its head's route position and next link, and when
an event is popped :func:`advance` asks the CPU (``llvm.prefetch``, :func:`_prefetch`: a hint, no value changes)
for the cache lines the next event will read while it handles this one; a link exit also fetches its next head's
record. The storage test reads each link entry's cumulative count and exit time from one 16-byte row of ``cx``
(the count as float64: the integer, compared to the same float64 as before), not from the entrant's position
record. Same events, same order, same times to the last bit; the AM peak's loop phase: district 1.41 -> 0.75 µs,
city 1.67 -> 1.03 µs per link entry (benchmarks/README.md, "The loop kernel waits on memory").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from vision_zero.core.units import S_PER_HOUR
from vision_zero.traffic._model import potential_capacity_vph

__all__ = [
    "HARG",
    "HKEY",
    "HSIZE",
    "NEED_ROOM",
    "POS_COLS",
    "STUCK_MOVES",
    "Net",
    "Plan",
    "State",
    "advance",
    "gate_slots",
    "grow_heap",
    "new_state",
    "positions",
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
_HEAD = 0  # the exit of a link's head vehicle (= its entry into the next link)
_GATE = 1  # a link's merge gate may admit its next waiter
_STUCK = 2  # the first waiter of a full link has waited ``stuck_time_s``
_DEPART = 3  # the next departure of the period
_NODE = 4  # a node with a shared flow capacity may let its next waiting head cross

# slots of State.cnt
HSIZE = 0  # events in the heap
_EID = 1  # next event number
_ARRIVALS = 2  # gate arrivals so far (the tie-break of equal finish tags)
STUCK_MOVES = 3  # stuck moves so far

# columns of Net.lc (per-link constants: outflow and inflow headways [s], storage [veh], backward-wave time [s],
# signal cycle, offset and green [s], give-way hold [s], fair-queueing step as an entrance [s], lanes)
_HW = 0
_HWI = 1
_STO = 2
_WAVE = 3
_CYC = 4
_OFF = 5
_GRN = 6
_GWY = 7
_SHARE = 8
_LANES = 9
_LI_COLS = ("non", "nin", "qh", "qlen", "nwait", "gtok", "ohead", "otail", "busy", "gsched", "gstuck", "room")
# columns of State.li (per link: vehicles on it, vehicles that entered it, head index and length of its block of
# qs, waiters at its gate, its stuck timer's token, front and end of its origin queue in oq, flags: an exit event
# is pending or its head waits at a gate, a gate event is pending, the gate waits for an exit; the entry in its
# block whose exit last gave room under Newell's storage test)
_NON = 0
_NIN = 1
_QH = 2
_QLEN = 3
_NWAIT = 4
_GTOK = 5
_OHEAD = 6
_OTAIL = 7
_BUSY = 8
_GSCHED = 9
_GSTUCK = 10
_ROOM = 11
# One 48-byte record per route position, seen as six float64 (Plan.pf) and as twelve int32 (Plan.pi, the same
# memory): its running time, the times the kernel fills (entry, end of running = queue join, exit), then its link,
# the next link of the route (-1: the last) and the platoon's vehicles; so a link entry's data sits in one cache
# line (or two) instead of one per field.
_FFT = 0
_ENT = 1
_EE = 2
_EX = 3
_RL = 8  # int32 columns of Plan.pi: float64 columns 4 and 5
_NL = 9
_PSZ = 10
_HELD = 11  # 1: the vehicle was held at the link's end, it left from rest (see :func:`_head`); else 0
_POS_COLS = 6  # float64 columns of a position record
POS_COLS = _POS_COLS
# One 48-byte record per heap entry (State.hf as float64, State.hi as int64: the same memory), so a sift step
# moves one record instead of six arrays' entries: SimPy's heap time (the key), the event's own time, its event
# number (the tie-break), kind, argument (link or departure index) and a stuck timer's token (a link exit: its
# head's route position in the low 32 bits, 1 + the next link above; only read to prefetch their cache lines).
HKEY = 0
_HT = 1
_HEID = 2
_HKIND = 3
HARG = 4
_HTOK = 5
_HEAP_COLS = 6
# columns of State.lf (per link: earliest next exit, earliest next entry, the gate's virtual time, the time its
# head could leave when it was last scheduled: its wait at the next link's gate counts from there)
_NSLOT = 0
_ISLOT = 1
_VCLOCK = 2
_HREADY = 3

#: :func:`advance`'s return value when the heap must grow before it can go on (the caller grows it, calls again)
NEED_ROOM = 1

_INF = np.inf

#: numba options of every per-event function: cached, no GIL, numba's runtime off (see the module's docstring)
_KERNEL: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": False}

_capacity_vph = njit(cache=True)(potential_capacity_vph)  # HCM eq. 17-3: the same function, compiled


def _prefetch_intrinsic(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """Hint the CPU to bring the cache line of ``arr[i, j]`` in ahead of its use (LLVM's ``llvm.prefetch``).

    A hint only: it changes no value (no bounds check is needed: an x86 prefetch of any address never faults).
    """
    sig = types.void(arr, i, j)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [
            context.cast(builder, a, t, types.intp) for a, t in zip(args[1:], signature.args[1:], strict=True)
        ]
        ptr = cgutils.get_item_pointer2(
            context,
            builder,
            data=ary.data,
            shape=cgutils.unpack_tuple(builder, ary.shape),  # type: ignore[no-untyped-call]
            strides=cgutils.unpack_tuple(builder, ary.strides),  # type: ignore[no-untyped-call]
            layout=aryty.layout,
            inds=idx,
            wraparound=False,
            boundscheck=False,
        )
        i32 = ir.IntType(32)
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")  # type: ignore[no-untyped-call]
        # read, keep in every cache level, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


#: ``_prefetch(arr, i, j)`` in compiled code: fetch the cache line of ``arr[i, j]`` ahead of its use
_prefetch = cast(Callable[[npt.NDArray[Any], Int, Int], None], intrinsic(_prefetch_intrinsic))


class Net(NamedTuple):
    """Per-link constants (see :class:`vision_zero.traffic._loop.Links`) and scalar settings."""

    lc: F64  # per link (rows), its constants (columns _HW ... _LANES): one link's in one or two cache lines
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
    pi: I32  # per position (rows): the same records as int32: link, next link (-1: last), platoon (_RL ... _PSZ)
    start: I64  # per vehicle: its first position
    stop: I64  # per vehicle: one after its last position
    waited: F64  # per vehicle: departure time of a vehicle waiting at its origin


class State(NamedTuple):
    """The mutable state of one period (all arrays: the kernel writes them in place)."""

    li: I32  # per link (rows): its integer state, columns _NON ... _ROOM (48 bytes: one link's in one or two cache lines)
    lf: F64  # per link (rows): its time state, columns _NSLOT, _ISLOT, _VCLOCK
    ginq: B  # per gate slot: the entrance waits
    gtag: F64  # per gate slot: its finish tag
    garr: I64  # per gate slot: its arrival number
    ltag: F64  # per gate slot: the entrance's last finish tag
    qs: I32  # per link block: route positions in entry order
    cx: F64  # per link block (rows): nin after each entry (an integer as float64), the entrant's exit time
    oq: I32  # per link block: vehicles waiting to depart onto it
    hf: F64  # heap (rows): one event's record as float64 (columns HKEY, _HT; see :data:`_HEAP_COLS`)
    hi: I64  # heap (rows): the same records as int64 (columns _HEID ... _HTOK: the same memory as ``hf``)
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


@njit(cache=True, nogil=True)
def _distinct_pairs(rl: I32, nl: I32, n_links: Int) -> I64:
    """The distinct ``next * n_links + link`` over the positions with a next link, ascending.

    What ``np.unique`` gives, without sorting every position: a route position's pair is a movement, and a link
    has only a few, so each link keeps a short list of the next links seen (a city's 7.5 M positions take ~90 k
    movements: np.unique sorted them in ~3 CPU-s per simulation at load ~10).
    """
    head = np.full(n_links, -1, dtype=np.int64)  # per link, its last distinct next link's entry
    cap = 4 * n_links + 16
    val = np.empty(cap, dtype=np.int32)
    nxt = np.empty(cap, dtype=np.int64)
    n = 0
    for i in range(len(rl)):
        b = nl[i]
        if b < 0:
            continue
        a = rl[i]
        k = head[a]
        while k >= 0 and val[k] != b:
            k = nxt[k]
        if k >= 0:
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


def gate_slots(rl: I32, nl: I32, n_links: Int) -> tuple[I64, I32]:
    """Per link, its gate slots: the origin queue, then each distinct upstream link some route takes into it."""
    pairs = _distinct_pairs(rl, nl, n_links)
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


def positions(rl: I32, nl: I32, fft: F64, psz: I32, out: F64 | None = None) -> tuple[F64, I32]:
    """Per route position, its record (:class:`Plan`'s ``pf`` and ``pi``: two views of the same memory).

    ``out``: memory for the records (``(len(rl), 6)`` float64, C order; every column is written), else new.
    """
    pf = np.empty((len(rl), _POS_COLS)) if out is None else out
    pi = pf.view(np.int32)
    _fill_positions(pf, pi, rl, nl, fft, psz)
    return pf, pi


@njit(cache=True, nogil=True)
def _fill_positions(pf: F64, pi: I32, rl: I32, nl: I32, fft: F64, psz: I32) -> None:
    """Write every column of every record, one record after the other.

    Column by column, numpy's strided writes took ~1.5 CPU-s for 7.5 M positions (a city's AM peak, load ~9).
    """
    for i in range(len(rl)):
        pf[i, _FFT] = fft[i]
        pf[i, _ENT] = np.nan
        pf[i, _EE] = np.nan
        pf[i, _EX] = np.nan
        pi[i, _RL] = rl[i]
        pi[i, _NL] = nl[i]
        pi[i, _PSZ] = psz[i]
        pi[i, _HELD] = 0


def times(plan: Plan) -> tuple[F64, F64, F64]:
    """Per route position: entry, queue-join and exit times so far (views of the records; NaN: not yet)."""
    return plan.pf[:, _ENT], plan.pf[:, _EE], plan.pf[:, _EX]


@njit(cache=True, nogil=True)
def final_times(pf: F64, pi: I32) -> tuple[F64, F64, F64, F64, B]:
    """Per route position: entry, queue-join and exit times, the running time and whether it was held, compact.

    One pass over the records (four strided column copies read them four times).
    """
    n = pf.shape[0]
    ent = np.empty(n)
    ee = np.empty(n)
    ex = np.empty(n)
    fft = np.empty(n)
    held = np.empty(n, dtype=np.bool_)
    for i in range(n):
        ent[i] = pf[i, _ENT]
        ee[i] = pf[i, _EE]
        ex[i] = pf[i, _EX]
        fft[i] = pf[i, _FFT]
        held[i] = pi[i, _HELD] != 0
    return ent, ee, ex, fft, held


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
    li[:, _OHEAD] = net.optr[:-1]
    li[:, _OTAIL] = net.optr[:-1]
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
        if c != _OHEAD and c != _OTAIL:
            st.li[:, c] = 0
    # vehicles still waiting at an origin at the end of the last period stay there
    st.li[:, _OHEAD] = st.li[:, _OTAIL]
    st.lf[:, _NSLOT] = -_INF
    st.lf[:, _ISLOT] = -_INF
    st.lf[:, _VCLOCK] = 0.0
    st.lf[:, _HREADY] = 0.0
    st.ginq[:] = False
    st.ltag[:] = 0.0
    st.rec_len[:] = 0
    st.rec_h[:] = 0
    st.cnt[:] = 0
    st.nf[:, 0] = -_INF
    st.nf[:, 1] = 0.0
    st.ni[:] = 0
    st.nsf[:] = 0.0
    st.nsi[:] = 0
    st.clk[0] = now
    if len(st.order):
        _push(st, now + (st.dep[0] - now), np.int64(_DEPART), np.int64(0), st.dep[0], np.int64(0))


@njit(inline="always", **_KERNEL)
def _move(st: State, dst: Int, src: Int) -> None:
    """Copy the heap entry at ``src`` to ``dst`` (a sift step; bit for bit, through the int64 view)."""
    for c in range(_HEAP_COLS):
        st.hi[dst, c] = st.hi[src, c]


@njit(inline="always", **_KERNEL)
def _put(st: State, i: Int, key: float, e: Int, kind: Int, arg: Int, t: float, tok: Int) -> None:
    """Write a heap entry at ``i``."""
    st.hf[i, HKEY] = key
    st.hf[i, _HT] = t
    st.hi[i, _HEID] = e
    st.hi[i, _HKIND] = kind
    st.hi[i, HARG] = arg
    st.hi[i, _HTOK] = tok


@njit(**_KERNEL)
def _push(st: State, key: float, kind: Int, arg: Int, t: float, tok: Int) -> None:
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


@njit(inline="always", **_KERNEL)
def _pop(st: State) -> None:
    """Remove the heap's first event (read it from index 0 before)."""
    n = st.cnt[HSIZE] - 1
    st.cnt[HSIZE] = n
    if n == 0:
        return
    key = st.hf[n, HKEY]
    e = st.hi[n, _HEID]
    kind = st.hi[n, _HKIND]
    arg = st.hi[n, HARG]
    t = st.hf[n, _HT]
    tok = st.hi[n, _HTOK]
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


@njit(**_KERNEL)
def _head(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """Schedule the exit of link ``li``'s head: after running and giving way, in a discharge slot, on green.

    Marks the head held (it leaves from rest, ``_HELD``) when what keeps it at the link's end is a stop: a red;
    a give-way hold (``_GWY``); a discharge slot longer than the link's own inflow headway after the vehicle
    ahead (a give-way approach's or a yielding movement's follow-up headway, an entry capacity) that it reached
    the line before; or a vehicle ahead that was held and had not left when it reached the line (a standing
    queue). One outflow or inflow headway behind a moving vehicle is the spacing of a moving stream, not a stop.
    """
    qh = st.li[li, _QH]
    p = np.int64(st.qs[net.qptr[li] + qh])
    ee = plan.pf[p, _EE]
    c = net.lc[li, _CYC]
    held = net.lc[li, _GWY] > 0.0
    te = ee + net.lc[li, _GWY]
    if te < t:
        te = t
    ns = st.lf[li, _NSLOT]
    if qh > 0 and not held:
        q = np.int64(st.qs[net.qptr[li] + qh - 1])  # the vehicle ahead (it has left)
        xq = plan.pf[q, _EX]
        if (
            ee < xq
        ):  # it reached the line before the vehicle ahead had left: a standing queue if that one stopped
            held = plan.pi[q, _HELD] != 0
        # it waits out a give-way's follow-up: a discharge slot longer than the link's own inflow headway after the
        # vehicle ahead (at a signal the longer slot is the saturation flow, and a queue there is counted above)
        if not held and c <= 0.0 and ee < ns and ns - xq > net.lc[li, _HWI] * plan.pi[q, _PSZ] * (1.0 + 1e-9):
            held = True
    if te < ns:
        te = ns
    m = np.int64(plan.pi[p, _NL])
    if m >= 0 and te < st.lf[m, _ISLOT]:
        te = st.lf[m, _ISLOT]  # the next link's inflow slot as known now (saves a wait at its gate)
    if c > 0.0:
        phi = (te - net.lc[li, _OFF]) % c
        if phi >= net.lc[li, _GRN]:
            te += c - phi
            held = True
    if held:
        plan.pi[p, _HELD] = 1
    st.lf[li, _HREADY] = te
    _push(st, st.clk[0] + (te - t), np.int64(_HEAD), li, te, p | ((m + 1) << 32))


@njit(**_KERNEL)
def _ready(net: Net, plan: Plan, st: State, m: Int, s: Int, t: float) -> float:
    """Earliest time >= t at which an entrant of size ``s`` may enter ``m`` (inf: after an exit not yet made)."""
    r = st.lf[m, _ISLOT]
    if r < t:
        r = t
    need = st.li[m, _NIN] + s - net.lc[m, _STO]
    if need > 0.0:
        base = net.qptr[m]
        # the first entry whose cumulative count reaches ``need`` (bisect_left over the strictly increasing cum),
        # found from the last answer for this link: ``need`` only grows as vehicles enter, so this moves on by
        # about one entry per call (a bisection read log2(entries) cache lines per call)
        lo = st.li[m, _ROOM]
        n = st.li[m, _QLEN]
        while lo < n and st.cx[base + lo, 0] < need:
            lo += 1
        while lo > 0 and st.cx[base + lo - 1, 0] >= need:
            lo -= 1
        st.li[m, _ROOM] = lo
        if lo >= st.li[m, _QH]:
            return _INF if st.li[m, _NON] > 0 else float(r)
        tr = st.cx[base + lo, 1] + net.lc[m, _WAVE]
        if tr > r:
            r = tr
    return float(r)


@njit(**_KERNEL)
def _enter(net: Net, plan: Plan, st: State, p: Int, m: Int, t: float) -> None:
    plan.pf[p, _ENT] = t
    s = np.int64(plan.pi[p, _PSZ])
    st.li[m, _NON] += s
    n = st.li[m, _NIN] + s
    st.li[m, _NIN] = n
    st.lf[m, _ISLOT] = t + net.lc[m, _HWI] * s
    plan.pf[p, _EE] = t + plan.pf[p, _FFT]
    k = st.li[m, _QLEN]
    st.qs[net.qptr[m] + k] = p
    st.cx[net.qptr[m] + k, 0] = n
    st.li[m, _QLEN] = k + 1
    if not st.li[m, _BUSY]:
        st.li[m, _BUSY] = True
        _head(net, plan, st, m, t)


@njit(inline="always", **_KERNEL)
def _discharge_s(net: Net, plan: Plan, st: State, li: Int, p: Int, s: Int, t: float) -> float:
    """Outflow headway after ``p`` left ``li`` at ``t`` by its movement (a link at a priority junction).

    Records the exit in its movement's flow if a conflict list reads it; a movement that gives way gets the
    headway of its capacity with its conflicting flow over the last ``flow_window_s`` (never below ``hw[li]``):
    Kimber & Coombe's linear capacity ``mv_a - sum(weight x flow)`` floored at one vehicle per ``stuck_time_s``
    per lane where ``mv_a > 0``, else HCM eq. 17-3's.
    """
    m = plan.pi[p, _NL]
    if m < 0:
        return float(net.lc[li, _HW] * s)  # the trip ends at the junction: it crosses no stream
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
        return float(net.lc[li, _HW] * s)
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
    g = S_PER_HOUR / (net.lc[li, _LANES] * cap)
    h0 = net.lc[li, _HW]
    return float((g if g > h0 else h0) * s)


@njit(inline="always", **_KERNEL)
def _leave_start(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """The head of ``li`` leaves it at ``t``: record its exit, free its slot and its room."""
    qh = st.li[li, _QH]
    p = np.int64(st.qs[net.qptr[li] + qh])
    s = np.int64(plan.pi[p, _PSZ])
    plan.pf[p, _EX] = t
    st.cx[net.qptr[li] + qh, 1] = t
    st.li[li, _QH] += 1
    st.li[li, _NON] -= s
    if net.mv_ptr[li + 1] > net.mv_ptr[li]:
        st.lf[li, _NSLOT] = t + _discharge_s(net, plan, st, li, p, s, t)
    else:
        st.lf[li, _NSLOT] = t + net.lc[li, _HW] * s


@njit(inline="always", **_KERNEL)
def _leave_end(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """After ``li``'s gate was served: schedule its next head, or mark it idle."""
    if st.li[li, _QH] < st.li[li, _QLEN]:
        _head(net, plan, st, li, t)
    else:
        st.li[li, _BUSY] = False


@njit(**_KERNEL)
def _leave(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    """The head of ``li`` has left it at ``t``: free its slot, serve its gate, schedule its next head."""
    _leave_start(net, plan, st, li, t)
    if st.li[li, _NWAIT] and not st.li[li, _GSCHED]:
        _serve(net, plan, st, li, t, np.bool_(True))
    else:
        _leave_end(net, plan, st, li, t)


@njit(inline="always", **_KERNEL)
def _join(net: Net, st: State, m: Int, who: Int) -> None:
    """``who`` joins ``m``'s gate with its finish tag: max(virtual time, its last tag) + its step."""
    k = net.gptr[m]
    if who >= 0:
        k += 1
        while net.gwho[k] != who:
            k += 1
    tag = st.ltag[k]
    if tag < st.lf[m, _VCLOCK]:
        tag = st.lf[m, _VCLOCK]
    tag += net.lc[who, _SHARE] if who >= 0 else net.lc[m, _HWI]
    st.ltag[k] = tag
    a = st.cnt[_ARRIVALS] + 1
    st.cnt[_ARRIVALS] = a
    st.ginq[k] = True
    st.gtag[k] = tag
    st.garr[k] = a
    st.li[m, _NWAIT] += 1


@njit(inline="always", **_KERNEL)
def _first(net: Net, st: State, m: Int) -> Int:
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


@njit(inline="always", **_KERNEL)
def _take(net: Net, st: State, m: Int) -> Int:
    """Remove ``m``'s first waiter; advance the gate's clock; return who it was."""
    k = _first(net, st, m)
    st.ginq[k] = False
    st.li[m, _NWAIT] -= 1
    st.lf[m, _VCLOCK] = st.gtag[k]
    return np.int64(net.gwho[k])


@njit(**_KERNEL)
def _arm(net: Net, st: State, m: Int, t: float, r: float) -> None:
    """Schedule ``m``'s gate at its ready time ``r``, or start its stuck timer when room waits for an exit."""
    if r < _INF:
        st.li[m, _GSTUCK] = False
        st.li[m, _GSCHED] = True
        _push(st, st.clk[0] + (r - t), np.int64(_GATE), m, r, np.int64(0))
    elif not st.li[m, _GSTUCK]:
        st.li[m, _GSTUCK] = True
        st.li[m, _GTOK] += 1
        stuck = net.par[0]
        _push(st, st.clk[0] + stuck, np.int64(_STUCK), m, t + stuck, st.li[m, _GTOK])


@njit(inline="always", **_KERNEL)
def _wait_at(net: Net, st: State, m: Int, who: Int, t: float, r: float) -> None:
    """``who`` joins the line at ``m``'s entry; start the gate if it is idle (``r``: ``m``'s ready time)."""
    first = st.li[m, _NWAIT] == 0
    _join(net, st, m, who)
    if first:
        _arm(net, st, m, t, r)


@njit(inline="always", **_KERNEL)
def _admit_origin(net: Net, plan: Plan, st: State, m: Int, t: float) -> None:
    """The first vehicle of ``m``'s origin queue enters ``m`` at ``t`` (its wait counts in its entry time)."""
    veh = np.int64(st.oq[st.li[m, _OHEAD]])
    st.li[m, _OHEAD] += 1
    p = plan.start[veh]
    _enter(net, plan, st, p, m, t)
    plan.pf[p, _ENT] = plan.waited[veh]
    if st.li[m, _OHEAD] < st.li[m, _OTAIL]:
        _join(net, st, m, np.int64(-1))


@njit(**_KERNEL)
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
        if st.li[m, _NWAIT] == 0:
            sp -= 1
            if tail[sp]:
                _leave_end(net, plan, st, m, t)
            continue
        k = _first(net, st, m)
        x = np.int64(net.gwho[k])
        p = np.int64(st.qs[net.qptr[x] + st.li[x, _QH]]) if x >= 0 else plan.start[st.oq[st.li[m, _OHEAD]]]
        r = _ready(net, plan, st, m, np.int64(plan.pi[p, _PSZ]), t)
        if r > t:
            _arm(net, st, m, t, r)
            sp -= 1
            if tail[sp]:
                _leave_end(net, plan, st, m, t)
            continue
        st.li[m, _GSTUCK] = False
        _take(net, st, m)
        if x < 0:
            _admit_origin(net, plan, st, m, t)
            continue
        c = net.lc[x, _CYC]
        if c > 0.0 and (t - net.lc[x, _OFF]) % c >= net.lc[x, _GRN]:
            _head(net, plan, st, x, t)  # its signal turned red while it waited: it goes on the next green
            continue
        if t - st.lf[x, _HREADY] > net.lc[m, _HWI] * plan.pi[p, _PSZ] * (1.0 + 1e-9):
            plan.pi[p, _HELD] = 1  # it waited at the gate for more than one entrant's inflow headway: a queue
        _enter(net, plan, st, p + 1, m, t)
        _leave_start(net, plan, st, x, t)
        if st.li[x, _NWAIT] and not st.li[x, _GSCHED]:
            if sp >= len(stk):
                raise RuntimeError("serving stack full")
            stk[sp] = x
            tail[sp] = True
            sp += 1
        else:
            _leave_end(net, plan, st, x, t)


@njit(inline="always", **_KERNEL)
def _cross(net: Net, plan: Plan, st: State, li: Int, p: Int, m: Int, t: float) -> None:
    """The head ``p`` of ``li`` crosses into ``m`` at ``t``, or waits at ``m``'s gate."""
    if st.li[m, _NWAIT]:
        _wait_at(net, st, m, li, t, 0.0)  # others are in line before it
        return
    r = _ready(net, plan, st, m, np.int64(plan.pi[p, _PSZ]), t)
    if r > t:
        _wait_at(net, st, m, li, t, r)
        return
    _enter(net, plan, st, p + 1, m, t)
    _leave(net, plan, st, li, t)


@njit(inline="always", **_KERNEL)
def _node_tag(net: Net, st: State, li: Int, j: Int, k: Int) -> float:
    """``li``'s next finish tag at node ``k`` (its slot ``j``): max(virtual time, its last tag) + its step."""
    tag = st.nsf[j, 1]
    if tag < st.nf[k, 1]:
        tag = st.nf[k, 1]
    tag += net.lc[li, _SHARE]
    st.nsf[j, 1] = tag
    return float(tag)


@njit(**_KERNEL)
def _node_wait(net: Net, plan: Plan, st: State, li: Int, p: Int, t: float) -> bool:
    """Whether the head ``p`` of ``li`` waits for its end node's shared flow capacity (then it joins its line).

    It joins the node's line with its finish tag (self-clocked fair queueing, as at a merge gate: entrances that
    keep the node saturated share it in proportion to capacity x merge priority); a node event at the node's next
    free time (or now, if it is free) lets the lowest tag cross. At a free node that event comes after every
    head that reaches the node at the same instant has joined, so a tie goes by the tags, not by event order.
    """
    j = np.int64(net.nslot[li])
    qh = st.li[li, _QH]
    if st.nsi[j, 2] == qh + 1:
        return False  # this head passed the node already (it waited for a green after that)
    k = np.int64(net.nnode[j])
    st.nsf[j, 0] = _node_tag(net, st, li, j, k)
    a = st.cnt[_ARRIVALS] + 1
    st.cnt[_ARRIVALS] = a
    st.nsi[j, 0] = 1
    st.nsi[j, 1] = a
    st.ni[k, 0] += 1
    if not st.ni[k, 1]:
        st.ni[k, 1] = 1
        r = st.nf[k, 0]
        if r < t:
            r = t
        _push(st, st.clk[0] + (r - t), np.int64(_NODE), k, r, np.int64(0))
    return True


@njit(**_KERNEL)
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
    qh = st.li[x, _QH]
    p = np.int64(st.qs[net.qptr[x] + qh])
    s = plan.pi[p, _PSZ]
    st.nf[k, 0] = t + net.nhw[k] * s
    st.nsi[best, 2] = qh + 1
    if t - st.lf[x, _HREADY] > net.nhw[k] * s * (1.0 + 1e-9):
        plan.pi[p, _HELD] = 1  # it waited for the node for more than its own slot: a queue
    _cross(net, plan, st, x, p, np.int64(plan.pi[p, _NL]), t)
    # after the crossing: a head it lets reach the node at the next free time is scheduled first and joins the
    # line before the node event picks (a saturated entrance keeps its turn)
    if st.ni[k, 0]:
        st.ni[k, 1] = 1
        r = st.nf[k, 0]
        _push(st, st.clk[0] + (r - t), np.int64(_NODE), k, r, np.int64(0))


@njit(inline="always", **_KERNEL)
def _on_head(net: Net, plan: Plan, st: State, li: Int, t: float) -> None:
    qh = st.li[li, _QH]
    p = np.int64(st.qs[net.qptr[li] + qh])
    if qh + 1 < st.li[li, _QLEN]:  # the next head's record, which _head reads when this one has left
        nxt = st.qs[net.qptr[li] + qh + 1]
        _prefetch(plan.pf, nxt, 0)
        _prefetch(plan.pf, nxt, _POS_COLS - 1)
    m = np.int64(plan.pi[p, _NL])
    if m >= 0:
        if net.nslot[li] >= 0 and _node_wait(net, plan, st, li, p, t):
            return
        _cross(net, plan, st, li, p, m, t)
        return
    _leave(net, plan, st, li, t)


@njit(inline="always", **_KERNEL)
def _on_stuck(net: Net, plan: Plan, st: State, m: Int, t: float, tok: Int) -> None:
    if not st.li[m, _GSTUCK] or st.li[m, _GTOK] != tok or st.li[m, _GSCHED] or not st.li[m, _NWAIT]:
        return
    # the first in line waited stuck_time_s for room: it enters the full link anyway (breaks gridlock)
    st.li[m, _GSTUCK] = False
    x = _take(net, st, m)
    st.cnt[STUCK_MOVES] += 1
    if x >= 0:
        p = np.int64(st.qs[net.qptr[x] + st.li[x, _QH]])
        plan.pi[p, _HELD] = 1  # it stood first in line for stuck_time_s
        _enter(net, plan, st, p + 1, m, t)
        _leave(net, plan, st, x, t)
    else:
        _admit_origin(net, plan, st, m, t)
    if st.li[m, _NWAIT] and not st.li[m, _GSCHED]:
        _serve(net, plan, st, m, t, np.bool_(False))


@njit(inline="always", **_KERNEL)
def _depart(net: Net, plan: Plan, st: State, veh: Int, t: float) -> None:
    p = plan.start[veh]
    m = np.int64(plan.pi[p, _RL])
    if st.li[m, _NWAIT]:
        plan.waited[veh] = t
        queued = st.li[m, _OHEAD] < st.li[m, _OTAIL]
        st.oq[st.li[m, _OTAIL]] = veh
        st.li[m, _OTAIL] += 1
        if not queued:  # else the origin queue is already in line
            _wait_at(net, st, m, np.int64(-1), t, 0.0)
        return
    r = _ready(net, plan, st, m, np.int64(plan.pi[p, _PSZ]), t)
    if r <= t:
        _enter(net, plan, st, p, m, t)
    else:
        plan.waited[veh] = t
        st.oq[st.li[m, _OTAIL]] = veh
        st.li[m, _OTAIL] += 1
        _wait_at(net, st, m, np.int64(-1), t, r)


@njit(**_KERNEL)
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
        kind = st.hi[0, _HKIND]
        arg = st.hi[0, HARG]
        t = st.hf[0, _HT]
        tok = st.hi[0, _HTOK]
        _pop(st)
        if st.cnt[HSIZE] > 0 and st.hi[0, _HKIND] == _HEAD:
            # the next event is (most likely) the exit of the head whose record is its token: fetch it meanwhile
            q = st.hi[0, _HTOK]
            p = q & 0xFFFFFFFF
            _prefetch(plan.pf, p, 0)
            _prefetch(plan.pf, p, _POS_COLS - 1)
            _prefetch(st.li, st.hi[0, HARG], 0)
            m = (q >> 32) - 1
            if m >= 0:
                _prefetch(st.li, m, 0)
                _prefetch(st.lf, m, 0)
                _prefetch(net.lc, m, 0)
                _prefetch(st.cx, net.qptr[m] + st.li[m, _ROOM], 0)
        if kind == _HEAD:
            _on_head(net, plan, st, arg, t)
        elif kind == _GATE:
            st.li[arg, _GSCHED] = False
            _serve(net, plan, st, arg, t, np.bool_(False))
        elif kind == _STUCK:
            _on_stuck(net, plan, st, arg, t, tok)
        elif kind == _NODE:
            _on_node(net, plan, st, arg, t)
        else:
            veh = st.order[arg]
            if plan.start[veh] < plan.stop[veh]:
                _depart(net, plan, st, veh, t)
            if arg + 1 < n_dep:
                tn = st.dep[arg + 1]
                _push(st, st.clk[0] + (tn - t), np.int64(_DEPART), arg + 1, tn, np.int64(0))
    return 0
