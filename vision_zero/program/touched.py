"""What an intervention changed: the links, nodes (junctions) and crossings it touched.

Applying an intervention (:meth:`vision_zero.program.interventions.Intervention.apply`) returns this record with
the new network, so that later stages never re-guess it by comparing tables: the KSI split "on the changed streets
vs elsewhere" (:mod:`vision_zero.appraisal.ksi_split`), the speed charts and the maps read it. Ids are row
positions in the tables of the network the intervention returned (a new crossing has its new id).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from vision_zero.network.road_network import RoadNetwork

__all__ = ["Touched"]

IntArray = npt.NDArray[np.int64]


def _ids(values: Any) -> IntArray:
    return np.unique(np.asarray(values, dtype=np.int64).ravel())


def _empty() -> IntArray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Touched:
    """Ids of the links, nodes and crossings an intervention (or a whole scenario) changed; sorted, unique.

    Attributes
    ----------
    links
        Links whose attributes changed (limit, lanes, capacity, speed factors, design speed …).
    nodes
        Junctions whose control changed (e.g. a roundabout).
    crossings
        Crossings upgraded or added.
    """

    links: IntArray = field(default_factory=_empty)
    nodes: IntArray = field(default_factory=_empty)
    crossings: IntArray = field(default_factory=_empty)

    @classmethod
    def of(cls, *, links: Any = (), nodes: Any = (), crossings: Any = ()) -> Touched:
        """A record from id lists or arrays (a boolean mask counts as the positions where it is true)."""

        def ids(values: Any) -> IntArray:
            arr = np.asarray(values)
            return _ids(np.flatnonzero(arr) if arr.dtype == bool else arr)

        return cls(links=ids(links), nodes=ids(nodes), crossings=ids(crossings))

    @staticmethod
    def union(records: Iterable[Touched]) -> Touched:
        """Everything any of ``records`` touched (e.g. all interventions of a scenario)."""
        recs = list(records)
        return Touched(
            links=_ids(np.concatenate([_empty(), *(r.links for r in recs)])),
            nodes=_ids(np.concatenate([_empty(), *(r.nodes for r in recs)])),
            crossings=_ids(np.concatenate([_empty(), *(r.crossings for r in recs)])),
        )

    def __bool__(self) -> bool:
        return bool(len(self.links) or len(self.nodes) or len(self.crossings))

    def site_links(self, network: RoadNetwork) -> IntArray:
        """The links of every touched site on ``network`` (the network the interventions returned).

        The touched links; for each touched crossing the links that pass over it; for each touched node, and the
        node of each touched crossing at a junction, the junction's approaches (the links that end there; those
        that start there if none ends there). These are the links the risk model's crossing and junction
        casualties are placed on (:func:`vision_zero.appraisal.attribution.link_ksi_per_year`).
        """
        cl = network.crossing_links
        on_touched = np.isin(cl["crossing"].to_numpy(dtype=np.int64), self.crossings)
        over = cl["link"].to_numpy(dtype=np.int64)[on_touched]
        at = network.crossings["node"].to_numpy(dtype=np.int64)[self.crossings]
        junctions = np.union1d(self.nodes, at[at >= 0])
        u = network.links["u"].to_numpy(dtype=np.int64)
        v = network.links["v"].to_numpy(dtype=np.int64)
        approaches = np.isin(v, junctions) | (np.isin(u, junctions) & np.isin(u, v, invert=True))
        return _ids(np.concatenate([self.links, over, np.flatnonzero(approaches)]))
