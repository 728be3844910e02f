"""Route choice: shortest routes over the turn graph and the time-sliced dynamic user equilibrium's pieces.

Routes are stored flat (CSR style): the links of trip ``i`` are ``links[ptr[i]:ptr[i + 1]]``, in driving order.
A trip whose destination cannot be reached, or whose origin is its destination, has an empty route.

Shortest routes (:class:`Router`) are searched on the *turn graph* (one vertex per link, one edge per permitted
movement from a link into the next, plus one source vertex per node), one Dijkstra tree per distinct origin and
cost vector, never one per trip, and each tree only as far as its trips' farthest destination (a targeted
search, compiled with numba). Equal-cost routes are broken deterministically: a tie-break term far below any
real cost difference (:data:`TURN_TIE_S` per turn, :data:`CLASS_TIE_S` per link and step down the road-class
order of :data:`vision_zero.network.osm_tags.ROAD_CLASSES`) prefers fewer turns, then higher road classes;
costs still exactly equal after that (common on regular schematic blocks) go to the predecessor settled first in
(distance, vertex id) order (:mod:`vision_zero.traffic._kernels`).

The equilibrium loop itself lives in :mod:`vision_zero.traffic.simulation` (it needs the simulation); this module
gives its pieces: :class:`RouteChoiceSettings`, :func:`slice_of`, :func:`route_cost_s`, :func:`relative_gap`,
:func:`msa_step`, :func:`gap_switchers` and, for the probit sensitivity option, :func:`perceived_costs`; and for a
change to the network (a variant of a paired baseline), the boundedly rational response: :class:`HeldRoutes` (the
routes drivers had) and :func:`band_switchers` (who leaves his route: Mahmassani and Jayakrishnan's indifference
band).

References
----------
Dijkstra, E. W. (1959). A note on two problems in connexion with graphs. Numerische Mathematik 1, 269-271.
Goldberg, A. V., Harrelson, C. (2005). Computing the shortest path: A* search meets graph theory. Proc. 16th
ACM-SIAM Symposium on Discrete Algorithms (SODA), 156-165 (landmarks and their lower bounds).
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
Mahmassani, H. S., Chang, G.-L. (1987). On boundedly rational user equilibrium in transportation systems.
Transp. Sci. 21(2), 89-99.
Mahmassani, H. S., Jayakrishnan, R. (1991). System performance and user response under real-time information in
a congested traffic corridor. Transp. Res. A 25(5), 293-307.
Mahmassani, H. S., Liu, Y.-H. (1999). Dynamics of commuting decision behaviour under Advanced Traveller
Information Systems. Transp. Res. C 7(2-3), 91-107.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.network.osm_tags import ROAD_CLASSES
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._kernels import VERTEX_DTYPE, targeted_trees
from vision_zero.traffic._position_kernels import edge_ids as _edge_ids
from vision_zero.traffic._position_kernels import replace_routes, route_costs, route_turns

__all__ = [
    "CLASS_TIE_S",
    "SAME_COST_S",
    "TURN_TIE_S",
    "HeldRoutes",
    "Movements",
    "OriginSample",
    "RouteChoiceSettings",
    "RouteCosts",
    "Router",
    "Routes",
    "band_limit_s",
    "band_switchers",
    "gap_switchers",
    "indifference_band_s",
    "msa_step",
    "perceived_costs",
    "relative_gap",
    "route_cost_s",
    "route_trips",
    "sample_origins",
    "sampled_relative_gap",
    "slice_of",
    "turns_per_route",
]

IntArray = npt.NDArray[np.int64]
#: Link ids of routes (int32: :data:`vision_zero.traffic._kernels.VERTEX_DTYPE`).
LinkIds = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Cost floor [s]: keeps every turn-graph edge weight positive (a zero-cost cycle would make ties depend on order).
_MIN_COST_S = 1e-6
#: Tie-break cost of one turn [s]: decides only between routes whose costs are equal to well below a millisecond.
TURN_TIE_S = 1e-6
#: Tie-break cost of a link per step down the road-class order [s]: below any difference in turns.
CLASS_TIE_S = 1e-9
#: Routes whose costs differ by no more than this count as equally good [s] (covers the tie-break terms and
#: floating-point rounding; not a behavioural threshold).
SAME_COST_S = 1e-3
#: Landmarks of :meth:`Router.shortest`'s lower bounds: on the district at full demand 16 rule out 79-94% of a
#: variant's drivers at the cost of ~32 trees per call (32 rule out 82% for twice that; benchmarks/README.md).
LANDMARKS = 16
#: A movement is a turn when the heading changes by more than this [degrees]; a U-turn counts as two turns.
_TURN_ANGLE_DEG = 45.0


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
    gap_sample_origins
        Origins sampled after each simulation for the relative gap and the route swaps
        (:func:`sample_origins`); 0 = every origin. A network with no more origins than this is never sampled.
    plateau_gap_change, plateau_trip_change, plateau_arrived_change
        The plateau stop rule (:func:`gap_plateau`): stop once in each of the last two iterations the relative gap
        moved by less than ``plateau_gap_change`` of itself (either way), the mean trip time by less than
        ``plateau_trip_change`` of itself and the arrived share by less than ``plateau_arrived_change``; 0 = off.
    handover_gap_change, handover_min_gap
        A baseline's equilibrium hands over to its band phase before its cap once its relative gap fell by less
        than ``handover_gap_change`` of itself in the last iteration (or rose) while still above
        ``handover_min_gap`` and with at least 95% of the trips arriving (``simulation._hands_over``); 0 = off.
    """

    max_iterations: int
    relative_gap_target: float
    slice_s: float
    step_exponent: float = 1.0
    step_weight_exponent: float = 0.0
    band_relative: float = 0.0
    band_min_s: float = 0.0
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
            gap_sample_origins=int(values.get("traffic.route_choice.gap_sample_origins", 0)),
            plateau_gap_change=values.get("traffic.route_choice.plateau_gap_change", 0.0),
            plateau_trip_change=values.get("traffic.route_choice.plateau_trip_change", 0.0),
            plateau_arrived_change=values.get("traffic.route_choice.plateau_arrived_change", 0.0),
            handover_gap_change=values.get("traffic.route_choice.handover_gap_change", 0.0),
            handover_min_gap=values.get("traffic.route_choice.handover_min_gap", 0.0),
        )


