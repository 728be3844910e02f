from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from traffic_fixtures import grid, make_network

from vision_zero.core.errors import DataError
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._loop import flow_capacity_vph
from vision_zero.traffic._model import (
    DESIGN_SPEED_QUANTILE,
    compliance_draws,
    free_flow_speed_kph,
    hcm_urban_street_free_flow_speed_kph,
    link_storage_veh,
    segment_length_m,
    signal_plans,
)
from vision_zero.traffic.demand import congestion_index
from vision_zero.traffic.periods import Period
from vision_zero.traffic.simulation import (
    TrafficSettings,
    desired_speed_kph,
    give_way_approach,
    give_way_capacity_vph,
    give_way_delay_s,
    record_of,
    simulate,
    simulate_vehicles,
    traffic_summary,
)

HOUR = Period("h", 8.0, 3600.0, 0.09, 340.0)
BASE = TrafficSettings.from_parameters()
#: every driver drives exactly the limit: hand calculations
EXACT = dataclasses.replace(BASE, offset_kph=0.0, cv=0.0, hcm=None)
#: all-or-nothing route choice (no perception errors): hand-checkable routes
AON = dataclasses.replace(BASE, route_perception_cv=0.0, route_perception_draws=1)


def trips_frame(
    origin: list[int] | np.ndarray,
    destination: list[int] | np.ndarray,
    depart_s: np.ndarray,
    period: str = "h",
) -> pd.DataFrame:
    n = len(depart_s)
    return pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": period,
            "origin": np.broadcast_to(origin, n),
            "destination": np.broadcast_to(destination, n),
            "depart_s": depart_s,
        }
    )


def run(
    net: RoadNetwork,
    trips: pd.DataFrame,
    *,
    seed: int = 0,
    periods: tuple[Period, ...] = (HOUR,),
    settings: TrafficSettings = BASE,
    **kw: object,
) -> object:
    return simulate(
        net, trips, None, rng=np.random.default_rng(seed), periods=periods, settings=settings, **kw
    )


def one_road(
    length_m: float = 1000.0, limit_kph: float = 50.0, crossing_offset_m: float | None = None
) -> RoadNetwork:
    crossings = [] if crossing_offset_m is None else [(-1, 0, crossing_offset_m)]
    return make_network(
        [(0, 0), (length_m, 0)], [(0, 1, length_m, 1, limit_kph, 1800.0)], crossings=crossings
    )


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


def test_bottleneck_matches_point_queue_theory() -> None:
    # A (500 m, 3600 veh/h) -> B (2000 m, 1 lane, 600 veh/h) -> C; arrivals 1200 veh/h for 600 s
    net = make_network(
        [(0, 0), (500, 0), (2500, 0), (2600, 0)],
        [(0, 1, 500.0, 2, 50.0, 3600.0), (1, 2, 2000.0, 1, 50.0, 600.0), (2, 3, 100.0, 2, 50.0, 3600.0)],
    )
    n = 200
    rec = run(net, trips_frame([0], [3], np.arange(n) * 3.0), settings=EXACT)
    tt = rec.trips["travel_time_s"].to_numpy()
    free = 2600.0 / (50.0 / 3.6)
    # vehicle i reaches the end of A every 3 s but B admits one every 6 s: delay 3 i (deterministic queue)
    np.testing.assert_allclose(tt - free, 3.0 * np.arange(n), atol=1e-6)
    assert (tt - free).mean() == pytest.approx(3.0 * (n - 1) / 2)
    # the queue is held upstream of the bottleneck, where it forms (A holds 137 vehicles), none on B itself
    q = rec.link_stats.set_index("link")["max_queue_veh"]
    assert q.loc[0] == pytest.approx(n - n / 2, abs=1.0)  # (lambda - mu) x T = 100 vehicles
    assert q.loc[1] == 0.0


def test_spill_back_when_storage_is_full_and_no_trip_is_lost() -> None:
    net = make_network(
        [(0, 0), (500, 0), (600, 0), (700, 0)],
        [(0, 1, 500.0, 1, 50.0, 3600.0), (1, 2, 100.0, 1, 50.0, 600.0), (2, 3, 100.0, 1, 50.0, 3600.0)],
        storage_veh=[68.75, 5.0, 13.75],
    )
    n = 120
    rec = run(net, trips_frame([0], [3], np.arange(n) * 3.0), settings=EXACT)
    q = rec.link_stats.set_index("link")["max_queue_veh"]
    assert q.loc[1] <= 5.0 + 1e-9  # B never holds more than its storage
    assert q.loc[0] > 10  # so the queue grows on A instead
    assert rec.trips["completed"].all()
    # the bottleneck still discharges at its capacity: last arrival ~ n x 6 s after the first
    arr = np.sort(rec.trips["arrive_s"].to_numpy())
    assert arr[-1] - arr[0] == pytest.approx((n - 1) * 6.0, rel=0.02)


