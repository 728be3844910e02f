from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from traffic_fixtures import CITY_AM_VEH_KM, CITY_AM_VEH_KM_INSIDE, SHARE_TOLERANCE, grid, make_network

from vision_zero.core.errors import DataError
from vision_zero.core.parameters import load_parameters
from vision_zero.traffic import demand, trip_distribution
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
    home, job = trip_distribution.trip_end_weights(net)
    assert home[0] > home[2] and job[2] > job[0]
    trips = demand.generate_trips(net, rng=np.random.default_rng(3), daily_trips=20_000)
    am = trips[trips["period"] == "am_peak"]
    pm = trips[trips["period"] == "pm_peak"]
    assert (am["origin"] == 0).mean() > (am["destination"] == 0).mean()
    assert (pm["destination"] == 0).mean() > (pm["origin"] == 0).mean()


def test_trips_from_od_rounds_fractions_at_random_with_the_right_mean() -> None:
    od = pd.DataFrame({"origin": [0] * 1000, "destination": [8] * 1000, "period": "am", "trips": 0.3})
    am = Period("am", 8.0, 3600.0, 0.09, 340.0)
    trips = demand.trips_from_od(od, rng=np.random.default_rng(0), periods=(am,))
    assert len(trips) == pytest.approx(300, abs=45)
    with pytest.raises(DataError, match="'pm'"):
        demand.trips_from_od(od.assign(period="pm"), rng=np.random.default_rng(0), periods=(am,))


@pytest.mark.slow
def test_schematic_city_trips_per_day_and_mean_trip_length_match_almaty() -> None:
    """SCIENCE.md §10: 1.56-1.68 M trips a day and a mean trip of ~10.5 km, from the generated trips alone."""
    from vision_zero.network.road_network import load_network

    net = load_network("schematic:almaty?scale=city")
    dist = trip_distribution.trip_distribution(net)
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
    km = trip_distribution.routed_lengths_km(
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
    dist = trip_distribution.trip_distribution(net, P)
    # cut from the city: traffic to, from and through the rest of it enters and leaves at the cut edges
    assert dist.external.any() and 0.5 < dist.external_share < 1.0 and dist.through_share > 0
    daily = demand.default_daily_trips(net, P, distribution=dist)
    commute = demand.commute_share_of_day(demand.default_periods(P), P)
    mean_km, _ = trip_distribution.mean_trip_length_km(net, dist, commute_share=commute)
    city_km = P.value("demand.almaty.vehicle_km_per_year") / P.value("demand.weekday_equivalents_per_year")
    share = daily * mean_km / city_km
    assert share == pytest.approx(CITY_AM_VEH_KM_INSIDE[preset] / CITY_AM_VEH_KM, rel=SHARE_TOLERANCE)
    # the old rule (its area share) is outside the tolerance: the centre carries far more than its area
    assert net.area_share is not None
    assert net.area_share < (1 - SHARE_TOLERANCE) * CITY_AM_VEH_KM_INSIDE[preset] / CITY_AM_VEH_KM
