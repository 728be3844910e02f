"""The boundedly rational response to a change to the network: held routes and the indifference band.

Private helper of :mod:`vision_zero.traffic.routing` (which re-exports every name). A variant of a paired baseline
starts from the routes its drivers had (:class:`HeldRoutes`), and a driver leaves his only for a saving beyond his
indifference band (:func:`indifference_band_s`, :func:`band_switchers`; :func:`band_limit_s`, the cost above which
he cannot, for a search that stops there).

References
----------
Mahmassani, H. S., Chang, G.-L. (1987). On boundedly rational user equilibrium in transportation systems.
Transp. Sci. 21(2), 89-99.
Mahmassani, H. S., Jayakrishnan, R. (1991). System performance and user response under real-time information in
a congested traffic corridor. Transp. Res. A 25(5), 293-307.
Mahmassani, H. S., Liu, Y.-H. (1999). Dynamics of commuting decision behaviour under Advanced Traveller
Information Systems. Transp. Res. C 7(2-3), 91-107.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.traffic._equilibrium_steps import SAME_COST_S, route_cost_s
from vision_zero.traffic._router import Router
from vision_zero.traffic._routes import RouteCosts, Routes

__all__ = ["HeldRoutes", "band_limit_s", "band_switchers", "indifference_band_s"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