def test_storage_follows_the_drawn_jam_density_where_it_is_the_networks_default() -> None:
    """A 500 m and two 100 m one-lane links: default storage 0.5 x 137.5 = 68.75 and 0.1 x 137.5 = 13.75; the
    middle one's own storage 5 (from the data). At a drawn 145 veh/km/lane the defaults become 72.5 and 14.5 and
    the flow capacity u w k_jam / (u + w) rises by 145 / 137.5; the own value stays 5. At 137.5 nothing moves."""
    links = [(0, 1, 500.0, 1, 50.0, 3600.0), (1, 2, 100.0, 1, 50.0, 600.0), (2, 3, 100.0, 1, 50.0, 3600.0)]
    xy = [(0, 0), (500, 0), (600, 0), (700, 0)]
    net = make_network(xy, links, storage_veh=[68.75, 5.0, 13.75])
    net = dataclasses.replace(net, links=net.links.drop(columns="link_capacity_vph"))
    assert EXACT.jam_density_veh_per_km_lane == 137.5
    drawn = dataclasses.replace(EXACT, jam_density_veh_per_km_lane=145.0)
    np.testing.assert_array_equal(link_storage_veh(net, EXACT), [68.75, 5.0, 13.75])
    np.testing.assert_allclose(link_storage_veh(net, drawn), [72.5, 5.0, 14.5], rtol=1e-12)
    u_mps, w_mps = 50.0 / 3.6, EXACT.backward_wave_kph / 3.6
    k_per_m = np.array([72.5 / 500.0, 5.0 / 100.0, 14.5 / 100.0])
    np.testing.assert_allclose(
        flow_capacity_vph(net, np.full(3, 50.0), drawn), u_mps * w_mps * k_per_m / (u_mps + w_mps) * 3600.0
    )
    # a network built from its tags: every link at the default, so every link follows the draw
    built = make_network(xy, links)
    np.testing.assert_allclose(link_storage_veh(built, drawn), built.links["storage_veh"] * 145.0 / 137.5)


def test_link_capacity_is_its_fundamental_diagram_not_the_road_class_capacity() -> None:
    # 200 vehicles at once onto a 1-lane 50 km/h secondary street (class capacity 1,000 veh/h/lane) through
    # a bend: it discharges at its own triangular-diagram capacity u w k_jam / (u + w), not at the class value
    links = [(0, 1, 500.0, 1, 50.0, 1000.0), (1, 2, 500.0, 1, 50.0, 1000.0)]
    net = make_network([(0, 0), (500, 0), (1000, 100)], links)
    net = dataclasses.replace(net, links=net.links.drop(columns="link_capacity_vph"))
    u, w, k = 50.0, EXACT.backward_wave_kph, EXACT.jam_density_veh_per_km_lane
    q_fd = u * w * k / (u + w)
    assert 1700.0 < q_fd < 1900.0  # ~1,820 veh/h/lane, near HCM's 1,900 pc/h/lane base
    arr = run(net, trips_frame([0], [2], np.zeros(200)), settings=EXACT).trips["arrive_s"].to_numpy()
    # (within 1%: at exactly capacity a link is at its Newell storage bound, and vehicles are whole)
    assert np.diff(np.sort(arr))[10:].mean() == pytest.approx(3600.0 / q_fd, rel=0.01)
    # an explicit bottleneck (link_capacity_vph) and a junction capacity (exit_capacity_vph) still bind
    capped = dataclasses.replace(net, links=net.links.assign(link_capacity_vph=[np.nan, 900.0]))
    arr = run(capped, trips_frame([0], [2], np.zeros(200)), settings=EXACT).trips["arrive_s"].to_numpy()
    assert np.diff(np.sort(arr))[10:].mean() == pytest.approx(4.0, rel=1e-3)
    gate = dataclasses.replace(net, links=net.links.assign(exit_capacity_vph=[720.0, np.nan]))
    arr = run(gate, trips_frame([0], [2], np.zeros(200)), settings=EXACT).trips["arrive_s"].to_numpy()
    assert np.diff(np.sort(arr))[10:].mean() == pytest.approx(5.0, rel=1e-3)


