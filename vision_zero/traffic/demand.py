"""Travel demand: representative periods and car trips (generated, or from an OD table), elastic demand.

Every number comes from ``traffic.toml`` (``demand.*``) with its source; see SCIENCE.md §10.

Trips table (what :func:`generate_trips` and :func:`trips_from_od` return, what the simulation reads):
``trip`` int (0..n-1), ``period`` str, ``origin``/``destination`` int (node ids), ``depart_s`` float (seconds
from the period's start), sorted by period (in the order given) then departure.

The rest of the demand model has modules of its own: where trips start and end and between which zones, the
gravity model with its external zones and calibration (:mod:`vision_zero.traffic.trip_distribution`); pedestrians
at crossings and on streets (:mod:`vision_zero.traffic.pedestrians`); a user's OD and pedestrian count files
(:mod:`vision_zero.traffic.demand_files`).

Default daily total: the network's daily vehicle-km divided by the mean routed length of the trips the
distribution draws on it (trips to and from external zones count their length inside the network only). On the
full schematic city (``schematic:almaty?scale=city``, Almaty's road lengths, ``schematic.toml``) the daily
vehicle-km are Almaty's (5,780 M veh-km/year over 340 weekday-equivalents; ``scale=s`` above 1 times ``s``): 17.0 M
veh-km / ~10.3 km = ~1.66 M trips a day, within the 1.56-1.68 M that Sergek counted (SCIENCE.md §10; a check, not
an input). On any other network the daily vehicle-km are Almaty's vehicle-km per kilometre of main street per day
(the same 5,780 M veh-km/year over 340 weekday-equivalents, on 1,125 km of streets of city and district
significance) times this network's main-street length (OSM tertiary and above, centreline). Main streets, not
all streets, set the scale because OSM maps local and yard streets far more completely than the city's 3,097 km
road register counts them (a network without main streets falls back to Almaty's loading per km of any road).

Sub-networks of the schematic city (``scale`` below 1: tiny, small, district) follow the rule of a clipped
extract, which is what they are: a part cut from the city. Their nodes where a street runs on into the rest of
the city are boundary nodes (:func:`vision_zero.network.schematic.generate_schematic_graph`), so trips to, from
and through the rest of the city enter and leave there as external zones (above), and their daily vehicle-km are
Almaty's loading per km of main street times their main streets. Within the network, that is the trips of the
full city's gravity model that touch its area, as far as the external zones represent them (the land beyond at
the mean density inside, through traffic by integral geometry); their departures are spread over the period
like the internal trips', which is when they would cross the cut in a period of steady demand. Before, a
sub-network took its area share of Almaty's vehicle-km with no external zones, while in the full city's simulated
AM peak its part carries far more than its area (small: 8.7% of the veh-km on 4% of the area; district 42.8% on
19%): the small network stayed free-flowing (congestion index 1.13), and loaded by its main streets with every
trip beginning and ending on its own streets it gridlocked (34% arrive). Checked against the full city's simulated
AM peak at default demand (schematic.toml's header): the small network drives 149 thousand veh-km, its part of the
city 137 thousand (+9%; its main streets are 10.1% of the city's, that part's veh-km 8.7%); the district 691
thousand against 677 thousand (+2%) (tests/traffic/test_demand.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError
from vision_zero.core.parameters import ParameterSet
from vision_zero.core.units import M_PER_KM, S_PER_HOUR
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._demand_common import centreline_m, parameters_or_default
from vision_zero.traffic._model import TrafficSettings
from vision_zero.traffic.periods import Period
from vision_zero.traffic.trip_distribution import (
    TripDistribution,
    mean_trip_length_km,
    trip_distribution,
    trip_end_weights,
)

__all__ = [
    "PEAK_PERIOD",
    "TRIP_COLUMNS",
    "commute_share_of_day",
    "congested_link_costs_s",
    "congestion_index",
    "default_daily_trips",
    "default_periods",
    "elastic_trips",
    "free_flow_link_cost_s",
    "generate_trips",
    "od_travel_time_s",
    "trip_times_s",
    "trips_from_od",
]

TRIP_COLUMNS: tuple[str, ...] = ("trip", "period", "origin", "destination", "depart_s")
#: Road classes of Almaty's streets "of city and district significance" (the denominator of the loading per km).
_MAIN = frozenset(
    {"motorway", "motorway_link", "trunk", "trunk_link"}
    | {"primary", "primary_link", "secondary", "secondary_link"}
    | {"tertiary", "tertiary_link"}
)
_HOURS_PER_DAY = 24.0
_COMMUTE_PERIODS = ("am_peak", "pm_peak")
#: The period whose congestion the targets describe (``demand.congestion_index.*``: AM peak / free flow).
PEAK_PERIOD = "am_peak"
FloatArray = npt.NDArray[np.float64]


def default_periods(params: ParameterSet | None = None) -> tuple[Period, ...]:
    """AM peak hour, inter-peak hour, PM peak hour and night hour, with shares and annual hours.

    Each period is one simulated hour. ``demand_share`` is the share of the day's trips in that hour: the peak
    hours carry ``demand.share_per_hour.peak`` (8-10%, SCIENCE.md §10), night hours ``...night``, and the
    inter-peak hour the rest spread over the remaining hours of the day, so the day sums to 100%.
    ``annual_hours`` = hours of the day the period stands for x weekday-equivalents per year (340).
    """
    p = parameters_or_default(params)
    peak = p.value("demand.share_per_hour.peak")
    night = p.value("demand.share_per_hour.night")
    peak_h = p.value("demand.hours_per_day.peak")
    night_h = p.value("demand.hours_per_day.night")
    days = p.value("demand.weekday_equivalents_per_year")
    inter_h = _HOURS_PER_DAY - 2 * peak_h - night_h
    inter = (1.0 - 2 * peak * peak_h - night * night_h) / inter_h
    hour = S_PER_HOUR
    return (
        Period("am_peak", 8.0, hour, peak, peak_h * days),
        Period("inter_peak", 12.0, hour, inter, inter_h * days),
        Period("pm_peak", 18.0, hour, peak, peak_h * days),
        Period("night", 23.0, hour, night, night_h * days),
    )


def commute_share_of_day(periods: tuple[Period, ...], params: ParameterSet | None = None) -> float:
    """Share of a day's trips that are commutes: the peak hours' shares x ``demand.commute_share.peak``."""
    p = parameters_or_default(params)
    total = sum(per.demand_share * _hours_of(per, p) for per in periods)
    peak = sum(per.demand_share * _hours_of(per, p) for per in periods if per.name in _COMMUTE_PERIODS)
    return p.value("demand.commute_share.peak") * peak / total if total > 0 else 0.0


def _hours_of(per: Period, p: ParameterSet) -> float:
    days = p.value("demand.weekday_equivalents_per_year")
    return per.annual_hours / days


def default_daily_trips(
    network: RoadNetwork, params: ParameterSet | None = None, *, distribution: TripDistribution | None = None
) -> float:
    """Default daily vehicle trips of ``network`` (module docstring, "Default daily total").

    Daily vehicle-km (on the full schematic city Almaty's, x its area share above 1; elsewhere, including the
    schematic city's sub-networks, which are cut from it with boundary nodes, Almaty's loading per km of main
    street x this network's main-street length) divided by the mean routed length inside the network of the
    trips ``distribution`` (default :func:`trip_distribution`) draws on it. Deterministic for a network: the
    trip-length sample uses its own fixed seed, not the caller's stream.
    """
    p = parameters_or_default(params)
    centre_km = centreline_m(network) / M_PER_KM
    main = np.isin(network.links["highway"].astype(str).to_numpy(), list(_MAIN))
    share = network.area_share
    if share is not None and share >= 1.0:  # the whole schematic city (a sub-network is cut from it: below)
        days = p.value("demand.weekday_equivalents_per_year")
        daily_vkm = p.value("demand.almaty.vehicle_km_per_year") / days * share
    elif main.any():
        daily_vkm = p.value("demand.vehicle_km_per_main_road_km_day") * float(centre_km[main].sum())
    else:
        daily_vkm = p.value("demand.vehicle_km_per_road_km_day") * float(centre_km.sum())
    home, job = trip_end_weights(network, p)
    if len(home) < 2 or (home + job).sum() <= 0:
        return 0.0
    dist = trip_distribution(network, p) if distribution is None else distribution
    mean_km, _ = mean_trip_length_km(network, dist, commute_share=commute_share_of_day(default_periods(p), p))
    return daily_vkm / mean_km if mean_km > 0 else 0.0


def generate_trips(
    network: RoadNetwork,
    *,
    rng: np.random.Generator,
    periods: tuple[Period, ...] | None = None,
    daily_trips: float | None = None,
    params: ParameterSet | None = None,
    max_trip_end_nodes: int | None = 2000,
    distribution: TripDistribution | None = None,
) -> pd.DataFrame:
    """Car trips for each period from the gravity model over land-use trip ends, with seeded departures.

    Parameters
    ----------
    network
        The road network.
    rng
        Source of all randomness (trip ends, departure times).
    periods
        Periods to generate (default :func:`default_periods`). A period named ``am_peak`` gets home -> work
        commutes, ``pm_peak`` work -> home, any other only activity trips.
    daily_trips
        Vehicle trips per day (default :func:`default_daily_trips`). A period gets
        ``round(daily_trips * demand_share)`` trips, departing uniformly at random within it (a Poisson process
        conditioned on its count).
    params
        Parameters (default: the shipped files).
    max_trip_end_nodes
        On a network with more nodes than this, trip ends are gathered into zones (:func:`zone_weights`) so that
        routing grows one shortest-path tree per zone rather than per node; None keeps every node. Ignored
        when ``distribution`` is given.
    distribution
        Zones and deterrence (default :func:`trip_distribution` of ``network``). Pass the un-intervened
        network's so that a baseline and its variants draw the same trips.
    """
    p = parameters_or_default(params)
    periods = default_periods(p) if periods is None else periods
    dist = (
        trip_distribution(network, p, max_zones=max_trip_end_nodes) if distribution is None else distribution
    )
    daily = default_daily_trips(network, p, distribution=dist) if daily_trips is None else float(daily_trips)
    commute = p.value("demand.commute_share.peak")
    frames = []
    for per in periods:
        n = round(daily * per.demand_share)
        if n <= 0:
            continue
        n_c = round(n * commute) if per.name in _COMMUTE_PERIODS else 0
        if per.name == "pm_peak":  # work -> home: the AM commute reversed, so its ends swap roles
            back = replace(dist, origin_ok=dist.destination_ok, destination_ok=dist.origin_ok)
            d1, o1 = back.draw(rng, n_c, "commute")
        else:
            o1, d1 = dist.draw(rng, n_c, "commute")
        o2, d2 = dist.draw(rng, n - n_c, "activity")
        depart = rng.uniform(0.0, per.duration_s, size=n)
        frames.append(
            pd.DataFrame(
                {
                    "period": per.name,
                    "origin": np.concatenate([o1, o2]),
                    "destination": np.concatenate([d1, d2]),
                    "depart_s": depart,
                }
            )
        )
    return _finish_trips(frames, periods)


def od_travel_time_s(
    network: RoadNetwork,
    origins: npt.NDArray[np.int64],
    destinations: npt.NDArray[np.int64],
    cost_s: FloatArray,
) -> FloatArray:
    """Time [s] of each trip's fastest route under link costs ``cost_s`` (NaN where there is no route).

    Each distinct (origin, destination) pair is routed once.
    """
    from vision_zero.traffic.routing import route_trips

    n = len(network.nodes)
    key = origins.astype(np.int64) * n + destinations.astype(np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    routes = route_trips(network, uniq // n, uniq % n, cost_s)
    out = np.full(len(uniq), np.nan)
    ok = routes.n_links > 0
    if ok.any():
        out[ok] = np.add.reduceat(cost_s[routes.links], routes.ptr[:-1][ok])
    return out[inverse]


def congested_link_costs_s(
    network: RoadNetwork,
    link_stats: pd.DataFrame,
    free_flow_cost_s: FloatArray,
    periods: tuple[Period, ...],
) -> dict[str, FloatArray]:
    """Per period, the mean simulated time on each link [s] (running, signal and queueing), from a traffic record.

    ``link_stats``: :attr:`vision_zero.traffic.simulation.TrafficRecord.link_stats` (``link``, ``period``,
    ``veh_km``, ``veh_h``) of a replication of this network; a link's time is ``veh_h / veh_km x length``, the mean
    over the vehicles that left it. Where no vehicle left a link in a period, ``free_flow_cost_s`` (e.g.
    :func:`vision_zero.traffic.simulation.expected_link_cost_s`).
    """
    length_km = network.links["length_m"].to_numpy(dtype=np.float64) / M_PER_KM
    link = link_stats["link"].to_numpy(dtype=np.int64)
    period = link_stats["period"].astype(str).to_numpy()
    veh_km = link_stats["veh_km"].to_numpy(dtype=np.float64)
    veh_h = link_stats["veh_h"].to_numpy(dtype=np.float64)
    out: dict[str, FloatArray] = {}
    for per in periods:
        t = np.asarray(free_flow_cost_s, dtype=np.float64).copy()
        m = (period == per.name) & (veh_km > 0) & np.isfinite(veh_h)
        t[link[m]] = veh_h[m] / veh_km[m] * length_km[link[m]] * S_PER_HOUR
        out[per.name] = t
    return out


def trip_times_s(
    trips: pd.DataFrame, network: RoadNetwork, cost_s: FloatArray | Mapping[str, FloatArray]
) -> FloatArray:
    """Time [s] of each trip's fastest route (:func:`od_travel_time_s`; NaN where there is none).

    ``cost_s``: one cost per link for all periods, or a mapping from period name to costs (each trip under its
    period's). Only the trips' ``origin``, ``destination`` and ``period`` and the network's topology (links'
    ``u``, ``v``, ``highway``, nodes' ``x_m``, ``y_m``: the route search's turn graph and tie-breaks) are read.
    """
    o = trips["origin"].to_numpy(dtype=np.int64)
    d = trips["destination"].to_numpy(dtype=np.int64)
    if not isinstance(cost_s, Mapping):
        return od_travel_time_s(network, o, d, cost_s)
    out = np.full(len(trips), np.nan)
    period = trips["period"].astype(str).to_numpy()
    for name in np.unique(period).tolist():
        m = period == name
        out[m] = od_travel_time_s(network, o[m], d[m], cost_s[name])
    return out


def elastic_trips(
    trips: pd.DataFrame,
    network: RoadNetwork,
    reference_cost_s: FloatArray | Mapping[str, FloatArray],
    cost_s: FloatArray | Mapping[str, FloatArray],
    *,
    elasticity: float,
    periods: tuple[Period, ...],
    rng: np.random.Generator,
    reference_time_s: FloatArray | None = None,
) -> tuple[pd.DataFrame, int, int]:
    """Car trips after a change in their travel time, with a constant elasticity (traffic evaporation).

    Each trip's expected number becomes ``(t_1 / t_0) ** elasticity``, where ``t_0`` and ``t_1`` are the times
    of its fastest route under ``reference_cost_s`` (its baseline's link costs) and ``cost_s`` (this scenario's),
    on ``network`` (same links; interventions change costs, not topology); each may be one cost per link for all
    periods or a mapping from period name to costs (congested times differ by period:
    :func:`congested_link_costs_s`). A trip whose time grew is kept with
    that probability (the rest "evaporate": Cairns, Hass-Klau & Goodwin 1998; Cairns et al. 2002); where it fell,
    a copy is added with probability ``ratio - 1`` (at most one), departing at a fresh uniform time in its period.
    Trips without a route are kept as they are.

    Common random numbers: the result carries a ``draw`` column, each trip's driver draw id
    (:func:`vision_zero.traffic.simulation.driver_draws`): a kept trip keeps its baseline row number, an added
    copy gets an id after all of them, so removing or adding trips does not change any other trip's driver.

    Parameters
    ----------
    trips
        The baseline replication's trips (:data:`TRIP_COLUMNS`).
    network
        The scenario's network.
    reference_cost_s, cost_s
        Link costs [s] of the baseline and of this scenario (:func:`vision_zero.traffic.simulation.expected_link_cost_s`,
        or per period: :func:`congested_link_costs_s`).
    elasticity
        Elasticity of car trips with respect to travel time (``demand.elasticity.travel_time``; negative).
    periods
        The simulated periods (for the new trips' departure windows and the trips table's order).
    rng
        Two uniform draws per trip, in trip order (so equal trips keep equal draws across scenarios).
    reference_time_s
        Each trip's time under ``reference_cost_s`` (:func:`trip_times_s`) if already known: the baseline's times
        are the same for every variant paired with the same baseline replication (same trips, same topology,
        same costs), so they need computing once. None: computed here.

    Returns
    -------
    (trips, evaporated, added)
        The new trips table (renumbered), the number of trips removed and the number added.
    """
    n = len(trips)
    u = rng.random(n)
    v = rng.random(n)
    if n == 0 or elasticity == 0:
        return trips, 0, 0
    t0 = trip_times_s(trips, network, reference_cost_s) if reference_time_s is None else reference_time_s
    if len(t0) != n:
        raise ValueError(f"elastic_trips: expected {n} reference times, one per trip (got {len(t0)})")
    t1 = trip_times_s(trips, network, cost_s)
    ok = np.isfinite(t0) & np.isfinite(t1) & (t0 > 0)
    ratio = np.ones(n)
    ratio[ok] = (t1[ok] / t0[ok]) ** elasticity
    drop = u >= ratio  # only where ratio < 1
    add = u < ratio - 1.0  # only where ratio > 1
    if not drop.any() and not add.any():
        return trips, 0, 0  # unchanged (and equal to the baseline's table: its traffic may be re-used)
    duration = trips["period"].map({p.name: p.duration_s for p in periods}).to_numpy(dtype=np.float64)
    draw = trips["draw"].to_numpy(dtype=np.int64) if "draw" in trips.columns else np.arange(n, dtype=np.int64)
    new_draw = int(draw.max()) + 1 + np.arange(int(add.sum()), dtype=np.int64)  # after every baseline driver
    extra = trips.loc[add, ["period", "origin", "destination"]].assign(
        depart_s=v[add] * duration[add], draw=new_draw
    )
    kept = trips.loc[~drop, ["period", "origin", "destination", "depart_s"]].assign(draw=draw[~drop])
    out = _finish_trips([kept, extra], periods)
    return out, int(drop.sum()), int(add.sum())


def free_flow_link_cost_s(network: RoadNetwork, settings: TrafficSettings | None = None) -> FloatArray:
    """Each link's time [s] for a driver alone on the network: the reference of :func:`congestion_index`.

    Drivers' expected uncongested link times (:func:`vision_zero.traffic.simulation.expected_link_cost_s`: mean
    desired-speed running time, Webster's uniform signal delay) with the give-way delay only where the simulation
    holds vehicles for it (``traffic.route_choice.give_way_in_simulation``); otherwise that delay is a term of
    route choice's cost that no simulated trip spends, and counting it in the reference would put the index of
    an empty network below 1.
    """
    from vision_zero.traffic.simulation import expected_link_cost_s

    st = TrafficSettings.from_parameters() if settings is None else settings
    if not st.give_way_in_simulation:
        st = replace(st, give_way_delay_s=0.0)
    return expected_link_cost_s(network, st)


def congestion_index(
    network: RoadNetwork,
    trips: pd.DataFrame,
    settings: TrafficSettings | None = None,
    *,
    period: str | None = PEAK_PERIOD,
) -> float:
    """Peak travel time / free-flow travel time of the trips that arrived (TomTom's congestion level + 1).

    Simulated ``travel_time_s`` of the completed trips (a :class:`~vision_zero.traffic.TrafficRecord`'s
    ``trips``) over the time of their fastest routes at free flow (:func:`free_flow_link_cost_s` under
    ``settings``, default the central parameters: a replication passes its own draw). Only the trips of
    ``period`` count (default the AM peak, the period that ``[demand] congestion_index_target`` and the
    ``demand.congestion_index.*`` targets describe) when the table has a ``period`` column and trips of that
    period; otherwise, or with ``period=None``, all trips. NaN if no trip arrived.
    """
    if period is not None and "period" in trips.columns:
        own = (trips["period"] == period).to_numpy(dtype=bool)
        if own.any():
            trips = trips[own]
    done = trips["completed"].to_numpy(dtype=bool)
    if not done.any():
        return float("nan")
    free = od_travel_time_s(
        network,
        trips["origin"].to_numpy(dtype=np.int64)[done],
        trips["destination"].to_numpy(dtype=np.int64)[done],
        free_flow_link_cost_s(network, settings),
    )
    ok = np.isfinite(free)
    sim = trips["travel_time_s"].to_numpy(dtype=np.float64)[done]
    return float(sim[ok].sum() / free[ok].sum()) if free[ok].sum() > 0 else float("nan")


def _finish_trips(frames: list[pd.DataFrame], periods: tuple[Period, ...]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(
            {
                "trip": pd.Series(dtype=np.int64),
                "period": pd.Series(dtype=str),
                "origin": pd.Series(dtype=np.int64),
                "destination": pd.Series(dtype=np.int64),
                "depart_s": pd.Series(dtype=np.float64),
            }
        )
    trips = pd.concat(frames, ignore_index=True)
    rank = {per.name: i for i, per in enumerate(periods)}
    trips["_rank"] = trips["period"].map(rank)
    trips = (
        trips.sort_values(["_rank", "depart_s"], kind="stable").drop(columns="_rank").reset_index(drop=True)
    )
    trips.insert(0, "trip", np.arange(len(trips), dtype=np.int64))
    return trips


def trips_from_od(
    od: pd.DataFrame, *, rng: np.random.Generator, periods: tuple[Period, ...], source: str = "OD table"
) -> pd.DataFrame:
    """Expand an OD table (as from :func:`read_od_csv`) into trips with seeded departures.

    A fractional number of trips is rounded at random (2.3 gives 2 or 3, mean 2.3); departures are uniform
    within the period. Rows whose period is not simulated raise :class:`~vision_zero.core.errors.DataError`.
    """
    names = {per.name: per for per in periods}
    unknown = sorted(set(od["period"]) - set(names))
    if unknown:
        raise DataError(f"{source}: column 'period': expected one of {sorted(names)} (got {unknown[0]!r})")
    frames = []
    for per in periods:
        rows = od[od["period"] == per.name]
        if rows.empty:
            continue
        x = rows["trips"].to_numpy(dtype=np.float64)
        count = np.floor(x).astype(np.int64) + (rng.random(len(x)) < x - np.floor(x))
        o = np.repeat(rows["origin"].to_numpy(dtype=np.int64), count)
        d = np.repeat(rows["destination"].to_numpy(dtype=np.int64), count)
        frames.append(
            pd.DataFrame(
                {
                    "period": per.name,
                    "origin": o,
                    "destination": d,
                    "depart_s": rng.uniform(0.0, per.duration_s, size=len(o)),
                }
            )
        )
    return _finish_trips(frames, periods)
