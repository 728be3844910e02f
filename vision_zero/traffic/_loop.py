"""The event loop of the mesoscopic traffic simulation: SimPy's clock, the compiled link-event kernel.

Private helper of :mod:`vision_zero.traffic.simulation`, which documents the model; this module holds the per-link
constants (:class:`Links`, :func:`link_constants`) and :class:`EventLoop`, which runs each period's vehicles on one
SimPy environment and fills per-route-position entry, queue-join and exit times in place (DESIGN.md
"Performance").

**How the kernel and SimPy share time.** SimPy is the clock: one :class:`simpy.Environment` per replication, each
period a window of it (``Environment.run(until=...)``), and the home of the process-style parts of the model. The
per-link-entry work (a link's exit, the next link's entry, the storage and capacity tests, the merge gate, origin
queues, stuck moves) is the compiled kernel :mod:`vision_zero.traffic._loop_kernel`, over typed arrays, with its
own event heap in SimPy's order. One SimPy process, :meth:`EventLoop._clock`, drives it: it asks SimPy for the time
of its next event (``Environment.peek``: another process's event or the period's end), lets the kernel handle
every link event before that time, and yields to SimPy until then; SimPy's processes due at that time run, then
the kernel goes on. A link event at exactly a SimPy event's time runs after that SimPy event. Signal programs are
fixed-time plans in closed form and pedestrian arrivals are drawn after the run (in the record), so today no
other process is due inside a period and each period is one kernel call; an incident or an actuated signal
would be a SimPy process that reads and changes the kernel's arrays between two slices
(``tests/traffic/test_loop_kernel.py`` runs a process every 37 s and gets the same results to the last bit).

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
UXsim's ``merge_priority``), and a lone arrival at an idle merge goes at once. With a
give-way rule at priority junctions (``traffic.give_way.gap_acceptance`` 1 or 2), a vehicle leaving a link at a
priority junction by a movement that gives way (every movement of a minor approach, a left turn from the major
road) holds the link's next exit for the headway of its movement's capacity with its conflicting flows over the
last ``traffic.give_way.flow_window_s`` (:func:`~vision_zero.traffic._model.give_way_movements`): HCM's
gap-acceptance capacity (eq. 17-3, Exhibit 17-4's flows) or Kimber & Coombe's linear one. A node with the
optional column ``flow_capacity_vph`` (none by default) is one more such queue shared by all its entering links:
a head that would leave into another link first waits for one of the node's slots (``3600 / capacity`` s per
vehicle), served by the same fair queueing over the entrances, so crossing streams share the node in proportion
to capacity x merge priority (UXsim's node ``flow_capacity``); a trip that ends at the node, or starts there,
takes no slot. The slot is taken before the next link's gate: a vehicle held there by a full exit has used it.
Entrants never get a lower speed than their desired one: over-saturation builds a queue that discharges at
capacity, it does not cut throughput.

**Who leaves a link from rest.** A vehicle may wait at its link's end (exit later than the end of its running time)
without stopping: a point queue keeps the order of entry, so a faster vehicle that caught up a slower one, or one
spaced by an outflow or inflow headway behind a vehicle that left, is following a moving stream (a queue that
discharges at a link's capacity moves: the congested branch of the triangular fundamental diagram at flow ``q`` has
speed ``q / (k_jam - q / w)``). The kernel marks a vehicle *held* (it starts from rest; the record's
``stopped``) only where the loop stops it: in a red; by a give-way hold or a give-way's follow-up headway (a
discharge slot longer than the link's own inflow headway: a minor approach's, a yielding movement's, an entry
capacity); at the next link's entry for longer than one of that link's inflow headways (more than one vehicle from
another entrance went first, or the link was full); as a stuck move; or when it reached the line before a held
vehicle ahead had left (a standing queue). Until 2026-12-01 any wait over 1 s counted, which flagged 30% of the
primary approaches at unsignalised junctions (small schematic network, demand x0.5) — almost all of them a
headway behind a vehicle that did not stop. Not flagged: a queue spaced only by the next link's inflow headway (a
discharge at that link's capacity; a far lower explicit ``link_capacity_vph`` would make it a crawl), and a lone
vehicle on a minor approach without gap acceptance (no conflicting stream is simulated, so it is never held).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from vision_zero.core.errors import DataError
from vision_zero.core.units import S_PER_HOUR, kph_to_mps
from vision_zero.network.road_network import RoadNetwork, junction_control, link_column
from vision_zero.traffic import _loop_kernel as kernel
from vision_zero.traffic._model import (
    GiveWayMovements,
    Signals,
    TrafficSettings,
    give_way_approach,
    give_way_movements,
    link_storage_veh,
)

__all__ = ["EventLoop", "Links", "Records", "link_constants"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class Links:
    """Per-link constants of the event loop, as arrays (one value per link)."""

    length_m: FloatArray
    headway_s: FloatArray  # outflow: one exit per this many seconds (a green's saturation flow at a signal)
    inflow_headway_s: FloatArray  # inflow: one entry per this many seconds (the link's flow capacity)
    storage: FloatArray  # vehicles at jam density
    wave_s: FloatArray  # backward-wave travel time over the link, length / w [s]
    cycle_s: FloatArray
    offset_s: FloatArray
    green_s: FloatArray
    give_way_s: FloatArray  # delay at the stop line of a minor approach to a priority junction (0 elsewhere)
    #: the movements of priority junctions and what each gives way to (None: gap acceptance off), and each
    #: link's lanes (a yielding movement's capacity is lanes x HCM's potential capacity per lane)
    movements: GiveWayMovements | None = None
    lanes: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: per link as an entrance of a merge: its fair-queueing step, inflow headway / merge priority (empty: the
    #: inflow headway, i.e. capacity-proportional shares)
    merge_headway_s: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: per link: the flow capacity its end node shares among its entering links [veh/h, NaN: none] (empty: no
    #: node has one), and its end node
    node_capacity_vph: FloatArray = dataclasses.field(default_factory=lambda: np.zeros(0))
    end_node: IntArray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))


class Records:
    """Memory for the per-route-position arrays of successive simulations (one :class:`EventLoop` at a time).

    The equilibrium simulates the same trips again and again on routes of about the same length: each
    :class:`EventLoop` takes its position records (``Plan.pf``), per-link-block arrays (``State.qs`` /
    ``State.cx``) and the arrays of its results (:meth:`EventLoop.results`) from here instead of new memory, so the
    pages are faulted in (and, for arrays this large, huge pages compacted and zeroed by the OS) once per
    equilibrium instead of once per simulation: a city's AM peak spent 0.5-1 CPU-s of system time per simulation
    there (benchmarks/README.md, "The city's AM peak, 2 December"), the results' ~80 k page faults a district's
    full day 0.15-0.2 CPU-s ("Around the event loop"). Every value is written (records, results) or zeroed
    (blocks) before it is read, so the results are those of new memory. The memory is held until this object is
    dropped: while an :class:`EventLoop` runs its size is what it would allocate anyway (plus :data:`HEADROOM`),
    between simulations it stays allocated.
    """

    #: extra rows allocated when the memory grows (routes change length by ~1% between iterations)
    HEADROOM = 1 / 32

    def __init__(self) -> None:
        self._pf: FloatArray | None = None
        self._qs: npt.NDArray[np.int32] | None = None
        self._cx: FloatArray | None = None
        self._out: tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]] | None = None

    def _rows(self, n: int) -> int:
        return n + int(n * self.HEADROOM)

    def take(self, n: int) -> FloatArray:
        """Records ``(n, 6)`` (C order; contents undefined)."""
        if self._pf is None or len(self._pf) < n:
            self._pf = None  # free the old memory first
            self._pf = np.empty((self._rows(n), kernel.POS_COLS))
        return self._pf[:n]

    def blocks(self, n: int) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """``qs`` ``(n,)`` and ``cx`` ``(n, 2)`` (C order; contents undefined)."""
        if self._qs is None or self._cx is None or len(self._qs) < n:
            self._qs = self._cx = None
            cap = self._rows(n)
            self._qs = np.empty(cap, dtype=np.int32)
            self._cx = np.empty((cap, 2))
        return self._qs[:n], self._cx[:n]

    def results(self, n: int) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """Entry, queue-join and exit times ``(n,)`` and held ``(n,)`` (contents undefined).

        The memory of the last results handed out, once nothing refers to it any more (the route choice drops
        a simulation's times before it runs the next one; an array that shares its memory, such as a slice of
        it, refers to it), else new: results still read are never overwritten.
        """
        out = self._out
        if out is None or len(out[0]) < n or _referred(out):
            self._out = out = None  # forget (and, if nothing refers to it, free) the old memory first
            cap = self._rows(n)
            out = (np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap, dtype=np.bool_))
            self._out = out
        return out[0][:n], out[1][:n], out[2][:n], out[3][:n]


def _referred(arrays: tuple[npt.NDArray[Any], ...]) -> bool:
    """Whether anything but ``arrays`` itself refers to one of them (an array, a view of it, a name)."""
    # sys.getrefcount counts the tuple's reference, the loop's name ``a`` and its own argument: 3 when nothing else
    return any(sys.getrefcount(a) > 3 for a in arrays)


class EventLoop:
    """The link events of one simulation (all its periods): the compiled kernel's state, driven by SimPy's clock.

    Parameters
    ----------
    lk, settings
        Per-link constants and the model's numbers.
    rl, fft
        Per route position: its link and its running time [s].
    size, start, stop
        Per vehicle: the vehicles of its platoon; its route's positions are ``start:stop`` (together every
        position; a position's next link is the next position's, none after ``stop - 1``).
    records
        Where the per-position arrays live (:class:`Records`, reused by successive simulations); default: new
        memory.

    The kernel fills each route position's entry, queue-join and exit times [s, absolute clock] in its own
    per-position records; :meth:`results` hands them out as compact arrays once every period has run.
    """

    def __init__(
        self,
        lk: Links,
        settings: TrafficSettings,
        rl: npt.NDArray[np.integer[Any]],
        fft: FloatArray,
        size: npt.NDArray[np.integer[Any]],
        start: IntArray,
        stop: IntArray,
        records: Records | None = None,
    ) -> None:
        n_links = len(lk.length_m)
        rl32 = np.ascontiguousarray(rl, dtype=np.int32)  # no copy: route link ids are int32
        f64 = functools.partial(np.ascontiguousarray, dtype=np.float64)
        self.records = records
        start64 = np.ascontiguousarray(start, dtype=np.int64)
        stop64 = np.ascontiguousarray(stop, dtype=np.int64)
        pf = None if records is None else records.take(len(rl32))
        # one pass over the positions: their records (next link and platoon derived there) and what the per-link
        # tables count of them
        pf, pi, routed = kernel.positions(
            rl32, start64, stop64, f64(fft), np.asarray(size, dtype=np.int32), n_links, pf
        )
        gptr, gwho = kernel.gate_slots(routed.pairs, n_links)
        gw = lk.movements
        mv_ptr = np.zeros(n_links + 1, dtype=np.int64) if gw is None else np.asarray(gw.ptr, dtype=np.int64)
        mv_next = np.zeros(0, np.int32) if gw is None else np.asarray(gw.next_link, dtype=np.int32)
        rec_ptr = _recorded_exits(mv_ptr, mv_next, gw, pi[:, kernel.RL], pi[:, kernel.NL], n_links)
        optr = np.zeros(n_links + 1, dtype=np.int64)
        np.cumsum(routed.starts, out=optr[1:])
        qptr = np.zeros(n_links + 1, dtype=np.int64)
        np.cumsum(routed.on_link, out=qptr[1:])
        columns = (
            lk.headway_s,
            lk.inflow_headway_s,
            lk.storage,
            lk.wave_s,
            lk.cycle_s,
            lk.offset_s,
            lk.green_s,
            lk.give_way_s,
            lk.merge_headway_s if len(lk.merge_headway_s) else lk.inflow_headway_s,
            lk.lanes if len(lk.lanes) else np.ones(n_links),
        )
        self.net = kernel.Net(
            np.ascontiguousarray(np.column_stack([f64(c) for c in columns]).reshape(n_links, len(columns))),
            mv_ptr,
            mv_next,
            f64(np.zeros(0) if gw is None else gw.critical_gap_s),
            f64(np.zeros(0) if gw is None else gw.follow_up_s),
            f64(np.zeros(0) if gw is None else gw.intercept_vph),
            np.zeros(0, np.bool_) if gw is None else np.asarray(gw.record, dtype=np.bool_),
            np.zeros(1, np.int64) if gw is None else np.asarray(gw.conflict_ptr, dtype=np.int64),
            np.zeros(0, np.int32) if gw is None else np.asarray(gw.conflict_slot, dtype=np.int32),
            f64(np.zeros(0) if gw is None else gw.conflict_weight),
            rec_ptr,
            gptr,
            gwho,
            qptr,
            optr,
            np.array([settings.stuck_time_s, settings.give_way_flow_window_s]),
            *node_slots(lk.node_capacity_vph, lk.end_node, n_links),
        )
        self.plan = kernel.Plan(pf, pi, start64, stop64, np.full(len(start64), np.nan))
        blocks = None if records is None else records.blocks(len(rl32))
        self.state = kernel.new_state(self.net, self.plan, n_links, blocks)

    def run_period(
        self, env: simpy.Environment, t_end: float, order: IntArray, depart_abs: FloatArray
    ) -> int:
        """Simulate one period's vehicles (``order``, departing at ``depart_abs``) until ``t_end`` on ``env``.

        Returns the number of stuck-vehicle moves: times the first vehicle waiting to enter a full link had
        waited ``settings.stuck_time_s`` without room appearing and entered anyway (SUMO's teleport on
        ``time-to-teleport``). The period's link state starts empty; the kernel's events of the period are
        handled by a SimPy process, :meth:`_clock`, in slices up to each next SimPy event.
        """
        self.state = self.state._replace(
            order=np.ascontiguousarray(order, dtype=np.int64),
            dep=np.ascontiguousarray(depart_abs, np.float64),
        )
        kernel.start_period(self.state, env.now)
        until = env.now + (t_end - env.now)  # the key SimPy gives the period's end (Environment.run's until)
        env.process(self._clock(env, until))
        env.run(until=t_end)
        return int(self.state.cnt[kernel.STUCK_MOVES])

    def results(self) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """Per route position: entry, queue-join and exit times [s] (NaN: not reached), and whether it was held.

        ``held``: the vehicle was held at the link's end, so it left from rest (a red, a give-way, a standing
        queue; see :func:`~vision_zero.traffic._loop_kernel._head`). The running times are the loop's input.
        Compact copies of the kernel's records (in memory from :meth:`Records.results`, if given), made after its
        per-period state is freed; the loop cannot run again afterwards (a city's day has tens of millions of
        positions: the 48-byte records and these 25 bytes per position are the largest arrays alive then).
        """
        del self.state
        n = len(self.plan.pf)
        if self.records is None:
            out = (np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=np.bool_))
        else:
            out = self.records.results(n)
        kernel.final_times(self.plan.pf, self.plan.pi, *out)
        del self.plan
        return out

    def _clock(self, env: simpy.Environment, until: float) -> Generator[simpy.Event, None, None]:
        """A SimPy process: run the kernel's link events up to SimPy's next event, then yield to SimPy there."""
        while True:
            horizon = env.peek()  # another process's next event, or the period's end
            while kernel.advance(self.net, self.plan, self.state, horizon) == kernel.NEED_ROOM:
                self.state = kernel.grow_heap(self.state)
            st = self.state
            if st.cnt[kernel.HSIZE] == 0 or st.hf[0, kernel.HKEY] >= until:
                return  # nothing left before the period's end
            yield env.timeout(horizon - env.now)


def _recorded_exits(
    mv_ptr: IntArray,
    mv_next: npt.NDArray[np.int32],
    gw: GiveWayMovements | None,
    rl: npt.NDArray[np.integer[Any]],
    nl: npt.NDArray[np.int32],
    n_links: int,
) -> IntArray:
    """Per movement slot + 1: offsets of its block of recorded exits, as many as route positions take it."""
    n_slots = len(mv_next)
    rec_ptr = np.zeros(n_slots + 1, dtype=np.int64)
    if gw is None or not n_slots:
        return rec_ptr
    slot_link = np.repeat(np.arange(n_links, dtype=np.int64), np.diff(mv_ptr))
    key = slot_link * n_links + mv_next
    order = np.argsort(key, kind="stable")
    at = (nl >= 0) & (mv_ptr[1:][rl] > mv_ptr[:-1][rl])  # positions leaving a link at a priority junction
    pkey = rl[at].astype(np.int64) * n_links + nl[at]
    slot = order[np.searchsorted(key[order], pkey)]
    count = np.bincount(slot, minlength=n_slots) * np.asarray(gw.record, dtype=np.int64)
    np.cumsum(count, out=rec_ptr[1:])
    return rec_ptr


def backward_wave_mps(network: RoadNetwork, st: TrafficSettings) -> FloatArray:
    """Per link, the backward wave speed ``w`` of its triangular fundamental diagram [m/s].

    The optional link column ``backward_wave_speed_kph`` where it is set (finite, > 0; else a DataError), where NaN
    ``traffic.backward_wave_speed_kph`` (``st.backward_wave_kph``). ``w`` sets both the link's flow capacity
    (:func:`flow_capacity_vph`) and when room freed at its downstream end reaches its upstream end (the storage
    test's ``L / w``), so one link's diagram is consistent: e.g. a link with half the default jam density and a
    reaction time like the others' has twice the wave speed (Newell's car-following, ``w = 1 / (tau k_jam)`` per
    lane; Newell, G. F. (2002), Transp. Res. B 36(3), 195-205) and keeps its capacity, as UXsim's links do; with
    the global ``w`` it would get a lower capacity instead.
    """
    given = link_column(network.links, "backward_wave_speed_kph")
    bad = ~(np.isnan(given) | (np.isfinite(given) & (given > 0.0)))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"links table: column 'backward_wave_speed_kph': expected finite km/h > 0 or NaN (link {k}: {given[k]})"
        )
    w = kph_to_mps(given)
    return np.where(np.isfinite(w), w, kph_to_mps(st.backward_wave_kph))


def node_slots(
    node_capacity_vph: FloatArray, end_node: IntArray, n_links: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int32], IntArray, FloatArray]:
    """The kernel's tables of the nodes with a shared flow capacity: one slot per link entering such a node.

    Returns per link its slot (-1: its end node has none); per slot its node and its link; per node + 1 the
    offsets of its slots (ordered by link); per node its headway per vehicle ``3600 / capacity`` [s].
    """
    nslot = np.full(n_links, -1, dtype=np.int32)
    at = np.flatnonzero(np.isfinite(node_capacity_vph)) if len(node_capacity_vph) else np.zeros(0, np.int64)
    node = end_node[at]
    order = np.lexsort((at, node))
    at, node = at[order], node[order]
    _, first, count = np.unique(node, return_index=True, return_counts=True)
    nptr = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=nptr[1:])
    nslot[at] = np.arange(len(at), dtype=np.int32)
    nnode = np.repeat(np.arange(len(count), dtype=np.int32), count)
    nhw = S_PER_HOUR / np.maximum(node_capacity_vph[at[first]], 1e-9)
    return nslot, nnode, at.astype(np.int32), nptr, np.ascontiguousarray(nhw, dtype=np.float64)


def flow_capacity_vph(network: RoadNetwork, mean_v_kph: FloatArray, st: TrafficSettings) -> FloatArray:
    """A link's own flow capacity, all lanes [veh/h]: the capacity of its triangular fundamental diagram.

    ``u w k_jam / (u + w)`` at the link's mean desired speed ``u`` (Newell 1993; the capacity UXsim and the link
    transmission model give a link), ``k_jam`` the link's own storage per metre
    (:func:`~vision_zero.traffic._model.link_storage_veh` / ``length_m``: ``storage_veh`` at this replication's jam
    density, so lanes, a road diet or a test network's storage count), ``w`` the link's backward wave speed
    (:func:`backward_wave_mps`: ``traffic.backward_wave_speed_kph`` unless the optional link column
    ``backward_wave_speed_kph`` sets its own); lower where the optional link column ``link_capacity_vph`` sets an
    explicit bottleneck. About 1,900 veh/h/lane at a 50 km/h limit, 1,700 at 30 km/h (a slow link is a bottleneck).

    The road class's ``capacity_vph`` (MATSim's per-class values, ``network.capacity_vph_per_lane``) is *not*
    used: those figures include the losses at the junctions along a road, which this model simulates where
    they happen (signals, give-way approaches, ``exit_capacity_vph``); applied along a whole link they would
    count them twice and cap a link's inflow at a junction's capacity.
    """
    links = network.links
    length = np.maximum(links["length_m"].to_numpy(dtype=np.float64), 1e-9)
    kjam = (
        link_storage_veh(network, st) / length
    )  # veh per metre, all lanes, at this replication's jam density
    u = kph_to_mps(np.maximum(mean_v_kph, 1e-9))
    w = backward_wave_mps(network, st)
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
    """Per-link constants of :class:`EventLoop`.

    Inflow headway: ``3600 / flow capacity`` (:func:`flow_capacity_vph`, the link's own). Outflow headway: the
    junction at the link's end: at a signal, the saturation flow of its lanes (within the green); on the approach
    of a give-way junction, ``give_way_vph`` (:func:`~vision_zero.traffic._model.give_way_capacity_vph`, NaN
    elsewhere) if lower than the flow capacity; elsewhere (a bend, a major road through a junction) the flow
    capacity. An optional link column ``exit_capacity_vph`` caps the outflow further (a node's capacity on the
    links entering it, e.g. a roundabout's entry capacity). An optional node column ``flow_capacity_vph`` is a
    flow capacity the node shares among all its entering links (UXsim's node ``flow_capacity``): vehicles that
    pass it from one link into another take one slot of ``3600 / capacity`` s each, in the order of their finish
    tags by capacity x merge priority (:func:`~vision_zero.traffic._loop_gates.node_wait`). On a minor
    approach of a priority junction the outflow headway is a floor. With a give-way rule (``traffic.give_way.gap_acceptance`` 1: HCM, 2: Kimber &
    Coombe), the approach-level give-way capacity is not applied on minor approaches of priority junctions
    (roundabout entries keep it): :class:`EventLoop` gives each vehicle leaving a link at a priority junction its
    movement's headway (HCM eq. 17-3 with the movement's own critical gap and follow-up headway, or Kimber &
    Coombe's linear capacity, with its conflicting flows over the last ``traffic.give_way.flow_window_s``;
    :func:`~vision_zero.traffic._model.give_way_movements`). ``give_way_s``
    from :func:`~vision_zero.traffic._model.give_way_delay_s` (a constant hold, or zeros).
    """
    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    lanes = np.maximum(links["lanes"].to_numpy(dtype=np.float64), 1.0)
    cap = flow_capacity_vph(network, mean_v, st)
    movements = give_way_movements(network, st) if st.give_way_rule != "off" else None
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
    storage = np.maximum(link_storage_veh(network, st), 1.0)
    wave = length / backward_wave_mps(network, st)
    end_node = links["v"].to_numpy(dtype=np.int64)
    node_cap = np.zeros(0)
    if "flow_capacity_vph" in network.nodes.columns:
        node_cap = network.nodes["flow_capacity_vph"].to_numpy(dtype=np.float64)[end_node]
    return Links(
        length,
        hw_out,
        hw_in,
        storage,
        wave,
        sig.cycle_s,
        sig.offset_s,
        sig.green_s,
        np.asarray(give_way_s, dtype=np.float64),
        movements,
        lanes,
        hw_in / np.maximum(link_column(links, "merge_priority"), 1e-9),
        node_cap,
        end_node,
    )
