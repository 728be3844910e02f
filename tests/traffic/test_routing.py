from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from traffic_fixtures import grid, make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic import routing
from vision_zero.traffic import simulation as simulation_module
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import (
    SAME_COST_S,
    HeldRoutes,
    Movements,
    RouteChoiceSettings,
    RouteCosts,
    Router,
    Routes,
    band_limit_s,
    band_switchers,
    gap_plateau,
    gap_switchers,
    movement_turns,
    msa_step,
    perceived_costs,
    relative_gap,
    route_cost_s,
    route_trips,
    sample_origins,
    sampled_relative_gap,
)
from vision_zero.traffic.simulation import (
    TrafficRecord,
    TrafficSettings,
    VehicleTraffic,
    simulate,
    simulate_vehicles,
    traffic_summary,
)


def contiguous(net, routes: Routes, o: np.ndarray, d: np.ndarray) -> bool:  # type: ignore[no-untyped-def]
    u, v = net.links["u"].to_numpy(), net.links["v"].to_numpy()
    for i in range(len(routes)):
        r = routes.route(i)
        if len(r) == 0:
            continue
        if u[r[0]] != o[i] or v[r[-1]] != d[i] or not np.array_equal(v[r[:-1]], u[r[1:]]):
            return False
    return True


def test_grid_routes_are_shortest_and_contiguous() -> None:
    net = grid(5)
    rng = np.random.default_rng(0)
    o = rng.integers(0, 25, 300)
    d = rng.integers(0, 25, 300)
    cost = net.links["length_m"].to_numpy()
    routes = route_trips(net, o, d, cost)
    assert contiguous(net, routes, o, d)
    manhattan = np.abs(o % 5 - d % 5) + np.abs(o // 5 - d // 5)
    np.testing.assert_array_equal(routes.n_links, manhattan)  # 200 m blocks: shortest = Manhattan distance
    assert (routes.n_links[o == d] == 0).all()


def test_cheapest_of_parallel_links_and_unreachable_destination() -> None:
    # two parallel links 0->1 (ids 0 and 1) and a node 2 that nothing reaches
    net = make_network(
        [(0, 0), (100, 0), (500, 500)],
        [(0, 1, 100.0, 1, 50.0, 600.0), (0, 1, 100.0, 1, 50.0, 600.0), (2, 0, 100.0, 1, 50.0, 600.0)],
    )
    r = route_trips(net, np.array([0, 0, 0]), np.array([1, 1, 2]), np.array([10.0, 5.0, 1.0]))
    assert r.route(0).tolist() == [1] and r.route(1).tolist() == [1]
    assert r.n_links[2] == 0
    r2 = route_trips(net, np.array([0]), np.array([1]), np.array([3.0, 5.0, 1.0]))
    assert r2.route(0).tolist() == [0]


def test_lower_cost_on_one_street_changes_the_path() -> None:
    # 0 -> 1 directly (link 0) or via 2 (links 1, 2)
    net = make_network(
        [(0, 0), (1000, 0), (500, 10)],
        [(0, 1, 1000.0, 1, 50.0, 600.0), (0, 2, 500.0, 1, 50.0, 600.0), (2, 1, 500.0, 1, 50.0, 600.0)],
    )
    router = Router(net)
    assert router.route(np.array([0]), np.array([1]), np.array([50.0, 30.0, 30.0])).route(0).tolist() == [0]
    assert router.route(np.array([0]), np.array([1]), np.array([70.0, 30.0, 30.0])).route(0).tolist() == [
        1,
        2,
    ]


def test_targeted_trees_match_single_searches_and_full_trees() -> None:
    # each tree stops once its trips' destinations are settled: a trip routed alone (its own, shortest tree)
    # and routed among many (a tree grown further) get the same route, and the costs equal scipy's full trees
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    net = grid(6)
    rng = np.random.default_rng(4)
    o, d = rng.integers(0, 36, 200), rng.integers(0, 36, 200)
    cost = rng.uniform(10, 20, len(net.links))
    router = Router(net)
    best, whole = router.shortest(o, d, cost)
    assert contiguous(net, whole, o, d)
    for i in range(0, 200, 7):
        b1, one = router.shortest(o[i : i + 1], d[i : i + 1], cost)
        assert b1[0] == best[i]
        np.testing.assert_array_equal(one.route(0), whole.route(i))
    n_vert = router.n_links + len(net.nodes)
    graph = csr_matrix((router._weights(cost, None), router._cols, router._indptr), shape=(n_vert, n_vert))
    dist = dijkstra(graph, indices=router.n_links + o)
    v = net.links["v"].to_numpy()
    full = np.array([dist[i, : router.n_links][v == d[i]].min() if o[i] != d[i] else 0.0 for i in range(200)])
    np.testing.assert_array_equal(best, full)
    np.testing.assert_array_equal(router.shortest(o, d, cost, paths=False)[0], best)


def test_replace_swaps_selected_routes() -> None:
    a = Routes(ptr=np.array([0, 2, 3, 3]), links=np.array([5, 6, 7]))
    b = Routes(ptr=np.array([0, 1, 1, 4]), links=np.array([1, 2, 3, 4]))
    c = a.replace(np.array([0, 2]), b)
    assert [c.route(i).tolist() for i in range(3)] == [[1], [7], [2, 3, 4]]


def test_msa_step_is_one_over_k_plus_one() -> None:
    assert msa_step(1) == 0.5 and msa_step(3) == 0.25  # Sheffi 1985 ch. 12
    assert msa_step(3, exponent=0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="1-based"):
        msa_step(0)


def test_mswa_step_weighs_the_loadings_j_to_the_d_by_hand() -> None:
    # Liu, He and He 2009: n = k + 1 loadings weigh 1^d .. n^d; the step is the newest one's share
    assert msa_step(1, weight_exponent=1.0) == pytest.approx(2 / 3)  # weights 1, 2
    assert msa_step(2, weight_exponent=1.0) == pytest.approx(3 / 6)  # 1, 2, 3
    assert msa_step(1, weight_exponent=2.0) == pytest.approx(4 / 5)  # 1, 4
    assert msa_step(2, weight_exponent=2.0) == pytest.approx(9 / 14)  # 1, 4, 9
    assert [msa_step(k, weight_exponent=0.0) for k in (1, 2, 3)] == [msa_step(k) for k in (1, 2, 3)]  # MSA
    # later loadings weigh more, so every step is at least MSA's, and the steps still go to 0 like (d + 1) / k
    assert all(msa_step(k, weight_exponent=2.0) > msa_step(k) for k in range(1, 50))
    assert msa_step(999, weight_exponent=2.0) == pytest.approx(3 / 1000, rel=0.01)
    with pytest.raises(ValueError, match="weight_exponent"):
        msa_step(1, exponent=0.5, weight_exponent=1.0)
    with pytest.raises(ValueError, match="weight_exponent"):
        msa_step(1, weight_exponent=-1.0)


def test_the_equilibrium_swaps_at_the_mswa_step_when_asked() -> None:
    # same first simulation and the same uniforms: a larger step moves a superset of the trips MSA moves
    def first_swaps(d: float) -> float:
        rc = RouteChoiceSettings(
            max_iterations=1, relative_gap_target=0.0, slice_s=900.0, step_weight_exponent=d
        )
        log = simulate_vehicles(
            bottleneck_or_detour(),
            one_to_one(1200, 3.0),
            rng=np.random.default_rng(0),
            periods=(HOUR,),
            settings=EXACT,
            route_settings=rc,
        ).route_choice
        return float(log["switched"].iloc[0])

    msa, mswa = first_swaps(0.0), first_swaps(2.0)
    assert 0 < msa < mswa  # step 1/2 against 4/5, times each trip's relative gap
    assert mswa / msa == pytest.approx(0.8 / 0.5, rel=0.15)
    assert RouteChoiceSettings.from_parameters().step_weight_exponent == 0.0  # shipped: MSA


def test_gap_switchers_move_in_proportion_to_the_relative_gap_and_are_deterministic() -> None:
    n = 40_000
    route = np.full(n, 100.0)
    best = np.repeat([100.0, 90.0, 60.0], [n // 4, n // 4, n // 2])  # relative gaps 0, 0.1, 0.4
    chosen = gap_switchers(route, best, step=0.5, rng=np.random.default_rng(3))
    moved = np.bincount(np.searchsorted([n // 4, n // 2], chosen, side="right"), minlength=3)
    assert moved[0] == 0  # on a best route already: stays
    assert moved[1] / (n // 4) == pytest.approx(0.5 * 0.1, abs=0.01)
    assert moved[2] / (n // 2) == pytest.approx(0.5 * 0.4, abs=0.01)
    np.testing.assert_array_equal(chosen, gap_switchers(route, best, step=0.5, rng=np.random.default_rng(3)))
    assert len(gap_switchers(route, route - SAME_COST_S / 2, step=1.0, rng=np.random.default_rng(0))) == 0


def test_relative_gap_by_hand() -> None:
    # three trips: on best (100 vs 100), 20 s worse (120 vs 100), a weight-2 trip 10 s worse (50 vs 40);
    # an unreachable trip (best inf) and an unrouted one (cost 0) are left out
    route = np.array([100.0, 120.0, 50.0, 30.0, 0.0])
    best = np.array([100.0, 100.0, 40.0, np.inf, 0.0])
    w = np.array([1.0, 1.0, 2.0, 1.0, 1.0])
    assert relative_gap(route, best, w) == pytest.approx((20.0 + 2 * 10.0) / (100 + 120 + 2 * 50))
    assert relative_gap(route[:1], best[:1], w[:1]) == 0.0


def test_route_cost_uses_each_trips_slice_and_the_movement_extras() -> None:
    net = grid(3)
    router = Router(net)
    r = router.route(np.array([0, 0]), np.array([2, 2]), net.links["length_m"].to_numpy())
    costs = np.stack([np.full(len(net.links), 10.0), np.full(len(net.links), 20.0)])
    np.testing.assert_allclose(route_cost_s(r, costs, np.array([0, 1])), [20.0, 40.0])
    extra = np.zeros(router.n_edges)
    edges = router.edge_ids(r)
    extra[edges[1]] = 5.0  # the movement from the first link into the second
    np.testing.assert_allclose(route_cost_s(r, costs, np.array([0, 1]), extra, edges), [25.0, 45.0])
    assert (edges[[0, 2]] >= router.n_movements).all()  # first links enter by their start edge


def test_edge_ids_are_the_turn_graph_edges_between_consecutive_links(tiny_network: RoadNetwork) -> None:
    # every position but a route's first is entered by the graph edge from the link before it into it; a first
    # position (also after an empty route) by its start edge
    router = Router(tiny_network)
    rng = np.random.default_rng(3)
    n_nodes = len(tiny_network.nodes)
    o, d = rng.integers(0, n_nodes, 300), rng.integers(0, n_nodes, 300)
    d[:5] = o[:5]  # empty routes between others
    routes = router.route(
        o, d, tiny_network.links["length_m"].to_numpy() * rng.uniform(0.5, 2.0, len(tiny_network.links))
    )
    edges = router.edge_ids(routes)
    csr_of = np.empty(router.n_edges, dtype=np.int64)
    csr_of[router._edge_order] = np.arange(router.n_edges)
    row = np.repeat(np.arange(len(router._indptr) - 1), np.diff(router._indptr))
    first = np.zeros(len(routes.links), dtype=bool)
    first[routes.ptr[:-1][routes.n_links > 0]] = True
    links = routes.links.astype(np.int64)
    np.testing.assert_array_equal(edges[first], router.n_movements + links[first])
    later = np.flatnonzero(~first)
    assert later.size > 100 and (edges[later] < router.n_movements).all()
    np.testing.assert_array_equal(row[csr_of[edges[later]]], links[later - 1])
    np.testing.assert_array_equal(router._cols[csr_of[edges[later]]], links[later])


def test_movements_are_numbered_by_link_and_looked_up_by_their_links(tiny_network: RoadNetwork) -> None:
    u = tiny_network.links["u"].to_numpy(dtype=np.int64)
    v = tiny_network.links["v"].to_numpy(dtype=np.int64)
    moves = Movements.of(u, v, len(tiny_network.nodes))
    np.testing.assert_array_equal(u[moves.b], v[moves.a])  # each leaves its predecessor's end node
    np.testing.assert_array_equal(moves.ids(moves.a, moves.b), np.arange(len(moves.a)))
    n_out = np.bincount(u, minlength=len(tiny_network.nodes))[v]
    assert len(moves.a) == n_out.sum() and (np.diff(moves.a) >= 0).all()  # every movement once, by link
    # the record's turn per passage: the movement's own, from the table
    rng = np.random.default_rng(5)
    pick = rng.integers(0, len(moves.a), 500)
    turns = movement_turns(tiny_network.nodes, u, v, moves.a, moves.b)
    direct = movement_turns(tiny_network.nodes, u, v, moves.a[pick], moves.b[pick])
    np.testing.assert_array_equal(turns[moves.ids(moves.a[pick], moves.b[pick])], direct)


def test_equal_cost_routes_are_broken_toward_fewer_turns() -> None:
    # corner to corner on a 6 x 6 grid of equal links: 252 shortest routes; the one with one turn is taken
    net = grid(6)
    router = Router(net)
    cost = net.links["length_m"].to_numpy()
    o, d = np.array([0, 35, 5, 30]), np.array([35, 0, 30, 5])
    routes = router.route(o, d, cost)
    np.testing.assert_array_equal(routes.n_links, 10)
    np.testing.assert_array_equal(router.turns(routes), 1)
    again = Router(net).route(o, d, cost)  # deterministic
    np.testing.assert_array_equal(routes.links, again.links)
    assert router.turns(router.route(np.array([0]), np.array([5]), cost)).tolist() == [0]


def test_equal_cost_routes_are_broken_toward_the_higher_road_class() -> None:
    # 0 -> 1 via node 2 (residential) or via node 3 (primary), same length and cost, no turns either way
    xy = [(0, 0), (1000, 0), (500, 10), (500, -10)]
    specs = [(0, 2, 500.0, 1, 50.0, 600.0), (2, 1, 500.0, 1, 50.0, 600.0)]
    specs += [(0, 3, 500.0, 1, 50.0, 600.0), (3, 1, 500.0, 1, 50.0, 600.0)]
    for hw, expect in (
        (["residential"] * 2 + ["primary"] * 2, [2, 3]),
        (["primary"] * 2 + ["residential"] * 2, [0, 1]),
    ):
        net = make_network(xy, specs, highway=hw)
        assert route_trips(net, np.array([0]), np.array([1]), np.full(4, 36.0)).route(0).tolist() == expect


def test_shortest_reports_costs_and_unreachable_and_same_node_trips() -> None:
    net = make_network(
        [(0, 0), (100, 0), (500, 500)],
        [(0, 1, 100.0, 1, 50.0, 600.0), (1, 0, 100.0, 1, 50.0, 600.0), (2, 0, 100.0, 1, 50.0, 600.0)],
    )
    best, routes = Router(net).shortest(np.array([0, 0, 1]), np.array([1, 2, 1]), np.array([7.0, 9.0, 1.0]))
    assert best[0] == pytest.approx(7.0, abs=SAME_COST_S) and np.isinf(best[1]) and best[2] == 0.0
    assert routes.n_links.tolist() == [1, 0, 0]


def test_perceived_costs_mean_one_lognormal_errors_and_fixed_consumption() -> None:
    cost = np.array([10.0, 100.0])
    p = perceived_costs(cost, rng=np.random.default_rng(1), cv=0.3, draws=40_000)
    assert p.shape == (40_000, 2)
    np.testing.assert_allclose(p.mean(axis=0), cost, rtol=0.01)  # unbiased
    np.testing.assert_allclose(p.std(axis=0) / cost, 0.3, rtol=0.03)  # the given coefficient of variation
    assert (p > 0).all()
    exact = perceived_costs(cost, rng=np.random.default_rng(1), cv=0.0, draws=3)
    np.testing.assert_array_equal(exact, np.tile(cost, (3, 1)))
    # the same draws are consumed whatever cv is, so scenarios keep common random numbers
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    perceived_costs(cost, rng=r1, cv=0.0, draws=4)
    perceived_costs(cost, rng=r2, cv=0.3, draws=4)
    assert r1.random() == r2.random()


# --- the equilibrium loop (vision_zero.traffic.simulation.simulate) ---------------------------------------------

HOUR = Period("h", 8.0, 3600.0, 0.09, 340.0)
#: every driver drives exactly the limit, so free-flow times are hand-computable
EXACT = dataclasses.replace(TrafficSettings.from_parameters(), offset_kph=0.0, cv=0.0)


def bottleneck_or_detour() -> RoadNetwork:
    # 0 -> 1 via node 2: route A, 2 x 500 m, capacity 600 veh/h; via node 3: route B, 2 x 800 m, 1,800 veh/h
    return make_network(
        [(0, 0), (1000, 0), (500, 100), (500, -600)],
        [
            (0, 2, 500.0, 1, 50.0, 600.0),
            (2, 1, 500.0, 1, 50.0, 600.0),
            (0, 3, 800.0, 1, 50.0, 1800.0),
            (3, 1, 800.0, 1, 50.0, 1800.0),
        ],
    )


def equilibrium(net: RoadNetwork, trips: pd.DataFrame, iterations: int, seed: int = 0) -> TrafficRecord:
    rc = RouteChoiceSettings(max_iterations=iterations, relative_gap_target=0.0, slice_s=900.0)
    return simulate(
        net,
        trips,
        None,
        rng=np.random.default_rng(seed),
        periods=(HOUR,),
        settings=EXACT,
        route_settings=rc,
    )


def one_to_one(n: int, headway_s: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": "h",
            "origin": 0,
            "destination": 1,
            "depart_s": np.arange(n) * headway_s,
        }
    )


def test_bottleneck_equilibrium_route_a_carries_its_capacity_and_the_rest_detours() -> None:
    # 1,200 trips in the hour, evenly spaced. Free flow at 50 km/h: A 72 s, B 115.2 s. On paper (bottleneck
    # theory, Vickrey 1969): A is cheaper until its queue delay reaches 43.2 s, so at equilibrium A passes its
    # capacity, 600 veh/h, plus the few vehicles (43.2 s / 6 s = 7) standing in its queue; the other ~600 take B,
    # and both routes take about the same time.
    rec = equilibrium(bottleneck_or_detour(), one_to_one(1200, 3.0), iterations=8)
    entries = rec.link_stats.set_index("link")["entries"].reindex(range(4), fill_value=0)
    assert entries[0] == entries[1] and entries[2] == entries[3]
    assert 560 <= entries[0] <= 640  # 600 + 7 on paper; random swapping leaves gaps in A's queue
    gaps = rec.route_choice["relative_gap"].to_numpy()
    assert gaps[0] > 0.5  # all on A at first: a queue of an hour
    assert gaps[-1] < 0.1 < gaps[0]
    assert rec.route_choice["mean_trip_s"].iloc[-1] < 0.1 * rec.route_choice["mean_trip_s"].iloc[0]
    via_a = rec.trips["veh_km"] < 1.3  # A is 1.0 km long, B 1.6 km
    by_route = rec.trips.groupby(via_a)["travel_time_s"].mean()
    assert by_route[True] == pytest.approx(by_route[False], rel=0.15)  # Wardrop: used routes cost the same


def test_relative_gap_falls_across_iterations_and_the_loop_stops_at_the_target() -> None:
    trips = one_to_one(1200, 3.0)
    rec = equilibrium(bottleneck_or_detour(), trips, iterations=3)
    gaps = rec.route_choice["relative_gap"].to_numpy()
    assert len(gaps) == 4 and (np.diff(gaps) < 0).all()
    assert rec.route_choice["switched"].iloc[-1] == 0  # the recorded simulation is the last one
    # why it stopped, on the last row: 3 re-routing iterations with the gap still falling, above a target of 0
    assert rec.route_choice["stop_reason"].tolist() == ["", "", "", "cap"]
    rc = RouteChoiceSettings(max_iterations=8, relative_gap_target=0.5, slice_s=900.0)
    early = simulate(
        bottleneck_or_detour(),
        trips,
        None,
        rng=np.random.default_rng(0),
        periods=(HOUR,),
        settings=EXACT,
        route_settings=rc,
    )
    assert early.route_choice["relative_gap"].iloc[-1] <= 0.5 < early.route_choice["relative_gap"].iloc[-2]
    assert len(early.route_choice) < 9
    assert early.route_choice["stop_reason"].iloc[-1] == "gap_target"
    assert (early.route_choice["stop_reason"].iloc[:-1] == "").all()
    uncongested = equilibrium(bottleneck_or_detour(), one_to_one(100, 36.0), iterations=5)
    assert uncongested.route_choice["relative_gap"].tolist() == [0.0]  # free-flow routes are the equilibrium
    assert uncongested.route_choice["stop_reason"].tolist() == ["gap_target"]  # 0 <= a target of 0
    # no re-routing allowed: the first simulation is the cap, whatever its gap
    assert equilibrium(bottleneck_or_detour(), trips, iterations=0).route_choice["stop_reason"].tolist() == [
        "cap"
    ]


# Route-choice logs measured at the cap of 8 (benchmarks/README.md, 'The plateau stop rule'): relative gap, mean
# trip [s] and arrived share per simulation.
GRID_10K_SEED_2 = (
    [0.1206, 0.0925, 0.0802, 0.074, 0.0693, 0.0674, 0.0656, 0.0634, 0.0626],
    [321.29, 321.19, 320.89, 320.46, 320.14, 319.86, 319.57, 319.39, 319.08],
    [1.0] * 9,
)
SMALL_X1_REP_0 = (
    [0.6962, 0.352, 0.2335, 0.1835, 0.1341, 0.0977, 0.099, 0.0846, 0.0859],
    [792.77, 628.10, 516.21, 471.50, 435.24, 419.69, 414.59, 410.86, 407.00],
    [0.9072, 0.9908, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
)
TINY_X3_GOLDEN = (
    [0.52, 0.402, 0.4977, 0.3781, 0.3236, 0.2975, 0.2897, 0.2567, 0.3045],
    [484.91, 380.12, 391.88, 609.66, 609.37, 508.20, 381.87, 416.58, 417.10],
    [0.4262, 0.4532, 0.3312, 0.4006, 0.4012, 0.4051, 0.3004, 0.3758, 0.2684],
)


def first_plateau(
    series: tuple[list[float], list[float], list[float]], rc: RouteChoiceSettings
) -> int | None:
    """Simulations run when the plateau rule stops the loop (None: it never does within the series)."""
    for n in range(1, len(series[0]) + 1):
        gap, trip, arrived = (s[:n] for s in series)
        if gap_plateau(
            gap,
            trip,
            arrived,
            gap_change=rc.plateau_gap_change,
            trip_change=rc.plateau_trip_change,
            arrived_change=rc.plateau_arrived_change,
        ):
            return n
    return None


def test_gap_plateau_tells_a_plateau_from_progress_and_from_an_oscillation() -> None:
    rc = RouteChoiceSettings.from_parameters()  # the shipped thresholds
    assert first_plateau(GRID_10K_SEED_2, rc) == 5  # gap -8%, -6% an iteration, mean trip -0.1%: a plateau
    assert first_plateau(SMALL_X1_REP_0, rc) is None  # the mean trip still falls ~1% an iteration
    assert first_plateau(TINY_X3_GOLDEN, rc) is None  # the gap rises and falls, arrivals swing: jammed
    # by hand: each of the last two iterations must stay within every threshold, either way
    kw = dict(gap_change=0.1, trip_change=0.01, arrived_change=0.01)
    assert gap_plateau([0.2, 0.19, 0.18], [100.0, 100.0, 100.0], [1.0, 1.0, 1.0], **kw)
    assert not gap_plateau([0.3, 0.19, 0.18], [100.0, 100.0, 100.0], [1.0, 1.0, 1.0], **kw)  # fell 37%
    assert not gap_plateau([0.18, 0.2, 0.19], [100.0, 100.0, 100.0], [1.0, 1.0, 1.0], **kw)  # rose 11%
    assert not gap_plateau([0.2, 0.19, 0.18], [100.0, 98.0, 98.0], [1.0, 1.0, 1.0], **kw)  # trip -2%
    assert not gap_plateau([0.2, 0.19, 0.18], [100.0, 100.0, 100.0], [0.9, 0.92, 0.92], **kw)  # +2 points
    assert not gap_plateau([0.2, 0.19, 0.18], [100.0, float("nan"), 100.0], [1.0, 1.0, 1.0], **kw)
    assert not gap_plateau([0.19, 0.18], [100.0, 100.0], [1.0, 1.0], **kw)  # two simulations: one iteration
    assert not gap_plateau([0.2, 0.2, 0.2], [100.0] * 3, [1.0] * 3, **(kw | {"gap_change": 0.0}))  # off


def test_the_loop_stops_at_a_plateau_and_logs_the_arrived_share() -> None:
    trips = one_to_one(1200, 3.0)
    kw = dict(periods=(HOUR,), settings=EXACT)
    off = RouteChoiceSettings(max_iterations=5, relative_gap_target=0.0, slice_s=900.0)
    wide = dataclasses.replace(
        off, plateau_gap_change=10.0, plateau_trip_change=10.0, plateau_arrived_change=1.0
    )
    full = simulate(
        bottleneck_or_detour(), trips, None, rng=np.random.default_rng(0), route_settings=off, **kw
    )
    early = simulate(
        bottleneck_or_detour(), trips, None, rng=np.random.default_rng(0), route_settings=wide, **kw
    )
    assert len(full.route_choice) == 6  # no plateau rule: the cap
    assert len(early.route_choice) == 3  # every iteration within the (wide) thresholds: stop after two
    assert early.route_choice["switched"].iloc[-1] == 0
    assert early.route_choice["stop_reason"].tolist() == ["", "", "plateau"]
    assert full.route_choice["stop_reason"].tolist() == [""] * 5 + ["cap"]
    # the same simulations until the stop
    pd.testing.assert_frame_equal(full.route_choice.iloc[:2], early.route_choice.iloc[:2])
    share = full.route_choice["arrived_share"].iloc[-1]
    assert share == pytest.approx(traffic_summary(full)["share_arrived"])


def test_same_seed_gives_identical_routes_and_gaps() -> None:
    net = grid(5, signalised=True)
    rng = np.random.default_rng(7)
    o, d = rng.integers(0, 25, 1500), rng.integers(0, 25, 1500)
    trips = pd.DataFrame(
        {
            "trip": np.arange(1500),
            "period": "h",
            "origin": o,
            "destination": d,
            "depart_s": rng.uniform(0, 3600, 1500),
        }
    )
    a, b = equilibrium(net, trips, 2, seed=3), equilibrium(net, trips, 2, seed=3)
    pd.testing.assert_frame_equal(a.route_choice, b.route_choice)
    pd.testing.assert_frame_equal(a.link_stats, b.link_stats)
    pd.testing.assert_frame_equal(a.trips, b.trips)


# --- the relative gap and the swaps on a sample of origins -------------------------------------------------------


def test_sampled_gap_covers_the_full_gap_at_its_stated_error() -> None:
    # 400 origins with 1-60 trips each; excess time heavy-tailed and differing by origin (a congested corner)
    rng = np.random.default_rng(11)
    per = rng.integers(1, 60, 400)
    origin = np.repeat(np.arange(400) * 3 + 5, per)  # node ids, not 0..n-1
    route_s = rng.gamma(2.0, 300.0, len(origin))
    share = rng.beta(0.5, 2.0, 400)[np.repeat(np.arange(400), per)]
    best_s = route_s * (1.0 - share * rng.uniform(0.0, 1.0, len(origin)))
    weight = rng.integers(1, 3, len(origin)).astype(float)
    full = relative_gap(route_s, best_s, weight)
    every = sample_origins(origin, 0, rng)
    assert every.complete and sampled_relative_gap(route_s, best_s, weight, every) == (full, 0.0)
    assert sample_origins(origin, 400, rng).complete  # as many as there are: no sampling, no draw
    inside, errors = 0, []
    for _ in range(400):
        s = sample_origins(origin, 60, rng)
        assert s.n_sampled == 60 and len(np.unique(origin[s.vehicles])) == 60
        est, se = sampled_relative_gap(route_s[s.vehicles], best_s[s.vehicles], weight[s.vehicles], s)
        inside += abs(est - full) <= 1.96 * se
        errors.append(est - full)
    # the stated error is the sampling error: ~95% of the samples' 95% intervals hold the full gap
    assert 0.90 <= inside / 400 <= 0.99
    assert abs(np.mean(errors)) < 0.2 * np.std(errors)  # the ratio estimate's bias is small against its error


def test_same_origins_sample_for_the_same_seed() -> None:
    origin = np.repeat(np.arange(50), 3)
    a = sample_origins(origin, 10, np.random.default_rng(5))
    b = sample_origins(origin, 10, np.random.default_rng(5))
    assert np.array_equal(a.vehicles, b.vehicles) and np.array_equal(a.cluster, b.cluster)
    assert a.share == pytest.approx(0.2)


def _grid_trips(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": "h",
            "origin": rng.integers(0, 25, n),
            "destination": rng.integers(0, 25, n),
            "depart_s": rng.uniform(0, 3600, n),
        }
    )


def test_trees_per_simulation_are_the_sampled_origins_slices_also_after_the_last() -> None:
    net = grid(5, signalised=True)
    trips = _grid_trips(6000, 7)
    pairs = trips.assign(sl=(trips["depart_s"] // 900).astype(int)).groupby("origin")["sl"].nunique()

    def run(iterations: int, sample: int) -> pd.DataFrame:
        rc = RouteChoiceSettings(
            max_iterations=iterations, relative_gap_target=0.0, slice_s=900.0, gap_sample_origins=sample
        )
        return simulate_vehicles(
            net, trips, rng=np.random.default_rng(3), periods=(HOUR,), settings=EXACT, route_settings=rc
        ).route_choice

    exact = run(0, 0)
    sampled = run(1, 8)
    # one tree per origin and departure slice after an exact simulation; per sampled origin and slice otherwise
    assert exact["trees"].tolist() == [float(pairs.sum())]
    assert sampled["trees"].iloc[0] <= pairs.sort_values().iloc[-8:].sum() < pairs.sum()
    # the recorded (last) simulation's gap is an estimate too, with its standard error (no exact search after it)
    assert sampled["trees"].iloc[-1] < pairs.sum() and sampled["relative_gap_se"].iloc[-1] > 0.0
    assert exact["relative_gap_se"].iloc[0] == 0.0
    # the first simulation is the same in both runs (free-flow routes): the estimate holds the exact gap
    est, se = sampled["relative_gap"].iloc[0], sampled["relative_gap_se"].iloc[0]
    assert exact["relative_gap"].iloc[0] > 0.05 and se > 0.0
    assert abs(est - exact["relative_gap"].iloc[0]) <= 3.0 * se
    assert sampled["switched"].iloc[0] > 0
    pd.testing.assert_frame_equal(run(1, 8), sampled)  # same seed, same sample, same swaps


def _congested_grid_8x8() -> tuple[RoadNetwork, pd.DataFrame]:
    """A congested signalised 8x8 grid (64 origins) and 5,000 random trips over one hour (seed 9)."""
    net = grid(8, signalised=True)
    rng = np.random.default_rng(9)
    n = 5000
    trips = pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": "h",
            "origin": rng.integers(0, 64, n),
            "destination": rng.integers(0, 64, n),
            "depart_s": rng.uniform(0, 3600, n),
        }
    )
    return net, trips


def _counted_runs(
    monkeypatch: pytest.MonkeyPatch,
    net: RoadNetwork,
    trips: pd.DataFrame,
    rc: RouteChoiceSettings,
    routers: list[Router],
) -> Callable[[], VehicleTraffic]:
    """A run of ``trips`` on ``net`` (drivers' seed 3, exact settings) whose routers are appended to ``routers``."""

    class Counted(Router):
        def __init__(self, network: RoadNetwork) -> None:
            super().__init__(network)
            routers.append(self)

    monkeypatch.setattr(simulation_module, "Router", Counted)

    def run() -> VehicleTraffic:
        return simulate_vehicles(
            net, trips, rng=np.random.default_rng(3), periods=(HOUR,), settings=EXACT, route_settings=rc
        )

    return run


def test_landmark_bounds_change_nothing_in_a_baseline_and_its_band_phase(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a congested 8x8 grid (64 origins), the gap on 16 of them: in the band phase the other origins' trees (more
    # than twice the 16 landmarks in every slice) set drivers aside by their landmark bounds, stop at the others'
    # band thresholds and prune by the bounds; without landmarks (LANDMARKS 0) they only stop at the thresholds.
    # The log (but the trees grown), the routes and the simulated times are the same bit for bit
    net, trips = _congested_grid_8x8()
    rc = RouteChoiceSettings(
        max_iterations=2,
        relative_gap_target=0.0,
        slice_s=900.0,
        band_relative=0.1,
        band_min_s=20.0,
        gap_sample_origins=16,
    )

    routers: list[Router] = []
    run = _counted_runs(monkeypatch, net, trips, rc, routers)

    with_bounds = run()
    monkeypatch.setattr(routing, "LANDMARKS", 0)
    plain = run()
    log, plain_log = with_bounds.route_choice, plain.route_choice
    assert log["phase"].tolist() == ["equilibrium"] * 3 + ["band"] * 3
    assert log["switched"].sum() > 100
    # every search's settled vertices, the equilibrium's full trees too: 0.81 when written
    assert routers[0].vertices_settled < 0.9 * routers[1].vertices_settled
    pd.testing.assert_frame_equal(log.drop(columns="trees"), plain_log.drop(columns="trees"))
    assert np.array_equal(with_bounds.routes.links, plain.routes.links)
    assert np.array_equal(with_bounds.times.ex, plain.times.ex, equal_nan=True)


def test_the_band_phase_grows_its_gap_samples_trees_only_for_the_gaps_a_stop_rule_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The congested 8x8 grid above, a baseline that hands over after one re-routing iteration, then 6 band
    # iterations to the cap; the plateau's mean-trip threshold 1% here. In the band phase only the log and the
    # plateau rule read the gap, the rule only once the mean trip and arrived share of its window (the phase's last
    # three rows) stopped moving: log rows 3-4 get no gap (NaN; their sampled drivers' trees stop at their band
    # thresholds like everybody's), rows 5-6 get theirs grown after the fact when row 7's window needs them (the gap
    # then rose 15%: no plateau), row 7 and the cap's row 8 with their search. Against a run that grows every gap
    # (the rule as before): the same switchers, routes, times, stop and every other column bit for bit, the gaps
    # grown equal, fewer vertices settled
    net, trips = _congested_grid_8x8()
    rc = RouteChoiceSettings(
        max_iterations=6,
        relative_gap_target=0.0,
        slice_s=900.0,
        step_exponent=0.75,
        band_relative=0.1,
        band_min_s=20.0,
        gap_sample_origins=16,
        plateau_gap_change=0.1,
        plateau_trip_change=0.01,
        plateau_arrived_change=0.001,
        handover_gap_change=0.15,
        handover_min_gap=0.1,
    )
    routers: list[Router] = []
    run = _counted_runs(monkeypatch, net, trips, rc, routers)

    lazy = run()
    # every gap read (raising=False: the rule as it was grows them all anyway)
    monkeypatch.setattr(simulation_module, "_plateau_but_gap", lambda rows, rc: True, raising=False)
    every = run()
    log, full = lazy.route_choice, every.route_choice
    assert log["phase"].tolist() == ["equilibrium"] * 2 + ["band"] * 7
    assert log["stop_reason"].tolist() == ["", "handover"] + [""] * 6 + ["cap"]
    gaps = ["relative_gap", "relative_gap_se"]
    assert log[gaps].iloc[3:5].isna().all().all() and full[gaps].notna().all().all()
    pd.testing.assert_frame_equal(
        log.drop(index=[3, 4], columns="trees"), full.drop(index=[3, 4], columns="trees")
    )
    rest = log.drop(columns=[*gaps, "trees"])
    pd.testing.assert_frame_equal(rest, full.drop(columns=[*gaps, "trees"]))
    assert full["relative_gap"].iloc[7] > 1.1 * full["relative_gap"].iloc[6]  # the window's gap: no plateau
    assert np.array_equal(lazy.routes.links, every.routes.links)
    assert np.array_equal(lazy.times.ex, every.times.ex, equal_nan=True)
    assert routers[0].vertices_settled < routers[1].vertices_settled


def test_a_sampled_gap_at_the_target_is_confirmed_on_every_origin() -> None:
    net = grid(5, signalised=True)
    trips = _grid_trips(6000, 7)
    rc = RouteChoiceSettings(max_iterations=6, relative_gap_target=1.0, slice_s=900.0, gap_sample_origins=8)
    first = simulate_vehicles(
        net, trips, rng=np.random.default_rng(3), periods=(HOUR,), settings=EXACT, route_settings=rc
    ).route_choice
    # the estimate is at the target at once: the stop rule grows the other origins' trees and reports the exact gap
    assert len(first) == 1 and first["relative_gap_se"].iloc[0] == 0.0
    pairs = trips.assign(sl=(trips["depart_s"] // 900).astype(int)).groupby("origin")["sl"].nunique()
    assert first["trees"].iloc[0] == pairs.sum()


# --- boundedly rational switching from held routes (a variant of a paired baseline) ------------------------------


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
    trips = _grid_trips(6000, 7)
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


def _one_hour(
    net: RoadNetwork,
    trips: pd.DataFrame,
    rc: RouteChoiceSettings,
    held: HeldRoutes | None = None,
    *,
    seed: int = 0,
) -> VehicleTraffic:
    """One hour of ``trips`` with exact speeds: the equilibrium, or from the baseline's ``held`` routes."""
    return simulate_vehicles(
        net,
        trips,
        rng=np.random.default_rng(seed),
        periods=(HOUR,),
        settings=EXACT,
        route_settings=rc,
        held_routes=held,
    )


def _slower_a(kph: float) -> RoadNetwork:
    net = bottleneck_or_detour()
    links = net.links.copy()
    links.loc[[0, 1], "speed_limit_kph"] = kph
    return dataclasses.replace(net, links=links)


def test_a_variant_keeps_its_baseline_routes_within_the_band_and_leaves_them_beyond_it() -> None:
    # 100 trips, no queues: route A (1,000 m) takes 72 s at 50 km/h, route B (1,600 m) 115 s; all on A
    trips = one_to_one(100, 36.0)
    rc = RouteChoiceSettings(
        max_iterations=3, relative_gap_target=0.0, slice_s=900.0, band_relative=0.2, band_min_s=60.0
    )

    def run(net: RoadNetwork, held: HeldRoutes | None) -> VehicleTraffic:
        return _one_hour(net, trips, rc, held)

    base = run(bottleneck_or_detour(), None)
    assert (base.routes.links < 2).all()  # everyone on A
    held = base.held_routes()
    # the same network: nobody moves, the traffic is the baseline's, and one simulation settles it
    same = run(bottleneck_or_detour(), held)
    assert np.array_equal(same.routes.links, base.routes.links)
    assert np.array_equal(same.times.ex, base.times.ex)
    assert same.route_choice["outside_band"].tolist() == [0.0]
    assert same.route_choice["stop_reason"].tolist() == ["band"]  # nobody outside his band
    # A at 30 km/h takes 120 s: B saves 5 s, within the band; the equilibrium from scratch moves everyone
    assert (run(_slower_a(30.0), held).routes.links < 2).all()
    assert (run(_slower_a(30.0), None).routes.links >= 2).all()
    # A at 10 km/h takes 360 s: B saves 245 s, beyond max(20% x 360 s, 60 s); everyone is beyond his band and
    # leaves A by the MSA step (1/2, 1/3, 1/4 of those still beyond it), not all at once; none comes back
    slow = run(_slower_a(10.0), held)
    log = slow.route_choice
    assert log["outside_band"].tolist() == [1.0, 0.55, 0.40, 0.32]
    assert log["switched"].tolist() == [45.0, 15.0, 8.0, 0.0]  # binomial draws: 100 x 1/2, 55 x 1/3, 40 x 1/4
    assert int((slow.routes.links[slow.routes.ptr[:-1]] >= 2).sum()) == 68
    assert log["stop_reason"].tolist() == ["", "", "", "cap"]
    # no re-routing allowed: everyone still outside his band at the cap
    capped = simulate_vehicles(
        _slower_a(10.0),
        trips,
        rng=np.random.default_rng(0),
        periods=(HOUR,),
        settings=EXACT,
        route_settings=dataclasses.replace(rc, max_iterations=0),
        held_routes=held,
    ).route_choice
    assert capped["outside_band"].tolist() == [1.0] and capped["stop_reason"].tolist() == ["cap"]


def test_a_variants_drivers_beyond_their_band_leave_by_the_msa_step_not_all_at_once() -> None:
    # Baseline: A (1,000 m, 72 s at 50 km/h) takes 1,800 veh/h, B (1,600 m, 115 s) 600: all 1,200 trips of the
    # hour on A. Variant: A's capacity cut to 600 veh/h, so A ends the hour with a queue of 600 (50 min) and
    # every driver is beyond his band. Were they all to switch at once (the rule before 2026-12-02), all 1,200 would
    # queue on B, then all return to A, and so on to the cap: the full-demand gridlock of arterials-80-to-60
    # (benchmarks/README.md). By the MSA step (1/2 in the first re-routing iteration) about 600 move: each route
    # then carries about its capacity, and the drivers left beyond their band move by the next steps (1/3, ...).
    links = [
        (0, 2, 500.0, 1, 50.0, 1800.0),
        (2, 1, 500.0, 1, 50.0, 1800.0),
        (0, 3, 800.0, 1, 50.0, 600.0),
        (3, 1, 800.0, 1, 50.0, 600.0),
    ]
    xy = [(0, 0), (1000, 0), (500, 100), (500, -600)]
    trips = one_to_one(1200, 3.0)
    rc = RouteChoiceSettings(
        max_iterations=6, relative_gap_target=0.0, slice_s=900.0, band_relative=0.2, band_min_s=60.0
    )

    def run(net: RoadNetwork, held: HeldRoutes | None) -> VehicleTraffic:
        return _one_hour(net, trips, rc, held)

    base = run(make_network(xy, links), None)
    assert (base.routes.links < 2).all()  # everyone on A, no queue
    cut = make_network(xy, [(0, 2, 500.0, 1, 50.0, 600.0), (2, 1, 500.0, 1, 50.0, 600.0), *links[2:]])
    variant = run(cut, base.held_routes())
    log = variant.route_choice
    assert log["outside_band"].iloc[0] == 1.0  # a queue of up to 50 min on A: everyone beyond his band
    switched = log["switched"].to_numpy()
    assert 540 <= switched[0] <= 660  # binomial(1,200, 1/2): 600 +- 17
    on_b = int((variant.routes.links[variant.routes.ptr[:-1]] >= 2).sum())
    assert 540 <= on_b <= 660  # each route carries about its capacity
    assert log["outside_band"].iloc[-1] < 0.05
    assert log["mean_trip_s"].iloc[-1] < 0.1 * log["mean_trip_s"].iloc[0]
    assert log["arrived_share"].iloc[-1] == 1.0


def test_a_baseline_stopped_short_of_its_equilibrium_ends_within_its_drivers_bands_as_a_variant_does() -> (
    None
):
    # The bottleneck (route A 600 veh/h, detour B; free flow A 72 s, B 115 s), 1,200 trips in the hour, the
    # equilibrium cut at one re-routing iteration. Free-flow routes: all on A, an hour's queue (gap 0.94); route
    # swapping moves 554 to B (each by half his own gap); the cap stops it with the 646 left on A queueing (mean
    # trip 212 s, gap 0.46) and every one of them beyond his band (B saves more than max(20% x trip, 60 s)). The
    # band phase then goes on from these routes as a variant would from them: nobody has tolerated anything, each
    # driver beyond his band leaves by the restarted MSA step (1/2: 285 of the 646, a binomial draw), and after one
    # more simulation (361 on A, under its capacity: no queue) nobody is beyond his band.
    trips = one_to_one(1200, 3.0)
    rc = RouteChoiceSettings(
        max_iterations=1, relative_gap_target=0.0, slice_s=900.0, band_relative=0.2, band_min_s=60.0
    )
    base = _one_hour(bottleneck_or_detour(), trips, rc)
    log = base.route_choice
    assert log["iteration"].tolist() == [
        0.0,
        1.0,
        1.0,
        2.0,
    ]  # the equilibrium's last simulation is the band's first
    assert log["phase"].tolist() == ["equilibrium", "equilibrium", "band", "band"]
    assert log["stop_reason"].tolist() == ["", "cap", "", "band"]  # each phase says why it stopped
    assert log["switched"].tolist() == [554.0, 0.0, 285.0, 0.0]
    assert log["outside_band"].tolist()[1:3] == [646 / 1200, 646 / 1200]
    assert log["outside_band"].iloc[-1] == 0.0
    on_a = base.routes.links[base.routes.ptr[:-1]] < 2
    assert int(on_a.sum()) == 646 - 285
    # the saving each driver forgoes in the end (what a variant reads as tolerated) lies within his band: 60 s
    held = base.held_routes()
    assert held.forgone(Router(bottleneck_or_detour()), np.arange(len(held.key))).max() <= 60.0
    # a null program (the same network) leaves the traffic as it is; so does a near-null one (A at 49 km/h, 1.5 s
    # slower: within everyone's band). Before the band phase the baseline stopped at the cap with 646 drivers on A
    # beyond their band, each tolerating exactly his saving: A's 1.5 s put every one of them beyond it again and
    # 308 left (the mean trip 212 -> 104 s), the rest of the equilibrium counted as the program's effect
    for net in (bottleneck_or_detour(), _slower_a(49.0)):
        variant = _one_hour(net, trips, rc, held)
        assert variant.route_choice["switched"].tolist() == [0.0]
        assert variant.route_choice["stop_reason"].tolist() == ["band"]
        assert np.array_equal(variant.routes.links, base.routes.links)
    same = _one_hour(bottleneck_or_detour(), trips, rc, held)
    assert np.array_equal(same.times.ex, base.times.ex, equal_nan=True)


def test_hands_over_when_the_equilibriums_gap_stalls_and_not_in_a_jam_by_hand() -> None:
    rc = RouteChoiceSettings(
        max_iterations=8,
        relative_gap_target=0.05,
        slice_s=900.0,
        handover_gap_change=0.15,
        handover_min_gap=0.1,
    )

    def row(gap: float, arrived: float = 1.0) -> dict[str, float | str]:
        return {"relative_gap": gap, "arrived_share": arrived}

    hands_over = simulation_module._hands_over
    assert hands_over(row(0.20), row(0.18), rc)  # fell 10%: stalled
    assert hands_over(row(0.20), row(0.22), rc)  # rose
    assert not hands_over(row(0.20), row(0.16), rc)  # fell 20%: progress
    assert hands_over(row(0.12), row(0.11), rc)
    assert not hands_over(row(0.11), row(0.10), rc)  # near the target: at or under handover_min_gap (0.1)
    assert not hands_over(row(0.10), row(0.09), rc)
    assert not hands_over(row(0.20), row(0.18, 0.94), rc)  # a jam (under 95% arriving): no early band phase
    assert hands_over(row(0.20), row(0.18, 0.95), rc)
    assert not hands_over(row(0.20), row(0.20), dataclasses.replace(rc, handover_gap_change=0.0))  # off


def test_a_baseline_hands_over_to_its_band_phase_when_its_equilibrium_stalls_in_fewer_simulations() -> None:
    # The bottleneck (route A 600 veh/h, detour B), 1,200 trips in the hour, equilibrium cap 8, no gap target.
    # Route swapping takes the gap 0.938 -> 0.457 -> 0.121 -> 0.101 (-16%) -> 0.093 (-8%): with the hand-over at
    # 15% the equilibrium stops there (the 5th simulation) and the band phase finds nobody outside his band; without
    # it the equilibrium runs to its cap (9 simulations, gap 0.038) and then also finds nobody outside (no
    # handover_min_gap here: the bottleneck's gap is small for a stalled equilibrium). The same
    # simulations until the hand-over; the end is a boundedly rational equilibrium either way (every driver's
    # forgone saving within his band, 60 s here), with the mean trip no longer.
    trips = one_to_one(1200, 3.0)
    rc = RouteChoiceSettings(
        max_iterations=8, relative_gap_target=0.0, slice_s=900.0, band_relative=0.2, band_min_s=60.0
    )
    capped = _one_hour(bottleneck_or_detour(), trips, rc)
    early = _one_hour(bottleneck_or_detour(), trips, dataclasses.replace(rc, handover_gap_change=0.15))
    assert capped.route_choice["stop_reason"].tolist() == [""] * 8 + ["cap", "band"]
    log = early.route_choice
    assert log["phase"].tolist() == ["equilibrium"] * 5 + ["band"]
    assert log["stop_reason"].tolist() == ["", "", "", "", "handover", "band"]
    gap = log["relative_gap"].to_numpy()
    assert gap[3] < 0.85 * gap[2] and gap[4] > 0.85 * gap[3]  # the first iteration under 15% hands over
    assert early.simulations == 5 and capped.simulations == 9
    columns = ["relative_gap", "mean_trip_s", "arrived_share"]
    pd.testing.assert_frame_equal(log[columns].iloc[:5], capped.route_choice[columns].iloc[:5])
    assert log["outside_band"].iloc[-1] == 0.0 and capped.route_choice["outside_band"].iloc[-1] == 0.0
    assert log["mean_trip_s"].iloc[-1] <= capped.route_choice["mean_trip_s"].iloc[-1]
    held = early.held_routes()
    assert held.forgone(Router(bottleneck_or_detour()), np.arange(len(held.key))).max() <= 60.0


def test_stop_at_threshold_trees_give_the_full_search_where_wanted_and_inf_beyond_the_limit() -> None:
    # random link costs and movement extras on a grid; each trip's limit around its best route's cost: a trip
    # whose best route costs at most its limit gets the full search's cost and route bit for bit; one beyond it
    # gets inf and no route where its tree stopped first (else, reached for a trip with a larger limit, the same)
    net = grid(6, signalised=True)
    router = Router(net)
    rng = np.random.default_rng(5)
    cost = rng.uniform(10.0, 60.0, router.n_links)
    extra = rng.uniform(-5.0, 20.0, router.n_edges)
    o = rng.integers(0, 36, 300)
    d = rng.integers(0, 36, 300)
    full, full_rt = router.shortest(o, d, cost, extra)
    limit = full * rng.uniform(0.5, 1.5, len(o))
    limit[:5] = np.nan  # NaN: wanted, as inf
    cut, cut_rt = router.shortest(o, d, cost, extra, limit_s=limit)
    wanted = ~(full > limit)
    assert 0.2 < wanted.mean() < 0.9
    assert np.array_equal(cut[wanted], full[wanted])
    dropped = np.isinf(cut) & np.isfinite(full)
    assert not dropped[wanted].any() and dropped.sum() > 20 and (cut_rt.n_links[dropped] == 0).all()
    assert np.array_equal(cut[~dropped], full[~dropped])
    assert all(np.array_equal(cut_rt.route(i), full_rt.route(i)) for i in np.flatnonzero(~dropped))
    # a limit of inf everywhere is the full search; so is one at each trip's exact best cost
    assert np.array_equal(router.shortest(o, d, cost, extra, limit_s=np.full(len(o), np.inf))[0], full)
    assert np.array_equal(router.shortest(o, d, cost, extra, limit_s=full)[0], full)


def test_landmark_bounds_set_aside_only_trips_beyond_their_limit_and_change_no_answer() -> None:
    # random link costs and movement extras on a grid with 64 origins: the ALT lower bounds never exceed a trip's
    # best cost, so the trips set aside (inf, no route) all cost more than their limit, and every trip below its
    # limit gets the search's cost and route bit for bit (the others' trees stop at the remaining limits)
    net = grid(8, signalised=True)
    rng = np.random.default_rng(11)
    cost = rng.uniform(10.0, 60.0, len(net.links))
    o = rng.integers(0, 64, 2000)
    d = rng.integers(0, 64, 2000)
    plain = Router(net)
    plain.landmark_count = 0
    extra = rng.uniform(-5.0, 20.0, plain.n_edges)
    full, _ = plain.shortest(o, d, cost, extra)
    limit = full * rng.uniform(0.5, 1.2, len(o))
    limit[:50] = np.inf  # wanted whatever they cost: never set aside
    without, without_rt = plain.shortest(o, d, cost, extra, limit_s=limit)
    router = Router(net)
    router.landmark_count = 4
    beyond = router._beyond_limit(o, d, router._weights(cost, extra), limit)
    assert beyond.sum() > 300 and (full[beyond] > limit[beyond]).all() and not beyond[:50].any()
    cut, cut_rt = router.shortest(o, d, cost, extra, limit_s=limit)
    below = full <= limit
    assert np.array_equal(cut[below], without[below]) and np.array_equal(cut[below], full[below])
    assert all(np.array_equal(cut_rt.route(i), without_rt.route(i)) for i in np.flatnonzero(below))
    assert np.isinf(cut[beyond]).all() and (cut_rt.n_links[beyond] == 0).all()
    assert (~(cut <= limit) == ~below).all()  # the same answer to "below the limit?" for every trip


def test_landmark_pruned_trees_settle_fewer_vertices_and_give_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the same search with the trees expanding every vertex they settle (no landmark pruning; the trips set aside
    # by their bounds still set aside) and with a tree whose trips all have limits expanding no vertex a landmark
    # bound puts beyond every limit it still wants: every trip gets the same answer, cost and route (inf and no
    # route beyond its limit), and the pruned trees settle fewer vertices
    # (144 origins, ~4 trips a tree as in a band search after the bounds set most drivers aside: about half the
    # vertices settled)
    net = grid(12, signalised=True)
    rng = np.random.default_rng(11)
    cost = rng.uniform(10.0, 60.0, len(net.links))
    o = rng.integers(0, 144, 600)
    d = rng.integers(0, 144, 600)
    extra = rng.uniform(-5.0, 20.0, Router(net).n_edges)
    full, _ = Router(net).shortest(o, d, cost, extra)
    limit = full * rng.uniform(0.7, 1.2, len(o))
    limit[:10] = np.inf  # their trees grow in full
    pruned = Router(net)
    pruned.landmark_count = 4
    got, got_rt = pruned.shortest(o, d, cost, extra, limit_s=limit)
    monkeypatch.setattr(routing._LandmarkBounds, "per_vertex", lambda self: routing._NO_LANDMARKS)
    plain = Router(net)
    plain.landmark_count = 4
    want, want_rt = plain.shortest(o, d, cost, extra, limit_s=limit)
    assert np.array_equal(got, want) and np.array_equal(got_rt.ptr, want_rt.ptr)
    assert np.array_equal(got_rt.links, want_rt.links)
    below = full <= limit
    assert np.array_equal(got[below], full[below]) and np.isinf(got[~below]).all()
    assert pruned.trees_grown == plain.trees_grown
    assert pruned.vertices_settled < 0.7 * plain.vertices_settled


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


def test_a_variants_trees_stop_at_the_band_and_move_the_same_drivers_as_the_full_search() -> None:
    # a congested grid's baseline, then a variant that slows the middle column: with a sample of 8 of the 25
    # origins, the other origins' trees stop at their drivers' band thresholds; the switchers, routes and
    # simulated times are those of the full search over every origin (gap_sample_origins 0) bit for bit
    net = grid(5, signalised=True)
    trips = _grid_trips(6000, 7)
    rc = RouteChoiceSettings(
        max_iterations=3, relative_gap_target=0.0, slice_s=900.0, band_relative=0.1, band_min_s=20.0
    )
    base = simulate_vehicles(
        net, trips, rng=np.random.default_rng(3), periods=(HOUR,), settings=EXACT, route_settings=rc
    )
    links = net.links.copy()
    slow = (links["u"] % 5 == 2) & (links["v"] % 5 == 2)
    links.loc[slow, "speed_limit_kph"] = 15.0
    variant = dataclasses.replace(net, links=links)

    def run(sample: int) -> VehicleTraffic:
        return _one_hour(
            variant, trips, dataclasses.replace(rc, gap_sample_origins=sample), base.held_routes(), seed=3
        )

    full, cut = run(0), run(8)
    log_full, log_cut = full.route_choice, cut.route_choice
    assert log_full["switched"].iloc[0] > 100  # drivers leave the slowed column
    for col in ("switched", "outside_band", "mean_trip_s", "trees"):
        assert log_cut[col].tolist() == log_full[col].tolist()
    assert np.array_equal(cut.routes.ptr, full.routes.ptr)
    assert np.array_equal(cut.routes.links, full.routes.links)
    assert np.array_equal(cut.times.ex, full.times.ex, equal_nan=True)
    # the full search's gap is exact; the sampled one an estimate with its standard error (a row whose gap no stop
    # rule read has none in either run; the last row always has it)
    read = log_full["relative_gap"].notna()
    assert read.equals(log_cut["relative_gap"].notna()) and read.iloc[-1]
    assert (log_full.loc[read, "relative_gap_se"] == 0.0).all()
    assert (log_cut.loc[read, "relative_gap_se"] > 0.0).all()
