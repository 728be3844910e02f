"""Routes of many trips, stored flat, and the costs a simulation's routes were last compared at.

Private helper of :mod:`vision_zero.traffic.routing` (which re-exports both classes).
Routes are stored flat (CSR style): the links of trip ``i`` are ``links[ptr[i]:ptr[i + 1]]``, in driving order.
A trip whose destination cannot be reached, or whose origin is its destination, has an empty route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.traffic._kernels import VERTEX_DTYPE
from vision_zero.traffic._position_kernels import replace_routes

__all__ = ["LinkIds", "RouteCosts", "Routes"]

IntArray = npt.NDArray[np.int64]
#: Link ids of routes (int32: :data:`vision_zero.traffic._kernels.VERTEX_DTYPE`).
LinkIds = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


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
