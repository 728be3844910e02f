"""The band phase: a variant's (or a baseline's) boundedly rational switching and its search.

:mod:`vision_zero.traffic._band_phase`, run by :mod:`vision_zero.traffic._route_choice`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from route_choice_fixtures import (
    EXACT,
    HOUR,
    bottleneck_or_detour,
    grid_trips,
    one_hour,
    one_to_one,
    slower_a,
)
from traffic_fixtures import grid, make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic import _route_choice, _router
from vision_zero.traffic.routing import (
    HeldRoutes,
    RouteChoiceSettings,
    Router,
)
from vision_zero.traffic.simulation import (
    VehicleTraffic,
    simulate_vehicles,
)


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

    monkeypatch.setattr(_route_choice, "Router", Counted)

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
    monkeypatch.setattr(_router, "LANDMARKS", 0)
    plain = run()
    log, plain_log = with_bounds.route_choice, plain.route_choice
    assert log["phase"].tolist() == ["equilibrium"] * 3 + ["band"] * 3
    assert log["switched"].sum() > 100
    # every search's settled vertices, the equilibrium's full trees too: 0.81 when written
    assert routers[0].vertices_settled < 0.9 * routers[1].vertices_settled
    pd.testing.assert_frame_equal(log.drop(columns="trees"), plain_log.drop(columns="trees"))
    assert np.array_equal(with_bounds.routes.links, plain.routes.links)
    assert np.array_equal(with_bounds.times.ex, plain.times.ex, equal_nan=True)


def test_the_band_phases_plateau_reads_the_mean_trip_and_arrivals_not_the_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The congested 8x8 grid above, a baseline that hands over after one re-routing iteration, then its band
    # phase; the plateau's mean-trip threshold 1% here. The band phase stops on the plateau of its mean trip and
    # arrived share (band_plateau) at row 7, although the gap rose there by more than plateau_gap_change over row
    # 6 (the rule before 2026-12-03 read it and went on to the cap at row 8: this test failed then). Only the hand-
    # over's rows (1-2: the equilibrium's gap) and the last row have a gap; rows 3-6 have none (NaN: nobody grew
    # the gap sample's trees for them). The band phase's stop does not depend on plateau_gap_change (here 0.1 or 1e-9:
    # the same log); against the phase run to its cap (plateau off), the same rows up to the stop
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
    stops = _counted_runs(monkeypatch, net, trips, rc, routers)()
    log = stops.route_choice
    assert log["phase"].tolist() == ["equilibrium"] * 2 + ["band"] * 6
    assert log["stop_reason"].tolist() == ["", "handover"] + [""] * 5 + ["plateau"]
    gaps = ["relative_gap", "relative_gap_se"]
    assert log[gaps].iloc[3:7].isna().all().all() and log[gaps].drop(index=range(3, 7)).notna().all().all()
    for changed in (
        dataclasses.replace(rc, plateau_gap_change=1e-9),
        dataclasses.replace(rc, plateau_trip_change=0),
    ):
        other = _counted_runs(monkeypatch, net, trips, changed, routers)()
        if changed.plateau_trip_change > 0:  # the gap's threshold is not read by the band phase
            pd.testing.assert_frame_equal(other.route_choice, log)
            assert np.array_equal(other.routes.links, stops.routes.links)
            continue
        capped = other.route_choice  # plateau off: to the cap, row 8
        assert capped["stop_reason"].tolist() == ["", "handover"] + [""] * 6 + ["cap"]
        keep = [c for c in log.columns if c not in (*gaps, "trees", "switched", "stop_reason")]
        pd.testing.assert_frame_equal(capped[keep].iloc[:8], log[keep])
        assert capped["switched"].iloc[7] > 0  # the cap's run went on moving drivers after row 7


def test_a_variant_keeps_its_baseline_routes_within_the_band_and_leaves_them_beyond_it() -> None:
    # 100 trips, no queues: route A (1,000 m) takes 72 s at 50 km/h, route B (1,600 m) 115 s; all on A
    trips = one_to_one(100, 36.0)
    rc = RouteChoiceSettings(
        max_iterations=3, relative_gap_target=0.0, slice_s=900.0, band_relative=0.2, band_min_s=60.0
    )

    def run(net: RoadNetwork, held: HeldRoutes | None) -> VehicleTraffic:
        return one_hour(net, trips, rc, held)

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
    assert (run(slower_a(30.0), held).routes.links < 2).all()
    assert (run(slower_a(30.0), None).routes.links >= 2).all()
    # A at 10 km/h takes 360 s: B saves 245 s, beyond max(20% x 360 s, 60 s); everyone is beyond his band and
    # leaves A by the MSA step (1/2, 1/3, 1/4 of those still beyond it), not all at once; none comes back
    slow = run(slower_a(10.0), held)
    log = slow.route_choice
    assert log["outside_band"].tolist() == [1.0, 0.55, 0.40, 0.32]
    assert log["switched"].tolist() == [45.0, 15.0, 8.0, 0.0]  # binomial draws: 100 x 1/2, 55 x 1/3, 40 x 1/4
    assert int((slow.routes.links[slow.routes.ptr[:-1]] >= 2).sum()) == 68
    assert log["stop_reason"].tolist() == ["", "", "", "cap"]
    # no re-routing allowed: everyone still outside his band at the cap
    capped = simulate_vehicles(
        slower_a(10.0),
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
        return one_hour(net, trips, rc, held)

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


def test_the_band_phase_stops_once_no_more_than_its_tolerance_is_outside_the_band() -> None:
    # the first test's A at 10 km/h: everyone beyond his band at first, fewer after each step (1.0, 0.55, 0.40, 0.32)
    trips = one_to_one(100, 36.0)
    exact = RouteChoiceSettings(
        max_iterations=3, relative_gap_target=0.0, slice_s=900.0, band_relative=0.2, band_min_s=60.0
    )
    held = one_hour(bottleneck_or_detour(), trips, exact, None).held_routes()
    full = one_hour(slower_a(10.0), trips, exact, held).route_choice
    assert full["outside_band"].tolist() == [1.0, 0.55, 0.40, 0.32]
    tolerant = one_hour(
        slower_a(10.0), trips, dataclasses.replace(exact, band_outside_share=0.45), held
    ).route_choice
    # the same simulations up to the first row within the tolerance (0.40 <= 0.45), and a stop there: no further
    # simulation
    assert tolerant["outside_band"].tolist() == [1.0, 0.55, 0.40]
    assert tolerant["switched"].tolist() == [45.0, 15.0, 0.0]
    assert tolerant["stop_reason"].tolist() == ["", "", "band"]
    assert np.isfinite(tolerant["relative_gap"].iloc[-1])  # the last row's recorded gap, as at any stop
    # a tolerance at a row's share stops there too; none (0, the default) only when nobody is outside
    assert (
        len(
            one_hour(
                slower_a(10.0), trips, dataclasses.replace(exact, band_outside_share=0.55), held
            ).route_choice
        )
        == 2
    )


def test_a_variants_trees_stop_at_the_band_and_move_the_same_drivers_as_the_full_search() -> None:
    # a congested grid's baseline, then a variant that slows the middle column: with a sample of 8 of the 25
    # origins, the other origins' trees stop at their drivers' band thresholds; the switchers, routes and
    # simulated times are those of the full search over every origin (gap_sample_origins 0) bit for bit
    net = grid(5, signalised=True)
    trips = grid_trips(6000, 7)
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
        return one_hour(
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
