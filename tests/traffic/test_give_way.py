"""Tests of :mod:`vision_zero.traffic._give_way`: give-way approaches, delay, capacity, HCM movements."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from simulation_fixtures import BASE, EXACT, run, trips_frame
from traffic_fixtures import make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic.simulation import (
    TrafficSettings,
    give_way_approach,
    give_way_capacity_vph,
    give_way_delay_s,
)


def test_give_way_delay_on_minor_approaches_of_priority_junctions_only() -> None:
    # T junction at node 1: primary 0 -> 1 -> 2, residential 3 -> 1 (minor approach) and 1 -> 3
    xy = [(0, 0), (500, 0), (1000, 0), (500, 300)]
    specs = [(0, 1, 500.0, 1, 50.0, 1800.0), (1, 2, 500.0, 1, 50.0, 1800.0)]
    specs += [(3, 1, 300.0, 1, 50.0, 900.0), (1, 3, 300.0, 1, 50.0, 900.0)]
    hw = ["primary", "primary", "residential", "residential"]
    d = BASE.give_way_delay_s
    assert d > 0
    priority = give_way_delay_s(make_network(xy, specs, highway=hw), BASE)
    np.testing.assert_array_equal(priority, [0.0, 0.0, d, 0.0])  # only the residential approach gives way
    np.testing.assert_array_equal(
        give_way_delay_s(make_network(xy, specs, highway=hw, signalised=[1]), BASE), 0.0
    )
    np.testing.assert_array_equal(give_way_delay_s(make_network(xy, specs[:3], highway=hw[:3]), BASE)[2], d)
    two_legs = make_network(xy[:3], specs[:2], highway=hw[:2])  # no junction: a bend in one road
    np.testing.assert_array_equal(give_way_delay_s(two_legs, BASE), 0.0)


def test_give_way_capacity_only_on_minor_approaches_of_real_junctions() -> None:
    # the T junction: only the residential approach 3 -> 1 yields to a conflicting major stream
    xy = [(0, 0), (500, 0), (1000, 0), (500, 300)]
    specs = [(0, 1, 500.0, 1, 50.0, 1800.0), (1, 2, 500.0, 1, 50.0, 1800.0)]
    specs += [(3, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)]
    hw = ["primary", "primary", "residential", "residential"]
    t_f = BASE.give_way_follow_up_s
    assert 3.3 <= t_f <= 4.0  # HCM 2000 ch. 17 base follow-up headways
    net = make_network(xy, specs, highway=hw)
    np.testing.assert_array_equal(give_way_approach(net), [False, False, True, False])
    cap = give_way_capacity_vph(net, BASE)
    assert np.isnan(cap[[0, 1, 3]]).all() and cap[2] == pytest.approx(3600.0 / t_f)
    # a bend (two legs, no conflicting stream) and a signal never give way; a roundabout's entries all do
    assert not give_way_approach(make_network(xy[:3], specs[:2], highway=hw[:2])).any()
    assert not give_way_approach(make_network(xy, specs, highway=hw, signalised=[1])).any()
    ring = dataclasses.replace(
        net, nodes=net.nodes.assign(junction_control=["priority", "roundabout", "priority", "priority"])
    )
    np.testing.assert_array_equal(give_way_approach(ring), [True, False, True, False])
    # simulated: 40 vehicles queue on the minor approach and leave one per follow-up headway; the same street
    # through a bend leaves at its own capacity (one per 2 s)
    trips = trips_frame([3], [2], np.arange(40) * 0.5)
    off = dataclasses.replace(EXACT, give_way_rule="off")
    minor = run(net, trips, settings=off).trips["arrive_s"].sort_values().to_numpy()
    assert np.diff(minor)[5:].mean() == pytest.approx(t_f, rel=1e-6)
    bend = make_network(
        xy[1:], [(2, 0, 300.0, 1, 50.0, 1800.0), (0, 1, 500.0, 1, 50.0, 1800.0)], highway=hw[2:4]
    )
    through = run(bend, trips_frame([2], [1], np.arange(40) * 0.5), settings=off).trips["arrive_s"]
    assert np.diff(np.sort(through.to_numpy()))[5:].mean() == pytest.approx(2.0, rel=1e-6)


def _crossroads(three_leg: bool = False) -> RoadNetwork:
    """Primary road west (0) - centre (1) - east (2), residential north (3) - centre - south (4), all two-way.

    Links: 0 0->1 eastbound, 1 1->2, 2 2->1 westbound, 3 1->0, 4 3->1 southbound (minor), 5 1->3, and unless
    ``three_leg``: 6 4->1 northbound (minor), 7 1->4.
    """
    xy = [(0, 0), (500, 0), (1000, 0), (500, 300), (500, -300)]
    ends = [(0, 1), (1, 2), (2, 1), (1, 0), (3, 1), (1, 3), (4, 1), (1, 4)]
    ends = ends[:6] if three_leg else ends
    specs = [
        (a, b, 500.0 if 3 not in (a, b) and 4 not in (a, b) else 300.0, 1, 50.0, 1800.0) for a, b in ends
    ]
    hw = ["primary"] * 4 + ["residential"] * (len(ends) - 4)
    return make_network(xy, specs, highway=hw)


def test_give_way_movements_follow_hcm_exhibit_17_4() -> None:
    from vision_zero.traffic._model import (
        MAJOR_LEFT,
        MINOR_LEFT,
        MINOR_RIGHT,
        MINOR_THROUGH,
        NO_YIELD,
        give_way_movements,
    )

    net = _crossroads()
    gw = give_way_movements(net, dataclasses.replace(BASE, give_way_rule="hcm"))

    def conflicts(link: int, nxt: int) -> dict[tuple[int, int], float]:
        k = gw.slot(link, nxt)
        lo, hi = gw.conflict_ptr[k], gw.conflict_ptr[k + 1]
        return {
            (int(net.links["u"][gw.ptr.searchsorted(j, "right") - 1]), int(gw.next_link[j])): float(w)
            for j, w in zip(gw.conflict_slot[lo:hi], gw.conflict_weight[lo:hi], strict=True)
        }

    # northbound minor approach 4->1 (link 6): the near-side stream is eastbound (from its left, link 0)
    assert gw.kind[gw.slot(6, 1)] == MINOR_RIGHT  # onto 1->2, east
    assert gw.kind[gw.slot(6, 5)] == MINOR_THROUGH  # onto 1->3, north
    assert gw.kind[gw.slot(6, 3)] == MINOR_LEFT  # onto 1->0, west
    # minor right (movement 9): v2 / N + 0.5 v3 -- eastbound through and eastbound right (into the south leg)
    assert conflicts(6, 1) == {(0, 1): 1.0, (0, 7): 0.5}
    # minor through (8): 2 v1 + v2 + 0.5 v3 + 2 v4 + v5 + v6 (v4/v5/v6 westbound left/through/right); a major
    # U-turn counts as a left turn (HCM 2010 adds U-turns to the left-turn terms)
    through = {(0, 5): 2.0, (0, 3): 2.0, (0, 1): 1.0, (0, 7): 0.5, (2, 7): 2.0, (2, 1): 2.0, (2, 3): 1.0}
    assert conflicts(6, 5) == through | {(2, 5): 1.0}
    # minor left (7): 2 v1 + v2 + 0.5 v3 + 2 v4 + v5 + 0.5 v6 + 0.5 v11 + 0.5 v12 (southbound minor through/right)
    assert conflicts(6, 3) == through | {(2, 5): 0.5, (3, 7): 0.5, (3, 3): 0.5}
    # major left (1): v5 + v6, the opposing through and right; the major through and right do not yield
    assert gw.kind[gw.slot(0, 5)] == MAJOR_LEFT and conflicts(0, 5) == {(2, 3): 1.0, (2, 5): 1.0}
    assert gw.kind[gw.slot(0, 1)] == NO_YIELD and gw.kind[gw.slot(0, 7)] == NO_YIELD
    # HCM Exhibit 17-5 gaps and follow-ups (two-lane major street), eq. 17-1's three-leg term for the minor left
    pairs = {
        int(gw.kind[k]): (gw.critical_gap_s[k], gw.follow_up_s[k]) for k in range(gw.n_slots) if gw.kind[k]
    }
    assert pairs == {
        MINOR_RIGHT: (6.2, 3.3),
        MINOR_THROUGH: (6.5, 4.0),
        MINOR_LEFT: (7.1, 3.5),
        MAJOR_LEFT: (4.1, 2.2),
    }
    t_net = _crossroads(three_leg=True)
    t_gw = give_way_movements(t_net, dataclasses.replace(BASE, give_way_rule="hcm"))
    # the southbound minor left turn onto 1->2 at the T junction
    assert t_gw.critical_gap_s[t_gw.slot(4, 1)] == pytest.approx(7.1 - 0.7)
    # only the flows a conflict list reads are recorded
    assert gw.record.sum() == len(set(gw.conflict_slot.tolist()))


def test_give_way_capacity_per_movement_falls_with_its_conflicting_flow_as_hcm_eq_17_3() -> None:
    from vision_zero.traffic._model import MINOR_LEFT, MINOR_RIGHT

    # T junction: primary 0 -> 1 -> 2 (eastbound) and/or 2 -> 1 -> 0 (westbound) at 600 veh/h (one every 6 s for
    # 40 min); 60 vehicles queue on the residential approach 3 -> 1 (southbound) from minute 20 (the 15-min flow
    # window is full by then). Its near side is the westbound stream (from the driver's left, the east)
    net = _crossroads(three_leg=True)

    def minor_headway(
        major: tuple[int, int], turn_to: int, settings: TrafficSettings, queue_from: int = 3
    ) -> float:
        main = trips_frame([major[0]], [major[1]], np.arange(400) * 6.0)
        minor = trips_frame([queue_from], [turn_to], np.full(60, 1200.0))
        trips = pd.concat([main, minor], ignore_index=True).sort_values("depart_s", kind="stable")
        trips["trip"] = np.arange(len(trips))
        out = (
            run(net, trips.reset_index(drop=True), settings=settings)
            .trips.set_index("trip")
            .loc[trips["trip"]]
        )
        queued = (trips["origin"] == queue_from).to_numpy()
        arrive = np.sort(out["arrive_s"].to_numpy()[queued])
        free = (500.0 + (300.0 if major[1] == 3 else 500.0)) / (50.0 / 3.6)  # the stream never yields
        assert out["travel_time_s"].to_numpy()[~queued].max() == pytest.approx(free, abs=3.0)
        return float(np.diff(arrive)[5:].mean())

    def c_p(v_c: float, t_c: float, t_f: float) -> float:  # HCM eq. 17-3 by hand
        return v_c * np.exp(-v_c * t_c / 3600) / (1 - np.exp(-v_c * t_f / 3600))

    gap = dataclasses.replace(EXACT, give_way_rule="hcm")
    # right turn (onto 1 -> 0, west) with the eastbound stream only: that stream is on the far side, so no
    # conflicting flow (HCM's v_c,9 = v2 / N + 0.5 v3), the right turn's follow-up headway 3.3 s
    assert minor_headway((0, 2), 0, gap) == pytest.approx(3.3, rel=1e-6)
    # with 600 veh/h of the near-side (westbound) stream turning right, into the minor road's own leg (v3 at
    # half weight): v_c = 300 veh/h, t_c 6.2 s, t_f 3.3 s. (The westbound *through* stream would share the right
    # turn's exit link, whose inflow capacity then holds the right turners a little more at that merge.)
    assert c_p(300.0, 6.2, 3.3) == pytest.approx(744.3, abs=0.5)
    assert minor_headway((2, 3), 0, gap) == pytest.approx(3600.0 / c_p(300.0, 6.2, 3.3), rel=0.02)
    # left turn (onto 1 -> 2, east) across the westbound stream: t_c 7.1 - 0.7 s (three legs), t_f 3.5 s
    assert minor_headway((2, 0), 2, gap) == pytest.approx(3600.0 / c_p(600.0, 6.4, 3.5), rel=0.02)
    # a left turn from the major road (eastbound 0 -> 1 onto 1 -> 3) yields to the opposing westbound through
    # stream: t_c 4.1 s, t_f 2.2 s (HCM's v_c,1 = v5 + v6); without gap acceptance it does not yield
    assert minor_headway((2, 0), 3, gap, queue_from=0) == pytest.approx(
        3600.0 / c_p(600.0, 4.1, 2.2), rel=0.02
    )
    off = dataclasses.replace(EXACT, give_way_rule="off")
    assert minor_headway((2, 0), 3, off, queue_from=0) == pytest.approx(2.0, rel=1e-6)  # link capacity 1,800
    # the approach-level figure at a given flow (route choice's and the default's): the through gap, t_f 3.5 s
    assert give_way_capacity_vph(net, EXACT, np.array([0, 0, 0, 0, 600.0, 0]))[4] == pytest.approx(
        c_p(600.0, 6.5, 3.5)
    )
    # Kimber & Coombe (traffic.give_way.gap_acceptance = 2): linear in the same simulated flows;
    # a single carriageway of 1 + 1 lanes: W = 2 x 3.65 m, Y = 1 - 0.0345 W; E = F = the lane and right
    # visibility factors, D also the left one (visibility 90 m: 0.973 and 0.964)
    kc = dataclasses.replace(EXACT, give_way_rule="kimber_coombe")
    k = kc.kimber_coombe
    assert k is not None
    y = 1.0 - 0.0345 * 2 * 3.65
    e = 1.0 + 0.0009 * (90.0 - 120.0)
    d = e * (1.0 + 0.0006 * (90.0 - 150.0))
    assert (k.factor(MINOR_RIGHT), k.factor(MINOR_LEFT), k.y(7.3)) == pytest.approx((e, d, y))
    # right turn with the far-side (eastbound) stream only: no conflicting flow, E x 745 pcu/h
    assert minor_headway((0, 2), 0, kc) == pytest.approx(3600.0 / (e * 745.0), rel=1e-6)
    # with 600 veh/h of the near side turning (right) into the minor road's leg: E (745 - 0.144 Y q_ab)
    assert minor_headway((2, 3), 0, kc) == pytest.approx(3600.0 / (e * (745.0 - 0.144 * y * 600.0)), rel=0.02)
    # left turn across the westbound (near) through stream: D (627 - 0.364 Y q_ac)
    assert minor_headway((2, 0), 2, kc) == pytest.approx(3600.0 / (d * (627.0 - 0.364 * y * 600.0)), rel=0.02)
    # a major left turn across the opposing through stream: F (745 - 0.364 Y q_ac), F = E
    assert minor_headway((2, 0), 3, kc, queue_from=0) == pytest.approx(
        3600.0 / (e * (745.0 - 0.364 * y * 600.0)), rel=0.02
    )
    # "off" (traffic.give_way.gap_acceptance = 0): the minor approach discharges at 3600 / t_f
    assert minor_headway((0, 2), 0, off) == pytest.approx(EXACT.give_way_follow_up_s, rel=1e-6)


def test_a_major_left_turn_with_no_opposing_major_approach_does_not_give_way() -> None:
    """Where the major road bends at a T junction (its minor arm straight ahead of a major approach), the left
    turn along the major road crosses no opposing major stream: it does not yield under either give-way rule and
    discharges at the link's capacity (1,800 veh/h: 2.0 s), not at Kimber & Coombe's C-B intercept (F x 745 pcu/h:
    5.0 s at 90 m visibility) or HCM's movement 1 (3600 / 2.2 s)."""
    from vision_zero.traffic._model import MAJOR_LEFT, NO_YIELD, give_way_movements

    # primary south (0) - centre (1) - west (2), residential north (3) - centre: links 0 0->1 northbound,
    # 1 1->0, 2 2->1 eastbound, 3 1->2, 4 3->1 southbound (minor), 5 1->3
    xy = [(0, -500), (0, 0), (-500, 0), (0, 300)]
    ends = [(0, 1), (1, 0), (2, 1), (1, 2), (3, 1), (1, 3)]
    specs = [(a, b, 300.0 if 3 in (a, b) else 500.0, 1, 50.0, 1800.0) for a, b in ends]
    bend = make_network(xy, specs, highway=["primary"] * 4 + ["residential"] * 2)
    for rule in ("hcm", "kimber_coombe"):
        gw = give_way_movements(bend, dataclasses.replace(BASE, give_way_rule=rule))
        assert gw.kind[gw.slot(0, 3)] == NO_YIELD, rule  # northbound turning left (west) along the primary
        assert gw.kind[gw.slot(0, 5)] == NO_YIELD, rule  # northbound straight on into the minor arm
    # at the crossroads the same turn crosses the opposing major stream and yields
    cross = _crossroads()
    gw = give_way_movements(cross, dataclasses.replace(BASE, give_way_rule="kimber_coombe"))
    assert gw.kind[gw.slot(0, 5)] == MAJOR_LEFT
    kc = dataclasses.replace(EXACT, give_way_rule="kimber_coombe")
    arrive = run(bend, trips_frame([0], [2], np.full(60, 0.0)), settings=kc).trips["arrive_s"].to_numpy()
    assert np.diff(np.sort(arrive))[5:].mean() == pytest.approx(2.0, rel=1e-6)


