"""Travel demand: representative periods, car trips, OD files and pedestrians at crossings.

Every number comes from ``traffic.toml`` (``demand.*``) with its source; see SCIENCE.md §10.

Trips table (what :func:`generate_trips` and :func:`trips_from_od` return, what the simulation reads):
``trip`` int (0..n-1), ``period`` str, ``origin``/``destination`` int (node ids), ``depart_s`` float (seconds
from the period's start), sorted by period (in the order given) then departure.

Pedestrian demand table: ``crossing`` int, ``period`` str, ``peds_per_h`` float.

Trip ends: where the network was read from an OSM file with buildings or landuse areas, a node's *home* and *job*
weights follow the floor area of homes and of workplaces nearest to it (node columns ``home_m2``, ``job_m2``;
:mod:`vision_zero.network._extract`). Otherwise (downloads, the schematic city, files without land use) a proxy:
a node's *home* weight is the length of the streets around it, residential streets counting fully and others at
a lower weight; its *job* weight likewise from arterial frontage (primary, secondary, tertiary). Peak-hour trips are partly commutes (AM home -> work,
PM work -> home), the rest and all off-peak trips run between "activity" ends (homes and jobs together).

Trip distribution (:class:`TripDistribution`): a production-constrained gravity model with exponential
deterrence ``exp(-beta d)`` over the straight-line distance ``d`` between zones (Wilson 1970; Ortuzar & Willumsen
2011, ch. 5). ``beta`` (``demand.distance_decay_per_km``) was calibrated by bisection (Hyman 1969) so that the mean
routed trip on the full schematic city is Almaty's 10.5 km (5,780 M veh-km a year over 340 weekday-equivalents and
1.62 M trips a day, SCIENCE.md §10). Rule for other networks: the same ``beta`` everywhere. Deterrence describes
how drivers trade distance for opportunities, not the map; a district or a town cannot hold 10.5 km trips, so
its trips come out shorter on their own (the map holds only the shorter part of the distribution), and on a
clipped extract the longer part leaves through external zones. ``[demand] mean_trip_length_km`` re-calibrates
``beta`` to a scenario's own figure (:func:`calibrate_to_trip_length`).

External zones: the nodes of a clipped extract at its cut edges (node column ``boundary``) stand for the land
beyond. Their weight (:func:`external_zone_weights`) is what the deterrence offers beyond the cut if the land
continues at the mean density inside, shared by link capacity; trips between the extract and the land beyond
then follow from the same gravity model. Through traffic (edge to edge) is a class of its own: its share follows
from the extract's area and perimeter and Almaty's mean trip length by integral geometry (:func:`through_share`),
its entry and exit edges by their weights. Both shares are thus derived from ``beta``, the mean trip length and
the extract's shape, not set by hand.

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

References
----------
Hyman, G. M. (1969). The calibration of trip distribution models. Environment and Planning 1(1), 105-112.
Wilson, A. G. (1970). Entropy in Urban and Regional Modelling. Pion, London.
Ortuzar, J. de D., Willumsen, L. G. (2011). Modelling Transport, 4th ed., ch. 5. Wiley.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError, shorten
from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.core.tables import read_csv_table
from vision_zero.core.units import M_PER_KM, S_PER_HOUR
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._model import TrafficSettings
from vision_zero.traffic.periods import Period

__all__ = [
    "PEAK_PERIOD",
    "PEDESTRIAN_COLUMNS",
    "TRIP_COLUMNS",
    "TripDistribution",
    "calibrate_decay",
    "calibrate_to_trip_length",
    "commute_share_of_day",
    "congested_link_costs_s",
    "congestion_index",
    "crossings_at_junctions",
    "default_daily_trips",
    "default_periods",
    "elastic_trips",
    "external_zone_weights",
    "free_flow_link_cost_s",
    "generate_trips",
    "gravity_matrix",
    "junction_legs",
    "mean_trip_length_km",
    "od_travel_time_s",
    "pedestrian_demand",
    "pedestrian_land_use",
    "read_od_csv",
    "read_pedestrian_csv",
    "routed_lengths_km",
    "street_pedestrian_demand",
    "through_share",
    "trip_distribution",
    "trip_end_weights",
    "trip_times_s",
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
#: A sample this large estimates the mean trip length for the default daily total to about 1.5%.
_LENGTH_SAMPLE = 1000
_HOURS_PER_DAY = 24.0
_COMMUTE_PERIODS = ("am_peak", "pm_peak")
#: The period whose congestion the targets describe (``demand.congestion_index.*``: AM peak / free flow).
PEAK_PERIOD = "am_peak"
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


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
    """Home and job weights of every node [m of weighted frontage] (module docstring, "Trip ends").

    Where the network carries land use (node columns ``home_m2`` / ``job_m2`` from an OSM file's buildings or
    landuse areas), each kind is spread over the nodes in proportion to its floor area; the street-frontage proxy
    then sets only the two totals (the balance of homes and jobs), so activity trips weigh homes and jobs as on any
    other network. A kind the file has no floor area of keeps the proxy.
    """
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
    nodes = network.nodes
    out = []
    for proxy, col in ((home, "home_m2"), (job, "job_m2")):
        area = nodes[col].to_numpy(dtype=np.float64) if col in nodes.columns else np.zeros(0)
        total = float(area.sum()) if area.size else 0.0
        out.append(area / total * float(proxy.sum()) if total > 0 else proxy)
    return out[0].astype(np.float64), out[1].astype(np.float64)


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


# --------------------------------------------------------------------------------------- trip distribution


@dataclass(frozen=True)
class TripDistribution:
    """Zones of a network and the calibrated deterrence of its gravity model (module docstring).

    Attributes
    ----------
    zone_node
        Node id of each zone (its centroid node).
    home, job
        Home and job weight of each zone [m of weighted frontage]; external zones carry the weight that stands
        for the land beyond the cut (:func:`external_zone_weights`).
    origin_ok, destination_ok
        Per zone: trips can leave it (it has an outgoing link) / reach it (it has an incoming link).
    external
        Per zone: an external zone at a cut edge of the network (a node with ``boundary == True``).
    x_km, y_km
        Zone positions [km] (the network's projected coordinates).
    decay_per_km
        ``beta`` of the exponential deterrence ``exp(-beta d)`` over straight-line distance ``d`` [1/km].
    through_share
        Share of all trips that cross the network from one external zone to another (:func:`through_share`);
        0 without external zones.
    """

    zone_node: IntArray
    home: FloatArray
    job: FloatArray
    origin_ok: npt.NDArray[np.bool_]
    destination_ok: npt.NDArray[np.bool_]
    external: npt.NDArray[np.bool_]
    x_km: FloatArray
    y_km: FloatArray
    decay_per_km: float
    through_share: float = 0.0

    @property
    def distance_km(self) -> FloatArray:
        """Straight-line distance between zones [km]."""
        return np.hypot(self.x_km[:, None] - self.x_km[None, :], self.y_km[:, None] - self.y_km[None, :])

    @property
    def external_share(self) -> float:
        """Share of all trip ends (homes and jobs) at external zones."""
        act = self.home + self.job
        return float(act[self.external].sum() / act.sum()) if act.sum() > 0 else 0.0

    def with_decay(self, decay_per_km: float) -> TripDistribution:
        """The same zones with another deterrence parameter."""
        return replace(self, decay_per_km=float(decay_per_km))

    def matrix(self, kind: str, decay_per_km: float | None = None) -> FloatArray:
        """Joint probability of each (origin zone, destination zone) of one trip: ``commute`` or ``activity``.

        A production-constrained gravity model (Wilson 1970; Ortuzar & Willumsen 2011, ch. 5): origins in
        proportion to their weight (homes for commutes, homes + jobs otherwise), then destinations in proportion
        to ``weight x exp(-beta d)`` (jobs for commutes), no trip to its own zone. Equivalent to a multinomial
        logit destination choice with size term ``log weight`` and a linear distance term.

        External zones stand for far more land than sends trips across the cut, so only internal zones produce
        trips here; the trips from the land beyond into the network mirror those out of it (the transposed
        internal-to-external block: flows across a cordon balance over a day). Through traffic is its own class
        (:meth:`draw`).
        """
        beta = self.decay_per_km if decay_per_km is None else decay_per_km
        if kind == "commute":
            w_from, w_to = self.home, self.job
        elif kind == "activity":
            w_from = w_to = self.home + self.job
        else:
            raise ValueError(f"kind: expected 'commute' or 'activity' (got {kind!r})")
        ext = self.external
        m = gravity_matrix(
            w_from * self.origin_ok * ~ext, w_to * self.destination_ok, self.distance_km, decay_per_km=beta
        )
        if ext.any():
            inward = m[np.ix_(~ext, ext)].T * np.outer(self.origin_ok[ext], self.destination_ok[~ext])
            m[np.ix_(ext, ~ext)] = inward
            m /= m.sum()
        return m

    def through_matrix(self) -> FloatArray:
        """Joint probability of each (entry, exit) pair of a through trip: product of their weights, entry != exit."""
        w = np.where(self.external, self.home + self.job, 0.0)
        m = np.outer(w * self.origin_ok, w * self.destination_ok)
        np.fill_diagonal(m, 0.0)
        total = float(m.sum())
        out: FloatArray = m / total if total > 0 else m
        return out

    def mean_distance_km(self, decay_per_km: float | None = None, *, commute_share: float = 0.0) -> float:
        """Mean straight-line trip distance [km] of a mix of commutes and activity trips."""
        d = self.distance_km
        act = float((self.matrix("activity", decay_per_km) * d).sum())
        if commute_share <= 0:
            return act
        com = float((self.matrix("commute", decay_per_km) * d).sum())
        return commute_share * com + (1 - commute_share) * act

    def draw(
        self, rng: np.random.Generator, n: int, kind: str
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Draw ``n`` (origin node, destination node) pairs of ``kind`` (see :meth:`matrix`).

        ``round(n x through_share)`` of them are through trips (:meth:`through_matrix`), drawn first.
        """
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        n_t = round(n * self.through_share)
        z = len(self.zone_node)
        cells = [rng.choice(z * z, size=n_t, p=self.through_matrix().ravel())] if n_t else []
        cells.append(rng.choice(z * z, size=n - n_t, p=self.matrix(kind).ravel()))
        cell = np.concatenate(cells)
        return self.zone_node[cell // z], self.zone_node[cell % z]


def gravity_matrix(
    w_from: FloatArray,
    w_to: FloatArray,
    distance_km: FloatArray,
    *,
    decay_per_km: float,
) -> FloatArray:
    """Production-constrained gravity model with exponential deterrence, as joint probabilities summing to 1.

    ``P[i, j] = (O_i / sum O) x D_j exp(-beta d_ij) / sum_k D_k exp(-beta d_ik)``, ``P[i, i] = 0``; origins with
    no reachable destination get no trips.
    """
    near = distance_km.min(axis=1, keepdims=True)
    f = np.exp(-decay_per_km * (distance_km - near))  # scaled per row (cancels out): no underflow
    np.fill_diagonal(f, 0.0)
    attract = f * w_to[None, :]
    row = attract.sum(axis=1)
    ok = (row > 0) & (w_from > 0)
    prod = np.where(ok, w_from, 0.0)
    if prod.sum() <= 0:
        raise DataError("trip distribution: no pair of zones with trip ends and a link between them")
    out: FloatArray = np.asarray(attract * (prod / prod.sum() / np.where(ok, row, 1.0))[:, None], np.float64)
    return out


def calibrate_decay(
    dist: TripDistribution, target_km: float, *, commute_share: float = 0.0, tol: float = 1e-4
) -> float:
    """Deterrence parameter ``beta`` [1/km] whose mean straight-line trip distance is ``target_km``, by bisection.

    The mean distance falls monotonically as ``beta`` grows (Hyman 1969; Ortuzar & Willumsen 2011, §5.5).
    A target at or above the mean without decay gives ``beta = 0`` (no deterrence: the map is too small to
    hold trips that long); a target below the shortest possible mean gives the steepest tried decay.
    """
    if dist.mean_distance_km(0.0, commute_share=commute_share) <= target_km:
        return 0.0
    lo, hi = 0.0, 1.0
    while dist.mean_distance_km(hi, commute_share=commute_share) > target_km and hi < 1e3:
        lo, hi = hi, 2 * hi
    while hi - lo > tol * max(hi, 1e-9):
        mid = 0.5 * (lo + hi)
        if dist.mean_distance_km(mid, commute_share=commute_share) > target_km:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _boundary_nodes(network: RoadNetwork) -> npt.NDArray[np.bool_]:
    """Per node: a cut edge of a clipped extract (node column ``boundary``; all False without it)."""
    nodes = network.nodes
    if "boundary" not in nodes.columns:
        return np.zeros(len(nodes), dtype=bool)
    return nodes["boundary"].fillna(False).to_numpy(dtype=bool)


def external_zone_weights(
    x_km: FloatArray,
    y_km: FloatArray,
    activity: FloatArray,
    ext_x_km: FloatArray,
    ext_y_km: FloatArray,
    ext_capacity_vph: FloatArray,
    *,
    decay_per_km: float,
    area_km2: float,
) -> tuple[FloatArray, float]:
    """Activity weight of each external zone and the share of trips from internal zones that stay inside.

    The external weight is the land beyond the cut as the deterrence sees it.
    Assumes the land beyond the cut continues at the mean density of the land inside (``rho = sum activity /
    area``). From an internal zone ``o``, the whole plane offers ``rho x 2 pi / beta^2`` of deterred activity
    (the integral of ``exp(-beta r)`` over the plane); the zones inside offer ``sum_j a_j exp(-beta d_oj)``; the
    rest lies beyond the cut. External zones share that rest in proportion to the capacity of their links,
    scaled by one factor so that, weighted by activity, trips from internal zones leave the network as often
    as the deterrence says. Through traffic (external to external) is set apart (:func:`through_share`).
    """
    none = np.zeros(len(ext_x_km), dtype=np.float64)
    if decay_per_km <= 0 or len(ext_x_km) == 0 or activity.sum() <= 0 or area_km2 <= 0:
        return none, 1.0
    rho = float(activity.sum()) / area_km2
    plane = rho * 2.0 * np.pi / decay_per_km**2
    d_in = np.hypot(x_km[:, None] - x_km[None, :], y_km[:, None] - y_km[None, :])
    f_in = np.exp(-decay_per_km * d_in)
    np.fill_diagonal(f_in, 0.0)
    inside = f_in @ activity
    beyond = np.maximum(plane - inside, 0.0)
    d_ext = np.hypot(x_km[:, None] - ext_x_km[None, :], y_km[:, None] - ext_y_km[None, :])
    offer = np.exp(-decay_per_km * d_ext) @ ext_capacity_vph
    den = float((activity * offer).sum())
    stay = float((activity * np.minimum(inside, plane)).sum() / (activity.sum() * plane))
    if den <= 0:
        return none, stay
    k = float((activity * beyond).sum()) / den
    return (k * ext_capacity_vph).astype(np.float64), stay


def through_share(
    mean_trip_crow_fly_km: float,
    area_km2: float,
    perimeter_km: float,
    stay_share: float,
    internal_origin: float,
) -> float:
    """Share of all trips that cross the network from edge to edge (through traffic), from its geometry.

    Trips as straight segments of mean length ``L`` with ends spread evenly over the plane, at density ``rho``
    per km2: the number of segments that meet a convex region of area ``A`` and perimeter ``P`` is
    ``rho (A + L P / pi)`` (Cauchy-Crofton: the mean width of a convex body is ``P / pi``; Santalo 1976, ch. 1);
    ``rho A`` start inside, ``rho A`` end inside, ``rho A stay`` do both, so ``rho (A + L P / pi) - rho A -
    rho A + rho A stay = rho (L P / pi - A + A stay)`` cross it with both ends outside. Relative to the trips that
    start inside (``rho A``, a share ``internal_origin`` of the gravity model's trips), that is
    ``R = (L P / pi - A + A stay) / A`` through trips per internal trip, and the through share of all trips is
    ``R i / (1 + R i)``. (Until 2026-11-30 the count subtracted ``2 A`` instead of ``A``, which undercounted
    through traffic: none on a region wider than about the mean trip; tests/traffic/test_demand.py checks the
    count against random segments.)
    """
    if area_km2 <= 0 or internal_origin <= 0:
        return 0.0
    r = max(0.0, (mean_trip_crow_fly_km * perimeter_km / np.pi - area_km2 + area_km2 * stay_share) / area_km2)
    return float(r * internal_origin / (1.0 + r * internal_origin))


def _hull_km(x_km: FloatArray, y_km: FloatArray) -> tuple[float, float]:
    """Area [km2] and perimeter [km] of the convex hull of the points (0, 0 if degenerate)."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.unique(np.column_stack([x_km, y_km]), axis=0)
    if len(pts) < 3:
        return 0.0, 0.0
    try:
        hull = ConvexHull(pts)
    except QhullError:  # all points on a line
        return 0.0, 0.0
    return float(hull.volume), float(hull.area)  # in 2-D, "volume" is the area and "area" the perimeter


def trip_distribution(
    network: RoadNetwork,
    params: ParameterSet | None = None,
    *,
    max_zones: int | None = 2000,
    decay_per_km: float | None = None,
) -> TripDistribution:
    """Zones, trip ends and deterrence of ``network``'s gravity model (module docstring).

    Parameters
    ----------
    network
        The road network (a node column ``boundary`` marks the cut edges of a clipped extract).
    params
        Parameters (default: the shipped files); ``demand.distance_decay_per_km`` unless ``decay_per_km``.
    max_zones
        On a network with more nodes than this, internal trip ends are gathered into at most this many zones
        (:func:`zone_weights`); None keeps every node. External zones are never gathered.
    decay_per_km
        Deterrence parameter ``beta`` [1/km] (default: Almaty's, ``demand.distance_decay_per_km``).
    """
    p = _params(params)
    beta = p.value("demand.distance_decay_per_km") if decay_per_km is None else float(decay_per_km)
    home, job = trip_end_weights(network, p)
    ext = _boundary_nodes(network)
    home[ext] = 0.0  # a cut node stands for the land beyond it, not for its own frontage
    job[ext] = 0.0
    if max_zones is not None and len(home) > max_zones:
        home, job = zone_weights(network, home, job, max_zones=max_zones)
    links = network.links
    n = len(network.nodes)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    has_out = np.bincount(u, minlength=n)[:n] > 0
    has_in = np.bincount(v, minlength=n)[:n] > 0
    x = network.nodes["x_m"].to_numpy(dtype=np.float64) / M_PER_KM
    y = network.nodes["y_m"].to_numpy(dtype=np.float64) / M_PER_KM
    internal = np.flatnonzero((home + job > 0) & ~ext)
    ext_nodes = np.flatnonzero(ext & (has_out | has_in))
    act = home[internal] + job[internal]
    cap = links["capacity_vph"].to_numpy(dtype=np.float64)
    cap_node: FloatArray = 0.5 * (np.bincount(u, cap, n)[:n] + np.bincount(v, cap, n)[:n]).astype(np.float64)
    area, perimeter = _hull_km(x, y)
    w_ext, stay = external_zone_weights(
        x[internal],
        y[internal],
        act,
        x[ext_nodes],
        y[ext_nodes],
        cap_node[ext_nodes],
        decay_per_km=beta,
        area_km2=area,
    )
    keep = w_ext > 0
    ext_nodes, w_ext = ext_nodes[keep], w_ext[keep]
    home_share = float(home[internal].sum() / act.sum()) if act.sum() > 0 else 0.5
    zones = np.concatenate([internal, ext_nodes])
    dist = TripDistribution(
        zone_node=zones.astype(np.int64),
        home=np.concatenate([home[internal], w_ext * home_share]),
        job=np.concatenate([job[internal], w_ext * (1.0 - home_share)]),
        origin_ok=has_out[zones],
        destination_ok=has_in[zones],
        external=np.r_[np.zeros(len(internal), bool), np.ones(len(ext_nodes), bool)],
        x_km=x[zones],
        y_km=y[zones],
        decay_per_km=beta,
    )
    if not dist.external.any():
        return dist
    internal_origin = float(dist.matrix("activity")[~dist.external].sum())
    share = through_share(
        p.value("demand.almaty.mean_trip_crow_fly_km"), area, perimeter, stay, internal_origin
    )
    return replace(dist, through_share=share)


def commute_share_of_day(periods: tuple[Period, ...], params: ParameterSet | None = None) -> float:
    """Share of a day's trips that are commutes: the peak hours' shares x ``demand.commute_share.peak``."""
    p = _params(params)
    total = sum(per.demand_share * _hours_of(per, p) for per in periods)
    peak = sum(per.demand_share * _hours_of(per, p) for per in periods if per.name in _COMMUTE_PERIODS)
    return p.value("demand.commute_share.peak") * peak / total if total > 0 else 0.0


def _hours_of(per: Period, p: ParameterSet) -> float:
    days = p.value("demand.weekday_equivalents_per_year")
    return per.annual_hours / days


def routed_lengths_km(
    network: RoadNetwork, origins: npt.NDArray[np.int64], destinations: npt.NDArray[np.int64]
) -> FloatArray:
    """Length [km] of each trip's fastest route at the speed limits (NaN where there is no route)."""
    from vision_zero.traffic.routing import route_trips

    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    cost = links["free_flow_travel_time_s"].to_numpy(dtype=np.float64)
    routes = route_trips(network, origins, destinations, cost)
    out = np.full(len(origins), np.nan)
    ok = routes.n_links > 0
    if len(routes.links):
        lens = np.add.reduceat(length[routes.links], routes.ptr[:-1][ok]) if ok.any() else np.zeros(0)
        out[ok] = lens / M_PER_KM
    return out


def mean_trip_length_km(
    network: RoadNetwork, dist: TripDistribution, *, commute_share: float = 0.0, sample: int = _LENGTH_SAMPLE
) -> tuple[float, float]:
    """Mean routed trip length [km] of ``dist`` on ``network`` and its circuity (routed / straight-line).

    Estimated from ``sample`` trips drawn with a fixed seed (deterministic for a network), routed at the
    speed limits; trips to or from external zones count their length inside the network only.
    """
    rng = np.random.default_rng(0)
    n_c = round(sample * commute_share)
    o1, d1 = dist.draw(rng, n_c, "commute")
    o2, d2 = dist.draw(rng, sample - n_c, "activity")
    o, d = np.concatenate([o1, o2]), np.concatenate([d1, d2])
    routed = routed_lengths_km(network, o, d)
    xy = network.nodes[["x_m", "y_m"]].to_numpy(dtype=np.float64) / M_PER_KM
    straight = np.hypot(*(xy[o] - xy[d]).T)
    ok = np.isfinite(routed)
    if not ok.any():
        return 0.0, 1.0
    mean = float(routed[ok].mean())
    return mean, mean / float(straight[ok].mean()) if straight[ok].mean() > 0 else 1.0


def calibrate_to_trip_length(
    network: RoadNetwork,
    target_km: float,
    params: ParameterSet | None = None,
    *,
    max_zones: int | None = 2000,
    commute_share: float = 0.0,
    rounds: int = 2,
) -> TripDistribution:
    """:func:`trip_distribution` with the deterrence whose mean routed trip length on ``network`` is ``target_km``.

    Bisection on ``beta`` for the straight-line target ``target_km / circuity`` (:func:`calibrate_decay`), the
    circuity measured by routing a sample of the current distribution; repeated ``rounds`` times because short
    trips are more circuitous than long ones, and because external zones' weights depend on ``beta``.
    """
    out = trip_distribution(network, params, max_zones=max_zones)
    for _ in range(rounds):
        _, circuity = mean_trip_length_km(network, out, commute_share=commute_share)
        beta = calibrate_decay(out, target_km / circuity, commute_share=commute_share)
        out = trip_distribution(network, params, max_zones=max_zones, decay_per_km=beta)
    return out


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
    p = _params(params)
    centre_km = _centreline(network) / M_PER_KM
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
    p = _params(params)
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


def _read_csv(path: Path | str) -> tuple[Path, pd.DataFrame]:
    """A CSV file as a table of at least one row (:func:`vision_zero.core.tables.read_csv_table`)."""
    return Path(path), read_csv_table(path)


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
        key = ", ".join(f"{c}={frame[c].to_list()[first]!r}" for c in cols)
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
    from scipy.spatial import cKDTree  # only for user zone/OD tables: not on every run's import path

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
        origin, destination = (_ids(path, frame, end, n_nodes, "node") for end in ("origin", "destination"))
    elif {"origin_lat", "origin_lon", "destination_lat", "destination_lon"} <= cols:
        origin, destination = (
            _snap(
                path,
                network,
                _numeric(path, frame, f"{end}_lat"),
                _numeric(path, frame, f"{end}_lon"),
                end,
                max_snap_m,
            )
            for end in ("origin", "destination")
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


def pedestrian_land_use(network: RoadNetwork, params: ParameterSet | None = None) -> npt.NDArray[np.float64]:
    """Per node: the land-use factor of :func:`pedestrian_demand` and :func:`street_pedestrian_demand`.

    The activity weight (homes + jobs, :func:`trip_end_weights`) relative to the network's mean, clipped to 0.25-4.
    """
    home, job = trip_end_weights(network, _params(params))
    act = home + job
    mean_act = float(act.mean()) if act.size and act.mean() > 0 else 1.0
    out: npt.NDArray[np.float64] = np.clip(act / mean_act, 0.25, 4.0)
    return out


def _pedestrian_class_rank(network: RoadNetwork) -> npt.NDArray[np.int64]:
    """Per link: the pedestrian demand class rank of its road (:data:`_PED_RANK`: local 0, collector 1, arterial 2)."""
    hw = network.links["highway"].astype(str)
    out: npt.NDArray[np.int64] = hw.map(lambda h: _PED_RANK[_PED_CLASS.get(h, "local")]).to_numpy(np.int64)
    return out


def _pedestrians_per_hour_by_rank(p: ParameterSet) -> dict[int, float]:
    return {r: p.value(f"demand.pedestrians_per_hour.{name}") for name, r in _PED_RANK.items()}


def _legs(network: RoadNetwork) -> pd.DataFrame:
    """One row per leg of every node: ``node``, ``rank`` (the leg's pedestrian demand class rank, :data:`_PED_RANK`).

    A leg is a neighbouring node joined by a link in either direction (both directions of a street are one leg;
    a link from a node to itself is no leg); its class is the highest of the links on it.
    """
    links = network.links
    u = links["u"].to_numpy(np.int64)
    v = links["v"].to_numpy(np.int64)
    rank = _pedestrian_class_rank(network)
    ends = pd.DataFrame(
        {
            "node": np.concatenate([u, v]),
            "other": np.concatenate([v, u]),
            "rank": np.concatenate([rank, rank]),
        }
    )
    ends = ends[ends["node"] != ends["other"]]
    legs: pd.DataFrame = ends.groupby(["node", "other"], sort=True)["rank"].max().reset_index()
    return legs[["node", "rank"]]


def junction_legs(network: RoadNetwork) -> npt.NDArray[np.int64]:
    """Per node: the streets (legs) that meet there; a junction has three or more.

    The rows of :func:`_legs` per node (neighbours joined by a link in either direction, no link to itself),
    counted from the link ends alone: their classes are not needed for a count (4-14x faster on the schematic
    networks; equal counts, tests/traffic/test_demand.py).
    """
    links = network.links
    n = len(network.nodes)
    u = links["u"].to_numpy(np.int64)
    v = links["v"].to_numpy(np.int64)
    node, other = np.concatenate([u, v]), np.concatenate([v, u])
    keep = node != other
    pairs = np.unique(node[keep] * max(n, 1) + other[keep])
    out: npt.NDArray[np.int64] = np.bincount(pairs // max(n, 1), minlength=n).astype(np.int64)
    return out


def crossings_at_junctions(
    network: RoadNetwork, legs: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.bool_]:
    """Per crossing: whether it sits on a junction node (three or more legs, :func:`junction_legs`).

    ``legs``: :func:`junction_legs` of ``network`` where the caller has it already (computed once, not twice).

    Such a crossing stands for the crosswalks of all its legs (the schematic network's convention): it takes every
    leg's pedestrians (:func:`pedestrian_demand`) and only its streets' ends at that junction
    (:func:`street_pedestrian_demand`), and a vehicle through it meets ``2 / legs`` of them
    (:func:`vision_zero.risk.crossing_passages.crossing_leg_weight`).
    """
    node = network.crossings["node"].to_numpy(np.int64)
    legs = junction_legs(network) if legs is None else legs
    out: npt.NDArray[np.bool_] = (node >= 0) & (legs[np.maximum(node, 0)] >= 3)
    return out


def pedestrian_demand(
    network: RoadNetwork, *, periods: tuple[Period, ...] | None = None, params: ParameterSet | None = None
) -> pd.DataFrame:
    """Pedestrians per hour wanting to cross at each crossing, per period (a documented proxy).

    ``peds_per_h = base x land use x time of day``. The base is the peak-hour volume of one crossing of a road of
    its class (``demand.pedestrians_per_hour.*``): for a crossing along a road, or on a node where at most two
    streets meet (an OSM crossing node on one leg), that of the highest road class the crossing crosses; for a
    crossing on a junction node (three or more legs, :func:`junction_legs`; the schematic network's convention
    for the crosswalks of a junction) the sum over its legs of each leg's class volume, as the pedestrians who
    cross that junction's streets at their junction ends when no crossing is mapped there
    (:func:`street_pedestrian_demand`): mapping a crossing at a junction moves those pedestrians onto it rather
    than replacing them by one street's volume (the risk stage spreads them over the legs,
    :func:`vision_zero.risk.crossing_passages.crossing_leg_weight`). Land use is the activity weight (homes + jobs,
    :func:`trip_end_weights`) at the crossing's node relative to the network's mean, clipped to 0.25-4
    (:func:`pedestrian_land_use`); time of day scales with the period's share of car trips relative to the peak
    hour (an assumption: no Almaty pedestrian profile was found). Replace with counts via
    :func:`read_pedestrian_csv`.
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
    cls = pd.Series(_pedestrian_class_rank(network))
    rank = cl.assign(r=cls.to_numpy()[cl["link"].to_numpy(dtype=np.int64)]).groupby("crossing")["r"].max()
    rank_c = rank.reindex(np.arange(len(cr)), fill_value=0).to_numpy()
    by_rank = _pedestrians_per_hour_by_rank(p)
    base = np.vectorize(by_rank.get, otypes=[np.float64])(rank_c)
    node = cr["node"].to_numpy(dtype=np.int64)
    legs = _legs(network)
    leg_sum = np.bincount(
        legs["node"].to_numpy(np.int64),
        weights=np.vectorize(by_rank.get, otypes=[np.float64])(legs["rank"].to_numpy(np.int64)),
        minlength=len(network.nodes),
    )
    per_node = np.bincount(legs["node"].to_numpy(np.int64), minlength=len(network.nodes))  # junction_legs
    base = np.where(crossings_at_junctions(network, per_node), leg_sum[np.maximum(node, 0)], base)
    link = cr["link"].to_numpy(dtype=np.int64)
    at = np.where(node >= 0, node, links["u"].to_numpy(dtype=np.int64)[np.maximum(link, 0)])
    land = pedestrian_land_use(network, p)[at]
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


#: Pedestrian demand classes whose streets get crossing pedestrians away from mapped crossings
#: (:func:`street_pedestrian_demand`): local streets and collectors.
STREET_CROSSING_CLASSES: tuple[str, ...] = ("local", "collector")


def street_pedestrian_demand(
    network: RoadNetwork, *, periods: tuple[Period, ...] | None = None, params: ParameterSet | None = None
) -> pd.DataFrame:
    """Pedestrians per hour crossing each local or collector street where no mapped crossing serves it, per period.

    The same proxy as :func:`pedestrian_demand`, for the crossing points the network does not map: a pedestrian
    walking along a street crosses each side street at the junction, so each end of a street segment that is a
    junction (three or more streets meet, :func:`junction_legs`) is an unmarked crossing point with the demand
    model's pedestrians for a crossing of that street's class (``demand.pedestrians_per_hour.local`` /
    ``.collector``) x the land use at that junction (:func:`pedestrian_land_use`) x time of day. Crossings away
    from the junctions are added by the risk stage (:func:`vision_zero.risk.away_from_crossings.injuries_on_streets`).

    A mapped crossing serves a street: one along it, or on a node where at most two streets meet (an OSM crossing
    node on the street), takes all the street's pedestrians (both directions); one on a junction node takes the
    pedestrians of that junction end only (:func:`pedestrian_demand` counts them there), so the street's other end
    keeps its own.

    Returns
    -------
    pandas.DataFrame
        ``period`` str, ``link`` int (one row for each direction of a two-way street: its pedestrians cross both),
        ``peds_per_h`` float: pedestrians crossing the street at its junction ends per hour.
    """
    p = _params(params)
    periods = default_periods(p) if periods is None else periods
    links = network.links
    rank = _pedestrian_class_rank(network)
    wanted = np.isin(rank, [_PED_RANK[c] for c in STREET_CROSSING_CLASSES])
    n = len(network.nodes)
    legs = junction_legs(network)
    cr_node = network.crossings["node"].to_numpy(np.int64)
    at_junction = crossings_at_junctions(network, legs)
    crossed_junction = np.zeros(n, dtype=bool)
    crossed_junction[cr_node[at_junction]] = True
    cl = network.crossing_links
    whole = ~at_junction[cl["crossing"].to_numpy(np.int64)]
    served = np.zeros(len(links), dtype=bool)
    served[cl["link"].to_numpy(np.int64)[whole]] = True
    # the reverse direction of a served street is served too (its crossing's pedestrians cross both)
    rev = links["reverse"].to_numpy(np.int64)
    served |= np.where(rev >= 0, served[np.maximum(rev, 0)], False)
    chosen = np.flatnonzero(wanted & ~served)
    u = links["u"].to_numpy(np.int64)[chosen]
    v = links["v"].to_numpy(np.int64)[chosen]
    open_end = (legs >= 3) & ~crossed_junction  # a junction whose pedestrians no mapped crossing counts
    land = pedestrian_land_use(network, p)
    ends = np.where(open_end[u], land[u], 0.0) + np.where(open_end[v], land[v], 0.0)
    base = np.vectorize(_pedestrians_per_hour_by_rank(p).get, otypes=[np.float64])(rank[chosen])
    peak = p.value("demand.share_per_hour.peak")
    per_h = [base * ends * per.demand_share / peak for per in periods]
    return pd.DataFrame(
        {
            "period": pd.Series(np.repeat([per.name for per in periods], len(chosen)), dtype=str),
            "link": np.tile(chosen.astype(np.int64), len(periods)),
            "peds_per_h": np.concatenate(per_h) if per_h else np.empty(0),
        }
    )


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
