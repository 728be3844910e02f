"""When a run with --target-ci stops: the next round's total and each series stopped at its precision, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vision_zero.core.formatting import precision_line
from vision_zero.core.intervals import _precision_reached, replications_needed
from vision_zero.runs.stopping import _next_total, rounds_to_precision


def test_next_total_is_the_pairs_needed_at_least_one_more_at_most_double() -> None:
    assert _next_total(4, 8, maximum=100) == 8
    assert _next_total(10, 13, maximum=100) == 13
    assert _next_total(10, 10, maximum=100) == 11  # at least one more
    assert _next_total(3, 12, maximum=100) == 6  # at most double
    assert _next_total(10, 40, maximum=15) == 15  # capped
    # the package's first three pairs at full demand (benchmarks/README.md, "Pairs needed at full demand"): the
    # t estimate asks for 5 (t(0.975, 4) 2.776 x sd 9.66 / sqrt(5) = 12.0 < 20% of 68.5 = 13.7; at 4 pairs
    # 3.182 x 9.66 / 2 = 15.4 is not), where the square-root law on the width asked for 8 and got 6
    first = np.array([79.64, 62.27, 63.65])
    assert _precision_reached(first, 40.0)[0] is False
    assert replications_needed(first, relative=0.2) == 5
    assert _next_total(3, replications_needed(first, relative=0.2), maximum=200) == 5


def test_rounds_stop_each_series_at_its_precision_by_hand() -> None:
    # three series against a 50% full width, at most 8:
    #   0: [9, 10, 11]: width 2 * 4.302653 * 1 / sqrt(3) = 4.968 = 49.7% of 10 -> reached in round 1 (3)
    #   1: [8, 12, 10 | 10, 10]: at 3 sd 2, width 99.4% -> the pairs needed for ±25% of 10 by the t: 4 gives
    #      t(0.975, 3) 3.182 * 2 / 2 = 3.18, 5 gives 2.776 * 2 / sqrt(5) = 2.48 < 2.5 -> next total 5; at 5 sd
    #      sqrt(8/4) = 1.414, half width 2.776 * 1.414 / sqrt(5) = 1.756 -> 35.1%: reached
    #   2: [-1, 1, -1]: mean -1/3, interval includes 0, needs far more than 8 -> out of reach in round 1
    data = [
        [9.0, 10.0, 11.0, 10.0, 10.0, 10.0, 10.0, 10.0],
        [8.0, 12.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0],
        [-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0],
    ]
    rounds: list[dict[int, int]] = []
    where = rounds_to_precision(
        3,
        start=0,
        target_ci_pct=50.0,
        max_replications=8,
        ensure=lambda totals: rounds.append(dict(totals)),
        values=lambda i, n: np.array(data[i][:n]),
    )
    assert rounds == [{0: 3, 1: 3, 2: 3}, {1: 5}]
    assert [(w.n, w.stop_reason) for w in where] == [(3, "target-ci"), (5, "target-ci"), (3, "out-of-reach")]
    assert where[0].width_pct == pytest.approx(49.68276, rel=1e-5)
    assert where[1].width_pct == pytest.approx(200 * 2.776445 * math.sqrt(2) / math.sqrt(5) / 10, rel=1e-5)
    assert where[2].needed > 8
    # the cap: at most 4, series 1 is not reached at 4 ([8, 12, 10, 10]: width 2 * 3.182 * 1.633 / 2 = 52.0%)
    rounds.clear()
    capped = rounds_to_precision(
        2,
        start=3,
        target_ci_pct=50.0,
        max_replications=4,
        ensure=lambda totals: rounds.append(dict(totals)),
        values=lambda i, n: np.array(data[i][:n]),
    )
    assert rounds == [{0: 3, 1: 3}, {1: 4}]
    assert capped[1].n == 4 and capped[1].stop_reason == "max-replications"
    assert capped[1].width_pct == pytest.approx(200 * 3.182446 * math.sqrt(8 / 3) / 2 / 10, rel=1e-5)
    assert capped[1].needed == 5  # the interval excludes 0, so it was not out of reach, just capped
    assert precision_line(capped[1], "s1") == (
        "s1: ±25% NOT reached after 4 pairs (--max-replications 4): interval width 52% of the mean; pairs needed: 5."
    )


def test_each_series_goes_on_to_its_own_next_total() -> None:
    # against a 50% full width (±2.5 around 10), after 3 each series asks for what its own spread needs by the t:
    # series 0 ([8, 12, 10], sd 2) 5 (2.776 * 2 / sqrt(5) = 2.48); series 1 ([10, 13, 7], sd 3; its interval
    # 10 ± 7.45 excludes 0, so not out of reach) 9 (2.306 * 3 / 3 = 2.31), at most double: 6. Both are reached
    # there (series 0 at 5: 35.1%; series 1 at 6, [10, 13, 7, 10, 10, 10]: 2.571 * sqrt(18/5) / sqrt(6) = 1.99,
    # 39.8%). Series 0 is not given series 1's 6 pairs (it was, while the running series shared the largest total).
    data = [[8.0, 12.0, 10.0, 10.0, 10.0, 10.0], [10.0, 13.0, 7.0, 10.0, 10.0, 10.0]]
    rounds: list[dict[int, int]] = []
    where = rounds_to_precision(
        2,
        start=3,
        target_ci_pct=50.0,
        max_replications=10,
        ensure=lambda totals: rounds.append(dict(totals)),
        values=lambda i, n: np.array(data[i][:n]),
    )
    assert replications_needed(np.array(data[1][:3]), relative=0.25) == 9
    assert rounds == [{0: 3, 1: 3}, {0: 5, 1: 6}]
    assert [(w.n, w.stop_reason) for w in where] == [(5, "target-ci"), (6, "target-ci")]
    assert where[1].width_pct == pytest.approx(
        200 * 2.570582 * math.sqrt(18 / 5) / math.sqrt(6) / 10, rel=1e-5
    )
