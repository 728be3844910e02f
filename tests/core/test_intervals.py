"""One rule for when an interval over replications can be shown, owned by core (every stage above asks it)."""

from __future__ import annotations

import importlib
import math

from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI, Interval, interval


def test_one_owner_of_the_reliability_rule() -> None:
    # the run summary (runs) and the comparison (appraisal) use core's objects, not copies of them
    replications = importlib.import_module("vision_zero.runs.replications")
    compare = importlib.import_module("vision_zero.appraisal.compare")
    assert replications.MIN_REPLICATIONS_FOR_CI is MIN_REPLICATIONS_FOR_CI
    assert compare.Interval is Interval and compare.interval is interval


def test_reliable_and_shown_cut() -> None:
    two = interval([0.0, 5.0]).non_negative()
    assert two.truncated and not two.reliable and not two.shown_cut  # cut, but never shown: nothing to say
    three = interval([0.0, 0.0, 5.0]).non_negative()
    assert three.reliable and three.shown_cut and three.low == 0.0
    assert not interval([4.0, 5.0, 6.0]).non_negative().shown_cut
    assert not Interval(1.0, -math.inf, math.inf, 0.0, 2.0, 5).reliable  # unbounded (Fieller): not shown
    assert MIN_REPLICATIONS_FOR_CI == 3
