"""Representative periods of the day, and how they expand to a year.

The simulation runs a few representative periods (an AM peak hour, an inter-peak hour …); each stands for a
number of hours per year (``annual_hours``), so a per-period result times ``annual_hours * 3600 / duration_s``
is its contribution to the annual total. The default set and its sources live in :mod:`vision_zero.traffic.demand`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.units import S_PER_HOUR

__all__ = ["Period", "annual_factor", "annual_factors"]


@dataclass(frozen=True)
class Period:
    """One representative period.

    Attributes
    ----------
    name
        Identifier used in tables, e.g. ``"am_peak"``.
    start_h
        Clock time at which the period starts [h], e.g. ``8.0``.
    duration_s
        Length of the simulated period [s] (departures happen within it; vehicles may finish after it).
    demand_share
        Share of the day's vehicle trips that depart in this period [-].
    annual_hours
        Hours per year this period stands for [h/year] (e.g. one weekday peak hour x 340 weekday-equivalents).
    """

    name: str
    start_h: float
    duration_s: float
    demand_share: float
    annual_hours: float


def annual_factor(period: Period) -> float:
    """Multiplier from one simulated period to a year [periods/year]."""
    return period.annual_hours * S_PER_HOUR / period.duration_s


def annual_factors(period_names: pd.Series, periods: Iterable[Period]) -> npt.NDArray[np.float64]:
    """Per row of a per-period table, :func:`annual_factor` of its period (0 for a period not in ``periods``).

    Multiply a per-period count by this and sum over periods for the annual total.
    """
    factors = {p.name: annual_factor(p) for p in periods}
    return np.asarray(period_names.map(factors).fillna(0.0), dtype=np.float64)
