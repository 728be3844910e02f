"""Tests of :mod:`vision_zero.traffic.simulation`: whole runs of simulate() (hand-checkable cases,
conservation, determinism, random streams, route choice in a run, crossings and passages, options and errors,
the schematic network)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from simulation_fixtures import BASE, EXACT, HOUR, one_road, run, trips_frame
from traffic_fixtures import grid, make_network

from vision_zero.core.errors import DataError
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._model import signal_plans
from vision_zero.traffic.demand import congestion_index
from vision_zero.traffic.periods import Period
from vision_zero.traffic.simulation import (
    desired_speed_kph,
    give_way_approach,
    give_way_capacity_vph,
    record_of,
    simulate,
    simulate_vehicles,
    traffic_summary,
)

#: all-or-nothing route choice (no perception errors): hand-checkable routes
AON = dataclasses.replace(BASE, route_perception_cv=0.0, route_perception_draws=1)


# --- hand-checkable cases ------------------------------------------------------------------------------------


def test_straight_road_free_flow_time_is_length_over_speed() -> None:
    rec = run(one_road(), trips_frame([0], [1], np.array([10.0])), settings=EXACT)
    trip = rec.trips.iloc[0]
    assert trip["completed"]
    assert trip["travel_time_s"] == pytest.approx(1000.0 / (50.0 / 3.6), abs=1e-9)  # 72 s
    assert trip["arrive_s"] == pytest.approx(82.0)
    assert trip["veh_km"] == pytest.approx(1.0)
    stats = rec.link_stats.iloc[0]
    assert stats["entries"] == 1 and stats["veh_km"] == pytest.approx(1.0)
    assert stats["veh_h"] == pytest.approx(72.0 / 3600)
    assert stats["mean_speed_kph"] == pytest.approx(50.0)


def test_each_driver_drives_own_desired_speed_drawn_in_trip_order() -> None:
    # spaced departures: no interaction, so travel time = length / the driver's desired speed
    n = 400
    long = Period("long", 8.0, n * 60.0, 1.0, 1.0)
    rec = run(one_road(), trips_frame([0], [1], np.arange(n) * 60.0, "long"), seed=7, periods=(long,))
    z = np.random.default_rng(7).standard_normal(n)
    v = desired_speed_kph(one_road().links, np.zeros(n, dtype=np.int64), z, BASE)
    np.testing.assert_allclose(rec.trips["travel_time_s"], 1000.0 / (v / 3.6))
    # limit + 9.5 km/h, sd 14% (SCIENCE.md §8), within 3 standard errors
    assert v.mean() == pytest.approx(59.5, abs=3 * 0.14 * 59.5 / np.sqrt(n))
    assert v.std() / v.mean() == pytest.approx(0.14, abs=0.02)


# --- conservation, determinism, randomness --------------------------------------------------------------------


def random_trips(net: RoadNetwork, n: int, seed: int, duration_s: float = 3600.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    nn = len(net.nodes)
    o = rng.integers(0, nn, n)
    d = (o + rng.integers(1, nn, n)) % nn
    return trips_frame(o, d, np.sort(rng.uniform(0, duration_s, n)))


def test_conservation_every_trip_arrived_or_en_route() -> None:
    net = grid(5, lanes=1, capacity_vph_per_lane=400.0, signalised=True)
    trips = random_trips(net, 3000, 1)
    for drain in (0.0, 3600.0):
        rec = run(net, trips, drain_s=drain)
        t = rec.trips
        assert len(t) == len(trips) and t["trip"].tolist() == trips["trip"].tolist()
        en_route = t["routed"] & ~t["completed"]
        assert int(t["completed"].sum() + en_route.sum() + (~t["routed"]).sum()) == len(trips)
        assert t.loc[en_route, "arrive_s"].isna().all() and t.loc[t["completed"], "travel_time_s"].gt(0).all()
        # vehicle-km are counted once: per trip and per link agree
        assert t["veh_km"].sum() == pytest.approx(rec.link_stats["veh_km"].sum())
        if drain == 0.0:
            assert en_route.sum() > 0  # the case is congested enough to leave vehicles on the network
        else:
            assert en_route.sum() == 0


def test_same_seed_identical_record_and_other_seed_differs() -> None:
    net = grid(4, signalised=True)
    trips = random_trips(net, 400, 2)
    a, b, c = (run(net, trips, seed=s) for s in (5, 5, 6))
    for field in ("link_stats", "trips", "speed_hist", "passages", "pedestrian_demand"):
        pd.testing.assert_frame_equal(getattr(a, field), getattr(b, field))
    assert not np.allclose(a.trips["travel_time_s"], c.trips["travel_time_s"], equal_nan=True)


# --- interventions reach drivers -------------------------------------------------------------------------------


def two_routes(limit_a_kph: float = 50.0, cap_a_vph: float = 1800.0) -> RoadNetwork:
    # 0 -> 1 via node 2 (route A, 2 x 500 m) or via node 3 (route B, 2 x 550 m)
    xy = [(0, 0), (1000, 0), (500, 100), (500, -200)]
    return make_network(
        xy,
        [
            (0, 2, 500.0, 1, limit_a_kph, cap_a_vph),
            (2, 1, 500.0, 1, limit_a_kph, cap_a_vph),
            (0, 3, 550.0, 1, 50.0, 1800.0),
            (3, 1, 550.0, 1, 50.0, 1800.0),
        ],
    )


def flows(rec: object) -> pd.Series:
    return rec.link_stats.set_index("link")["entries"].reindex(range(4), fill_value=0)


def test_lower_limit_on_one_street_moves_traffic_to_the_other() -> None:
    trips = trips_frame([0], [1], np.arange(100) * 20.0)
    base = flows(run(two_routes(), trips, settings=AON))
    slow = flows(run(two_routes(limit_a_kph=30.0), trips, settings=AON))
    assert base[0] == 100 and base[2] == 0
    assert slow[0] == 0 and slow[2] == 100


def test_probit_route_choice_shares_near_equal_routes_and_responds_smoothly() -> None:
    # route B is 10% longer; a limit of 40 instead of 50 km/h makes A ~9% slower than B (drivers' desired speeds
    # 49.5 vs 59.5 km/h): all-or-nothing sends every trip to B, probit only a share
    trips = trips_frame([0], [1], np.arange(400) * 9.0)
    net, slower_a = two_routes(), two_routes(limit_a_kph=40.0)
    # the probit sensitivity option (perception_cv > 0; off by default)
    probit = dataclasses.replace(BASE, route_perception_cv=0.3, route_perception_draws=64)
    kw = {"reroute_passes": 0, "settings": probit}
    base, slow = flows(run(net, trips, **kw)), flows(run(slower_a, trips, **kw))
    assert base[0] > base[2] > 0  # both routes used, the shorter more
    assert slow[2] > base[2]  # slowing A moves some trips to B ...
    assert slow[0] > 0.25 * 400  # ... but not all of them
    aon = flows(run(slower_a, trips, reroute_passes=0, settings=AON))
    assert aon[0] == 0


def test_link_events_are_each_vehicles_entries_and_exits() -> None:
    net = make_network(
        [(0, 0), (500, 0), (600, 0)],
        [(0, 1, 500.0, 1, 50.0, 1800.0), (1, 2, 100.0, 1, 50.0, 600.0)],
    )
    trips = trips_frame([0], [2], np.arange(20) * 2.0)
    plain = run(net, trips, settings=EXACT)
    assert plain.link_events is None  # only when asked for
    rec = run(net, trips, settings=EXACT, link_events=True)
    ev = rec.link_events
    assert ev is not None and len(ev) == 40
    assert list(ev.columns) == ["period", "vehicle", "size_veh", "link", "enter_s", "run_end_s", "exit_s"]
    by = ev.set_index(["vehicle", "link"])
    np.testing.assert_allclose(by.xs(0, level="link")["enter_s"], trips["depart_s"])
    # the exit of the first link is the entry of the second; the last exit is the trip's arrival
    np.testing.assert_allclose(by.xs(0, level="link")["exit_s"], by.xs(1, level="link")["enter_s"])
    np.testing.assert_allclose(by.xs(1, level="link")["exit_s"], rec.trips["arrive_s"])
    run_s = (ev["run_end_s"] - ev["enter_s"]).to_numpy()
    np.testing.assert_allclose(run_s, np.where(ev["link"] == 0, 500.0, 100.0) / (50.0 / 3.6))
    # link B admits one vehicle per 6 s: the queue is held on A (exits of A 6 s apart), none on B
    np.testing.assert_allclose(np.diff(by.xs(0, level="link")["exit_s"].to_numpy())[3:], 6.0)
    b = by.xs(1, level="link")
    np.testing.assert_allclose(b["exit_s"], b["run_end_s"])


def test_gridlock_is_resolved_by_counted_stuck_moves_and_reported() -> None:
    # a one-way ring of four 50 m links (storage 3 each) loaded with 40 vehicles that all go three links round:
    # circular spill-back; only stuck moves (after traffic.stuck_time_s) get it going again
    xy = [(0, 0), (50, 0), (50, 50), (0, 50)]
    ring = [(0, 1, 50.0, 1, 50.0, 1800.0), (1, 2, 50.0, 1, 50.0, 1800.0)]
    ring += [(2, 3, 50.0, 1, 50.0, 1800.0), (3, 0, 50.0, 1, 50.0, 1800.0)]
    net = make_network(xy, ring, storage_veh=[3.0] * 4)
    o = np.arange(40) % 4
    trips = trips_frame(o, (o + 3) % 4, np.arange(40) * 0.1)
    rec = run(net, trips, settings=EXACT)
    assert sum(rec.stuck_moves) > 0
    s = traffic_summary(rec)
    assert s["trips_completed"] + s["trips_en_route"] + s["trips_unrouted"] == s["trips"] == 40
    assert s["share_arrived"] == pytest.approx(s["trips_completed"] / 40)
    assert s["stuck_moves"] == sum(rec.stuck_moves)
    assert congestion_index(net, rec.trips) > 2.0  # trips of 11 s took far longer
    # spaced out, nothing is stuck and every trip takes its free-flow time
    free = run(net, trips_frame(o, (o + 3) % 4, np.arange(40) * 10.0), settings=EXACT)
    f = traffic_summary(free)
    assert f["stuck_moves"] == 0 and f["share_arrived"] == 1.0
    t = free.trips
    np.testing.assert_allclose(t["travel_time_s"], t["free_flow_time_s"])  # the drivers' own free-flow times


def test_route_choice_draws_only_from_the_routing_stream() -> None:
    trips = trips_frame([0], [1], np.arange(1200) * 3.0)  # twice route A's capacity: trips switch

    def go(routing_seed: int) -> pd.Series:
        return flows(
            simulate(
                two_routes(cap_a_vph=600.0),
                trips,
                None,
                rng=np.random.default_rng(0),
                periods=(HOUR,),
                routing_rng=np.random.default_rng(routing_seed),
                reroute_passes=1,
            )
        )

    pd.testing.assert_series_equal(go(1), go(1))  # deterministic
    assert not go(1).equals(go(2))  # route choice follows the routing stream


def test_simulate_and_simulate_vehicles_take_the_same_default_routing_stream() -> None:
    # simulate() is simulate_vehicles() plus crossings and pedestrians: with the same drivers' stream and no
    # routing stream of their own, both route on the same default child of it (simulate() once skipped a child
    # for a pedestrian stream the record no longer draws)
    trips = trips_frame([0], [1], np.arange(1200) * 3.0)  # twice route A's capacity: trips switch
    net, kw = two_routes(cap_a_vph=600.0), {"periods": (HOUR,), "reroute_passes": 1}
    whole = simulate(net, trips, None, rng=np.random.default_rng(0), **kw)
    vehicles = simulate_vehicles(net, trips, rng=np.random.default_rng(0), **kw)
    part = record_of(net, trips, None, (HOUR,), vehicles)
    pd.testing.assert_frame_equal(whole.trips, part.trips)
    pd.testing.assert_frame_equal(whole.link_stats, part.link_stats)
    assert 0 < flows(part)[2] < 1200  # route choice did draw: some trips switched to route B


def test_rerouting_from_simulated_times_relieves_a_congested_route() -> None:
    trips = trips_frame([0], [1], np.sort(np.random.default_rng(0).uniform(0, 3600, 1200)))
    net = two_routes(cap_a_vph=600.0)  # route A is shorter but its capacity is half the demand
    once = run(net, trips, reroute_passes=0, settings=AON)
    twice = run(net, trips, reroute_passes=1, settings=AON)
    assert flows(once)[0] == 1200
    assert 300 < flows(twice)[2] < 900  # a share of the trips moved to route B
    assert twice.trips["travel_time_s"].mean() < 0.5 * once.trips["travel_time_s"].mean()


# --- crossings and pedestrians ----------------------------------------------------------------------------------


def test_passage_time_and_speed_at_a_mid_link_crossing() -> None:
    net = one_road(crossing_offset_m=250.0)
    rec = run(net, trips_frame([0], [1], np.array([100.0])), settings=EXACT)
    p = rec.passages
    assert len(p) == 1
    assert p["t_s"].iloc[0] == pytest.approx(100.0 + 250.0 / (50 / 3.6))
    assert p["speed_kph"].iloc[0] == pytest.approx(50.0)
    assert not p["stopped"].iloc[0]


def test_pedestrians_are_the_crossings_demand_as_rates_and_leave_the_vehicles_alone() -> None:
    """The record keeps the pedestrians as the Poisson rates of its network's crossings (the risk stage takes its
    expectation over them), draws no arrivals, and the vehicles' results do not depend on them."""
    net = one_road(crossing_offset_m=250.0)
    trips = trips_frame([0], [1], np.arange(20) * 100.0)
    peds = pd.DataFrame({"crossing": [0, 7], "period": ["h", "h"], "peds_per_h": [400.0, 50.0]})
    kw = {"periods": (HOUR,), "settings": BASE}
    a = simulate(net, trips, peds, rng=np.random.default_rng(1), **kw)
    b = simulate(net, trips, None, rng=np.random.default_rng(1), **kw)
    assert a.pedestrian_demand.to_dict("records") == [{"crossing": 0, "period": "h", "peds_per_h": 400.0}]
    assert b.pedestrian_demand.empty
    pd.testing.assert_frame_equal(a.trips, b.trips)
    pd.testing.assert_frame_equal(a.passages, b.passages)


