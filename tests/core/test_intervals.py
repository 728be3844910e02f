"""Intervals over replications (core.intervals), by hand: the t-interval, the replications a precision needs, and
the one rule for when an interval can be shown, owned by core (every stage above asks it)."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

from vision_zero.core.intervals import (
    MIN_REPLICATIONS_FOR_CI,
    Interval,
    _precision_reached,
    interval,
    mean_interval,
)


def test_one_owner_of_the_reliability_rule() -> None:
    # the run summary (runs) and the comparison (appraisal) use core's objects, not copies of them
    run_summary = importlib.import_module("vision_zero.runs.run_summary")
    compare = importlib.import_module("vision_zero.appraisal.compare")
    assert run_summary.MIN_REPLICATIONS_FOR_CI is MIN_REPLICATIONS_FOR_CI
    assert compare.Interval is Interval and compare.interval is interval


def test_reliable_and_shown_cut() -> None:
    two = interval([0.0, 5.0]).non_negative()
    assert two.truncated and not two.reliable and not two.shown_cut  # cut, but never shown: nothing to say
    three = interval([0.0, 0.0, 5.0]).non_negative()
    assert three.reliable and three.shown_cut and three.low == 0.0
    assert not interval([4.0, 5.0, 6.0]).non_negative().shown_cut
    assert not Interval(1.0, -math.inf, math.inf, 0.0, 2.0, 5).reliable  # unbounded (Fieller): not shown
    assert MIN_REPLICATIONS_FOR_CI == 3


def test_excludes_zero_by_column_is_the_interval_rule_per_column() -> None:
    # the difference maps' per-link rule (outputs.write._within_noise) is Interval.excludes_zero, column by column
    import numpy as np

    from vision_zero.core.intervals import excludes_zero_by_column

    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 4, 10):
        # columns from clearly below 0 to clearly above it
        x = rng.normal(0.0, 1.0, (n, 400)) + np.linspace(-2.0, 2.0, 400)
        got = excludes_zero_by_column(x)
        want = np.array([interval(x[:, j]).excludes_zero for j in range(x.shape[1])])
        assert got.shape == (400,) and (got == want).all()
        assert got.any() == (n >= MIN_REPLICATIONS_FOR_CI)  # some columns do exclude 0 once reliable
        assert not got.all() or n < MIN_REPLICATIONS_FOR_CI
    x[0, 0] = np.nan  # no finite bounds: not excluding 0 (Interval.reliable)
    assert not excludes_zero_by_column(x)[0]


def test_within_noise_unchanged_by_the_shared_interval_rule() -> None:
    # outputs.write._within_noise computed its own t interval before it asked core.intervals: same maps, bit for bit
    import numpy as np
    from scipy import stats

    from vision_zero.outputs.write import _within_noise

    def before(base: dict[int, np.ndarray], variant: dict[int, np.ndarray], m: int) -> np.ndarray:
        common = sorted(set(base) & set(variant))
        if len(common) < MIN_REPLICATIONS_FOR_CI:
            return np.ones(m, dtype=bool)
        d = np.stack([variant[i] - base[i] for i in common])
        n = d.shape[0]
        half = float(stats.t.ppf(0.975, n - 1)) * d.std(axis=0, ddof=1) / math.sqrt(n)
        mean = d.mean(axis=0)
        return np.asarray((mean - half <= 0.0) & (mean + half >= 0.0), dtype=bool)

    rng = np.random.default_rng(11)
    m = 2_000
    for reps in (2, 3, 5, 8):
        base = {i: rng.gamma(2.0, 0.01, m) for i in range(reps)}
        shift = rng.choice([0.0, -0.004, 0.004], m)  # links with no change, a fall, a rise
        variant = {i: b * rng.normal(1.0, 0.2, m) + shift for i, b in base.items()}
        variant[reps + 3] = rng.gamma(2.0, 0.01, m)  # a replication without its pair is left out
        got, want = _within_noise(base, variant, m), before(base, variant, m)
        assert (got == want).all()
        assert reps < MIN_REPLICATIONS_FOR_CI or 0 < int((~got).sum()) < m


def test_interval_known_answer() -> None:
    iv = interval([1.0, 2.0, 3.0])
    # mean 2, sd 1, se 1/sqrt(3), t(0.975, 2) = 4.302652729911275
    half = 4.302652729911275 / math.sqrt(3)
    assert iv.mean == pytest.approx(2.0)
    assert iv.low == pytest.approx(2.0 - half)
    assert iv.high == pytest.approx(2.0 + half)
    assert (iv.p_low, iv.p_high) == pytest.approx((1.05, 2.95))
    assert iv.n == 3


def test_interval_single_value_has_no_ci() -> None:
    iv = interval([4.0])
    assert iv.mean == 4.0 and math.isnan(iv.low) and iv.n == 1


def test_replications_for_a_precision_by_hand() -> None:
    from vision_zero.core.intervals import replications_needed

    x = [9.0, 10.0, 11.0]  # mean 10, sd 1
    assert replications_needed(x) == 3  # excludes 0 already (4.30 / sqrt 3 = 2.48 < 10)
    # ±20%: half-width < 2: n = 3 gives 2.48, n = 4 gives t(0.975, 3) / 2 = 1.59
    assert replications_needed(x, relative=0.2) == 4
    # ±10%: half-width < 1: n = 6 gives 2.571 / 2.449 = 1.05, n = 7 gives 2.447 / 2.646 = 0.92
    assert replications_needed(x, relative=0.1) == 7
    with pytest.raises(ValueError, match="relative"):
        replications_needed(x, relative=0.0)


def test_replications_needed_by_hand() -> None:
    from vision_zero.core.intervals import replications_needed

    # mean 2, sd sqrt(2): n = 4 gives t(0.975, 3) * sqrt(2) / 2 = 3.182 * 0.707 = 2.25 >= 2;
    # n = 5 gives t(0.975, 4) * sqrt(2) / sqrt(5) = 2.776 * 0.632 = 1.756 < 2
    assert replications_needed([1.0, 3.0]) == 5
    assert replications_needed([1.0, 3.0, 1.0, 3.0, 1.0, 3.0]) == 6  # already told apart: the count itself
    assert replications_needed([-1.0, 1.0]) == 100_000  # mean 0: no number of replications tells it apart
    assert replications_needed([2.0]) == 100_000


def test_mean_interval_by_hand() -> None:
    # [1, 2, 3]: mean 2, sd 1, t(0.975, 2) = 4.302653; half width 4.302653 / sqrt(3) = 2.484138
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert lo == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert hi == pytest.approx(2.0 + 2.484138, abs=1e-6)
    m1, lo1, hi1 = mean_interval([5.0])
    assert m1 == 5.0 and math.isnan(lo1) and math.isnan(hi1)


def test_precision_rule_by_hand() -> None:
    # [9, 10, 11]: width 2 * 2.484138 = 4.968 = 49.7 % of the mean 10
    reached, pct = _precision_reached(np.array([9.0, 10.0, 11.0]), 50.0)
    assert reached and pct == pytest.approx(49.68276, rel=1e-5)
    assert not _precision_reached(np.array([9.0, 10.0, 11.0]), 49.0)[0]
    assert not _precision_reached(np.array([10.0, 10.0]), 50.0)[0]  # fewer than 3: never
    assert not _precision_reached(np.array([-1.0, 0.0, 1.0]), 50.0)[0]  # zero mean: never
