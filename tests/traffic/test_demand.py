from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from traffic_fixtures import CITY_AM_VEH_KM, CITY_AM_VEH_KM_INSIDE, SHARE_TOLERANCE, grid, make_network

from vision_zero.core.errors import DataError, InputFileNotFoundError
from vision_zero.core.parameters import load_parameters
from vision_zero.network.road_network import RoadNetwork, load_network, network_from_tables
from vision_zero.traffic import demand
from vision_zero.traffic.periods import Period

P = load_parameters()


def test_default_periods_cover_the_day_and_the_year() -> None:
    periods = demand.default_periods()
    assert [p.name for p in periods] == ["am_peak", "inter_peak", "pm_peak", "night"]
    hours = {"am_peak": 1, "inter_peak": 14, "pm_peak": 1, "night": 8}
    # each period stands for its hours of the day: shares x hours sum to the whole day
    assert sum(p.demand_share * hours[p.name] for p in periods) == pytest.approx(1.0)
    assert sum(p.annual_hours for p in periods) == pytest.approx(24 * 340)
    am = periods[0]
    assert 0.08 <= am.demand_share <= 0.10  # peak hour 8-10% of daily traffic (SCIENCE.md §10)
    assert all(p.duration_s == 3600 for p in periods)


def two_node_road(highway: str = "tertiary") -> object:
    return make_network(
        [(0, 0), (1000, 0)], [(0, 1, 1000.0, 1, 50.0, 600.0), (1, 0, 1000.0, 1, 50.0, 600.0)], highway=highway
    )


def test_default_daily_trips_by_hand() -> None:
    # one 1 km two-way main street: every trip is 1 km, so trips/day = loading per main-road km x 1 km
    net = two_node_road("tertiary")
    assert demand.default_daily_trips(net) == pytest.approx(P.value("demand.vehicle_km_per_main_road_km_day"))
    # no main street: Almaty's loading per km of any road
    local = two_node_road("residential")
    assert demand.default_daily_trips(local) == pytest.approx(P.value("demand.vehicle_km_per_road_km_day"))
    # the loading per km is 5,780 M veh-km / 340 days / 1,125 km (SCIENCE.md §10)
    assert P.value("demand.vehicle_km_per_main_road_km_day") == pytest.approx(5.78e9 / 340 / 1125, rel=1e-3)


def test_default_daily_trips_grow_with_the_network() -> None:
    small, large = grid(4), grid(8)
    assert demand.default_daily_trips(large) > 2 * demand.default_daily_trips(small)


def test_generate_trips_counts_order_and_seed() -> None:
    net = grid(5)
    periods = demand.default_periods()
    trips = demand.generate_trips(net, rng=np.random.default_rng(1), periods=periods, daily_trips=10_000)
    counts = trips.groupby("period", sort=False).size()
    for p in periods:
        assert counts[p.name] == round(10_000 * p.demand_share)
    assert list(trips.columns) == list(demand.TRIP_COLUMNS)
    assert trips["trip"].tolist() == list(range(len(trips)))
    assert (trips["origin"] != trips["destination"]).all()
    for p in periods:
        dep = trips.loc[trips["period"] == p.name, "depart_s"]
        assert dep.is_monotonic_increasing and dep.between(0, p.duration_s).all()
    again = demand.generate_trips(net, rng=np.random.default_rng(1), periods=periods, daily_trips=10_000)
    pd.testing.assert_frame_equal(trips, again)
    other = demand.generate_trips(net, rng=np.random.default_rng(2), periods=periods, daily_trips=10_000)
    assert not trips["origin"].equals(other["origin"])


def test_am_commutes_run_from_homes_to_jobs_and_pm_back() -> None:
    # a residential street (homes) and a primary street (jobs) joined at node 1
    net = make_network(
        [(0, 0), (1000, 0), (2000, 0)],
        [
            (0, 1, 1000.0, 1, 50.0, 600.0),
            (1, 0, 1000.0, 1, 50.0, 600.0),
            (1, 2, 1000.0, 1, 50.0, 600.0),
            (2, 1, 1000.0, 1, 50.0, 600.0),
        ],
        highway=["residential", "residential", "primary", "primary"],
    )
    home, job = demand.trip_end_weights(net)
    assert home[0] > home[2] and job[2] > job[0]
    trips = demand.generate_trips(net, rng=np.random.default_rng(3), daily_trips=20_000)
    am = trips[trips["period"] == "am_peak"]
    pm = trips[trips["period"] == "pm_peak"]
    assert (am["origin"] == 0).mean() > (am["destination"] == 0).mean()
    assert (pm["destination"] == 0).mean() > (pm["origin"] == 0).mean()


