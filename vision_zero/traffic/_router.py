"""Shortest routes over a network's turn graph (:class:`Router`), with landmark lower bounds.

Private helper of :mod:`vision_zero.traffic.routing` (which re-exports :class:`Router`, :func:`route_trips`,
:func:`turns_per_route` and the tie-break costs).

Shortest routes (:class:`Router`) are searched on the *turn graph* (one vertex per link, one edge per permitted
movement from a link into the next, plus one source vertex per node), one Dijkstra tree per distinct origin and
cost vector, never one per trip, and each tree only as far as its trips' farthest destination (a targeted
search, compiled with numba). Equal-cost routes are broken deterministically: a tie-break term far below any
real cost difference (:data:`TURN_TIE_S` per turn, :data:`CLASS_TIE_S` per link and step down the road-class
order of :data:`vision_zero.network.osm_tags.ROAD_CLASSES`) prefers fewer turns, then higher road classes;
costs still exactly equal after that (common on regular schematic blocks) go to the predecessor settled first in
(distance, vertex id) order (:mod:`vision_zero.traffic._kernels`).

References
----------
Dijkstra, E. W. (1959). A note on two problems in connexion with graphs. Numerische Mathematik 1, 269-271.
Goldberg, A. V., Harrelson, C. (2005). Computing the shortest path: A* search meets graph theory. Proc. 16th
ACM-SIAM Symposium on Discrete Algorithms (SODA), 156-165 (landmarks and their lower bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.network.osm_tags import ROAD_CLASSES
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._kernels import VERTEX_DTYPE, full_trees, targeted_trees
from vision_zero.traffic._movements import Movements, movement_turns
from vision_zero.traffic._position_kernels import edge_ids as _edge_ids
from vision_zero.traffic._position_kernels import route_turns
from vision_zero.traffic._routes import Routes

__all__ = ["CLASS_TIE_S", "LANDMARKS", "MIN_COST_S", "TURN_TIE_S", "Router", "route_trips", "turns_per_route"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Cost floor [s]: keeps every turn-graph edge weight positive (a zero-cost cycle would make ties depend on order).
MIN_COST_S = 1e-6
#: Tie-break cost of one turn [s]: decides only between routes whose costs are equal to well below a millisecond.
TURN_TIE_S = 1e-6
#: Tie-break cost of a link per step down the road-class order [s]: below any difference in turns.
CLASS_TIE_S = 1e-9
#: Landmarks of :meth:`Router.shortest`'s lower bounds: on the district at full demand 16 rule out 79-94% of a
#: variant's drivers at the cost of ~32 trees per call (32 rule out 82% for twice that; benchmarks/README.md).
LANDMARKS = 16


@dataclass(frozen=True)
class _Csr:
    """A weighted graph in CSR form: the edges ``indptr[v]:indptr[v + 1]`` leave vertex ``v`` for ``cols[...]``."""

    indptr: npt.NDArray[np.int32]
    cols: npt.NDArray[np.int32]
    weight: FloatArray

    def trees(self, sources: IntArray) -> FloatArray:
        """Costs from each source to every vertex, (sources, vertices) (:func:`~vision_zero.traffic._kernels.full_trees`)."""
        out: FloatArray = full_trees(self.indptr, self.cols, self.weight, np.asarray(sources, dtype=np.int64))
        return out


def _farthest_landmarks(graph: _Csr, reverse: _Csr, n_links: int, count: int) -> IntArray:
    """``count`` link vertices spread over the graph: each the farthest (cost to and from) from those chosen before.

    Farthest-point selection (Goldberg and Harrelson 2005), seeded from link 0 (which is not itself taken), so the
    landmarks lie on the network's rim. Any landmarks give valid bounds; spread ones give tight bounds.
    """
    chosen: list[int] = []
    nearest: FloatArray | None = None
    last = 0
    for _ in range(count):
        at = np.asarray([last], dtype=np.int64)
        both = graph.trees(at)[0, :n_links] + reverse.trees(at)[0, :n_links]
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
        self._reversed: tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], IntArray] | None = None

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
        cost = np.maximum(np.asarray(cost_s, dtype=np.float64), MIN_COST_S) + self._link_tie
        data: FloatArray = cost[self._cols] + self._extra
        if edge_extra_s is not None:  # may lower an edge's cost, never to 0 or below
            data = np.maximum(data + np.asarray(edge_extra_s, dtype=np.float64)[self._edge_order], MIN_COST_S)
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
        nl, nn = self.n_links, self.n_nodes
        graph = _Csr(self._indptr, self._cols, weight)
        rev_indptr, rev_cols, rev_edge = self._reverse_graph()
        reverse = _Csr(rev_indptr, rev_cols, weight[rev_edge])
        if self._landmarks is None:
            self._landmarks = _farthest_landmarks(graph, reverse, nl, self.landmark_count)
        to_lm = reverse.trees(self._landmarks)  # (landmarks, vertices): the cost to each landmark
        from_lm = graph.trees(self._landmarks)  # and from it
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

    def _reverse_graph(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], IntArray]:
        """The turn graph reversed, in CSR form: (indptr, cols, and per reversed edge the graph edge it reverses).

        Built at first use and kept (the graph's shape does not change; its weights are taken per call).
        """
        if self._reversed is None:
            n_vert = self._n_vertices
            rows = np.repeat(np.arange(n_vert, dtype=np.int64), np.diff(self._indptr))
            cols = self._cols.astype(np.int64)
            edge = np.lexsort((rows, cols))  # by the edge's head, then its tail
            indptr = np.searchsorted(cols[edge], np.arange(n_vert + 1)).astype(VERTEX_DTYPE)
            self._reversed = (indptr, rows[edge].astype(VERTEX_DTYPE), edge)
        return self._reversed

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
