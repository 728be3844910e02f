"""Which variant comes first, and what a package adds over its parts: ranking and increments, pair by pair.

Both read the per-pair values of a :class:`~vision_zero.appraisal.compare.Comparison` (common random numbers: every
variant shares the baseline's replications), so an order or an increment has an interval like any other figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vision_zero.appraisal.compare import Comparison, VariantComparison
from vision_zero.core.intervals import Interval, interval, replications_needed

__all__ = ["Increment", "RankRow", "increments", "ranking"]


def _pair_values(v: VariantComparison, column: str) -> pd.Series:
    return pd.Series(v.per_pair[column].to_numpy(dtype=float), index=v.per_pair["replication"].to_numpy())


@dataclass(frozen=True)
class RankRow:
    """One variant's place in the ranking by NPV.

    Attributes
    ----------
    rank
        1 = highest mean NPV.
    variant
        Scenario name.
    npv
        Its NPV interval [currency].
    ahead_of_next
        Interval of this variant's NPV minus the next-ranked one's, pair by pair (None for the last).
    separated
        True when that interval excludes 0: the order against the next one is told apart from noise.
    replications_needed
        Paired replications the observed NPV difference to the next one would need to be told apart (0 if last).
    """

    rank: int
    variant: str
    npv: Interval
    ahead_of_next: Interval | None
    separated: bool
    replications_needed: int


def ranking(comparison: Comparison) -> list[RankRow]:
    """Variants ordered by mean NPV, each compared pair by pair with the next (is the order more than noise?)."""
    order = sorted(comparison.variants, key=lambda v: -v.npv.mean if math.isfinite(v.npv.mean) else math.inf)
    rows = []
    for k, v in enumerate(order):
        if k + 1 < len(order):
            a, b = _pair_values(v, "npv"), _pair_values(order[k + 1], "npv")
            d = (a - b).dropna()
            iv = interval(d.to_numpy())
            sep = iv.reliable and iv.low > 0.0
            need = 0 if sep else replications_needed(d.to_numpy())
            rows.append(RankRow(k + 1, v.variant, v.npv, iv, sep, need))
        else:
            rows.append(RankRow(k + 1, v.variant, v.npv, None, True, 0))
    return rows


@dataclass(frozen=True)
class Increment:
    """What a package adds over one of its parts (incremental analysis).

    Attributes
    ----------
    package, part
        Scenario names; every intervention of ``part`` is in ``package`` (by intervention name).
    ksi_avoided
        Interval of the extra KSI avoided per year by the package over the part, pair by pair.
    cost_pv
        Extra intervention cost [currency, present value].
    npv
        Interval of the extra NPV [currency].
    bcr
        Incremental benefit–cost ratio: extra PV of benefits (travel time included) over extra cost [-].
    """

    package: str
    part: str
    ksi_avoided: Interval
    cost_pv: float
    npv: Interval
    bcr: Interval


def increments(comparison: Comparison) -> list[Increment]:
    """For every variant whose interventions include all of another variant's: what the rest adds.

    The question a committee asks of a package: funding the part alone, what does adding the rest buy? Paired
    per replication (both variants share the baseline's replications).
    """
    out = []
    for pkg in comparison.variants:
        have = {c.name for c in pkg.costs}
        for part in comparison.variants:
            names = {c.name for c in part.costs}
            if part is pkg or not names or not names < have:
                continue
            ksi = (_pair_values(part, "diff_ksi") - _pair_values(pkg, "diff_ksi")).dropna()
            npv = (_pair_values(pkg, "npv") - _pair_values(part, "npv")).dropna()
            extra = pkg.cost_pv - part.cost_pv
            bcr = (npv + extra) / extra if extra > 0 else npv * np.nan
            out.append(
                Increment(
                    pkg.variant,
                    part.variant,
                    interval(ksi.to_numpy()),
                    extra,
                    interval(npv.to_numpy()),
                    interval(bcr.to_numpy()),
                )
            )
    return out
