"""Statistics of paired replications beside core's t-interval: a ratio's interval, P(mean < 0), the sd's range.

The comparison (:mod:`vision_zero.appraisal.compare`) and the sweep (:mod:`vision_zero.appraisal.sweep`) read every
per-pair figure through these and :mod:`vision_zero.core.intervals`, so one program is judged by one method.

References
----------
Fieller, E. C. (1954). Some problems in interval estimation. Journal of the Royal Statistical Society B 16(2),
175–185.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy import stats

from vision_zero.core.intervals import FloatArray, Interval, as_floats

__all__ = ["prob_mean_below_zero", "ratio_interval", "ratio_pairs", "sd_range"]


def ratio_pairs(numerator: FloatArray, denominator: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The pairs a ratio is taken over: both values finite and the denominator above 0."""
    keep = np.isfinite(numerator) & np.isfinite(denominator) & (denominator > 0)
    return numerator[keep], denominator[keep]


def ratio_interval(
    numerator: Iterable[float] | FloatArray,
    denominator: Iterable[float] | FloatArray,
    *,
    scale: float = 100.0,
    level: float = 0.95,
) -> Interval:
    """``scale · mean(numerator) / mean(denominator)`` with Fieller's confidence interval (paired values).

    Fieller (1954): the interval is every ``θ`` with ``(x̄ − θ·ȳ)² ≤ t² · var(x̄ − θ·ȳ)``, t with ``n − 1``
    degrees of freedom, i.e. ``a·θ² − 2b·θ + c ≤ 0`` with ``a = ȳ² − t²·s_yy/n``, ``b = x̄·ȳ − t²·s_xy/n``,
    ``c = x̄² − t²·s_xx/n``. When ``a > 0`` (the denominator's own interval excludes 0) it is the bounded
    ``[(b − √(b² − ac)) / a, (b + √(b² − ac)) / a]``; otherwise it is unbounded and returned with infinite bounds
    (not :attr:`Interval.reliable`). It contains 0 exactly when ``c ≤ 0``, i.e. when the t-interval of the
    numerator's mean contains 0: the relative and the absolute interval agree on excluding 0.

    Pairs where either value is not finite, or the denominator is not above 0, are dropped. ``p_low``/``p_high``
    are the percentiles of the per-pair ratios (the comparison replaces them by those of every risk draw's ratio
    where the replications carry their draws: :mod:`vision_zero.appraisal.compare`).
    """
    x, y = as_floats(numerator), as_floats(denominator)
    if x.shape != y.shape:
        raise ValueError(f"ratio_interval: {x.size} numerator values against {y.size} denominator values")
    x, y = ratio_pairs(x, y)
    n = int(x.size)
    nan = float("nan")
    if n == 0:
        return Interval(nan, nan, nan, nan, nan, 0)
    xm, ym = float(x.mean()), float(y.mean())
    ratio = scale * xm / ym
    tail = (1.0 - level) / 2.0
    p_low, p_high = (float(v) for v in np.quantile(scale * x / y, [tail, 1.0 - tail]))
    if n == 1:
        return Interval(ratio, nan, nan, p_low, p_high, 1)
    t2 = float(stats.t.ppf(1.0 - tail, n - 1)) ** 2
    cov = np.cov(x, y, ddof=1)
    a = ym * ym - t2 * float(cov[1, 1]) / n
    b = xm * ym - t2 * float(cov[0, 1]) / n
    c = xm * xm - t2 * float(cov[0, 0]) / n
    if a <= 0.0:
        return Interval(ratio, -math.inf, math.inf, p_low, p_high, n)
    root = math.sqrt(max(b * b - a * c, 0.0))  # ≥ 0 when a > 0: the estimate itself satisfies the inequality
    low, high = scale * (b - root) / a, scale * (b + root) / a
    return Interval(ratio, min(low, ratio), max(high, ratio), p_low, p_high, n)


def prob_mean_below_zero(values: Iterable[float] | FloatArray) -> float:
    """The probability that the expected value of ``values`` is below 0, from the interval's t distribution.

    ``P(T < −mean/se)`` with ``n − 1`` degrees of freedom (the posterior of the mean under a flat prior): above
    97.5% exactly when the 95% t-interval lies below 0. NaN values are dropped; NaN with fewer than two values.
    """
    x = as_floats(values)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n < 2:
        return float("nan")
    mean = float(x.mean())
    se = float(x.std(ddof=1)) / math.sqrt(n)
    if se > 0:
        return float(stats.t.cdf(-mean / se, n - 1))
    return 1.0 if mean < 0 else 0.0


def sd_range(n: int, *, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` range of the true standard deviation over the one observed from ``n`` values (chi-square).

    ``sqrt((n−1) / χ²(1 − tail, n−1)) .. sqrt((n−1) / χ²(tail, n−1))``: with 2 values 0.45 .. 31.9, with 10
    values 0.69 .. 1.83. How much a t-interval's width can be trusted; NaN below 2 values.
    """
    if n < 2:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    df = n - 1
    return (
        math.sqrt(df / float(stats.chi2.ppf(1.0 - tail, df))),
        math.sqrt(df / float(stats.chi2.ppf(tail, df))),
    )