def test_read_od_csv_node_ids_and_lat_lon(tmp_path: Path) -> None:
    net = grid(3)
    f = tmp_path / "od.csv"
    f.write_text("origin,destination,period,trips\n0,8,am_peak,2.5\n4,2,night,1\n")
    od = demand.read_od_csv(f, net)
    assert od["origin"].tolist() == [0, 4] and od["trips"].tolist() == [2.5, 1.0]
    nodes = net.nodes
    g = tmp_path / "od_ll.csv"
    g.write_text(
        "origin_lat,origin_lon,destination_lat,destination_lon,period,trips\n"
        f"{nodes.lat[0] + 1e-5},{nodes.lon[0]},{nodes.lat[8]},{nodes.lon[8] - 1e-5},am_peak,3\n"
    )
    od2 = demand.read_od_csv(g, net)
    assert od2["origin"].tolist() == [0] and od2["destination"].tolist() == [8]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("origin,destination,trips\n0,1,2\n", "missing column 'period'"),
        (
            "origin,destination,period,trips\n0,1,am_peak,x\n",
            r"row 2, column 'trips': expected a finite number \(got 'x'\)",
        ),
        (
            "origin,destination,period,trips\n0,99,am_peak,1\n",
            r"row 2, column 'destination': expected a node id 0\.\.8",
        ),
        (
            "origin,destination,period,trips\n0,1,am_peak,-1\n",
            "expected a number of trips from 0 to 1,000,000",
        ),
        ("a,b,period,trips\n0,1,am_peak,1\n", "expected columns origin/destination"),
        (
            "origin_lat,origin_lon,destination_lat,destination_lon,period,trips\n10,10,10,10,am_peak,1\n",
            "row 2: origin .* m from the nearest network node",
        ),
    ],
)
def test_read_od_csv_errors_name_file_row_and_column(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=match) as err:
        demand.read_od_csv(f, grid(3))
    assert str(f) in str(err.value)


def test_read_od_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nope\.csv"):
        demand.read_od_csv(tmp_path / "nope.csv", grid(3))


def test_trips_from_od_rounds_fractions_at_random_with_the_right_mean() -> None:
    od = pd.DataFrame({"origin": [0] * 1000, "destination": [8] * 1000, "period": "am", "trips": 0.3})
    am = Period("am", 8.0, 3600.0, 0.09, 340.0)
    trips = demand.trips_from_od(od, rng=np.random.default_rng(0), periods=(am,))
    assert len(trips) == pytest.approx(300, abs=45)
    with pytest.raises(DataError, match="'pm'"):
        demand.trips_from_od(od.assign(period="pm"), rng=np.random.default_rng(0), periods=(am,))


def crossing_network() -> object:
    # crossing 0 on a primary link, crossing 1 on a residential link (along the links)
    return make_network(
        [(0, 0), (200, 0), (200, 200)],
        [
            (0, 1, 200.0, 2, 60.0, 3000.0),
            (1, 0, 200.0, 2, 60.0, 3000.0),
            (1, 2, 200.0, 1, 20.0, 600.0),
            (2, 1, 200.0, 1, 20.0, 600.0),
        ],
        highway=["primary", "primary", "residential", "residential"],
        crossings=[(-1, 0, 100.0), (-1, 2, 100.0)],
    )


def test_pedestrian_demand_by_road_class_and_time_of_day() -> None:
    net = crossing_network()
    peds = demand.pedestrian_demand(net)
    am = peds[peds["period"] == "am_peak"].set_index("crossing")["peds_per_h"]
    night = peds[peds["period"] == "night"].set_index("crossing")["peds_per_h"]
    ratio_base = P.value("demand.pedestrians_per_hour.arterial") / P.value(
        "demand.pedestrians_per_hour.local"
    )
    land0, land1 = (
        am[0] / P.value("demand.pedestrians_per_hour.arterial"),
        am[1] / P.value("demand.pedestrians_per_hour.local"),
    )
    assert am[0] / am[1] == pytest.approx(ratio_base * land0 / land1)
    assert 0.25 <= land0 <= 4 and 0.25 <= land1 <= 4
    share = {p.name: p.demand_share for p in demand.default_periods()}
    assert night[0] / am[0] == pytest.approx(share["night"] / share["am_peak"])


def test_street_pedestrians_cross_local_streets_at_their_junction_ends() -> None:
    """A 3x3 grid of residential streets: each street segment gets the demand model's local rate x land use at each
    end that is a junction (3+ streets meet; the corners have two), both directions the same pedestrians; arterials
    get none (they are crossed at their mapped crossings)."""
    net = grid(3)
    net = net.with_tables(links=net.links.assign(highway="residential"))
    peds = demand.street_pedestrian_demand(net)
    am = peds[peds["period"] == "am_peak"].set_index("link")["peds_per_h"]
    links = net.links
    land = demand.pedestrian_land_use(net)
    degree = np.bincount(np.concatenate([links["u"], links["v"]]), minlength=9) // 2
    rate = P.value("demand.pedestrians_per_hour.local")
    expected = rate * sum(np.where(degree[links[end]] >= 3, land[links[end]], 0.0) for end in ("u", "v"))
    assert am.sort_index().to_numpy() == pytest.approx(expected)
    assert am[0] == pytest.approx(am[int(links["reverse"][0])])
    night = peds[peds["period"] == "night"].set_index("link")["peds_per_h"]
    share = {p.name: p.demand_share for p in demand.default_periods()}
    assert night[0] / am[0] == pytest.approx(share["night"] / share["am_peak"])
    arterial = net.with_tables(links=links.assign(highway="primary"))
    assert demand.street_pedestrian_demand(arterial).empty


