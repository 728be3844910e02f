"""Paired comparison of scenarios: differences, probabilities and money from the replications, by hand."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from compare_fixtures import BASE, ECON, runs

from vision_zero.appraisal.compare import ScenarioRuns, compare
from vision_zero.appraisal.compare_text import format_table
from vision_zero.appraisal.economics import InterventionCost
from vision_zero.core.errors import DataError
from vision_zero.core.intervals import interval
from vision_zero.core.parameters import load_parameters
from vision_zero.risk.crash_model import SEVERITIES
from vision_zero.runs.risk_draws import RISK_DRAW_COLUMNS


def test_identical_scenarios_difference_contains_zero_and_is_narrow() -> None:
    base = runs("baseline", BASE)
    same = runs("same", BASE)
    c = compare(base, [same], economics=ECON)
    d = c.variants[0].difference["ksi"]
    assert d.contains(0.0)
    assert d.half_width == pytest.approx(0.0, abs=1e-12)
    # the scenario's own interval is wide: pairing is what makes the difference narrow
    assert c.baseline.metrics["ksi"].half_width > 1.0
    assert c.variants[0].prob_reduces_ksi == 0.0
    assert c.variants[0].npv.mean == pytest.approx(0.0)


def test_common_noise_cancels_in_pairs() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3, size=10)
    base = runs("baseline", [(2.0, 20.0 + e, 100.0) for e in noise])
    var = runs("variant", [(2.0, 18.0 + e + 0.01 * k, 100.0) for k, e in enumerate(noise)])
    v = compare(base, [var], economics=ECON).variants[0]
    assert v.difference["serious"].contains(-2.0 + 0.045)
    assert v.difference["serious"].half_width < 0.05
    assert v.ksi_avoided.mean == pytest.approx(2.0 - 0.045)
    assert v.prob_reduces_ksi == 1.0


def test_cost_only_variant_leaves_benefit_unchanged() -> None:
    base = runs("baseline", BASE)
    cheap = runs("cheap", BASE, costs=[InterventionCost("paint", capital=100.0)])
    dear = runs("dear", BASE, costs=[InterventionCost("paint", capital=5000.0, annual=10.0)])
    c = compare(base, [cheap, dear], economics=ECON)
    for v in c.variants:
        assert v.safety_benefit_pv.mean == pytest.approx(0.0)
        assert v.safety_benefit_pv.half_width == pytest.approx(0.0)
        assert v.npv.mean == pytest.approx(-v.cost_pv)
    assert c.variants[1].cost_pv == pytest.approx(5000.0 + 10.0 * (1 / 1.05 + 1 / 1.05**2))


def test_npv_and_bcr_by_hand() -> None:
    base = runs("baseline", [(2.0, 10.0, 100.0)] * 3, veh_h=[1000.0] * 3)
    var = runs(
        "variant",
        [(1.0, 8.0, 90.0)] * 3,
        veh_h=[1050.0] * 3,
        costs=[InterventionCost("humps", capital=1000.0, annual=100.0)],
    )
    v = compare(base, [var], economics=ECON).variants[0]
    a = 1 / 1.05 + 1 / 1.05**2  # 1.8594104308
    benefit = 1 * 1000.0 + 2 * 250.0 + 10 * 10.0  # 1600 per year
    tt = 50.0 * 2.0  # 100 per year
    cost = 1000.0 + 100.0 * a
    assert v.travel_time_cost.mean == pytest.approx(tt)
    assert v.safety_benefit_pv.mean == pytest.approx(a * benefit)
    assert v.cost_pv == pytest.approx(cost)
    assert v.npv.mean == pytest.approx(a * (benefit - tt) - cost)  # 1603.17...
    assert v.npv.mean == pytest.approx(1603.1746, rel=1e-6)
    assert v.bcr.mean == pytest.approx(a * (benefit - tt) / cost)
    assert v.percent_change["ksi"].mean == pytest.approx(-25.0)
    assert v.difference["ksi_pedestrian"].mean == pytest.approx(-3 * 0.4)


def test_zero_cost_gives_nan_bcr() -> None:
    v = compare(runs("b", BASE), [runs("v", BASE)], economics=ECON).variants[0]
    assert math.isnan(v.bcr.mean)


def test_probability_of_reduction_comes_from_the_t_distribution_of_the_interval() -> None:
    base = runs("baseline", [(1.0, 10.0, 50.0)] * 4)
    var = runs("variant", [(1.0, 9.0, 50.0), (1.0, 8.0, 50.0), (1.0, 11.0, 50.0), (1.0, 9.5, 50.0)])
    v = compare(base, [var], economics=ECON).variants[0]
    # d = -1, -2, +1, -0.5: mean -0.625, sd 1.25, se 0.625, T = 1 with 3 degrees of freedom:
    # F(1) = 1/2 + (1/pi) * ((1/sqrt 3) / (1 + 1/3) + atan(1/sqrt 3)) = 0.80450
    assert v.prob_reduces_ksi == pytest.approx(0.5 + ((1 / math.sqrt(3)) / (4 / 3) + math.pi / 6) / math.pi)
    assert v.share_pairs_fewer_ksi == pytest.approx(0.75)  # 3 of 4 pairs: descriptive, kept beside it
    assert not v.distinguishable and v.difference["ksi"].contains(0.0)


def test_three_pairs_by_hand_every_headline_figure_from_the_same_t_distribution() -> None:
    """KSI avoided, its probability and its percent change: one per-pair quantity, t with 2 degrees of freedom."""
    from vision_zero.appraisal.compare_text import format_probability, probability_text

    t2 = 4.302652729911275  # t(0.975, 2)
    base = runs("baseline", [(0.0, 40.0, 0.0), (0.0, 50.0, 0.0), (0.0, 60.0, 0.0)])
    var = runs("variant", [(0.0, 37.0, 0.0), (0.0, 46.0, 0.0), (0.0, 55.0, 0.0)])  # d = -3, -4, -5
    v = compare(base, [var], economics=ECON).variants[0]
    half = t2 * 1.0 / math.sqrt(3)  # sd 1
    ksi = v.ksi_avoided
    assert (ksi.mean, ksi.low, ksi.high) == pytest.approx((4.0, 4.0 - half, 4.0 + half))
    assert ksi.reliable and v.distinguishable and ksi.low > 0
    # P(mean difference < 0), T = 4 / (1/sqrt 3) with 2 df: F(t) = 1/2 + t / (2 sqrt(2 + t^2)) = 0.98990
    t = 4.0 * math.sqrt(3)
    assert v.prob_reduces_ksi == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)))
    assert probability_text(v) == "99%" == format_probability(v.prob_reduces_ksi)
    # percent: -4 / 50 = -8%; Fieller's bounds are where the t-test of d - theta * b is exactly at t(0.975, 2)
    pct = v.percent_change["ksi"]
    assert pct.mean == pytest.approx(-8.0)
    d, b = np.array([-3.0, -4.0, -5.0]), np.array([40.0, 50.0, 60.0])
    for bound in (pct.low, pct.high):
        z = d - bound / 100.0 * b
        assert abs(z.mean()) == pytest.approx(t2 * z.std(ddof=1) / math.sqrt(3))
    assert pct.low < -8.0 < pct.high < 0.0  # excludes 0 like the KSI interval


def test_the_comparison_states_the_replications_for_the_decision_precision() -> None:
    p = load_parameters()["appraisal.ksi_precision_pct"]
    assert p.value == 20.0 and p.unit == "%" and "#16" in p.source
    base = runs("baseline", [(0.0, 40.0, 0.0), (0.0, 50.0, 0.0), (0.0, 60.0, 0.0)])
    var = runs("variant", [(0.0, 31.0, 0.0), (0.0, 40.0, 0.0), (0.0, 49.0, 0.0)])  # d = -9, -10, -11
    c = compare(base, [var], economics=ECON)
    v = c.variants[0]
    assert v.precision_pct == 20.0 and v.replications_for_precision == 4
    assert c.headline_frame().iloc[0]["replications_for_precision"] == 4
    table = format_table(c)
    assert "reps for ±20%" in table and "--target-ci 40" in table


def test_pairs_need_common_indices_and_seeds() -> None:
    base = runs("baseline", BASE)
    var = runs("variant", BASE)
    shifted = type(var)(
        name="variant",
        replications=[
            r.__class__(**{**r.__dict__, "replication": r.replication + 10}) for r in var.replications
        ],
    )
    with pytest.raises(DataError, match="no replication index in common"):
        compare(base, [shifted], economics=ECON)
    reseeded = type(var)(
        name="variant", replications=[r.__class__(**{**r.__dict__, "seed": 99}) for r in var.replications]
    )
    with pytest.raises(DataError, match="common random numbers"):
        compare(base, [reseeded], economics=ECON)


def test_scenario_intervals_of_counts_are_cut_at_zero_differences_are_not() -> None:
    from vision_zero.core.i18n import text
    from vision_zero.outputs.report import ReportInputs, render_report

    TRUNCATION_NOTE = text("truncated_note", "en")

    # deaths 0, 0, 5: mean 5/3, sd 5/sqrt(3), se 5/3, t(0.975, 2) = 4.302652729911275 -> low < 0 before the cut
    raw = interval([0.0, 0.0, 5.0])
    t = 4.302652729911275
    assert raw.low == pytest.approx(5 / 3 - t * 5 / 3) and raw.low < 0 and not raw.truncated
    cut = raw.non_negative()
    assert cut.low == 0.0 and cut.high == pytest.approx(5 / 3 + t * 5 / 3) and cut.truncated
    assert (cut.mean, cut.p_low, cut.p_high, cut.n) == (raw.mean, raw.p_low, raw.p_high, raw.n)
    assert interval([4.0, 5.0, 6.0]).non_negative() == interval([4.0, 5.0, 6.0])  # low 2.52: nothing to cut
    assert not interval([4.0]).non_negative().truncated  # no interval (NaN) is not cut

    base = runs("baseline", [(0.0, 10.0, 100.0), (0.0, 12.0, 110.0), (5.0, 11.0, 104.0)])
    var = runs("v", [(0.0, 10.0, 100.0), (0.0, 12.0, 110.0), (0.0, 11.0, 104.0)])
    c = compare(base, [var], economics=ECON)
    fatal = c.baseline.metrics["fatal"]
    assert fatal.low == 0.0 and fatal.truncated and c.baseline.truncated
    # the difference (variant - baseline: 0, 0, -5) keeps its signed interval: it reaches above 0
    d = c.variants[0].difference["fatal"]
    assert d.high == pytest.approx(-5 / 3 + t * 5 / 3) and d.high > 0 and not d.truncated
    avoided = c.variants[0].ksi_avoided
    assert avoided.low < 0
    frame = c.scenarios_frame().set_index(["scenario", "metric"])
    assert (
        frame.loc[("baseline", "fatal"), "low"] == 0.0 and frame.loc[("baseline", "fatal"), "low_truncated"]
    )
    assert not frame.loc[("baseline", "serious"), "low_truncated"]
    table = format_table(c)
    assert TRUNCATION_NOTE in table and "(0.0 to" in table and "(-" in table  # KSI avoided stays signed
    assert "lower end is shown as 0" in render_report(c, ReportInputs())
    # no cut, no note
    plain = compare(runs("baseline", BASE), [runs("v", BASE)], economics=ECON)
    assert not any(s.truncated for s in plain.scenarios)
    assert TRUNCATION_NOTE not in format_table(plain) and "shown as 0" not in render_report(
        plain, ReportInputs()
    )


def _draws_table(draws: list[tuple[float, float, float]]) -> pd.DataFrame:
    """A replication's risk draws (``draws_table`` layout) from per-draw (fatal, serious, slight), 40% pedestrians."""
    rows = []
    for j, totals in enumerate(draws):
        for sev, tot in zip(SEVERITIES, totals, strict=True):
            for ru, share in (("pedestrian", 0.4), ("occupant", 0.6)):
                rows.append((j, f"{sev}.{ru}", 1.0, tot * share, tot * share))
    return pd.DataFrame(rows, columns=list(RISK_DRAW_COLUMNS))


