"""Ranking the variants of a comparison and the increments of a package over its parts, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from compare_fixtures import ECON, runs

from vision_zero.appraisal.compare import compare
from vision_zero.appraisal.economics import InterventionCost


def test_distinguishable_ranking_and_increments_by_hand() -> None:
    from vision_zero.appraisal.ranking import increments, ranking

    base = runs("baseline", [(10.0, 100.0, 0.0), (12.0, 110.0, 0.0), (11.0, 90.0, 0.0)])
    a = runs(
        "a", [(10.0, 80.0, 0.0), (12.0, 90.0, 0.0), (11.0, 70.0, 0.0)], costs=[InterventionCost("x", 1e6)]
    )
    b = runs(
        "b", [(10.0, 101.0, 0.0), (12.0, 108.0, 0.0), (11.0, 91.0, 0.0)], costs=[InterventionCost("y", 1e5)]
    )
    ab = runs(
        "a+b",
        [(10.0, 81.0, 0.0), (12.0, 88.0, 0.0), (11.0, 71.0, 0.0)],
        costs=[InterventionCost("x", 1e6), InterventionCost("y", 1e5)],
    )
    c = compare(base, [a, b, ab], economics=ECON)
    va, vb, _ = c.variants
    assert va.distinguishable and not vb.distinguishable  # a: 20 fewer each time; b: -1, +2, -1
    assert va.cost_per_ksi_avoided == pytest.approx(1e6 / (20.0 * 2))  # cost PV / KSI avoided in 2 years
    assert vb.cost_per_ksi_avoided != vb.cost_per_ksi_avoided or vb.ksi_avoided.mean > 0
    assert va.bcr_safety.mean == pytest.approx(va.safety_benefit_pv.mean / 1e6)
    rank = ranking(c)
    # money values are tiny (VSL 1,000): NPV is about minus the cost, so the cheapest ranks first, clearly
    assert [r.variant for r in rank] == ["b", "a", "a+b"] and rank[-1].ahead_of_next is None
    assert rank[0].separated and rank[0].ahead_of_next is not None and rank[0].ahead_of_next.mean > 8e5
    inc = {(i.package, i.part): i for i in increments(c)}
    assert set(inc) == {("a+b", "a"), ("a+b", "b")}
    # a+b over a: KSI differences per pair (a − a+b) of variant − baseline: (−20 − −19, −22 − −24, −20 − −19)
    assert inc[("a+b", "a")].ksi_avoided.mean == pytest.approx(np.mean([-1.0, 2.0, -1.0]))
    assert inc[("a+b", "a")].cost_pv == pytest.approx(1e5)
