"""Shortest routes over the turn graph (:mod:`vision_zero.traffic._router`)."""

from __future__ import annotations

import numpy as np
import pytest
from traffic_fixtures import grid, make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic import _router
from vision_zero.traffic.routing import (
    SAME_COST_S,
    Router,
    Routes,
    route_trips,
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


def test_heap_pops_in_distance_then_vertex_order_with_many_exact_ties() -> None:
    # the trees' heap: entries pushed in random order, a third of them at exactly equal distances, come out in
    # (distance, vertex id) order (the sift-down compares the ids only where the distances are equal)
    from numba import njit

    from vision_zero.traffic._kernels import _sift_down, _sift_up

    @njit
    def pop_all(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
        heap = np.empty((len(keys) + 2, 2))
        n = 0
        for j in range(len(keys)):
            n += 1
            _sift_up(heap, np.uint64(n), keys[j], ids[j])
        out = np.empty((len(keys), 2))
        for j in range(len(keys)):
            out[j, 0] = heap[1, 0]
            out[j, 1] = heap[1, 1]
            n -= 1
            if n > 0:
                _sift_down(heap, n, heap[n + 1, 0], heap[n + 1, 1])
        return out

    rng = np.random.default_rng(2)
    keys = np.round(rng.uniform(0.0, 50.0, 3000), 0)  # ~50 distinct distances: ties everywhere
    keys[::3] = rng.uniform(0.0, 50.0, 1000)
    ids = rng.permutation(3000).astype(np.float64)
    got = pop_all(keys, ids)
    order = np.lexsort((ids, keys))
    np.testing.assert_array_equal(got[:, 0], keys[order])
    np.testing.assert_array_equal(got[:, 1], ids[order])


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


def test_landmark_trees_equal_scipys_dijkstra_bit_for_bit() -> None:
    # the landmarks' full trees (compiled, forward and on the reversed turn graph) give scipy's csgraph.dijkstra
    # costs to the last bit, with movement extras down to the cost floor (tiny and uneven weights), so the
    # landmarks chosen and every lower bound are those scipy gave
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    net = grid(9, signalised=True)
    rng = np.random.default_rng(5)
    router = Router(net)
    cost = rng.uniform(10.0, 60.0, len(net.links))
    extra = rng.uniform(-60.0, 20.0, router.n_edges)  # many edges at the floor (MIN_COST_S)
    weight = router._weights(cost, extra)
    n_vert = router._n_vertices
    graph = csr_matrix((weight, router._cols, router._indptr), shape=(n_vert, n_vert))
    sources = np.array([0, 7, router.n_links - 1, router.n_links + 3], dtype=np.int64)
    indptr, cols, edge = router._reverse_graph()
    forward = _router._Csr(router._indptr, router._cols, weight).trees(sources)
    backward = _router._Csr(indptr, cols, weight[edge]).trees(sources)
    assert np.array_equal(forward, dijkstra(graph, indices=sources))
    assert np.array_equal(backward, dijkstra(graph.T.tocsr(), indices=sources))
    assert np.isinf(forward[:3, router.n_links :]).all()  # no edge enters a source vertex


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
    monkeypatch.setattr(_router._LandmarkBounds, "per_vertex", lambda self: _router._NO_LANDMARKS)
    plain = Router(net)
    plain.landmark_count = 4
    want, want_rt = plain.shortest(o, d, cost, extra, limit_s=limit)
    assert np.array_equal(got, want) and np.array_equal(got_rt.ptr, want_rt.ptr)
    assert np.array_equal(got_rt.links, want_rt.links)
    below = full <= limit
    assert np.array_equal(got[below], full[below]) and np.isinf(got[~below]).all()
    assert pruned.trees_grown == plain.trees_grown
    assert pruned.vertices_settled < 0.7 * plain.vertices_settled