def _with_node_crossings(net: RoadNetwork, nodes: list[int]) -> RoadNetwork:
    """``net`` with an unmarked crossing on each of ``nodes`` (the schematic network's junction crossings)."""
    crossing = np.full(len(net.nodes), "", dtype=object)
    crossing[nodes] = "unmarked"
    return network_from_tables(
        net.nodes.assign(crossing=crossing), net.links, source="test:junction-crossings"
    )


def _am_pedestrians(net: RoadNetwork) -> float:
    """Pedestrians crossing in the AM peak hour: at the mapped crossings, and at the streets' junction ends (each
    street once: its two directions carry the same pedestrians)."""
    at = demand.pedestrian_demand(net)
    streets = demand.street_pedestrian_demand(net)
    return float(
        at.loc[at["period"] == "am_peak", "peds_per_h"].sum()
        + streets.loc[streets["period"] == "am_peak", "peds_per_h"].sum() / 2.0
    )


def test_a_crossing_mapped_at_a_junction_takes_its_streets_pedestrians() -> None:
    """Issue 13: mapping a crossing on a junction node moves the pedestrians who crossed its streets there; it
    neither loses nor makes any. A 3x3 grid of residential streets, crossings on the centre (4 legs) and an edge
    junction (3 legs): each crossing gets the local rate x land use once per leg (the crosswalks of its legs), its
    streets keep the pedestrians at their other, unmapped ends, and the grid's total is unchanged. A junction with
    main-road legs sums each leg's class (arterial legs the arterial rate); a node where two streets meet (an OSM
    crossing node on a street) keeps the one crossing of its highest class."""
    plain = grid(3)
    plain = plain.with_tables(links=plain.links.assign(highway="residential"))
    mapped = _with_node_crossings(plain, [4, 1])
    assert demand.junction_legs(plain).tolist() == [2, 3, 2, 3, 4, 3, 2, 3, 2]
    rate = P.value("demand.pedestrians_per_hour.local")
    land = demand.pedestrian_land_use(plain)
    at = demand.pedestrian_demand(mapped)
    am = at[at["period"] == "am_peak"].set_index("crossing")["peds_per_h"]
    assert am.to_numpy() == pytest.approx([3 * rate * land[1], 4 * rate * land[4]])  # by node
    assert _am_pedestrians(mapped) == pytest.approx(_am_pedestrians(plain))
    # the street from the centre to node 5 keeps its pedestrians at node 5's end, none at the centre's
    streets = demand.street_pedestrian_demand(mapped)
    links = plain.links
    to_5 = int(np.flatnonzero((links["u"] == 4) & (links["v"] == 5))[0])
    row = streets[(streets["period"] == "am_peak") & (streets["link"] == to_5)]
    assert row["peds_per_h"].to_numpy() == pytest.approx([rate * land[5]])

    main = plain.links["u"].isin([3, 4, 5]) & plain.links["v"].isin([3, 4, 5])
    crossroads = _with_node_crossings(
        plain.with_tables(links=plain.links.assign(highway=np.where(main, "secondary", "residential"))),
        [4, 0],
    )
    am = demand.pedestrian_demand(crossroads).query("period == 'am_peak'")["peds_per_h"].to_numpy()
    arterial = P.value("demand.pedestrians_per_hour.arterial")
    assert am == pytest.approx([rate * land[0], (2 * arterial + 2 * rate) * land[4]])


def test_pedestrian_csv_overrides_matching_rows(tmp_path: Path) -> None:
    net = crossing_network()
    peds = demand.pedestrian_demand(net)
    f = tmp_path / "peds.csv"
    f.write_text("crossing,period,peds_per_h\n1,am_peak,500\n")
    out = demand.read_pedestrian_csv(f, peds, n_crossings=2)
    assert len(out) == len(peds)
    got = out.set_index(["crossing", "period"])["peds_per_h"]
    assert got[(1, "am_peak")] == 500
    assert got[(0, "am_peak")] == peds.set_index(["crossing", "period"])["peds_per_h"][(0, "am_peak")]
    f.write_text("crossing,period,peds_per_h\n7,am_peak,500\n")
    with pytest.raises(DataError, match=r"row 2, column 'crossing': expected a crossing id 0\.\.1 \(got 7\)"):
        demand.read_pedestrian_csv(f, peds, n_crossings=2)
    f.write_text("crossing,period,peds_per_h\n1,evening,500\n")
    with pytest.raises(DataError, match="'evening'"):
        demand.read_pedestrian_csv(f, peds, n_crossings=2)


def test_zones_gather_trip_ends_and_keep_total_weight() -> None:
    net = grid(10)
    home, job = demand.trip_end_weights(net)
    zh, zj = demand.zone_weights(net, home, job, max_zones=9)
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
    p = demand.gravity_matrix(w, w, d, decay_per_km=np.log(2))
    assert p.sum() == pytest.approx(1.0)
    assert np.diag(p) == pytest.approx(0.0)
    assert p[0] * 3 == pytest.approx([0.0, 0.8, 0.2])
    # no decay: destinations in proportion to their weight alone
    p0 = demand.gravity_matrix(w, np.array([1.0, 1.0, 3.0]), d, decay_per_km=0.0)
    assert p0[0] * 3 == pytest.approx([0.0, 0.25, 0.75])


