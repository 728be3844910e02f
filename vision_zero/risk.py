"""Crash-risk models, each named after the published model it implements.

Contract: :func:`estimate` returns a :class:`CrashEstimate`; results and reports read only that.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["ROAD_USERS", "SEVERITIES", "CrashEstimate"]

SEVERITIES: tuple[str, ...] = ("fatal", "serious", "slight")
ROAD_USERS: tuple[str, ...] = ("pedestrian", "occupant")


@dataclass(frozen=True)
class CrashEstimate:
    """Expected annual casualties of one replication.

    Attributes
    ----------
    injuries
        Long table, one row per (site, road user, severity): ``site_type`` str (``"link"``, ``"junction"`` or
        ``"crossing"``), ``site`` int (link, node or crossing id), ``road_user`` str (:data:`ROAD_USERS`),
        ``severity`` str (:data:`SEVERITIES`), ``per_year_raw`` float [casualties/year] as the models give them,
        ``per_year`` float: ``per_year_raw`` times the calibration factor of its (severity, road user).
    parameters
        The parameter values this replication drew (name -> value).
    calibration
        The calibration factors applied, keyed ``"<severity>.<road_user>"`` (e.g. ``"fatal.pedestrian"``).
        A baseline is calibrated on itself: factor = observed / raw total. A variant uses the factors of the
        baseline's replication with the same index (common random numbers), so interventions change the
        calibrated totals exactly as they change the raw ones.

    Interventions reach the risk model in two ways only, never both for the same effect: through the traffic
    (speeds, flows, crossing types, which the models read) or, where no mechanism is modelled (road diet,
    roundabout, lighting …), through crash-modification factors: a table with columns ``site_type``, ``site``,
    ``road_user`` (a road user or ``"all"``), ``severity`` (a severity, ``"ksi"`` or ``"all"``) and
    ``parameter`` (the name of a CMF in the parameters file, so each replication draws it).
    """

    injuries: pd.DataFrame
    parameters: dict[str, float]
    calibration: dict[str, float]
