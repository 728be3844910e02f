"""From a scenario to what every replication of it shares, computed once: :func:`prepare`.

:func:`prepare` loads the network, applies the interventions (checking every selector against the network:
:func:`apply_scenario`), builds the periods, the default daily demand (calibrated to the peak's congestion target
where the scenario asks: :mod:`~vision_zero.runs.peak_calibration`), pedestrian demand and calibration targets.
The result, :class:`PreparedScenario`, is picklable and is shipped once per worker to
:func:`vision_zero.runs.pipeline.run_replication`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import ScenarioError, VisionZeroError
from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.network.road_network import RoadNetwork
from vision_zero.program.interventions import ApplyContext, Binding, Cost, empty_modifiers
from vision_zero.program.scenario import Scenario, load_scenario
from vision_zero.program.selectors import Selection, road_km
from vision_zero.program.touched import Touched
from vision_zero.runs.peak_calibration import (
    PeakCalibration,
    calibrate_peak,
    split_peak_factor,
    with_peak_share,
)
from vision_zero.runs.scenario_demand import base_demand, simulated_periods
from vision_zero.traffic.periods import Period
from vision_zero.traffic.trip_distribution import TripDistribution

__all__ = [
    "AppliedIntervention",
    "AppliedScenario",
    "PreparedScenario",
    "apply_scenario",
    "load_base_network",
    "move_pedestrians_to_new_crossings",
    "prepare",
    "prepare_file",
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
    from vision_zero.traffic.demand_files import read_od_csv, read_pedestrian_csv
    from vision_zero.traffic.pedestrians import pedestrian_demand

    base = load_base_network(scenario) if network is None else network
    app = apply_scenario(scenario, network=base) if applied is None else applied
    params = app.parameters
    periods = simulated_periods(scenario, params)
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
            od = read_od_csv(scenario.demand.od_file, net)
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
    peds = pedestrian_demand(net, periods=periods, params=params)
    peds = move_pedestrians_to_new_crossings(base, net, peds)
    if scenario.demand.pedestrian_file is not None:
        try:
            peds = read_pedestrian_csv(scenario.demand.pedestrian_file, peds, n_crossings=len(net.crossings))
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


def _calibrated_day(
    scenario: Scenario, params: ParameterSet, peak: PeakCalibration
) -> tuple[float, tuple[Period, ...]]:
    """Daily trips and periods at a calibrated peak: within SCIENCE.md §10's bounds, :func:`split_peak_factor`."""
    if not peak.published_bounds:  # a total of the scenario's own, or not Almaty's: the day takes the factor
        return peak.daily_trips, simulated_periods(scenario, params)
    day, share = split_peak_factor(peak.factor, params)
    return peak.daily_trips / peak.factor * day, simulated_periods(scenario, with_peak_share(params, share))


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