def test_calibrate_decay_hits_the_target_mean_distance() -> None:
    dist = demand.trip_distribution(grid(10), decay_per_km=0.0)
    free = dist.mean_distance_km(0.0)
    target = 0.6 * free
    beta = demand.calibrate_decay(dist, target)
    assert beta > 0
    assert dist.mean_distance_km(beta) == pytest.approx(target, rel=1e-3)
    # monotone: steeper decay, shorter trips; a target the map cannot hold gives no decay
    assert dist.mean_distance_km(2 * beta) < target < free
    assert demand.calibrate_decay(dist, 1.1 * free) == 0.0


def test_decay_shortens_generated_trips_and_keeps_seed_determinism() -> None:
    net = grid(10, spacing_m=500.0)  # 4.5 km across
    xy = net.nodes[["x_m", "y_m"]].to_numpy()

    def mean_km(beta: float) -> float:
        d = demand.trip_distribution(net, decay_per_km=beta)
        t = demand.generate_trips(net, rng=np.random.default_rng(5), daily_trips=20_000, distribution=d)
        o, e = t["origin"].to_numpy(), t["destination"].to_numpy()
        return float(np.hypot(*(xy[o] - xy[e]).T).mean() / 1000)

    uniform, almaty, steep = mean_km(0.0), mean_km(P.value("demand.distance_decay_per_km")), mean_km(1.5)
    assert steep < almaty < uniform
    # the sampled trips follow the model's own mean distance
    d = demand.trip_distribution(net, decay_per_km=1.5)
    assert steep == pytest.approx(d.mean_distance_km(), rel=0.05)


def test_calibrate_to_trip_length_hits_a_routed_target() -> None:
    net = grid(10, spacing_m=500.0)
    free, _ = demand.mean_trip_length_km(net, demand.trip_distribution(net, decay_per_km=0.0))
    target = 0.6 * free
    dist = demand.calibrate_to_trip_length(net, target)
    mean, circuity = demand.mean_trip_length_km(net, dist, sample=2000)
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
    dist = demand.trip_distribution(net)
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
    plain = demand.trip_distribution(grid(10, spacing_m=300.0))
    assert not plain.external.any()


def test_external_zone_weights_reproduce_the_share_beyond_the_cut() -> None:
    # identity of the construction: weighted by activity, the external zones offer exactly what lies beyond
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 2, 30), rng.uniform(0, 2, 30)
    a = rng.uniform(1, 5, 30)
    ex, ey = np.array([0.0, 2.0, 1.0]), np.array([1.0, 1.0, 0.0])
    cap = np.array([1000.0, 2000.0, 600.0])
    beta, area = 0.16, 4.0
    w, stay = demand.external_zone_weights(x, y, a, ex, ey, cap, decay_per_km=beta, area_km2=area)
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
    w0, stay0 = demand.external_zone_weights(x, y, a, ex, ey, cap, decay_per_km=0.0, area_km2=area)
    assert not w0.any() and stay0 == 1.0


def test_through_share_by_hand() -> None:
    # unit square (A = 1 km2, P = 4 km), trips L = pi km: A + L P / pi = 5 segments meet it per unit density, 1
    # starts inside, 1 ends inside, none does both (stay 0): 5 - 2 = 3 through trips per trip that starts inside.
    # If half the gravity trips start inside, through trips are 3 x 0.5 = 1.5 per gravity trip: 1.5 / 2.5 of all
    assert demand.through_share(np.pi, 1.0, 4.0, 0.0, 0.5) == pytest.approx(0.6)
    # short trips: the share leaving a convex region is L P / (pi A), so with stay = 1 - that nothing crosses
    assert demand.through_share(0.1, 1.0, 4.0, 1.0 - 0.4 / np.pi, 0.5) == pytest.approx(0.0, abs=1e-12)
    # longer trips, more through traffic
    assert demand.through_share(8.2, 1.0, 4.0, 0.0, 0.5) > demand.through_share(np.pi, 1.0, 4.0, 0.0, 0.5)


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
    share = demand.through_share(length_km, side_km**2, 4 * side_km, stay, 1.0)  # R / (1 + R)
    assert share / (1 - share) == pytest.approx(through.sum() / in0.sum(), rel=0.05)


