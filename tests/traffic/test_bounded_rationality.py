"""Held routes and the indifference band (:mod:`vision_zero.traffic._bounded_rationality`)."""

from __future__ import annotations

import numpy as np
import pytest
from route_choice_fixtures import (
    EXACT,
    HOUR,
    bottleneck_or_detour,
    grid_trips,
)
from traffic_fixtures import grid

from vision_zero.traffic.routing import (
    HeldRoutes,
    RouteChoiceSettings,
    RouteCosts,
    Router,
    Routes,
    band_limit_s,
    band_switchers,
    route_cost_s,
)
from vision_zero.traffic.simulation import (
    simulate_vehicles,
)


def test_band_switchers_leave_only_beyond_the_indifference_band_by_hand() -> None:
    route = np.array([100.0, 600.0, 600.0, 1000.0, 300.0])
    best = np.array([50.0, 500.0, 450.0, 850.0, np.inf])
    # bands max(0.2 x route, 60 s) = 60, 120, 120, 200; savings 50, 100, 150, 150 (none where unreachable)
    assert band_switchers(route, best, relative=0.2, minimum_s=60.0).tolist() == [2]
    # a driver who already tolerated a larger saving on his route keeps it
    tolerated = np.array([0.0, 0.0, 200.0, 0.0, 0.0])
    assert band_switchers(route, best, relative=0.2, minimum_s=60.0, tolerated_s=tolerated).size == 0
    # no band: every driver with a real saving switches (the deterministic all-or-nothing response)
    assert band_switchers(route, best, relative=0.0, minimum_s=0.0).tolist() == [0, 1, 2, 3]


def test_held_routes_round_trip_and_only_drivable_routes_are_taken() -> None:
    net = bottleneck_or_detour()  # links 0: 0->2, 1: 2->1, 2: 0->3, 3: 3->1
    routes = Routes(ptr=np.array([0, 2, 4, 6]), links=np.array([0, 1, 2, 3, 0, 3]))
    router = Router(net)
    # link costs in two slices; the movements' extra costs: entering link 3 from link 2 costs 4 s more
    link_s = np.array([[10.0, 10.0, 9.0, 12.0], [30.0, 30.0, 9.0, 12.0]])
    extra = np.zeros(router.n_edges)
    extra[router.edge_ids(Routes(ptr=np.array([0, 2]), links=np.array([2, 3])))[1]] = 4.0
    costs = RouteCosts(link_s=link_s, edge_extra_s=extra)
    held = HeldRoutes(key=np.array([3, 5, 9]), routes=routes, row=np.array([1, 0, 0]), costs=costs)
    back = HeldRoutes.from_frame(held.to_frame(), RouteCosts.from_frame(costs.to_frame()))
    assert back.key.tolist() == [3, 5, 9] and back.row is not None and back.row.tolist() == [1, 0, 0]
    assert back.routes.links.tolist() == held.routes.links.tolist()
    assert back.costs is not None and np.array_equal(back.costs.link_s, link_s)
    assert np.array_equal(back.costs.edge_extra_s, extra)
    # forgone savings on demand: driver 3 (slice 1) drove A at 60 s, B costs 9 + 12 + 4 = 25 s; driver 5 (slice 0)
    # is on B at 25 s against A's 20 s; tie-break terms (below a millisecond) aside
    assert back.forgone(router, np.array([0, 1])) == pytest.approx([35.0, 5.0], abs=1e-3)
    assert back.forgone(router, np.array([1])) == pytest.approx([5.0], abs=1e-3)
    # results of older versions keep each route's forgone saving instead of the costs
    old = HeldRoutes(key=held.key, routes=routes, forgone_s=np.array([1.0, 2.0, 3.0]))
    old_back = HeldRoutes.from_frame(old.to_frame())
    assert old_back.forgone(router, np.array([2, 0])).tolist() == [3.0, 1.0]
    u, v = net.links["u"].to_numpy(), net.links["v"].to_numpy()
    # drivers 5 and 3 have routes; 9's is not a chain (0->2 then 3->1); 7 has none; 3 now goes from 0 to node 2
    found, taken, pos = held.take(
        np.array([5, 3, 9, 7, 3]), np.zeros(5, np.int64), np.array([1, 1, 1, 1, 2]), u, v
    )
    assert found.tolist() == [True, True, False, False, False]
    assert [taken.route(i).tolist() for i in range(5)] == [[2, 3], [0, 1], [], [], []]
    assert pos.tolist() == [1, 0, -1, -1, -1]


def test_forgone_savings_on_demand_equal_the_exact_search_over_every_driver() -> None:
    # a congested grid after two simulations: each driver's forgone saving computed for a few drivers from the
    # kept costs is, bit for bit, what one search over every origin and slice gives (what the baseline used to
    # compute for every driver after its last simulation)
    net = grid(5, signalised=True)
    trips = grid_trips(6000, 7)
    rc = RouteChoiceSettings(max_iterations=1, relative_gap_target=0.0, slice_s=900.0, gap_sample_origins=8)
    traffic = simulate_vehicles(
        net, trips, rng=np.random.default_rng(3), periods=(HOUR,), settings=EXACT, route_settings=rc
    )
    router = Router(net)
    last = traffic.last_costs
    edges = router.edge_ids(traffic.routes)
    current = route_cost_s(traffic.routes, last.link_s, traffic.cost_row, last.edge_extra_s, edges)
    veh = traffic.veh
    best = router.best_by_row(
        veh.origin, veh.destination, traffic.cost_row, last.link_s, last.edge_extra_s, paths=False
    )[0]
    exact = np.where(np.isfinite(best), np.maximum(current - best, 0.0), 0.0)
    held = traffic.held_routes()
    order = np.argsort(veh.key, kind="stable")
    assert (exact > 1.0).sum() > 50  # drivers forwent real savings (the gap after one iteration is not 0)
    every = held.forgone(router, np.arange(len(held.key)))
    assert np.array_equal(every, exact[order])
    few = np.array([7, 3, len(held.key) - 1, 3])
    assert np.array_equal(held.forgone(router, few), exact[order][few])


def test_band_limit_leaves_band_switchers_unchanged_whatever_the_cost_beyond_it() -> None:
    route = np.array([100.0, 600.0, 600.0, 1000.0, 0.0])
    tolerated = np.array([0.0, 0.0, 200.0, 0.0, 0.0])
    band = dict(relative=0.2, minimum_s=60.0)
    limit = band_limit_s(route, **band, tolerated_s=tolerated)
    # bands max(0.2 x route, 60 s, tolerated) = 60, 120, 200, 200, 60: a best route below route - band switches
    # (the last driver has no route: no real best route lies below -60 s)
    assert limit == pytest.approx([40.0, 480.0, 400.0, 800.0, -60.0], abs=1e-5)
    assert (limit > route - np.array([60.0, 120.0, 200.0, 200.0, 60.0])).all()
    beyond = np.nextafter(limit, np.inf)
    assert band_switchers(route, beyond, **band, tolerated_s=tolerated).size == 0
    assert band_switchers(route, limit - 1e-3, **band, tolerated_s=tolerated).tolist() == [0, 1, 2, 3, 4]