@dataclass(frozen=True)
class Routes:
    """Routes of many trips, flat.

    Attributes
    ----------
    ptr
        ``len(trips) + 1`` offsets into ``links`` (int64).
    links
        Link ids of all routes, concatenated in driving order (int32 from :class:`Router`: half the memory of
        int64; arithmetic on them that can pass 2**31, e.g. ``link * n_links``, casts first).
    """

    ptr: IntArray
    links: LinkIds

    def __len__(self) -> int:
        return len(self.ptr) - 1

    @property
    def n_links(self) -> IntArray:
        """Number of links of each route (0 = no route)."""
        return np.diff(self.ptr)

    def route(self, i: int) -> LinkIds:
        """Link ids of trip ``i`` in driving order."""
        return self.links[self.ptr[i] : self.ptr[i + 1]]

    def subset(self, trips: IntArray) -> Routes:
        """The routes of ``trips`` (positions, repeats allowed), in that order."""
        lens = self.n_links[trips]
        ptr = np.zeros(len(trips) + 1, dtype=np.int64)
        np.cumsum(lens, out=ptr[1:])
        src = np.repeat(self.ptr[:-1][trips], lens) + (np.arange(int(ptr[-1])) - np.repeat(ptr[:-1], lens))
        return Routes(ptr=ptr, links=self.links[src])

    def same_as(self, other: Routes) -> bool:
        """Whether ``other`` holds the same routes (the same links in the same order for every trip)."""
        return bool(np.array_equal(self.ptr, other.ptr) and np.array_equal(self.links, other.links))

    def replace(self, trips: IntArray, other: Routes) -> Routes:
        """A copy in which trips ``trips`` take their routes from ``other`` (a Routes over the same trips)."""
        take_new = np.zeros(len(self), dtype=bool)
        take_new[trips] = True
        lens = np.where(take_new, other.n_links, self.n_links)
        ptr = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(lens, out=ptr[1:])
        links = np.empty(int(ptr[-1]), dtype=np.result_type(self.links, other.links))
        replace_routes(self.ptr, self.links, other.ptr, other.links, take_new, ptr, links)  # compiled copy
        return Routes(ptr=ptr, links=links)

    @staticmethod
    def concat_by_index(n: int, parts: list[tuple[IntArray, Routes]]) -> Routes:
        """Routes of ``n`` trips assembled from ``(trip positions, their routes)`` parts; others stay empty."""
        lens = np.zeros(n, dtype=np.int64)
        for idx, r in parts:
            lens[idx] = r.n_links
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=ptr[1:])
        dtype = np.result_type(*(r.links for _, r in parts)) if parts else VERTEX_DTYPE
        flat = np.empty(int(ptr[-1]), dtype=dtype)
        for idx, r in parts:
            dst = np.repeat(ptr[idx], r.n_links) + (
                np.arange(len(r.links)) - np.repeat(r.ptr[:-1], r.n_links)
            )
            flat[dst] = r.links
        return Routes(ptr=ptr, links=flat)


