"""The comparison as text: verdicts, the decimals an interval needs, what is said with too few pairs."""

from __future__ import annotations

import math

from compare_fixtures import ECON, runs

from vision_zero.appraisal.compare import compare
from vision_zero.appraisal.compare_text import format_table
from vision_zero.appraisal.economics import InterventionCost


def test_one_pair_asks_for_the_least_reliable_count_not_the_cap() -> None:
    """One pair shows no spread (replications_needed answers its cap): the verdict asks for at least 2 more pairs
    (3 in all, the minimum for a reliable interval), not "+99,999" (a full-demand run with -n 1 printed that)."""
    from vision_zero.appraisal.compare_text import more_pairs, probability_text
    from vision_zero.core.intervals import NEEDED_CAP

    base = runs("baseline", [(2.0, 18.0, 100.0)])
    var = runs("centre-30", [(2.0, 17.24, 100.0)], costs=[InterventionCost("x", 10.0)])
    v = compare(base, [var], economics=ECON).variants[0]
    assert v.replications_needed == NEEDED_CAP and not v.distinguishable
    assert probability_text(v) == "not yet (+≥ 2 reps)"
    assert more_pairs(NEEDED_CAP, 1) == (2, "≥ 2")
    assert more_pairs(5, 2) == (3, "3") and more_pairs(2, 2) == (
        1,
        "1",
    )  # from the observed spread, at least 1


def test_two_pairs_give_no_reliable_interval_nor_probability() -> None:
    """One degree of freedom: two pairs that happen to agree must not read as a certain reduction."""
    from vision_zero.appraisal.compare_text import probability_text
    from vision_zero.core.intervals import replications_needed

    base = runs("baseline", [(2.0, 18.0, 100.0), (6.0, 66.0, 300.0)])
    var = runs("centre-30", [(2.0, 17.24, 100.0), (6.0, 65.17, 300.0)], costs=[InterventionCost("x", 10.0)])
    c = compare(base, [var], economics=ECON)
    v = c.variants[0]
    # the t-interval itself excludes 0 (0.35 to 1.24) and both pairs have fewer KSI ...
    assert v.ksi_avoided.low > 0 and v.share_pairs_fewer_ksi == 1.0
    # ... but from 2 values it is not reliable: nothing is stated
    assert not v.ksi_avoided.reliable and not v.distinguishable
    assert not v.percent_change["ksi"].reliable and not v.bcr.reliable
    assert replications_needed(v.per_pair["diff_ksi"].to_numpy()) == 3  # at least the minimum
    assert probability_text(v) == "not yet (+1 rep)"
    table = format_table(c)
    assert "0.8 (no reliable CI)" in table and "0.4 to 1.2" not in table
    assert "With 2 paired replications no interval is shown" in table and "0.45 to 32 times" in table
    # the baseline's t-interval of deaths reaches below 0, but no interval is shown: no note about a cut at 0
    assert c.baseline.metrics["fatal"].truncated and "cut" not in table and "lower end" not in table


def test_small_effects_are_printed_with_the_decimals_they_need() -> None:
    """A committee misread "KSI avoided 0.0 (0.0 to 0.0)" beside "P(fewer KSI) > 99%" (small schematic network)."""
    from compare_fixtures import runs

    from vision_zero.appraisal.compare_text import interval_digits
    from vision_zero.core.intervals import Interval
    from vision_zero.outputs.report import ReportInputs, render_report

    base = runs("baseline", [(0.05, 0.70, 3.0), (0.05, 0.65, 3.0), (0.05, 0.75, 3.0)])
    var = runs("crossings", [(0.05, 0.68, 3.0), (0.05, 0.63, 3.0), (0.05, 0.72, 3.0)])
    c = compare(base, [var])
    v = c.variants[0]
    assert v.distinguishable and 0.0 < v.ksi_avoided.low < 0.05  # pairs 0.02, 0.02, 0.03: excludes 0
    table = format_table(c)
    assert "0.02 (0.01 to 0.04)" in table and "0.0 (0.0 to 0.0)" not in table
    html = render_report(c, ReportInputs())
    assert "0.02 (0.01 … 0.04)" in html and "0.0 (0.0 … 0.0)" not in html
    # large figures keep their digits; a mean within noise is not printed as 0 either
    assert interval_digits(Interval(5.0, 0.0004, 9.9996, 0.0, 10.0, 5)) == 1
    assert interval_digits(Interval(0.004, -0.5, 0.5, 0.0, 0.0, 2)) == 3
    assert interval_digits(Interval(0.7, 0.3, 1.2, 0.0, 0.0, 3)) == 1
    # a summation residue (crossing-only variant, "elsewhere" 1e-12 KSI: seen in the README's main command as
    # "0.0000 (no reliable CI)") is printed as 0.0
    assert interval_digits(Interval(1e-12, math.nan, math.nan, 0.0, 0.0, 2)) == 1
    assert interval_digits(Interval(-3e-9, -1e-8, 1e-8, 0.0, 0.0, 3)) == 1
