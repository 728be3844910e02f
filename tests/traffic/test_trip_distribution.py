from __future__ import annotations

import numpy as np
import pytest
from traffic_fixtures import grid

from vision_zero.core.parameters import load_parameters
from vision_zero.traffic import demand, trip_distribution

P = load_parameters()


def test_zones_gather_trip_ends_and_keep_total_weight() -> None:
    net = grid(10)
    home, job = trip_distribution.trip_end_weights(net)
    zh, zj = trip_distribution.zone_weights(net, home, job, max_zones=9)
    assert 1 <= np.count_nonzero(zh + zj) <= 9
    assert zh.sum() == pytest.approx(home.sum()) and zj.sum() == pytest.approx(job.sum())
    trips = demand.generate_trips(net, rng=np.random.default_rng(0), daily_trips=5000, max_trip_end_nodes=9)
    assert trips["origin"].nunique() <= 9
    full = demand.generate_trips(net, rng=np.random.default_rng(0), daily_trips=5000, max_trip_end_nodes=None)
    assert full["origin"].nunique() > 50


# ------------------------------------------------------------------------------- trip distribution (gravity)


def test_gravity_matrix_by_hand() -> None:
    # zones at 0, 1 and 3 km on a line, equal weights, beta = ln 2: from zone 0 the attraction of zone 1 is
    # e^(-ln2) = 1/2, of zone 2 e^(-3 ln2) = 1/8, so zone 0 sends 0.5/0.625 = 80% of its trips to zone 1
    x = np.array([0.0, 1.0, 3.0])
    d = np.abs(x[:, None] - x[None, :])
    w = np.ones(3)
    p = trip_distribution.gravity_matrix(w, w, d, decay_per_km=np.log(2))
    assert p.sum() == pytest.approx(1.0)
    assert np.diag(p) == pytest.approx(0.0)
    assert p[0] * 3 == pytest.approx([0.0, 0.8, 0.2])
    # no decay: destinations in proportion to their weight alone
    p0 = trip_distribution.gravity_matrix(w, np.array([1.0, 1.0, 3.0]), d, decay_per_km=0.0)
    assert p0[0] * 3 == pytest.approx([0.0, 0.25, 0.75])


def test_calibrate_decay_hits_the_target_mean_distance() -> None:
    dist = trip_distribution.trip_distribution(grid(10), decay_per_km=0.0)
    free = dist.mean_distance_km(0.0)
    target = 0.6 * free
    beta = trip_distribution.calibrate_decay(dist, target)
    assert beta > 0
    assert dist.mean_distance_km(beta) == pytest.approx(target, rel=1e-3)
    # monotone: steeper decay, shorter trips; a target the map cannot hold gives no decay
    assert dist.mean_distance_km(2 * beta) < target < free
    assert trip_distribution.calibrate_decay(dist, 1.1 * free) == 0.0


def test_decay_shortens_generated_trips_and_keeps_seed_determinism() -> None:
    net = grid(10, spacing_m=500.0)  # 4.5 km across
    xy = net.nodes[["x_m", "y_m"]].to_numpy()

    def mean_km(beta: float) -> float:
        d = trip_distribution.trip_distribution(net, decay_per_km=beta)
        t = demand.generate_trips(net, rng=np.random.default_rng(5), daily_trips=20_000, distribution=d)
        o, e = t["origin"].to_numpy(), t["destination"].to_numpy()
        return float(np.hypot(*(xy[o] - xy[e]).T).mean() / 1000)

    uniform, almaty, steep = mean_km(0.0), mean_km(P.value("demand.distance_decay_per_km")), mean_km(1.5)
    assert steep < almaty < uniform
    # the sampled trips follow the model's own mean distance
    d = trip_distribution.trip_distribution(net, decay_per_km=1.5)
    assert steep == pytest.approx(d.mean_distance_km(), rel=0.05)


