"""From a prepared scenario to one replication's result: the API the replication runner builds on.

:func:`vision_zero.runs.preparation.prepare` does everything that is the same for every replication of a scenario,
once (the network with its interventions, the periods, the demand and its peak calibration, pedestrian demand,
calibration targets); its result is shipped once per worker.

:func:`run_replication` runs replication *i*: random streams from :func:`vision_zero.core.seeding.replication_rngs`
(common random numbers: replication *i* of every scenario draws the same demand, drivers, route choice and
parameters), one parameter draw (re-setting the intervention values tied to uncertain parameters), trips,
simulation, crash risk at ``[simulation] risk_draws`` joint parameter draws on the same traffic (the own draw and
draws of the parameters after the traffic, a Latin hypercube with the own draw: :mod:`~vision_zero.runs.risk_draws`), calibration of each draw,
the mean over the draws, annualised per-link traffic and the summary numbers of
:class:`~vision_zero.runs.results.ReplicationResult`.

Calibration: a baseline is calibrated on itself (factor = observed / raw, per replication and risk draw); a variant
uses the calibration factors of the baseline's replication with the same index and draw (its table of risk draws,
``baseline_draws``), so interventions change the calibrated totals exactly as they change the raw ones. The observed city totals are
scaled to the baseline replication's simulated share of the city's vehicle-km (``[calibration]
scale_to_network``: simulated veh-km / ``calibration.almaty.veh_km_per_year``), so its deaths per veh-km are the
city's at every network size.

The scenario's preparation and its peak calibration were split out of this module into
:mod:`~vision_zero.runs.preparation` and :mod:`~vision_zero.runs.peak_calibration`; the names the benchmarks read
from here (``prepare``, ``prepare_file``, ``load_base_network``, ``apply_scenario``, ``calibrate_peak``,
``peak_factor_bounds``, ``split_peak_factor``) are re-exported.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.caching import BoundedCache
from vision_zero.core.errors import ConfigError, ScenarioError
from vision_zero.core.parameters import ParameterSet
from vision_zero.core.seeding import ReplicationRNG, replication_rngs
from vision_zero.network.road_network import RoadNetwork
from vision_zero.program.interventions import apply_bindings
from vision_zero.program.scenario import Scenario
from vision_zero.risk.crash_model import ROAD_USERS, SEVERITIES, CalibrationTargets
from vision_zero.runs.peak_calibration import (
    PeakCalibration,
    calibrate_peak,
    peak_factor_bounds,
    split_peak_factor,
)
from vision_zero.runs.preparation import (
    AppliedScenario,
    PreparedScenario,
    apply_scenario,
    load_base_network,
    prepare,
    prepare_file,
)
from vision_zero.runs.results import TRAFFIC_TABLES, ReplicationResult
from vision_zero.runs.risk_draws import (
    draw_factors,
    draws_table,
    inner_draws,
    mean_injuries,
    traffic_parameters,
)
from vision_zero.traffic.periods import Period, annual_factors

if TYPE_CHECKING:
    from vision_zero.traffic.routing import HeldRoutes
    from vision_zero.traffic.simulation import TrafficRecord, VehicleTraffic

__all__ = [
    "annual_link_traffic",
    "apply_scenario",
    "calibrate_peak",
    "calibration_targets",
    "elastic_link_costs_s",
    "load_base_network",
    "peak_factor_bounds",
    "prepare",
    "prepare_file",
    "record_key",
    "reference_trip_times_s",
    "replication_inputs",
    "risk_at_draws",
    "run_replication",
    "split_peak_factor",
    "summarise",
    "traffic_key",
]


# ------------------------------------------------------------------------------------------- elastic demand


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
    network: RoadNetwork,
    trips: pd.DataFrame,
    reference_cost_s: _Costs,
    store: Path | None = None,
) -> npt.NDArray[np.float64]:
    """Each trip's time under its baseline's costs (:func:`vision_zero.traffic.demand.trip_times_s`), computed once.

    Elastic demand compares a variant's trip times with the baseline's (:func:`elastic_link_costs_s`); the
    baseline's are the same for every variant paired with the same baseline replication (its trips, its
    congested link times, the same topology), so they are kept in this process under a hash of exactly what
    they are computed from (the trips' origins, destinations and periods, the links' ``u``, ``v`` and
    ``highway``, the nodes' coordinates, the costs): a hit is the same numbers bit for bit. With a traffic
    ``store`` (a comparison's, :func:`run_replication`) they are also kept there under the same hash, so the
    variants that other processes run (a pool's or a Dask cluster's workers) read them instead of searching
    them again.
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

    key = h.hexdigest()
    path = None if store is None else Path(store) / f"{key}.reference_times.pickle"

    def compute() -> npt.NDArray[np.float64]:
        kept = None if path is None else _store_read(path)
        if isinstance(kept, np.ndarray) and kept.dtype == np.float64 and len(kept) == len(trips):
            out: npt.NDArray[np.float64] = kept
        else:
            out = demand.trip_times_s(trips, network, reference_cost_s)
            if path is not None:
                _store_write(path, out)
        out.setflags(write=False)
        return out

    return _REFERENCE_TIMES.get_or_compute(key, compute)


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


def _hash_tables(h: hashlib._Hash, tables: Sequence[pd.DataFrame]) -> None:
    """Feed each table's columns, dtypes and every row's hash (with its index; so its length too) into ``h``."""
    for table in tables:
        h.update(repr([(str(c), str(t)) for c, t in table.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())


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
    _hash_tables(h, (network.links, network.nodes, trips))
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
#: changes a field (its own, or its ``veh``, ``routes``, ``times`` or ``last_costs``), or the stored record
#: (:func:`_save_record`: a :class:`~vision_zero.traffic.simulation.TrafficRecord` and the congestion index) does:
#: a store of another version is simulated again, never read with a field missing. History: 1 (unversioned: the
#: bare object) until 2026-12-01; 2, the event loop's ``times.held`` (who was held at a link's end); 3 (2026-12-03),
#: the baseline's record and congestion index stored beside its vehicle traffic.
TRAFFIC_STORE_VERSION = 3


def record_key(
    traffic_key: str, network: RoadNetwork, pedestrians: pd.DataFrame | None, *, link_events: bool
) -> str:
    """A hash of everything :func:`~vision_zero.traffic.simulation.record_of` reads beyond the vehicle traffic.

    ``traffic_key`` (:func:`traffic_key`: the links, nodes, trips and everything the simulation read), the
    crossings' places (:data:`~vision_zero.traffic.simulation.RECORD_CROSSING_COLUMNS` of the crossings and
    crossing links: which link a crossing lies on and where, not its type), the pedestrian demand and whether
    link events are kept. A crossing upgrade (a type changed, no crossing moved or added, the same pedestrians)
    has its baseline replication's record; a new crossing, or pedestrians moved to a new one, does not.
    """
    from vision_zero.traffic.simulation import RECORD_CROSSING_COLUMNS, RECORD_CROSSING_LINK_COLUMNS

    h = hashlib.sha256(traffic_key.encode())
    peds = pd.DataFrame() if pedestrians is None else pedestrians
    tables = (
        network.crossings.reindex(columns=list(RECORD_CROSSING_COLUMNS)),
        network.crossing_links.reindex(columns=list(RECORD_CROSSING_LINK_COLUMNS)),
        peds,
    )
    _hash_tables(h, tables)
    h.update(repr(bool(link_events)).encode())
    return h.hexdigest()


def _traffic_path(store: Path, key: str) -> Path:
    return Path(store) / f"{key}.pickle"


def _record_path(store: Path, key: str) -> Path:
    return Path(store) / f"{key}.record.pickle"


def _store_read(path: Path) -> object | None:
    """What :func:`_store_write` left at ``path`` (its payload), or None: no file, unreadable, another version."""
    try:
        with path.open("rb") as f:
            out = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    if not (isinstance(out, tuple) and len(out) == 2 and out[0] == TRAFFIC_STORE_VERSION):
        return None
    payload: object = out[1]
    return payload


def _store_write(path: Path, payload: object) -> None:
    """Store ``payload`` at ``path`` with :data:`TRAFFIC_STORE_VERSION` (atomically: no reader sees a partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump((TRAFFIC_STORE_VERSION, payload), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _load_traffic(store: Path, key: str) -> VehicleTraffic | None:
    """The vehicle traffic stored under ``key``, or None: no file, unreadable, or of another store version.

    A store is ``(TRAFFIC_STORE_VERSION, vehicles)``; one of another version (or an unversioned one, written
    before versions) is left to be simulated again (:data:`TRAFFIC_STORE_VERSION`).
    """
    from vision_zero.traffic.simulation import VehicleTraffic

    vehicles = _store_read(_traffic_path(store, key))
    return vehicles if isinstance(vehicles, VehicleTraffic) else None


def _save_traffic(store: Path, key: str, vehicles: VehicleTraffic) -> None:
    """Store ``vehicles`` under ``key`` with :data:`TRAFFIC_STORE_VERSION` (atomically: no reader sees a partial file)."""
    _store_write(_traffic_path(store, key), vehicles)


def _load_record(store: Path, key: str) -> tuple[TrafficRecord, float] | None:
    """The record and congestion index stored under ``key`` (:func:`record_key`), or None (as :func:`_load_traffic`)."""
    from vision_zero.traffic.simulation import TrafficRecord

    out = _store_read(_record_path(store, key))
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], TrafficRecord)):
        return None
    return out[0], float(out[1])


def _save_record(store: Path, key: str, record: TrafficRecord, congestion_index: float) -> None:
    """Store a replication's record and congestion index under ``key`` (:func:`record_key`), atomically."""
    _store_write(_record_path(store, key), (record, congestion_index))


def _same_link_costs(prepared: PreparedScenario) -> bool:
    """Whether a scenario with elastic demand changes no link's expected cost against its baseline.

    Then every trip's time is the same under both costs, its ratio exactly 1, and
    :func:`~vision_zero.traffic.demand.elastic_trips` keeps the trips as they are: its searches are not needed.
    """
    ref, cost = prepared.reference_cost_s, prepared.cost_s
    return ref is not None and cost is not None and np.array_equal(ref, cost)


def replication_inputs(
    prepared: PreparedScenario, replication: int
) -> tuple[ReplicationRNG, dict[str, float], RoadNetwork, pd.DataFrame]:
    """What replication ``replication`` of a prepared scenario starts from, before elastic demand and traffic.

    Its random streams (:func:`~vision_zero.core.seeding.replication_rngs`, the demand stream already used for the
    trips), its own parameter draw, the network with the draw's bound intervention values and its trips (from the
    scenario's OD file or generated). :func:`run_replication` starts here; a benchmark that re-runs one stage of a
    replication (``benchmarks/bench_record.py``) gets the same trips from it.
    """
    from vision_zero.traffic import demand

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
    return rngs, draw, network, trips


def run_replication(
    prepared: PreparedScenario,
    replication: int,
    *,
    baseline_raw: pd.DataFrame | None = None,
    traffic_store: Path | None = None,
    baseline_routes: HeldRoutes | None = None,
    baseline_link_stats: pd.DataFrame | None = None,
    link_events: bool = False,
    baseline_draws: pd.DataFrame | None = None,
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
        its calibration factors are reused (:func:`vision_zero.risk.crash_model.factors_of`): only with
        ``[simulation] risk_draws = 1`` and no ``baseline_draws``. None (and no ``baseline_draws``): calibrate on
        this replication itself (a baseline), each risk draw with the city's totals of that draw scaled by its
        simulated veh-km.
    traffic_store
        A folder shared by the replications of a comparison: a baseline replication leaves its vehicle traffic
        there (:class:`~vision_zero.traffic.simulation.VehicleTraffic`, under :func:`traffic_key`), and a variant
        replication whose traffic inputs are the same (crossing upgrades: links, nodes, trips, seed, parameter
        draw unchanged) takes it instead of simulating again and re-runs only crossings, pedestrians and risk.
        The baseline also leaves its record and congestion index there (under :func:`record_key`): a variant
        whose crossings lie where the baseline's do and whose pedestrians are the same (an upgrade that changes
        crossing types only) takes them too and re-runs only the risk stage. A variant that changes no link's
        cost skips elastic demand's searches (no trip can evaporate or be added); the first variant with elastic
        demand leaves the baseline replication's trip times there for the others (:func:`reference_trip_times_s`).
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
    baseline_draws
        :attr:`ReplicationResult.risk_draws` of the baseline's replication with the same index: a variant's risk
        draw *j* is calibrated with the baseline's factors of draw *j* (:mod:`vision_zero.runs.risk_draws`); it
        must have ``risk_draws`` draws (a variant of one draw: any number; draws 1 … are a hypercube of their number).

    Risk draws (``[simulation] risk_draws`` = M, :mod:`vision_zero.runs.risk_draws`): the risk stage runs on the
    replication's traffic at its own draw and at M − 1 more draws of the parameters that are not traffic inputs (with
    the own draw a Latin hypercube: :func:`~vision_zero.runs.risk_draws.inner_draws`);
    ``injuries`` and the summary's casualty totals are the mean over the M calibrated draws, ``parameters`` the
    own draw, ``risk_draws`` each draw's factors and totals.
    """
    from vision_zero.traffic import demand
    from vision_zero.traffic.routing import RouteChoiceSettings
    from vision_zero.traffic.simulation import TrafficSettings, record_of, simulate_vehicles, traffic_summary

    sc = prepared.scenario
    rngs, draw, network, trips = replication_inputs(prepared, replication)
    evaporated = added = 0
    if (
        prepared.reference_cost_s is not None
        and prepared.cost_s is not None
        and not _same_link_costs(prepared)
    ):
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
            reference_time_s=reference_trip_times_s(network, trips, before, traffic_store),
        )
    settings = TrafficSettings.from_values(draw)  # this replication's draw of the traffic evidence
    route_settings = RouteChoiceSettings.from_values(draw)
    key = rkey = None
    vehicles = None
    stored = None
    if traffic_store is not None:
        key = traffic_key(
            network, trips, prepared, replication, settings=settings, route_settings=route_settings
        )
        rkey = record_key(key, network, prepared.pedestrians, link_events=link_events)
        # the same record (a crossing upgrade): no vehicle traffic needed unless this is the baseline itself
        stored = None if prepared.is_baseline else _load_record(traffic_store, rkey)
        if stored is None:
            vehicles = _load_traffic(traffic_store, key)
    if stored is not None:
        record, congestion = stored
    else:
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
        congestion = demand.congestion_index(network, record.trips, settings)
        if traffic_store is not None and rkey is not None and prepared.is_baseline:
            _save_record(traffic_store, rkey, record, congestion)
    link_traffic = annual_link_traffic(network, record.link_stats, record.periods)
    m = sc.simulation.risk_draws
    # the inner draws continue the parameter stream: the same values in every scenario of replication i
    draws: list[Mapping[str, float]] = [draw]
    if m > 1:
        fixed = traffic_parameters(prepared.parameters, prepared.bindings)
        draws = inner_draws(prepared.parameters, draw, rngs.parameters, m, fixed)
    injuries, risk_draws = risk_at_draws(
        network,
        record,
        draws,
        applied=prepared,
        veh_km=float(link_traffic["veh_km_per_year"].sum()),
        crash_records=prepared.crash_records,
        factors=_variant_factors(sc.name, replication, m, baseline_raw, baseline_draws),
    )
    summary = summarise(
        injuries,
        link_traffic,
        traffic_summary(record),
        schematic=network.schematic,
        trips_evaporated=evaporated,
        trips_added=added,
        congestion_index=congestion,
        route_choice=record.route_choice,
        peak=prepared.peak,
    )
    return ReplicationResult(
        scenario=sc.name,
        replication=replication,
        seed=sc.simulation.seed,
        summary=summary,
        injuries=injuries,
        link_traffic=link_traffic,
        speed_hist=_speed_hist(record.speed_hist, record.periods),
        parameters=draw,
        traffic={name: getattr(record, field) for name, field in TRAFFIC_TABLES.items()},
        routes=vehicles.held_routes() if prepared.is_baseline and vehicles is not None else None,
        link_events=record.link_events,
        risk_draws=risk_draws,
    )


def risk_at_draws(
    network: RoadNetwork,
    record: TrafficRecord,
    draws: Sequence[Mapping[str, float]],
    *,
    applied: AppliedScenario | PreparedScenario,
    veh_km: float,
    crash_records: pd.DataFrame | None = None,
    factors: Sequence[Mapping[str, float]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The risk stage of one replication at each of its risk draws: the mean injuries table and the table of draws.

    ``draws``: the own draw and the inner draws (:func:`vision_zero.runs.risk_draws.inner_draws`); ``applied``: the
    scenario's interventions (modifiers, parameters, scenario); ``factors``: a variant's calibration factors per
    draw (its baseline's), None for a baseline, calibrated per draw on the city's totals of that draw scaled by
    ``veh_km`` (or on ``crash_records``). One draw runs the estimate as it always ran; more keep the traffic's
    preparation between the draws (:func:`vision_zero.risk.crash_model.injury_parts` with ``reuse``: the same
    numbers). Returns :func:`~vision_zero.runs.risk_draws.mean_injuries` and
    :func:`~vision_zero.runs.risk_draws.draws_table`.
    """
    from vision_zero.risk import crash_model as risk

    sc = applied.scenario
    parts = (
        risk.injury_parts(network, record, speed_model=sc.risk.speed_model, reuse=True)
        if len(draws) > 1
        else None
    )
    calibrated, used = [], []
    for j, values in enumerate(draws):
        est = risk.estimate(
            network,
            record,
            parameters=values,
            modifiers=applied.modifiers,
            speed_model=sc.risk.speed_model,
            parts=parts,
        )
        if factors is None:
            targets = calibration_targets(
                sc, applied.parameters, values, veh_km=veh_km, crash_records=crash_records
            )
            draw_factors_j = risk.calibration_factors(est.injuries, targets)
        else:
            draw_factors_j = dict(factors[j])
        calibrated.append(risk.apply_calibration(est, draw_factors_j).injuries)
        used.append(draw_factors_j)
    return mean_injuries(calibrated), draws_table(calibrated, used)


def _variant_factors(
    scenario: str,
    replication: int,
    m: int,
    baseline_raw: pd.DataFrame | None,
    baseline_draws: pd.DataFrame | None,
) -> list[dict[str, float]] | None:
    """A variant's calibration factors per risk draw (its baseline replication's of the same draw); None: a baseline.

    From the baseline's table of risk draws; with one draw and only the baseline's injuries table (a caller of
    :func:`run_replication` from before nested draws), the factors that table carries.
    """
    from vision_zero.risk import crash_model as risk

    where = f"{scenario} replication {replication}"
    if baseline_draws is not None:
        return draw_factors(baseline_draws, m, where=where)
    if baseline_raw is None:
        return None
    if m > 1:
        raise ConfigError(
            f"{where}: [simulation] risk_draws = {m} needs its baseline replication's calibration factors of every "
            "draw (baseline_draws: the baseline's ReplicationResult.risk_draws, risk_draws.parquet in its "
            "folder); got only its injuries table, which holds the mean over its draws"
        )
    return [risk.factors_of(baseline_raw)]
