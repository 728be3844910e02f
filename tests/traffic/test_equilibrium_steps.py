"""The equilibrium's pieces: the MSA step, swaps, gaps and their samples, the plateau rule.

:mod:`vision_zero.traffic._equilibrium_steps`.
"""

from __future__ import annotations

import numpy as np
import pytest
from traffic_fixtures import grid

from vision_zero.traffic.routing import (
    SAME_COST_S,
    RouteChoiceSettings,
    Router,
    gap_plateau,
    gap_switchers,
    msa_step,
    perceived_costs,
    relative_gap,
    route_cost_s,
    sample_origins,
    sampled_relative_gap,
)


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
