"""From a scenario to one replication's result: the API the replication runner builds on.

:func:`prepare` does everything that is the same for every replication of a scenario, once: load the network,
apply the interventions (checking every selector against the network), build the periods, the default daily
demand, pedestrian demand and calibration targets. The result is picklable and is shipped once per worker.

:func:`run_replication` runs replication *i*: random streams from :func:`vision_zero.core.seeding.replication_rngs`
(common random numbers: replication *i* of every scenario draws the same demand, drivers, route choice and
parameters), one parameter draw (re-setting the intervention values tied to uncertain parameters), trips,
simulation, crash risk, calibration, annualised per-link traffic and the summary numbers of
:class:`~vision_zero.runs.results.ReplicationResult`.

Calibration: a baseline is calibrated on itself (factor = observed / raw, per replication); a variant uses the
calibration factors of the baseline's replication with the same index (read from its injuries, ``baseline_raw``),
so interventions change the calibrated totals exactly as they change the raw ones. The observed city totals are
scaled to the baseline replication's simulated share of the city's vehicle-km (``[calibration]
scale_to_network``: simulated veh-km / ``calibration.almaty.veh_km_per_year``), so its deaths per veh-km are the
city's at every network size.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.caching import BoundedCache
from vision_zero.core.errors import ScenarioError, VisionZeroError
from vision_zero.core.parameters import Parameter, ParameterSet, load_parameters
from vision_zero.core.seeding import replication_rngs
from vision_zero.network.road_network import RoadNetwork, network_fingerprint
from vision_zero.program.interventions import ApplyContext, Binding, Cost, apply_bindings, empty_modifiers
from vision_zero.program.scenario import Scenario, load_scenario
from vision_zero.program.selectors import Selection, road_km
from vision_zero.program.touched import Touched
from vision_zero.risk.crash_model import ROAD_USERS, SEVERITIES, CalibrationTargets
from vision_zero.runs.results import TRAFFIC_TABLES, ReplicationResult
from vision_zero.traffic.demand import TripDistribution
from vision_zero.traffic.periods import Period, annual_factors

if TYPE_CHECKING:
    from vision_zero.traffic.routing import HeldRoutes
    from vision_zero.traffic.simulation import VehicleTraffic

__all__ = [
    "AppliedIntervention",
    "AppliedScenario",
    "PeakCalibration",
    "PeakStep",
    "PreparedScenario",
    "annual_link_traffic",
    "apply_scenario",
    "base_demand",
    "best_peak_step",
    "calibrate_peak",
    "calibration_targets",
    "distribution_key",
    "elastic_link_costs_s",
    "load_base_network",
    "move_pedestrians_to_new_crossings",
    "peak_factor_bounds",
    "peak_index_se",
    "peak_simulation",
    "peak_step_meets",
    "prepare",
    "prepare_file",
    "reference_trip_times_s",
    "run_replication",
    "search_peak_factor",
    "simulated_periods",
    "summarise",
    "traffic_key",
    "uses_published_totals",
]


@dataclass(frozen=True)
class AppliedIntervention:
    """One intervention as applied: its title, selection, cost, notes for the user and what it touched.

    A note is e.g. a new limit equal to the old one on some of the links.
    """

    index: int
    type: str
    title: str
    selection: Selection
    cost: Cost
    notes: tuple[str, ...] = ()
    touched: Touched = field(default_factory=Touched)


@dataclass(frozen=True)
class PreparedScenario:
    """Everything a replication needs, computed once per scenario (picklable): the applied scenario and demand.

    Attributes
    ----------
    applied
        The scenario's interventions applied to its network (:class:`AppliedScenario`); its ``scenario``,
        ``network``, ``base_network_source``, ``modifiers``, ``bindings``, ``interventions`` and ``parameters``
        are read through the properties of the same names.
    periods
        The simulated periods (``[simulation] periods`` and ``duration_s`` applied).
    daily_trips
        Vehicle trips per day (``[demand]``; default from the un-intervened network), before period shares.
    od
        The OD table of ``[demand] od_file`` (snapped to nodes), or None.
    pedestrians
        Pedestrian demand per crossing and period (``crossing``, ``period``, ``peds_per_h``).
    network_share
        Expected share of the city's annual vehicle-km this network carries, from the demand settings (shown by
        ``scenario show``; calibration scales by each baseline replication's simulated veh-km instead);
        1.0 when ``scale_to_network`` is false or crash records are given.
    crash_records
        ``[calibration] crash_records`` read and snapped to the un-intervened network's links (columns of
        :func:`vision_zero.risk.crash_records.snap_to_links`), or None. When given, the calibration targets are the
        records' casualties per year (``[calibration]`` numbers still override them), not scaled: the records
        are this network's own.
    distribution
        Zones and deterrence of the trip distribution on the un-intervened network (shared by a baseline and
        its variants, so they draw the same trips); calibrated to ``[demand] mean_trip_length_km`` when given.
    reference_cost_s, cost_s
        For a variant with elastic demand: drivers' expected link times [s] on its baseline's network and on its
        own (:func:`vision_zero.traffic.simulation.expected_link_cost_s`, central parameter values); None for a
        baseline or with ``[demand] travel_time_elasticity = 0``.
    peak
        With ``[demand] congestion_index_target``: the calibration of the daily trips to it (:func:`calibrate_peak`).
    """

    applied: AppliedScenario
    periods: tuple[Period, ...]
    daily_trips: float
    od: pd.DataFrame | None
    pedestrians: pd.DataFrame
    network_share: float
    crash_records: pd.DataFrame | None = None
    distribution: TripDistribution | None = None
    reference_cost_s: npt.NDArray[np.float64] | None = None
    cost_s: npt.NDArray[np.float64] | None = None
    peak: PeakCalibration | None = None

    @property
    def scenario(self) -> Scenario:
        """The validated scenario."""
        return self.applied.scenario

    @property
    def network(self) -> RoadNetwork:
        """The network with every intervention applied (central parameter values)."""
        return self.applied.network

    @property
    def base_network_source(self) -> str:
        """The source string the network was loaded from."""
        return self.applied.base_network_source

    @property
    def modifiers(self) -> pd.DataFrame:
        """Risk-modifier (CMF) table of all interventions."""
        return self.applied.modifiers

    @property
    def bindings(self) -> tuple[Binding, ...]:
        """Network values tied to uncertain parameters (re-set from each replication's draw)."""
        return self.applied.bindings

    @property
    def interventions(self) -> tuple[AppliedIntervention, ...]:
        """Per intervention: what it matched, what it costs, what it touched."""
        return self.applied.interventions

    @property
    def parameters(self) -> ParameterSet:
        """Shipped parameters plus the scenario's ``[risk] parameters`` file."""
        return self.applied.parameters

    @property
    def name(self) -> str:
        """Scenario name."""
        return self.scenario.name

    @property
    def is_baseline(self) -> bool:
        """True when the scenario is its own baseline (calibrated on itself)."""
        return self.scenario.is_baseline

    @property
    def baseline_path(self) -> Path:
        """The baseline scenario file (root of the ``extends`` chain, or ``baseline = ...``)."""
        return self.scenario.baseline_path

    @property
    def seed(self) -> int:
        """Base seed of the run."""
        return self.scenario.simulation.seed

    @property
    def replications(self) -> int:
        """Number of replications the scenario asks for."""
        return self.scenario.simulation.replications

    @property
    def costs(self) -> tuple[Cost, ...]:
        """Cost of each intervention."""
        return self.applied.costs

    @property
    def touched(self) -> Touched:
        """The links, nodes and crossings any intervention changed (ids on :attr:`network`)."""
        return self.applied.touched


# ------------------------------------------------------------------------------------------------- prepare


def _periods(scenario: Scenario, params: ParameterSet, names: list[str] | None = None) -> tuple[Period, ...]:
    """The simulated periods: ``names`` (default ``[simulation] periods``) with ``duration_s`` applied."""
    from vision_zero.traffic.demand import default_periods

    sim = scenario.simulation
    periods = default_periods(params)
    wanted = sim.periods if names is None else names
    if wanted is not None:
        known = {p.name: p for p in periods}
        for i, name in enumerate(wanted):
            if name not in known:
                raise ScenarioError(
                    str(scenario.path), f"simulation.periods[{i}]", f"one of {list(known)}", name
                )
        periods = tuple(known[n] for n in wanted)
    if sim.duration_s is not None:  # same hourly rate over a shorter (or longer) simulated time
        d = sim.duration_s
        periods = tuple(
            replace(p, duration_s=d, demand_share=p.demand_share * d / p.duration_s) for p in periods
        )
    return periods


def simulated_periods(scenario: Scenario, params: ParameterSet) -> tuple[Period, ...]:
    """The periods a scenario's replications simulate (:attr:`PreparedScenario.periods`, without preparing)."""
    return _periods(scenario, params)


def load_base_network(scenario: Scenario) -> RoadNetwork:
    """The scenario's network before interventions (a loading failure becomes a ScenarioError)."""
    from vision_zero.network.road_network import load_network

    try:
        return load_network(scenario.network.source, country=scenario.network.country)
    except VisionZeroError as exc:
        raise ScenarioError(
            str(scenario.chain[-1]), "network.source", f"a loadable network ({exc})"
        ) from None


@dataclass(frozen=True)
class AppliedScenario:
    """A scenario's interventions applied to its network: the part of :func:`prepare` the outputs need.

    ``vision-zero compare`` builds this alone (no demand, no routing) for a scenario whose replications are all
    on disk already: maps, costs and touched links need only the intervened network and the costs.

    Attributes
    ----------
    scenario
        The validated scenario.
    network
        The network with every intervention applied (central parameter values).
    base_network_source
        The source string the network was loaded from.
    modifiers
        Risk-modifier (CMF) table of all interventions.
    bindings
        Network values tied to uncertain parameters.
    interventions
        Per intervention: what it matched, what it costs, what it touched.
    parameters
        Shipped parameters plus the scenario's ``[risk] parameters`` file.
    """

    scenario: Scenario
    network: RoadNetwork
    base_network_source: str
    modifiers: pd.DataFrame
    bindings: tuple[Binding, ...]
    interventions: tuple[AppliedIntervention, ...]
    parameters: ParameterSet

    @property
    def name(self) -> str:
        """Scenario name."""
        return self.scenario.name

    @property
    def costs(self) -> tuple[Cost, ...]:
        """Cost of each intervention."""
        return tuple(a.cost for a in self.interventions)

    @property
    def touched(self) -> Touched:
        """The links, nodes and crossings any intervention changed (ids on :attr:`network`)."""
        return Touched.union(a.touched for a in self.interventions)


def apply_scenario(scenario: Scenario, *, network: RoadNetwork | None = None) -> AppliedScenario:
    """Load the parameters and the network and apply the scenario's interventions (checking every selector).

    Parameters
    ----------
    scenario
        A scenario from :func:`vision_zero.program.scenario.load_scenario`.
    network
        The un-intervened network, if already loaded from ``scenario.network.source``.

    Raises
    ------
    ScenarioError
        A selector that matches nothing (naming the intervention's file and key), a network that cannot be
        loaded.
    """
    params = load_parameters(scenario.risk.parameters)
    base = load_base_network(scenario) if network is None else network
    net = base
    modifiers = [empty_modifiers()]
    bindings: list[Binding] = []
    applied: list[AppliedIntervention] = []
    for i, iv in enumerate(scenario.interventions):
        origin, key = (
            scenario.intervention_keys[i] if scenario.intervention_keys else (str(scenario.path), "")
        )
        ctx = ApplyContext(parameters=params, base_dir=Path(origin).parent, origin=origin, key=key)
        effect = iv.apply(net, ctx)
        net = effect.network
        if len(effect.modifiers):
            modifiers.append(effect.modifiers)
        bindings += effect.bindings
        applied.append(
            AppliedIntervention(
                i, iv.type, iv.title(), effect.selection, effect.cost, tuple(effect.notes), effect.touched
            )
        )
    return AppliedScenario(
        scenario=scenario,
        network=net,
        base_network_source=base.source,
        modifiers=pd.concat(modifiers, ignore_index=True),
        bindings=tuple(bindings),
        interventions=tuple(applied),
        parameters=params,
    )


def prepare(
    scenario: Scenario,
    *,
    network: RoadNetwork | None = None,
    applied: AppliedScenario | None = None,
    calibrate_demand: bool = True,
) -> PreparedScenario:
    """Load the network, apply the interventions and compute what every replication shares.

    Parameters
    ----------
    scenario
        A scenario from :func:`vision_zero.program.scenario.load_scenario`.
    network
        The un-intervened network, if already loaded from ``scenario.network.source`` (saves loading it again).
    applied
        :func:`apply_scenario` of this scenario and network, if already done (saves applying it again).
    calibrate_demand
        Run the peak calibration of ``[demand] congestion_index_target`` (:func:`calibrate_peak`: up to 8
        steps of 2-4 simulations of the AM peak). False keeps the uncalibrated daily trips: for checking a scenario
        (``vision-zero validate``), never for a run.

    Raises
    ------
    ScenarioError
        A selector that matches nothing (naming the intervention's file and key), a network that cannot be
        loaded, unknown period names, unreadable demand files.
    """
    from vision_zero.traffic import demand

    base = load_base_network(scenario) if network is None else network
    app = apply_scenario(scenario, network=base) if applied is None else applied
    params = app.parameters
    periods = _periods(scenario, params)
    net = app.network

    dist, default_daily = base_demand(base, params, scenario.demand.mean_trip_length_km)
    daily = scenario.demand.daily_trips or default_daily
    peak = None
    if (
        calibrate_demand
        and scenario.demand.congestion_index_target is not None
        and scenario.demand.od_file is None
    ):
        peak = calibrate_peak(scenario, base, params, dist, daily)
        daily, periods = _calibrated_day(scenario, params, peak)
    daily *= scenario.demand.scale
    od = None
    origin = str(scenario.path)
    if scenario.demand.od_file is None and max(round(daily * p.demand_share) for p in periods) < 1:
        raise ScenarioError(
            origin,
            "demand.scale" if scenario.demand.daily_trips is None else "demand.daily_trips",
            f"a demand with at least one trip in a simulated period ({daily:.3g} trips/day on this network)",
            scenario.demand.scale if scenario.demand.daily_trips is None else scenario.demand.daily_trips,
        )
    if scenario.demand.od_file is not None:
        try:
            od = demand.read_od_csv(scenario.demand.od_file, net)
        except VisionZeroError as exc:
            raise ScenarioError(origin, "demand.od_file", f"a valid OD file ({exc})") from None
        od = od.assign(trips=od["trips"].to_numpy(dtype=float) * scenario.demand.scale)
        unknown = sorted(set(od["period"].astype(str)) - {p.name for p in periods})
        if unknown:
            raise ScenarioError(
                origin,
                "demand.od_file",
                f"rows of {scenario.demand.od_file} with periods among the simulated {[p.name for p in periods]}",
                unknown[0],
            )
        if float(od["trips"].sum()) < 1.0:
            raise ScenarioError(
                origin,
                "demand.od_file",
                "an OD table with at least one trip in a simulated period (after demand.scale)",
                f"{float(od['trips'].sum()):.3g} trips in {scenario.demand.od_file}",
            )
    peds = demand.pedestrian_demand(net, periods=periods, params=params)
    peds = move_pedestrians_to_new_crossings(base, net, peds)
    if scenario.demand.pedestrian_file is not None:
        try:
            peds = demand.read_pedestrian_csv(
                scenario.demand.pedestrian_file, peds, n_crossings=len(net.crossings)
            )
        except VisionZeroError as exc:
            raise ScenarioError(
                origin, "demand.pedestrian_file", f"a valid pedestrian file ({exc})"
            ) from None

    records = None
    if scenario.calibration.crash_records is not None:
        from vision_zero.risk.crash_records import read_crash_records, snap_to_links, targets_from_records

        try:
            records = read_crash_records(scenario.calibration.crash_records)
        except VisionZeroError as exc:
            raise ScenarioError(
                origin, "calibration.crash_records", f"a valid crash-record file ({exc})"
            ) from None
        records = snap_to_links(records, base, parameters=params.central())
        try:
            targets_from_records(records)
        except VisionZeroError as exc:
            raise ScenarioError(
                origin, "calibration.crash_records", f"usable crash records ({exc})"
            ) from None

    share = 1.0
    if scenario.calibration.scale_to_network and records is None:
        km = road_km(base, np.ones(len(base.links), dtype=bool))
        expected_vkm = (
            params.value("demand.vehicle_km_per_road_km_day")
            * km
            * params.value("demand.weekday_equivalents_per_year")
            * (daily / default_daily if default_daily > 0 else 1.0)
        )
        share = expected_vkm / params.value("calibration.almaty.veh_km_per_year")

    reference_cost, cost = _elastic_costs(scenario, base, net, params)
    return PreparedScenario(
        applied=app,
        periods=periods,
        daily_trips=float(daily),
        od=od,
        pedestrians=peds,
        network_share=float(share),
        crash_records=records,
        distribution=dist,
        reference_cost_s=reference_cost,
        cost_s=cost,
        peak=peak,
    )


#: :func:`base_demand` per network content and parameters: 8 networks' trip distributions (each a few zone arrays:
#: kilobytes to a megabyte).
_DEMAND_CACHE: BoundedCache[tuple[object, ...], tuple[TripDistribution, float]] = BoundedCache(8)


def _central_key(params: ParameterSet) -> tuple[tuple[str, float], ...]:
    """The parameters' central values, sorted by name: what the demand model and the calibration read of them."""
    return tuple(sorted(params.central().items()))


def base_demand(
    base: RoadNetwork, params: ParameterSet, mean_trip_length_km: float | None = None
) -> tuple[TripDistribution, float]:
    """The trip distribution of the un-intervened network and its default daily trips, as :func:`prepare` uses them.

    :func:`vision_zero.traffic.demand.trip_distribution` (or, with ``[demand] mean_trip_length_km``,
    :func:`~vision_zero.traffic.demand.calibrate_to_trip_length`) and
    :func:`~vision_zero.traffic.demand.default_daily_trips` of ``base``. Both are deterministic for a network and
    parameters, and a baseline and its variants share the un-intervened network, so the result is cached within a
    process, keyed by the network's content (:func:`~vision_zero.network.road_network.network_fingerprint` of its
    tables and its ``area_share``), every parameter's central value and the trip-length target: a network edited
    in place of its source, or another parameter file, computes its own. The cached objects are shared: read
    them, never change them.
    """
    from vision_zero.traffic import demand

    key = (network_fingerprint(base), base.area_share, _central_key(params), mean_trip_length_km)

    def compute() -> tuple[TripDistribution, float]:
        if mean_trip_length_km is not None:
            dist = demand.calibrate_to_trip_length(
                base,
                mean_trip_length_km,
                params,
                commute_share=demand.commute_share_of_day(demand.default_periods(params), params),
            )
        else:
            dist = demand.trip_distribution(base, params)
        return dist, demand.default_daily_trips(base, params, distribution=dist)

    return _DEMAND_CACHE.get_or_compute(key, compute)


def distribution_key(distribution: TripDistribution) -> str:
    """A hash of a trip distribution's zones, weights and deterrence (everything its draws read)."""
    h = hashlib.sha256()
    for name in ("zone_node", "home", "job", "origin_ok", "destination_ok", "external", "x_km", "y_km"):
        a = np.ascontiguousarray(getattr(distribution, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    h.update(repr((float(distribution.decay_per_km), float(distribution.through_share))).encode())
    return h.hexdigest()


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


def _calibrated_day(
    scenario: Scenario, params: ParameterSet, peak: PeakCalibration
) -> tuple[float, tuple[Period, ...]]:
    """Daily trips and periods at a calibrated peak: within SCIENCE.md §10's bounds, :func:`split_peak_factor`."""
    if not peak.published_bounds:  # a total of the scenario's own, or not Almaty's: the day takes the factor
        return peak.daily_trips, _periods(scenario, params)
    day, share = split_peak_factor(peak.factor, params)
    return peak.daily_trips / peak.factor * day, _periods(scenario, with_peak_share(params, share))


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
    (am,) = _periods(scenario, params, ["am_peak"])
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
        _central_key(params),
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
    from vision_zero.traffic.routing import RouteChoiceSettings
    from vision_zero.traffic.simulation import TrafficSettings, simulate

    (am,) = _periods(scenario, params, ["am_peak"])
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
        demand.pedestrian_demand(base, periods=(am,), params=params),
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


def _elastic_costs(
    scenario: Scenario, base: RoadNetwork, net: RoadNetwork, params: ParameterSet
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | tuple[None, None]:
    """Expected link times on the baseline's network and on the variant's, for elastic demand (or None)."""
    if scenario.is_baseline or scenario.demand.travel_time_elasticity == 0:
        return None, None
    from vision_zero.traffic.simulation import TrafficSettings, expected_link_cost_s

    baseline = load_scenario(scenario.baseline_path)
    ref_net = apply_scenario(baseline, network=base).network
    if len(ref_net.links) != len(net.links):
        raise ScenarioError(
            str(scenario.path),
            "network.source",
            f"the network of its baseline {scenario.baseline_path.name} (elastic demand compares their links)",
            scenario.network.source,
        )
    st = TrafficSettings.from_parameters(params)
    return expected_link_cost_s(ref_net, st), expected_link_cost_s(net, st)


#: Link costs [s]: one per link for all periods, or per period.
_Costs = npt.NDArray[np.float64] | dict[str, npt.NDArray[np.float64]]


def elastic_link_costs_s(
    prepared: PreparedScenario, baseline_link_stats: pd.DataFrame | None
) -> tuple[_Costs, _Costs]:
    """Link times [s] a variant's trips compare for elastic demand: its paired baseline's and its own.

    With the paired baseline replication's link statistics, the baseline's are its simulated (congested) mean
    link times per period (:func:`vision_zero.traffic.demand.congested_link_costs_s`), and the variant's those
    plus the change the interventions make to each link's expected time (running time at the desired speed,
    signal and give-way delay: :func:`vision_zero.traffic.simulation.expected_link_cost_s`): in the simulation a
    vehicle runs a link at its desired speed and then waits at the exit, so a lower limit lengthens the running
    part and leaves the queueing to the first order. A trip's relative change in time is then its change over
    its congested time, not over its free-flow time. Without them (a variant run without its baseline's traffic
    tables) both are expected free-flow times.
    """
    ref, cost = prepared.reference_cost_s, prepared.cost_s
    if ref is None or cost is None:
        raise ValueError(
            "elastic_link_costs_s: the scenario has no elastic demand (a baseline, or elasticity 0)"
        )
    if baseline_link_stats is None:
        return ref, cost
    from vision_zero.traffic import demand

    congested = demand.congested_link_costs_s(prepared.network, baseline_link_stats, ref, prepared.periods)
    change = cost - ref
    return congested, {p: np.maximum(t + change, 0.0) for p, t in congested.items()}


#: Elastic demand's trip times under a baseline replication's costs, by content (:func:`reference_trip_times_s`):
#: the last few kept in this process, so every variant paired with the same baseline replication reuses them.
_REFERENCE_TIMES: BoundedCache[str, npt.NDArray[np.float64]] = BoundedCache(8)


def reference_trip_times_s(
    network: RoadNetwork, trips: pd.DataFrame, reference_cost_s: _Costs
) -> npt.NDArray[np.float64]:
    """Each trip's time under its baseline's costs (:func:`vision_zero.traffic.demand.trip_times_s`), computed once.

    Elastic demand compares a variant's trip times with the baseline's (:func:`elastic_link_costs_s`); the
    baseline's are the same for every variant paired with the same baseline replication (its trips, its
    congested link times, the same topology), so they are kept in this process under a hash of exactly what
    they are computed from (the trips' origins, destinations and periods, the links' ``u``, ``v`` and
    ``highway``, the nodes' coordinates, the costs): a hit is the same numbers bit for bit.
    """
    from vision_zero.traffic import demand

    h = hashlib.sha256()
    links, nodes = network.links, network.nodes
    cols = [links[c] for c in ("u", "v", "highway") if c in links] + [nodes[c] for c in ("x_m", "y_m")]
    cols += [trips["origin"], trips["destination"], trips["period"].astype(str)]
    for col in cols:
        h.update(f"{col.name}:{len(col)};".encode())
        h.update(pd.util.hash_pandas_object(col, index=False).to_numpy().tobytes())
    costs = reference_cost_s if isinstance(reference_cost_s, dict) else {"": reference_cost_s}
    for name in sorted(costs):
        h.update(f"cost {name}:".encode())
        h.update(np.ascontiguousarray(costs[name], dtype=np.float64).tobytes())

    def compute() -> npt.NDArray[np.float64]:
        out = demand.trip_times_s(trips, network, reference_cost_s)
        out.setflags(write=False)
        return out

    return _REFERENCE_TIMES.get_or_compute(h.hexdigest(), compute)


def move_pedestrians_to_new_crossings(
    base: RoadNetwork, network: RoadNetwork, pedestrians: pd.DataFrame
) -> pd.DataFrame:
    """New crossings take their pedestrians from the crossing points nearby: they move people, they do not make them.

    A new crossing (an id the un-intervened ``base`` network does not have) draws the demand its road class and
    land use give it, but only from the pedestrians who already cross the same street nearby: all of those at
    the existing crossings its vehicles pass (shared ``crossing_links``), and at a crossing on an end node of its
    links only the share crossing this street's leg there (one leg of the node's approaches: a junction's
    pedestrians crossing the side streets do not walk to a crossing of the main street), in proportion to those
    demands and at most all of them. A new crossing with no existing crossing nearby gets no pedestrians (the
    model has no pedestrian activity there to move). Each period's total is unchanged.

    Parameters
    ----------
    base
        The network before the interventions.
    network
        The network after them (new crossings have ids ``>= len(base.crossings)``).
    pedestrians
        Demand of ``network`` (``crossing``, ``period``, ``peds_per_h``).

    Returns
    -------
    pandas.DataFrame
        The same table with demand moved from the neighbours to the new crossings.
    """
    n_base = len(base.crossings)
    new_ids = network.crossings.index.to_numpy(np.int64)
    new_ids = new_ids[new_ids >= n_base]
    if not len(new_ids) or not len(pedestrians):
        return pedestrians
    cl = network.crossing_links
    links_of = cl.groupby("crossing")["link"].apply(lambda s: set(s.astype(int))).to_dict()
    crossings_of_link = cl.groupby("link")["crossing"].apply(lambda s: set(s.astype(int))).to_dict()
    node_of = network.crossings["node"].to_numpy(np.int64)
    by_node: dict[int, set[int]] = {}
    for c in range(n_base):
        if node_of[c] >= 0:
            by_node.setdefault(int(node_of[c]), set()).add(c)
    u = network.links["u"].to_numpy(np.int64)
    v = network.links["v"].to_numpy(np.int64)
    # neighbour -> share of its pedestrians who cross this street: 1 along the street, one leg of a node crossing
    neighbours: dict[int, dict[int, float]] = {}
    for c in new_ids.tolist():
        near: dict[int, float] = {}
        for link in links_of.get(c, set()):
            for x in crossings_of_link.get(link, set()):
                if x < n_base:
                    near[x] = 1.0 if node_of[x] < 0 else 1.0 / len(links_of[x])
            for end in (int(u[link]), int(v[link])):
                for x in by_node.get(end, set()):
                    near.setdefault(x, 1.0 / len(links_of[x]))
        neighbours[c] = dict(sorted(near.items()))
    out = pedestrians.copy()
    demand = out["peds_per_h"].to_numpy(np.float64).copy()
    crossing = out["crossing"].to_numpy(np.int64)
    for _period, rows in out.groupby("period", sort=False).indices.items():
        row_of = {int(c): int(r) for c, r in zip(crossing[rows], rows, strict=True)}
        for c in new_ids.tolist():
            r = row_of.get(c)
            if r is None:
                continue
            pairs = [(row_of[x], w) for x, w in neighbours[c].items() if x in row_of]
            near_rows = np.array([row for row, _ in pairs], dtype=np.int64)
            movable = demand[near_rows] * np.array([w for _, w in pairs]) if pairs else np.zeros(0)
            pool = float(movable.sum())
            take = min(float(demand[r]), pool)
            if take > 0:
                demand[near_rows] -= movable * (take / pool)
            demand[r] = take
    out["peds_per_h"] = demand
    return out


def prepare_file(path: Path | str, *, overrides: dict[str, object] | None = None) -> PreparedScenario:
    """:func:`load_scenario` then :func:`prepare`."""
    return prepare(load_scenario(path, overrides=overrides))


# -------------------------------------------------------------------------------------------- replication


def calibration_targets(
    scenario: Scenario,
    parameters: ParameterSet,
    draw: Mapping[str, float],
    *,
    veh_km: float,
    crash_records: pd.DataFrame | None = None,
) -> CalibrationTargets:
    """Observed totals for a baseline replication that simulated ``veh_km`` vehicle-km a year.

    ``draw`` is the replication's parameter draw, ``crash_records`` :attr:`PreparedScenario.crash_records`.
    With ``scale_to_network`` the city totals are scaled by ``veh_km / calibration.almaty.veh_km_per_year``, so
    the baseline's deaths per vehicle-km equal the city's at every network size and demand.
    """
    cal = scenario.calibration
    if crash_records is not None:
        from vision_zero.risk.crash_records import targets_from_records

        t = targets_from_records(crash_records, source=f"crash records {cal.crash_records}")
    else:
        t = CalibrationTargets.almaty(draw)
    given = {
        k: getattr(cal, k)
        for k in ("deaths_per_year", "serious_per_year", "slight_per_year", "pedestrian_share_of_deaths")
        if getattr(cal, k) is not None
    }
    if given:
        t = replace(t, **given, source=f"{scenario.path.name} [calibration]; others: {t.source}")
    if cal.scale_to_network and crash_records is None:
        city = parameters.value("calibration.almaty.veh_km_per_year")
        if veh_km <= 0:
            raise ScenarioError(
                str(scenario.path),
                "calibration.scale_to_network",
                "a baseline with traffic (its veh-km scales the city's totals)",
                veh_km,
            )
        t = t.scaled(veh_km / city)
    return t


def annual_link_traffic(
    network: RoadNetwork, link_stats: pd.DataFrame, periods: tuple[Period, ...]
) -> pd.DataFrame:
    """Per link, annualised: ``veh_km_per_year``, ``veh_h_per_year`` and flow-weighted speeds over periods."""
    n = len(network.links)
    out = pd.DataFrame({"link": np.arange(n, dtype=np.int64)})
    if not len(link_stats):
        for col in ("veh_km_per_year", "veh_h_per_year"):
            out[col] = 0.0
        for col in ("mean_speed_kph", "p85_speed_kph", "share_over_limit"):
            out[col] = np.nan
        return out
    af = annual_factors(link_stats["period"], periods)
    link = link_stats["link"].to_numpy(dtype=np.int64)
    vkm = link_stats["veh_km"].to_numpy(dtype=float) * af
    out["veh_km_per_year"] = np.bincount(link, weights=vkm, minlength=n)[:n]
    out["veh_h_per_year"] = np.bincount(
        link, weights=link_stats["veh_h"].to_numpy(dtype=float) * af, minlength=n
    )[:n]
    w = link_stats["entries"].to_numpy(dtype=float) * af
    for col in ("mean_speed_kph", "p85_speed_kph", "share_over_limit"):
        x = link_stats[col].to_numpy(dtype=float)
        ok = np.isfinite(x)
        num = np.bincount(link[ok], weights=x[ok] * w[ok], minlength=n)[:n]
        den = np.bincount(link[ok], weights=w[ok], minlength=n)[:n]
        out[col] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def _speed_hist(hist: pd.DataFrame, periods: tuple[Period, ...]) -> pd.DataFrame:
    cols = ["link", "bin_lo_kph", "count"]
    if not len(hist):
        return pd.DataFrame(
            {
                "link": pd.Series(dtype=np.int64),
                "bin_lo_kph": pd.Series(dtype=float),
                "count": pd.Series(dtype=float),
            }
        )
    h = hist.assign(count=hist["count"].to_numpy(dtype=float) * annual_factors(hist["period"], periods))
    out = h.groupby(["link", "bin_lo_kph"], as_index=False, sort=True)["count"].sum()
    return pd.DataFrame(out[cols])


def summarise(
    injuries: pd.DataFrame,
    link_traffic: pd.DataFrame,
    traffic: dict[str, float],
    *,
    schematic: bool,
    trips_evaporated: int = 0,
    trips_added: int = 0,
    congestion_index: float = float("nan"),
    route_choice: pd.DataFrame | None = None,
    peak: PeakCalibration | None = None,
) -> dict[str, float]:
    """The headline numbers of :class:`~vision_zero.runs.results.ReplicationResult` (``summary``).

    ``route_choice``: :attr:`~vision_zero.traffic.simulation.TrafficRecord.route_choice`; its last row gives
    ``route_relative_gap`` (estimated from a sample of origins on a large network, with its standard error
    ``route_relative_gap_se``; 0 when every origin was searched), ``route_outside_band`` (share of trips whose best route saves more than their
    indifference band: 0 in a boundedly rational user equilibrium), ``route_iterations`` (re-routing
    iterations run) and, per reason of :data:`~vision_zero.traffic.simulation.STOP_REASONS`, ``route_stop_<reason>``
    (1.0 for the reason the loop stopped, 0.0 for the others; ``route_stop_cap``: at the iteration cap, not
    converged); for a baseline whose equilibrium phase was followed by the band phase, that phase's last
    ``route_equilibrium_relative_gap`` and ``route_equilibrium_iterations``.
    ``traffic``: :func:`vision_zero.traffic.simulation.traffic_summary` of the replication's record (trips
    arrived and en route, stuck moves), copied in.
    ``peak``: the scenario's peak calibration (:func:`calibrate_peak`), copied in as ``peak_target``,
    ``peak_congestion_index``, ``peak_completed_share``, ``peak_factor``, ``peak_factor_low``/``_high`` (its
    bounds), ``peak_steps``, ``peak_congestion_index_se`` and ``peak_replications`` (the index's standard error and
    the replications behind it), ``peak_reached`` (1.0 or 0.0), ``peak_route_relative_gap`` (the calibration's
    route gap, where it has one) and, for a named target, ``peak_target_low``/``_high`` (its range), so that a run's summary says whether its demand met the target
    (:func:`vision_zero.runs.run_summary.calibration_warning`) and whether its replications' mean index stays in
    the target's range (:func:`vision_zero.runs.run_summary.calibration_spread_warning`).
    """
    out: dict[str, float] = {}
    for s in SEVERITIES:
        out[s] = float(injuries.loc[injuries["severity"] == s, "per_year"].sum())
        for u in ROAD_USERS:
            m = (injuries["severity"] == s) & (injuries["road_user"] == u)
            out[f"{s}_{u}"] = float(injuries.loc[m, "per_year"].sum())
    out["ksi"] = out["fatal"] + out["serious"]
    for u in ROAD_USERS:
        out[f"ksi_{u}"] = out[f"fatal_{u}"] + out[f"serious_{u}"]
    out["veh_km"] = float(link_traffic["veh_km_per_year"].sum())
    out["veh_h"] = float(link_traffic["veh_h_per_year"].sum())
    out.update(traffic)
    out["trips_evaporated"] = float(trips_evaporated)
    out["trips_added"] = float(trips_added)
    out["congestion_index"] = float(congestion_index)
    out["schematic"] = 1.0 if schematic else 0.0
    if route_choice is not None and len(route_choice):
        out["route_relative_gap"] = float(route_choice["relative_gap"].iloc[-1])
        out["route_relative_gap_se"] = float(route_choice["relative_gap_se"].iloc[-1])
        out["route_outside_band"] = float(route_choice["outside_band"].iloc[-1])
        out["route_iterations"] = float(route_choice["iteration"].iloc[-1])
        if "phase" in route_choice:  # a baseline's equilibrium phase, before its band phase: where it stopped
            eq = route_choice[route_choice["phase"] == "equilibrium"]
            if len(eq):
                out["route_equilibrium_relative_gap"] = float(eq["relative_gap"].iloc[-1])
                out["route_equilibrium_iterations"] = float(eq["iteration"].iloc[-1])
        if "stop_reason" in route_choice:  # why the loop stopped: 1.0 for its reason, 0.0 for the others
            from vision_zero.traffic.simulation import STOP_REASONS

            reason = str(route_choice["stop_reason"].iloc[-1])
            for r in STOP_REASONS:
                out[f"route_stop_{r}"] = 1.0 if reason == r else 0.0
    if peak is not None:
        out["peak_target"] = float(peak.target)
        out["peak_congestion_index"] = float(peak.congestion_index)
        out["peak_completed_share"] = float(peak.completed_share)
        out["peak_factor"] = float(peak.factor)
        out["peak_factor_low"], out["peak_factor_high"] = (float(b) for b in peak.bounds)
        out["peak_steps"] = float(len(peak.steps))
        out["peak_congestion_index_se"] = float(peak.index_se)
        out["peak_replications"] = float(peak.replications)
        out["peak_reached"] = 1.0 if peak.reached else 0.0
        if np.isfinite(peak.route_relative_gap):
            out["peak_route_relative_gap"] = float(peak.route_relative_gap)
        if peak.target_range is not None:
            out["peak_target_low"], out["peak_target_high"] = peak.target_range
    return out


def traffic_key(
    network: RoadNetwork,
    trips: pd.DataFrame,
    prepared: PreparedScenario,
    replication: int,
    *,
    settings: object,
    route_settings: object,
) -> str:
    """A hash of everything :func:`~vision_zero.traffic.simulation.simulate_vehicles` reads in a replication.

    The network's links and nodes tables (every column: a column the engine does not read only costs a missed
    re-use, never a wrong one; crossings are left out, the engine reads none), the trips, the seed and
    replication (the drivers' and routing streams), the periods, platoon size, re-routing passes and the drawn
    traffic and route-choice settings.
    """
    h = hashlib.sha256()
    for table in (network.links, network.nodes, trips):
        h.update(repr([(str(c), str(t)) for c, t in table.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())
    sim = prepared.scenario.simulation
    head = (
        sim.seed,
        replication,
        prepared.periods,
        sim.platoon_size,
        sim.reroute_passes,
        settings,
        route_settings,
    )
    h.update(repr(head).encode())
    return h.hexdigest()


#: Version of what a traffic store holds (:func:`_save_traffic`): the one place that says which fields a stored
#: :class:`~vision_zero.traffic.simulation.VehicleTraffic` has. Raise it whenever the vehicle traffic gains or
#: changes a field (its own, or its ``veh``, ``routes``, ``times`` or ``last_costs``): a store of another version
#: is simulated again, never read with a field missing. History: 1 (unversioned: the bare object) until
#: 2026-12-01; 2, the event loop's ``times.held`` (who was held at a link's end).
TRAFFIC_STORE_VERSION = 2


def _traffic_path(store: Path, key: str) -> Path:
    return Path(store) / f"{key}.pickle"


def _load_traffic(store: Path, key: str) -> VehicleTraffic | None:
    """The vehicle traffic stored under ``key``, or None: no file, unreadable, or of another store version.

    A store is ``(TRAFFIC_STORE_VERSION, vehicles)``; one of another version (or an unversioned one, written
    before versions) is left to be simulated again (:data:`TRAFFIC_STORE_VERSION`).
    """
    path = _traffic_path(store, key)
    try:
        with path.open("rb") as f:
            out = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    from vision_zero.traffic.simulation import VehicleTraffic

    if not (isinstance(out, tuple) and len(out) == 2 and out[0] == TRAFFIC_STORE_VERSION):
        return None
    vehicles = out[1]
    return vehicles if isinstance(vehicles, VehicleTraffic) else None


def _save_traffic(store: Path, key: str, vehicles: VehicleTraffic) -> None:
    """Store ``vehicles`` under ``key`` with :data:`TRAFFIC_STORE_VERSION` (atomically: no reader sees a partial file)."""
    path = _traffic_path(store, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump((TRAFFIC_STORE_VERSION, vehicles), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def run_replication(
    prepared: PreparedScenario,
    replication: int,
    *,
    baseline_raw: pd.DataFrame | None = None,
    traffic_store: Path | None = None,
    baseline_routes: HeldRoutes | None = None,
    baseline_link_stats: pd.DataFrame | None = None,
    link_events: bool = False,
) -> ReplicationResult:
    """Run replication ``replication`` of a prepared scenario.

    Parameters
    ----------
    prepared
        From :func:`prepare`.
    replication
        Replication index (0-based); selects the common random streams.
    baseline_raw
        ``injuries`` (with ``per_year_raw`` and ``per_year``) of the baseline's replication with the same index;
        its calibration factors are reused (:func:`vision_zero.risk.crash_model.factors_of`). None: calibrate on
        this replication itself (a baseline), with the city's totals scaled by its simulated veh-km.
    traffic_store
        A folder shared by the replications of a comparison: a baseline replication leaves its vehicle traffic
        there (:class:`~vision_zero.traffic.simulation.VehicleTraffic`, under :func:`traffic_key`), and a variant
        replication whose traffic inputs are the same (crossing upgrades: links, nodes, trips, seed, parameter
        draw unchanged) takes it instead of simulating again and re-runs only crossings, pedestrians and risk.
        The results are identical to a full run. None: always simulate.
    baseline_routes
        The routes of the baseline's replication with the same index (:attr:`ReplicationResult.routes`, which a
        baseline's result keeps): the variant's drivers start from them and leave them only beyond their
        indifference band (:func:`vision_zero.traffic.simulation.simulate_vehicles`, ``held_routes``; the saving
        a driver forwent in the baseline is computed only for the drivers beyond their band). None: the route
        equilibrium from free-flow routes (a baseline, or a variant run on its own).
    baseline_link_stats
        The link statistics of the baseline's replication with the same index (``link``, ``period``, ``veh_km``,
        ``veh_h``: its traffic table ``traffic_link_stats``). With elastic demand, a variant's trips then respond
        to the change in their congested travel time (:func:`elastic_link_costs_s`); None: to the change in their
        expected free-flow time.
    link_events
        Also keep every vehicle's link entries and exits (:attr:`ReplicationResult.link_events`, from the same
        simulation: the other results are identical either way).
    """
    from vision_zero.risk import crash_model as risk
    from vision_zero.traffic import demand
    from vision_zero.traffic.routing import RouteChoiceSettings
    from vision_zero.traffic.simulation import TrafficSettings, record_of, simulate_vehicles, traffic_summary

    sc = prepared.scenario
    rngs = replication_rngs(sc.simulation.seed, replication)
    draw = prepared.parameters.draw(rngs.parameters)
    network = apply_bindings(prepared.network, prepared.bindings, draw)
    if prepared.od is not None:
        trips = demand.trips_from_od(
            prepared.od, rng=rngs.demand, periods=prepared.periods, source=str(sc.demand.od_file)
        )
    else:
        trips = demand.generate_trips(
            network,
            rng=rngs.demand,
            periods=prepared.periods,
            daily_trips=prepared.daily_trips,
            params=prepared.parameters,
            distribution=prepared.distribution,
        )
    evaporated = added = 0
    if prepared.reference_cost_s is not None and prepared.cost_s is not None:
        elasticity = sc.demand.travel_time_elasticity
        before, after = elastic_link_costs_s(prepared, baseline_link_stats)
        trips, evaporated, added = demand.elastic_trips(
            trips,
            network,
            before,
            after,
            elasticity=draw["demand.elasticity.travel_time"] if elasticity is None else elasticity,
            periods=prepared.periods,
            rng=rngs.demand,  # after the trips: the baseline's draws are untouched
            reference_time_s=reference_trip_times_s(network, trips, before),
        )
    settings = TrafficSettings.from_values(draw)  # this replication's draw of the traffic evidence
    route_settings = RouteChoiceSettings.from_values(draw)
    key = None
    vehicles = None
    if traffic_store is not None:
        key = traffic_key(
            network, trips, prepared, replication, settings=settings, route_settings=route_settings
        )
        vehicles = _load_traffic(traffic_store, key)
    if vehicles is None:
        vehicles = simulate_vehicles(
            network,
            trips,
            rng=rngs.drivers,
            routing_rng=rngs.routing,
            periods=prepared.periods,
            platoon_size=sc.simulation.platoon_size,
            reroute_passes=sc.simulation.reroute_passes,
            settings=settings,
            route_settings=route_settings,
            held_routes=baseline_routes,
        )
        if traffic_store is not None and key is not None and prepared.is_baseline:
            _save_traffic(traffic_store, key, vehicles)
    record = record_of(
        network,
        trips,
        prepared.pedestrians,
        prepared.periods,
        vehicles,
        link_events=link_events,
    )
    estimate = risk.estimate(
        network, record, parameters=draw, modifiers=prepared.modifiers, speed_model=sc.risk.speed_model
    )
    link_traffic = annual_link_traffic(network, record.link_stats, record.periods)
    if baseline_raw is None:
        veh_km = float(link_traffic["veh_km_per_year"].sum())
        targets = calibration_targets(
            sc, prepared.parameters, draw, veh_km=veh_km, crash_records=prepared.crash_records
        )
        factors = risk.calibration_factors(estimate.injuries, targets)
    else:
        factors = risk.factors_of(baseline_raw)
    estimate = risk.apply_calibration(estimate, factors)
    summary = summarise(
        estimate.injuries,
        link_traffic,
        traffic_summary(record),
        schematic=network.schematic,
        trips_evaporated=evaporated,
        trips_added=added,
        congestion_index=demand.congestion_index(network, record.trips, settings),
        route_choice=record.route_choice,
        peak=prepared.peak,
    )
    return ReplicationResult(
        scenario=sc.name,
        replication=replication,
        seed=sc.simulation.seed,
        summary=summary,
        injuries=estimate.injuries,
        link_traffic=link_traffic,
        speed_hist=_speed_hist(record.speed_hist, record.periods),
        parameters=draw,
        traffic={name: getattr(record, field) for name, field in TRAFFIC_TABLES.items()},
        routes=vehicles.held_routes() if prepared.is_baseline else None,
        link_events=record.link_events,
    )