def test_a_links_own_backward_wave_speed_sets_its_capacity_and_when_room_reaches_its_start() -> None:
    """B: 100 m at 36 km/h (u = 10 m/s), storage 10 (k_jam 0.1 veh/m), one exit per 10 s at its end; 30
    vehicles queue into it. With the global w = 5 m/s its capacity is u w k / (u + w) = 1/3 veh/s (entries every
    3 s) and room freed at its end reaches its start L / w = 20 s later: the 11th vehicle enters 20 s after the
    1st left. The link column ``backward_wave_speed_kph`` = 36 km/h (w = 10 m/s) gives B 0.5 veh/s (every 2 s)
    and 10 s; NaN keeps the global speed (A, C)."""
    net = make_network(
        [(0, 0), (300, 0), (400, 0), (900, 0)],
        [(0, 1, 300.0, 1, 36.0, 1e5), (1, 2, 100.0, 1, 36.0, 1e5), (2, 3, 500.0, 1, 36.0, 1e5)],
        storage_veh=[60.0, 10.0, 100.0],
    )
    net = dataclasses.replace(net, links=net.links.assign(exit_capacity_vph=[np.nan, 360.0, np.nan]))
    own = dataclasses.replace(net, links=net.links.assign(backward_wave_speed_kph=[np.nan, 36.0, np.nan]))
    assert EXACT.backward_wave_kph == 18.0
    np.testing.assert_allclose(flow_capacity_vph(net, np.full(3, 36.0), EXACT), [2400.0, 1200.0, 2400.0])
    np.testing.assert_allclose(flow_capacity_vph(own, np.full(3, 36.0), EXACT), [2400.0, 1800.0, 2400.0])
    for network, headway_s, wave_s in ((net, 3.0, 20.0), (own, 2.0, 10.0)):
        rec = run(network, trips_frame([0], [3], np.arange(30) * 1.0), settings=EXACT, link_events=True)
        b = rec.link_events[rec.link_events["link"] == 1].sort_values("enter_s")
        enter, leave = b["enter_s"].to_numpy(), b["exit_s"].to_numpy()
        np.testing.assert_allclose(np.diff(enter[:11]), headway_s)  # B's own capacity while it has room
        np.testing.assert_allclose(np.diff(leave), 10.0)  # the exit capacity at its end
        np.testing.assert_allclose(enter[10:] - leave[:-10], wave_s)  # full: room arrives L / w after an exit
        assert rec.trips["completed"].all()
    for bad in (0.0, -18.0, np.inf):
        wrong = dataclasses.replace(
            net, links=net.links.assign(backward_wave_speed_kph=[np.nan, bad, np.nan])
        )
        with pytest.raises(DataError, match=r"'backward_wave_speed_kph'.*link 1"):
            run(wrong, trips_frame([0], [3], np.zeros(1)), settings=EXACT)


