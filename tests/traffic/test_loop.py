"""Tests of :mod:`vision_zero.traffic._loop`: link and node flow capacities, storage, the backward wave."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from simulation_fixtures import EXACT, run, trips_frame
from traffic_fixtures import make_network

from vision_zero.core.errors import DataError
from vision_zero.traffic._loop import Records, flow_capacity_vph


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


def test_records_reuse_the_results_memory_only_when_nothing_refers_to_it() -> None:
    # a simulation's results are written into the last ones' memory once they are dropped, never while they (or
    # an array sharing their memory) are still read
    records = Records()
    ent, ee, ex, held = records.results(100)
    kept = ex[10:20]  # a slice shares the memory
    del ent, ee, ex, held
    again = records.results(100)
    assert not np.shares_memory(again[2], kept)
    del kept
    address = [a.ctypes.data for a in again]  # the memory's addresses, not a reference to it
    del again
    third = records.results(99)
    assert [len(a) for a in third] == [99] * 4
    assert [a.ctypes.data for a in third] == address  # nothing referred to it: the same memory
    del third
    grown = records.results(1000)
    assert [len(a) for a in grown] == [1000] * 4