def test_calibrate_to_trip_length_hits_a_routed_target() -> None:
    net = grid(10, spacing_m=500.0)
    free, _ = trip_distribution.mean_trip_length_km(
        net, trip_distribution.trip_distribution(net, decay_per_km=0.0)
    )
    target = 0.6 * free
    dist = trip_distribution.calibrate_to_trip_length(net, target)
    mean, circuity = trip_distribution.mean_trip_length_km(net, dist, sample=2000)
    assert mean == pytest.approx(target, rel=0.08)
    assert circuity >= 1.0


def _clipped_grid() -> object:
    """A 10 x 10 grid whose outer ring of nodes are the cut edges of an extract (``boundary``)."""
    net = grid(10, spacing_m=300.0)
    xy = net.nodes[["x_m", "y_m"]].to_numpy()
    edge = (xy == xy.min(axis=0)).any(axis=1) | (xy == xy.max(axis=0)).any(axis=1)
    net.nodes["boundary"] = edge
    return net


def test_external_zones_carry_boundary_and_through_traffic() -> None:
    net = _clipped_grid()
    edge = net.nodes["boundary"].to_numpy()
    dist = trip_distribution.trip_distribution(net)
    assert dist.external.sum() == edge.sum()
    assert set(dist.zone_node[dist.external].tolist()) == set(np.flatnonzero(edge).tolist())
    # a 2.7 km extract in a city whose mean trip is ~10 km: most trip ends lie beyond the cut
    assert 0.5 < dist.external_share < 1.0
    trips = demand.generate_trips(net, rng=np.random.default_rng(0), daily_trips=20_000, distribution=dist)
    o_ext = edge[trips["origin"].to_numpy()]
    d_ext = edge[trips["destination"].to_numpy()]
    assert (o_ext & d_ext).mean() == pytest.approx(dist.through_share, abs=0.01)  # through traffic
    assert 0 < dist.through_share < 1
    assert (o_ext ^ d_ext).any()  # traffic to and from the extract
    assert (~o_ext & ~d_ext).any()  # internal traffic
    # without the boundary column nothing is external, and cut nodes are ordinary trip ends
    plain = trip_distribution.trip_distribution(grid(10, spacing_m=300.0))
    assert not plain.external.any()


def test_external_zone_weights_reproduce_the_share_beyond_the_cut() -> None:
    # identity of the construction: weighted by activity, the external zones offer exactly what lies beyond
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 2, 30), rng.uniform(0, 2, 30)
    a = rng.uniform(1, 5, 30)
    ex, ey = np.array([0.0, 2.0, 1.0]), np.array([1.0, 1.0, 0.0])
    cap = np.array([1000.0, 2000.0, 600.0])
    beta, area = 0.16, 4.0
    w, stay = trip_distribution.external_zone_weights(x, y, a, ex, ey, cap, decay_per_km=beta, area_km2=area)
    assert w / w[0] == pytest.approx(cap / cap[0])  # shared by capacity
    d_in = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    f = np.exp(-beta * d_in)
    np.fill_diagonal(f, 0.0)
    beyond = np.maximum(a.sum() / area * 2 * np.pi / beta**2 - f @ a, 0)
    offer = np.exp(-beta * np.hypot(x[:, None] - ex[None, :], y[:, None] - ey[None, :])) @ w
    assert (a * offer).sum() == pytest.approx((a * beyond).sum())
    plane = a.sum() / area * 2 * np.pi / beta**2
    assert stay == pytest.approx((a * (f @ a)).sum() / (a.sum() * plane))
    # no decay, nothing beyond can be told apart: no external weight
    w0, stay0 = trip_distribution.external_zone_weights(x, y, a, ex, ey, cap, decay_per_km=0.0, area_km2=area)
    assert not w0.any() and stay0 == 1.0


