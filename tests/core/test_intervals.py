"""One rule for when an interval over replications can be shown, owned by core (every stage above asks it)."""

from __future__ import annotations

import importlib
import math

from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI, Interval, interval


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