def test_crossing_at_a_signalised_node_reports_stopped_vehicles() -> None:
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
        crossings=[(1, -1, 0.0)],
    )
    rec = run(net, trips_frame([0], [3], np.arange(60) * 10.0))
    p = rec.passages
    assert len(p) == 60 and set(p["link"]) == {0}
    assert 0 < p["stopped"].sum() < 60


def test_a_major_approach_spaced_by_a_headway_does_not_pass_from_rest() -> None:
    """Two vehicles about a second apart on a 2-lane primary road (its inflow headway) reach a priority junction,
    where a 1-lane primary road takes them one inflow headway (2 s) apart: the second waits just over 1 s at the
    line behind a vehicle that did not stop. That is the spacing of a moving stream (a queue discharging at a link's
    capacity moves: Newell's congested branch), not a start from rest (the record said 'stopped' for waits over
    1 s until 2026-12-01)."""
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 2, 50.0, 7200.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        highway=["primary", "residential", "primary"],
        crossings=[(1, -1, 0.0)],
    )
    assert not give_way_approach(net)[0] and give_way_approach(net)[1]  # link 0: the major approach
    rec = run(net, trips_frame([0], [3], np.array([0.0, 0.5])), settings=EXACT, link_events=True)
    ev = rec.link_events
    on_0 = ev[ev["link"] == 0]
    gap_in = np.diff(on_0["enter_s"].to_numpy())[0]  # the 2-lane road's inflow headway (its flow capacity)
    np.testing.assert_allclose(np.diff(on_0["exit_s"].to_numpy()), [2.0])  # the 1-lane road's, 1800 veh/h
    hold = (on_0["exit_s"] - on_0["run_end_s"]).to_numpy()
    np.testing.assert_allclose(hold, [0.0, 2.0 - gap_in])
    assert hold[1] > 1.0
    p = rec.passages
    assert len(p) == 2 and not p["stopped"].any()


