"""Representative periods of the day, and how they expand to a year.

The simulation runs a few representative periods (an AM peak hour, an inter-peak hour …); each stands for a
number of hours per year (``annual_hours``), so a per-period result times ``annual_hours * 3600 / duration_s``
is its contribution to the annual total. The default set and its sources live in :mod:`vision_zero.traffic.demand`.
"""

from __future__ import annotations

from dataclasses import dataclass

from vision_zero.core.units import S_PER_HOUR

__all__ = ["Period", "annual_factor"]


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