def _with_draws(name: str, draws: list[list[tuple[float, float, float]]], **kwargs: Any) -> ScenarioRuns:
    """Runs whose replication i has the risk draws ``draws[i]`` and, as the pipeline writes it, their mean as summary."""
    means = [tuple(float(x) for x in np.mean(d, axis=0)) for d in draws]
    sr = runs(name, means, **kwargs)  # type: ignore[arg-type]
    reps = [replace(r, risk_draws=_draws_table(d)) for r, d in zip(sr.replications, draws, strict=True)]
    return replace(sr, replications=reps)


def _without_draws(sr: ScenarioRuns) -> ScenarioRuns:
    return replace(sr, replications=[replace(r, risk_draws=None) for r in sr.replications])


# 3 replications x 4 risk draws of (fatal, serious, slight) per year; the variant lowers each draw by its own amount
_B_DRAWS = [
    [(2.0, 10.0, 100.0), (1.0, 6.0, 80.0), (3.0, 15.0, 120.0), (2.0, 11.0, 101.0)],
    [(2.5, 12.0, 110.0), (1.5, 9.0, 90.0), (4.0, 16.0, 130.0), (2.0, 10.0, 104.0)],
    [(1.0, 9.0, 95.0), (2.0, 7.0, 85.0), (1.5, 14.0, 115.0), (3.5, 13.0, 99.0)],
]
_CUTS = [[(0.5, 2.0, 5.0), (0.0, 0.5, 1.0), (1.5, 6.0, 12.0), (0.2, 1.0, 4.0)]] * 3
_V_DRAWS = [
    [tuple(b - c for b, c in zip(bd, cd, strict=True)) for bd, cd in zip(rep, cuts, strict=True)]
    for rep, cuts in zip(_B_DRAWS, _CUTS, strict=True)
]


