"""The peak calibration: daily trips scaled so that the AM peak's congestion index meets a target.

``[demand] congestion_index_target`` (a number, or a name in traffic.toml): :func:`calibrate_peak` searches the
demand factor (:func:`search_peak_factor`: bisection on its log, with more replications at a step near the
target) within :func:`peak_factor_bounds`, each step simulating the AM peak (:func:`peak_simulation`) on the
un-intervened network at central parameters; within SCIENCE.md §10's published ranges the factor is split between
the day's trips and the peak hours' share (:func:`split_peak_factor`). The result, :class:`PeakCalibration`, is
shared by a baseline and its variants and copied into each replication's summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from vision_zero.core.parameters import Parameter, ParameterSet
from vision_zero.core.seeding import replication_rngs
from vision_zero.network.road_network import RoadNetwork, network_fingerprint
from vision_zero.program.scenario import Scenario
from vision_zero.runs.scenario_demand import central_values_key, distribution_key, simulated_periods
from vision_zero.traffic.trip_distribution import TripDistribution

__all__ = [
    "PeakCalibration",
    "PeakStep",
    "best_peak_step",
    "calibrate_peak",
    "peak_factor_bounds",
    "peak_index_se",
    "peak_simulation",
    "peak_step_meets",
    "search_peak_factor",
    "split_peak_factor",
    "uses_published_totals",
    "with_peak_share",
]


@dataclass(frozen=True)
class PeakCalibration:
    """Daily trips calibrated so that the AM peak's congestion index meets a target.

    Attributes
    ----------
    target
        ``[demand] congestion_index_target`` (peak travel time / free-flow travel time; a name reads
        ``demand.congestion_index.<name>`` from traffic.toml).
    congestion_index
        The index simulated at the calibrated demand (mean over the calibration's replications at that step).
    completed_share
        Share of the peak's trips that arrived at the calibrated demand (mean over the replications).
    factor
        Calibrated daily trips / the default (or ``[demand] daily_trips``).
    daily_trips
        Calibrated daily trips (before ``[demand] scale``) at the central peak share: the AM peak's trips over
        its share. Within SCIENCE.md §10's bounds :func:`prepare` splits the factor between the day's trips and
        the peak hours' share (:func:`split_peak_factor`), so its ``daily_trips`` can differ from this.
    steps
        Simulations run: (factor, congestion index, completed share), each the mean of the replications.
    bounds
        The factors the calibration may use: SCIENCE.md §10's published ranges where the default demand is
        Almaty's own totals (the schematic city), else a wide search range.
    published_bounds
        Whether ``bounds`` are SCIENCE.md §10's published ranges (:func:`uses_published_totals`): then the
        factor is split between the day's trips and the peak hours' share (:func:`split_peak_factor`), else the
        day takes it.
    index_se
        Standard error of ``congestion_index`` (:func:`peak_index_se`): the calibration's replications differ in
        their seeds only (central parameters), and near capacity one replication's index varies by several per
        cent. 0 for a calibration built by hand.
    replications
        Replications whose mean is ``congestion_index``: 2 per step, up to 4 at a step whose index cannot be
        told apart from the target's tolerance band with two (:func:`search_peak_factor`).
    target_range
        The range of a named target (``demand.congestion_index.<name>``'s low and high), None for a number. The
        calibration aims at ``target`` at central parameters; a run's replications each draw their own, and
        their mean index is what is held against this range
        (:func:`vision_zero.runs.run_summary.calibration_spread_warning`).
    route_relative_gap
        The route choice's last relative gap at the calibrated step (mean over its replications; NaN for a
        calibration built by hand): above ``traffic.route_choice.relative_gap_target`` it says why a calibration
        can stop at its lower bound (:func:`vision_zero.runs.run_summary.calibration_warning`). The same in every
        replication's summary, so each replication's warning reads as the run's.
    """

    target: float
    congestion_index: float
    completed_share: float
    factor: float
    daily_trips: float
    steps: tuple[tuple[float, float, float], ...]
    bounds: tuple[float, float] = (1 / 64, 4.0)
    published_bounds: bool = False
    target_range: tuple[float, float] | None = None
    index_se: float = 0.0
    replications: int = 2
    route_relative_gap: float = float("nan")

    @property
    def tolerance(self) -> float:
        """How far from the target the calibrated index may be: 3% of the target plus 1.96 standard errors.

        The calibration's replications are a sample of the index at its demand (seeds), so a step can only be
        said to meet the target as far as its own standard error allows (:func:`peak_index_se`).
        """
        return _PEAK_TOL * self.target + _PEAK_Z * self.index_se

    @property
    def reached(self) -> bool:
        """The index is within :attr:`tolerance` of the target, with enough trips arriving."""
        return bool(
            self.completed_share >= _PEAK_MIN_COMPLETED
            and abs(self.congestion_index - self.target) <= self.tolerance
        )


_PEAK_CACHE: dict[tuple[object, ...], PeakCalibration] = {}


#: Bisection on the demand factor: range (x the default), relative tolerance on the index, most simulations.
_PEAK_FACTORS = (1 / 64, 4.0)


_PEAK_TOL = 0.03


_PEAK_STEPS = 8


#: Share of a peak's trips that must arrive for a calibrated demand (the issue's acceptance level).
_PEAK_MIN_COMPLETED = 0.98


#: Replications whose mean index each calibration step measures: near capacity one replication's index varies by
#: some +-10-15% with the seed (departures, route choice), and a run reports the mean of its replications.
_PEAK_REPLICATIONS = 2


#: Replications at most at a step whose mean index, with its standard error, cannot be told apart from the
#: tolerance band (Helsinki: SD 0.082 per replication at 1.35, so two give SE 0.058 against a 3% band of 0.04;
#: four 0.041). On a noisy test function 4 and 6 gave the same accuracy, 6 for some 20% more simulations.
_PEAK_MAX_REPLICATIONS = 4


#: Standard errors added to the 3% tolerance: a step meets the target when its 95% interval (normal
#: approximation) reaches the band target +- 3%.
_PEAK_Z = 1.96


def uses_published_totals(scenario: Scenario, base: RoadNetwork) -> bool:
    """Whether the default demand is Almaty's published totals (SCIENCE.md §10) and no daily total replaces it.

    True on the schematic city and the parts cut from it (``base.area_share`` set) without ``[demand]
    daily_trips``: the peak calibration then moves only within §10's ranges (:func:`peak_factor_bounds`).
    """
    return base.area_share is not None and scenario.demand.daily_trips is None


def peak_factor_bounds(scenario: Scenario, base: RoadNetwork, params: ParameterSet) -> tuple[float, float]:
    """The demand factors the peak calibration may use (x the default daily trips).

    Where the default demand is Almaty's published totals (the schematic city: Almaty's vehicle-km, and on a part
    cut from it, tiny to district, Almaty's loading per km of main street with boundary traffic at the cut;
    :func:`vision_zero.traffic.demand.default_daily_trips`) and no ``[demand] daily_trips`` replaces it, the AM
    peak's trips may move only within SCIENCE.md §10's ranges: daily trips ``demand.almaty.trips_per_day``
    (1.56-1.68 M) times the peak hour's share ``demand.share_per_hour.peak`` (8-10%), relative to their central
    values (about 0.86-1.15). Elsewhere the default is Almaty's loading per km of main street, not a count of that
    city's traffic, and the search range is wide (1/64-4).
    """
    if not uses_published_totals(scenario, base):
        return _PEAK_FACTORS
    trips = params["demand.almaty.trips_per_day"]
    share = params["demand.share_per_hour.peak"]

    def ratio(p: Parameter, end: float | None) -> float:
        return (p.value if end is None else end) / p.value

    return (
        ratio(trips, trips.low) * ratio(share, share.low),
        ratio(trips, trips.high) * ratio(share, share.high),
    )


def split_peak_factor(factor: float, params: ParameterSet) -> tuple[float, float]:
    """A peak factor within :func:`peak_factor_bounds`' published ranges as (x the day's trips, x the peak share).

    The AM peak's trips are (trips a day) x (the peak hour's share of them), and SCIENCE.md §10 gives each as a
    range: ``demand.almaty.trips_per_day`` (1.56-1.68 M) and ``demand.share_per_hour.peak`` (8-10%). The day's
    trips take the factor as far as their range allows (relative to its central value, as the bounds are), the
    peak hours' share the rest: a calibrated AM peak then leaves the day's total inside its range, where scaling
    the whole day by the factor would move every period (x0.856: 1.42 M trips a day on the full city).
    """
    trips = params["demand.almaty.trips_per_day"]
    lo = (trips.value if trips.low is None else trips.low) / trips.value
    hi = (trips.value if trips.high is None else trips.high) / trips.value
    day = min(max(factor, lo), hi)
    return day, factor / day


def with_peak_share(params: ParameterSet, factor: float) -> ParameterSet:
    """``params`` with the peak hours' share of the day (``demand.share_per_hour.peak``) x ``factor``.

    :func:`vision_zero.traffic.demand.default_periods` then gives the AM and PM peak hours this share and the
    inter-peak hours the rest of the day (the day still sums to 100%).
    """
    p = params["demand.share_per_hour.peak"]
    return params.with_overrides(ParameterSet({p.name: replace(p, value=p.value * factor)}))


def calibrate_peak(
    scenario: Scenario,
    base: RoadNetwork,
    params: ParameterSet,
    distribution: TripDistribution,
    daily_trips: float,
) -> PeakCalibration:
    """Scale daily trips so the AM peak's congestion index meets ``[demand] congestion_index_target``.

    Bisection on the log of a demand factor within :func:`peak_factor_bounds` (:func:`search_peak_factor`): each
    step simulates the AM peak hour (``[simulation] duration_s``, ``platoon_size`` and ``reroute_passes`` apply) on
    the un-intervened network at central parameters with fixed seeds (replications 0 and 1 of seed 0, up to 4
    where two cannot tell whether the step is within 3%; every scenario gets the same trips) and measures the mean
    of their :func:`vision_zero.traffic.demand.congestion_index`; it stops when that mean is within 3% of the
    target, or after 8 steps. The result is reached when its index is within 3% of the target plus 1.96 of its
    standard errors (:func:`peak_index_se`), which the result carries. Within SCIENCE.md §10's narrow bounds it
    first tries the bound in the direction of the target and stops there when even the bound does not reach it
    (:attr:`PeakCalibration.reached` is then False). A congestion index counts arrived trips only, so a step where
    under 98% of trips arrive counts as above the target (gridlock is never a calibrated state). Cached within a
    process by content: the network's tables (:func:`~vision_zero.network.road_network.network_fingerprint`, not
    its source's name: an edited network calibrates anew), the trip distribution (:func:`distribution_key`), the
    daily trips, the AM period, the simulation settings and every parameter's central value.
    """
    given = scenario.demand.congestion_index_target
    assert given is not None
    target = params.value(f"demand.congestion_index.{given}") if isinstance(given, str) else float(given)
    target_range = None
    if isinstance(given, str):
        named = params[f"demand.congestion_index.{given}"]
        if named.low is not None and named.high is not None:
            target_range = (float(named.low), float(named.high))
    sim = scenario.simulation
    (am,) = simulated_periods(scenario, params, ["am_peak"])
    bounds = peak_factor_bounds(scenario, base, params)
    narrow = uses_published_totals(scenario, base)
    key = (
        network_fingerprint(base),  # the content, not the source's name: an edited network calibrates anew
        base.area_share,
        distribution_key(distribution),
        target,
        target_range,
        round(daily_trips, 6),
        am,
        bounds,
        narrow,
        sim.platoon_size,
        sim.reroute_passes,
        central_values_key(params),
    )
    if key in _PEAK_CACHE:
        return _PEAK_CACHE[key]

    gaps: dict[tuple[float, int], float] = {}  # the route choice's last gap per (factor, replication)

    def one(factor: float, replication: int) -> tuple[float, float]:
        index, arrived, gap = peak_simulation(
            scenario, base, params, distribution, daily_trips * factor, replication=replication
        )
        gaps[factor, replication] = gap
        return index, arrived

    found = search_peak_factor(one, target, bounds, narrow)
    pick = best_peak_step(found, target)
    out = PeakCalibration(
        target,
        pick.index,
        pick.completed,
        pick.factor,
        daily_trips * pick.factor,
        tuple((st.factor, st.index, st.completed) for st in found),
        bounds,
        narrow,
        target_range,
        index_se=peak_index_se(pick, found),
        replications=len(pick.indices),
        route_relative_gap=float(np.mean([gaps[pick.factor, r] for r in range(len(pick.indices))])),
    )
    _PEAK_CACHE[key] = out
    return out


def peak_simulation(
    scenario: Scenario,
    base: RoadNetwork,
    params: ParameterSet,
    distribution: TripDistribution,
    daily_trips: float,
    *,
    seed: int = 0,
    replication: int = 0,
) -> tuple[float, float, float]:
    """One simulation of the AM peak as the peak calibration runs it: (index, share arrived, last route gap).

    The congestion index, the share of routed trips arrived and the route choice's last relative gap (NaN
    without route choice).

    ``daily_trips`` on the un-intervened ``base`` network at the central ``params``, the streams of ``seed`` and
    ``replication`` (:func:`vision_zero.core.seeding.replication_rngs`; the calibration uses seed 0), the AM peak
    hour and ``[simulation] duration_s``, ``platoon_size`` and ``reroute_passes`` of ``scenario``.
    """
    from vision_zero.traffic import demand
    from vision_zero.traffic.pedestrians import pedestrian_demand
    from vision_zero.traffic.routing import RouteChoiceSettings
    from vision_zero.traffic.simulation import TrafficSettings, simulate

    (am,) = simulated_periods(scenario, params, ["am_peak"])
    settings = TrafficSettings.from_parameters(params)
    rngs = replication_rngs(seed, replication)
    trips = demand.generate_trips(
        base,
        rng=rngs.demand,
        periods=(am,),
        daily_trips=daily_trips,
        params=params,
        distribution=distribution,
    )
    record = simulate(
        base,
        trips,
        pedestrian_demand(base, periods=(am,), params=params),
        rng=rngs.drivers,
        routing_rng=rngs.routing,
        periods=(am,),
        platoon_size=scenario.simulation.platoon_size,
        reroute_passes=scenario.simulation.reroute_passes,
        settings=settings,
        route_settings=RouteChoiceSettings.from_parameters(params),
    )
    t = record.trips
    routed = t["routed"].to_numpy(dtype=bool) if "routed" in t else np.ones(len(t), bool)
    done = float(t["completed"].to_numpy(dtype=bool)[routed].mean()) if routed.any() else 1.0
    rc = record.route_choice
    gap = float(rc["relative_gap"].iloc[-1]) if len(rc) else float("nan")
    return demand.congestion_index(base, t, settings), done, gap


@dataclass(frozen=True)
class PeakStep:
    """One demand factor of the peak calibration and what its replications measured.

    Attributes
    ----------
    factor
        Daily trips x this.
    indices, arrived
        Each replication's congestion index and share of routed trips arrived (replications 0, 1, ... of seed 0).
    """

    factor: float
    indices: tuple[float, ...]
    arrived: tuple[float, ...]

    @property
    def index(self) -> float:
        """Mean index of the replications (NaN if any is NaN: no trip arrived)."""
        return float(np.mean(self.indices))

    @property
    def completed(self) -> float:
        """Mean share of routed trips arrived."""
        return float(np.mean(self.arrived))


def peak_index_se(step: PeakStep, steps: list[PeakStep] | tuple[PeakStep, ...]) -> float:
    """Standard error of a calibration step's mean congestion index.

    The larger of two estimates: the step's own (sample SD of its replications / sqrt(n)) and the spread pooled
    over every step of the search with two or more finite indices where enough trips arrived (as a relative
    SD: the pooled within-step variance of log index, times the step's mean): two replications alone give an SD
    with one degree of freedom, which may come out near 0 by chance and make a step look more precise than it
    is. A step where under 98% of trips arrived is left out of the pool: its index counts only the trips that
    got through a jam, so its spread is not the noise of an index near the target (Helsinki's default demand,
    18% arriving, gave 15.6 and 7.2, which took a calibrated step of 1.333 / 1.376 / 1.362 / 1.326 to an SE of
    0.117 instead of 0.012, and the tolerance it was judged by from 0.064 to 0.270). NaN without a finite index.
    """
    own = np.asarray(step.indices, dtype=float)
    if own.size == 0 or not np.isfinite(own).all():
        return float("nan")
    n = own.size
    var = float(own.var(ddof=1)) if n > 1 else 0.0
    ss, df = 0.0, 0
    for st in steps:
        v = np.asarray(st.indices, dtype=float)
        if v.size > 1 and np.isfinite(v).all() and (v > 0).all() and _arrived(st):
            lv = np.log(v)
            ss += float(((lv - lv.mean()) ** 2).sum())
            df += v.size - 1
    if df:
        var = max(var, ss / df * float(own.mean()) ** 2)
    return float(np.sqrt(var / n))


def _arrived(step: PeakStep) -> bool:
    return step.completed >= _PEAK_MIN_COMPLETED and bool(np.isfinite(step.index))


def peak_step_meets(step: PeakStep, steps: list[PeakStep] | tuple[PeakStep, ...], target: float) -> bool:
    """Whether a step meets the target: its 95% interval reaches the band target +- 3%.

    Enough trips arrive and its mean index is within 3% of the target plus 1.96 standard errors
    (:func:`peak_index_se`).
    """
    if not _arrived(step):
        return False
    return abs(step.index - target) <= _PEAK_TOL * target + _PEAK_Z * peak_index_se(step, steps)


def search_peak_factor(
    one: Callable[[float, int], tuple[float, float]],
    target: float,
    bounds: tuple[float, float],
    narrow: bool,
) -> list[PeakStep]:
    """The peak calibration's search: bisection on the log of the demand factor, with replications where it is close.

    ``one(factor, replication)`` simulates one replication of the AM peak at ``factor`` x the daily trips and
    returns (congestion index, share of routed trips arrived). Each step measures replications 0 and 1; a step
    whose 95% interval (:func:`peak_index_se`) reaches the band target +- 3% without lying inside it (two
    replications cannot tell whether it is within 3%) gets more, up to 4, so that the steps near the target are
    measured as closely as the budget allows and a step away from it costs two. The search stops when a step's
    mean index is within 3% of the target; :func:`best_peak_step` then picks the step and
    :attr:`PeakCalibration.reached` judges it with its standard error. A step where under 98% of trips arrive
    counts as above the target (gridlock is never a calibrated state). Within SCIENCE.md §10's narrow bounds (``narrow``)
    the second step is the bound in the direction of the target, and the search stops there when even the bound
    does not reach it. At most 8 steps.
    """
    steps: list[PeakStep] = []
    tol = _PEAK_TOL * target

    def measure(x: float) -> PeakStep:
        factor = float(np.exp(x))
        got = [one(factor, r) for r in range(_PEAK_REPLICATIONS)]
        steps.append(PeakStep(factor, tuple(g[0] for g in got), tuple(g[1] for g in got)))
        while len(steps[-1].indices) < _PEAK_MAX_REPLICATIONS and _arrived(steps[-1]):
            st = steps[-1]
            off, half = abs(st.index - target), _PEAK_Z * peak_index_se(st, steps)
            if not (off <= tol + half and off + half > tol):  # clearly outside, or clearly inside the band
                break
            ci, done = one(factor, len(st.indices))
            steps[-1] = PeakStep(factor, (*st.indices, ci), (*st.arrived, done))
        return steps[-1]

    def above(st: PeakStep) -> bool:
        return not _arrived(st) or st.index > target

    def within(st: PeakStep) -> bool:
        return _arrived(st) and abs(st.index - target) <= tol

    lo, hi = float(np.log(bounds[0])), float(np.log(bounds[1]))
    x = min(max(0.0, lo), hi)
    while len(steps) < _PEAK_STEPS:
        st = measure(x)
        if within(st):
            break
        if above(st):
            hi = x
        else:
            lo = x
        if (
            narrow and len(steps) == 1
        ):  # within published bounds: can the bound on the target's side reach it?
            edge = lo if above(st) else hi
            if edge == x:
                break
            st_e = measure(edge)
            if within(st_e) or above(st_e) == above(st):
                break  # met, or the target lies beyond the published bounds
            lo, hi = min(x, edge), max(x, edge)
        x = 0.5 * (lo + hi)
    return steps


def best_peak_step(steps: list[PeakStep], target: float) -> PeakStep:
    """The calibrated step: one that meets the target, else the closest to it.

    A step that meets the target (:func:`peak_step_meets`), else of those where enough trips arrive the closest to
    the target, else the closest of all.
    """
    met = [st for st in steps if peak_step_meets(st, steps, target)]
    ok = met or [st for st in steps if _arrived(st)] or steps
    return min(ok, key=lambda st: abs(st.index - target) if np.isfinite(st.index) else np.inf)
