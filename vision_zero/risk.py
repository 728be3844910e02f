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
        ``severity`` str (:data:`SEVERITIES`), ``per_year`` float [casualties/year]. Calibrated.
    parameters
        The parameter values this replication drew (name -> value).
    calibration
        The calibration factors applied (name -> factor), the baseline's when this is a variant.
    """

    injuries: pd.DataFrame
    parameters: dict[str, float]
    calibration: dict[str, float]