def test_uncertainty_range_is_over_every_draw_of_every_pair_by_hand() -> None:
    costs = [InterventionCost("humps", capital=1000.0)]
    veh_h = [1000.0, 1010.0, 990.0]
    base = _with_draws("baseline", _B_DRAWS, veh_h=veh_h)
    var = _with_draws("variant", _V_DRAWS, veh_h=[1020.0, 1015.0, 1000.0], costs=costs)
    c = compare(base, [var], economics=ECON)
    old = compare(_without_draws(base), [_without_draws(var)], economics=ECON)  # the ranges of the pair means
    v, o = c.variants[0], old.variants[0]
    b_arr, v_arr = np.array(_B_DRAWS), np.array(_V_DRAWS)  # replication x draw x severity
    d_arr = v_arr - b_arr
    pct = [2.5, 97.5]
    ksi_b, ksi_d = b_arr[..., 0] + b_arr[..., 1], d_arr[..., 0] + d_arr[..., 1]
    # one scenario: its 12 draw values; a variant: the 12 per-draw differences (same draw j in both)
    assert [c.baseline.metrics["ksi"].p_low, c.baseline.metrics["ksi"].p_high] == pytest.approx(
        np.percentile(ksi_b.ravel(), pct), rel=1e-12
    )
    assert [v.difference["ksi"].p_low, v.difference["ksi"].p_high] == pytest.approx(
        np.percentile(ksi_d.ravel(), pct), rel=1e-12
    )
    assert [v.ksi_avoided.p_low, v.ksi_avoided.p_high] == pytest.approx(
        np.percentile(-ksi_d.ravel(), pct), rel=1e-12
    )
    assert [v.difference["fatal_pedestrian"].p_low, v.difference["fatal_pedestrian"].p_high] == pytest.approx(
        np.percentile(0.4 * d_arr[..., 0].ravel(), pct), rel=1e-12
    )
    ratio = 100 * ksi_d / ksi_b
    assert [v.percent_change["ksi"].p_low, v.percent_change["ksi"].p_high] == pytest.approx(
        np.percentile(ratio.ravel(), pct), rel=1e-12
    )
    # money from each draw's casualties with the pair's travel time (the same at every draw)
    a = ECON.annuity
    benefit = -(d_arr[..., 0] * 1000.0 + d_arr[..., 1] * 250.0 + d_arr[..., 2] * 10.0)
    tt = (np.array([1020.0, 1015.0, 1000.0]) - np.array(veh_h)) * 2.0
    npv = a * benefit - a * tt[:, None] - 1000.0
    assert [v.npv.p_low, v.npv.p_high] == pytest.approx(np.percentile(npv.ravel(), pct), rel=1e-12)
    assert [v.bcr.p_low, v.bcr.p_high] == pytest.approx(np.percentile((npv.ravel() + 1000.0) / 1000.0, pct))
    assert [v.safety_benefit_pv.p_low, v.safety_benefit_pv.p_high] == pytest.approx(
        np.percentile(a * benefit.ravel(), pct), rel=1e-12
    )
    # traffic does not vary across risk draws: its range, and every mean and confidence interval, is the pairs'
    assert v.difference["veh_h"] == o.difference["veh_h"] and v.travel_time_cost == o.travel_time_cost
    assert c.baseline.metrics["veh_h"] == old.baseline.metrics["veh_h"]
    for key in ("ksi", "fatal", "slight_occupant"):
        for new_iv, old_iv in (
            (v.difference[key], o.difference[key]),
            (v.percent_change[key], o.percent_change[key]),
        ):
            assert (new_iv.mean, new_iv.low, new_iv.high, new_iv.n) == (
                old_iv.mean,
                old_iv.low,
                old_iv.high,
                old_iv.n,
            )
    assert (v.npv.mean, v.npv.low, v.npv.high) == (o.npv.mean, o.npv.low, o.npv.high)
    # the draws' range is wider than the pair means' (which shrinks with the number of draws)
    assert v.ksi_avoided.p_low < o.ksi_avoided.p_low and v.ksi_avoided.p_high > o.ksi_avoided.p_high
    assert c.baseline.metrics["ksi"].p_high - c.baseline.metrics["ksi"].p_low > (
        old.baseline.metrics["ksi"].p_high - old.baseline.metrics["ksi"].p_low
    )


