"""The 95% interval of a mean over replications, and the one rule for when it can be shown.

Every stage that prints a mean over replications (the run summary in :mod:`vision_zero.runs.replications`, the
comparison's tables, report, charts and sweep in :mod:`vision_zero.appraisal` and :mod:`vision_zero.outputs`)
builds an :class:`Interval` and asks it whether it is :attr:`~Interval.reliable`: an interval from fewer than
:data:`MIN_REPLICATIONS_FOR_CI` values is not. With 2 values the spread has 1 degree of freedom and the 95% range
of the true standard deviation runs from 0.45 to 32 times the observed one, so two values that happen to agree
give a narrow interval that means nothing (:func:`vision_zero.appraisal.paired_stats.sd_range`).

The interval is Student's t with ``n − 1`` degrees of freedom: ``mean ± t(0.975, n−1) · sd / sqrt(n)``
(:func:`t_half_width`; :func:`mean_interval` for one quantity, :func:`excludes_zero_by_column` for many at once,
e.g. every link's change on the difference map).

How many replications a mean needs for a given precision (:func:`replications_needed`), and where a series stands
against a target precision (:func:`precision`, a :class:`Precision`: the stopping rule of ``--target-ci`` in
:func:`vision_zero.runs.stopping.rounds_to_precision` reads it, the comparison's outputs report it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

__all__ = [
    "MIN_REPLICATIONS_FOR_CI",
    "NEEDED_CAP",
    "FloatArray",
    "Interval",
    "Precision",
    "as_floats",
    "excludes_zero_by_column",
    "interval",
    "mean_interval",
    "percentile_range",
    "precision",
    "replications_needed",
    "t_half_width",
]

FloatArray = npt.NDArray[np.float64]

#: An interval from fewer values is not reliable (1 degree of freedom), and a target-precision run starts here.
MIN_REPLICATIONS_FOR_CI = 3


def as_floats(values: Iterable[float] | FloatArray) -> FloatArray:
    """``values`` as a float array (an iterable is read once)."""
    return np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)


def t_half_width(sd: float | FloatArray, n: int, *, level: float = 0.95) -> float | FloatArray:
    """Half the width of the Student-t interval of a mean of ``n`` values: ``t(0.5 + level/2, n − 1) · sd / sqrt(n)``.

    ``sd`` is the sample standard deviation (``ddof=1``), a number or one per column; ``n`` >= 2.
    """
    from scipy import stats

    half: float | FloatArray = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return half


def mean_interval(values: Sequence[float] | FloatArray, *, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided Student-t confidence interval: ``(mean, low, high)``.

    With fewer than two values the interval is undefined and returned as ``(mean, nan, nan)``.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(t_half_width(x.std(ddof=1), x.size, level=level))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% confidence interval (Student-t) and the 2.5–97.5 percentile range.

    Attributes
    ----------
    mean
        Mean over replications (or pairs).
    low, high
        95% confidence interval of the mean, t-based; NaN with one value.
    p_low, p_high
        2.5th and 97.5th percentiles of the per-replication values (the uncertainty range); the comparison takes
        a casualty metric's over every risk draw of every replication (:mod:`vision_zero.appraisal.compare`).
    n
        Number of replications (pairs).
    truncated
        True when ``low`` was cut at 0 (:meth:`non_negative`): the t-interval reached below 0.

    An interval from fewer than ``MIN_REPLICATIONS_FOR_CI`` values, or an unbounded one (a ratio whose
    denominator is not told apart from 0), is not :attr:`reliable`: the outputs print no interval then.
    """

    mean: float
    low: float
    high: float
    p_low: float
    p_high: float
    n: int
    truncated: bool = False

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies inside the confidence interval."""
        return self.low <= x <= self.high

    @property
    def reliable(self) -> bool:
        """Whether the interval can be shown: at least ``MIN_REPLICATIONS_FOR_CI`` values and finite bounds."""
        return self.n >= MIN_REPLICATIONS_FOR_CI and math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def shown_bounds(self) -> tuple[float, float]:
        """``(low, high)`` when the interval is :attr:`reliable`, else ``(nan, nan)``: what a table may show."""
        return (self.low, self.high) if self.reliable else (math.nan, math.nan)

    @property
    def shown_cut(self) -> bool:
        """Whether the interval is shown (:attr:`reliable`) and was cut at 0: the outputs then say so."""
        return self.reliable and self.truncated

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval is :attr:`reliable` and lies wholly above or below 0."""
        return self.reliable and (self.high < 0.0 or self.low > 0.0)

    @property
    def half_width(self) -> float:
        """Half the width of the confidence interval."""
        return (self.high - self.low) / 2.0

    def negated(self) -> Interval:
        """The interval of ``-x`` (e.g. injuries avoided from the difference)."""
        return Interval(-self.mean, -self.high, -self.low, -self.p_high, -self.p_low, self.n)

    def non_negative(self) -> Interval:
        """The interval of a quantity that cannot be negative: a confidence bound below 0 is cut at 0.

        ``truncated`` says whether the lower bound was cut. The percentile range is left as it is (percentiles
        of non-negative values are non-negative already).
        """
        if not (self.low < 0.0):  # also NaN: nothing to cut
            return self
        return replace(self, low=0.0, high=max(self.high, 0.0), truncated=True)


