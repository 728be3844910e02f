"""Road networks: loading (osmnx place/bbox/polygon, OSM XML, GraphML, ``schematic:``) and the flat tables.

Every source becomes one :class:`RoadNetwork`: the osmnx ``MultiDiGraph`` (for plotting and export) and flat
tables whose row positions are the ids the rest of the package uses.

Table contract (all other modules rely on these columns; add columns freely, never rename these). One builder,
:func:`network_from_tables`, fills every column with its default, there and only there; the loaders, the tests and
the benchmarks build networks through it:

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

Columns added by :func:`load_network` beyond the contract: links ``speed_limit_defaulted`` and
``lanes_defaulted`` (bool: no usable OSM tag, the default of the network's country/class was used); nodes
``boundary`` (bool, default False: a node where a drivable way was cut at the edge of a clipped OSM file, i.e.
where traffic enters and leaves the extract; external zones of the demand model sit there); where an OSM file
carries buildings or landuse areas, nodes ``home_m2`` and ``job_m2`` (float: floor area of homes and of workplaces
nearest to the node, :func:`vision_zero.network._sources.snap_land_use`; the demand model's trip ends). Dtypes: ids and counts
int64, quantities float64, flags bool, text the pandas string dtype (``str``); ``osm_way`` and ``name`` join
several values with ``;`` where osmnx merged ways. ``storage_veh`` is not rounded (a 5 m link holds < 1 vehicle).

Optional link columns that interventions set and the simulation reads (absent = the default in brackets):

``reference_speed_kph`` [``speed_limit_kph`` as loaded]
    The limit drivers and the road's design are used to. A driver's desired mean speed is
    ``reference + offset + speed_response * (speed_limit_kph - reference)`` (SCIENCE.md §4, §8).
``speed_response`` [1.0]
    Share of a limit change that shows in driven speeds: signs only ~0.1, police/camera ~0.25-0.4, calming ~1.
``mean_speed_factor`` [1.0]
    Multiplies desired speeds (e.g. a fixed camera's local effect on mean speed).
``over_limit_factor`` [1.0]
    Share of the drivers above the limit who stay above it; the others keep to the limit (a camera cuts speeding
    more than the mean).
``design_speed_kph`` [NaN]
    Physical calming: desired speeds are capped near this design speed.
``exit_capacity_vph`` [NaN: none]
    A junction capacity on the link's end (veh/h, all lanes), e.g. a roundabout's entry capacity.
``merge_priority`` [1.0]
    A link's weight where it merges with others into one link: saturated entrances share the downstream link in
    proportion to capacity x this (UXsim's ``merge_priority``).
``link_capacity_vph`` [NaN: none]
    An explicit flow capacity of the link (veh/h, all lanes; a bottleneck along it) where lower than its own.
    Otherwise the simulation takes a link's flow capacity
    from its own triangular fundamental diagram (speed, storage, backward wave) and the losses at junctions from
    their control; ``capacity_vph`` (the road class's junction-inclusive MATSim capacity) is not a link cap in
    the simulation (demand uses it to weight external zones).
``backward_wave_speed_kph`` [NaN: ``traffic.backward_wave_speed_kph``]
    The link's own backward wave speed (its triangular fundamental diagram's congested branch): sets its flow
    capacity with its speed and storage, and how fast room freed at its end reaches its start.
``junction_control`` on nodes [``"signal"`` if signalised else ``"priority"``]
    ``"signal"``, ``"priority"`` or ``"roundabout"``.
``signal_offset_s`` on nodes [NaN: a fixed pseudo-random offset per node]
    A signal's offset in its cycle [s]: when its east-west green starts (a known plan or a green wave), or its
    phase 0 where ``signal_phases_s`` is given.
``signal_phases_s`` on nodes [empty: the model's fixed-time two-phase plan by approach axis]
    A known plan at a signal: its phases' durations in cycle order [s, effective green, no lost time taken off],
    separated by ``;`` (``"50;10;40;5"``); with ``signal_group`` on every link entering the node.
``signal_group`` on links [empty]
    At the end of a link into a node with ``signal_phases_s``: the phases in which the link has green, following
    each other in the cycle (``"0;1"``; UXsim's ``signal_group``). :mod:`vision_zero.traffic._signal_plan`.
``flow_capacity_vph`` on nodes [NaN: none]
    A flow capacity the node shares among all its entering links (veh/h; UXsim's node ``flow_capacity``): every
    vehicle passing from one link into another takes one slot, crossing streams included; over capacity the
    entrances share it in proportion to capacity x ``merge_priority``. No node has one by default.

Loading (:func:`load_network`): the source decides the path.

``schematic:almaty?scale=tiny&seed=3``
    The built-in generator (:mod:`vision_zero.network.schematic`); results on it are labelled schematic.
``bbox:west,south,east,north``, a place name, a polygon file (``.geojson``/``.json``/``.gpkg``/``.shp``)
    osmnx download (``network_type="drive"``), cached as GraphML in ``cache_dir`` with the query, date and osmnx
    version in the graph metadata; later calls read the cache and need no network.
``*.osm.pbf``, ``*.pbf``, ``*.osm``, ``*.osm.bz2``, ``*.xml``, ``*.osm.xml``
    Read with pyosmium, ways cut at the file's edge (clipped extracts load; the clipped ways are counted and their
    cut ends marked as ``boundary`` nodes; :mod:`vision_zero.network._extract`), then ``osmnx.graph_from_xml``
    plus osmnx's "drive" filter (graph_from_xml applies none).
``*.graphml``
    A graph saved earlier (``vision-zero network build``, or any osmnx GraphML).

OSM graphs are built unsimplified, then simplified keeping every traffic-signal and crossing node as a graph node
(a crossing in the middle of a way splits the way), and keeping a node wherever ``highway``, ``maxspeed`` or
``lanes`` change. Tags are normalised by :mod:`vision_zero.network.osm_tags` with the implicit speed limits of
the network's country (:mod:`vision_zero.network.country`: given, or detected from the data).

OSM nodes and ways become table rows in :mod:`vision_zero.network.osm_elements`; the tables are completed (every
column's default) and checked in :mod:`vision_zero.network.tables`.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.core.units import m_to_km
from vision_zero.network import osm_tags
from vision_zero.network.country import country_name, detect_country
from vision_zero.network.osm_elements import node_coordinates, osm_link_table, osm_node_table, present_tags
from vision_zero.network.tables import (
    check_tables,
    complete_crossings,
    complete_links,
    complete_nodes,
    crossing_tables,
)

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "CROSSING_TYPES",
    "LINK_DEFAULTS",
    "SIGNAL_CROSSING_TYPES",
    "CrossingType",
    "RoadNetwork",
    "check_tables",  # from tables.py: benchmarks/bench_checks.py imports it from here
    "junction_control",
    "link_column",
    "load_network",
    "network_fingerprint",
    "network_from_elements",
    "network_from_graph",
    "network_from_osm_tables",
    "network_from_tables",
    "network_summary",
    "node_legs",
    "save_network_graph",
]

#: A crossing type known to the risk model (the type of the ``crossing_type`` column and of scenario files).
CrossingType = Literal[
    "unmarked",
    "marked",
    "signalised",
    "raised",
    "refuge_island",
    "rrfb",
    "phb",
    "leading_pedestrian_interval",
]
#: Crossing types known to the risk model, in this order in messages.
CROSSING_TYPES: tuple[CrossingType, ...] = get_args(CrossingType)
#: Crossing types where a signal stops the traffic for pedestrians.
SIGNAL_CROSSING_TYPES: tuple[CrossingType, ...] = ("signalised", "leading_pedestrian_interval")

#: Optional link columns that interventions set and the simulation and risk model read, with their value on a
#: network no intervention touched (module docstring). ``reference_speed_kph`` defaults to ``speed_limit_kph``.
LINK_DEFAULTS: dict[str, float] = {
    "speed_response": 1.0,
    "mean_speed_factor": 1.0,
    "over_limit_factor": 1.0,
    "design_speed_kph": math.nan,
    "merge_priority": 1.0,
    "backward_wave_speed_kph": math.nan,
}


@dataclass(frozen=True)
class RoadNetwork:
    """A road network as flat tables plus the osmnx graph it came from.

    Attributes
    ----------
    graph
        The osmnx ``MultiDiGraph`` (unprojected, EPSG:4326) with normalised attributes: ``source_graph``, or
        for a network built from tables alone a plain graph of its tables, built when first asked for (#16: a
        simulation never reads the graph, and networkx's import and the build cost a short run ~0.2 CPU-s).
    source_graph
        The graph the tables came from (None: built from tables alone).
    nodes, links, crossings, crossing_links
        The flat tables described in the module docstring.
    source
        What it was loaded from (a place query, a file path, ``schematic:almaty?scale=...``).
    schematic
        True for the built-in generated network: no result on it is a finding about a real city.
    defaulted
        For each normalised attribute, how many links or nodes had their value defaulted (and
        ``maxspeed_none_ignored``: links whose ``maxspeed=none`` was ignored because they are no motorway/trunk).
    country, country_source
        The country whose implicit speed limits were the defaults (ISO code or ``generic``), and how it was chosen.
    default_speed_kph
        Those defaults [km/h] by category: ``urban``, ``living_street``, ``rural``, ``motorway``.
    area_share
        Share of a whole city's area the network covers, where that is known (the schematic generator's
        ``scale``; demand then takes that share of the city's vehicle-km); None for OSM networks.
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    crossings: pd.DataFrame
    crossing_links: pd.DataFrame
    source: str
    schematic: bool
    defaulted: dict[str, int] = field(default_factory=dict)
    country: str = osm_tags.GENERIC_COUNTRY
    country_source: str = ""
    default_speed_kph: dict[str, float] = field(default_factory=dict)
    area_share: float | None = None
    source_graph: nx.MultiDiGraph[Any] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def graph(self) -> nx.MultiDiGraph[Any]:
        """The osmnx graph the tables came from, else a plain graph of the tables (class docstring)."""
        return self.source_graph if self.source_graph is not None else _plain_graph(self.nodes, self.links)

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
        built = self.__dict__.get("graph")  # the plain graph of a network from tables, once built: shared too
        return replace(
            self,
            source_graph=self.source_graph if built is None else built,
            links=self.links if links is None else links,
            nodes=self.nodes if nodes is None else nodes,
            crossings=self.crossings if crossings is None else crossings,
            crossing_links=self.crossing_links if crossing_links is None else crossing_links,
        )


def link_column(links: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """An optional link column as float64, or its default where no intervention has set it (:data:`LINK_DEFAULTS`).

    ``reference_speed_kph`` (the limit drivers are used to) defaults to the link's ``speed_limit_kph``.
    """
    if name in links.columns:
        return links[name].to_numpy(dtype=np.float64)
    if name == "reference_speed_kph":
        return links["speed_limit_kph"].to_numpy(dtype=np.float64)
    return np.full(len(links), LINK_DEFAULTS[name], dtype=np.float64)


def junction_control(nodes: pd.DataFrame) -> npt.NDArray[np.str_]:
    """Per node ``"signal"``, ``"priority"`` or ``"roundabout"``: the ``junction_control`` column or its default.

    The default (no intervention set it) is ``"signal"`` where the node is signalised, else ``"priority"``.
    """
    if "junction_control" in nodes.columns:
        return nodes["junction_control"].astype(str).to_numpy(dtype=str)
    return np.where(nodes["signalised"].to_numpy(dtype=bool), "signal", "priority")


def node_legs(u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], n_nodes: int) -> npt.NDArray[np.int64]:
    """Per node, its legs: the neighbouring nodes a link in either direction joins it to; a junction has 3 or more.

    Parallel and two-way links count once, a link to itself not at all. ``u``, ``v``: the links' end nodes
    (0 … ``n_nodes`` − 1). The one count of a node's legs: the signal plans' arms
    (:mod:`vision_zero.traffic._signals`), the give-way junctions (:mod:`vision_zero.traffic._give_way`) and the
    pedestrians' junctions (:func:`vision_zero.traffic.pedestrians.junction_legs`) read it.
    """
    node, other = np.concatenate([u, v]), np.concatenate([v, u])
    keep = node != other
    width = max(n_nodes, 1)
    pairs = np.unique(node[keep] * width + other[keep])  # each (node, neighbour) once
    out: npt.NDArray[np.int64] = np.bincount(pairs // width, minlength=n_nodes).astype(np.int64)
    return out


#: Keys of :attr:`RoadNetwork.defaulted`, with the table whose rows they count.
DEFAULTED_ATTRIBUTES: dict[str, str] = {
    "highway": "links",
    "speed_limit_kph": "links",
    "lanes": "links",
    "oneway": "links",
    "crossing_type": "crossings",
}


def load_network(
    source: str | Path,
    *,
    cache_dir: Path = Path("networks"),
    parameters: ParameterSet | None = None,
    retain_all: bool = False,
    timeout_s: float = 20.0,
    country: str | None = None,
) -> RoadNetwork:
    """Load a road network from any supported source (see the module docstring) as flat tables.

    Parameters
    ----------
    source
        ``schematic:almaty?scale=tiny&seed=3``, ``bbox:west,south,east,north``, a place name, or a path to an
        OSM file (``.osm.pbf``, ``.osm``, ``.osm.bz2``, ``.xml``), GraphML or polygon (GeoJSON …) file.
    cache_dir
        Where downloads are cached as GraphML (a second call with the same query reads the cache).
    parameters
        Parameter set with the ``network.*`` defaults; the shipped one if omitted.
    retain_all
        Keep every weakly connected piece of an OSM graph, not only the largest (osmnx's option).
    timeout_s
        HTTP timeout of an osmnx download [s], so that a machine without internet fails fast.
    country
        ISO code of the country whose implicit speed limits fill missing ``maxspeed`` (e.g. ``"FI"``); detected
        from the data if omitted (:mod:`vision_zero.network.country`).

    Raises
    ------
    InputFileNotFoundError, DataError, NetworkSourceError
        A missing file, an unreadable file, a source that is not understood or cannot be downloaded.
    """
    from vision_zero.network._sources import load_graph

    loaded = load_graph(source, cache_dir=Path(cache_dir), retain_all=retain_all, timeout_s=timeout_s)
    return network_from_graph(
        loaded.graph, source=loaded.label, schematic=loaded.schematic, parameters=parameters, country=country
    )


def save_network_graph(network: RoadNetwork, path: Path) -> Path:
    """Save the network's graph as osmnx GraphML (atomically); ``load_network(path)`` gives the network back."""
    from vision_zero.network._sources import save_graphml_atomic

    graph = network.graph
    graph.graph["schematic"] = network.schematic
    graph.graph.setdefault("source", network.source)
    return save_graphml_atomic(graph, Path(path))


def network_fingerprint(network: RoadNetwork) -> str:
    """A stable hash (16 hex digits) of the node, link and crossing tables, for result manifests.

    Equal tables give equal fingerprints across runs and machines; any change of a value, a column or the row
    order (e.g. an intervention setting ``speed_limit_kph``) changes it. The graph is not hashed.
    """
    h = hashlib.sha256()
    for name in ("nodes", "links", "crossings", "crossing_links"):
        table: pd.DataFrame = getattr(network, name)
        h.update(f"{name}:{len(table)}:{'|'.join(map(str, table.columns))}:{table.dtypes.tolist()}".encode())
        if len(table.columns):
            h.update(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def network_from_graph(
    graph: nx.MultiDiGraph[Any],
    *,
    source: str,
    schematic: bool | None = None,
    parameters: ParameterSet | None = None,
    country: str | None = None,
) -> RoadNetwork:
    """Build the flat tables of an osmnx-style graph (unprojected, OSM tags as strings).

    The steps are :func:`network_from_elements`'s, on the graph's nodes and edges in the graph's order.
    Normalised values are also written onto the graph (edge ``link_id``, ``road_class``, ``speed_limit_kph``,
    ``lanes_dir``, ``capacity_vph``; node ``node_id``, ``signalised``, ``crossing_type``, ``boundary``; graph
    ``country``, ``country_source``) for plotting/export. ``schematic`` defaults to the graph attribute of that
    name; ``country`` (ISO code) to the one :func:`~vision_zero.network.country.detect_country` finds.

    Raises
    ------
    DataError
        No links, or a ``country`` without a default speed-limit table.
    """
    ids = list(graph.nodes)
    network = network_from_elements(
        ids,
        [graph.nodes[n] for n in ids],
        list(graph.edges(keys=True, data=True)),
        source=source,
        graph_attrs=graph.graph,
        schematic=schematic,
        parameters=parameters,
        country=country,
        graph=graph,
    )
    graph.graph.update(
        country=network.country, country_source=network.country_source, schematic=network.schematic
    )
    nodes, links = network.nodes, network.links
    signalised, crossing = nodes["signalised"].to_numpy(), nodes["crossing"].to_numpy()
    boundary = nodes["boundary"].to_numpy()
    for i, n in enumerate(ids):
        graph.nodes[n].update(
            node_id=i,
            signalised=bool(signalised[i]),
            crossing_type=str(crossing[i]),
            boundary=bool(boundary[i]),
        )
    road = links["highway"].to_numpy()
    speed = links["speed_limit_kph"].to_numpy()
    lanes = links["lanes"].to_numpy()
    capacity = links["capacity_vph"].to_numpy()
    for i, (_u, _v, _k, data) in enumerate(graph.edges(keys=True, data=True)):
        data.update(
            link_id=i,
            road_class=str(road[i]),
            speed_limit_kph=float(speed[i]),
            lanes_dir=int(lanes[i]),
            capacity_vph=float(capacity[i]),
        )
    return network


def network_from_elements(
    node_ids: Sequence[Any],
    node_tags: Sequence[Mapping[str, Any]],
    edges: Sequence[tuple[Any, Any, int, Mapping[str, Any]]],
    *,
    source: str,
    graph_attrs: Mapping[str, Any] | None = None,
    schematic: bool | None = None,
    parameters: ParameterSet | None = None,
    country: str | None = None,
    graph: nx.MultiDiGraph[Any] | None = None,
) -> RoadNetwork:
    """The loader's steps from OSM elements to a :class:`RoadNetwork`, with or without a graph (their one owner).

    The country (given, or :func:`~vision_zero.network.country.detect_country` on the graph attributes, the
    edges' tags and the median node), the tags normalised with its defaults (:func:`osm_tags.normalise_link`,
    :func:`osm_tags.is_signalised`, :func:`osm_tags.crossing_type`), nodes projected to their UTM zone, the
    tables checked (:func:`check_tables`) and completed (:func:`network_from_tables`), the defaulted counts.

    Parameters
    ----------
    node_ids, node_tags
        Per node (node id = its position here): its OSM id and its attributes, ``x``/``y`` in degrees and OSM
        node tags (an absent key is an absent tag).
    edges
        Per link, in link-id order: ``(u, v, key, tags)`` with ``u``/``v`` among ``node_ids`` and the OSM way tags
        (``highway``, ``maxspeed``, ``lanes``, ``oneway``, ``reversed``, ``length`` [m], ``osmid``, ``name``, …).
    graph_attrs
        The graph's attributes (``crs``, a saved ``country``, ``schematic``, ``schematic_scale``); none: ``{}``.
    schematic
        Default: the graph attribute of that name.
    graph
        The graph the elements are of, kept as the network's ``source_graph`` (None: a plain graph of the
        tables when one is asked for).

    Raises
    ------
    DataError
        No links, a bad coordinate or value (:func:`check_tables`), or a ``country`` without a default
        speed-limit table.
    """
    from vision_zero.core.errors import DataError

    attrs: Mapping[str, Any] = {} if graph_attrs is None else graph_attrs
    if not edges:
        raise DataError(f"{source}: the road graph has no links")
    params = parameters if parameters is not None else load_parameters()
    known = osm_tags.countries_with_limits(params)
    if country is not None and country.upper() not in known:
        raise DataError(
            f"{source}: country {country!r}: no default speed limits for it in network.toml; expected one of "
            f"{[k for k in known if k != osm_tags.GENERIC_COUNTRY]}"
        )
    lon, lat = node_coordinates(node_ids, node_tags, source)  # a DataError naming a bad node
    lonlat = (float(np.median(lon)), float(np.median(lat))) if len(node_ids) else None
    chosen = detect_country(attrs, (d for _u, _v, _k, d in edges), lonlat, known=known, explicit=country)
    defaults = osm_tags.TagDefaults.from_parameters(params, country=chosen.code)
    nodes, index, defaulted_crossings = osm_node_table(node_ids, node_tags, lon, lat)
    links, counts = osm_link_table(edges, index, defaults)
    check_tables(source, nodes, links, max_speed_kph=max(defaults.max_posted_kph, defaults.none_kph))
    is_schematic = bool(attrs.get("schematic", False)) if schematic is None else schematic
    return _assemble(
        nodes,
        links,
        defaults,
        crossings=None,
        graph=graph,
        source=source,
        schematic=is_schematic,
        defaulted={**counts, "crossing_type": defaulted_crossings},
        country=chosen.code,
        country_source=chosen.how,
        default_speed_kph=defaults.country_limits.by_context(),
        area_share=float(attrs["schematic_scale"]) if is_schematic and "schematic_scale" in attrs else None,
    )


def network_from_osm_tables(
    nodes: pd.DataFrame,
    links: pd.DataFrame,
    *,
    source: str,
    graph_attrs: Mapping[str, Any] | None = None,
    schematic: bool | None = None,
    parameters: ParameterSet | None = None,
    country: str | None = None,
) -> RoadNetwork:
    """The network the loader builds from a graph of these OSM-style tables, without building the graph.

    :func:`network_from_elements` on the tables' rows, listed as an osmnx ``MultiDiGraph`` would list them, so
    the result equals :func:`network_from_graph` on a graph with these nodes and edges added in row order, bit for
    bit (``tests/network/test_road_network.py``). No networkx is imported and no graph is kept.

    Parameters
    ----------
    nodes
        One row per node, in order: ``osmid`` (the node's id), ``lon``, ``lat`` [deg], and OSM node tags as further
        columns (e.g. ``highway``); a None or NaN cell is an absent tag.
    links
        One row per directed edge: ``osm_u``, ``osm_v`` (node ``osmid``), optionally ``key`` (default: 0, 1, … per
        node pair in row order, as a graph numbers edges added in that order), and OSM way tags as further columns
        (``highway``, ``maxspeed``, ``lanes``, ``oneway``, ``reversed``, ``length`` [m], ``osmid``, ``name`` …);
        a None or NaN cell is an absent tag. Link ids follow the graph's edge order: by origin node in the order
        of ``nodes``, then by destination in the order it first appears from that origin, then in row order.
    graph_attrs, schematic, parameters, country
        As :func:`network_from_elements`.
    """
    ids = nodes["osmid"].tolist()
    node_columns = {c: nodes[c].tolist() for c in nodes.columns if c not in ("osmid", "lon", "lat")}
    node_columns = {"x": nodes["lon"].tolist(), "y": nodes["lat"].tolist(), **node_columns}
    node_tags = [present_tags(node_columns, i) for i in range(len(ids))]
    osm_u, osm_v = links["osm_u"].tolist(), links["osm_v"].tolist()
    if "key" in links.columns:
        keys = [int(k) for k in links["key"].tolist()]
    else:  # a graph's default key: how many edges of the same pair were added before
        seen: dict[tuple[Any, Any], int] = defaultdict(int)
        keys = []
        for pair in zip(osm_u, osm_v, strict=True):
            keys.append(seen[pair])
            seen[pair] += 1
    link_columns = {c: links[c].tolist() for c in links.columns if c not in ("osm_u", "osm_v", "key")}
    position = {n: i for i, n in enumerate(ids)}
    first: dict[tuple[Any, Any], int] = {}  # a graph's adjacency: per origin, destinations as first added
    for j, pair in enumerate(zip(osm_u, osm_v, strict=True)):
        first.setdefault(pair, j)
    order = sorted(range(len(osm_u)), key=lambda j: (position[osm_u[j]], first[osm_u[j], osm_v[j]], j))
    edges = [(osm_u[j], osm_v[j], keys[j], present_tags(link_columns, j)) for j in order]
    return network_from_elements(
        ids,
        node_tags,
        edges,
        source=source,
        graph_attrs=graph_attrs,
        schematic=schematic,
        parameters=parameters,
        country=country,
    )


def network_from_tables(
    nodes: pd.DataFrame,
    links: pd.DataFrame,
    *,
    source: str,
    schematic: bool = False,
    crossings: pd.DataFrame | None = None,
    graph: nx.MultiDiGraph[Any] | None = None,
    parameters: ParameterSet | None = None,
    defaulted: dict[str, int] | None = None,
    area_share: float | None = None,
) -> RoadNetwork:
    """The one builder of a :class:`RoadNetwork`: fills every column of the table contract (module docstring).

    Every loader (:func:`network_from_graph`), the tests and the benchmarks build networks here; a column's
    default lives here and only here. Given columns are kept (cast to the contract's dtype), missing ones get
    their default, derived ones are always derived, and extra columns are kept after the contract's.

    Parameters
    ----------
    nodes
        Needs ``lon``, ``lat``. Defaults: ``x_m``/``y_m`` projected to the local UTM zone, ``osmid`` -1,
        ``highway`` "", ``signalised`` False, ``crossing`` "", ``boundary`` False (not a cut edge of an extract).
    links
        Needs ``u``, ``v`` (node row ids) and ``length_m``. Defaults: ``highway`` the untagged road class,
        ``lanes``, ``speed_limit_kph`` and ``capacity_vph`` the class defaults of the ``network.*`` parameters,
        ``key`` 0, ``osm_u``/``osm_v`` the nodes' ``osmid``, ``osm_way``/``name`` "", ``oneway`` (no link back),
        ``storage_veh`` (length x lanes x jam density), ``speed_limit_defaulted``/``lanes_defaulted`` False.
        Always derived: ``free_flow_travel_time_s`` (:func:`~vision_zero.network.tables.free_flow_travel_time_s`) and ``reverse``.
    source, schematic, defaulted, area_share
        As the :class:`RoadNetwork` attributes.
    crossings
        Rows with ``node`` (-1 if along a link), ``link`` (-1 if at a node), ``offset_m``, ``crossing_type``
        and optionally ``lanes_crossed``, ``lon``/``lat``, ``osmid``; None: one crossing at every node with a
        ``crossing`` type. ``crossing_links`` are derived (module docstring).
    graph
        The osmnx graph the tables came from; None: a plain graph of the tables (nodes keyed by ``osmid``,
        straight edges) for plotting.
    parameters
        Parameter set with the ``network.*`` defaults; the shipped one if omitted.
    """
    defaults = osm_tags.TagDefaults.from_parameters(
        parameters if parameters is not None else load_parameters()
    )
    return _assemble(
        nodes,
        links,
        defaults,
        source=source,
        schematic=schematic,
        crossings=crossings,
        graph=graph,
        defaulted=dict(defaulted or {}),
        area_share=area_share,
    )


def _assemble(
    nodes: pd.DataFrame,
    links: pd.DataFrame,
    defaults: osm_tags.TagDefaults,
    *,
    crossings: pd.DataFrame | None,
    graph: nx.MultiDiGraph[Any] | None,
    **attributes: Any,
) -> RoadNetwork:
    """The tables completed (:func:`network_from_tables`) and the network's other attributes, as a RoadNetwork."""
    node_table = complete_nodes(nodes)
    link_table = complete_links(links, node_table, defaults)
    if crossings is None:
        crossing_table, crossing_links = crossing_tables(node_table, link_table)
    else:
        crossing_table, crossing_links = complete_crossings(crossings, node_table, link_table)
    return RoadNetwork(
        source_graph=graph,
        nodes=node_table,
        links=link_table,
        crossings=crossing_table,
        crossing_links=crossing_links,
        **attributes,
    )


def _plain_graph(nodes: pd.DataFrame, links: pd.DataFrame) -> nx.MultiDiGraph[Any]:
    """A graph of the tables for plotting: nodes keyed by ``osmid`` (the row id where it is -1), straight edges."""
    import networkx as nx

    osmid = nodes["osmid"].to_numpy(dtype=np.int64)
    ids = np.where(osmid >= 0, osmid, np.arange(len(nodes)))
    graph: nx.MultiDiGraph[Any] = nx.MultiDiGraph(crs="epsg:4326")
    for i, (x, y) in enumerate(zip(nodes["lon"].to_numpy(), nodes["lat"].to_numpy(), strict=True)):
        graph.add_node(int(ids[i]), x=float(x), y=float(y), node_id=i)
    u, v = links["u"].to_numpy(dtype=np.int64), links["v"].to_numpy(dtype=np.int64)
    key, length = links["key"].to_numpy(dtype=np.int64), links["length_m"].to_numpy(dtype=np.float64)
    for i in range(len(links)):
        graph.add_edge(int(ids[u[i]]), int(ids[v[i]]), key=int(key[i]), length=float(length[i]), link_id=i)
    return graph


def _graph_int(network: RoadNetwork, key: str) -> int | None:
    value = network.graph.graph.get(key)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def network_summary(network: RoadNetwork) -> dict[str, Any]:
    """Counts and distributions for ``network info`` and reports (lengths in km, shares in 0..1).

    Keys: ``source``, ``schematic``, ``label``, ``nodes``, ``links``, ``length_km``, ``km_by_class``,
    ``crossings``, ``crossings_by_type``, ``signals``, ``km_by_speed_limit`` (keys are limits in km/h),
    ``defaulted_share`` (per attribute of :data:`DEFAULTED_ATTRIBUTES`), ``maxspeed_none_ignored`` (links),
    ``country`` (ISO code or ``generic``), ``country_name``, ``country_source``, ``default_speed_kph`` (the
    country's implicit limits by category), ``clipped_ways`` / ``clipped_drivable_ways`` / ``highway_ways`` (of
    an OSM file cut at its edge; ``None`` for other sources), ``boundary_nodes``, ``fingerprint``, ``metadata``
    (the graph's provenance attributes: download query and date, osmnx version).
    Lengths count each direction of a two-way road once.
    """
    links = network.links
    # each direction of a two-way road is a link; count the road once (half each direction)
    weight = np.where(links["reverse"].to_numpy() >= 0, 0.5, 1.0)
    km = m_to_km(links["length_m"].to_numpy(dtype=np.float64)) * weight
    by_class = pd.Series(km).groupby(links["highway"].to_numpy()).sum()
    order = {c: i for i, c in enumerate(osm_tags.ROAD_CLASSES)}
    km_by_class = {str(k): float(by_class[k]) for k in sorted(by_class.index, key=lambda c: order.get(c, 99))}
    by_speed = pd.Series(km).groupby(links["speed_limit_kph"].to_numpy()).sum().sort_index()
    sizes = {"links": len(links), "crossings": len(network.crossings)}
    shares = {
        attr: (network.defaulted.get(attr, 0) / sizes[table] if sizes[table] else 0.0)
        for attr, table in DEFAULTED_ATTRIBUTES.items()
    }
    return {
        "source": network.source,
        "schematic": network.schematic,
        "label": network.label,
        "nodes": len(network.nodes),
        "links": len(links),
        "length_km": float(km.sum()),
        "km_by_class": km_by_class,
        "crossings": len(network.crossings),
        "crossings_by_type": {
            str(k): int(v) for k, v in network.crossings["crossing_type"].value_counts().sort_index().items()
        },
        "signals": int(network.nodes["signalised"].sum()),
        "km_by_speed_limit": dict(
            zip(by_speed.index.to_numpy(dtype=np.float64).tolist(), by_speed.to_numpy().tolist(), strict=True)
        ),
        "defaulted_share": shares,
        "maxspeed_none_ignored": int(network.defaulted.get("maxspeed_none_ignored", 0)),
        "country": network.country,
        "country_name": country_name(network.country),
        "country_source": network.country_source,
        "default_speed_kph": dict(network.default_speed_kph),
        "highway_ways": _graph_int(network, "highway_ways"),
        "clipped_ways": _graph_int(network, "clipped_ways"),
        "clipped_drivable_ways": _graph_int(network, "clipped_drivable_ways"),
        "boundary_nodes": int(network.nodes["boundary"].sum()) if "boundary" in network.nodes else 0,
        "fingerprint": network_fingerprint(network),
        "metadata": {
            k: str(network.graph.graph[k])
            for k in ("query", "downloaded_utc", "osmnx_version", "created_with", "created_date")
            if k in network.graph.graph
        },
    }
