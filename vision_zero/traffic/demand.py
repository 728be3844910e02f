"""Travel demand: representative periods, car trips, OD files and pedestrians at crossings.

Every number comes from ``traffic.toml`` (``demand.*``) with its source; see SCIENCE.md §10.

Trips table (what :func:`generate_trips` and :func:`trips_from_od` return, what the simulation reads):
``trip`` int (0..n-1), ``period`` str, ``origin``/``destination`` int (node ids), ``depart_s`` float (seconds
from the period's start), sorted by period (in the order given) then departure.

Pedestrian demand table: ``crossing`` int, ``period`` str, ``peds_per_h`` float.

Land-use proxy for trip ends (no land-use data in OSM drive graphs): a node's *home* weight is the length of the
streets around it, residential streets counting fully and others at a lower weight; its *job* weight likewise
from arterial frontage (primary, secondary, tertiary). Peak-hour trips are partly commutes (AM home -> work,
PM work -> home), the rest and all off-peak trips run between "activity" ends (homes and jobs together).

Default daily total. On the schematic network (``schematic:almaty?scale=s``, where ``s`` is the share of the full
city's area) it is Almaty's daily vehicle-km (5,780 M veh-km/year over 340 weekday-equivalents) times ``s``. On any
other network: Almaty's vehicle-km per kilometre of main street per day (5,780 M veh-km/year over 340
weekday-equivalents, on 1,125 km of streets of city and district significance) times this network's main-street
length (OSM tertiary and above, centreline) gives the network's daily vehicle-km; divided by the mean routed length
of trips drawn from the same proxy (the same division turns the schematic's vehicle-km into trips), that is its
daily number of trips. Main streets, not all streets, set the scale because OSM maps local and yard streets far
more completely than the city's 3,097 km road register counts them (a network without main streets falls back to
Almaty's loading per km of any road). The schematic uses its area share instead because its generated street grid
is denser than Almaty's register (about 3.8 against 1.65 km of main street per km2), which at the per-km rule
would load it about twice as heavily as the city.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

from vision_zero.core.errors import DataError, InputFileNotFoundError, shorten
from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.core.units import M_PER_KM, S_PER_HOUR, kph_to_mps
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic.periods import Period

__all__ = [
    "PEDESTRIAN_COLUMNS",
    "TRIP_COLUMNS",
    "default_daily_trips",
    "default_periods",
    "generate_trips",
    "pedestrian_demand",
    "read_od_csv",
    "read_pedestrian_csv",
    "trip_end_weights",
    "trips_from_od",
    "zone_weights",
]

TRIP_COLUMNS: tuple[str, ...] = ("trip", "period", "origin", "destination", "depart_s")
PEDESTRIAN_COLUMNS: tuple[str, ...] = ("crossing", "period", "peds_per_h")

_RESIDENTIAL = frozenset({"residential", "living_street", "unclassified"})
_ARTERIAL = frozenset({"primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link"})
#: Road classes of Almaty's streets "of city and district significance" (the denominator of the loading per km).
_MAIN = frozenset(
    {"motorway", "motorway_link", "trunk", "trunk_link"}
    | {"primary", "primary_link", "secondary", "secondary_link"}
    | {"tertiary", "tertiary_link"}
)
_PED_CLASS = {
    "trunk": "arterial",
    "trunk_link": "arterial",
    "primary": "arterial",
    "primary_link": "arterial",
    "secondary": "arterial",
    "secondary_link": "arterial",
    "tertiary": "collector",
    "tertiary_link": "collector",
}
_PED_RANK = {"local": 0, "collector": 1, "arterial": 2}
#: Input bounds (not model values: a row above them is a typing error, and would exhaust memory). No OD pair
#: carries a million car trips in one simulated hour (a motorway lane carries about 2,000 vehicles per hour);
#: no crossing a hundred thousand pedestrians per hour (Shibuya, the busiest, about 3,000 per signal phase).
MAX_OD_TRIPS_PER_ROW = 1e6
MAX_PEDESTRIANS_PER_HOUR = 1e5
#: A sample this large estimates the mean trip length for the default daily total to about 2%.
_LENGTH_SAMPLE = 400
_HOURS_PER_DAY = 24.0


def _params(params: ParameterSet | None) -> ParameterSet:
    return load_parameters() if params is None else params


def default_periods(params: ParameterSet | None = None) -> tuple[Period, ...]:
    """AM peak hour, inter-peak hour, PM peak hour and night hour, with shares and annual hours.

    Each period is one simulated hour. ``demand_share`` is the share of the day's trips in that hour: the peak
    hours carry ``demand.share_per_hour.peak`` (8-10%, SCIENCE.md §10), night hours ``...night``, and the
    inter-peak hour the rest spread over the remaining hours of the day, so the day sums to 100%.
    ``annual_hours`` = hours of the day the period stands for x weekday-equivalents per year (340).
    """
    p = _params(params)
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


def _centreline(network: RoadNetwork) -> npt.NDArray[np.float64]:
    """Per link, its share of the street's centreline length [m]: two-way streets split over both links."""
    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    rev = links["reverse"].to_numpy(dtype=np.int64)
    return np.where(rev >= 0, 0.5 * length, length)