@dataclass(frozen=True)
class RouteCosts:
    """The costs a simulation's routes were last compared at: per departure slice and link, and per movement.

    What the equilibrium compared every route with after its last simulation (:func:`route_cost_s`,
    :meth:`Router.shortest`): kept with a baseline's routes so that a variant can ask, for the few drivers it
    needs, what saving each of them forwent (:meth:`HeldRoutes.forgone`), instead of the baseline searching every
    driver's best route after its last simulation.

    Attributes
    ----------
    link_s
        Shape ``(rows, links)``: the cost of each link in each (period, departure slice) row [s].
    edge_extra_s
        Per turn-graph edge (:meth:`Router.edge_ids`, length :attr:`Router.n_edges`): the extra cost of entering a
        link by that movement [s].
    """

    link_s: FloatArray
    edge_extra_s: FloatArray

    def to_frame(self) -> pd.DataFrame:
        """The costs as a table: one row per link and cost row, and one per turn-graph edge.

        Columns ``row`` (the cost row; -1 for an edge's extra cost), ``id`` (the link, or the edge) and ``cost_s``
        [s]. Row and id are int16 and int32; the costs stay float64: a variant compares its drivers' savings with the
        ones computed from them, and a rounded cost would move a driver whose network did not change.
        """
        rows, n_links = self.link_s.shape
        edges = np.arange(len(self.edge_extra_s), dtype=np.int32)
        return pd.DataFrame(
            {
                "row": np.concatenate(
                    [np.repeat(np.arange(rows, dtype=np.int16), n_links), np.full(len(edges), -1, np.int16)]
                ),
                "id": np.concatenate([np.tile(np.arange(n_links, dtype=np.int32), rows), edges]),
                "cost_s": np.concatenate([self.link_s.ravel(), self.edge_extra_s[edges]]),
            }
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> RouteCosts:
        """The inverse of :meth:`to_frame`."""
        row = frame["row"].to_numpy(dtype=np.int64)
        ids = frame["id"].to_numpy(dtype=np.int64)
        cost = frame["cost_s"].to_numpy(dtype=np.float64)
        links = row >= 0
        rows = int(row.max()) + 1 if links.any() else 0
        n_links = int(links.sum()) // max(rows, 1)
        link_s = np.empty((rows, n_links))
        link_s[row[links], ids[links]] = cost[links]
        extra = np.zeros(int((~links).sum()))
        extra[ids[~links]] = cost[~links]
        return cls(link_s=link_s, edge_extra_s=extra)


@dataclass(frozen=True)
class HeldRoutes:
    """The routes drivers had before a change to the network, and what each of them forwent on it.

    A variant of a paired baseline starts from its baseline replication's last routes (same trips, same drivers):
    the drivers then respond to the change within their indifference band (:func:`band_switchers`) instead of
    the whole equilibrium being searched again from free-flow routes, where on a network with many near-equal
    routes a small cost change moves a large share of the traffic.

    Attributes
    ----------
    key
        Per route, its driver: the draw id of the vehicle's first trip (the trips table's ``draw`` column, else
        its row; :func:`vision_zero.traffic.simulation.driver_draws`), distinct and ascending.
    routes
        The routes, in the order of ``key``.
    row
        Per route, its departure slice's row of ``costs`` (None with ``forgone_s``).
    costs
        The costs the routes were last compared at (:class:`RouteCosts`): each route's forgone saving is computed
        from them when asked for (:meth:`forgone`). None: ``forgone_s`` gives them.
    forgone_s
        Per route, the saving its driver forwent, already known (results written by versions before the costs
        were kept); None: computed from ``costs`` on demand.
    """

    key: IntArray
    routes: Routes
    row: IntArray | None = None
    costs: RouteCosts | None = None
    forgone_s: FloatArray | None = None

    def __post_init__(self) -> None:
        if (self.forgone_s is None) == (self.costs is None or self.row is None):
            raise ValueError("HeldRoutes: expected either row and costs or forgone_s")

    def forgone(self, router: Router, which: IntArray) -> FloatArray:
        """The saving forgone by the drivers of routes ``which`` (positions in :attr:`key`) [s].

        Per route, its cost minus the best route's for the same trip under the costs it was last compared at (0 on
        a best route). From :attr:`costs` (one targeted tree per origin and cost row of the routes asked for) unless
        :attr:`forgone_s` holds it. ``router``: the network's (the same links and movements as the baseline's).
        The same numbers the equilibrium's exact search after the last simulation would give.
        """
        which = np.asarray(which, dtype=np.int64)
        if self.forgone_s is not None:
            out_known: FloatArray = self.forgone_s[which]
            return out_known
        assert self.costs is not None and self.row is not None
        if len(self.costs.edge_extra_s) != router.n_edges or self.costs.link_s.shape[1] != router.n_links:
            raise ValueError(
                f"HeldRoutes.forgone: the held costs are for {self.costs.link_s.shape[1]} links and "
                f"{len(self.costs.edge_extra_s)} turn-graph edges, the network has {router.n_links} and "
                f"{router.n_edges}"
            )
        sub = self.routes.subset(which)
        row = self.row[which]
        has = sub.n_links > 0
        current = route_cost_s(sub, self.costs.link_s, row, self.costs.edge_extra_s, router.edge_ids(sub))
        origins = np.zeros(len(which), dtype=np.int64)
        destinations = np.zeros(len(which), dtype=np.int64)
        origins[has] = router.u[sub.links[sub.ptr[:-1][has]]]
        destinations[has] = router.v[sub.links[sub.ptr[1:][has] - 1]]
        pick = np.flatnonzero(has)
        best = router.best_by_row(
            origins, destinations, row, self.costs.link_s, self.costs.edge_extra_s, pick, paths=False
        )[0]
        out: FloatArray = np.where(np.isfinite(best), np.maximum(current - best, 0.0), 0.0)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per route position: ``driver``, ``link`` (driving order) and its route's ``row`` of the costs.

        Or, when only they are known, its route's ``forgone_s``. The costs themselves: :meth:`RouteCosts.to_frame`.
        """
        n = self.routes.n_links
        per_route = (
            {"forgone_s": np.repeat(self.forgone_s, n)}
            if self.forgone_s is not None
            else {"row": np.repeat(np.asarray(self.row), n).astype(np.int16)}
        )
        return pd.DataFrame(
            {"driver": np.repeat(self.key, n), "link": self.routes.links.astype(np.int32)} | per_route
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, costs: RouteCosts | None = None) -> HeldRoutes:
        """The inverse of :meth:`to_frame` (drivers without a route are absent).

        ``costs``: the routes' :class:`RouteCosts`, needed unless the frame has ``forgone_s``.
        """
        driver = frame["driver"].to_numpy(dtype=np.int64)
        start = (
            np.flatnonzero(np.r_[True, driver[1:] != driver[:-1]]) if len(driver) else np.zeros(0, np.int64)
        )
        ptr = np.append(start, len(driver)).astype(np.int64)
        key = driver[start]
        if np.any(np.diff(key) <= 0):
            raise ValueError(
                "HeldRoutes.from_frame: expected each driver's positions together, drivers ascending"
            )
        routes = Routes(ptr=ptr, links=frame["link"].to_numpy(dtype=np.int64))
        if "forgone_s" in frame:
            return cls(key=key, routes=routes, forgone_s=frame["forgone_s"].to_numpy(dtype=np.float64)[start])
        if costs is None:
            raise ValueError("HeldRoutes.from_frame: a frame without forgone_s needs the costs (RouteCosts)")
        return cls(key=key, routes=routes, row=frame["row"].to_numpy(dtype=np.int64)[start], costs=costs)

    def take(
        self, keys: IntArray, origins: IntArray, destinations: IntArray, u: IntArray, v: IntArray
    ) -> tuple[BoolArray, Routes, IntArray]:
        """The held route of each trip ``keys[i]`` from ``origins[i]`` to ``destinations[i]``, where still drivable.

        A held route is taken when its driver is among :attr:`key` and it is still a connected chain of the
        network's links (``u``, ``v``: start and end node of each link) from the trip's origin to its
        destination. Returns ``(found, routes, held)`` per trip: routes empty where not found; ``held`` the
        route's position in :attr:`key` (for :meth:`forgone`), -1 where not found.
        """
        keys = np.asarray(keys, dtype=np.int64)
        n = len(keys)
        if len(self.key) == 0:
            return np.zeros(n, dtype=bool), Routes.concat_by_index(n, []), np.full(n, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.key, keys), len(self.key) - 1)
        found = (self.key[pos] == keys) & (self.routes.n_links[pos] > 0)
        cand = self.routes.subset(pos)  # per trip: its driver's held route (garbage where not found)
        links, ptr = cand.links, cand.ptr
        lens = cand.n_links
        owner = np.repeat(np.arange(n), lens)
        known = (links >= 0) & (links < len(u))
        bad = ~found
        bad[owner[~known]] = True
        safe = np.where(known, links, 0)
        if len(links) > 1:  # chained: each link starts where the previous one of the same route ends
            broken = (owner[1:] == owner[:-1]) & (u[safe[1:]] != v[safe[:-1]])
            bad[owner[1:][broken]] = True
        has = lens > 0
        first = np.zeros(n, dtype=np.int64)
        last = np.zeros(n, dtype=np.int64)
        first[has] = safe[ptr[:-1][has]]
        last[has] = safe[ptr[1:][has] - 1]
        bad |= (u[first] != origins) | (v[last] != destinations)
        ok = ~bad
        take = np.flatnonzero(ok)
        kept = Routes.concat_by_index(n, [(take, cand.subset(take))])
        return ok, kept, np.where(ok, pos, -1).astype(np.int64)


@dataclass(frozen=True)
class Movements:
    """Every movement ``a -> b`` of a network (link ``b`` leaves the end node of link ``a``), numbered.

    Movement ``a -> b`` is number ``move_start[a] + out_rank[b]`` (:meth:`ids`): ``a``'s movements are consecutive,
    in the order of the links leaving ``v[a]`` (ascending id), and ``b`` is the ``out_rank[b]``-th link leaving its
    start node. ``a``, ``b``: per movement, its links.
    """

    a: IntArray
    b: IntArray
    move_start: IntArray
    out_rank: IntArray

    @classmethod
    def of(cls, u: IntArray, v: IntArray, n_nodes: int) -> Movements:
        """The movements of links with start nodes ``u`` and end nodes ``v`` (node ids below ``n_nodes``)."""
        nl = len(u)
        out_order = np.argsort(u, kind="stable")
        out_start = np.searchsorted(u[out_order], np.arange(n_nodes + 1))
        n_out = (out_start[1:] - out_start[:-1])[v]
        a = np.repeat(np.arange(nl, dtype=np.int64), n_out)
        first = np.repeat(out_start[:-1][v], n_out)
        within = np.arange(len(a)) - np.repeat(np.cumsum(n_out) - n_out, n_out)
        b = out_order[first + within].astype(np.int64)
        out_rank = np.empty(nl, dtype=np.int64)
        out_rank[out_order] = np.arange(nl) - out_start[u[out_order]]
        return cls(a, b, (np.cumsum(n_out) - n_out).astype(np.int64), out_rank)

    def ids(self, a: npt.NDArray[np.integer], b: npt.NDArray[np.integer]) -> IntArray:
        """The numbers of the movements ``a[i] -> b[i]`` (each must be a movement: ``b[i]`` leaves ``a[i]``'s end)."""
        out: IntArray = self.move_start[a] + self.out_rank[b]
        return out


def _farthest_landmarks(graph: object, reverse: object, n_links: int, count: int) -> IntArray:
    """``count`` link vertices spread over the graph: each the farthest (cost to and from) from those chosen before.

    Farthest-point selection (Goldberg and Harrelson 2005), seeded from link 0 (which is not itself taken), so the
    landmarks lie on the network's rim. Any landmarks give valid bounds; spread ones give tight bounds.
    """
    from scipy.sparse.csgraph import dijkstra

    chosen: list[int] = []
    nearest: FloatArray | None = None
    last = 0
    for _ in range(count):
        both = dijkstra(graph, indices=last)[:n_links] + dijkstra(reverse, indices=last)[:n_links]
        both = np.where(np.isfinite(both), both, 0.0)
        nearest = both if nearest is None else np.minimum(nearest, both)
        last = int(np.argmax(nearest))
        chosen.append(last)
    return np.asarray(chosen, dtype=np.int64)


#: No landmarks for :func:`~vision_zero.traffic._kernels.targeted_trees` (no pruning): its last five arguments.
_NO_LANDMARKS = (np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)), 0.0)