def excludes_zero_by_column(values: FloatArray, *, level: float = 0.95) -> npt.NDArray[np.bool_]:
    """Per column of ``values`` (rows: replications or pairs), :attr:`Interval.excludes_zero` of its mean.

    The rule of :func:`interval` and :attr:`Interval.reliable` for many quantities at once (every link's paired
    change, :func:`vision_zero.outputs.write.write_outputs`' difference maps): with fewer than
    :data:`MIN_REPLICATIONS_FOR_CI` rows no column's interval is reliable, so none excludes 0; a column with a
    non-finite value has no finite bounds and does not either.
    """
    x = np.asarray(values, dtype=float)
    n = x.shape[0]
    if n < MIN_REPLICATIONS_FOR_CI:
        return np.zeros(x.shape[1:], dtype=bool)
    mean = x.mean(axis=0)
    half = t_half_width(x.std(axis=0, ddof=1), n, level=level)
    return np.asarray((mean + half < 0.0) | (mean - half > 0.0), dtype=bool)


def interval(values: Iterable[float] | FloatArray, *, level: float = 0.95) -> Interval:
    """Mean, t-based confidence interval and percentile range of per-replication values.

    Parameters
    ----------
    values
        One value per replication (or per pair of replications). NaN values are dropped.
    level
        Confidence level of the interval and the central share of the percentile range.
    """
    x = as_floats(values)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, nan, nan, 0)
    p_low, p_high = percentile_range(x, level=level)
    mean, low, high = mean_interval(x, level=level)
    return Interval(mean, low, high, p_low, p_high, n)


