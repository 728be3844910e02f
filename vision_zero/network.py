"""Road networks: loading (osmnx place/bbox/polygon, OSM XML, GraphML, ``schematic:``) and the flat tables.

Every source becomes one :class:`RoadNetwork`: the osmnx ``MultiDiGraph`` (for plotting and export) and flat
tables whose row positions are the ids the rest of the package uses.

Table contract (all other modules rely on these columns; add columns freely, never rename these):

``nodes`` (index ``0..N-1`` is the node id)
    ``osmid`` int64, ``lon``/``lat`` float [deg], ``x_m``/``y_m`` float (projected, metres),
    ``highway`` str ("" if untagged), ``signalised`` bool, ``crossing`` str ("" if the node is no crossing).
``links`` (index ``0..M-1`` is the link id; one row per directed graph edge)
    ``u``/``v`` int (node ids), ``osm_u``/``osm_v`` int64, ``key`` int, ``osm_way`` str,
    ``name`` str, ``highway`` str (road class), ``length_m`` float, ``lanes`` int (this direction),
    ``oneway`` bool, ``speed_limit_kph`` float, ``capacity_vph`` float (this direction, all lanes),
    ``free_flow_travel_time_s`` float (at the limit), ``storage_veh`` float (queue room),
    ``reverse`` int (link id of the opposite direction, -1 if none).
``crossings`` (index ``0..C-1`` is the crossing id)
    ``node`` int (node id, -1 if the crossing lies along a link), ``link`` int (-1 if at a node),
    ``offset_m`` float (distance from the link's start, NaN at a node), ``lon``/``lat`` float,
    ``crossing_type`` str (see :data:`CROSSING_TYPES`), ``lanes_crossed`` int, ``osmid`` int64 (-1 if added).
``crossing_links``
    ``crossing`` int, ``link`` int: the links whose vehicles pass over each crossing (for a crossing at a node,
    the links that end at that node; along a link, that link and its reverse).

Optional link columns that interventions set and the simulation reads (absent = the default in brackets):

``reference_speed_kph`` [``speed_limit_kph`` as loaded]
    The limit drivers and the road's design are used to. A driver's desired mean speed is
    ``reference + offset + speed_response * (speed_limit_kph - reference)`` (SCIENCE.md §4, §8).
``speed_response`` [1.0]
    Share of a limit change that shows in driven speeds: signs only ~0.1, police/camera ~0.25-0.4, calming ~1.
``mean_speed_factor`` [1.0]
    Multiplies desired speeds (e.g. a fixed camera's local effect on mean speed).
``over_limit_factor`` [1.0]
    Multiplies the part of a desired speed above the limit (a camera cuts speeding more than the mean).
``design_speed_kph`` [NaN]
    Physical calming: desired speeds are capped near this design speed.
``junction_control`` on nodes [``"signal"`` if signalised else ``"priority"``]
    ``"signal"``, ``"priority"`` or ``"roundabout"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import pandas as pd

__all__ = ["CROSSING_TYPES", "RoadNetwork"]

#: Crossing types known to the risk model.
CROSSING_TYPES: tuple[str, ...] = (
    "unmarked",
    "marked",
    "signalised",
    "raised",
    "refuge_island",
    "rrfb",
    "phb",
    "leading_pedestrian_interval",
)


@dataclass(frozen=True)
class RoadNetwork:
    """A road network as flat tables plus the osmnx graph it came from.

    Attributes
    ----------
    graph
        The osmnx ``MultiDiGraph`` (unprojected, EPSG:4326) with normalised attributes.
    nodes, links, crossings, crossing_links
        The flat tables described in the module docstring.
    source
        What it was loaded from (a place query, a file path, ``schematic:almaty?scale=...``).
    schematic
        True for the built-in generated network: no result on it is a finding about a real city.
    defaulted
        For each normalised attribute, how many links or nodes had their value defaulted.
    """

    graph: nx.MultiDiGraph[Any]
    nodes: pd.DataFrame
    links: pd.DataFrame
    crossings: pd.DataFrame
    crossing_links: pd.DataFrame
    source: str
    schematic: bool
    defaulted: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """A short description to print next to any result: says 'schematic' where that applies."""
        kind = "SCHEMATIC network (not real geometry)" if self.schematic else "OpenStreetMap network"
        return f"{kind}: {self.source}"

    def with_tables(
        self,
        *,
        links: pd.DataFrame | None = None,
        nodes: pd.DataFrame | None = None,
        crossings: pd.DataFrame | None = None,
        crossing_links: pd.DataFrame | None = None,
    ) -> RoadNetwork:
        """A copy with some tables replaced (what interventions return); the graph is shared, not copied."""
        return replace(
            self,
            links=self.links if links is None else links,
            nodes=self.nodes if nodes is None else nodes,
            crossings=self.crossings if crossings is None else crossings,
            crossing_links=self.crossing_links if crossing_links is None else crossing_links,
        )