def test_vehicles_queued_at_a_red_pass_from_rest() -> None:
    """At a signal, a vehicle that reaches the line in the red stops, and so does every vehicle that reaches it
    before the stopped vehicle ahead has left (a standing queue); one that reaches an empty line in the green
    does not, nor one that reaches it after the vehicle ahead has left (it is spaced by the saturation flow, if
    at all)."""
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
        crossings=[(1, -1, 0.0)],
    )
    sig = signal_plans(net, EXACT)
    c, off, g = sig.cycle_s[0], sig.offset_s[0], sig.green_s[0]
    depart = np.arange(0.0, 2 * c, 3.0)  # one every 3 s over two cycles: queues in the red, none in the green
    rec = run(net, trips_frame([0], [3], depart), settings=EXACT, link_events=True)
    ev = rec.link_events[rec.link_events["link"] == 0].sort_values("exit_s")
    run_end, exit_s = ev["run_end_s"].to_numpy(), ev["exit_s"].to_numpy()
    in_red = (run_end - off) % c >= g
    expected = np.zeros(len(ev), dtype=bool)
    for k in range(len(ev)):  # by hand: a red, or behind a stopped vehicle still at the line
        expected[k] = in_red[k] or (k > 0 and run_end[k] < exit_s[k - 1] and expected[k - 1])
    p = rec.passages.sort_values("t_s")
    np.testing.assert_allclose(p["t_s"].to_numpy(), exit_s)
    assert p["stopped"].tolist() == expected.tolist()
    assert in_red.any() and (~in_red).any() and expected.any() and (~expected).any()
    assert (expected & ~in_red).any()  # queued behind a stopped vehicle: reached the line in the green
    assert ((exit_s - run_end > 0) & ~expected).any()  # waited behind a moving vehicle: not a stop