@pytest.mark.slow
def test_schematic_city_trips_per_day_and_mean_trip_length_match_almaty() -> None:
    """SCIENCE.md §10: 1.56-1.68 M trips a day and a mean trip of ~10.5 km, from the generated trips alone."""
    from vision_zero.network.road_network import load_network

    net = load_network("schematic:almaty?scale=city")
    dist = demand.trip_distribution(net)
    daily = demand.default_daily_trips(net, distribution=dist)
    assert 1.56e6 <= daily <= 1.68e6
    periods = demand.default_periods()
    trips = demand.generate_trips(net, rng=np.random.default_rng(0), periods=periods, distribution=dist)
    # each period's trips x the hours it stands for make up the day
    per_day = sum(
        (trips["period"] == p.name).sum() * p.annual_hours / P.value("demand.weekday_equivalents_per_year")
        for p in periods
    )
    assert 1.56e6 <= per_day <= 1.68e6
    # mean routed length of a day's trips (a sample weighted by the hours each period stands for)
    hours = {p.name: p.annual_hours for p in periods}
    w = trips["period"].map(hours).to_numpy(dtype=float)
    pick = np.random.default_rng(1).choice(len(trips), size=1000, p=w / w.sum())
    km = demand.routed_lengths_km(
        net, trips["origin"].to_numpy()[pick], trips["destination"].to_numpy()[pick]
    )
    target = P.value("demand.almaty.mean_trip_length_km")
    assert np.nanmean(km) == pytest.approx(target, rel=0.2)


# ------------------------------------------------------------------------------------- elastic demand


def _line() -> object:
    """Nodes 0 - 1 - 2 on a line, 1 km apart, two-way."""
    return make_network(
        [(0, 0), (1000, 0), (2000, 0)],
        [
            (0, 1, 1000.0, 1, 50.0, 600.0),
            (1, 2, 1000.0, 1, 50.0, 600.0),
            (1, 0, 1000.0, 1, 50.0, 600.0),
            (2, 1, 1000.0, 1, 50.0, 600.0),
        ],
    )


def _od_trips(pairs: list[tuple[int, int]], n: int) -> pd.DataFrame:
    per = Period("am_peak", 8.0, 3600.0, 0.09, 340.0)
    frames = [
        pd.DataFrame(
            {"period": "am_peak", "origin": o, "destination": d, "depart_s": np.linspace(0, 3599, n)}
        )
        for o, d in pairs
    ]
    return demand._finish_trips(frames, (per,))


def test_elastic_trips_by_hand() -> None:
    # every link twice as slow: each trip's time doubles, so with elasticity -0.5 a share 2^-0.5 = 0.707 of
    # the trips remains (binomial sd over 20,000 trips: 0.003)
    net = _line()
    per = (Period("am_peak", 8.0, 3600.0, 0.09, 340.0),)
    trips = _od_trips([(0, 2)], 20_000)
    ref = np.full(4, 100.0)
    out, gone, added = demand.elastic_trips(
        trips, net, ref, 2 * ref, elasticity=-0.5, periods=per, rng=np.random.default_rng(0)
    )
    assert added == 0 and len(out) == 20_000 - gone
    assert len(out) / 20_000 == pytest.approx(2**-0.5, abs=0.01)
    assert out["trip"].tolist() == list(range(len(out))) and out["depart_s"].is_monotonic_increasing
    # only the second link slowed (100 -> 200 s): 0->2 takes 300 s instead of 200 (ratio 1.5^-0.5 = 0.816),
    # 0->1 is untouched
    trips = _od_trips([(0, 1), (0, 2)], 10_000)
    slow2 = np.array([100.0, 200.0, 100.0, 200.0])
    out, gone, _ = demand.elastic_trips(
        trips, net, ref, slow2, elasticity=-0.5, periods=per, rng=np.random.default_rng(1)
    )
    kept = out.groupby("destination").size()
    assert kept[1] == 10_000
    assert kept[2] / 10_000 == pytest.approx(1.5**-0.5, abs=0.015)
    # faster: time halves, 2^0.5 = 1.414 trips per trip, the extra 0.414 as added copies
    out, gone, added = demand.elastic_trips(
        trips, net, ref, ref / 2, elasticity=-0.5, periods=per, rng=np.random.default_rng(2)
    )
    assert gone == 0 and added / 20_000 == pytest.approx(2**0.5 - 1, abs=0.015)
    # fixed demand and equal costs change nothing
    same, g0, a0 = demand.elastic_trips(
        trips, net, ref, ref, elasticity=-0.5, periods=per, rng=np.random.default_rng(3)
    )
    assert (g0, a0) == (0, 0) and len(same) == len(trips)
    fixed, g1, a1 = demand.elastic_trips(
        trips, net, ref, 2 * ref, elasticity=0.0, periods=per, rng=np.random.default_rng(3)
    )
    assert (g1, a1) == (0, 0) and len(fixed) == len(trips)


