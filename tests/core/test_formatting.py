"""The one wording of a number and a target precision (``run``'s summary, ``compare``'s table and report)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vision_zero.core.formatting import format_number, precision_line, replications_text
from vision_zero.core.i18n import LANGUAGES
from vision_zero.core.intervals import NEEDED_CAP, precision


def test_format_number_by_hand() -> None:
    assert format_number(-0.01) == "0.0" and format_number(-0.2) == "-0.2"
    assert format_number(12_345.6) == "12,346"
    assert format_number(2_500_000.0, 0) == "2M" and format_number(2_500_000.0, 0, million_digits=1) == "2.5M"
    assert format_number(math.inf) == "–"


def test_replications_text_at_the_cap() -> None:
    assert replications_text(7, 3, 1.0) == "7"
    assert replications_text(NEEDED_CAP, 3, 0.5) == "≥ 100,000"
    assert replications_text(NEEDED_CAP, 1, 0.5) == "–"  # no spread observed
    assert replications_text(NEEDED_CAP, 3, 0.0) == "–"  # nothing to be precise about


def test_reached_after_pairs_and_after_replications() -> None:
    # [8, 12, 10]: mean 10, sd 2, t(0.975, 2) = 4.302653: width 2 * 4.302653 * 2 / sqrt(3) / 10 = 99.4% of the mean
    where = precision(np.array([8.0, 12.0, 10.0]), 100.0, 10)
    assert where.reached and where.mean == 10.0
    assert (
        precision_line(where, "slow") == "slow: ±50% reached after 3 pairs (interval width 99% of the mean)."
    )
    assert precision_line(where, "base", paired=False) == (
        "base: ±50% reached after 3 replications (interval width 99% of the mean)."
    )


def test_a_small_nonzero_mean_is_not_called_mean_0() -> None:
    # mean 0.04 with a large spread: the count reaches the cap. The run summary said "no end in sight (mean 0)"
    # here before it shared this sentence with compare; the mean is not 0, the count is at least the cap.
    where = precision(np.array([1.0, -0.9, 0.1, 2.0, -2.0]), 10.0, 5)
    assert where.stop_reason == "out-of-reach" and where.needed == NEEDED_CAP and where.mean != 0.0
    line = precision_line(where, "signs")
    assert line == (
        "signs: ±5% NOT reached: after 5 pairs its KSI avoided is not told apart from 0 and it would need "
        "≥ 100,000 pairs, more than --max-replications 5; no more pairs were run for it."
    )
    assert "mean 0" not in line


def test_too_few_replications_for_a_width() -> None:
    # two values (--max-replications 2): no reliable interval, so no width; the mean (2) is not 0. The run summary
    # said "mean 0" here before.
    where = precision(np.array([1.0, 3.0]), 40.0, 2)
    assert where.stop_reason == "max-replications" and math.isinf(where.width_pct)
    assert precision_line(where, "base", paired=False) == (
        f"base: ±20% NOT reached after 2 replications (--max-replications 2): interval width ∞% of the mean; "
        f"replications needed: {where.needed:,}."
    )
    one = precision(np.array([5.0]), 40.0, 1)
    assert precision_line(one, "base", paired=False).endswith("replications needed: –.")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("paired", [True, False])
def test_every_stop_reason_reads_in_every_language(lang: str, paired: bool) -> None:
    series = {
        "target-ci": precision(np.array([8.0, 12.0, 10.0]), 100.0, 10),
        "max-replications": precision(np.array([8.0, 12.0, 10.0]), 20.0, 3),
        "out-of-reach": precision(np.array([1.0, -0.9, 0.1]), 10.0, 3),
    }
    for reason, where in series.items():
        assert where.stop_reason == reason
        line = precision_line(where, "slow", paired=paired, lang=lang)
        assert line.startswith("slow: ±") and "{" not in line
        if reason != "target-ci":
            assert "--max-replications 3" in line


def test_no_negative_zero_in_tables() -> None:
    from vision_zero.core.formatting import format_number

    assert format_number(-0.01) == "0.0" and format_number(-0.2) == "-0.2"