def _crossing_streams(
    node_capacity_vph: float | None, priority_west: float = 1.0, n: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """Two streams of ``n`` vehicles each, all departing at 0, crossing at node 2: west (0 -> 2 -> 3, east) and
    north (1 -> 2 -> 4, south); every link 3,600 veh/h. Returns each stream's sorted arrival times."""
    net = make_network(
        [(0, 0), (300, 300), (300, 0), (600, 0), (300, -300)],
        [
            (0, 2, 300.0, 1, 50.0, 3600.0),
            (1, 2, 300.0, 1, 50.0, 3600.0),
            (2, 3, 300.0, 1, 50.0, 3600.0),
            (2, 4, 300.0, 1, 50.0, 3600.0),
        ],
        storage_veh=[200.0] * 4,
    )
    links = net.links.assign(merge_priority=[priority_west, 1.0, 1.0, 1.0])
    nodes = net.nodes.assign(flow_capacity_vph=[np.nan, np.nan, node_capacity_vph or np.nan, np.nan, np.nan])
    net = dataclasses.replace(net, links=links, nodes=nodes)
    trips = pd.concat(
        [trips_frame([0], [3], np.zeros(n)), trips_frame([1], [4], np.zeros(n))], ignore_index=True
    )
    trips["trip"] = np.arange(len(trips))
    st = dataclasses.replace(EXACT, give_way_rule="off", give_way_in_simulation=False)
    t = run(net, trips, settings=st).trips
    west, north = (np.sort(t.loc[t["origin"] == o, "arrive_s"].to_numpy(dtype=np.float64)) for o in (0, 1))
    return west, north


def test_a_node_flow_capacity_is_shared_by_the_crossing_streams_in_proportion_to_their_priorities() -> None:
    # without the node column the two streams do not interact: each discharges at its link's 3,600 veh/h (1 s)
    west, north = _crossing_streams(None)
    assert np.diff(west).mean() == pytest.approx(1.0, rel=1e-9)
    assert np.diff(north).mean() == pytest.approx(1.0, rel=1e-9)
    # a node capacity of 1,800 veh/h (one vehicle per 2 s) shared by equal entrances: 4 s each, alternating
    west, north = _crossing_streams(1800.0)
    assert np.diff(west).mean() == pytest.approx(4.0, rel=1e-9)
    assert np.diff(north).mean() == pytest.approx(4.0, rel=1e-9)
    both = np.sort(np.concatenate([west, north]))
    assert np.diff(both).min() == pytest.approx(2.0, rel=1e-9)
    # merge priority 3 on the west entrance: 3/4 of the node's slots (8/3 s), the north 1/4 (8 s) while both queue
    west, north = _crossing_streams(1800.0, priority_west=3.0)
    assert np.diff(west[:40]).mean() == pytest.approx(8.0 / 3.0, rel=1e-9)
    assert np.diff(north[:10]).mean() == pytest.approx(8.0, rel=1e-9)
    # the north stream then has the node alone: one vehicle per 2 s
    assert np.diff(north[-20:]).mean() == pytest.approx(2.0, rel=1e-9)


def test_signal_offsets_from_the_node_column_else_pseudo_random() -> None:
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    st = dataclasses.replace(EXACT, cycle_s=90.0, lost_time_per_phase_s=4.0)
    own = signal_plans(net, st)
    given = signal_plans(
        dataclasses.replace(net, nodes=net.nodes.assign(signal_offset_s=[np.nan, 100.0, np.nan, np.nan])), st
    )
    # east-west approach 0 -> 1: green from the offset (100 mod 90 = 10 s); north approach 2 -> 1: one green
    # (41 s) and one lost time (4 s) later
    np.testing.assert_allclose(given.offset_s[:2], [10.0, 10.0 + 41.0 + 4.0])
    np.testing.assert_allclose(given.green_s[:2], [41.0, 41.0])
    assert own.offset_s[0] != pytest.approx(10.0)  # without the column: the node's fixed pseudo-random offset
    np.testing.assert_allclose(own.offset_s[1] - own.offset_s[0], 45.0)


def test_a_signal_on_one_road_has_one_vehicle_phase() -> None:
    """Lost time 4 s in a 90 s cycle. A junction's signal (three streets at a ``traffic_signals`` node) splits the
    82 s of effective green between its east-west and north-south approaches (41 s each, the second one green and
    one lost time later); a pedestrian signal where a street joins (the same node tagged ``highway=crossing``) and a
    signal where its road bends by 60 degrees (two neighbours) give every approach the whole 82 s from the offset."""
    st = dataclasses.replace(EXACT, cycle_s=90.0, lost_time_per_phase_s=4.0)
    tee = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    tee = dataclasses.replace(tee, nodes=tee.nodes.assign(signal_offset_s=[np.nan, 10.0, np.nan, np.nan]))
    junction = signal_plans(tee, st)
    np.testing.assert_allclose(junction.green_s[:2], [41.0, 41.0])
    np.testing.assert_allclose(junction.offset_s[:2], [10.0, 55.0])
    crossing = dataclasses.replace(tee, nodes=tee.nodes.assign(highway=["", "crossing", "", ""]))
    pedestrian = signal_plans(crossing, st)
    np.testing.assert_allclose(pedestrian.green_s[:2], [82.0, 82.0])
    np.testing.assert_allclose(pedestrian.offset_s[:2], [10.0, 10.0])
    # a road bending at its signal: from the west-south-west (bearing under 45 degrees: east-west) and, the other
    # way, from the north-north-east (north-south); both directions green together for the whole 82 s
    bend = make_network(
        [(0, -100), (300, 0), (400, 300)],
        [(0, 1, 316.0, 1, 50.0, 1800.0), (2, 1, 316.0, 1, 50.0, 1800.0), (1, 0, 316.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    bent = signal_plans(bend, st)
    np.testing.assert_allclose(bent.green_s[:2], [82.0, 82.0])
    assert bent.offset_s[0] == pytest.approx(bent.offset_s[1])


def _cross_with_plan(
    phases: object = "50;10;40;5",
    groups: tuple[object, ...] = ("1", "2;3", "3;0", None),
    offset_s: float = 20.0,
) -> RoadNetwork:
    """A signal (node 1) with approaches from the west (0), north (2) and south (4) and an exit east (3), its plan
    given in the optional columns ``signal_phases_s`` and ``signal_group``."""
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0), (300, -300)],
        [
            (0, 1, 300.0, 1, 50.0, 1800.0),
            (2, 1, 300.0, 1, 50.0, 1800.0),
            (4, 1, 300.0, 1, 50.0, 1800.0),
            (1, 3, 300.0, 1, 50.0, 1800.0),
        ],
        signalised=[1],
    )
    nodes = net.nodes.assign(signal_offset_s=[np.nan, offset_s, np.nan, np.nan, np.nan])
    nodes["signal_phases_s"] = [None, phases, None, None, None]
    links = net.links.assign(signal_group=list(groups))
    return dataclasses.replace(net, nodes=nodes, links=links)


def test_a_given_signal_plan_sets_each_approach_one_window_per_cycle() -> None:
    """Four phases of 50, 10, 40 and 5 s (a 105 s cycle) from the offset 20 s: the west approach green in phase 1
    (from 20 + 50 = 70 s, 10 s), the north one in phases 2 and 3 (from 80 s, 45 s), the south one in phases 3 and
    0, wrapping round the cycle (from 20 + 100 = 120 s, i.e. 15 s into the next cycle, 55 s). No lost time is taken
    off (the phases are effective green, as UXsim has them); the exit east is no signal."""
    sig = signal_plans(_cross_with_plan(), EXACT)
    np.testing.assert_array_equal(sig.cycle_s, [105.0, 105.0, 105.0, 0.0])
    np.testing.assert_allclose(sig.offset_s[:3] % 105.0, [70.0, 80.0, 15.0])
    np.testing.assert_allclose(sig.green_s, [10.0, 45.0, 55.0, 0.0])
    always = signal_plans(_cross_with_plan(groups=("0;1;2;3", "2;3", "0", None)), EXACT)
    assert always.green_s[0] == always.cycle_s[0] == 105.0  # green in every phase: never a red


def test_vehicles_pass_a_given_plan_only_in_their_approachs_phases() -> None:
    """The real simulation at a given plan: the west approach (phase 1 only: green from 70 to 80 s in each 105 s
    cycle) discharges only in that window and fills it at the saturation flow up to its end, no lost time."""
    net = _cross_with_plan()
    depart = np.arange(0.0, 400.0, 6.0)  # one every 6 s: a queue builds in each 95 s red
    rec = run(net, trips_frame([0], [3], depart), settings=EXACT, link_events=True)
    ev = rec.link_events[rec.link_events["link"] == 0]
    exit_s = np.sort(ev["exit_s"].to_numpy())
    phi = (exit_s - 70.0) % 105.0
    assert (phi < 10.0).all(), phi
    headway_s = 3600.0 / EXACT.saturation_flow_vphpl
    assert phi.max() > 10.0 - headway_s - 1e-9  # the window is used to its end: effective green as given
    assert len(np.unique(np.floor((exit_s - 70.0) / 105.0))) >= 3  # served over several cycles
    assert rec.trips["completed"].all()


@pytest.mark.parametrize(
    ("phases", "groups", "message"),
    [
        (
            "50;0;40;5",
            ("1", "2;3", "3;0", None),
            "column 'signal_phases_s': expected phase durations in s > 0",
        ),
        ("50;ten", ("1", "2;3", "3;0", None), "node 1001 (row 1): '50;ten'"),
        ("50;10;40;5", ("0;2", "2;3", "3;0", None), "column 'signal_group': expected the phases 0..3"),
        ("50;10;40;5", ("1", "4", "3;0", None), "link 1 (node 1002 -> 1001): '4'"),
        ("50;10;40;5", ("1", "2;2", "3;0", None), "link 1 (node 1002 -> 1001): '2;2'"),
        ("50;10;40;5", ("1", "2;3", None, None), "link 2 (node 1004 -> 1001): missing"),
        ("50;10;40;5", ("1", "2;3", "3;0", "0"), "expected a group only on a link into a node with a plan"),
        (None, ("1", None, None, None), "link 0 (node 1000 -> 1001): '1'"),
    ],
)
def test_a_given_signal_plan_refuses_bad_input_naming_the_column_and_row(
    phases: object, groups: tuple[object, ...], message: str
) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        signal_plans(_cross_with_plan(phases, groups), EXACT)


def test_a_given_signal_plan_only_at_a_signal() -> None:
    net = _cross_with_plan()
    net = dataclasses.replace(net, nodes=net.nodes.assign(junction_control="priority"))
    with pytest.raises(DataError, match=re.escape("expected a plan only at a signal-controlled node")):
        simulate(net, trips_frame([0], [3], np.zeros(1)), None, rng=np.random.default_rng(0), periods=(HOUR,))


def webster_delay_s(c: float, g: float, q_vps: float, s_vps: float) -> float:
    lam = g / c
    x = q_vps / (lam * s_vps)
    return (
        c * (1 - lam) ** 2 / (2 * (1 - lam * x))
        + x**2 / (2 * q_vps * (1 - x))
        - 0.65 * (c / q_vps**2) ** (1 / 3) * x ** (2 + 5 * lam)
    )


def test_signalised_approach_delay_in_line_with_webster_at_low_saturation() -> None:
    # west approach 0->1 and a north approach 2->1 (the other phase), exit 1->3; node 1 signalised
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    st = dataclasses.replace(EXACT, cycle_s=60.0, lost_time_per_phase_s=4.0, saturation_flow_vphpl=1800.0)
    q_vph, horizon = 400.0, 4 * 3600.0
    rng = np.random.default_rng(3)
    dep = np.sort(rng.uniform(0, horizon, rng.poisson(q_vph * horizon / 3600)))
    per = Period("long", 8.0, horizon, 1.0, 1.0)
    rec = run(net, trips_frame([0], [3], dep, "long"), periods=(per,), settings=st)
    delay = rec.trips["travel_time_s"].to_numpy() - 600.0 / (50.0 / 3.6)
    expected = webster_delay_s(60.0, 26.0, q_vph / 3600, 1800.0 / 3600)  # green (60 - 2 x 4) / 2 = 26 s
    assert expected == pytest.approx(14.13, abs=0.01)  # 12.39 uniform + 2.43 random - 0.68 correction
    assert delay.mean() == pytest.approx(
        expected, rel=0.2
    )  # simulated 12.2 s: discrete discharge from green onset
    # some vehicles pass on green without stopping, the worst wait a full red
    assert delay.min() == pytest.approx(0.0, abs=1e-6)
    assert delay.max() >= 60.0 - 26.0


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


def test_speed_response_moves_mean_speed_by_its_share_of_the_limit_change() -> None:
    base = one_road(limit_kph=60.0)
    links = base.links.copy()
    links["reference_speed_kph"] = 60.0
    links["speed_limit_kph"] = 40.0
    links["speed_response"] = 0.1
    lowered = base.with_tables(links=links)
    trips = trips_frame([0], [1], np.arange(200) * 15.0)
    before = run(base, trips, seed=1).link_stats["mean_speed_kph"].iloc[0]
    after = run(lowered, trips, seed=1).link_stats["mean_speed_kph"].iloc[0]
    # same drivers (common random numbers): the mean moves by 0.1 x (40 - 60) = -2 km/h (x (1 + cv mean z))
    assert after - before == pytest.approx(-2.0, abs=0.05)


def test_camera_mean_speed_factor_is_the_whole_fall_of_the_mean_not_compounded() -> None:
    # Wilson et al. (2010) measure one camera's fall in mean speed and in speeding; both factors must not stack.
    links = one_road(limit_kph=50.0).links.assign(over_limit_factor=0.5, mean_speed_factor=0.9)
    z = np.random.default_rng(0).standard_normal(400_000)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    v = desired_speed_kph(links, np.zeros(len(z), dtype=np.int64), z, st)
    assert v.mean() == pytest.approx(
        0.9 * 60.0, rel=0.002
    )  # -10% in all, as measured (was 0.9 x 55 = -17.5%)
    # by hand: E[(v - 50)+] for v ~ N(60, 6^2) = 6 phi(10/6) + 10 Phi(10/6) = 10.118; halving the excess gives a
    # mean of 54.94, so all speeds are scaled by 54 / 54.94 = 0.9829 for the rest of the measured fall
    np.testing.assert_allclose(
        desired_speed_kph(links, np.zeros(1, dtype=np.int64), np.zeros(1), st), [54.06], atol=0.01
    )


def test_mean_speed_factor_without_a_camera_scales_every_speed_whatever_other_links_have() -> None:
    # a measured fall of the mean without an over-limit factor (1): every speed x the factor, by hand; a driver's
    # speed on such a link is the same to the last bit whether or not another link of the network has a camera
    plain = one_road(limit_kph=50.0).links
    slowed = plain.assign(mean_speed_factor=0.9, over_limit_factor=1.0)
    z = np.array([0.0, 1.0])
    idx = np.zeros(2, dtype=np.int64)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    alone = desired_speed_kph(slowed, idx, z, st)
    np.testing.assert_allclose(alone, [0.9 * 60.0, 0.9 * 66.0])
    cam = plain.assign(over_limit_factor=0.5, mean_speed_factor=0.99)
    mixed = pd.concat([slowed, cam], ignore_index=True)
    both = desired_speed_kph(mixed, np.array([0, 0, 1, 1]), np.concatenate([z, z]), st)
    assert np.array_equal(both[:2], alone)
    np.testing.assert_allclose(both[2:], [55.0, 58.0])  # the camera's own case in the test below


def test_camera_over_limit_factor_is_the_share_still_speeding() -> None:
    # Wilson et al. (2010) measure the fall in the SHARE of drivers speeding (later update -52%): with one
    # compliance draw per driver, a share 1 - over_limit_factor of the drivers above the limit keep to it and the
    # others keep their speed; the mean is the same as the expected-value form (excess scaled by the factor).
    links = one_road(limit_kph=50.0).links.assign(over_limit_factor=0.48, mean_speed_factor=0.93)
    z = np.random.default_rng(0).standard_normal(400_000)
    idx = np.zeros(len(z), dtype=np.int64)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    plain = desired_speed_kph(one_road(limit_kph=50.0).links, idx, z, st)
    drivers = desired_speed_kph(links, idx, z, st, compliance_draw=compliance_draws(z))
    expected = desired_speed_kph(links, idx, z, st)
    assert (drivers > 50.0 + 1e-9).mean() == pytest.approx(0.48 * (plain > 50.0).mean(), rel=0.01)
    assert drivers.mean() == pytest.approx(expected.mean(), rel=0.002)
    assert drivers.mean() <= 0.93 * plain.mean() * 1.002  # at least the measured fall of the mean
    assert np.array_equal(compliance_draws(z[:10]), compliance_draws(z[:10].copy()))  # a fixed function of z


def test_desired_speed_columns_by_hand() -> None:
    links = one_road(limit_kph=50.0).links
    z = np.array([0.0, 1.0])
    idx = np.zeros(2, dtype=np.int64)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    np.testing.assert_allclose(desired_speed_kph(links, idx, z, st), [60.0, 66.0])
    # camera whose measured mean fall (1%) is smaller than what halving the excess already gives: excess halved only
    cam = links.assign(over_limit_factor=0.5, mean_speed_factor=0.99)
    np.testing.assert_allclose(desired_speed_kph(cam, idx, z, st), [55.0, 58.0])
    # calmed: the street's 85th percentile (z = 1.0364) at the design speed, each driver in his place
    calm = links.assign(design_speed_kph=30.0)
    np.testing.assert_allclose(
        desired_speed_kph(calm, idx, z, st), [30.0 / 1.10364, 33.0 / 1.10364], rtol=1e-5
    )
    np.testing.assert_allclose(
        desired_speed_kph(links, idx, np.array([-20.0, 0.0]), st)[0], BASE.min_speed_kph
    )


def test_a_calmed_streets_85th_percentile_is_its_design_speed() -> None:
    """FHWA PEDSAFE's design speed of a table is the 85th percentile measured over it (DESIGN_SPEED_QUANTILE)."""
    links = one_road(limit_kph=60.0).links.assign(design_speed_kph=30.0)
    z = np.random.default_rng(0).standard_normal(200_000)
    v = desired_speed_kph(links, np.zeros(z.size, dtype=np.int64), z, BASE)
    assert float(np.quantile(v, DESIGN_SPEED_QUANTILE)) == pytest.approx(30.0, rel=2e-3)
    assert v.mean() == pytest.approx(30.0 / (1.0 + BASE.cv * 1.0364), rel=2e-3)
    # a street already slower than its design speed keeps its speeds
    slow = one_road(limit_kph=20.0).links.assign(design_speed_kph=60.0)
    plain = one_road(limit_kph=20.0).links
    idx = np.zeros(z.size, dtype=np.int64)
    np.testing.assert_allclose(desired_speed_kph(slow, idx, z, BASE), desired_speed_kph(plain, idx, z, BASE))


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


def test_kimber_coombe_capacities_reproduce_a_worked_example() -> None:
    """Kimber & Coombe (1980)'s equations by hand: the worked example of the A41 / Warwick-Banbury junction.

    The example (course notes, scribd "Junction Capacity") takes W = 7.0 m (Y = 0.7585), no central reserve and
    no visibility terms (here: their slopes 0). Its first B-C figure uses E = 1.1269 for w = 3.3 m, which is not
    1 + 0.094 (3.3 - 3.65) = 0.967: that one is left out; every other figure follows from the equations.
    """
    from vision_zero.traffic._model import MAJOR_LEFT, MINOR_LEFT, MINOR_RIGHT, kimber_coombe_capacity_vph

    assert BASE.kimber_coombe is not None
    k = dataclasses.replace(
        BASE.kimber_coombe, visibility_right_slope_per_m=0.0, visibility_left_slope_per_m=0.0
    )

    def cap(kind: int, lane_width_m: float, **flows: float) -> float:
        return kimber_coombe_capacity_vph(kind, flows, 7.0, dataclasses.replace(k, lane_width_m=lane_width_m))

    assert k.y(7.0) == pytest.approx(0.7585)
    # Warwick -> Banbury: q_ac 811, q_ab 14, q_ca 837, q_cb 341 (K&C's UK streams: B-A crosses, C-B turns across)
    near = {"near_through": 811.0, "near_turn": 14.0}
    assert cap(MINOR_LEFT, 3.0, **near, far_through=837.0, far_turn=341.0) == pytest.approx(114.2, abs=0.05)
    assert cap(MAJOR_LEFT, 3.65, opposing_through=811.0, opposing_turn=14.0) == pytest.approx(517.2, abs=0.05)
    # Banbury -> Warwick: q_ac 837, q_ab 43, q_ca 811, q_cb 413
    near = {"near_through": 837.0, "near_turn": 43.0}
    assert cap(MINOR_RIGHT, 2.65, **near) == pytest.approx(461.3, abs=0.05)
    assert cap(MINOR_LEFT, 1.95, **near, far_through=811.0, far_turn=413.0) == pytest.approx(73.5, abs=0.05)
    assert cap(MAJOR_LEFT, 3.65, opposing_through=837.0, opposing_turn=43.0) == pytest.approx(502.0, abs=0.05)
    # linear in the major flows, a central reserve adds 14 pcu/h per m to the crossing movement, and the
    # crossing movement at 1,500 veh/h through each way on a 14 m carriageway keeps about 170 pcu/h (the
    # traffic.give_way.gap_acceptance note): 627 - (1 - 0.0345 x 14)(0.364 + 0.229) 1,500 = 167.1 with D = 1
    one = dataclasses.replace(k, lane_width_m=3.65)
    crossing = kimber_coombe_capacity_vph(
        MINOR_LEFT, {"near_through": 1500.0, "far_through": 1500.0}, 14.0, one
    )
    assert crossing == pytest.approx(167.1, abs=0.05)
    with_reserve = kimber_coombe_capacity_vph(
        MINOR_LEFT, {"near_through": 1500.0, "far_through": 1500.0}, 14.0, one, central_reserve_m=2.0
    )
    assert with_reserve == pytest.approx(crossing + 28.0)
    # never negative at flows beyond the linear range
    assert kimber_coombe_capacity_vph(MINOR_LEFT, {"near_through": 5000.0}, 7.0, one) == 0.0


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


def test_settings_from_a_parameter_draw() -> None:
    from vision_zero.core.parameters import load_parameters

    params = load_parameters()
    draw = params.draw(np.random.default_rng(0))
    st = TrafficSettings.from_values(draw)
    assert st.cv == draw["traffic.desired_speed.cv"] and 0.13 <= st.cv <= 0.15
    assert TrafficSettings.from_parameters(params) == TrafficSettings.from_values(params.central())


def test_hcm_urban_street_free_flow_speed_by_hand() -> None:
    # HCM 6th ed. eqs. 18-3..18-5 (traffic.desired_speed.hcm.*), limit 40 km/h = 24.855 mi/h, one lane, 300 m:
    # S_0 = 25.6 + 0.47 x 24.855 = 37.282; f_CS = -0.47; D_a = 73 points/mi (Exhibit 18-7 at 25 mi/h, clamped),
    # f_A = -0.078 x 73 = -5.694; S_fo = 31.118 mi/h; f_L = 1.02 - 4.7 x 11.618 / 984.25 ft = 0.96452;
    # S_f = 30.014 mi/h = 48.30 km/h (above the limit, so eq. 18-5's floor does not bind)
    hcm = BASE.hcm
    assert hcm is not None
    got = hcm_urban_street_free_flow_speed_kph(np.array([40.0]), np.array([1.0]), np.array([300.0]), hcm)
    np.testing.assert_allclose(got, [48.30], atol=0.01)
    # on a 150 m block at 60 km/h S_fo f_L = 50.4 km/h: floored at the limit (S_f >= S_pl)
    short = hcm_urban_street_free_flow_speed_kph(np.array([60.0]), np.array([1.0]), np.array([150.0]), hcm)
    np.testing.assert_allclose(short, [60.0])
    # longer segments and more lanes: faster, never slower
    long = hcm_urban_street_free_flow_speed_kph(
        np.full(3, 50.0), np.array([1.0, 1.0, 2.0]), np.array([150.0, 600.0, 600.0]), hcm
    )
    assert long[0] <= long[1] < long[2]


def _cross(highway_ns: str, highway_ew: str) -> RoadNetwork:
    """A 3 x 3 grid of 150 m two-way links: the middle column is ``highway_ns``, every other link ``highway_ew``."""
    xy = [(i * 150.0, j * 150.0) for j in range(3) for i in range(3)]
    links: list[tuple[int, int, float, int, float, float]] = []
    kinds: list[str] = []
    for j in range(3):
        for i in range(3):
            a = j * 3 + i
            for b, vertical in ([(a + 1, False)] if i < 2 else []) + ([(a + 3, True)] if j < 2 else []):
                kind = highway_ns if vertical and i == 1 else highway_ew
                links += [(a, b, 150.0, 1, 60.0, 600.0), (b, a, 150.0, 1, 60.0, 600.0)]
                kinds += [kind, kind]
    return make_network(xy, links, highway=kinds)


def test_segment_length_cut_where_the_through_movement_may_have_to_yield() -> None:
    # residential crossing residential: priority to the right, every junction bounds a segment (the 150 m links at
    # the centre node run between junctions of 3 and 4 legs; a bend at a corner does not cut one)
    flat = _cross("residential", "residential")
    at_centre = ((flat.links["u"] == 4) | (flat.links["v"] == 4)).to_numpy()
    seg = segment_length_m(flat.links)
    np.testing.assert_allclose(seg[at_centre], 150.0)
    np.testing.assert_allclose(seg[~at_centre], 300.0)  # round a corner to the next junction
    # a collector through local streets keeps its priority: its segment is the whole 300 m column
    col = _cross("tertiary", "residential")
    seg = segment_length_m(col.links)
    tertiary = (col.links["highway"] == "tertiary").to_numpy()
    np.testing.assert_allclose(seg[tertiary], 300.0)
    np.testing.assert_allclose(seg[at_centre & ~tertiary], 150.0)


def test_local_streets_take_the_hcm_free_flow_speed_and_arterials_the_offset() -> None:
    # SCIENCE.md §8 / traffic.toml: limit + 9.5 km/h on arterials; a 60 km/h residential street on 150 m blocks is
    # driven at the limit on average (HCM eq. 18-5's floor), not 69.5 km/h
    net = _cross("primary", "residential")
    links = net.links
    ff = free_flow_speed_kph(links, BASE.offset_kph, BASE.hcm)
    primary = (links["highway"] == "primary").to_numpy()
    np.testing.assert_allclose(ff[primary], 60.0 + BASE.offset_kph)
    np.testing.assert_allclose(ff[~primary], 60.0)
    idx = np.arange(len(links))
    v = desired_speed_kph(links, idx, np.zeros(len(links)), BASE)
    np.testing.assert_allclose(v, ff)
    # a later limit change acts through the speed response around the same free flow, not through HCM's slope
    calmed = links.assign(reference_speed_kph=60.0, speed_limit_kph=30.0, speed_response=0.4)
    np.testing.assert_allclose(
        desired_speed_kph(calmed, idx, np.zeros(len(links)), BASE)[~primary], 60.0 - 12.0
    )
    # without HCM coefficients every class takes the offset
    plain = dataclasses.replace(BASE, hcm=None)
    np.testing.assert_allclose(desired_speed_kph(links, idx, np.zeros(len(links)), plain), 69.5)
