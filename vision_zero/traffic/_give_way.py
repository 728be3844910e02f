"""Who gives way at a junction: give-way approaches, their delay and capacity, the movements and their conflicts.

Part of the traffic model's numbers (:mod:`vision_zero.traffic._model` re-exports them): road classes by priority
(:data:`PRIORITY_RANK`); the give-way approaches of real junctions (:func:`give_way_approach`; a node's legs are
:func:`~vision_zero.network.road_network.node_legs`), their constant delay for route choice
(:func:`give_way_delay_s`) and approach-level capacity (:func:`give_way_capacity_vph`); the movements of every priority junction with what each gives way to
(:class:`GiveWayMovements`, :func:`give_way_movements`), whose capacities are
:mod:`vision_zero.traffic._junction_capacity`'s.

References
----------
Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL SR 582.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision_zero.network.road_network import RoadNetwork, junction_control, node_legs
from vision_zero.traffic._junction_capacity import (
    MAJOR_LEFT,
    MINOR_LEFT,
    MINOR_RIGHT,
    MINOR_THROUGH,
    kimber_coombe_terms,
    potential_capacity_vph,
)
from vision_zero.traffic._traffic_settings import TrafficSettings
from vision_zero.traffic.routing import LEFT, RIGHT, THROUGH, UTURN, movement_directions

__all__ = [
    "PRIORITY_RANK",
    "GiveWayMovements",
    "give_way_approach",
    "give_way_capacity_vph",
    "give_way_delay_s",
    "give_way_movements",
]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: Road classes in order of priority at a junction (higher = more major); unlisted classes rank 0.
PRIORITY_RANK: dict[str, int] = {
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


def give_way_approach(network: RoadNetwork) -> npt.NDArray[np.bool_]:
    """Per link, whether its end is a give-way approach of a real junction.

    True where the link ends at an unsignalised junction (3 or more legs) at which another road has a higher
    class (:data:`PRIORITY_RANK`) — the minor approach of a priority junction, which yields to a conflicting
    major stream — or at a roundabout (``junction_control == "roundabout"``: every entry yields). False at
    signals, at plain bends and chains of one road (fewer than 3 legs: no conflicting stream) and on the major
    road through a junction.
    """
    links, nodes = network.links, network.nodes
    n_nodes = len(nodes)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    control = junction_control(nodes)
    sig = control == "signal"
    roundabout = control == "roundabout"
    rank = links["highway"].astype(str).map(PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    top = np.zeros(n_nodes, dtype=np.int64)
    np.maximum.at(top, u, rank)
    np.maximum.at(top, v, rank)
    legs = node_legs(u, v, n_nodes)
    minor: npt.NDArray[np.bool_] = (~sig[v] & (legs[v] >= 3) & (rank < top[v])) | roundabout[v]
    return minor


def give_way_delay_s(network: RoadNetwork, settings: TrafficSettings) -> FloatArray:
    """Per link, the delay of giving way at its end [s]: applied in the simulation and expected by route choice.

    ``settings.give_way_delay_s`` on the minor approach of a priority junction (:func:`give_way_approach`, not
    roundabouts), else 0 (HCM two-way stop control delay at low conflicting flow). With
    ``settings.give_way_in_simulation`` the simulation holds the head of such a link at least this long after its
    running time (a constant, not a function of the conflicting flow); otherwise it is a term of route choice's
    cost only. Without it a route along residential streets would cost no more than the same length of
    arterial, and a small slowdown on an arterial would send its traffic through the side streets.

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
    """
    v = network.links["v"].to_numpy(dtype=np.int64)
    roundabout = (junction_control(network.nodes) == "roundabout")[v]
    return np.where(give_way_approach(network) & ~roundabout, settings.give_way_delay_s, 0.0)


#: HCM 2000 Exhibit 17-4: weight of each conflicting movement in a movement's conflicting flow ``v_c``, by the
#: yielding movement's kind, the side the conflicting approach comes from (``near``: from the yielding
#: approach's left, the stream a right turn merges into; ``far``: from its right; ``opposite``: straight ahead)
#: and the conflicting movement's direction (``right``, ``through``, ``left`` incl. U-turns). For a minor through
#: (movement 8): ``2 v1 + v2 + 0.5 v3 + 2 v4 + v5 + v6``; a minor left (7): ``2 v1 + v2 + 0.5 v3 + 2 v4 + v5 +
#: 0.5 v6 + 0.5 v11 + 0.5 v12``; a minor right (9): ``v2 / N + 0.5 v3`` (``N`` the near-side stream's through
#: lanes: the weight ``through_per_lane``); a major left (1): ``v5 + v6``. A major approach straight ahead of a
#: minor one (skewed geometry) counts as the far side.
_CONFLICT_WEIGHTS: dict[tuple[int, str], dict[str, float]] = {
    (MINOR_RIGHT, "near"): {"through_per_lane": 1.0, "right": 0.5},
    (MINOR_THROUGH, "near"): {"left": 2.0, "through": 1.0, "right": 0.5},
    (MINOR_THROUGH, "far"): {"left": 2.0, "through": 1.0, "right": 1.0},
    (MINOR_LEFT, "near"): {"left": 2.0, "through": 1.0, "right": 0.5},
    (MINOR_LEFT, "far"): {"left": 2.0, "through": 1.0, "right": 0.5},
    (MINOR_LEFT, "opposite_minor"): {"through": 0.5, "right": 0.5},
    (MAJOR_LEFT, "opposite"): {"through": 1.0, "right": 1.0},
}


@dataclass(frozen=True)
class GiveWayMovements:
    """The movements at priority junctions and what each one gives way to (HCM 2000 ch. 17, two-way stop).

    Every link ending at a priority junction (a node with a minor approach, :func:`give_way_approach`, not a
    roundabout) has one *slot* per link leaving that node: slots ``ptr[l] .. ptr[l + 1] - 1`` of link ``l``,
    in order of ``next_link``. A slot that gives way (``follow_up_s > 0``: every movement of a minor approach,
    a left turn or U-turn from the major road) discharges at ``lanes x`` HCM eq. 17-3's potential capacity with
    its ``critical_gap_s``, ``follow_up_s`` and conflicting flow ``v_c = sum(weight x flow)`` over its conflict
    list ``conflict_slot[conflict_ptr[k] .. conflict_ptr[k + 1] - 1]`` (flows of other slots, per hour, over
    ``traffic.give_way.flow_window_s``); ``record`` marks the slots whose flow some conflict list reads. With
    the "kimber_coombe" rule a yielding slot has ``intercept_vph > 0`` and discharges instead at ``lanes x
    max(intercept_vph - sum(weight x flow), 3600 / traffic.stuck_time_s)`` (Kimber & Coombe's linear capacity;
    the weights already carry ``Y`` and the geometric factor).
    """

    ptr: IntArray  # per link + 1
    next_link: IntArray  # per slot
    kind: IntArray  # per slot: NO_YIELD, MINOR_RIGHT, MINOR_THROUGH, MINOR_LEFT or MAJOR_LEFT
    critical_gap_s: FloatArray  # per slot (0 where it does not give way)
    follow_up_s: FloatArray  # per slot (0 where it does not give way)
    record: npt.NDArray[np.bool_]  # per slot
    conflict_ptr: IntArray  # per slot + 1
    conflict_slot: IntArray
    conflict_weight: FloatArray
    intercept_vph: FloatArray  # per slot: Kimber & Coombe's intercept x factor (0: HCM eq. 17-3 or no yield)

    @property
    def n_slots(self) -> int:
        return len(self.next_link)

    def slot(self, link: int, next_link: int) -> int:
        """The slot of the movement from ``link`` into ``next_link`` (-1 if ``link`` ends at no priority junction)."""
        lo, hi = int(self.ptr[link]), int(self.ptr[link + 1])
        hit = np.flatnonzero(self.next_link[lo:hi] == next_link)
        return lo + int(hit[0]) if len(hit) else -1


def give_way_movements(network: RoadNetwork, settings: TrafficSettings) -> GiveWayMovements:  # noqa: C901
    """The movements of every priority junction with their HCM 2000 ch. 17 conflicts (see :class:`GiveWayMovements`).

    A movement's direction is the shared turn rule :func:`~vision_zero.traffic.routing.movement_directions`
    (right-hand traffic, as HCM); the side another approach comes from is the direction of the move from the
    yielding approach into that approach's leg (into a leg on the left: the approach comes from the left, the
    near side). Major approaches of a minor one are those of a higher road class (:data:`PRIORITY_RANK`);
    the opposing approach of a major left turn is a major approach straight ahead (where there is none, e.g. the
    major road bends at a T junction whose minor arm is straight ahead, the left turn is the major road's own
    course and does not give way: Kimber & Coombe's C-B stream and HCM's movement 1 cross an opposing major
    stream); a minor left turn also yields
    to half the through and right flows of a minor approach straight ahead. Critical gaps: the four-lane values
    where a conflicting major approach has 2 or more lanes, and HCM eq. 17-1's three-leg reduction for a minor
    left turn at a junction of 3 legs (heavy-vehicle and grade terms not applied).

    References
    ----------
    With ``settings.give_way_rule == "kimber_coombe"`` the same movements and sides carry Kimber & Coombe's terms
    instead (:func:`~vision_zero.traffic._junction_capacity.kimber_coombe_capacity_vph`): the near-side through
    flow and its turn into the minor arm (a right turn), the far-side through flow and its turn into the minor arm (a left turn), the opposing
    through flow and its right turn; ``W`` of a junction is the widest major arm's lanes (both directions) x
    ``lane_width_m``; no central reserve.

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17, Exhibits 17-4 and 17-5, eq. 17-1.
    Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL SR 582.
    """
    kc = settings.kimber_coombe if settings.give_way_rule == "kimber_coombe" else None
    if settings.give_way_rule == "kimber_coombe" and kc is None:
        raise ValueError("the kimber_coombe give-way rule needs TrafficSettings.kimber_coombe")
    links, nodes = network.links, network.nodes
    n = len(links)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    lanes = np.maximum(links["lanes"].to_numpy(dtype=np.float64), 1.0)
    rank = links["highway"].astype(str).map(PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    roundabout = (junction_control(nodes) == "roundabout")[v]
    minor = give_way_approach(network) & ~roundabout
    prio = np.zeros(len(nodes), dtype=bool)
    prio[v[minor]] = True
    legs = node_legs(u, v, len(nodes))
    at = prio[v] & (u != v)
    # slots: every link ending at a priority junction x every link leaving that node
    out_order = np.argsort(u, kind="stable")
    out_start = np.searchsorted(u[out_order], np.arange(len(nodes) + 1))
    count = np.where(at, (out_start[1:] - out_start[:-1])[v], 0)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(count, out=ptr[1:])
    a = np.repeat(np.arange(n, dtype=np.int64), count)
    within = np.arange(len(a)) - np.repeat(ptr[:-1], count)
    b = out_order[np.repeat(out_start[:-1][v], count) + within].astype(np.int64)
    direction = movement_directions(nodes, u, v, a, b)
    # per approach at a priority junction: the other approaches and the side each comes from
    in_order = np.argsort(v, kind="stable")
    in_start = np.searchsorted(v[in_order], np.arange(len(nodes) + 1))
    u2, v2 = np.concatenate([u, v]), np.concatenate([v, u])  # links n.. are the links reversed (their legs)
    kind = np.zeros(len(a), dtype=np.int64)
    t_c = np.zeros(len(a))
    t_f = np.zeros(len(a))
    conflicts: list[list[tuple[int, float]]] = [[] for _ in range(len(a))]
    intercept = np.zeros(len(a))
    arm_lanes: dict[tuple[int, int], float] = {}
    if kc is not None:
        for x, y, n_lanes in zip(u.tolist(), v.tolist(), lanes.tolist(), strict=True):
            arm = (min(x, y), max(x, y))
            arm_lanes[arm] = arm_lanes.get(arm, 0.0) + n_lanes
    for node in np.flatnonzero(prio).tolist():
        app = [int(x) for x in in_order[in_start[node] : in_start[node + 1]] if at[x]]
        y_major = 0.0
        if kc is not None and app:
            top = max(rank[m] for m in app)
            arms = [arm_lanes[(min(int(u[m]), node), max(int(u[m]), node))] for m in app if rank[m] == top]
            y_major = kc.y(kc.lane_width_m * max(arms))
        for li in app:
            others = [m for m in app if m != li and u[m] != u[li]]
            if not others:
                continue
            side_dir = movement_directions(nodes, u2, v2, np.full(len(others), li), np.asarray(others) + n)
            side = {m: int(d) for m, d in zip(others, side_dir, strict=True)}
            if minor[li]:
                majors = [m for m in others if rank[m] > rank[li]]
                multilane = any(lanes[m] >= 2.0 for m in majors)
            else:
                majors = [m for m in others if not minor[m] and side[m] == THROUGH]  # the opposing major
                multilane = False
            for k in range(int(ptr[li]), int(ptr[li + 1])):
                d = int(direction[k])
                if minor[li]:
                    kk = MINOR_RIGHT if d == RIGHT else MINOR_THROUGH if d == THROUGH else MINOR_LEFT
                elif d in (LEFT, UTURN) and majors:  # across an opposing major approach (else its own course)
                    kk = MAJOR_LEFT
                else:
                    continue
                kind[k] = kk
                t_c[k], t_f[k] = _gaps(kk, multilane, int(legs[node]) == 3, settings)
                if kc is not None:
                    f = kc.factor(kk)
                    a0, kc_w = kimber_coombe_terms(kk, kc, 0.0)
                    intercept[k] = f * a0
                    for m in others:
                        if kk == MAJOR_LEFT:
                            where = "opposing" if m in majors else ""
                        elif m in majors:
                            where = "near" if side[m] == LEFT else "far"
                        else:
                            where = ""
                        for j in range(int(ptr[m]), int(ptr[m + 1])) if where else ():
                            dj = int(direction[j])
                            turn = (where == "far" and dj == LEFT) or (where != "far" and dj == RIGHT)
                            name = f"{where}_through" if dj == THROUGH else f"{where}_turn" if turn else ""
                            w = kc_w.get(name, 0.0)
                            if w > 0.0:
                                conflicts[k].append((j, f * y_major * w))
                    continue
                for m in others:
                    if kk == MAJOR_LEFT:
                        where = "opposite" if m in majors else ""
                    elif m in majors:
                        where = "near" if side[m] == LEFT else "far"
                    elif kk == MINOR_LEFT and side[m] == THROUGH:
                        where = "opposite_minor"
                    else:
                        where = ""
                    weights = _CONFLICT_WEIGHTS.get((kk, where))
                    if not weights:
                        continue
                    for j in range(int(ptr[m]), int(ptr[m + 1])):
                        dj = int(direction[j])
                        name = "right" if dj == RIGHT else "through" if dj == THROUGH else "left"
                        w = weights.get(name, 0.0)
                        if name == "through" and "through_per_lane" in weights:
                            w = weights["through_per_lane"] / lanes[m]
                        if w > 0.0:
                            conflicts[k].append((j, w))
    cptr = np.zeros(len(a) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in conflicts], out=cptr[1:])
    cslot = np.asarray([j for c in conflicts for j, _ in c], dtype=np.int64)
    cweight = np.asarray([w for c in conflicts for _, w in c], dtype=np.float64)
    record = np.zeros(len(a), dtype=bool)
    record[cslot] = True
    return GiveWayMovements(ptr, b, kind, t_c, t_f, record, cptr, cslot, cweight, intercept)


def _gaps(kind: int, multilane: bool, three_leg: bool, st: TrafficSettings) -> tuple[float, float]:
    """HCM 2000 Exhibit 17-5 (critical gap, follow-up headway) of a movement that gives way [s]."""
    if kind == MINOR_RIGHT:
        return (
            st.gap_minor_right_multilane_s if multilane else st.gap_minor_right_s
        ), st.follow_up_minor_right_s
    if kind == MINOR_THROUGH:
        return st.gap_minor_through_s, st.follow_up_minor_through_s
    if kind == MINOR_LEFT:
        t_c = st.gap_minor_left_multilane_s if multilane else st.gap_minor_left_s
        return t_c - (st.gap_three_leg_left_reduction_s if three_leg else 0.0), st.follow_up_minor_left_s
    return st.gap_major_left_s, st.follow_up_major_left_s


def give_way_capacity_vph(
    network: RoadNetwork, settings: TrafficSettings, conflicting_vph: FloatArray | None = None
) -> FloatArray:
    """Per link, the outflow capacity of a give-way approach [veh/h, all lanes]; NaN where the end does not yield.

    On a give-way approach (:func:`give_way_approach`): HCM's gap-acceptance capacity
    (:func:`~vision_zero.traffic._junction_capacity.potential_capacity_vph`, eq. 17-3) times its lanes, with the
    conflicting major flow ``conflicting_vph`` per link (default 0: ``lanes x 3600 / t_f``, the capacity with no conflicting traffic;
    ``t_c`` the minor through movement's, ``t_f`` ``traffic.give_way.follow_up_headway_s``). With
    ``traffic.give_way.gap_acceptance`` on, the simulation replaces this approach-level figure on minor
    approaches of priority junctions by each movement's own capacity with its own conflicting flow as it happens
    (:func:`give_way_movements`, :func:`~vision_zero.traffic._loop.run_period`). Nowhere else: a bend or a major road does not give way.
    (A roundabout's entry capacity is the intervention's ``exit_capacity_vph``, which caps the outflow of the
    entering links on top of ``lanes x 3600 / t_f``.)

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17, eq. 17-3 (potential capacity).
    """
    links = network.links
    lanes = np.maximum(links["lanes"].to_numpy(dtype=np.float64), 1.0)
    vc = np.zeros(len(links)) if conflicting_vph is None else np.asarray(conflicting_vph, dtype=np.float64)
    per_lane = np.array(
        [
            potential_capacity_vph(float(x), settings.gap_minor_through_s, settings.give_way_follow_up_s)
            for x in vc
        ]
    )
    cap = lanes * per_lane
    return np.where(give_way_approach(network), cap, np.nan)
