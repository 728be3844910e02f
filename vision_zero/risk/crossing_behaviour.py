"""How drivers and pedestrians behave at a crossing: speeds, yielding, exposure and the lags pedestrians accept.

Steps 1, 3 and 4 of the pedestrian chain (:mod:`vision_zero.risk.pedestrian_conflict`): the speed at which a
vehicle reaches the crossing (by its movement; over a raised table), whether its driver yields, how long a
pedestrian is in the carriageway and in one lane, and the share of pedestrians who step out in front of a vehicle
a given time away.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from vision_zero.core.errors import ConfigError
from vision_zero.core.units import mps_to_kph
from vision_zero.network.road_network import CROSSING_TYPES, SIGNAL_CROSSING_TYPES
from vision_zero.risk._parameters import param
from vision_zero.risk.pedestrian_injury import logistic

__all__ = [
    "crossing_time_s",
    "effective_approach_speed_kph",
    "lag_acceptance_share",
    "lane_crossing_time_s",
    "lane_entry_tau_s",
    "movement_speed_kph",
    "yield_probability",
]

FloatArray = npt.NDArray[np.float64]


def _check_type(crossing_type: str) -> None:
    if crossing_type not in CROSSING_TYPES:
        raise ConfigError(f"crossing_type: expected one of {list(CROSSING_TYPES)} (got {crossing_type!r})")


def effective_approach_speed_kph(
    approach_speed_kph: FloatArray,
    crossing_type: str,
    parameters: Mapping[str, float],
    *,
    site_p85_kph: npt.ArrayLike | None = None,
) -> FloatArray:
    """Speed at the crossing: over a raised crossing the site's speeds scaled to the table's, else unchanged.

    The design speed of a raised crossing (``risk.pedestrian.raised.design_speed_kph``) is the 85th percentile of
    the speeds measured over such tables (FHWA PEDSAFE; Falamarzi & Rahmat 2014), not a ceiling: every vehicle
    slows, each keeping its place in the site's distribution, ``v x min(1, design / p85)`` with ``p85`` the 85th
    percentile of the approach speeds at the crossing (``site_p85_kph``). Capping each vehicle at the design speed
    instead made it the speed of almost every vehicle on a main street (-24% pedestrian casualties at the treated
    crossings of the small schematic network, against FHWA's -25..-60%). Without ``site_p85_kph`` each vehicle
    is taken as its site's 85th percentile: ``min(v, design)``.
    """
    if crossing_type == "raised":
        design = param(parameters, "risk.pedestrian.raised.design_speed_kph")
        v = np.asarray(approach_speed_kph, dtype=np.float64)
        if site_p85_kph is None:
            return np.minimum(v, design)
        p85 = np.asarray(site_p85_kph, dtype=np.float64)
        out: FloatArray = np.where(p85 > design, v * (design / np.where(p85 > design, p85, 1.0)), v)
        return out
    return approach_speed_kph


def movement_speed_kph(
    speed_kph: npt.ArrayLike,
    *,
    stopped: npt.ArrayLike,
    turning: npt.ArrayLike,
    parameters: Mapping[str, float],
) -> FloatArray:
    """Speed at which a vehicle reaches a crossing on a node, by its movement [km/h].

    A vehicle held at the stop line (``stopped``, from the simulated record) reaches the crosswalk from
    rest: at most ``sqrt(2 a d)`` with the starting acceleration ``a`` (``risk.pedestrian.start.acceleration_mps2``)
    over the run-up ``d`` (``risk.pedestrian.start.run_up_m``). A turning vehicle crosses at most at the turning
    speed (``risk.pedestrian.turning_speed_kph``; Fitzpatrick, Schneider & Park 2006). Other vehicles keep their
    simulated running speed. The lower bound applies when both hold.

    Parameters
    ----------
    speed_kph
        Simulated running speed of each vehicle on its approach link [km/h].
    stopped, turning
        Per vehicle: it was held at the stop line (it starts from rest); it turns at the crossing's node.
    parameters
        Drawn parameter set.

    Returns
    -------
    numpy.ndarray
        Speed at the crossing [km/h], never above ``speed_kph``.
    """
    v = np.asarray(speed_kph, dtype=np.float64)
    start_kph = mps_to_kph(
        np.sqrt(
            2.0
            * param(parameters, "risk.pedestrian.start.acceleration_mps2")
            * param(parameters, "risk.pedestrian.start.run_up_m")
        )
    )
    out = np.where(np.asarray(stopped, dtype=bool), np.minimum(v, start_kph), v)
    turn_cap = param(parameters, "risk.pedestrian.turning_speed_kph")
    result: FloatArray = np.where(np.asarray(turning, dtype=bool), np.minimum(out, turn_cap), out)
    return result


def yield_probability(
    approach_speed_kph: npt.ArrayLike, crossing_type: str, *, parameters: Mapping[str, float]
) -> FloatArray:
    """Probability that a driver yields to a pedestrian in the crossing.

    Uncontrolled (``unmarked``, ``marked``, ``refuge_island``, ``raised``): a logistic in approach speed through
    Bertulis & Dulaski's 75% at 20 mph and 17% at 37 mph (85th-percentile site speeds, applied per vehicle); the
    same curve for unmarked crossings (no separate figure found). RRFB 86%, PHB 96%, signalised (and LPI): the
    share of drivers who stop for a pedestrian on the walk (TCRP 112's red-signal devices, per pedestrian event, not
    Bonneson's red-light running per cycle), all independent of speed.

    Parameters
    ----------
    approach_speed_kph
        Approach speed of each vehicle [km/h] (for raised crossings: after the design-speed cap).
    crossing_type
        One of :data:`vision_zero.network.road_network.CROSSING_TYPES`.
    parameters
        Drawn parameter set.

    References
    ----------
    Bertulis, T., Dulaski, D. M. (2014). Driver approach speed and its impact on driver yielding to pedestrian
    behavior at unsignalized crosswalks. Transportation Research Record 2464, 46-51.
    Shurbutt, J., Van Houten, R., Turner, S. (2010). Analysis of effects of LED rectangular rapid-flash beacons
    at multilane uncontrolled crosswalks. FHWA-HRT-10-043.
    Fitzpatrick, K. et al. (2006). Improving pedestrian safety at unsignalized crossings. TCRP 112 / NCHRP 562.
    Bonneson, J. et al. (2003). Red-light-running handbook. Texas Transportation Institute.
    """
    _check_type(crossing_type)
    v = np.asarray(approach_speed_kph, dtype=np.float64)
    if crossing_type == "rrfb":
        return np.full_like(v, param(parameters, "risk.pedestrian.yield.rrfb"))
    if crossing_type == "phb":
        return np.full_like(v, param(parameters, "risk.pedestrian.yield.phb"))
    if crossing_type in SIGNAL_CROSSING_TYPES:
        return np.full_like(v, param(parameters, "risk.pedestrian.yield.signalised"))
    b0 = param(parameters, "risk.pedestrian.yield.marked.intercept")
    b1 = param(parameters, "risk.pedestrian.yield.marked.slope")
    return logistic(b0 + b1 * v)


def crossing_time_s(
    lanes_crossed: npt.ArrayLike, crossing_type: str, *, parameters: Mapping[str, float]
) -> FloatArray:
    """Time a pedestrian is exposed in one stage: lanes at once x lane width / walking speed [s].

    A refuge island makes the crossing two-stage: half the lanes (rounded up) at a time, so the conflict window
    of each stage is half as long (SCIENCE.md §9; MUTCD 2009 walking speed).
    """
    _check_type(crossing_type)
    lanes = np.asarray(lanes_crossed, dtype=np.float64)
    lanes = np.maximum(lanes, 1.0)
    if crossing_type == "refuge_island":
        lanes = np.ceil(lanes / 2.0)
    width = param(parameters, "risk.pedestrian.lane_width_m")
    walk = param(parameters, "risk.pedestrian.walking_speed_mps")
    out: FloatArray = lanes * width / walk
    return out


def lane_crossing_time_s(parameters: Mapping[str, float]) -> float:
    """Time to walk across one lane [s]."""
    return param(parameters, "risk.pedestrian.lane_width_m") / param(
        parameters, "risk.pedestrian.walking_speed_mps"
    )


def lane_entry_tau_s(tau_s: npt.ArrayLike, *, parameters: Mapping[str, float]) -> FloatArray:
    """Time from the pedestrian entering the vehicle's lane until the vehicle arrives [s].

    The record does not say which lane a vehicle uses; each conflict is taken to be in the lane the pedestrian is
    crossing when the vehicle arrives, so the warning time is ``tau`` modulo the time to cross one lane. Each lane
    crossed at once thus adds exposure (multiple threat), and a refuge island, halving the lanes crossed at once,
    halves the conflicts.
    """
    out: FloatArray = np.mod(np.asarray(tau_s, dtype=np.float64), lane_crossing_time_s(parameters))
    return out


_NORMAL_CDF = np.vectorize(lambda z: 0.5 * (1.0 + math.erf(z / math.sqrt(2.0))), otypes=[np.float64])


def lag_acceptance_share(tau_s: npt.ArrayLike, *, parameters: Mapping[str, float]) -> FloatArray:
    """Share of pedestrians who step into a lane with a vehicle ``tau`` seconds away (their critical lag < tau).

    Pedestrians' critical lags are lognormal (median ``risk.pedestrian.critical_lag.median_s``, log-sd
    ``risk.pedestrian.critical_lag.sigma_log``), so a pedestrian steps out in front of a vehicle coming straight at
    them with probability ``Phi(ln(tau / median) / sigma)``. Pedestrians arrive at random, so the warning times of
    the conflicts with such vehicles have this density relative to the uniform one (:func:`crossing_injuries`):
    a conflict with a vehicle arriving less than a reaction time later needs a pedestrian who accepts that lag.

    Parameters
    ----------
    tau_s
        Time from the pedestrian entering the lane until the vehicle arrives [s], any shape.
    parameters
        Drawn parameter set.

    Returns
    -------
    numpy.ndarray
        Share [0-1], same shape as ``tau_s``; 0 at ``tau <= 0``.
    """
    tau = np.asarray(tau_s, dtype=np.float64)
    median = param(parameters, "risk.pedestrian.critical_lag.median_s")
    sigma = param(parameters, "risk.pedestrian.critical_lag.sigma_log")
    with np.errstate(divide="ignore"):
        z = np.log(np.maximum(tau, 0.0) / median) / sigma
    out: FloatArray = np.where(tau > 0.0, _NORMAL_CDF(np.where(tau > 0.0, z, 0.0)), 0.0)
    return out
