"""The time-sliced dynamic user equilibrium's pieces: its settings, route costs, the gap, the MSA step and swaps.

Private helper of :mod:`vision_zero.traffic.routing` (which re-exports every name); the equilibrium loop that uses
them is :mod:`vision_zero.traffic._route_choice`. :class:`RouteChoiceSettings`, :func:`slice_of`,
:func:`route_cost_s`, :func:`relative_gap`, the gap on a sample of origins (:func:`sample_origins`,
:func:`sampled_relative_gap`), the plateau rule (:func:`gap_plateau`), :func:`msa_step`, :func:`gap_switchers` and,
for the probit sensitivity option, :func:`perceived_costs`.

References
----------
Daganzo, C. F., Sheffi, Y. (1977). On stochastic models of traffic assignment. Transp. Sci. 11(3), 253-274.
Sheffi, Y. (1985). Urban Transportation Networks, ch. 11 (probit loading by simulation), ch. 12 (method of
successive averages).
Huang, H.-J., Lam, W. H. K. (2002). Modeling and solving the dynamic user equilibrium route and departure time
choice problem in network with queues. Transp. Res. B 36(3), 253-273.
Sbayti, H., Lu, C.-C., Mahmassani, H. S. (2007). Efficient implementation of method of successive averages in
simulation-based dynamic traffic assignment models for large-scale network applications. Transp. Res. Record
2029, 22-30.
Chiu, Y.-C., Bottom, J., Mahut, M., Paz, A., Balakrishna, R., Waller, T., Hicks, J. (2011). Dynamic Traffic
Assignment: A Primer. Transportation Research Circular E-C153, Transportation Research Board.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.traffic._position_kernels import route_costs
from vision_zero.traffic._router import MIN_COST_S
from vision_zero.traffic._routes import Routes

__all__ = [
    "SAME_COST_S",
    "OriginSample",
    "RouteChoiceSettings",
    "gap_plateau",
    "gap_switchers",
    "msa_step",
    "perceived_costs",
    "relative_gap",
    "route_cost_s",
    "sample_origins",
    "sampled_relative_gap",
    "slice_of",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Routes whose costs differ by no more than this count as equally good [s] (covers the tie-break terms and
#: floating-point rounding; not a behavioural threshold).
SAME_COST_S = 1e-3


@dataclass(frozen=True)
class RouteChoiceSettings:
    """The numbers of the equilibrium route choice (``traffic.route_choice.*`` in ``traffic.toml``).

    Attributes
    ----------
    max_iterations
        Re-routing iterations after the first simulation at most (0 = free-flow routes only).
    relative_gap_target
        Stop as soon as the relative gap is at or below this (0-1).
    slice_s
        Length of the time slices of departure over which link travel times are averaged [s].
    step_exponent
        MSA step ``(k + 1) ** -step_exponent`` in iteration ``k`` (1 = the classic 1 / (k + 1)).
    step_weight_exponent
        ``d`` of the method of successive weighted averages (:func:`msa_step`'s ``weight_exponent``); 0 = MSA.
    band_relative
        Relative indifference band: a driver who had a route leaves it only for a saving above this share of
        its time (and above ``band_min_s``; :func:`band_switchers`).
    band_min_s
        Absolute minimum of the indifference band [s].
    band_outside_share
        The band phase's tolerance: it stops once at most this share of the trips (weighted by vehicle size) is
        outside its band (0: only when nobody is).
    gap_sample_origins
        Origins sampled after each simulation for the relative gap and the route swaps
        (:func:`sample_origins`); 0 = every origin. A network with no more origins than this is never sampled.
    plateau_gap_change, plateau_trip_change, plateau_arrived_change
        The plateau stop rule (:func:`gap_plateau`): stop once in each of the last two iterations the relative gap
        moved by less than ``plateau_gap_change`` of itself (either way), the mean trip time by less than
        ``plateau_trip_change`` of itself and the arrived share by less than ``plateau_arrived_change``; 0 = off.
        The band phase's plateau reads the last two only (``_band_phase.band_plateau``).
    handover_gap_change, handover_min_gap
        A baseline's equilibrium hands over to its band phase before its cap once its relative gap fell by less
        than ``handover_gap_change`` of itself in the last iteration (or rose) while still above
        ``handover_min_gap`` and with at least 95% of the trips arriving (``_route_choice._hands_over``); 0 = off.
    """

    max_iterations: int
    relative_gap_target: float
    slice_s: float
    step_exponent: float = 1.0
    step_weight_exponent: float = 0.0
    band_relative: float = 0.0
    band_min_s: float = 0.0
    band_outside_share: float = 0.0
    gap_sample_origins: int = 0
    plateau_gap_change: float = 0.0
    plateau_trip_change: float = 0.0
    plateau_arrived_change: float = 0.0
    handover_gap_change: float = 0.0
    handover_min_gap: float = 0.0

    @classmethod
    def from_parameters(cls, params: ParameterSet | None = None) -> RouteChoiceSettings:
        """Central values from a parameter set (default: the shipped files)."""
        p = load_parameters() if params is None else params
        return cls.from_values(p.central())

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> RouteChoiceSettings:
        """From parameter values by dotted name, e.g. one replication's ``ParameterSet.draw(rng)``."""
        return cls(
            max_iterations=int(values["traffic.route_choice.max_iterations"]),
            relative_gap_target=values["traffic.route_choice.relative_gap_target"],
            slice_s=values["traffic.route_choice.slice_s"],
            step_exponent=values["traffic.route_choice.msa_step_exponent"],
            step_weight_exponent=values.get("traffic.route_choice.mswa_weight_exponent", 0.0),
            band_relative=values["traffic.route_choice.indifference_band_relative"],
            band_min_s=values["traffic.route_choice.indifference_band_min_s"],
            band_outside_share=values.get("traffic.route_choice.band_outside_share", 0.0),
            gap_sample_origins=int(values.get("traffic.route_choice.gap_sample_origins", 0)),
            plateau_gap_change=values.get("traffic.route_choice.plateau_gap_change", 0.0),
            plateau_trip_change=values.get("traffic.route_choice.plateau_trip_change", 0.0),
            plateau_arrived_change=values.get("traffic.route_choice.plateau_arrived_change", 0.0),
            handover_gap_change=values.get("traffic.route_choice.handover_gap_change", 0.0),
            handover_min_gap=values.get("traffic.route_choice.handover_min_gap", 0.0),
        )


def slice_of(time_s: FloatArray, slice_s: float, n_slices: int) -> IntArray:
    """Time slice (0-based) of times ``time_s`` [s from the period's start], clipped to ``0..n_slices - 1``."""
    s = np.floor(np.asarray(time_s, dtype=np.float64) / slice_s)
    out: IntArray = np.clip(np.nan_to_num(s, nan=0.0), 0, n_slices - 1).astype(np.int64)
    return out


def route_cost_s(
    routes: Routes,
    cost_s: FloatArray,
    row: IntArray,
    edge_extra_s: FloatArray | None = None,
    edge_ids: IntArray | None = None,
) -> FloatArray:
    """Cost of every route [s] when trip ``i``'s links cost ``cost_s[row[i], link]`` (one row per time slice).

    Plus ``edge_extra_s[edge]`` for the turn-graph edge that enters each position (:meth:`Router.edge_ids`).
    """
    with_extra = edge_extra_s is not None and edge_ids is not None
    out: FloatArray = route_costs(  # compiled: one pass, each route's sum in driving order (np.bincount's)
        np.asarray(routes.ptr, dtype=np.int64),
        routes.links,
        np.asarray(row, dtype=np.int64),
        np.asarray(cost_s, dtype=np.float64),
        np.asarray(edge_extra_s if with_extra else np.zeros(0), dtype=np.float64),
        np.asarray(edge_ids if with_extra else np.zeros(0, dtype=np.int64), dtype=np.int64),
        with_extra,
        MIN_COST_S,
    )
    return out


def relative_gap(route_s: FloatArray, best_s: FloatArray, weight: FloatArray) -> float:
    """Relative gap ``sum w (c - c_min) / sum w c`` over trips with a route (0 = every trip on a best route).

    ``c`` is the cost of a trip's route and ``c_min`` the cost of the best route for the same origin,
    destination and departure slice, both under the same link costs (the vehicle-based gap of simulation-based
    dynamic traffic assignment: Chiu et al. 2011; Sbayti et al. 2007). Differences within
    :data:`SAME_COST_S` count as zero.
    """
    ok = np.isfinite(best_s) & (route_s > 0)
    excess = np.where(route_s - best_s > SAME_COST_S, route_s - best_s, 0.0)
    total = float(np.sum(weight[ok] * route_s[ok]))
    return float(np.sum(weight[ok] * excess[ok]) / total) if total > 0 else 0.0


@dataclass(frozen=True)
class OriginSample:
    """A simple random sample of the trips' origins, without replacement (:func:`sample_origins`).

    Attributes
    ----------
    vehicles
        Positions of the vehicles (trips) whose origin is in the sample, ascending.
    cluster
        Per vehicle of :attr:`vehicles`: its origin's position among the sampled origins (0..n_sampled - 1).
    n_sampled
        Origins in the sample.
    n_origins
        Distinct origins of all vehicles (the population of origins).
    """

    vehicles: IntArray
    cluster: IntArray
    n_sampled: int
    n_origins: int

    @property
    def complete(self) -> bool:
        """True when every origin is in the sample (the gap and the swaps are then exact)."""
        return self.n_sampled == self.n_origins

    @property
    def share(self) -> float:
        """Sampled share of the origins, ``n_sampled / n_origins`` (1 when there are none)."""
        return self.n_sampled / self.n_origins if self.n_origins else 1.0


def sample_origins(origins: IntArray, n_sample: int, rng: np.random.Generator) -> OriginSample:
    """A simple random sample of ``n_sample`` of the distinct ``origins`` (node ids per vehicle), or all of them.

    Every origin is taken, and ``rng`` is not used, when ``n_sample`` is 0 or at least the number of distinct
    origins; otherwise the sample is ``rng.choice(n_origins, n_sample, replace=False)`` over the distinct origins
    in ascending order. A shortest-route tree is grown per sampled origin and departure slice instead of per
    origin and slice, so the trees cost ``n_sample / n_origins`` of the full set; the relative gap is then
    estimated with its sampling error (:func:`sampled_relative_gap`) and only the sampled origins' trips can
    swap routes (:func:`gap_switchers` with the step divided by the sampled share).
    """
    origins = np.asarray(origins, dtype=np.int64)
    uniq, inverse = np.unique(origins, return_inverse=True)
    n_origins = len(uniq)
    if n_sample <= 0 or n_sample >= n_origins:
        return OriginSample(
            np.arange(len(origins), dtype=np.int64), inverse.astype(np.int64), n_origins, n_origins
        )
    chosen = np.sort(rng.choice(n_origins, size=n_sample, replace=False))
    rank = np.full(n_origins, -1, dtype=np.int64)
    rank[chosen] = np.arange(n_sample)
    cluster = rank[inverse]
    vehicles = np.flatnonzero(cluster >= 0).astype(np.int64)
    return OriginSample(vehicles, cluster[vehicles], int(n_sample), n_origins)


def sampled_relative_gap(
    route_s: FloatArray, best_s: FloatArray, weight: FloatArray, sample: OriginSample
) -> tuple[float, float]:
    """The relative gap (:func:`relative_gap`) estimated from a sample of origins, and its standard error.

    ``route_s``, ``best_s`` and ``weight`` are per vehicle of ``sample.vehicles`` (in that order). The sample is
    a simple random sample of clusters (all trips from one origin, every departure slice); the gap
    ``sum w (c - c_min) / sum w c`` is a ratio of two cluster totals, estimated by the ratio of their sample
    totals, with the usual large-sample variance of a ratio estimate (Cochran 1977, ch. 6):
    ``(1 - f) / (n xbar^2) x sum_j (y_j - R x_j)^2 / (n - 1)``, ``y_j`` and ``x_j`` the excess and the total
    route time of origin ``j``, ``xbar`` their mean over the ``n`` sampled origins, ``f = n / N`` the sampled
    share. A complete sample gives exactly :func:`relative_gap` with standard error 0.

    References
    ----------
    Cochran, W. G. (1977). Sampling Techniques, 3rd ed. Wiley, ch. 6 (ratio estimators).
    """
    gap = relative_gap(route_s, best_s, weight)
    n = sample.n_sampled
    if sample.complete or n < 2:
        return gap, 0.0
    ok = np.isfinite(best_s) & (route_s > 0)
    excess = np.where(ok & (route_s - best_s > SAME_COST_S), route_s - best_s, 0.0)
    y = np.bincount(sample.cluster, weights=weight * excess, minlength=n)
    x = np.bincount(sample.cluster, weights=np.where(ok, weight * route_s, 0.0), minlength=n)
    xbar = float(x.mean())
    if xbar <= 0:
        return gap, 0.0
    var = (1.0 - sample.share) / (n * xbar * xbar) * float(np.sum((y - gap * x) ** 2)) / (n - 1)
    return gap, float(np.sqrt(var))


def gap_plateau(
    relative_gap: Sequence[float] | None,
    mean_trip_s: Sequence[float],
    arrived_share: Sequence[float],
    *,
    gap_change: float,
    trip_change: float,
    arrived_change: float,
    iterations: int = 2,
) -> bool:
    """Whether the route choice has reached a plateau: no iteration of the last ``iterations`` changed anything.

    The series are per simulation, oldest first (a :attr:`TrafficRecord.route_choice` log's columns). A plateau:
    in each of the last ``iterations`` re-routing iterations the relative gap moved by less than ``gap_change``
    of its previous value *either way*, the mean trip time of the arrived trips by less than ``trip_change`` of
    its previous value, and the share of trips arriving by less than ``arrived_change`` (absolute). A gap still
    falling by more is progress; a gap rising by more is an oscillation (e.g. a jammed network whose loadings
    alternate), neither is a plateau. NaN anywhere (nobody arrived) is not a plateau; nor are fewer than
    ``iterations + 1`` simulations; a threshold of 0 switches the rule off. ``relative_gap`` None: the gap
    condition is not read (the band phase's plateau), the rest as above.
    """
    n = iterations + 1
    if iterations < 1 or len(mean_trip_s) < n or min(gap_change, trip_change, arrived_change) <= 0:
        return False
    trip = np.asarray(mean_trip_s[-n:], dtype=np.float64)
    arrived = np.asarray(arrived_share[-n:], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        moved_trip = np.abs(np.diff(trip)) / trip[:-1]
        if relative_gap is not None:
            gap = np.asarray(relative_gap[-n:], dtype=np.float64)
            if not np.all(np.abs(np.diff(gap)) / gap[:-1] < gap_change):
                return False
    moved_arrived = np.abs(np.diff(arrived))
    return bool(np.all(moved_trip < trip_change) and np.all(moved_arrived < arrived_change))


def msa_step(iteration: int, exponent: float = 1.0, *, weight_exponent: float = 0.0) -> float:
    """Step of the method of successive averages in re-routing iteration ``iteration`` (1-based).

    ``(iteration + 1) ** -exponent``: with ``exponent = 1`` the classic ``1 / (k + 1)`` (Sheffi 1985 ch. 12), so
    that after ``k`` iterations the flows are the average of ``k + 1`` loadings; any exponent in ``(0.5, 1]``
    keeps the steps' sum infinite and their squares' sum finite (the conditions of its convergence proof).

    With ``weight_exponent = d > 0`` the method of successive *weighted* averages (MSWA, Liu, He and He 2009)
    instead: the ``n = k + 1`` loadings averaged so far weigh ``j ** d`` (``j = 1..n``, the free-flow loading
    first), so the step is ``n ** d / sum_j j ** d`` (``d = 0`` is the classic MSA step; ``exponent`` must then be
    1): later loadings, made under costs nearer the equilibrium, weigh more (``d = 1``: ``2 / (k + 2)``). The
    steps still sum to infinity with summable squares (about ``(d + 1) / k``).

    References
    ----------
    Liu, H. X., He, X., He, B. (2009). Method of successive weighted averages (MSWA) and self-regulated averaging
    schemes for solving stochastic user equilibrium problem. Networks and Spatial Economics 9(4), 485-503.
    """
    if iteration < 1:
        raise ValueError(f"msa_step: iteration is 1-based (got {iteration})")
    if weight_exponent < 0 or (weight_exponent > 0 and exponent != 1.0):
        raise ValueError(
            f"msa_step: expected weight_exponent >= 0, and exponent 1 with it "
            f"(got weight_exponent {weight_exponent}, exponent {exponent})"
        )
    if weight_exponent == 0:
        return float((iteration + 1.0) ** -exponent)
    weights = np.arange(1, iteration + 2, dtype=np.float64) ** weight_exponent
    return float(weights[-1] / weights.sum())


def gap_switchers(
    route_s: FloatArray, best_s: FloatArray, *, step: float, rng: np.random.Generator
) -> IntArray:
    """Positions of the trips that move to their current best route in one iteration (route swapping).

    A trip moves with probability ``step x (c - c_min) / c`` (capped at 1), its own relative gap times the MSA
    step: the flow swapped from a route to the best one is proportional to the step, the route's flow and its
    relative cost difference (the route-swapping rule of Huang and Lam 2002 and Szeto and Lo 2006, applied to
    single trips; trips are picked by their gap as in Sbayti et al. 2007). Trips already on a best route (within
    :data:`SAME_COST_S`) stay, and as the gap closes fewer trips move, so the loading does not overshoot as
    MSA's uniform draw does (half of all trips onto the same best routes in its first step). Consumes exactly
    ``len(route_s)`` uniforms from ``rng`` (common random numbers).

    References
    ----------
    Huang, H.-J., Lam, W. H. K. (2002). Modeling and solving the dynamic user equilibrium route and departure
    time choice problem in network with queues. Transp. Res. B 36(3), 253-273.
    Szeto, W. Y., Lo, H. K. (2006). Dynamic traffic assignment: properties and extensions. Transportmetrica 2(1),
    31-52.
    """
    u = rng.random(len(route_s))
    gain = np.where(np.isfinite(best_s), route_s - best_s, 0.0)
    pos = gain > SAME_COST_S
    p = np.where(pos, np.minimum(1.0, step * gain / np.maximum(route_s, MIN_COST_S)), 0.0)
    return np.flatnonzero(pos & (u < p)).astype(np.int64)


def perceived_costs(cost_s: FloatArray, *, rng: np.random.Generator, cv: float, draws: int) -> FloatArray:
    """``draws`` perceived versions of the link costs ``cost_s`` [s], shape ``(draws, n_links)``.

    Each link's perceived time is its expected time times an independent lognormal error with mean 1 and
    coefficient of variation ``cv`` (the probit route-choice model of Daganzo and Sheffi 1977, simulated as in
    Sheffi 1985 ch. 11). A sensitivity option only (``traffic.route_choice.perception_cv``, 0 by default): with
    independent errors per link a route of many short links looks cheaper by chance than the direct one, which
    makes zig-zag routes. ``cv = 0`` gives ``draws`` copies of ``cost_s``. Consumes exactly ``draws x n_links``
    standard normals from ``rng`` (whatever ``cv`` is: common random numbers).

    References
    ----------
    Daganzo, C. F., Sheffi, Y. (1977). On stochastic models of traffic assignment. Transp. Sci. 11(3), 253-274.
    """
    cost = np.asarray(cost_s, dtype=np.float64)
    eps = rng.standard_normal((draws, len(cost)))
    sigma = float(np.sqrt(np.log1p(cv * cv)))
    out: FloatArray = cost[None, :] * np.exp(sigma * eps - 0.5 * sigma * sigma)
    return out