def test_congested_link_costs_by_hand_and_the_relative_change_they_give() -> None:
    # link 0 (1 km) took its 3 vehicles 0.05 veh-h each in the AM peak: 60 s each; link 1 saw no one leave it
    # (its expected free-flow time stays); other periods keep free flow
    net = _line()
    am = Period("am_peak", 8.0, 3600.0, 0.09, 340.0)
    night = Period("night", 23.0, 3600.0, 0.01, 340.0)
    ff = np.full(4, 72.0)
    stats = pd.DataFrame(
        {
            "link": [0, 1, 0],
            "period": ["am_peak", "am_peak", "night"],
            "veh_km": [3.0, 0.0, 1.0],
            "veh_h": [0.15, 0.0, 0.02],
        }
    )
    got = demand.congested_link_costs_s(net, stats, ff, (am, night))
    assert got["am_peak"] == pytest.approx([180.0, 72.0, 72.0, 72.0])
    assert got["night"] == pytest.approx([72.0, 72.0, 72.0, 72.0])
    # per-period costs: a trip over links 0 and 1 in the AM peak takes 252 s congested; 72 s more on link 0 is
    # a ratio of 324/252 (not the free-flow 216/144): with elasticity -1, 252/324 = 0.778 of the trips remain
    trips = _od_trips([(0, 2)], 20_000)
    after = {k: v + np.array([72.0, 0.0, 0.0, 0.0]) for k, v in got.items()}
    out, gone, added = demand.elastic_trips(
        trips, net, got, after, elasticity=-1.0, periods=(am, night), rng=np.random.default_rng(0)
    )
    assert added == 0 and len(out) == len(trips) - gone
    assert len(out) / len(trips) == pytest.approx(252 / 324, abs=0.01)
    # the baseline's trip times given (computed once for every variant of a baseline replication): the same trips
    t0 = demand.trip_times_s(trips, net, got)
    assert t0 == pytest.approx(np.full(len(trips), 252.0))
    given = demand.elastic_trips(
        trips,
        net,
        got,
        after,
        elasticity=-1.0,
        periods=(am, night),
        rng=np.random.default_rng(0),
        reference_time_s=t0,
    )
    assert given[0].equals(out) and given[1:] == (gone, added)
    free, gone_ff, _ = demand.elastic_trips(
        trips,
        net,
        ff,
        ff + after["am_peak"] - got["am_peak"],
        elasticity=-1.0,
        periods=(am, night),
        rng=np.random.default_rng(0),
    )
    assert len(free) / len(trips) == pytest.approx(144 / 216, abs=0.01) and gone_ff > gone


def test_elastic_trips_keep_every_other_trips_driver() -> None:
    # common random numbers: a removed trip leaves a gap in the drivers' draw ids, an added one comes after them
    # all, so every trip kept from the baseline gets the baseline's desired-speed draw whatever was removed
    from vision_zero.traffic.simulation import driver_draws

    net = _line()
    per = (Period("am_peak", 8.0, 3600.0, 0.09, 340.0),)
    trips = _od_trips([(0, 1), (0, 2)], 500)
    ref = np.full(4, 100.0)
    z_base = driver_draws(trips, np.random.default_rng(7))
    out, gone, _ = demand.elastic_trips(
        trips,
        net,
        ref,
        np.array([100.0, 300.0, 100.0, 300.0]),
        elasticity=-1.0,
        periods=per,
        rng=np.random.default_rng(1),
    )
    assert gone > 100 and sorted(out["draw"]) == sorted(set(out["draw"]))
    z = driver_draws(out, np.random.default_rng(7))
    key = trips.set_index(["origin", "destination", "depart_s"]).index
    rows = key.get_indexer(pd.MultiIndex.from_frame(out[["origin", "destination", "depart_s"]]))
    assert (rows >= 0).all()
    np.testing.assert_array_equal(z, z_base[rows])  # the same driver as in the baseline, trip by trip
    # added trips draw after every baseline driver; the kept ones still match
    more, _, added = demand.elastic_trips(
        trips, net, ref, ref / 2, elasticity=-0.5, periods=per, rng=np.random.default_rng(2)
    )
    new = more["draw"].to_numpy() >= len(trips)
    assert added == new.sum() > 0
    np.testing.assert_array_equal(
        driver_draws(more, np.random.default_rng(7))[~new], z_base[more["draw"].to_numpy()[~new]]
    )
    # nothing removed or added: the baseline's own table (its traffic may be re-used)
    same, _, _ = demand.elastic_trips(
        trips, net, ref, ref, elasticity=-0.5, periods=per, rng=np.random.default_rng(3)
    )
    assert same is trips


def test_trip_ends_follow_land_use_where_the_file_has_it() -> None:
    # the hand-made land-use fixture: homes and jobs go where the floor area is, the proxy sets only the totals;
    # without land use (or with none of one kind) the street-frontage proxy stays
    from paths import FIXTURES

    from vision_zero.network.road_network import load_network

    net = load_network(FIXTURES / "land_use.osm")
    home, job = demand.trip_end_weights(net)
    area_h = net.nodes["home_m2"].to_numpy()
    area_j = net.nodes["job_m2"].to_numpy()
    proxy_h, proxy_j = demand.trip_end_weights(_without_land_use(net))
    assert home.sum() == pytest.approx(proxy_h.sum()) and job.sum() == pytest.approx(proxy_j.sum())
    np.testing.assert_allclose(home / home.sum(), area_h / area_h.sum())
    np.testing.assert_allclose(job / job.sum(), area_j / area_j.sum())
    assert not np.allclose(home / home.sum(), proxy_h / proxy_h.sum())  # the proxy would put homes elsewhere
    no_homes = _without_land_use(net, keep="job_m2")
    h2, j2 = demand.trip_end_weights(no_homes)
    np.testing.assert_allclose(h2, proxy_h)
    np.testing.assert_allclose(j2, job)


