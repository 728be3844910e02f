"""Pedestrian injuries per conflict: the chain from exposure to injury, and the pedestrian model as a whole.

The pedestrian model's modules: the injury curves (:mod:`vision_zero.risk.pedestrian_injury`), drivers' and
pedestrians' behaviour at a crossing (:mod:`vision_zero.risk.crossing_behaviour`), this chain per conflict, the
vehicles' passages at the mapped crossings (:mod:`vision_zero.risk.crossing_passages`) and the pedestrians
crossing away from them (:mod:`vision_zero.risk.away_from_crossings`). Pedestrian injuries are conflict-based
at crossings, exposure-based away from them and on the streets between.

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

Where the evidence's crash-modification factor and the mechanism differ (see ``tests/risk/test_crossing_passages.py``
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
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vision_zero.core.units import kph_to_mps, mps_to_kph
from vision_zero.network.road_network import CROSSING_TYPES, SIGNAL_CROSSING_TYPES
from vision_zero.risk._parameters import param
from vision_zero.risk.crossing_behaviour import (
    effective_approach_speed_kph,
    lag_acceptance_share,
    lane_crossing_time_s,
    movement_speed_kph,
    yield_probability,
)
from vision_zero.risk.pedestrian_injury import pedestrian_injury_risk, serious_given_fatal

__all__ = [
    "GridPoints",
    "combine_conflict_risks",
    "conflict_injury_risk",
    "crossing_speed_kph",
    "impact_means",
    "impact_speed_grid_kph",
    "impact_speed_nodes_kph",
    "mean_conflict_risk",
]

FloatArray = npt.NDArray[np.float64]

#: Every marked crossing (all types but ``unmarked``): Elvik's x2 on roads with more than two lanes applies to them
#: all, because the evidence for each measure compares it with the marked crossing it replaced (module docstring).
MARKED_CROSSINGS: tuple[str, ...] = tuple(t for t in CROSSING_TYPES if t != "unmarked")
_N_REACTION_NODES = 12
_N_DECEL_NODES = 8
_MIN_DECEL_MPS2 = 1.0
_TABLE_DV_KPH = 0.5
_TABLE_N_V = 321  # 0-160 km/h
_TABLE_N_TAU = 81


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
    return combine_conflict_risks(
        v_kph, lanes, crossing_type, parameters, collision, fatal, ksi, turning=turning
    )


def combine_conflict_risks(
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
    p_ksi[hit_mask] = serious_given_fatal(v_hit_kph, fatal, parameters)

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

    def speed_grid_kph(self) -> FloatArray:
        """The table's speeds [km/h] (the same for every table: :data:`_TABLE_N_V` steps of :data:`_TABLE_DV_KPH`)."""
        out: FloatArray = np.arange(self.values[0].shape[0]) * np.float64(self.dv_kph)
        return out

    def mean_over_tau(
        self, v_kph: FloatArray, weights: FloatArray | None = None, *, at: GridPoints | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The values averaged over the table's warning times (uniform, trapezoid rule), at speeds ``v_kph``.

        ``weights`` (one per warning time of :meth:`tau_grid_s`, 0-1): the conflicts' density at each warning time
        relative to the uniform one (:func:`lag_acceptance_share`); the mean is still over the uniform density, so
        weights below 1 remove conflicts. ``at``: where ``v_kph`` falls on :meth:`speed_grid_kph`
        (:class:`GridPoints`, kept by a caller that asks for other tables at the same speeds): the same numbers.
        """
        grid = self.speed_grid_kph()
        n_tau = self.values[0].shape[1]
        w = np.ones(n_tau) if weights is None else np.asarray(weights, dtype=np.float64)
        key = w.tobytes()
        means = self.means.get(key)
        if means is None:  # once per table and weights (a crossing's groups of passages share them)
            means = tuple(np.trapezoid(z * w, axis=1) / (n_tau - 1) for z in self.values)
            if len(self.means) >= 16:  # a bound (weights change with the draw)
                self.means.clear()
            self.means[key] = means  # the local tuple is used below: safe if another thread clears the dict
        if at is not None and at.on(grid):
            c, f, k = (at.interp(mean) for mean in means)
        else:
            c, f, k = (np.interp(v_kph, grid, mean) for mean in means)
        return c, f, k


@dataclass(frozen=True)
class GridPoints:
    """Where values ``x`` fall on a grid ``xp``: :func:`numpy.interp` of ``x`` for many ``fp``, to the last bit.

    ``np.interp`` searches each value's interval again for every ``fp``; the tornado's re-runs interpolate the same
    speeds in tables of other parameters (:class:`vision_zero.risk.crossing_passages.CrossingPassages`). Kept:
    each value's interval ``j`` (``xp[j] < x < xp[j + 1]``) and ``x - xp[j]``; :meth:`interp` then computes what
    ``np.interp`` computes there, ``slope[j] * (x - xp[j]) + fp[j]`` with ``slope = (fp[1:] - fp[:-1]) /
    (xp[1:] - xp[:-1])`` (the same IEEE operations in the same order), and calls ``np.interp`` itself for the
    other values (outside the grid, on a grid point, NaN) and for any ``fp`` that is not finite (its NaN retries).
    Memory: 10 bytes per value (18 where some are outside the grid).
    """

    xp: FloatArray
    x: FloatArray
    inner: npt.NDArray[np.intp] | None  # positions strictly inside an interval (None: all of them)
    j: npt.NDArray[np.int16] | npt.NDArray[np.intp]
    dx: FloatArray

    @classmethod
    def of(cls, x: FloatArray, xp: FloatArray) -> GridPoints:
        """The places of ``x`` on the ascending grid ``xp``."""
        x, xp = np.asarray(x, dtype=np.float64), np.asarray(xp, dtype=np.float64)
        j = np.searchsorted(xp, x, side="right") - 1  # xp[j] <= x < xp[j + 1]; NaN sorts last
        inside = (j >= 0) & (j < len(xp) - 1)
        jj = np.where(inside, j, 0)
        inside &= xp[jj] != x  # np.interp gives a grid point's fp itself
        inner = None if inside.all() else np.flatnonzero(inside)
        if inner is not None:
            jj = jj[inner]
        jj = jj.astype(np.int16) if len(xp) <= np.iinfo(np.int16).max else jj
        dx = (x if inner is None else x[inner]) - xp[jj]
        return cls(xp, x, inner, jj, dx)

    def on(self, xp: FloatArray) -> bool:
        """Whether these points were placed on ``xp``."""
        return bool(np.array_equal(self.xp, xp))

    def interp(self, fp: FloatArray) -> FloatArray:
        """``np.interp(self.x, self.xp, fp)``, bit for bit."""
        fp = np.asarray(fp, dtype=np.float64)
        slopes = (fp[1:] - fp[:-1]) / (self.xp[1:] - self.xp[:-1])
        if not (np.isfinite(slopes).all() and np.isfinite(fp).all()):
            out: FloatArray = np.interp(self.x, self.xp, fp)
            return out
        inner = slopes[self.j] * self.dx + fp[self.j]
        if self.inner is None:
            return inner
        out = np.empty(len(self.x))
        other = np.ones(len(self.x), dtype=bool)
        other[self.inner] = False
        out[other] = np.interp(self.x[other], self.xp, fp)
        out[self.inner] = inner
        return out


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


def mean_conflict_risk(
    speed_kph: FloatArray,
    lanes: FloatArray,
    crossing_type: str,
    parameters: Mapping[str, float],
    *,
    turning: bool = False,
    site_p85_kph: FloatArray | None = None,
    through: bool = False,
) -> dict[str, FloatArray]:
    """Expected casualties per conflict, the warning time uniform over one lane's crossing (:func:`combine_conflict_risks`).

    ``speed_kph`` is each vehicle's speed at the crossing (after :func:`movement_speed_kph`); a raised crossing
    slows it to the table's speeds (:func:`effective_approach_speed_kph`, with the 85th percentile of the
    approach speeds at the vehicle's crossing, ``site_p85_kph``). ``through``: the vehicles come straight at the
    pedestrians at their running speed (neither turning nor leaving a stop line), so the pedestrians picked their
    lag (:func:`lag_acceptance_share` weights the warning times).
    """
    v_eff, c, fa, k = _mean_impact(
        speed_kph, crossing_type, parameters, site_p85_kph=site_p85_kph, through=through
    )
    return combine_conflict_risks(
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
    """The first steps of :func:`mean_conflict_risk`: the speed at the crossing, and E[collision], E[death], E[KSI].

    Of a non-yielding conflict, averaged over the warning time (:meth:`_ImpactTable.mean_over_tau`): the speed by
    :func:`crossing_speed_kph`, the means by :func:`impact_means`.
    """
    v_eff = crossing_speed_kph(speed_kph, crossing_type, parameters, site_p85_kph=site_p85_kph)
    c, fa, k = impact_means(v_eff, parameters, through=through)
    return v_eff, c, fa, k


def crossing_speed_kph(
    speed_kph: FloatArray,
    crossing_type: str,
    parameters: Mapping[str, float],
    *,
    site_p85_kph: FloatArray | None = None,
) -> FloatArray:
    """The speed at the crossing (:func:`effective_approach_speed_kph`), the first step of :func:`_mean_impact`."""
    return effective_approach_speed_kph(
        np.asarray(speed_kph, dtype=np.float64), crossing_type, parameters, site_p85_kph=site_p85_kph
    )


def impact_means(
    v_eff_kph: FloatArray,
    parameters: Mapping[str, float],
    *,
    through: bool = False,
    at: GridPoints | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """E[collision], E[death], E[KSI] of a non-yielding conflict at the speeds at the crossing, over the warning time.

    The second step of :func:`_mean_impact`; ``at``: where ``v_eff_kph`` falls on the table's speeds
    (:class:`GridPoints`), for the same numbers without searching them again.
    """
    table = _ImpactTable.build(parameters, lane_crossing_time_s(parameters))
    weights = lag_acceptance_share(table.tau_grid_s(), parameters=parameters) if through else None
    return table.mean_over_tau(v_eff_kph, weights, at=at)


def impact_speed_grid_kph() -> FloatArray:
    """The impact tables' speeds (:meth:`_ImpactTable.speed_grid_kph`, which every table has)."""
    out: FloatArray = np.arange(_TABLE_N_V, dtype=np.float64) * _TABLE_DV_KPH
    return out