@dataclass(frozen=True)
class _LandmarkBounds:
    """The landmarks' costs of one search (:meth:`Router._landmark_bounds`): ALT lower bounds of route costs.

    For a landmark vertex ``L`` of the turn graph, with ``B(x)`` the cost from ``x`` to ``L`` and ``F(x)`` from
    ``L`` to ``x``, the triangle inequality gives ``cost(s, t) >= B(s) - B(t)`` and ``cost(s, t) >= F(t) - F(s)``;
    a destination node's best route ends on any of its entering links ``t``, so the bound takes the largest
    ``B(t)`` and the least ``F(t)`` over them (:attr:`to_end`, :attr:`from_end`); from an origin's source vertex
    ``s`` (which no edge enters) the second is taken through its first link ``b``:
    ``cost(s, t) >= min over t of F(t) - max over b of (F(b) - w(s, b))`` (:attr:`from_start`). Each bound is
    lowered by :attr:`margin`, ``1e-9 x (largest landmark cost + 1)``, far above the rounding of the costs.
    Arrays are (landmarks, vertices or nodes).
    """

    n_links: int
    to_lm: FloatArray
    from_lm: FloatArray
    to_end: FloatArray
    from_end: FloatArray
    from_start: FloatArray
    margin: float

    def beyond(self, origins: IntArray, destinations: IntArray, limit: FloatArray) -> BoolArray:
        """Per trip, whether its lower bound lies beyond its limit (only trips with a finite limit and distinct ends)."""
        out = np.zeros(len(origins), dtype=bool)
        cand = np.flatnonzero(np.isfinite(limit) & (origins != destinations))
        o, d = origins[cand], destinations[cand]
        with np.errstate(invalid="ignore"):  # inf - inf: no bound from that landmark
            bound = np.maximum(
                self.to_lm[:, self.n_links + o] - self.to_end[:, d],
                self.from_end[:, d] - self.from_start[:, o],
            )
        bound = np.where(np.isnan(bound), -np.inf, bound).max(axis=0)
        out[cand] = bound - self.margin > limit[cand]
        return out

    def per_vertex(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
        """The arrays :func:`~vision_zero.traffic._kernels.targeted_trees` prunes with: (vertices or nodes, landmarks)."""
        return (
            np.ascontiguousarray(self.to_lm.T),
            np.ascontiguousarray(self.from_lm.T),
            np.ascontiguousarray(self.to_end.T),
            np.ascontiguousarray(self.from_end.T),
            self.margin,
        )


class Router:
    """Shortest-route search over a network's turn graph for given link costs (see the module docstring).

    Every movement from a link into a link leaving its end node is permitted (U-turns included, at two turns'
    tie-break cost); parallel links between the same nodes are separate vertices, so the cheapest is taken.
    """

    def __init__(self, network: RoadNetwork) -> None:
        links = network.links
        nodes = network.nodes
        self.n_nodes = len(nodes)
        self.n_links = len(links)
        u = links["u"].to_numpy(dtype=np.int64)
        v = links["v"].to_numpy(dtype=np.int64)
        self.u: IntArray = u
        self.v: IntArray = v
        nl, nn = self.n_links, self.n_nodes
        moves = Movements.of(u, v, nn)
        a, b = moves.a, moves.b
        turns = self._turns(nodes, u, v, a, b)
        self.turns_of_movement: IntArray = turns
        self._move_start: IntArray = moves.move_start
        self._out_rank: IntArray = moves.out_rank
        rank = np.asarray(
            [_class_rank(h) for h in links["highway"].astype(str)] if "highway" in links else np.zeros(nl),
            dtype=np.float64,
        )
        self._link_tie: FloatArray = rank * CLASS_TIE_S
        # vertices: links 0..nl-1, then one source vertex per node (nl + node) with an edge into each link it starts
        rows = np.concatenate([a, nl + u])
        cols = np.concatenate([b, np.arange(nl, dtype=np.int64)])
        extra = np.concatenate([turns * TURN_TIE_S, np.zeros(nl)])
        order = np.lexsort((cols, rows))
        self._edge_order = order  # graph edge j is edge order[j] of [movements..., starts...]
        self._cols = cols[order].astype(VERTEX_DTYPE)
        self._extra = extra[order]
        self.n_movements = len(a)
        self._indptr = np.searchsorted(rows[order], np.arange(nl + nn + 1)).astype(VERTEX_DTYPE)
        self._n_vertices = nl + nn
        # links entering each node (CSR, ascending link id): the destination read-out
        in_order = np.argsort(v, kind="stable")
        in_start = np.searchsorted(v[in_order], np.arange(nn + 1))
        self._in_ptr = in_start.astype(VERTEX_DTYPE)
        self._in_list = in_order.astype(VERTEX_DTYPE)
        #: Shortest-route trees grown so far by :meth:`shortest` (one per distinct origin and call).
        self.trees_grown = 0
        #: Vertices those trees settled, in all (the work they did; landmark bounds cut it, not the trees).
        self.vertices_settled = 0
        #: Landmarks of the lower bounds that spare a stop-at-threshold search its hopeless trips (:meth:`shortest`'s
        #: ``limit_s``; 0 = none). Chosen at first use, from that call's costs: they change the work, not the answers.
        self.landmark_count = LANDMARKS
        self._landmarks: IntArray | None = None

    @staticmethod
    def _turns(nodes: pd.DataFrame, u: IntArray, v: IntArray, a: IntArray, b: IntArray) -> IntArray:
        return movement_turns(nodes, u, v, a, b)

    @property
    def n_edges(self) -> int:
        """Movements (link into link) followed by one start edge per link (a trip's first link)."""
        return self.n_movements + self.n_links

    def edge_ids(self, routes: Routes) -> IntArray:
        """Per route position, the turn-graph edge that enters it.

        That is the movement from the previous link, or for a route's first link its start edge
        ``n_movements + link``.
        """
        # every position but a route's first is entered by the movement from the link before it (routes are chains
        # of links: each starts where the one before ends); a first position has its start edge (compiled pass)
        out: IntArray = _edge_ids(
            np.asarray(routes.ptr, dtype=np.int64),
            routes.links,
            self._move_start,
            self._out_rank,
            self.n_movements,
        )
        return out

    def _weights(self, cost_s: FloatArray, edge_extra_s: FloatArray | None) -> FloatArray:
        """Turn-graph edge weights (CSR order) for link costs ``cost_s`` and optional per-edge extras."""
        cost = np.maximum(np.asarray(cost_s, dtype=np.float64), _MIN_COST_S) + self._link_tie
        data: FloatArray = cost[self._cols] + self._extra
        if edge_extra_s is not None:  # may lower an edge's cost, never to 0 or below
            data = np.maximum(
                data + np.asarray(edge_extra_s, dtype=np.float64)[self._edge_order], _MIN_COST_S
            )
        return data

    def route(self, origins: IntArray, destinations: IntArray, cost_s: FloatArray) -> Routes:
        """Shortest routes from ``origins[i]`` to ``destinations[i]`` (node ids) under link costs ``cost_s`` [s]."""
        return self.shortest(origins, destinations, cost_s)[1]

    def shortest(
        self,
        origins: IntArray,
        destinations: IntArray,
        cost_s: FloatArray,
        edge_extra_s: FloatArray | None = None,
        *,
        paths: bool = True,
        limit_s: FloatArray | None = None,
    ) -> tuple[FloatArray, Routes]:
        """Cost [s] and links of the shortest route of every trip under link costs ``cost_s``.

        ``edge_extra_s`` (length :attr:`n_edges`) adds a cost to entering a link by a given movement or as a first
        link (e.g. the mean extra time of vehicles that turned into the link, which wait for the other phase).

        The cost is ``inf`` where the destination cannot be reached and 0 where it is the origin (both with an
        empty route); it includes the tie-break terms (below :data:`SAME_COST_S` on any real route). One Dijkstra
        tree per distinct origin, grown only until its trips' destinations are settled
        (:func:`vision_zero.traffic._kernels.targeted_trees`, compiled). ``paths=False``: costs only (every
        route empty).

        ``limit_s`` (per trip, [s]; default none): a trip whose best route costs more than its limit is not wanted,
        and its tree stops once every destination it has not settled lies beyond its trips' limits (a
        stop-at-threshold tree). Such a trip gets cost ``inf`` and an empty route; every other trip gets exactly
        what the full search gives (cost and route, bit for bit). A limit of ``inf`` (or NaN) wants the trip.
        Before any tree, trips whose landmark lower bound (:meth:`_beyond_limit`) already lies beyond their limit
        are set aside (``inf``, empty route), and the trees stop at the others' limits; a tree whose trips all have
        a finite limit does not expand a vertex from which the landmark bounds put every destination it still
        wants beyond that destination's limit: same answers, fewer and smaller trees.
        """
        origins = np.asarray(origins, dtype=np.int64)
        destinations = np.asarray(destinations, dtype=np.int64)
        n = len(origins)
        if limit_s is None:
            limit = np.full(n, np.inf)
        else:
            limit = np.asarray(limit_s, dtype=np.float64)
            limit = np.where(np.isnan(limit), np.inf, limit)
        weight = self._weights(cost_s, edge_extra_s)
        bounds = self._landmark_bounds(origins, destinations, weight, limit) if limit_s is not None else None
        beyond = bounds.beyond(origins, destinations, limit) if bounds is not None else None
        if beyond is None or not beyond.any():
            return self._search(origins, destinations, weight, limit, paths, bounds)
        # the trips whose lower bound already lies beyond their limit are not searched: inf and an empty route,
        # as a search would give them; the others get the search's answer, whoever else is searched
        keep = np.flatnonzero(~beyond)
        best = np.full(n, np.inf)
        kept_best, kept = self._search(origins[keep], destinations[keep], weight, limit[keep], paths, bounds)
        best[keep] = kept_best
        return best, Routes.concat_by_index(n, [(keep, kept)])

    def _search(
        self,
        origins: IntArray,
        destinations: IntArray,
        weight: FloatArray,
        limit: FloatArray,
        paths: bool,
        bounds: _LandmarkBounds | None = None,
    ) -> tuple[FloatArray, Routes]:
        """:meth:`shortest`'s trees under turn-graph edge weights ``weight`` (:meth:`_weights`), every trip searched.

        ``bounds``: the call's landmark costs, with which a tree whose trips all have limits expands no vertex
        that a lower bound puts beyond every limit still wanted (:func:`~vision_zero.traffic._kernels.targeted_trees`).
        """
        n = len(origins)
        marks = bounds.per_vertex() if bounds is not None else _NO_LANDMARKS
        order = np.argsort(origins, kind="stable")
        uniq, first = np.unique(origins[order], return_index=True)
        self.trees_grown += len(uniq)
        tree_ptr = np.append(first, n).astype(np.int64)
        walk = np.full(n, paths, dtype=bool)
        best_o, hops_o, start_o, buf, settled = targeted_trees(
            self._indptr,
            self._cols,
            weight,
            self.n_links,
            self._in_ptr,
            self._in_list,
            (self.n_links + uniq).astype(VERTEX_DTYPE),
            tree_ptr,
            origins[order].astype(VERTEX_DTYPE),
            destinations[order].astype(VERTEX_DTYPE),
            walk,
            limit[order],
            *marks,
        )
        self.vertices_settled += settled
        best = np.empty(n)
        best[order] = best_o
        n_hops = np.zeros(n, dtype=np.int64)
        n_hops[order] = hops_o
        src = np.zeros(n, dtype=np.int64)
        src[order] = start_o
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(n_hops, out=ptr[1:])
        pos = np.repeat(src - ptr[:-1], n_hops) + np.arange(int(ptr[-1]))
        return best, Routes(ptr=ptr, links=buf[pos])

    def _beyond_limit(
        self, origins: IntArray, destinations: IntArray, weight: FloatArray, limit: FloatArray
    ) -> BoolArray:
        """Per trip, whether a landmark lower bound proves its best route costs more than its limit.

        :meth:`_landmark_bounds`' :meth:`_LandmarkBounds.beyond` (all False where no landmarks are used).
        """
        bounds = self._landmark_bounds(origins, destinations, weight, limit)
        if bounds is None:
            return np.zeros(len(origins), dtype=bool)
        return bounds.beyond(origins, destinations, limit)

    def _landmark_bounds(
        self, origins: IntArray, destinations: IntArray, weight: FloatArray, limit: FloatArray
    ) -> _LandmarkBounds | None:
        """The landmarks' costs to and from every vertex under edge weights ``weight``, for lower bounds.

        The lower bounds of ALT (Goldberg and Harrelson 2005), :class:`_LandmarkBounds`. None (no landmarks) unless
        the trips with a finite limit and distinct ends have more than twice :attr:`landmark_count` distinct
        origins (the landmarks' trees cost about that many targeted trees).
        """
        cand = np.flatnonzero(np.isfinite(limit) & (origins != destinations))
        if self.landmark_count <= 0 or len(np.unique(origins[cand])) <= 2 * self.landmark_count:
            return None
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        nl, nn, n_vert = self.n_links, self.n_nodes, self._n_vertices
        graph = csr_matrix((weight, self._cols, self._indptr), shape=(n_vert, n_vert))
        reverse = graph.T.tocsr()
        if self._landmarks is None:
            self._landmarks = _farthest_landmarks(graph, reverse, nl, self.landmark_count)
        to_lm = dijkstra(reverse, indices=self._landmarks)  # (landmarks, vertices): the cost to each landmark
        from_lm = dijkstra(graph, indices=self._landmarks)  # and from it
        k = len(self._landmarks)
        # per destination node, over its entering links: the largest cost to a landmark, the least from it
        in_ptr = np.asarray(self._in_ptr, dtype=np.int64)
        has_in = in_ptr[1:] > in_ptr[:-1]
        to_end = np.full((k, nn), -np.inf)
        from_end = np.full((k, nn), np.inf)
        if has_in.any():
            at = in_ptr[:-1][has_in]
            to_end[:, has_in] = np.maximum.reduceat(to_lm[:, self._in_list], at, axis=1)
            from_end[:, has_in] = np.minimum.reduceat(from_lm[:, self._in_list], at, axis=1)
        # per origin node, over its first links b: the largest F(b) - w(s, b) (the source vertices' edges)
        e0 = int(self._indptr[nl])
        src_ptr = np.asarray(self._indptr[nl:], dtype=np.int64) - e0
        has_out = src_ptr[1:] > src_ptr[:-1]
        from_start = np.full((k, nn), np.inf)
        if has_out.any():
            reach = from_lm[:, self._cols[e0:]] - weight[e0:]
            from_start[:, has_out] = np.maximum.reduceat(reach, src_ptr[:-1][has_out], axis=1)
        finite = np.concatenate([to_lm[np.isfinite(to_lm)], from_lm[np.isfinite(from_lm)]])
        margin = 1e-9 * (float(finite.max()) + 1.0) if finite.size else 0.0
        return _LandmarkBounds(nl, to_lm, from_lm, to_end, from_end, from_start, margin)

    def best_by_row(
        self,
        origins: IntArray,
        destinations: IntArray,
        row: IntArray,
        cost_s: FloatArray,
        edge_extra_s: FloatArray | None,
        only: IntArray | None = None,
        *,
        paths: bool = True,
        limit_s: FloatArray | None = None,
    ) -> tuple[FloatArray, Routes]:
        """:meth:`shortest` for trips whose link costs differ by row: trip ``i`` under ``cost_s[row[i]]``.

        One call of :meth:`shortest` per row (one tree per origin and row), for the trips ``only`` (default: all;
        the others get cost ``inf`` and an empty route). ``limit_s``: per trip (all ``n``), as in :meth:`shortest`.
        """
        n = len(origins)
        best = np.full(n, np.inf)
        parts: list[tuple[IntArray, Routes]] = []
        pick = np.arange(n) if only is None else np.asarray(only, dtype=np.int64)
        order = pick[np.argsort(row[pick], kind="stable")]
        bounds = np.searchsorted(row[order], np.arange(len(cost_s) + 1))
        for r in range(len(cost_s)):
            idx = order[bounds[r] : bounds[r + 1]]
            if idx.size:
                lim = None if limit_s is None else np.asarray(limit_s, dtype=np.float64)[idx]
                b, rt = self.shortest(
                    origins[idx], destinations[idx], cost_s[r], edge_extra_s, paths=paths, limit_s=lim
                )
                best[idx] = b
                parts.append((idx, rt))
        return best, Routes.concat_by_index(n, parts)

    def turns(self, routes: Routes, edges: IntArray | None = None) -> IntArray:
        """Number of turns on each route (heading changes above 45 degrees; a U-turn counts twice).

        ``edges``: the routes' turn-graph edge ids if already computed (:meth:`edge_ids`), else computed here.
        """
        edge = self.edge_ids(routes) if edges is None else edges
        out: IntArray = route_turns(
            np.asarray(routes.ptr, dtype=np.int64), np.asarray(edge, dtype=np.int64), self.turns_of_movement
        )
        return out


def movement_turns(nodes: pd.DataFrame, u: IntArray, v: IntArray, a: IntArray, b: IntArray) -> IntArray:
    """Turns of the movements from link ``a`` into link ``b`` (links given by their end nodes ``u``, ``v``).

    0 straight on, 1 a turn (heading change above 45 degrees between the links' chords), 2 a U-turn: the
    magnitude of :func:`movement_directions`.
    """
    d = movement_directions(nodes, u, v, a, b)
    out: IntArray = np.where(d == UTURN, 2, np.abs(d))
    return out


#: codes of :func:`movement_directions`
RIGHT, THROUGH, LEFT, UTURN = -1, 0, 1, 2


def movement_directions(nodes: pd.DataFrame, u: IntArray, v: IntArray, a: IntArray, b: IntArray) -> IntArray:
    """Direction of the movements from link ``a`` into link ``b``: THROUGH 0, LEFT 1, RIGHT -1 or UTURN 2.

    A turn is a heading change above 45 degrees between the links' chords, to the left if counter-clockwise
    (``x`` east, ``y`` north); a U-turn is a move back along the same pair of nodes.
    """
    x = nodes["x_m"].to_numpy(dtype=np.float64)
    y = nodes["y_m"].to_numpy(dtype=np.float64)
    heading = np.arctan2(y[v] - y[u], x[v] - x[u])
    change = np.angle(np.exp(1j * (heading[b] - heading[a])))
    turning = np.degrees(np.abs(change)) > _TURN_ANGLE_DEG
    side = np.where(change > 0, LEFT, RIGHT)
    uturn = (u[b] == v[a]) & (v[b] == u[a])
    out: IntArray = np.where(uturn, UTURN, np.where(turning, side, THROUGH)).astype(np.int64)
    return out


def _class_rank(highway: str) -> int:
    """Position of a road class in :data:`ROAD_CLASSES` (most important first); unknown classes last."""
    try:
        return ROAD_CLASSES.index(highway)
    except ValueError:
        return len(ROAD_CLASSES)


def route_trips(
    network: RoadNetwork, origins: IntArray, destinations: IntArray, cost_s: FloatArray
) -> Routes:
    """Shortest routes for trips on ``network`` under link costs ``cost_s`` [s] (see :meth:`Router.route`)."""
    return Router(network).route(origins, destinations, cost_s)


def turns_per_route(network: RoadNetwork, routes: Routes) -> IntArray:
    """Turns on each route (see :meth:`Router.turns`)."""
    return Router(network).turns(routes)


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
        _MIN_COST_S,
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
    relative_gap: Sequence[float],
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
    ``iterations + 1`` simulations; a threshold of 0 switches the rule off.
    """
    n = iterations + 1
    if iterations < 1 or len(relative_gap) < n or min(gap_change, trip_change, arrived_change) <= 0:
        return False
    gap = np.asarray(relative_gap[-n:], dtype=np.float64)
    trip = np.asarray(mean_trip_s[-n:], dtype=np.float64)
    arrived = np.asarray(arrived_share[-n:], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        moved_gap = np.abs(np.diff(gap)) / gap[:-1]
        moved_trip = np.abs(np.diff(trip)) / trip[:-1]
    moved_arrived = np.abs(np.diff(arrived))
    return bool(
        np.all(moved_gap < gap_change)
        and np.all(moved_trip < trip_change)
        and np.all(moved_arrived < arrived_change)
    )


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
    p = np.where(pos, np.minimum(1.0, step * gain / np.maximum(route_s, _MIN_COST_S)), 0.0)
    return np.flatnonzero(pos & (u < p)).astype(np.int64)


def indifference_band_s(route_s: FloatArray, *, relative: float, minimum_s: float) -> FloatArray:
    """Each driver's indifference band [s]: ``max(relative x route_s, minimum_s)`` (Mahmassani and Jayakrishnan 1991).

    A driver keeps the route he had unless another saves more than this: the band grows with the trip's time
    (relative part) and has an absolute floor (Mahmassani and Liu 1999 estimated the band relative to the
    remaining trip time, subject to a minimum improvement of about one minute).
    """
    out: FloatArray = np.maximum(relative * np.asarray(route_s, dtype=np.float64), minimum_s)
    return out


def band_switchers(
    route_s: FloatArray,
    best_s: FloatArray,
    *,
    relative: float,
    minimum_s: float,
    tolerated_s: FloatArray | None = None,
) -> IntArray:
    """Positions of the drivers who leave the route they had: boundedly rational route switching.

    A driver switches to his best route when it saves more than his indifference band
    (:func:`indifference_band_s`) and more than the saving he already tolerated on that route before
    (``tolerated_s``, e.g. :attr:`HeldRoutes.forgone_s`; default 0): the switching rule of Mahmassani and
    Jayakrishnan (1991), whose fixed point is Mahmassani and Chang's (1987) boundedly rational user equilibrium
    (no driver can save more than his band). Deterministic: every driver outside his band is returned, no draw (a
    variant's loop then moves each of them with probability the MSA step: :func:`vision_zero.traffic.simulation.simulate_vehicles`).
    With ``tolerated_s`` a network that did not change moves nobody (each saving equals the one tolerated).
    """
    route_s = np.asarray(route_s, dtype=np.float64)
    saving = np.where(np.isfinite(best_s), route_s - best_s, 0.0)
    band = indifference_band_s(route_s, relative=relative, minimum_s=minimum_s)
    if tolerated_s is not None:
        band = np.maximum(band, tolerated_s)
    return np.flatnonzero((saving > band) & (saving > SAME_COST_S)).astype(np.int64)


def band_limit_s(
    route_s: FloatArray,
    *,
    relative: float,
    minimum_s: float,
    tolerated_s: FloatArray | None = None,
) -> FloatArray:
    """Per driver, the best-route cost above which he cannot be a :func:`band_switchers` switcher [s].

    A driver switches only when his best route saves more than his band (and more than the saving he tolerated,
    and more than :data:`SAME_COST_S`), i.e. when it costs less than ``route_s`` minus that. The limit returned
    lies a rounding margin (``1e-9 x (route_s + 1)``, far above the floating-point error of ``route_s - best``)
    above, so a best route costing more than it leaves :func:`band_switchers` with the same answer whatever its
    exact cost: a shortest-route tree may stop there (:meth:`Router.shortest`'s ``limit_s``).
    """
    route_s = np.asarray(route_s, dtype=np.float64)
    band = np.maximum(indifference_band_s(route_s, relative=relative, minimum_s=minimum_s), SAME_COST_S)
    if tolerated_s is not None:
        band = np.maximum(band, tolerated_s)
    out: FloatArray = route_s - band + 1e-9 * (np.abs(route_s) + 1.0)
    return out


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