def trip_end_weights(
    network: RoadNetwork, params: ParameterSet | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Home and job weights of every node [m of weighted frontage] from the land-use proxy (module docstring)."""
    p = _params(params)
    links = network.links
    hw = links["highway"].astype(str).to_numpy()
    cl = _centreline(network)
    is_res = np.isin(hw, list(_RESIDENTIAL))
    is_art = np.isin(hw, list(_ARTERIAL))
    home_l = cl * np.where(
        is_res, p.value("demand.home_weight.residential"), p.value("demand.home_weight.other")
    )
    job_l = cl * np.where(is_art, p.value("demand.job_weight.arterial"), p.value("demand.job_weight.other"))
    n = len(network.nodes)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    home = np.bincount(u, 0.5 * home_l, n) + np.bincount(v, 0.5 * home_l, n)
    job = np.bincount(u, 0.5 * job_l, n) + np.bincount(v, 0.5 * job_l, n)
    return home.astype(np.float64), job.astype(np.float64)


def zone_weights(
    network: RoadNetwork,
    home: npt.NDArray[np.float64],
    job: npt.NDArray[np.float64],
    *,
    max_zones: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Gather node weights into at most ``max_zones`` zone nodes (a traffic-zone system with centroid nodes).

    The network's bounding box is cut into at most ``max_zones`` near-square cells; each cell's home and job weights move to
    its node with the highest activity weight (its "centroid"). Trips then start and end at those nodes only,
    which bounds the number of shortest-path trees to grow (one per origin zone) on a city-size network.
    """
    x = network.nodes["x_m"].to_numpy(dtype=np.float64)
    y = network.nodes["y_m"].to_numpy(dtype=np.float64)
    w, h = max(float(np.ptp(x)), 1.0), max(float(np.ptp(y)), 1.0)
    size = float(np.sqrt(w * h / max_zones))
    nx_cells, ny_cells = max(1, int(w // size)), max(1, int(h // size))  # nx x ny <= max_zones
    ix = np.minimum(((x - x.min()) / w * nx_cells).astype(np.int64), nx_cells - 1)
    iy = np.minimum(((y - y.min()) / h * ny_cells).astype(np.int64), ny_cells - 1)
    cell = ix + nx_cells * iy
    act = home + job
    order = np.lexsort((-act, cell))  # per cell, the heaviest node first
    first = np.r_[True, cell[order][1:] != cell[order][:-1]]
    rep_of_cell = dict(zip(cell[order][first].tolist(), order[first].tolist(), strict=True))
    rep = np.array([rep_of_cell[c] for c in cell.tolist()], dtype=np.int64)
    n = len(x)
    return np.bincount(rep, home, n).astype(np.float64), np.bincount(rep, job, n).astype(np.float64)


def _draw_pairs(
    rng: np.random.Generator,
    n: int,
    w_from: npt.NDArray[np.float64],
    w_to: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Draw ``n`` (origin, destination) node pairs with origin != destination."""
    nodes = len(w_from)
    o = rng.choice(nodes, size=n, p=w_from / w_from.sum()).astype(np.int64)
    d = rng.choice(nodes, size=n, p=w_to / w_to.sum()).astype(np.int64)
    for _ in range(20):
        same = np.flatnonzero(o == d)
        if same.size == 0:
            break
        d[same] = rng.choice(nodes, size=same.size, p=w_to / w_to.sum())
    return o, d


def _schematic_area_share(network: RoadNetwork) -> float | None:
    """For ``schematic:almaty?scale=...``, the scale (share of the full city's area); else None."""
    if not network.schematic or not network.source.startswith("schematic:"):
        return None
    from urllib.parse import parse_qs, urlsplit

    from vision_zero.network.schematic import parse_scale

    query = parse_qs(urlsplit(network.source).query)
    return parse_scale(query.get("scale", ["1.0"])[0])[0]


def default_daily_trips(network: RoadNetwork, params: ParameterSet | None = None) -> float:
    """Default daily vehicle trips of ``network`` from Almaty's loading per road-km (module docstring).

    Deterministic for a network: the trip-length sample uses its own fixed seed, not the caller's stream.
    """
    from vision_zero.traffic.routing import route_trips

    p = _params(params)
    centre_km = _centreline(network) / M_PER_KM
    main = np.isin(network.links["highway"].astype(str).to_numpy(), list(_MAIN))
    share = _schematic_area_share(network)
    if share is not None:
        days = p.value("demand.weekday_equivalents_per_year")
        daily_vkm = p.value("demand.almaty.vehicle_km_per_year") / days * share
    elif main.any():
        daily_vkm = p.value("demand.vehicle_km_per_main_road_km_day") * float(centre_km[main].sum())
    else:
        daily_vkm = p.value("demand.vehicle_km_per_road_km_day") * float(centre_km.sum())
    home, job = trip_end_weights(network, p)
    act = home + job
    if len(act) < 2 or act.sum() <= 0:
        return 0.0
    o, d = _draw_pairs(np.random.default_rng(0), _LENGTH_SAMPLE, act, act)
    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    cost = length / kph_to_mps(links["speed_limit_kph"].to_numpy(dtype=np.float64))
    routes = route_trips(network, o, d, cost)
    lens = np.add.reduceat(length[routes.links], routes.ptr[:-1]) if len(routes.links) else np.zeros(0)
    ok = routes.n_links > 0
    if not ok.any():
        return 0.0
    mean_km = float(np.mean(lens[ok])) / M_PER_KM
    return daily_vkm / mean_km


def generate_trips(
    network: RoadNetwork,
    *,
    rng: np.random.Generator,
    periods: tuple[Period, ...] | None = None,
    daily_trips: float | None = None,
    params: ParameterSet | None = None,
    max_trip_end_nodes: int | None = 2000,
) -> pd.DataFrame:
    """Car trips for each period from the land-use proxy, with seeded departures.

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
        routing grows one shortest-path tree per zone rather than per node; None keeps every node.
    """
    p = _params(params)
    periods = default_periods(p) if periods is None else periods
    daily = default_daily_trips(network, p) if daily_trips is None else float(daily_trips)
    home, job = trip_end_weights(network, p)
    if max_trip_end_nodes is not None and len(home) > max_trip_end_nodes:
        home, job = zone_weights(network, home, job, max_zones=max_trip_end_nodes)
    act = home + job
    commute = p.value("demand.commute_share.peak")
    frames = []
    for per in periods:
        n = round(daily * per.demand_share)
        if n <= 0:
            continue
        n_c = round(n * commute) if per.name in ("am_peak", "pm_peak") else 0
        o1, d1 = _draw_pairs(rng, n_c, home, job) if n_c else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        if per.name == "pm_peak":
            o1, d1 = d1, o1
        o2, d2 = _draw_pairs(rng, n - n_c, act, act)
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


def _read_csv(path: Path | str) -> tuple[Path, pd.DataFrame]:
    """A CSV file as a table of at least one row (a UTF-8 byte-order mark is accepted), or a DataError."""
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    if frame.empty:
        raise DataError(
            f"{path}: expected at least one row of data (got a header only: {list(frame.columns)})"
        )
    return path, frame


def _numeric(path: Path, frame: pd.DataFrame, col: str) -> npt.NDArray[np.float64]:
    """Column ``col`` as finite numbers, or a DataError naming the file, row and column."""
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        given = shorten(repr(frame[col].to_list()[row]))
        raise DataError(f"{path}: row {row + 2}, column {col!r}: expected a finite number (got {given})")
    return values


def _non_negative(
    path: Path, frame: pd.DataFrame, col: str, *, maximum: float, unit: str
) -> npt.NDArray[np.float64]:
    """Column ``col`` as numbers in ``0..maximum``, or a DataError naming the file, row and column."""
    values = _numeric(path, frame, col)
    out = np.flatnonzero((values < 0) | (values > maximum))
    if out.size:
        raise DataError(
            f"{path}: row {out[0] + 2}, column {col!r}: expected {unit} from 0 to {maximum:,.0f} "
            f"(got {float(values[out[0]])})"
        )
    return values


def _no_duplicates(path: Path, frame: pd.DataFrame, cols: list[str]) -> None:
    """Refuse a second row for the same key (which of two counts is meant cannot be told)."""
    dup = np.flatnonzero(frame.duplicated(subset=cols, keep=False).to_numpy())
    if dup.size:
        first, second = int(dup[0]), int(dup[1])
        key = ", ".join(f"{c}={frame[c].iloc[first]!r}" for c in cols)
        raise DataError(
            f"{path}: rows {first + 2} and {second + 2}: expected one row per {'/'.join(cols)} "
            f"(got two for {shorten(key)})"
        )


def _ids(path: Path, frame: pd.DataFrame, col: str, n: int, what: str) -> npt.NDArray[np.int64]:
    """Column ``col`` as ids ``0..n-1`` of ``what`` (e.g. "node"), or a DataError naming the file, row and column."""
    values = _numeric(path, frame, col)
    bad = np.flatnonzero((values != np.round(values)) | (values < 0) | (values >= n))
    if bad.size:
        raise DataError(
            f"{path}: row {bad[0] + 2}, column {col!r}: expected a {what} id 0..{n - 1} "
            f"(got {frame[col].to_list()[bad[0]]!r})"
        )
    return values.astype(np.int64)


def _snap(
    path: Path,
    network: RoadNetwork,
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    what: str,
    max_snap_m: float,
) -> npt.NDArray[np.int64]:
    nodes = network.nodes
    lat0 = float(nodes["lat"].mean())
    kx = 111_320.0 * np.cos(np.radians(lat0))  # metres per degree of longitude at the network's latitude
    ky = 110_540.0  # metres per degree of latitude
    tree = cKDTree(np.column_stack([nodes["lon"].to_numpy() * kx, nodes["lat"].to_numpy() * ky]))
    dist, idx = tree.query(np.column_stack([lon * kx, lat * ky]))
    far = np.flatnonzero(dist > max_snap_m)
    if far.size:
        r = int(far[0])
        raise DataError(
            f"{path}: row {r + 2}: {what} ({lat[r]}, {lon[r]}) is {dist[r]:.0f} m from the nearest network node; "
            f"expected within {max_snap_m:.0f} m (is the file for this network: {network.label}?)"
        )
    return np.asarray(idx, dtype=np.int64)


def read_od_csv(path: Path | str, network: RoadNetwork, *, max_snap_m: float = 500.0) -> pd.DataFrame:
    """Read an origin-destination file: one row per (origin, destination, period) with a number of trips.

    Columns: ``period``, ``trips`` and either ``origin``/``destination`` (node ids, rows of the node table) or
    ``origin_lat``/``origin_lon``/``destination_lat``/``destination_lon`` (degrees; snapped to the nearest node
    within ``max_snap_m``).

    Returns
    -------
    pandas.DataFrame
        ``origin``, ``destination`` (node ids), ``period`` str, ``trips`` float.
    """
    path, frame = _read_csv(path)
    cols = set(frame.columns)
    for col in ("period", "trips"):
        if col not in cols:
            raise DataError(
                f"{path}: missing column {col!r}; expected columns period, trips and origin/destination "
                f"(node ids) or origin_lat/origin_lon/destination_lat/destination_lon (got {sorted(cols)})"
            )
    trips = _non_negative(path, frame, "trips", maximum=MAX_OD_TRIPS_PER_ROW, unit="a number of trips")
    n_nodes = len(network.nodes)
    if {"origin", "destination"} <= cols:
        ends = []
        for col in ("origin", "destination"):
            ends.append(_ids(path, frame, col, n_nodes, "node"))
        origin, destination = ends
    elif {"origin_lat", "origin_lon", "destination_lat", "destination_lon"} <= cols:
        origin = _snap(
            path,
            network,
            _numeric(path, frame, "origin_lat"),
            _numeric(path, frame, "origin_lon"),
            "origin",
            max_snap_m,
        )
        destination = _snap(
            path,
            network,
            _numeric(path, frame, "destination_lat"),
            _numeric(path, frame, "destination_lon"),
            "destination",
            max_snap_m,
        )
    else:
        raise DataError(
            f"{path}: expected columns origin/destination (node ids) or origin_lat/origin_lon/"
            f"destination_lat/destination_lon (got {sorted(cols)})"
        )
    od = pd.DataFrame(
        {
            "origin": origin,
            "destination": destination,
            "period": frame["period"].astype(str).to_numpy(),
            "trips": trips,
        }
    )
    _no_duplicates(path, od, ["origin", "destination", "period"])
    return od


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


def pedestrian_demand(
    network: RoadNetwork, *, periods: tuple[Period, ...] | None = None, params: ParameterSet | None = None
) -> pd.DataFrame:
    """Pedestrians per hour wanting to cross at each crossing, per period (a documented proxy).

    ``peds_per_h = base(road class) x land use x time of day``: the base is the peak-hour volume for the
    highest road class the crossing crosses (``demand.pedestrians_per_hour.*``); land use is the activity weight
    (homes + jobs, :func:`trip_end_weights`) at the crossing's node relative to the network's mean, clipped to
    0.25-4; time of day scales with the period's share of car trips relative to the peak hour (an assumption:
    no Almaty pedestrian profile was found). Replace with counts via :func:`read_pedestrian_csv`.
    """
    p = _params(params)
    periods = default_periods(p) if periods is None else periods
    cr = network.crossings
    if len(cr) == 0:
        return pd.DataFrame(
            {
                "crossing": pd.Series(dtype=np.int64),
                "period": pd.Series(dtype=str),
                "peds_per_h": pd.Series(dtype=np.float64),
            }
        )
    links = network.links
    cl = network.crossing_links
    cls = links["highway"].astype(str).map(lambda h: _PED_CLASS.get(h, "local")).map(_PED_RANK)
    rank = cl.assign(r=cls.to_numpy()[cl["link"].to_numpy(dtype=np.int64)]).groupby("crossing")["r"].max()
    rank_c = rank.reindex(np.arange(len(cr)), fill_value=0).to_numpy()
    by_rank = {r: p.value(f"demand.pedestrians_per_hour.{name}") for name, r in _PED_RANK.items()}
    base = np.vectorize(by_rank.get, otypes=[np.float64])(rank_c)
    home, job = trip_end_weights(network, p)
    act = home + job
    node = cr["node"].to_numpy(dtype=np.int64)
    link = cr["link"].to_numpy(dtype=np.int64)
    at = np.where(node >= 0, node, links["u"].to_numpy(dtype=np.int64)[np.maximum(link, 0)])
    mean_act = float(act.mean()) if act.mean() > 0 else 1.0
    land = np.clip(act[at] / mean_act, 0.25, 4.0)
    peak = p.value("demand.share_per_hour.peak")
    rows = []
    for per in periods:
        tod = per.demand_share / peak
        rows.append(
            pd.DataFrame(
                {
                    "crossing": np.arange(len(cr), dtype=np.int64),
                    "period": per.name,
                    "peds_per_h": base * land * tod,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def read_pedestrian_csv(path: Path | str, demand: pd.DataFrame, *, n_crossings: int) -> pd.DataFrame:
    """Override pedestrian demand with counts from a CSV (``crossing``, ``period``, ``peds_per_h``).

    Rows of the file replace the matching (crossing, period) rows of ``demand``; others are kept.
    """
    path, frame = _read_csv(path)
    for col in PEDESTRIAN_COLUMNS:
        if col not in frame.columns:
            raise DataError(
                f"{path}: missing column {col!r}; expected columns {list(PEDESTRIAN_COLUMNS)} "
                f"(got {list(frame.columns)})"
            )
    cid = _ids(path, frame, "crossing", n_crossings, "crossing")
    peds = _non_negative(
        path, frame, "peds_per_h", maximum=MAX_PEDESTRIANS_PER_HOUR, unit="pedestrians per hour"
    )
    known = set(demand["period"])
    per = frame["period"].astype(str)
    unknown = sorted(set(per) - known)
    if unknown:
        raise DataError(f"{path}: column 'period': expected one of {sorted(known)} (got {unknown[0]!r})")
    new = pd.DataFrame({"crossing": cid.astype(np.int64), "period": per.to_numpy(), "peds_per_h": peds})
    _no_duplicates(path, new, ["crossing", "period"])
    keep = demand.merge(new[["crossing", "period"]], how="left", indicator=True)
    kept = demand[(keep["_merge"] == "left_only").to_numpy()]
    return (
        pd.concat([kept, new], ignore_index=True).sort_values(["period", "crossing"]).reset_index(drop=True)
    )
