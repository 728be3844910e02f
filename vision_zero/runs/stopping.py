"""When a run stops: a fixed number of replications, or a target precision (``--target-ci``) reached in rounds.

``target_ci_pct``: keep adding replications until the 95% interval of the paired KSI difference (baseline minus
variant, per year) is narrower than ``target_ci_pct`` percent of its mean, or ``max_replications`` is reached, or the
target is out of reach (the interval still includes 0 and the observed mean and spread say more than
``max_replications`` pairs would be needed). :func:`rounds_to_precision` is the one stopping rule;
:func:`vision_zero.runs.replications.run_job` and :func:`~vision_zero.runs.replications.run_comparison` apply it.

A pair's value is the mean over its replication's risk draws (``[simulation] risk_draws``,
:mod:`vision_zero.runs.risk_draws`): the interval stays Student t over the pairs, each pair's variance being the
traffic's plus the post-traffic parameters' divided by the number of draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from vision_zero.core.errors import ConfigError
from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI, Precision, precision

__all__ = ["check_stopping_options", "rounds_to_precision"]


def _next_total(n: int, needed: int, *, maximum: int) -> int:
    """How many replications to have next: the pairs the values so far need, at least one more, at most double.

    ``needed`` is :attr:`Precision.needed` (:func:`~vision_zero.core.intervals.replications_needed`: the Student t
    estimate from the observed mean and spread, the "reps for ±20%" column's rule). Depends only on the results
    so far (not on the executor), so a target-precision run stops at the same number of replications wherever it
    runs.
    """
    return min(maximum, min(max(needed, n + 1), 2 * n))


def check_stopping_options(
    replications: int | None, target_ci_pct: float | None, max_replications: int
) -> None:
    """Raise :class:`ConfigError` naming the option: ``--replications``, ``--target-ci``, ``--max-replications``."""
    if replications is not None and replications < 1:
        raise ConfigError(f"--replications: expected an integer >= 1 (got {replications})")
    if target_ci_pct is not None and not (0 < target_ci_pct < 1000):
        raise ConfigError(f"--target-ci: expected a percentage > 0 and < 1000 (got {target_ci_pct})")
    if max_replications < 1:
        raise ConfigError(f"--max-replications: expected an integer >= 1 (got {max_replications})")


def rounds_to_precision(
    series: int,
    *,
    start: int,
    target_ci_pct: float,
    max_replications: int,
    ensure: Callable[[Mapping[int, int]], None],
    values: Callable[[int, int], np.ndarray],
    on_round: Callable[[Mapping[int, int], Mapping[int, Precision]], None] | None = None,
) -> list[Precision]:
    """Add replications in rounds until each of ``series`` series is precise enough: the one stopping rule.

    Round 1 has ``max(MIN_REPLICATIONS_FOR_CI, start)`` replications of every series (at most
    ``max_replications``); after each round every series still running is checked (:func:`precision`) and stops
    when it reached ``target_ci_pct``, is out of reach or has ``max_replications``; each of the others goes on to
    its own next total (:func:`_next_total`: the pairs its observed mean and spread need by the Student t,
    :attr:`Precision.needed`; at least one more, at most double, at most ``max_replications``), all of them in one
    round. A series that needs fewer pairs than another is not given the other's (before 3 December 2026 the
    series still running shared the largest next total). Depends only on the values, so the same results stop at
    the same counts on any executor.

    Parameters
    ----------
    series
        How many series (0 … series-1).
    ensure
        ``ensure(totals)``: make replications 0 … ``totals[i]`` − 1 of each series ``i`` in ``totals`` (the series
        still running) exist, all of the round's together.
    values
        ``values(i, n)``: the n values of series i whose mean must be precise.
    on_round
        Called after each round with the totals and the precision of every series checked in it.

    Returns
    -------
    list[Precision]
        Per series, where it stopped.
    """
    first = min(max(MIN_REPLICATIONS_FOR_CI, start), max_replications)
    totals = dict.fromkeys(range(series), first)
    status: dict[int, Precision] = {}
    while totals:
        ensure(totals)
        checked = {i: precision(values(i, n), target_ci_pct, max_replications) for i, n in totals.items()}
        status.update(checked)
        if on_round is not None:
            on_round(totals, checked)
        totals = {
            i: _next_total(n, checked[i].needed, maximum=max_replications)
            for i, n in totals.items()
            if not (checked[i].reached or checked[i].out_of_reach) and n < max_replications
        }
    return [status[i] for i in range(series)]