def test_simulation_holds_minor_approach_vehicles_for_the_give_way_delay() -> None:
    # the T junction above: 3 -> 1 (residential, gives way) -> 2 (primary); 0 -> 1 -> 3 has no minor approach
    xy = [(0, 0), (500, 0), (1000, 0), (500, 300)]
    specs = [(0, 1, 500.0, 1, 50.0, 1800.0), (1, 2, 500.0, 1, 50.0, 1800.0)]
    specs += [(3, 1, 300.0, 1, 50.0, 900.0), (1, 3, 300.0, 1, 50.0, 900.0)]
    net = make_network(xy, specs, highway=["primary", "primary", "residential", "residential"])
    d = 7.5
    st = dataclasses.replace(EXACT, give_way_delay_s=d, give_way_in_simulation=True)
    v = 50.0 / 3.6
    trips = trips_frame([3, 0], [2, 3], np.array([10.0, 500.0]))
    rec = run(net, trips, settings=st)
    tt = rec.trips.set_index("trip")["travel_time_s"]
    assert tt[0] == pytest.approx(300.0 / v + d + 500.0 / v, abs=1e-9)  # 21.6 + 7.5 + 36 s
    assert tt[1] == pytest.approx(500.0 / v + 300.0 / v, abs=1e-9)  # the major approach does not give way
    stats = rec.link_stats.set_index("link")
    assert stats.loc[2, "mean_speed_kph"] == pytest.approx(50.0)  # running speed: the wait is not driving
    assert stats.loc[2, "veh_h"] == pytest.approx((300.0 / v + d) / 3600)  # link time includes the wait
    for off in (
        dataclasses.replace(st, give_way_delay_s=0.0),
        dataclasses.replace(st, give_way_in_simulation=False),
    ):
        assert run(net, trips, settings=off).trips["travel_time_s"].iloc[0] == pytest.approx(
            tt[0] - d, abs=1e-9
        )
