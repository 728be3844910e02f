"""The mesoscopic SimPy traffic simulation (see DESIGN.md "Traffic").

Contract: :func:`simulate` returns a :class:`TrafficRecord`; the risk model and the reports read only that.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from vision_zero.periods import Period

__all__ = ["TrafficRecord"]


@dataclass(frozen=True)
class TrafficRecord:
    """What one replication of the simulation observed, per period.

    Attributes
    ----------
    periods
        The simulated periods, in order.
    link_stats
        One row per (period, link) with traffic: ``period`` str, ``link`` int, ``entries`` int [veh],
        ``veh_km`` float, ``veh_h`` float, ``mean_speed_kph``, ``p85_speed_kph`` float (space-mean over the
        vehicles that traversed the link), ``share_over_limit`` float [0-1], ``max_queue_veh`` float.
    passages
        One row per vehicle passing a crossing: ``period`` str, ``crossing`` int, ``t_s`` float (seconds from the
        period's start), ``speed_kph`` float (the vehicle's approach speed).
    pedestrians
        One row per pedestrian arriving to cross: ``period`` str, ``crossing`` int, ``t_s`` float.
    trips
        One row per vehicle trip: ``trip`` int, ``period`` str, ``origin``/``destination`` int (node ids),
        ``depart_s``, ``arrive_s`` float (NaN if still en route at the end), ``travel_time_s`` float (NaN if en
        route), ``veh_km`` float, ``completed`` bool.
    speed_hist
        Sparse histogram of vehicle link speeds: ``period`` str, ``link`` int, ``bin_lo_kph`` float, ``count`` int,
        bins of :data:`SPEED_BIN_KPH` width.
    """

    periods: tuple[Period, ...]
    link_stats: pd.DataFrame
    passages: pd.DataFrame
    pedestrians: pd.DataFrame
    trips: pd.DataFrame
    speed_hist: pd.DataFrame
