"""Shortest travel-time routes over the link table (scipy.sparse.csgraph), one Dijkstra tree per origin.

Routes are stored flat (CSR style): the links of trip ``i`` are ``links[ptr[i]:ptr[i + 1]]``, in driving order.
A trip whose destination cannot be reached, or whose origin is its destination, has an empty route.

Re-routing from simulated travel times lives in :mod:`vision_zero.traffic.simulation` (it needs the simulation);
:func:`msa_switchers` says which trips switch in a pass and :func:`perceived_costs` gives drivers' perceived link
times (probit route choice).

References
----------
Dijkstra, E. W. (1959). A note on two problems in connexion with graphs. Numerische Mathematik 1, 269-271.
Daganzo, C. F., Sheffi, Y. (1977). On stochastic models of traffic assignment. Transp. Sci. 11(3), 253-274.
Sheffi, Y. (1985). Urban Transportation Networks, ch. 11 (probit loading by simulation), ch. 12 (method of
successive averages).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from vision_zero.network.road_network import RoadNetwork

__all__ = ["Router", "Routes", "msa_switchers", "perceived_costs", "route_trips"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Entries of the (origins x nodes) distance and predecessor arrays computed at once; bounds memory (~12 B each).
_MAX_TREE_ENTRIES = 8_000_000
#: Cost floor [s]: csgraph reads an explicit zero weight in a sparse matrix as "no edge".
_MIN_COST_S = 1e-6


@dataclass(frozen=True)
class Routes:
    """Routes of many trips, flat.

    Attributes
    ----------
    ptr
        ``len(trips) + 1`` offsets into ``links``.
    links
        Link ids of all routes, concatenated in driving order.
    """

    ptr: IntArray
    links: IntArray

    def __len__(self) -> int:
        return len(self.ptr) - 1

    @property
    def n_links(self) -> IntArray:
        """Number of links of each route (0 = no route)."""
        return np.diff(self.ptr)

    def route(self, i: int) -> IntArray:
        """Link ids of trip ``i`` in driving order."""
        return self.links[self.ptr[i] : self.ptr[i + 1]]

    def replace(self, trips: IntArray, other: Routes) -> Routes:
        """A copy in which trips ``trips`` take their routes from ``other`` (a Routes over the same trips)."""
        take_new = np.zeros(len(self), dtype=bool)
        take_new[trips] = True
        lens = np.where(take_new, other.n_links, self.n_links)
        ptr = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(lens, out=ptr[1:])
        src_ptr = np.where(take_new, other.ptr[:-1], self.ptr[:-1])
        # gather: for each output slot, its source array and position
        trip_of = np.repeat(np.arange(len(self)), lens)
        within = np.arange(ptr[-1]) - ptr[:-1][trip_of]
        pos = src_ptr[trip_of] + within
        new = take_new[trip_of]
        links = np.empty(int(ptr[-1]), dtype=np.int64)
        links[~new] = self.links[pos[~new]]
        links[new] = other.links[pos[new]]
        return Routes(ptr=ptr, links=links)


class Router:
    """Shortest-path search over a network's links for a given link cost.

    Parallel links between the same two nodes are reduced to the cheapest one for each cost vector.
    """

    def __init__(self, network: RoadNetwork) -> None:
        links = network.links
        self.n_nodes = len(network.nodes)
        self.u: IntArray = links["u"].to_numpy(dtype=np.int64)
        self.v: IntArray = links["v"].to_numpy(dtype=np.int64)

    def route(self, origins: IntArray, destinations: IntArray, cost_s: FloatArray) -> Routes:
        """Shortest routes from ``origins[i]`` to ``destinations[i]`` under link costs ``cost_s`` [s].

        One Dijkstra tree is grown per distinct origin (in chunks that bound memory), never one per trip;
        predecessor arrays are walked back for all trips of a chunk at once with numpy.
        """
        origins = np.asarray(origins, dtype=np.int64)
        destinations = np.asarray(destinations, dtype=np.int64)
        n = len(origins)
        cost = np.maximum(np.asarray(cost_s, dtype=np.float64), _MIN_COST_S)
        nn = self.n_nodes
        # cheapest link per (u, v)
        key = self.u * nn + self.v
        order = np.lexsort((cost, key))
        first = np.ones(len(order), dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        best = order[first]
        best_key = key[best]  # sorted, unique
        graph = csr_matrix((cost[best], (self.u[best], self.v[best])), shape=(nn, nn))

        hop_trip: list[IntArray] = []
        hop_link: list[IntArray] = []
        hop_k: list[IntArray] = []
        n_hops = np.zeros(n, dtype=np.int64)
        uniq, row_of = np.unique(origins, return_inverse=True)
        chunk = max(1, _MAX_TREE_ENTRIES // max(nn, 1))
        trip_order = np.argsort(row_of, kind="stable")
        bounds = np.searchsorted(row_of[trip_order], np.arange(0, len(uniq) + chunk, chunk))
        for c, start in enumerate(range(0, len(uniq), chunk)):
            srcs = uniq[start : start + chunk]
            dist, pred = dijkstra(graph, directed=True, indices=srcs, return_predecessors=True)
            trips = trip_order[bounds[c] : bounds[c + 1]]
            rows = row_of[trips] - start
            dest = destinations[trips]
            ok = np.isfinite(dist[rows, dest]) & (dest != origins[trips])
            act = np.flatnonzero(ok)
            cur = dest.copy()
            k = 0
            while act.size:
                prev = pred[rows[act], cur[act]].astype(np.int64)
                hop = np.searchsorted(best_key, prev * nn + cur[act])
                hop_trip.append(trips[act])
                hop_link.append(best[hop])
                hop_k.append(np.full(act.size, k, dtype=np.int64))
                cur[act] = prev
                act = act[prev != origins[trips[act]]]
                k += 1
        if hop_trip:
            t_all = np.concatenate(hop_trip)
            l_all = np.concatenate(hop_link)
            k_all = np.concatenate(hop_k)
            np.add.at(n_hops, t_all, 1)
        else:
            t_all = l_all = k_all = np.zeros(0, dtype=np.int64)
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(n_hops, out=ptr[1:])
        flat = np.empty(int(ptr[-1]), dtype=np.int64)
        flat[ptr[t_all] + n_hops[t_all] - 1 - k_all] = l_all
        return Routes(ptr=ptr, links=flat)


def route_trips(
    network: RoadNetwork, origins: IntArray, destinations: IntArray, cost_s: FloatArray
) -> Routes:
    """Shortest routes for trips on ``network`` under link costs ``cost_s`` [s] (see :meth:`Router.route`)."""
    return Router(network).route(origins, destinations, cost_s)


def perceived_costs(cost_s: FloatArray, *, rng: np.random.Generator, cv: float, draws: int) -> FloatArray:
    """``draws`` perceived versions of the link costs ``cost_s`` [s], shape ``(draws, n_links)``.

    Each link's perceived time is its expected time times an independent lognormal error with mean 1 and
    coefficient of variation ``cv`` (the probit route-choice model of Daganzo and Sheffi 1977, simulated as in
    Sheffi 1985 ch. 11): a route's perceived time varies the less the more links it has, and near-equal routes
    share the trips instead of one taking them all. ``cv = 0`` gives ``draws`` copies of ``cost_s``.
    Consumes exactly ``draws x n_links`` standard normals from ``rng`` (whatever ``cv`` is: common random numbers).

    References
    ----------
    Daganzo, C. F., Sheffi, Y. (1977). On stochastic models of traffic assignment. Transp. Sci. 11(3), 253-274.
    """
    cost = np.asarray(cost_s, dtype=np.float64)
    eps = rng.standard_normal((draws, len(cost)))
    sigma = float(np.sqrt(np.log1p(cv * cv)))
    out: FloatArray = cost[None, :] * np.exp(sigma * eps - 0.5 * sigma * sigma)
    return out


def msa_switchers(n_trips: int, *, pass_index: int, rng: np.random.Generator) -> IntArray:
    """Positions of the trips that take their new best route in re-routing pass ``pass_index`` (1-based).

    Method of successive averages (Sheffi 1985 ch. 12): in pass ``k`` a random share ``1 / (k + 1)`` of the
    trips switches, so the flows after ``k`` passes are the average of the ``k + 1`` all-or-nothing loadings
    and the step shrinks as the passes go on. Consumes exactly ``n_trips`` uniforms from ``rng``.
    """
    if pass_index < 1:
        raise ValueError(f"msa_switchers: pass_index is 1-based (got {pass_index})")
    u = rng.random(n_trips)
    return np.flatnonzero(u < 1.0 / (pass_index + 1)).astype(np.int64)
