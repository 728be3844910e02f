"""Trip distribution: where car trips start and end, and between which zones (a gravity model).

Every number comes from ``traffic.toml`` (``demand.*``) with its source; see SCIENCE.md §10. The trips themselves,
the periods and the default daily total are :mod:`vision_zero.traffic.demand`'s.

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

References
----------
Hyman, G. M. (1969). The calibration of trip distribution models. Environment and Planning 1(1), 105-112.
Wilson, A. G. (1970). Entropy in Urban and Regional Modelling. Pion, London.
Ortuzar, J. de D., Willumsen, L. G. (2011). Modelling Transport, 4th ed., ch. 5. Wiley.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from vision_zero.core.errors import DataError
from vision_zero.core.parameters import ParameterSet
from vision_zero.core.units import M_PER_KM
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._demand_common import centreline_m, parameters_or_default

__all__ = [
    "TripDistribution",
    "calibrate_decay",
    "calibrate_to_trip_length",
    "external_zone_weights",
    "gravity_matrix",
    "mean_trip_length_km",
    "routed_lengths_km",
    "through_share",
    "trip_distribution",
    "trip_end_weights",
    "zone_weights",
]

_RESIDENTIAL = frozenset({"residential", "living_street", "unclassified"})
_ARTERIAL = frozenset({"primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link"})
#: A sample this large estimates the mean trip length for the default daily total to about 1.5%.
_LENGTH_SAMPLE = 1000
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def trip_end_weights(
    network: RoadNetwork, params: ParameterSet | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Home and job weights of every node [m of weighted frontage] (module docstring, "Trip ends").

    Where the network carries land use (node columns ``home_m2`` / ``job_m2`` from an OSM file's buildings or
    landuse areas), each kind is spread over the nodes in proportion to its floor area; the street-frontage proxy
    then sets only the two totals (the balance of homes and jobs), so activity trips weigh homes and jobs as on any
    other network. A kind the file has no floor area of keeps the proxy.
    """
    p = parameters_or_default(params)
    links = network.links
    hw = links["highway"].astype(str).to_numpy()
    cl = centreline_m(network)
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
    through traffic: none on a region wider than about the mean trip; tests/traffic/test_trip_distribution.py
    checks the count against random segments.)
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
    p = parameters_or_default(params)
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