def percentile_range(values: Iterable[float] | FloatArray, *, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` share of ``values``: their ``(1 − level)/2`` and ``(1 + level)/2`` percentiles.

    Linear interpolation (numpy's default); values of any shape are pooled, NaN and infinite ones dropped;
    ``(nan, nan)`` when none is left. :attr:`Interval.p_low`/``p_high`` (the uncertainty range).
    """
    x = as_floats(values).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    p_low, p_high = (float(v) for v in np.quantile(x, [tail, 1.0 - tail]))
    return p_low, p_high


#: What :func:`replications_needed` returns when no count would do (a mean of 0, or no variance observed).
NEEDED_CAP = 100_000


def replications_needed(
    values: Iterable[float] | FloatArray,
    *,
    relative: float = 1.0,
    level: float = 0.95,
    cap: int = NEEDED_CAP,
) -> int:
    """Paired replications needed for the interval of the mean of ``values`` to be within ``relative`` of it.

    The smallest n, at least ``MIN_REPLICATIONS_FOR_CI``, with ``t(level, n−1) · sd / sqrt(n) < relative · |mean|``,
    taking the observed mean and standard deviation as the truth. ``relative = 1`` (the default): the interval
    excludes 0; ``relative = 0.2``: the interval is within ±20% of the mean. Returns the current count when its
    interval is that narrow already (and reliable), ``cap`` when the mean is 0 or there are fewer than two values
    (no variance observed). A pipeline replication's value is already the mean over its risk draws
    (``[simulation] risk_draws``): the pairs counted here are traffic replications.
    """
    if not relative > 0.0:
        raise ValueError(f"replications_needed: relative must be above 0 (got {relative})")
    x = as_floats(values)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return cap
    mean, sd = abs(float(x.mean())), float(x.std(ddof=1))
    target = relative * mean
    n = max(MIN_REPLICATIONS_FOR_CI, int(x.size))
    if sd == 0.0:
        return n if mean > 0 else cap
    if mean == 0.0:
        return cap
    from scipy import stats

    tail = (1.0 - level) / 2.0
    # grow n until the half-width is below the target (the normal approximation gives the starting point)
    n = max(n, math.ceil(float(stats.norm.ppf(1.0 - tail) * sd / target) ** 2))
    while n < cap and float(stats.t.ppf(1.0 - tail, n - 1)) * sd / math.sqrt(n) >= target:
        n += 1
    return min(n, cap)


def _precision_reached(values: FloatArray, target_ci_pct: float) -> tuple[bool, float]:
    """Whether the 95% interval of ``values``' mean is narrower than ``target_ci_pct`` % of the mean."""
    if values.size < MIN_REPLICATIONS_FOR_CI:
        return False, math.inf
    mean, lo, hi = mean_interval(values)
    width = hi - lo
    if mean == 0.0:
        return False, math.inf
    rel_pct = 100.0 * width / abs(mean)
    return rel_pct < target_ci_pct, rel_pct


@dataclass(frozen=True)
class Precision:
    """Where the mean of one series of replications stands against a target precision.

    The series is a variant's KSI avoided per pair, or a baseline's KSI;
    :func:`vision_zero.runs.stopping.rounds_to_precision` leaves one per series.

    Attributes
    ----------
    target_ci_pct
        The target: the 95% interval's full width in percent of the mean (``--target-ci``; 40 = ±20%).
    max_replications
        The most replications the run could use (``--max-replications``).
    n
        The replications (pairs, for a variant) it stopped at.
    width_pct
        The 95% interval's full width there in percent of the mean (``inf`` with a mean of 0, or with fewer than
        :data:`MIN_REPLICATIONS_FOR_CI` values).
    mean
        The series' mean there (``nan`` without values).
    needed
        Replications the observed mean and spread need for the target (:func:`replications_needed` with
        ``relative = target_ci_pct / 200``; :data:`NEEDED_CAP` when the mean is 0).
    reached
        The width is below the target.
    out_of_reach
        Not reached, the interval includes 0 (the change is not told apart from noise) and ``needed`` is above
        ``max_replications``: more rounds were not run for it.
    """

    target_ci_pct: float
    max_replications: int
    n: int
    width_pct: float
    mean: float
    needed: int
    reached: bool
    out_of_reach: bool = False

    @property
    def stop_reason(self) -> str:
        """``"target-ci"``, ``"out-of-reach"`` or ``"max-replications"``.

        As :attr:`vision_zero.runs.jobs.RunResult.stop_reason` names them.
        """
        if self.reached:
            return "target-ci"
        return "out-of-reach" if self.out_of_reach else "max-replications"


def precision(values: FloatArray, target_ci_pct: float, max_replications: int) -> Precision:
    """Where ``values`` stand against ``target_ci_pct`` (:class:`Precision`)."""
    reached, width = _precision_reached(values, target_ci_pct)
    needed = replications_needed(values, relative=target_ci_pct / 200.0)
    out_of_reach = False
    if not reached and values.size >= MIN_REPLICATIONS_FOR_CI and needed > max_replications:
        _mean, lo, hi = mean_interval(values)
        out_of_reach = bool(lo <= 0.0 <= hi)
    mean = float(values.mean()) if values.size else math.nan
    return Precision(
        target_ci_pct=target_ci_pct,
        max_replications=max_replications,
        n=int(values.size),
        width_pct=width,
        mean=mean,
        needed=needed,
        reached=reached,
        out_of_reach=out_of_reach,
    )