def test_a_variant_with_fewer_draws_pairs_the_draws_both_have() -> None:
    base = _with_draws("baseline", _B_DRAWS)
    var = _with_draws("variant", [rep[:2] for rep in _V_DRAWS])  # risk_draws = 2 against the baseline's 4
    c = compare(base, [var], economics=ECON)
    b_arr, v_arr = np.array(_B_DRAWS), np.array(_V_DRAWS)[:, :2]
    ksi_d = (v_arr - b_arr[:, :2])[..., :2].sum(axis=-1)
    d = c.variants[0].difference["ksi"]
    assert [d.p_low, d.p_high] == pytest.approx(np.percentile(ksi_d.ravel(), [2.5, 97.5]), rel=1e-12)
    ksi_b = b_arr[..., :2].sum(axis=-1)  # the baseline's own range: all its 4 draws
    assert c.baseline.metrics["ksi"].p_low == pytest.approx(np.percentile(ksi_b.ravel(), 2.5), rel=1e-12)


def test_one_risk_draw_gives_the_ranges_of_the_replications_as_before() -> None:
    costs = [InterventionCost("humps", capital=1000.0)]
    one_b = _with_draws("baseline", [rep[:1] for rep in _B_DRAWS])
    one_v = _with_draws("variant", [rep[:1] for rep in _V_DRAWS], costs=costs)
    c = compare(one_b, [one_v], economics=ECON)
    old = compare(_without_draws(one_b), [_without_draws(one_v)], economics=ECON)
    pd.testing.assert_frame_equal(c.to_frame(), old.to_frame())
    pd.testing.assert_frame_equal(c.scenarios_frame(), old.scenarios_frame())
    # and they are those of the replications' values
    ksi_d = np.array([rep[0][0] + rep[0][1] for rep in _V_DRAWS]) - [
        rep[0][0] + rep[0][1] for rep in _B_DRAWS
    ]
    assert c.variants[0].difference["ksi"].p_low == pytest.approx(np.percentile(ksi_d, 2.5))
