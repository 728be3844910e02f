from __future__ import annotations

import numpy as np
import pytest
from traffic_fixtures import grid, make_network

from vision_zero.traffic.routing import Router, Routes, msa_switchers, perceived_costs, route_trips


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


def test_many_origins_in_chunks_match_single_searches(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision_zero.traffic.routing as routing

    net = grid(6)
    rng = np.random.default_rng(4)
    o, d = rng.integers(0, 36, 200), rng.integers(0, 36, 200)
    cost = rng.uniform(10, 20, len(net.links))
    whole = route_trips(net, o, d, cost)
    monkeypatch.setattr(routing, "_MAX_TREE_ENTRIES", 36 * 3)  # force chunks of three origins
    chunked = route_trips(net, o, d, cost)
    np.testing.assert_array_equal(whole.ptr, chunked.ptr)
    np.testing.assert_array_equal(whole.links, chunked.links)


def test_replace_swaps_selected_routes() -> None:
    a = Routes(ptr=np.array([0, 2, 3, 3]), links=np.array([5, 6, 7]))
    b = Routes(ptr=np.array([0, 1, 1, 4]), links=np.array([1, 2, 3, 4]))
    c = a.replace(np.array([0, 2]), b)
    assert [c.route(i).tolist() for i in range(3)] == [[1], [7], [2, 3, 4]]


def test_msa_switchers_share_is_one_over_k_plus_one_and_deterministic() -> None:
    s1 = msa_switchers(10_000, pass_index=1, rng=np.random.default_rng(3))
    s3 = msa_switchers(10_000, pass_index=3, rng=np.random.default_rng(3))
    assert len(s1) == pytest.approx(5000, abs=150)  # 1/2 of the trips in the first re-routing pass
    assert len(s3) == pytest.approx(2500, abs=150)  # 1/4 in the third
    np.testing.assert_array_equal(s1, msa_switchers(10_000, pass_index=1, rng=np.random.default_rng(3)))
    with pytest.raises(ValueError, match="1-based"):
        msa_switchers(10, pass_index=0, rng=np.random.default_rng(3))


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