def _without_land_use(net: object, keep: str | None = None) -> object:
    from dataclasses import replace

    nodes = net.nodes.drop(columns=[c for c in ("home_m2", "job_m2") if c != keep])  # type: ignore[attr-defined]
    return replace(net, nodes=nodes)  # type: ignore[type-var]


def test_pm_commutes_respect_one_way_ends_of_a_clipped_extract() -> None:
    """PM commutes are AM commutes reversed: a cut one-way street's end is an origin only if traffic can leave it.

    The shipped Helsinki extract has 20 boundary nodes on one-way streets cut at the box (in-only or out-only);
    before the ends swapped their roles, 15% of the day's trips there had no route (all PM commutes).
    """
    from paths import HELSINKI_PBF

    from vision_zero.network.road_network import load_network

    net = load_network(HELSINKI_PBF)
    n = len(net.nodes)
    has_out = np.bincount(net.links["u"], minlength=n) > 0
    has_in = np.bincount(net.links["v"], minlength=n) > 0
    stubs = net.nodes["boundary"].to_numpy() & (has_out != has_in)
    assert stubs.sum() >= 5  # the case exists in the data
    pm = Period("pm_peak", 17.0, 3600.0, 1.0, 340.0)
    trips = demand.generate_trips(net, rng=np.random.default_rng(3), periods=(pm,), daily_trips=3000.0)
    assert has_out[trips["origin"]].all() and has_in[trips["destination"]].all()
    assert stubs[trips["origin"]].any() or stubs[trips["destination"]].any()


def test_annual_factors_by_hand() -> None:
    import pandas as pd

    from vision_zero.traffic.periods import Period, annual_factors

    periods = (Period("am", 8.0, 3600.0, 0.1, 340.0), Period("night", 2.0, 1800.0, 0.01, 100.0))
    f = annual_factors(pd.Series(["am", "night", "other"]), periods)
    np.testing.assert_allclose(f, [340.0, 200.0, 0.0])  # 100 h of 0.5 h periods; an unknown period counts 0


def test_congestion_index_by_hand() -> None:
    # two arrived trips on the 0-1-2 line, each taking twice its expected free-flow time, and one that did not
    # arrive (ignored): the index is 2
    net = _line()
    free = demand.free_flow_link_cost_s(net)
    t02 = free[0] + free[1]
    trips = pd.DataFrame(
        {
            "origin": [0, 2, 0],
            "destination": [2, 1, 1],
            "travel_time_s": [2 * t02, 2 * free[3], np.nan],
            "completed": [True, True, False],
        }
    )
    assert demand.congestion_index(net, trips) == pytest.approx(2.0)
    assert np.isnan(demand.congestion_index(net, trips.assign(completed=False)))


def test_congestion_index_counts_the_peak_and_no_give_way_delay_that_is_not_simulated(tiny_network) -> None:
    # the free-flow reference holds the give-way delay only when the simulation holds vehicles for it: otherwise
    # an empty network's index would fall below 1 (route choice's give-way cost is spent by no simulated trip)
    from dataclasses import replace

    from vision_zero.traffic.simulation import TrafficSettings, expected_link_cost_s

    st = TrafficSettings.from_parameters()
    assert not st.give_way_in_simulation and st.give_way_delay_s > 0
    ff = demand.free_flow_link_cost_s(tiny_network, st)
    full = expected_link_cost_s(tiny_network, st)
    assert (ff < full - 1.0).any()  # the tiny schematic city has priority junctions
    np.testing.assert_allclose(ff, expected_link_cost_s(tiny_network, replace(st, give_way_delay_s=0.0)))
    held = replace(st, give_way_in_simulation=True)
    np.testing.assert_allclose(demand.free_flow_link_cost_s(tiny_network, held), full)
    # only the AM peak's trips count when the table has them (the period the targets describe)
    net = _line()
    free = demand.free_flow_link_cost_s(net)
    trips = pd.DataFrame(
        {
            "period": ["am_peak", "night"],
            "origin": [0, 0],
            "destination": [2, 2],
            "travel_time_s": [3 * (free[0] + free[1]), free[0] + free[1]],
            "completed": [True, True],
        }
    )
    assert demand.congestion_index(net, trips) == pytest.approx(3.0)
    assert demand.congestion_index(net, trips, period=None) == pytest.approx(2.0)
    assert demand.congestion_index(net, trips, period="night") == pytest.approx(1.0)
    assert demand.congestion_index(net, trips.assign(period="inter_peak")) == pytest.approx(2.0)  # no peak


# --- sub-networks of the schematic city: their part of the city's traffic ----------------------------------------


