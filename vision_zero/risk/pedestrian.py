"""Pedestrian injuries: conflict-based at crossings, exposure-based away from them and on the streets between.

The chain, for each pedestrian arriving at a crossing (expected values, no sampling of rare crashes):

1. **Exposure.** The pedestrian is in the carriageway for ``lanes x lane width / walking speed`` (SCIENCE.md §9);
   a refuge island splits this into two stages of half the lanes, so the conflict window halves.
2. **Conflicts.** Every vehicle passing the crossing while the pedestrian is in it is a conflict; pedestrians
   arrive as a Poisson stream (the demand's rate), so each simulated passage meets ``rate x window`` of them on
   average, with the warning time uniform over the window (expected over arrivals, not over a draw; see
   :func:`crossing_injuries`). Lanes are not
   recorded, so each conflict is taken in the lane the pedestrian is crossing at that moment; ``tau`` is the time
   from the pedestrian entering that lane to the vehicle arriving, so the vehicle was ``v * tau`` away. With a
   vehicle coming straight at them at its running speed, pedestrians pick their lag: one steps out ``tau`` ahead of
   it only if their critical lag is shorter (lognormal, median 4 s: :func:`lag_acceptance_share`), so those
   conflicts' warning times are weighted by the share who accept them. Vehicles turning at the node or leaving a
   stop line enter the pedestrians' path from the side or from rest, and their conflicts keep the uniform warning
   time.
3. **Movement.** At a crossing on a node the record says how each vehicle passes it: a vehicle the event loop held
   at the stop line (a red, a give-way, a standing queue: the record's ``stopped``) reaches the crosswalk from
   rest, at most ``sqrt(2 a d)``, and a turning
   vehicle at most at the turning speed (Fitzpatrick, Schneider & Park 2006); :func:`movement_speed_kph`. Other
   vehicles keep their simulated running speed.
4. **Yielding.** A driver yields with a probability that depends on the crossing type and (uncontrolled, raised)
   on the approach speed: Bertulis & Dulaski 2014 / Kittelson 2023 for uncontrolled crossings, 86% at RRFBs,
   96% at PHBs, 96% for through traffic at signals (TCRP 112, per pedestrian event), except for those who cross
   against their red (Araya-Porras et al. 2022: 10.6%), whom drivers on green yield to as at an uncontrolled
   crossing; a vehicle turning at a signal crosses the walk phase on its own green, so its driver yields as at an
   uncontrolled crossing at the turning speed. At every crossing but a PHB (whose red stops the turning drivers
   too) 4-7% of turning drivers do not look for pedestrians (Marnell et al. 2013, permissive left turns: the
   driver's attention on the gap in the traffic), who neither yield nor brake. Raised crossings act through
   approach speed (the site's speeds scaled to the table's 85th percentile), not through a separate yielding
   figure. Crashes scale with the
   non-yielding share to the power ``risk.pedestrian.nonyield_elasticity`` (about 1/3, derived from the RRFB and
   PHB yielding/crash pairs: where few drivers yield, pedestrians wait for gaps, so most non-yielding conflicts
   are harmless).
5. **Reaction and braking.** A non-yielding driver reacts after a lognormal perception-reaction time (Green 2000;
   Fambro 1998) and brakes with a normally distributed deceleration; the impact speed follows from
   ``v_imp^2 = v^2 - 2 a (v tau - v t_r)``. Integrated numerically over reaction time and deceleration (Gauss-
   Hermite nodes); the conflict distance comes from the simulated passage times.
6. **Injury.** Death risk by impact speed from Rosén & Sander 2009 and killed-or-seriously-injured risk from a
   MAIS 3+ curve (the EU definition of serious), both describing police-reported casualties, the population the
   calibration targets count; slight injuries are the remaining injury collisions (every collision injures;
   slight = collisions - KSI). Tefft 2013 (AIS 4+, weighted to in-depth investigations) is kept as the
   reference curve it was (:func:`tefft_pedestrian_injury`): with it, a calibrated baseline had half its
   pedestrian casualties killed, against about 1.5% observed.

Away from the mapped crossings: :func:`injuries_away_from_crossings` (the share of a crossing's pedestrians who
cross the same road elsewhere) and :func:`injuries_on_streets` (pedestrians crossing local and collector streets that
no mapped crossing serves, at their junctions and between them, from the same pedestrian demand model), each an
unmarked crossing met by the link's simulated traffic.

The severity mix. The chain follows the population's speed-severity relation per collision: about 1% deaths for
vehicles at 30 km/h and 21% at 70 km/h coming at a pedestrian with uniform warning times (braking included;
Kröyer 2015: fatal crashes rare below 40 km/h mean travel speed), and 72 / 38 injured per death at 20 / 25 mph
against NHTSA's 57.1 on US roads posted 25 mph or less (1995). Which collisions happen decides the mix. With
uniform warning times for every conflict (until 2026-11-30), vehicles passing the schematic city's crossings at
their running speed (65-67 km/h mean on the main streets) made 61% of the collisions at 18% deaths, 42% of them at
the full running speed (the pedestrian had entered the lane less than a reaction time before), and 12-13% of the
chain's pedestrian casualties died, against 1.5% in the calibration targets, 3.0% in Almaty police's
pedestrian-struck crashes and 1.7% on Scotland's built-up roads; only 6.4% of its deaths were at impact speeds of
30 mph or less (about half in Richards 2010's data). Pedestrians do not step out in front of a vehicle coming
straight at them at random moments: they pick their lag (:func:`lag_acceptance_share`; critical gaps 3.6-4.3 s,
lognormal, at uncontrolled crossings of high-speed arterials). With that the through traffic's collisions are
mostly braked ones, and on the small schematic network (central parameters, 2 replications, 2026-12-01) they are
13.5% of the crossing collisions at 11% deaths; vehicles turning at the node make 57% (59% at junction crossings;
Roudsari et al. 2006: 42% of intersection collisions) and vehicles the event loop held at the stop line 29% (43%
while any wait over 1 s counted as a stop), both at 0.5-0.6% deaths; 2.1% of all pedestrian casualties die and
34% of the deaths are at impact speeds of 30 mph or less. The lags' spread
(``risk.pedestrian.critical_lag.sigma_log``) is the chain's one fitted parameter: fitted to 2.1% deaths, between
the targets' 1.5% and Almaty police's 3.0% (0.67; 0.87 before the held flag, when more collisions started from
rest); the turning share, Abdulsattar et al.'s turning/straight ratio at signals (4.6) and Richards' row are the
checks it was not fitted to (``tests/evidence/test_impact_speeds.py``, ``tests/evidence/test_crossings.py``). What it leaves
off: Adelaide's reconstructed fatal collisions (McLean et al. 1994): at 60 km/h, 5 km/h less cuts the chain's deaths
by 52% (Adelaide 30%: with Rosén & Sander's curve a collision at the full 60 km/h already loses 32% of its death
risk, so Adelaide's figure needs a flatter, higher death curve: older pedestrians and older cars) and avoids 4.0%
of its fatal collisions altogether (Adelaide 10%); serious injuries (the MAIS 3+ curve, narrower than police
'serious') are only about 5% of the pedestrian casualties, most of which are now at turning or starting speeds;
turning and starting speeds do not change with the speed regime (no source found that they do: the right-turn
speed model of Fitzpatrick, Pratt & Avelar 2021 predicts from corner radius, headway, vehicle type, the preceding
vehicle's manoeuvre and the signal indication; a start from rest is kinematics), so a uniform speed cut lowers
pedestrian deaths and serious injuries but not their slight ones (``tests/evidence/test_speed_and_severity.py``). Car parks,
reversing and driveways (about 15% of police-reported pedestrian crashes, Stutts, Hunter & Pein 1996) are not
modelled. Lower approach speeds at crossings with pedestrians waiting are not what the evidence shows (Antov,
Rõivas & Rõuk 2007, Baltic Journal of Road and Bridge Engineering 2(3): drivers' speed changes little near zebra
crossings). Calibration stays anchored on deaths, one factor per road user
(:func:`vision_zero.risk.crash_model.calibration_factors`).

Where the evidence's crash-modification factor and the mechanism differ (see ``tests/risk/test_pedestrian_risk.py``
and ``tests/evidence/test_crossings.py``): marked crosswalks on roads with more than two lanes carry Elvik's x2 as a
factor (no mechanism modelled), and so does every other marked type (:data:`MARKED_CROSSINGS`: refuge islands,
raised crossings, RRFBs, PHBs, signals), because the evidence for each compares it with the marked crossing it
replaced, so its effect is its mechanism, not also the x2 (the non-yielding elasticity was fitted to the RRFB and
PHB before-after pairs on such crossings);
leading pedestrian intervals carry CMF 0.87 on top of the signalised mechanism; at signals the mechanism's
casualties are red-light violators, pedestrians crossing against the red and turning vehicles (the evidence, Hunt 1998
and Gårder 1989, is a range: from about -60% to no clear benefit).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.caching import BoundedCache
from vision_zero.core.errors import ConfigError, ParameterError
from vision_zero.core.parameters import Parameter, ParameterSet
from vision_zero.core.units import kph_to_mps, mps_to_kph
from vision_zero.network.road_network import CROSSING_TYPES, SIGNAL_CROSSING_TYPES, RoadNetwork
from vision_zero.traffic.demand import crossings_at_junctions, junction_legs, street_pedestrian_demand
from vision_zero.traffic.periods import annual_factor, annual_factors
from vision_zero.traffic.simulation import DESIGN_SPEED_QUANTILE, SPEED_BIN_KPH, TrafficRecord

__all__ = [
    "CrossingPassages",
    "conflict_injury_risk",
    "crossing_casualties_by_movement",
    "crossing_injuries",
    "crossing_leg_weight",
    "crossing_time_s",
    "impact_speed_nodes_kph",
    "injuries_away_from_crossings",
    "injuries_on_streets",
    "lag_acceptance_share",
    "lane_entry_tau_s",
    "mais3_pedestrian_injury",
    "movement_speed_kph",
    "pedestrian_injury_risk",
    "pedestrian_rates",
    "rosen_sander_pedestrian_fatality",
    "tefft_pedestrian_injury",
    "yield_probability",
]

FloatArray = npt.NDArray[np.float64]
PEDESTRIAN_SEVERITIES: tuple[str, ...] = ("fatal", "serious")
#: Every marked crossing (all types but ``unmarked``): Elvik's x2 on roads with more than two lanes applies to them
#: all, because the evidence for each measure compares it with the marked crossing it replaced (module docstring).
MARKED_CROSSINGS: tuple[str, ...] = tuple(t for t in CROSSING_TYPES if t != "unmarked")
_N_REACTION_NODES = 12
_N_DECEL_NODES = 8
_MIN_DECEL_MPS2 = 1.0
_TABLE_DV_KPH = 0.5
_TABLE_N_V = 321  # 0-160 km/h
_TABLE_N_TAU = 81


@functools.lru_cache(maxsize=1)
def _shipped_central() -> dict[str, float]:
    from vision_zero.core.parameters import load_parameters

    return load_parameters().central()


def param(parameters: Mapping[str, float], name: str) -> float:
    """Value of parameter ``name`` from a drawn set, with an error naming the missing key."""
    try:
        return float(parameters[name])
    except KeyError:
        raise ParameterError(
            f"parameters: {name}: missing (expected in vision_zero/data/parameters/risk.toml or a user file)"
        ) from None


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def tefft_pedestrian_injury(
    impact_speed_kph: npt.ArrayLike, severity: str, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """Risk that a struck pedestrian dies or is seriously injured, by impact speed (Tefft 2013).

    ``P = 1 / (1 + exp(-(b0 + b1 (v + shift))))`` with ``b0``, ``b1`` fitted by least squares (in speed) to the
    published 10/25/50/75/90% points; ``shift`` (default 0) carries the age-mix uncertainty.

    Parameters
    ----------
    impact_speed_kph
        Impact speed [km/h], any shape.
    severity
        ``"fatal"`` (death) or ``"serious"`` (AIS 4+ including death, as Tefft defines it).
    parameters
        A drawn parameter set (``risk.pedestrian.tefft.*``); the shipped central values if omitted.

    Returns
    -------
    numpy.ndarray
        Probability [0-1], same shape as ``impact_speed_kph``.

    References
    ----------
    Tefft, B. C. (2013). Impact speed and a pedestrian's risk of severe injury or death. Accident Analysis &
    Prevention 50, 871-878. doi:10.1016/j.aap.2012.07.022
    """
    if severity not in PEDESTRIAN_SEVERITIES:
        raise ConfigError(f"severity: expected one of {list(PEDESTRIAN_SEVERITIES)} (got {severity!r})")
    return _shifted_logistic(impact_speed_kph, f"risk.pedestrian.tefft.{severity}", parameters)


def _shifted_logistic(
    impact_speed_kph: npt.ArrayLike, prefix: str, parameters: Mapping[str, float] | None
) -> FloatArray:
    """``1 / (1 + exp(-(b0 + b1 (v + shift))))``: ``b0``, ``b1`` at ``prefix.intercept``/``.slope``, the age shift."""
    p = _shipped_central() if parameters is None else parameters
    v = np.asarray(impact_speed_kph, dtype=np.float64)
    b0 = param(p, f"{prefix}.intercept")
    b1 = param(p, f"{prefix}.slope")
    shift = float(p.get("risk.pedestrian.injury_speed_shift_kph", 0.0))
    return _sigmoid(b0 + b1 * (v + shift))


def rosen_sander_pedestrian_fatality(
    impact_speed_kph: npt.ArrayLike, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """Risk that a struck adult pedestrian dies, by impact speed (Rosén & Sander 2009, GIDAS, weighted).

    ``P = 1 / (1 + exp(-(b0 + b1 (v + shift))))`` with ``risk.pedestrian.fatality.*``. Rosén & Sander weighted
    their in-depth sample to all police-reported injury crashes in Germany, which is the population the
    calibration targets count (police-reported casualties); Tefft 2013 (:func:`tefft_pedestrian_injury`) is
    weighted to crashes investigated in depth and gives about twice the risk.

    References
    ----------
    Rosén, E., Sander, U. (2009). Pedestrian fatality risk as a function of car impact speed. Accident Analysis &
    Prevention 41, 536-542.
    """
    return _shifted_logistic(impact_speed_kph, "risk.pedestrian.fatality", parameters)


def mais3_pedestrian_injury(
    impact_speed_kph: npt.ArrayLike, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """Risk that a struck pedestrian is killed or seriously injured (MAIS 3+, the EU definition of serious).

    ``P = 1 / (1 + exp(-(b0 + b1 (v + shift))))`` with ``risk.pedestrian.mais3.*``: 10% at 34 km/h (GIDAS-based
    risk models, TARGET thresholds) with the slope of Tefft's AIS 4+ curve (see the parameters file).
    """
    return _shifted_logistic(impact_speed_kph, "risk.pedestrian.mais3", parameters)


def pedestrian_injury_risk(
    impact_speed_kph: npt.ArrayLike, severity: str, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """The severity curves of the conflict chain: ``"fatal"`` death, ``"serious"`` killed or MAIS 3+.

    Death: :func:`rosen_sander_pedestrian_fatality`; killed or seriously injured: the larger of
    :func:`mais3_pedestrian_injury` and the death risk. Both describe police-reported casualties (the population
    the calibration targets count), so the calibrated chain keeps their speed dependence and its severity mix.

    Parameters
    ----------
    impact_speed_kph
        Impact speed [km/h], scalar or array.
    severity
        ``"fatal"`` or ``"serious"`` (killed or seriously injured).
    parameters
        A drawn parameter set; the shipped central values if omitted.

    Returns
    -------
    numpy.ndarray
        Probability [0-1].
    """
    if severity not in PEDESTRIAN_SEVERITIES:
        raise ConfigError(f"severity: expected one of {list(PEDESTRIAN_SEVERITIES)} (got {severity!r})")
    fatal = rosen_sander_pedestrian_fatality(impact_speed_kph, parameters=parameters)
    if severity == "fatal":
        return fatal
    return _serious_given_fatal(impact_speed_kph, fatal, parameters)


def _serious_given_fatal(
    impact_speed_kph: npt.ArrayLike, fatal: FloatArray, parameters: Mapping[str, float] | None
) -> FloatArray:
    """Killed or MAIS 3+ (:func:`pedestrian_injury_risk` ``"serious"``) from the death risk at the same speeds."""
    out: FloatArray = np.maximum(mais3_pedestrian_injury(impact_speed_kph, parameters=parameters), fatal)
    return out


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
    return _sigmoid(b0 + b1 * v)


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


def _lane_time_s(parameters: Mapping[str, float]) -> float:
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
    out: FloatArray = np.mod(np.asarray(tau_s, dtype=np.float64), _lane_time_s(parameters))
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


@functools.lru_cache(maxsize=4)
def _hermite_nodes(n: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Hermite (probabilists') nodes and weights for a standard normal, cached."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w


def _reaction_nodes(parameters: Mapping[str, float]) -> tuple[FloatArray, FloatArray]:
    x, w = _hermite_nodes(_N_REACTION_NODES)
    med = param(parameters, "risk.pedestrian.perception_reaction.median_s")
    sig = param(parameters, "risk.pedestrian.perception_reaction.sigma_log")
    return med * np.exp(sig * x), w / w.sum()


def _decel_nodes(parameters: Mapping[str, float]) -> tuple[FloatArray, FloatArray]:
    x, w = _hermite_nodes(_N_DECEL_NODES)
    mean = param(parameters, "risk.pedestrian.deceleration.mean_mps2")
    sd = param(parameters, "risk.pedestrian.deceleration.sd_mps2")
    return np.maximum(mean + sd * x, _MIN_DECEL_MPS2), w / w.sum()


def conflict_injury_risk(
    approach_speed_kph: npt.ArrayLike,
    tau_s: npt.ArrayLike,
    crossing_type: str,
    *,
    lanes_crossed: npt.ArrayLike = 2,
    parameters: Mapping[str, float],
    stopped: bool = False,
    turning: bool = False,
) -> dict[str, FloatArray]:
    """Expected casualties per conflict, by severity, through yielding, reaction, braking and the injury curves.

    Per conflict at the given warning time: how often conflicts happen at each warning time (the pedestrians' lag
    acceptance, :func:`lag_acceptance_share`) is an exposure weight the callers apply when they average over it.

    Parameters
    ----------
    approach_speed_kph
        Approach speed of the vehicle in each conflict [km/h].
    tau_s
        Time from the pedestrian stepping out until the vehicle reaches the crossing [s] (>= 0); the vehicle was
        ``v * tau`` metres away when the conflict began.
    crossing_type
        One of :data:`vision_zero.network.road_network.CROSSING_TYPES`.
    lanes_crossed
        Lanes of the crossing (for the marked multi-lane factor).
    parameters
        Drawn parameter set.
    stopped, turning
        The vehicle passes the crossing from rest, or turning (see :func:`movement_speed_kph`); at a signal a
        turning vehicle yields as at an uncontrolled crossing (it has a green light while the pedestrian walks).

    Returns
    -------
    dict
        ``"fatal"``, ``"serious"``, ``"slight"``: expected casualties per conflict (arrays shaped like the
        broadcast inputs); ``"collision"``: expected collisions per conflict.

    References
    ----------
    Green, M. (2000). "How long does it take to stop?" Methodological analysis of driver perception-brake times.
    Transportation Human Factors 2(3), 195-216.
    Fambro, D. B., Fitzpatrick, K., Koppa, R. J. (1997/1998). Determination of stopping sight distances. NCHRP
    Report 400.
    Tefft, B. C. (2013). Accident Analysis & Prevention 50, 871-878.
    """
    v_kph, tau, lanes = np.broadcast_arrays(
        np.asarray(approach_speed_kph, dtype=np.float64),
        np.asarray(tau_s, dtype=np.float64),
        np.asarray(lanes_crossed, dtype=np.float64),
    )
    v_kph = movement_speed_kph(
        v_kph,
        stopped=np.full(v_kph.shape, stopped),
        turning=np.full(v_kph.shape, turning),
        parameters=parameters,
    )
    v_kph = effective_approach_speed_kph(v_kph, crossing_type, parameters)
    collision, fatal, ksi = _impact_expectations(v_kph, tau, parameters)
    return _combine(v_kph, lanes, crossing_type, parameters, collision, fatal, ksi, turning=turning)


def _combine(
    v_eff_kph: FloatArray,
    lanes: FloatArray,
    crossing_type: str,
    parameters: Mapping[str, float],
    collision: FloatArray,
    fatal: FloatArray,
    ksi: FloatArray,
    *,
    turning: bool = False,
) -> dict[str, FloatArray]:
    """Scale the impact expectations by non-yielding, in-path probability and the non-mechanistic factors.

    A turning vehicle at a signal turns across the crossing while its pedestrians have the walk signal: no red
    light stops it, so its driver yields as at an uncontrolled marked crossing at the turning speed. At every
    crossing but a PHB (whose red stops the turning drivers of the road it controls) the share
    ``risk.pedestrian.turning_not_looking_share`` of turning drivers do not look for pedestrians (Marnell et al.
    2013: permissive turns, the driver's attention on the gap in the traffic turned across or into): they neither
    yield nor brake (impact at the turning speed), and count among the non-yielding. Through
    traffic at a signal meets the pedestrians who walk on their green only when it runs the red, and the share
    ``risk.pedestrian.red_crossing_share`` who cross against their red on its green, yielded to as at an
    uncontrolled crossing.
    """
    elasticity = param(parameters, "risk.pedestrian.nonyield_elasticity")
    yield_type = "marked" if turning and crossing_type in SIGNAL_CROSSING_TYPES else crossing_type
    p_nonyield = np.power(1.0 - yield_probability(v_eff_kph, yield_type, parameters=parameters), elasticity)
    if turning and crossing_type != "phb":
        # a share of turning drivers never looks for the pedestrians (their attention on the gap in the traffic
        # they turn across or into, and at a signal on the signal): they neither yield nor brake, so they reach
        # the crosswalk at the turning speed; a PHB's red stops the turning drivers of the road it controls
        blind = param(parameters, "risk.pedestrian.turning_not_looking_share")
        p_not = blind + (1.0 - blind) * (
            1.0 - yield_probability(v_eff_kph, yield_type, parameters=parameters)
        )
        w = blind / p_not
        collision = w + (1.0 - w) * collision
        fatal = w * pedestrian_injury_risk(v_eff_kph, "fatal", parameters=parameters) + (1.0 - w) * fatal
        ksi = w * pedestrian_injury_risk(v_eff_kph, "serious", parameters=parameters) + (1.0 - w) * ksi
        p_nonyield = np.power(p_not, elasticity)
    if crossing_type in SIGNAL_CROSSING_TYPES and not turning:
        # a share of the pedestrians crosses against its red, through traffic that has the green: those meet
        # drivers who yield as at an uncontrolled crossing (and, like there, pick gaps: the same elasticity)
        red = param(parameters, "risk.pedestrian.red_crossing_share")
        against = np.power(1.0 - yield_probability(v_eff_kph, "marked", parameters=parameters), elasticity)
        p_nonyield = (1.0 - red) * p_nonyield + red * against
    factor = p_nonyield * param(parameters, "risk.pedestrian.collision_given_nonyield")
    if crossing_type in MARKED_CROSSINGS:
        # every measure's evidence compares it with the marked crossing it replaced: its own effect is its
        # mechanism (two-stage exposure, approach speed, yielding, the signal); dropping the x2 as well counted it
        # twice (refuge islands -73% against -32..-56%, raised crossings -64% against -45%, PHBs -83% against
        # -55%: the yielding elasticity itself was fitted to those before-after pairs of marked crossings)
        threshold = param(parameters, "risk.pedestrian.multilane_threshold_lanes")
        factor = factor * np.where(
            lanes > threshold, param(parameters, "risk.pedestrian.marked_multilane_factor"), 1.0
        )
    if crossing_type == "leading_pedestrian_interval":
        factor = factor * param(parameters, "risk.pedestrian.lpi_cmf")
    return {
        "fatal": factor * fatal,
        "serious": factor * (ksi - fatal),
        "slight": factor * (collision - ksi),
        "collision": factor * collision,
    }


def impact_speed_nodes_kph(
    approach_speed_kph: npt.ArrayLike, tau_s: npt.ArrayLike, *, parameters: Mapping[str, float]
) -> tuple[FloatArray, FloatArray]:
    """Impact speed of a non-yielding conflict at each node of reaction time and deceleration, with their weights.

    The kinematics of step 5 of the chain (module docstring): the driver reacts after ``t_r`` (lognormal, Green
    2000; Fambro 1998) and brakes at ``a`` (normal), so ``v_imp^2 = v^2 - 2 a (v tau - v t_r)``; full speed when
    the pedestrian entered the lane less than a reaction time before the vehicle arrived, 0 when it stops short.

    Parameters
    ----------
    approach_speed_kph
        Speed of the vehicle at the crossing [km/h], any shape.
    tau_s
        Time from the pedestrian entering the lane until the vehicle arrives [s] (negative values count as 0),
        broadcast with ``approach_speed_kph``.
    parameters
        Drawn parameter set (``risk.pedestrian.perception_reaction.*``, ``risk.pedestrian.deceleration.*``).

    Returns
    -------
    tuple of numpy.ndarray
        Impact speeds [km/h], shape ``(*broadcast shape, n_reaction, n_deceleration)`` (0: no collision), and the
        nodes' probability weights, shape ``(n_reaction, n_deceleration)``, summing to 1.
    """
    v = kph_to_mps(np.asarray(approach_speed_kph, dtype=np.float64))[..., None, None]
    t = np.maximum(np.asarray(tau_s, dtype=np.float64), 0.0)[..., None, None]
    t_r, w_r = _reaction_nodes(parameters)
    acc, w_a = _decel_nodes(parameters)
    braking_m = v * (t - t_r[:, None])  # distance left when braking starts
    v_imp2 = np.where(braking_m <= 0.0, v * v, np.maximum(v * v - 2.0 * acc[None, :] * braking_m, 0.0))
    impact: FloatArray = mps_to_kph(np.sqrt(v_imp2))
    weights: FloatArray = w_r[:, None] * w_a[None, :]
    return impact, weights


def _impact_expectations(
    v_kph: FloatArray, tau_s: FloatArray, parameters: Mapping[str, float]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """E[collision], E[death], E[killed or MAIS 3+] of a non-yielding conflict, over reaction time and deceleration."""
    impact_kph, weights = impact_speed_nodes_kph(v_kph, tau_s, parameters=parameters)
    hit_mask = impact_kph > 0.0
    v_hit_kph = impact_kph[hit_mask]
    p_fatal = np.zeros_like(impact_kph)
    p_ksi = np.zeros_like(impact_kph)
    fatal = pedestrian_injury_risk(v_hit_kph, "fatal", parameters=parameters)
    p_fatal[hit_mask] = fatal
    # the death risk once: "serious" is the larger of the MAIS 3+ risk and it (a third of the table's logistics)
    p_ksi[hit_mask] = _serious_given_fatal(v_hit_kph, fatal, parameters)

    def expect(x: FloatArray) -> FloatArray:
        out: FloatArray = np.einsum("...ij,ij->...", x, weights)
        return out

    return expect(hit_mask.astype(np.float64)), expect(p_fatal), expect(p_ksi)


@dataclass(frozen=True)
class _ImpactTable:
    """:func:`_impact_expectations` on a (speed, tau) grid, for fast bilinear look-up of many conflicts.

    Linear interpolation of values that never fall with speed never falls with speed either, so the monotonicity
    of the exact chain carries over.
    """

    dv_kph: float
    dtau_s: float
    values: tuple[FloatArray, FloatArray, FloatArray]  # collision, fatal, ksi; shape (n_v, n_tau)
    #: :meth:`mean_over_tau`'s means over the warning times, by the weights' bytes (filled as they are asked for)
    means: dict[bytes, tuple[FloatArray, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, parameters: Mapping[str, float], tau_max_s: float) -> _ImpactTable:
        """The table for these parameters (cached: replications with equal draws share it)."""
        key = tuple(float(parameters.get(name, np.nan)) for name in _TABLE_PARAMETERS)
        return _cached_table(key, float(tau_max_s))

    @classmethod
    def _compute(cls, parameters: Mapping[str, float], tau_max_s: float) -> _ImpactTable:
        v = np.arange(_TABLE_N_V, dtype=np.float64) * _TABLE_DV_KPH
        dtau = tau_max_s / (_TABLE_N_TAU - 1)
        tau = np.arange(_TABLE_N_TAU, dtype=np.float64) * dtau
        vv, tt = np.meshgrid(v, tau, indexing="ij")
        # a few speeds at a time: the expectations' nodes make each grid point 96 values (peak memory)
        parts = [
            _impact_expectations(vv[i : i + 32], tt[i : i + 32], parameters) for i in range(0, _TABLE_N_V, 32)
        ]
        c, f, k = (np.concatenate([part[j] for part in parts]) for j in range(3))
        return cls(_TABLE_DV_KPH, dtau, (c, f, k))

    def lookup(self, v_kph: FloatArray, tau_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        n_v, n_tau = self.values[0].shape
        x = np.clip(np.asarray(v_kph, dtype=np.float64) / self.dv_kph, 0.0, n_v - 1.000001)
        y = np.clip(np.asarray(tau_s, dtype=np.float64) / self.dtau_s, 0.0, n_tau - 1.000001)
        i, j = x.astype(np.int64), y.astype(np.int64)
        fx, fy = x - i, y - j

        def interp(z: FloatArray) -> FloatArray:
            out: FloatArray = (
                z[i, j] * (1 - fx) * (1 - fy)
                + z[i + 1, j] * fx * (1 - fy)
                + z[i, j + 1] * (1 - fx) * fy
                + z[i + 1, j + 1] * fx * fy
            )
            return out

        c, f, k = (interp(z) for z in self.values)
        return c, f, k

    def tau_grid_s(self) -> FloatArray:
        """The table's warning times [s]."""
        out: FloatArray = np.arange(self.values[0].shape[1], dtype=np.float64) * self.dtau_s
        return out

    def mean_over_tau(
        self, v_kph: FloatArray, weights: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The values averaged over the table's warning times (uniform, trapezoid rule), at speeds ``v_kph``.

        ``weights`` (one per warning time of :meth:`tau_grid_s`, 0-1): the conflicts' density at each warning time
        relative to the uniform one (:func:`lag_acceptance_share`); the mean is still over the uniform density, so
        weights below 1 remove conflicts.
        """
        grid = np.arange(self.values[0].shape[0]) * self.dv_kph
        n_tau = self.values[0].shape[1]
        w = np.ones(n_tau) if weights is None else np.asarray(weights, dtype=np.float64)
        key = w.tobytes()
        means = self.means.get(key)
        if means is None:  # once per table and weights (a crossing's groups of passages share them)
            means = tuple(np.trapezoid(z * w, axis=1) / (n_tau - 1) for z in self.values)
            if len(self.means) >= 16:  # a bound (weights change with the draw)
                self.means.clear()
            self.means[key] = means  # the local tuple is used below: safe if another thread clears the dict
        c, f, k = (np.interp(v_kph, grid, mean) for mean in means)
        return c, f, k


_TABLE_PARAMETERS: tuple[str, ...] = (
    "risk.pedestrian.perception_reaction.median_s",
    "risk.pedestrian.perception_reaction.sigma_log",
    "risk.pedestrian.deceleration.mean_mps2",
    "risk.pedestrian.deceleration.sd_mps2",
    "risk.pedestrian.fatality.intercept",
    "risk.pedestrian.fatality.slope",
    "risk.pedestrian.mais3.intercept",
    "risk.pedestrian.mais3.slope",
    "risk.pedestrian.injury_speed_shift_kph",
)


@functools.lru_cache(maxsize=8)
def _cached_table(key: tuple[float, ...], tau_max_s: float) -> _ImpactTable:
    values = {n: v for n, v in zip(_TABLE_PARAMETERS, key, strict=True) if not np.isnan(v)}
    return _ImpactTable._compute(values, tau_max_s)


def _flag(frame: pd.DataFrame, column: str) -> npt.NDArray[np.bool_]:
    """A boolean column of ``frame``, all False when the frame has none (records built without it)."""
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    if frame[column].dtype == bool:  # no missing values: the column itself (no copy)
        flags: npt.NDArray[np.bool_] = frame[column].to_numpy()
        return flags
    out: npt.NDArray[np.bool_] = frame[column].fillna(False).to_numpy(dtype=bool)
    return out


def _period_codes(column: pd.Series, names: list[str]) -> npt.NDArray[np.int8]:
    """Per row of a ``period`` column, the position of its period among ``names`` (-1: none of them, or missing).

    Through the column's distinct values (:func:`pandas.factorize`; a categorical column's categories), so that
    no Python string is made per row (the record's string columns hold none).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = column.cat.codes.to_numpy(np.int64), column.cat.categories
    else:
        codes, uniques = pd.factorize(column)
    lookup = np.r_[pd.Index(names).get_indexer(pd.Index(uniques).astype(str)), -1].astype(np.int8)
    out: npt.NDArray[np.int8] = lookup[codes]  # code -1 (missing) -> the last entry, -1
    return out


def _positions(index: pd.Index, values: pd.Series) -> npt.NDArray[np.int32]:
    """Per value, its position in ``index`` (-1: not in it); a 0..n-1 range index needs no look-up table."""
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        v = values.to_numpy()
        pos = v.astype(np.int32)
        pos[(v < 0) | (v >= len(index))] = -1
        return pos
    out: npt.NDArray[np.int32] = index.get_indexer(pd.Index(values)).astype(np.int32)
    return out


#: Passages whose casualties are computed at once (in blocks of whole crossings): bounds the risk stage's
#: per-passage temporaries (a memory setting, not a model number).
_BLOCK_PASSAGES = 1 << 18
#: The most passages a record may have for :class:`CrossingPassages` to keep them grouped (~70 bytes each with the
#: impact means: ~1.1 GiB); a larger record is grouped again on every call (a memory setting, not a model number).
_KEEP_PASSAGES = 1 << 24


def crossing_leg_weight(network: RoadNetwork) -> FloatArray:
    """Per crossing: the share of its pedestrians whom a vehicle passing it meets (1, or ``2 / legs`` at a junction).

    A crossing along a road, or on a node where at most two streets meet, is crossed once by every vehicle passing
    it: it meets all the crossing's pedestrians. A crossing on a junction node (``legs`` >= 3 streets meet,
    :func:`vision_zero.traffic.demand.junction_legs`) stands for the crosswalks of all its legs
    (:func:`vision_zero.traffic.demand.pedestrian_demand` gives it the pedestrians of every leg): a pedestrian
    crosses one leg and meets the vehicles entering and leaving the junction by that leg; every vehicle through the
    junction crosses two legs' crosswalks (where it enters and where it leaves). The record does not say where each
    vehicle leaves, so the pedestrians are spread evenly over the legs and each vehicle meets ``2 / legs`` of them:
    summed over the vehicles, each leg's pedestrians meet the legs' flows in and out, as at a street's junction end
    where no crossing is mapped (:func:`injuries_on_streets`), so mapping a crossing at a junction moves its
    pedestrians without changing how many vehicles they meet.

    Cached within a process by what it reads (the links' ends, the crossings' nodes, the node count), not by the
    network's name; the array returned is read-only.
    """
    node = network.crossings["node"].to_numpy(np.int64)
    links = network.links
    h = hashlib.blake2b(digest_size=16)
    for a in (links["u"].to_numpy(np.int64), links["v"].to_numpy(np.int64), node):
        h.update(len(a).to_bytes(8, "little"))
        h.update(np.ascontiguousarray(a).tobytes())
    key = (len(network.nodes), h.hexdigest())  # all it reads: the links' ends and the crossings' nodes

    def compute() -> FloatArray:
        per_node = junction_legs(network)
        legs = per_node[np.maximum(node, 0)].astype(np.float64)
        out: FloatArray = np.where(
            crossings_at_junctions(network, per_node), 2.0 / np.maximum(legs, 1.0), 1.0
        )
        out.flags.writeable = False  # shared by every caller with this network
        return out

    return _LEG_WEIGHT_CACHE.get_or_compute(key, compute)


#: :func:`crossing_leg_weight` per network content (the link ends and crossing nodes it reads): the risk stage
#: calls it for every estimate, a sensitivity run once per parameter value on the same network.
_LEG_WEIGHT_CACHE: BoundedCache[tuple[int, str], FloatArray] = BoundedCache(16)


def pedestrian_rates(record: TrafficRecord) -> pd.DataFrame:
    """Pedestrians arriving per hour at each crossing, per period: ``period`` str, ``crossing`` int, ``peds_per_h``.

    The record's pedestrian demand (:attr:`~vision_zero.traffic.simulation.TrafficRecord.pedestrian_demand`,
    Poisson rates); rows with no pedestrians are dropped.
    """
    out = record.pedestrian_demand[["period", "crossing", "peds_per_h"]].astype(
        {"period": str, "crossing": np.int64}
    )
    kept: pd.DataFrame = out[np.isfinite(out["peds_per_h"]) & (out["peds_per_h"] > 0)].reset_index(drop=True)
    return kept


def crossing_injuries(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    passages: CrossingPassages | None = None,
) -> pd.DataFrame:
    """Expected annual pedestrian casualties at each crossing (site_type ``"crossing"``), raw (uncalibrated).

    Expected over the pedestrians' arrivals, not over a draw of them: pedestrians arrive at a crossing as a
    Poisson stream of rate ``lambda`` (:func:`pedestrian_rates`), uniform in time, so a vehicle passing the crossing
    meets on average ``lambda x w x W`` pedestrians in the carriageway (``W``: one stage's crossing time,
    :func:`crossing_time_s`; ``w``: the share of the crossing's pedestrians on the crosswalks it passes, 1, or
    ``2 / legs`` at a junction node, :func:`crossing_leg_weight`), each with a warning time uniform over
    ``[0, W)``. Each passage thus contributes ``lambda x w x W x`` the chain's risk averaged over the lane-entry
    time (:func:`conflict_injury_risk`, :func:`lane_entry_tau_s`; exact when ``W`` is whole lanes), for a vehicle
    passing at its running speed weighted by the share of pedestrians who accept that lag
    (:func:`lag_acceptance_share`). The period is taken as a sample of a steady state (a vehicle passing in its
    first ``W`` seconds meets pedestrians who stepped out just before).

    Counting the coincidences of one draw of pedestrians with the vehicles instead made rare events (one
    pedestrian meeting one red-light runner) decide a crossing's casualties, and a variant that moves pedestrians
    (new crossings) drew a different set of arrivals everywhere: on the tiny network the crossings program moved
    pedestrian KSI by +6% or -71% with the replication.

    Every crossing of the network gets a row per severity (zero where nobody crossed). Each period's expected
    casualties are multiplied by :func:`vision_zero.traffic.periods.annual_factor`. ``passages``: as
    :func:`crossing_casualties_by_movement` takes it.
    """
    by_movement = crossing_casualties_by_movement(network, record, parameters=parameters, passages=passages)
    totals = by_movement.groupby("crossing")[["fatal", "serious", "slight"]].sum()
    totals = totals.reindex(network.crossings.index, fill_value=0.0)
    return _site_rows("crossing", totals.index.to_numpy(np.int64), totals.to_numpy(np.float64))


#: The vehicles' movements at a crossing (:func:`crossing_casualties_by_movement`): passing at the running speed,
#: leaving the stop line after waiting there, turning at the crossing's node.
MOVEMENTS: tuple[str, ...] = ("passing", "from_stop", "turning")


def crossing_casualties_by_movement(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    passages: CrossingPassages | None = None,
) -> pd.DataFrame:
    """Expected annual passages, collisions and casualties at each crossing by the vehicles' movement, raw.

    The terms :func:`crossing_injuries` adds up (one owner): ``crossing`` int (crossing id), ``movement`` str (one
    of :data:`MOVEMENTS`: a turning vehicle counts as ``"turning"`` whether or not it waited), ``passages`` (vehicles
    passing a crossing with pedestrian demand, per year), ``collision``, ``fatal``, ``serious``, ``slight`` (per
    year). Only crossings with pedestrians and passages get rows.

    ``passages``: the record's passages grouped once (:class:`CrossingPassages` of ``network`` and ``record``, kept),
    for a caller that re-runs this for other parameters on the same traffic; None: grouped here, a block at a time.
    """
    if passages is None:
        passages = CrossingPassages(network, record)
    return passages.casualties(parameters)


#: :func:`_mean_impact`'s result: speed at the crossing, E[collision], E[death], E[KSI] per passage.
_Impact = tuple[FloatArray, FloatArray, FloatArray, FloatArray]


class _ReadsKept(Mapping[str, float]):
    """A parameter mapping that records the keys read (as ``get`` reads them too); iterating reads them all."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> float:
        self.read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        self.read.update(self._values)
        return iter(self._values)

    def __len__(self) -> int:
        self.read.update(self._values)
        return len(self._values)


@dataclass(frozen=True)
class _PassageGroup:
    """The passages of one block of crossings (:data:`_BLOCK_PASSAGES`) with one crossing type and one movement.

    In the record's order; only what no parameter moves: each passage's running speed and flags, its crossing's
    position, its (crossing, movement) cell, the pedestrians per second it meets (the crossing's rate in its period
    x :func:`crossing_leg_weight`) and its period's annual factor.
    """

    type_code: int
    movement: int
    running: FloatArray
    stopped: npt.NDArray[np.bool_]
    turning: npt.NDArray[np.bool_]
    pos: npt.NDArray[np.int32]
    cell: npt.NDArray[np.int64]
    met_per_s: FloatArray
    annual: FloatArray
    site_p85: FloatArray | None  # raised crossings only: the 85th percentile of their approach speeds


class CrossingPassages:
    """A record's vehicle passages at the crossings, grouped for :func:`crossing_casualties_by_movement`.

    The grouping reads no parameter: the passages of each block of whole crossings by crossing type and movement,
    the pedestrians each meets, the 85th-percentile speeds of the raised crossings. ``keep``: hold the groups
    after the first call of :meth:`casualties`, so that a re-run for other parameters on the same traffic
    (:mod:`vision_zero.runs.sensitivity`) computes only what the parameters move (memory: about 40 bytes per
    passage of a crossing with pedestrians, and 32 for the impact means, :meth:`_impact`; a record of more than
    :data:`_KEEP_PASSAGES` passages is not kept); otherwise the groups are made a block at a time on every call, as
    many passages at once as :data:`_BLOCK_PASSAGES` allows. Both give the same numbers to the last bit (the same
    operations on the same values in the same order).
    """

    def __init__(self, network: RoadNetwork, record: TrafficRecord, *, keep: bool = False) -> None:
        self._network = network
        self._record = record
        self._keep = keep and len(record.passages) <= _KEEP_PASSAGES
        self._kept: tuple[FloatArray, list[_PassageGroup]] | None = None
        # per kept group (by id): the parameters its impact read, their values, the impact (CrossingPassages._impact)
        self._impacts: dict[int, tuple[tuple[str, ...], tuple[float | None, ...], _Impact]] = {}
        # per kept group (by id): the parameters its terms read, their values, the terms (CrossingPassages._terms)
        self._kept_terms: dict[
            int, tuple[tuple[str, ...], tuple[float | None, ...], tuple[FloatArray, ...]]
        ] = {}
        crossings = network.crossings
        self._n = len(crossings)
        self.type_names: npt.NDArray[np.str_] = np.array([], dtype=str)
        self.type_code: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self.lanes: FloatArray = crossings["lanes_crossed"].to_numpy(np.float64)
        self.active = bool(
            self._n and len(record.passages) and record.periods and len(pedestrian_rates(record))
        )
        if self.active:
            types = crossings["crossing_type"].astype(str).replace("", "unmarked").to_numpy()
            # the crossing types as integer codes (the names sorted, as np.unique orders them): per passage a code
            # is compared and grouped, not a string (on a city's AM peak that took ~2 of the risk stage's ~4 CPU-s)
            self.type_names, self.type_code = np.unique(types, return_inverse=True)

    def _blocks(self) -> Iterator[tuple[FloatArray, list[_PassageGroup]]]:
        """Per block of crossings: the annual passages per (crossing, movement) cell, and the block's groups."""
        network, record, n, n_mov = self._network, self._record, self._n, len(MOVEMENTS)
        crossings = network.crossings
        cars = record.passages
        rates = pedestrian_rates(record)
        factors = np.array([annual_factor(p) for p in record.periods])
        type_names, type_code = self.type_names, self.type_code
        raised_code = int(np.searchsorted(type_names, "raised"))
        if raised_code == len(type_names) or type_names[raised_code] != "raised":
            raised_code = -1
        met_share = crossing_leg_weight(network)  # of the crossing's pedestrians, those a passage meets
        names = [p.name for p in record.periods]
        r_per = _period_codes(rates["period"], names)
        r_pos = _positions(crossings.index, rates["crossing"])
        ok = (r_per >= 0) & (r_pos >= 0)
        per_s = np.zeros((len(record.periods), n))
        np.add.at(per_s, (r_per[ok], r_pos[ok]), rates["peds_per_h"].to_numpy(np.float64)[ok] / 3600.0)
        # per passage only compact codes; the casualties are summed in blocks of whole crossings (a city's day has
        # tens of millions of passages): each (crossing, movement) cell is summed over the same passages in the
        # same order as in one block, so the totals do not depend on the blocks
        c_per = _period_codes(cars["period"], names)
        c_pos = _positions(crossings.index, cars["crossing"])
        c_pos[c_per < 0] = -1
        ends = np.cumsum(np.bincount(c_pos[c_pos >= 0], minlength=n))  # after each crossing's passages
        marks = np.searchsorted(ends, np.arange(_BLOCK_PASSAGES, ends[-1], _BLOCK_PASSAGES)) + 1
        bounds = np.unique(np.r_[0, marks, n])  # blocks of crossings [a, b)
        turning_all, stopped_all = _flag(cars, "turning"), _flag(cars, "stopped")
        running_all = cars["speed_kph"].to_numpy(np.float64)
        for lo, hi in itertools.pairwise(bounds):
            block = np.flatnonzero((c_pos >= lo) & (c_pos < hi))  # in the table's order
            b_per, b_pos = c_per[block], c_pos[block]
            block = block[per_s[b_per, b_pos] > 0]  # passages of a crossing with pedestrians in their period
            b_per, b_pos = c_per[block], c_pos[block]
            turning, stopped, running = turning_all[block], stopped_all[block], running_all[block]
            b_code = type_code[b_pos]
            # 85th percentile of the approach speeds at each raised crossing (its design speed is one; no other
            # crossing type reads it, so the grouped quantile runs over the raised crossings' passages only)
            site_p85 = np.full(len(b_pos), np.nan)
            raised = b_code == raised_code
            if raised.any():
                p85 = pd.Series(running[raised]).groupby(b_pos[raised]).quantile(DESIGN_SPEED_QUANTILE)
                site_p85[raised] = p85.reindex(b_pos[raised]).to_numpy(np.float64)
            movement = np.where(turning, 2, np.where(stopped, 1, 0))
            cell = b_pos.astype(np.int64) * n_mov + movement
            passages = np.asarray(
                np.bincount(cell, weights=factors[b_per], minlength=n * n_mov), dtype=np.float64
            )
            met = per_s[b_per, b_pos] * met_share[b_pos]  # pedestrians met per second of crossing time
            groups = []
            for c in np.unique(b_code):
                of_type = b_code == c
                for code in range(n_mov):
                    m = of_type & (movement == code)
                    if not m.any():
                        continue
                    groups.append(
                        _PassageGroup(
                            type_code=int(c),
                            movement=code,
                            running=running[m],
                            stopped=stopped[m],
                            turning=turning[m],
                            pos=b_pos[m],
                            cell=cell[m],
                            met_per_s=met[m],
                            annual=factors[b_per[m]],
                            site_p85=site_p85[m] if int(c) == raised_code else None,
                        )
                    )
            yield passages, groups

    def _groups(self) -> Iterator[tuple[FloatArray, list[_PassageGroup]]]:
        if not self._keep:
            yield from self._blocks()
            return
        if self._kept is None:
            n_cells = self._n * len(MOVEMENTS)
            total, kept = np.zeros(n_cells), []
            for passages, groups in self._blocks():
                total += passages
                kept.extend(groups)
            self._kept = (total, kept)
        yield self._kept

    def _impact(self, g: _PassageGroup, ctype: str, parameters: Mapping[str, float]) -> _Impact:
        """:func:`_mean_impact` of a group's passages at their speed at the crossing (:func:`movement_speed_kph`).

        Kept groups keep the first result, with the parameters it read (:class:`_ReadsKept`), and give it again
        while those parameters keep their values: a re-run that moves only yielding, the injury share of a turn or
        a crossing factor (:func:`_combine`) reads the interpolated means of the first run instead of computing
        them again. A group of through vehicles (none stopped, none turning) keeps its running speeds whatever the
        start and turning parameters (:func:`movement_speed_kph`): they do not count among its parameters. One
        result per group is kept (memory: 32 bytes per passage).
        """

        def compute(speed_values: Mapping[str, float], values: Mapping[str, float]) -> _Impact:
            speed = movement_speed_kph(
                g.running, stopped=g.stopped, turning=g.turning, parameters=speed_values
            )
            through = MOVEMENTS[g.movement] == "passing"
            return _mean_impact(speed, ctype, values, site_p85_kph=g.site_p85, through=through)

        if not self._keep:
            return compute(parameters, parameters)
        kept = self._impacts.get(id(g))
        if kept is not None:
            names, key, result = kept
            if tuple(parameters.get(name) for name in names) == key:
                return result
            return compute(parameters, parameters)
        speed_reads, impact_reads = _ReadsKept(parameters), _ReadsKept(parameters)
        result = compute(speed_reads, impact_reads)
        read = impact_reads.read
        if (
            g.stopped.any() or g.turning.any()
        ):  # else every passage keeps its running speed, whatever they say
            read |= speed_reads.read
        names = tuple(sorted(read))
        self._impacts[id(g)] = (names, tuple(parameters.get(name) for name in names), result)
        return result

    def _terms(
        self, g: _PassageGroup, window: FloatArray, window_read: set[str], parameters: Mapping[str, float]
    ) -> tuple[FloatArray, ...]:
        """A group's collisions, deaths, serious and slight injuries per (crossing, movement) cell (all cells).

        Kept groups keep the first terms, with the parameters they read (the crossing time ``window``'s, the
        impact's, :func:`_combine`'s for the group's crossing type and movement), and give them again while those
        parameters keep their values: a parameter of one crossing type (a beacon's yielding, the LPI factor) or of
        one movement recomputes only its groups. One set of terms per group is kept (memory: 4 x 8 bytes per
        cell).
        """
        ctype, turning = str(self.type_names[g.type_code]), MOVEMENTS[g.movement] == "turning"
        n_cells = self._n * len(MOVEMENTS)

        def compute(values: Mapping[str, float]) -> tuple[FloatArray, ...]:
            # pedestrians met per passage x annualisation
            weight = g.met_per_s * window[g.pos] * g.annual
            v_eff, coll, fa, k = self._impact(g, ctype, parameters)
            risk = _combine(v_eff, self.lanes[g.pos], ctype, values, coll, fa, k, turning=turning)
            return tuple(
                np.asarray(
                    np.bincount(g.cell, weights=weight * risk[key], minlength=n_cells), dtype=np.float64
                )
                for key in ("collision", "fatal", "serious", "slight")
            )

        if not self._keep:
            return compute(parameters)
        kept = self._kept_terms.get(id(g))
        if kept is not None:
            names, key, terms = kept
            if tuple(parameters.get(name) for name in names) == key:
                return terms
            return compute(parameters)
        combine_reads = _ReadsKept(parameters)
        terms = compute(combine_reads)
        names = tuple(sorted(window_read | set(self._impacts[id(g)][0]) | combine_reads.read))
        self._kept_terms[id(g)] = (names, tuple(parameters.get(name) for name in names), terms)
        return terms

    def casualties(self, parameters: Mapping[str, float]) -> pd.DataFrame:
        """:func:`crossing_casualties_by_movement` for these parameters."""
        crossings = self._network.crossings
        n, n_mov = self._n, len(MOVEMENTS)
        totals = np.zeros((n * n_mov, 5))  # passages, collision, fatal, serious, slight
        if self.active:
            type_names, lanes = self.type_names, self.lanes
            window = np.zeros(n)
            window_reads = _ReadsKept(parameters)
            for c, ctype in enumerate(type_names):
                m = self.type_code == c
                window[m] = crossing_time_s(lanes[m], str(ctype), parameters=window_reads)
            for passages, groups in self._groups():
                totals[:, 0] += passages
                for g in groups:
                    terms = self._terms(g, window, window_reads.read, parameters)
                    for j in range(4):
                        totals[:, j + 1] += terms[j]
        out = pd.DataFrame(totals, columns=["passages", "collision", "fatal", "serious", "slight"])
        out.insert(0, "movement", np.tile(np.array(MOVEMENTS, dtype=object), n))
        out.insert(0, "crossing", np.repeat(crossings.index.to_numpy(np.int64), n_mov))
        kept: pd.DataFrame = out[out["passages"] > 0].reset_index(drop=True)
        return kept


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    cols = ["site_type", "site", "road_user", "severity", "per_year_raw"]
    return pd.DataFrame(rows, columns=cols).astype({"site": "int64", "per_year_raw": "float64"})


def _site_rows(site_type: str, sites: npt.NDArray[np.int64], values: FloatArray) -> pd.DataFrame:
    """Three pedestrian rows per site (fatal, serious, slight; ``values`` per site in that order), column by column.

    The frame :func:`_frame` makes of the same rows as dicts (bit for bit, dtypes too), without a Python object per
    row.
    """
    if not len(sites):
        return _frame([])
    severities = ("fatal", "serious", "slight")
    n = len(severities) * len(sites)
    return pd.DataFrame(
        {
            "site_type": [site_type] * n,
            "site": np.repeat(np.asarray(sites, dtype=np.int64), len(severities)),
            "road_user": ["pedestrian"] * n,
            "severity": list(severities) * len(sites),
            "per_year_raw": np.asarray(values, dtype=np.float64)[:, : len(severities)].reshape(-1),
        }
    )


def injuries_away_from_crossings(
    network: RoadNetwork, record: TrafficRecord, *, parameters: Mapping[str, float]
) -> pd.DataFrame:
    """Expected annual pedestrian casualties crossing away from crossings, per link (site_type ``"link"``).

    Proxy (documented): the pedestrians arriving at a crossing (:func:`pedestrian_rates`) stand for the link's
    pedestrian activity; a share ``s`` of all crossings is made away from crosswalks (FHWA-HRT-13-098, 11%), so each crossing pedestrian
    brings ``s / (1 - s)`` crossings elsewhere on the crossing's links (both directions of a road; at a junction
    spread over its legs). Each is an
    uncontrolled crossing of the whole road (both directions' lanes) met by the link's traffic at its simulated
    mean speed; the conflict time ``tau`` is integrated uniformly over the crossing time. Links without a
    crossing have no pedestrian activity in the record and get none.
    """
    s = param(parameters, "risk.pedestrian.share_away_from_crossings")
    links = network.links
    rates = pedestrian_rates(record)
    if not len(rates) or not len(network.crossing_links) or not len(record.link_stats):
        return _frame([])
    durations_s = {p.name: p.duration_s for p in record.periods}
    # expected pedestrians at each crossing in each period (the arrivals' rate, not a draw of them)
    peds = rates.assign(n=rates["peds_per_h"] * rates["period"].map(durations_s).astype(np.float64) / 3600.0)
    peds = peds[["period", "crossing", "n"]].dropna()
    cl = network.crossing_links[["crossing", "link"]]
    # A pedestrian crosses one road: both directions of a two-way link (weight 1 each), or one of the legs of a
    # junction, met by the vehicles through it as at the crossing itself (crossing_leg_weight: 2 / legs on each
    # incoming link; summed over them, the flows in and out of each leg)
    cl = cl.assign(weight=crossing_leg_weight(network)[cl["crossing"].to_numpy(np.int64)])
    per_link = peds.merge(cl, on="crossing")
    per_link["away"] = per_link["n"] * per_link["weight"] * s / (1.0 - s)
    away = per_link.groupby(["period", "link"])["away"].sum().reset_index()
    stats = record.link_stats[["period", "link", "entries", "mean_speed_kph"]].astype({"period": str})
    away = away.merge(stats, on=["period", "link"], how="inner")
    durations = {p.name: p.duration_s for p in record.periods}
    away = away[(away["entries"] > 0) & np.isfinite(away["mean_speed_kph"])]
    link = away["link"].to_numpy(np.int64)
    n_lanes = links["lanes"].to_numpy(np.float64)
    reverse = links["reverse"].to_numpy(np.int64)
    lanes = n_lanes[link] + np.where(reverse[link] >= 0, n_lanes[np.maximum(reverse[link], 0)], 0.0)
    window = crossing_time_s(lanes, "unmarked", parameters=parameters)
    period = away["period"].astype(str)
    flow_vps = away["entries"].to_numpy(np.float64) / period.map(durations).to_numpy(np.float64)
    f = annual_factors(period, record.periods) * away["away"].to_numpy(np.float64) * flow_vps * window
    speed = away["mean_speed_kph"].to_numpy(np.float64)
    risk = _mean_conflict_risk(speed, lanes, "unmarked", parameters, through=True)
    return _link_rows(len(links), link, {sev: f * risk[sev] for sev in ("fatal", "serious", "slight")})


def _mean_conflict_risk(
    speed_kph: FloatArray,
    lanes: FloatArray,
    crossing_type: str,
    parameters: Mapping[str, float],
    *,
    turning: bool = False,
    site_p85_kph: FloatArray | None = None,
    through: bool = False,
) -> dict[str, FloatArray]:
    """Expected casualties per conflict, the warning time uniform over one lane's crossing (:func:`_combine`).

    ``speed_kph`` is each vehicle's speed at the crossing (after :func:`movement_speed_kph`); a raised crossing
    slows it to the table's speeds (:func:`effective_approach_speed_kph`, with the 85th percentile of the
    approach speeds at the vehicle's crossing, ``site_p85_kph``). ``through``: the vehicles come straight at the
    pedestrians at their running speed (neither turning nor leaving a stop line), so the pedestrians picked their
    lag (:func:`lag_acceptance_share` weights the warning times).
    """
    v_eff, c, fa, k = _mean_impact(
        speed_kph, crossing_type, parameters, site_p85_kph=site_p85_kph, through=through
    )
    return _combine(
        v_eff, np.asarray(lanes, dtype=np.float64), crossing_type, parameters, c, fa, k, turning=turning
    )


def _mean_impact(
    speed_kph: FloatArray,
    crossing_type: str,
    parameters: Mapping[str, float],
    *,
    site_p85_kph: FloatArray | None = None,
    through: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The first steps of :func:`_mean_conflict_risk`: the speed at the crossing, and E[collision], E[death], E[KSI].

    Of a non-yielding conflict, averaged over the warning time (:meth:`_ImpactTable.mean_over_tau`).
    """
    v_eff = effective_approach_speed_kph(
        np.asarray(speed_kph, dtype=np.float64), crossing_type, parameters, site_p85_kph=site_p85_kph
    )
    table = _ImpactTable.build(parameters, _lane_time_s(parameters))
    weights = lag_acceptance_share(table.tau_grid_s(), parameters=parameters) if through else None
    c, fa, k = table.mean_over_tau(v_eff, weights)
    return v_eff, c, fa, k


def _link_rows(n_links: int, link: npt.NDArray[np.int64], per_year: Mapping[str, FloatArray]) -> pd.DataFrame:
    """Rows (site_type ``"link"``) of the casualties per year summed per link, for the links present."""
    totals = {sev: np.bincount(link, weights=per_year[sev], minlength=n_links)[:n_links] for sev in per_year}
    sites = np.unique(link)
    return _site_rows(
        "link", sites, np.column_stack([totals[sev][sites] for sev in ("fatal", "serious", "slight")])
    )


class _Drawn(Mapping[str, Parameter]):
    """A replication's draw seen as parameters, read lazily.

    Only the names the demand model asks for are read (the risk-only sensitivity re-run records which parameters
    each part reads).
    """

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> Parameter:
        return Parameter(name, float(self._values[name]), "", "replication draw", "derived")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def injuries_on_streets(
    network: RoadNetwork, record: TrafficRecord, *, parameters: Mapping[str, float]
) -> pd.DataFrame:
    """Expected annual pedestrian casualties crossing streets between mapped crossings, per link, raw.

    Local and collector streets that no mapped crossing serves (site_type ``"link"``).
    The pedestrians come from the demand model (:func:`vision_zero.traffic.demand.street_pedestrian_demand`:
    ``demand.pedestrians_per_hour.local`` / ``.collector`` at each junction end of the street, x land use x time
    of day); a share ``s`` of all crossings is made away from the junctions (``risk.pedestrian.
    share_away_from_crossings``, FHWA-HRT-13-098), so the junction crossings are ``1 - s`` of the street's
    crossings. Each is an unmarked crossing of the whole road (both directions' lanes) met by the link's simulated
    traffic: conflicts = pedestrians x flow x crossing time, and each conflict's risk is the chain of
    :func:`conflict_injury_risk` (yielding by approach speed, reaction, braking, impact speed) averaged over the
    link's simulated speed distribution (each vehicle's running speed, from the speed histogram) and over the
    warning time. Vehicles turning at the junction or starting from a give-way stop are taken at their running
    speed (the record has no movements on streets without a mapped crossing: an upper bound on severity).
    """
    links = network.links
    if not len(record.link_stats) or not len(links):
        return _frame([])
    demand = street_pedestrian_demand(
        network, periods=record.periods, params=ParameterSet(_Drawn(parameters))
    )
    stats = record.link_stats[["period", "link", "entries", "mean_speed_kph"]].astype({"period": str})
    d = demand.merge(stats, on=["period", "link"], how="inner")
    d = d[(d["entries"] > 0) & (d["peds_per_h"] > 0) & np.isfinite(d["mean_speed_kph"])].reset_index(
        drop=True
    )
    if not len(d):
        return _frame([])
    s = param(parameters, "risk.pedestrian.share_away_from_crossings")
    durations = {p.name: p.duration_s for p in record.periods}
    duration_s = d["period"].map(durations).to_numpy(np.float64)
    link = d["link"].to_numpy(np.int64)
    n_lanes = links["lanes"].to_numpy(np.float64)
    reverse = links["reverse"].to_numpy(np.int64)
    lanes = n_lanes[link] + np.where(reverse[link] >= 0, n_lanes[np.maximum(reverse[link], 0)], 0.0)
    peds = d["peds_per_h"].to_numpy(np.float64) * duration_s / 3600.0 / (1.0 - s)
    flow_vps = d["entries"].to_numpy(np.float64) / duration_s
    window = crossing_time_s(lanes, "unmarked", parameters=parameters)
    conflicts = annual_factors(d["period"], record.periods) * peds * flow_vps * window
    # each vehicle's running speed: the link-period's speed histogram (bin midpoints), else its mean speed
    speed = d["mean_speed_kph"].to_numpy(np.float64)
    row = np.arange(len(d))
    weight = np.ones(len(d))
    hist = record.speed_hist
    if len(hist):
        h = hist[["period", "link", "bin_lo_kph", "count"]].astype({"period": str})
        h = h.merge(d[["period", "link"]].assign(row=row), on=["period", "link"], how="inner")
        total = h.groupby("row")["count"].transform("sum").to_numpy(np.float64)
        h_row = h["row"].to_numpy(np.int64)
        has = np.zeros(len(d), dtype=bool)
        has[h_row[total > 0]] = True
        keep = ~has
        row = np.concatenate([h_row[total > 0], row[keep]])
        speed = np.concatenate(
            [(h["bin_lo_kph"].to_numpy(np.float64) + 0.5 * SPEED_BIN_KPH)[total > 0], speed[keep]]
        )
        weight = np.concatenate(
            [(h["count"].to_numpy(np.float64) / np.where(total > 0, total, 1.0))[total > 0], weight[keep]]
        )
    risk = _mean_conflict_risk(speed, lanes[row], "unmarked", parameters, through=True)
    w = conflicts[row] * weight
    return _link_rows(len(links), link[row], {sev: w * risk[sev] for sev in ("fatal", "serious", "slight")})