def test_through_share_by_hand() -> None:
    # unit square (A = 1 km2, P = 4 km), trips L = pi km: A + L P / pi = 5 segments meet it per unit density, 1
    # starts inside, 1 ends inside, none does both (stay 0): 5 - 2 = 3 through trips per trip that starts inside.
    # If half the gravity trips start inside, through trips are 3 x 0.5 = 1.5 per gravity trip: 1.5 / 2.5 of all
    assert trip_distribution.through_share(np.pi, 1.0, 4.0, 0.0, 0.5) == pytest.approx(0.6)
    # short trips: the share leaving a convex region is L P / (pi A), so with stay = 1 - that nothing crosses
    assert trip_distribution.through_share(0.1, 1.0, 4.0, 1.0 - 0.4 / np.pi, 0.5) == pytest.approx(
        0.0, abs=1e-12
    )
    # longer trips, more through traffic
    assert trip_distribution.through_share(8.2, 1.0, 4.0, 0.0, 0.5) > trip_distribution.through_share(
        np.pi, 1.0, 4.0, 0.0, 0.5
    )


@pytest.mark.parametrize(("length_km", "side_km"), [(3.0, 2.0), (1.0, 2.0), (7.74, 12.0)])
def test_through_share_counts_random_segments(length_km: float, side_km: float) -> None:
    """The Cauchy-Crofton count of :func:`through_share` against segments thrown at random over the plane."""
    rng = np.random.default_rng(7)
    half, n = side_km / 2 + length_km + 1.0, 400_000  # starts in a box around the square, wide enough
    x0, y0 = rng.uniform(-half, half, n), rng.uniform(-half, half, n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    x1, y1 = x0 + length_km * np.cos(angle), y0 + length_km * np.sin(angle)
    h = side_km / 2
    in0 = (np.abs(x0) <= h) & (np.abs(y0) <= h)
    in1 = (np.abs(x1) <= h) & (np.abs(y1) <= h)
    # a segment meets the square where the parameter ranges of its slab crossings overlap (Liang-Barsky)
    lo, hi = np.zeros(n), np.ones(n)
    for a, d in ((x0, x1 - x0), (y0, y1 - y0)):
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (-h - a) / d, (h - a) / d
        lo = np.maximum(lo, np.where(d == 0, np.where(np.abs(a) <= h, 0.0, 2.0), np.minimum(t1, t2)))
        hi = np.minimum(hi, np.where(d == 0, 1.0, np.maximum(t1, t2)))
    through = (lo <= hi) & ~in0 & ~in1
    stay = float((in0 & in1).sum() / in0.sum())
    share = trip_distribution.through_share(length_km, side_km**2, 4 * side_km, stay, 1.0)  # R / (1 + R)
    assert share / (1 - share) == pytest.approx(through.sum() / in0.sum(), rel=0.05)


def test_trip_ends_follow_land_use_where_the_file_has_it() -> None:
    # the hand-made land-use fixture: homes and jobs go where the floor area is, the proxy sets only the totals;
    # without land use (or with none of one kind) the street-frontage proxy stays
    from paths import FIXTURES

    from vision_zero.network.road_network import load_network

    net = load_network(FIXTURES / "land_use.osm")
    home, job = trip_distribution.trip_end_weights(net)
    area_h = net.nodes["home_m2"].to_numpy()
    area_j = net.nodes["job_m2"].to_numpy()
    proxy_h, proxy_j = trip_distribution.trip_end_weights(_without_land_use(net))
    assert home.sum() == pytest.approx(proxy_h.sum()) and job.sum() == pytest.approx(proxy_j.sum())
    np.testing.assert_allclose(home / home.sum(), area_h / area_h.sum())
    np.testing.assert_allclose(job / job.sum(), area_j / area_j.sum())
    assert not np.allclose(home / home.sum(), proxy_h / proxy_h.sum())  # the proxy would put homes elsewhere
    no_homes = _without_land_use(net, keep="job_m2")
    h2, j2 = trip_distribution.trip_end_weights(no_homes)
    np.testing.assert_allclose(h2, proxy_h)
    np.testing.assert_allclose(j2, job)


def _without_land_use(net: object, keep: str | None = None) -> object:
    from dataclasses import replace

    nodes = net.nodes.drop(columns=[c for c in ("home_m2", "job_m2") if c != keep])  # type: ignore[attr-defined]
    return replace(net, nodes=nodes)  # type: ignore[type-var]