@pytest.mark.parametrize("preset", ["small", "district"])
def test_sub_network_demand_is_its_part_of_the_citys_veh_km(preset: str) -> None:
    from vision_zero.network.road_network import load_network

    net = load_network(f"schematic:almaty?scale={preset}&seed=0")
    dist = demand.trip_distribution(net, P)
    # cut from the city: traffic to, from and through the rest of it enters and leaves at the cut edges
    assert dist.external.any() and 0.5 < dist.external_share < 1.0 and dist.through_share > 0
    daily = demand.default_daily_trips(net, P, distribution=dist)
    commute = demand.commute_share_of_day(demand.default_periods(P), P)
    mean_km, _ = demand.mean_trip_length_km(net, dist, commute_share=commute)
    city_km = P.value("demand.almaty.vehicle_km_per_year") / P.value("demand.weekday_equivalents_per_year")
    share = daily * mean_km / city_km
    assert share == pytest.approx(CITY_AM_VEH_KM_INSIDE[preset] / CITY_AM_VEH_KM, rel=SHARE_TOLERANCE)
    # the old rule (its area share) is outside the tolerance: the centre carries far more than its area
    assert net.area_share is not None
    assert net.area_share < (1 - SHARE_TOLERANCE) * CITY_AM_VEH_KM_INSIDE[preset] / CITY_AM_VEH_KM


_LOCAL_STREETS = ("residential", "unclassified", "living_street")


def _local_crossings(net: RoadNetwork) -> np.ndarray:
    """Crossings whose vehicles all come from local streets."""
    cl = net.crossing_links
    local = net.links["highway"].isin(_LOCAL_STREETS).to_numpy()[cl["link"].to_numpy(np.int64)]
    by_crossing = pd.Series(local).groupby(cl["crossing"].to_numpy()).all()
    out: np.ndarray = by_crossing.index[by_crossing.to_numpy()].to_numpy(np.int64)
    return out


def test_residential_crossings_carry_the_local_rate_on_osm_and_on_the_schematic() -> None:
    """Where pedestrians cross residential streets, OSM and the schematic network agree: in Helsinki's extract every
    junction where only residential or unclassified streets meet has a ``highway=crossing`` node within 30 m on a leg
    (the measurement behind ``schematic.crossings.local_junction_share``), and the schematic puts its crossings at
    such junctions in that share. On both, each crosswalk of a local street gets the demand model's local rate x
    land use (``demand.pedestrians_per_hour.local``), as the pedestrians crossing a local street's junction end
    where no crossing is mapped (:func:`~vision_zero.traffic.demand.street_pedestrian_demand`): an OSM crossing
    node on one leg that rate, a schematic crossing on the junction node (the crosswalks of all its legs) the rate
    once per leg."""
    from paths import HELSINKI_PBF

    rate = P.value("demand.pedestrians_per_hour.local")
    helsinki = load_network(HELSINKI_PBF)
    small = load_network("schematic:almaty?scale=small&seed=0")
    for net in (helsinki, small):
        crossings = _local_crossings(net)
        assert len(crossings) >= 20
        peds = demand.pedestrian_demand(net)
        am = peds[peds["period"] == "am_peak"].set_index("crossing")["peds_per_h"]
        cr = net.crossings.loc[crossings]
        at = np.where(
            cr["node"].to_numpy() >= 0,
            cr["node"].to_numpy(),
            net.links["u"].to_numpy()[np.maximum(cr["link"].to_numpy(), 0)],
        )
        land = demand.pedestrian_land_use(net)[at]
        legs = demand.junction_legs(net)[at]
        crosswalks = np.where((cr["node"].to_numpy() >= 0) & (legs >= 3), legs, 1)
        assert (crosswalks > 1).any() == (net is small)  # OSM: nodes on a leg; schematic: junction nodes
        np.testing.assert_allclose(am.loc[crossings].to_numpy(), rate * land * crosswalks)

    links = helsinki.links
    u, v, length = (links[c].to_numpy() for c in ("u", "v", "length_m"))
    n = len(helsinki.nodes)
    pair = np.unique(np.sort(np.stack([u, v], axis=1), axis=1), axis=0)
    degree = np.bincount(pair.ravel(), minlength=n)
    ends = np.concatenate([u, v])
    local = pd.Series(np.tile(links["highway"].isin(_LOCAL_STREETS).to_numpy(), 2)).groupby(ends).all()
    junctions = [int(j) for j in local.index[local.to_numpy()] if degree[j] >= 3]
    crossing_nodes = set(helsinki.crossings["node"].to_numpy().tolist())
    served = [
        j
        for j in junctions
        if j in crossing_nodes
        or any(v[k] in crossing_nodes and length[k] <= 30.0 for k in np.flatnonzero(u == j))
    ]
    assert len(junctions) >= 20
    share = P.value("schematic.crossings.local_junction_share")
    assert len(served) / len(junctions) == pytest.approx(share, abs=0.1)


def test_junction_legs_count_the_legs_table_per_node() -> None:
    """The count from the link ends alone equals the legs table's rows per node (its one definition of a leg):
    both directions of a street are one leg, a link from a node to itself is none, parallel links one."""
    for net in (grid(3), load_network("schematic:almaty?scale=tiny&seed=0")):
        links = net.links
        extra = links.iloc[[0, 0]].assign(
            v=[int(links["u"].iloc[0]), int(links["v"].iloc[0])]
        )  # loop, parallel
        for n in (net, net.with_tables(links=pd.concat([links, extra], ignore_index=True))):
            by_table = np.bincount(demand._legs(n)["node"].to_numpy(np.int64), minlength=len(n.nodes))
            np.testing.assert_array_equal(demand.junction_legs(n), by_table)