def test_a_minor_approach_that_waits_out_the_give_way_headway_passes_from_rest() -> None:
    """On the minor approach of a priority junction the give-way capacity (HCM's potential capacity at no
    conflicting flow: one vehicle per follow-up headway) spaces the exits: a vehicle that reaches the line within
    that headway of the one ahead waits for its gap in the major stream, it yields from rest; the first, which
    finds the line free, does not stop (no conflicting traffic is simulated without gap acceptance)."""
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        highway=["primary", "residential", "primary"],
        crossings=[(1, -1, 0.0)],
    )
    assert give_way_approach(net)[1]
    rec = run(net, trips_frame([2], [3], np.array([0.0, 2.0, 60.0])), settings=EXACT, link_events=True)
    ev = rec.link_events[rec.link_events["link"] == 1]
    hold = (ev["exit_s"] - ev["run_end_s"]).to_numpy()
    follow_up = 3600.0 / give_way_capacity_vph(net, EXACT)[1]
    np.testing.assert_allclose(hold, [0.0, follow_up - 2.0, 0.0])
    assert rec.passages.sort_values("t_s")["stopped"].tolist() == [False, True, False]


def test_vehicles_held_at_a_full_link_pass_from_rest() -> None:
    """A 70-m link (storage 10) ends at a bottleneck (one vehicle per 10 s): it fills, and the vehicles reaching
    it from the road before wait at its entry for room (Newell's backward wave needs 14 s over it) far longer
    than its 2-s inflow headway: they start from rest. The first ten, which found room, do not."""
    net = make_network(
        [(0, 0), (300, 0), (370, 0), (1000, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (1, 2, 70.0, 1, 50.0, 1800.0), (2, 3, 630.0, 1, 50.0, 360.0)],
        storage_veh=[50.0, 10.0, 100.0],
        crossings=[(1, -1, 0.0)],
    )
    rec = run(net, trips_frame([0], [3], np.arange(30) * 2.0), settings=EXACT, link_events=True)
    ev = rec.link_events
    on_0 = ev[ev["link"] == 0].sort_values("exit_s")
    wait = (on_0["exit_s"] - on_0["run_end_s"]).to_numpy()
    wave_s = 70.0 / (EXACT.backward_wave_kph / 3.6)
    stopped = rec.passages.sort_values("t_s")["stopped"].to_numpy()
    assert len(stopped) == 30 and not stopped[:10].any()
    assert (wait > wave_s).sum() >= 10 and stopped[wait > wave_s].all()


def test_crossing_at_a_node_reports_turning_vehicles() -> None:
    # node 1: from link 0 (west) straight on to node 3 (east), or left to node 2 (north): a 90-degree turn
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (1, 2, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        crossings=[(1, -1, 0.0)],
    )
    trips = pd.concat(
        [trips_frame([0], [3], np.arange(20) * 30.0), trips_frame([0], [2], 15.0 + np.arange(10) * 30.0)],
        ignore_index=True,
    ).assign(trip=np.arange(30))
    p = run(net, trips).passages
    assert len(p) == 30 and set(p["link"]) == {0}
    assert p["turning"].sum() == 10  # the trips to node 2 turn, those to node 3 go straight on


# --- options and errors -------------------------------------------------------------------------------------------


def test_platoons_carry_the_same_trips() -> None:
    net = grid(3)
    trips = trips_frame([0], [8], np.arange(30) * 60.0)
    single = run(net, trips)
    platoon = run(net, trips, platoon_size=5)
    assert platoon.trips["completed"].all()
    assert platoon.link_stats["entries"].sum() == single.link_stats["entries"].sum()
    assert platoon.trips["veh_km"].sum() == pytest.approx(single.trips["veh_km"].sum())


def test_periods_are_simulated_in_their_own_windows() -> None:
    am, pm = Period("am", 8.0, 600.0, 0.1, 1.0), Period("pm", 17.0, 600.0, 0.1, 1.0)
    trips = pd.concat(
        [trips_frame([0], [1], np.array([5.0]), "am"), trips_frame([0], [1], np.array([5.0]), "pm")]
    )
    trips["trip"] = [0, 1]
    rec = run(one_road(), trips, periods=(am, pm), settings=EXACT)
    np.testing.assert_allclose(rec.trips["arrive_s"], [77.0, 77.0])  # times are from each period's start
    assert rec.link_stats["period"].tolist() == ["am", "pm"]


def test_bad_trips_raise_precise_errors() -> None:
    net = one_road()
    with pytest.raises(DataError, match=r"column 'period'.*'evening'"):
        run(net, trips_frame([0], [1], np.array([1.0]), "evening"))
    with pytest.raises(DataError, match=r"column 'destination'.*0\.\.1"):
        run(net, trips_frame([0], [7], np.array([1.0])))
    with pytest.raises(DataError, match="missing columns \\['depart_s'\\]"):
        run(net, trips_frame([0], [1], np.array([1.0])).drop(columns="depart_s"))
    with pytest.raises(DataError, match="depart_s"):
        run(net, trips_frame([0], [1], np.array([4000.0])))


# --- the built-in schematic network -----------------------------------------------------------------------------


def test_schematic_tiny_default_demand_peak_and_night(tiny_network: RoadNetwork) -> None:
    from vision_zero.traffic.demand import default_periods, generate_trips
    from vision_zero.traffic.pedestrians import pedestrian_demand

    net = tiny_network
    periods = tuple(p for p in default_periods() if p.name in ("am_peak", "night"))
    trips = generate_trips(net, rng=np.random.default_rng(0), periods=periods)
    peds = pedestrian_demand(net, periods=periods)
    rec = simulate(net, trips, peds, rng=np.random.default_rng(1), periods=periods)
    assert set(rec.link_stats["period"]) == {p.name for p in periods}
    t = rec.trips
    assert len(t) == len(trips) and t["completed"].mean() > 0.95
    for p in periods:
        assert (rec.passages["period"] == p.name).any() and (rec.pedestrian_demand["period"] == p.name).any()
    assert rec.passages["crossing"].between(0, len(net.crossings) - 1).all()
    ls = rec.link_stats.merge(net.links[["speed_limit_kph"]], left_on="link", right_index=True)
    # a link's mean over a few vehicles is close to their desired speeds: one driver 3 sd fast does 100 on a 60 road
    busy = ls["entries"] >= 5
    assert (ls.loc[busy, "mean_speed_kph"] <= ls.loc[busy, "speed_limit_kph"] + 25.0).all()
    assert (ls["mean_speed_kph"] > 0).all()
    assert (ls["p85_speed_kph"] >= ls["mean_speed_kph"] - 1e-9).all()
    # the AM peak is slower than the night (congestion and signals under load)
    speed = ls.groupby("period").apply(lambda g: g["veh_km"].sum() / g["veh_h"].sum(), include_groups=False)
    assert speed["night"] > speed["am_peak"]
    assert t.loc[t["completed"], "veh_km"].gt(0).all()


def test_no_trips_and_trips_to_their_own_origin() -> None:
    net = grid(3)
    empty = trips_frame([0], [1], np.zeros(0))
    rec = run(net, empty)
    assert len(rec.trips) == 0 and len(rec.link_stats) == 0 and len(rec.passages) == 0
    rec = run(net, trips_frame([4], [4], np.array([1.0, 2.0])))
    assert not rec.trips["routed"].any() and not rec.trips["completed"].any()
    assert rec.trips["veh_km"].dtype == np.float64 and (rec.trips["veh_km"] == 0).all()
