"""Statistics of paired replications: Fieller's interval of a ratio of means against the absolute interval."""

from __future__ import annotations

import numpy as np
import pytest
from compare_fixtures import ECON, runs

from vision_zero.appraisal.compare import compare


def test_absolute_and_relative_intervals_agree_on_excluding_zero() -> None:
    """The centre-30 case of session 6: the baseline varies a lot between pairs, the difference hardly.

    The mean of per-pair percentages (the old percent change) has an interval that contains 0 while KSI avoided
    excludes it; Fieller's interval of the ratio of means excludes 0 exactly when KSI avoided does.
    """
    from vision_zero.appraisal.paired_stats import ratio_interval
    from vision_zero.core.intervals import interval

    b = np.array([30.0, 62.0, 46.0])  # its own interval excludes 0 (46 ± 39.7): the ratio is bounded
    d = np.array([-1.0, -0.6, -0.8])
    base = runs("baseline", [(0.0, x, 0.0) for x in b])
    var = runs("centre-30", [(0.0, x + e, 0.0) for x, e in zip(b, d, strict=True)])
    v = compare(base, [var], economics=ECON).variants[0]
    assert v.ksi_avoided.excludes_zero and v.ksi_avoided.low > 0
    assert interval(100.0 * d / b).contains(0.0)  # the old quantity would have said "uncertain"
    pct = v.percent_change["ksi"]
    assert pct.reliable and pct.excludes_zero and pct.high < 0.0
    assert pct.mean == pytest.approx(100.0 * d.mean() / b.mean())
    # and over many random cases, each side of the line: the two agree every time
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(3, 8))
        bb = rng.uniform(20.0, 80.0, n)
        dd = rng.normal(rng.normal(0.0, 1.0), rng.uniform(0.1, 2.0), n)
        abs_iv, rel_iv = interval(dd), ratio_interval(dd, bb)
        if rel_iv.reliable:
            assert abs_iv.excludes_zero == rel_iv.excludes_zero
