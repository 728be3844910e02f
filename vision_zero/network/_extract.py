"""Reading OSM files as users have them (``.osm.pbf``, ``.osm``, ``.osm.bz2``), cut at the file's edge.

Private helper of :mod:`vision_zero.network._sources`. Users download a country extract (Geofabrik's
``kazakhstan-latest.osm.pbf``) and clip it to their city with ``osmium extract --bbox``; such a file keeps every
way that touches the box, but only the nodes inside it, so ways near the edge reference nodes the file does not
have. osmnx refuses that ("Some edges missing nodes, possibly due to input data clipping issue").

This module reads any OSM file with **pyosmium** (``osmium`` on PyPI): the Python binding of libosmium, maintained
by the OpenStreetMap core developers, reading PBF, XML and bz2/gzip XML alike with prebuilt wheels. pyrosm was
the alternative; it is maintained by one person, reads PBF only and builds GeoDataFrames of everything, while
this loader only needs the highway ways and their nodes in one streaming pass.

What it does (:func:`read_clipped`):

1. Pass 1 over the ways: every way with a ``highway`` tag, and the ids of the nodes it references.
2. Pass 2 over the nodes: the location and tags of those nodes that are in the file.
3. Each highway way is **cut at the file's edge**: its runs of consecutive nodes present in the file are kept as
   separate pieces (a way that leaves the box and comes back gives two pieces), runs of one node are dropped. A
   way that lost nodes is *clipped*; the count is reported. A node of a drivable way next to a missing node is a
   **boundary node**: where the road leaves the extract (``boundary`` column of the node table, for external
   zones of the demand model). It is one even when it is the only node of its way inside the file, if another
   road through it is kept.
4. The kept nodes and pieces are written as OSM XML to a temporary file that ``osmnx.graph_from_xml`` reads, so
   PBF and XML files go through exactly the same osmnx graph building, drive filter, tag normalisation
   (:mod:`vision_zero.network.osm_tags`) and crossing-keeping simplification. Pieces after the first of a way get
   new negative ids in that file; :func:`restore_way_ids` puts the original way id back on their edges.

The file's ``addr:country`` values are counted on the way (all objects), as one clue to the network's country.

**Land use** is read in the same passes (:func:`land_use`): closed ways tagged ``building`` or ``landuse`` and
their nodes. A building's floor area (footprint x ``building:levels``, 1 level where untagged) counts as homes or
as workplaces by its ``building`` value (:data:`HOME_BUILDINGS`, :data:`JOB_BUILDINGS`); a generic one
(``building=yes``, ``block`` …) by the ``landuse`` area its centre lies in (``residential`` -> homes,
:data:`JOB_LANDUSE` -> workplaces), half and half where none says; sheds, roofs, garages and other
:data:`NO_TRIP_BUILDINGS` not at all. Only where a file has no buildings do ``landuse`` areas themselves carry the
weights (their land area). Multipolygon relations are not read (large estates and campuses mapped as relations are
missed). The demand model snaps each area to its nearest network node (:mod:`vision_zero.traffic.trip_distribution`).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from vision_zero.core.errors import DataError
from vision_zero.network import osm_tags

__all__ = [
    "HOME_BUILDINGS",
    "JOB_BUILDINGS",
    "JOB_LANDUSE",
    "NO_TRIP_BUILDINGS",
    "OSM_FILE_SUFFIXES",
    "ClippedExtract",
    "LandUse",
    "clipped_xml",
    "land_use",
    "osmium_format",
    "restore_way_ids",
]

#: ``building=*`` values of homes and of workplaces and other trip destinations (OSM wiki "Key:building").
HOME_BUILDINGS = frozenset(
    {
        "apartments",
        "residential",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
    }
)
JOB_BUILDINGS = frozenset(
    {"commercial", "office", "retail", "supermarket", "kiosk", "industrial", "warehouse", "hotel"}
    | {"school", "kindergarten", "college", "university", "hospital", "public", "civic", "government"}
    | {"train_station", "transportation", "museum"}
)
#: Structures that are no trip end (OSM wiki "Key:building"): roofs, sheds, garages, utility and the like.
NO_TRIP_BUILDINGS = frozenset(
    {"roof", "shed", "garage", "garages", "carport", "hut", "service", "utility", "tower", "construction"}
    | {"ruins", "entrance", "bunker", "transformer_tower", "greenhouse", "glasshouse", "bridge", "ship"}
    | {"atrium", "pavilion", "no"}
)
#: ``landuse=*`` values of workplaces; ``landuse=residential`` is homes.
JOB_LANDUSE = frozenset({"commercial", "retail", "industrial", "institutional", "education", "civic"})

#: File names pyosmium reads, and the libosmium format string of each (longest suffix first).
_FORMATS: tuple[tuple[str, str], ...] = (
    (".osm.pbf", "pbf"),
    (".osm.bz2", "osm.bz2"),
    (".osm.gz", "osm.gz"),
    (".xml.bz2", "osm.bz2"),
    (".osm.xml", "osm"),
    (".pbf", "pbf"),
    (".osm", "osm"),
    (".xml", "osm"),
)
OSM_FILE_SUFFIXES: tuple[str, ...] = tuple(s for s, _ in _FORMATS)


def osmium_format(path: Path) -> str | None:
    """The libosmium format of an OSM file name (``"pbf"``, ``"osm.bz2"`` …), or ``None`` if not an OSM file."""
    name = path.name.lower()
    return next((fmt for suffix, fmt in _FORMATS if name.endswith(suffix)), None)


@dataclass
class ClippedExtract:
    """What :func:`clipped_xml` found in the file besides the roads it wrote.

    Attributes
    ----------
    highway_ways
        Ways with a ``highway`` tag in the file.
    clipped_ways
        Of those, ways that reference nodes missing from the file (cut at the file's edge).
    clipped_drivable_ways
        Of the clipped ways, those that pass the drive filter (:func:`osm_tags.is_drivable`).
    boundary_osmids
        OSM ids of the nodes where a drivable way was cut: each node inside next to a missing one.
    piece_way_ids
        Temporary way id of each extra piece of a cut way -> the original OSM way id.
    addr_countries
        ``addr:country`` values of every object in the file, counted.
    """

    highway_ways: int = 0
    clipped_ways: int = 0
    clipped_drivable_ways: int = 0
    boundary_osmids: set[int] = field(default_factory=set)
    piece_way_ids: dict[int, int] = field(default_factory=dict)
    addr_countries: Counter[str] = field(default_factory=Counter)
    areas: list[_Area] = field(default_factory=list)
    area_nodes: dict[int, tuple[float, float]] = field(default_factory=dict)


_Area = tuple[list[int], str, str, float]  # node refs, "building" or "landuse", its value, levels


@dataclass(frozen=True)
class LandUse:
    """Homes and workplaces of an OSM file: one row per building (or landuse area where there are no buildings).

    Attributes
    ----------
    lon, lat
        Centre of each area (the mean of its nodes) [deg].
    home_m2, job_m2
        Its floor area of homes and of workplaces [m2].
    """

    lon: list[float]
    lat: list[float]
    home_m2: list[float]
    job_m2: list[float]

    def __len__(self) -> int:
        return len(self.lon)


def _file(path: Path) -> Any:
    import osmium

    fmt = osmium_format(path)
    if fmt is None:
        raise DataError(f"{path}: not an OSM file name; expected one of {list(OSM_FILE_SUFFIXES)}")
    return osmium.io.File(str(path), fmt)


def _runs(refs: list[int], present: Mapping[int, Any]) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of the runs of consecutive references present in the file."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, ref in enumerate(refs):
        if ref in present:
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(refs)))
    return runs


_Way = tuple[int, list[int], dict[str, str], bool]  # id, node refs, tags, drivable
_Nodes = dict[int, tuple[float, float, dict[str, str]]]  # id -> lon, lat, tags


def _read(path: Path, found: ClippedExtract) -> tuple[list[_Way], _Nodes]:
    """Pass 1: the highway ways; pass 2: the nodes they reference that the file has. Counts addr:country."""
    import osmium

    ways: list[_Way] = []
    wanted: set[int] = set()
    for way in osmium.FileProcessor(_file(path), osmium.osm.WAY):
        if not isinstance(way, osmium.osm.Way):
            continue
        tags = {t.k: t.v for t in way.tags}
        if "addr:country" in tags:
            found.addr_countries[tags["addr:country"].strip().upper()] += 1
        if "highway" in tags:
            refs = [n.ref for n in way.nodes]
            ways.append((way.id, refs, tags, osm_tags.is_drivable(tags)))
            wanted.update(refs)
        elif "building" in tags or "landuse" in tags:
            refs = [n.ref for n in way.nodes]
            if len(refs) >= 4 and refs[0] == refs[-1]:  # a closed way: an area
                kind = "building" if "building" in tags else "landuse"
                found.areas.append((refs, kind, tags[kind].strip().lower(), _levels(tags)))
    in_areas = {ref for refs, *_ in found.areas for ref in refs}
    nodes: _Nodes = {}
    for node in osmium.FileProcessor(_file(path), osmium.osm.NODE):
        if not isinstance(node, osmium.osm.Node):
            continue
        country = node.tags.get("addr:country")
        if country is not None:
            found.addr_countries[country.strip().upper()] += 1
        if node.id in wanted and node.location.valid():
            nodes[node.id] = (node.location.lon, node.location.lat, {t.k: t.v for t in node.tags})
        if node.id in in_areas and node.location.valid():
            found.area_nodes[node.id] = (node.location.lon, node.location.lat)
    return ways, nodes


def _levels(tags: Mapping[str, str]) -> float:
    """``building:levels`` as a number of floors (1 where missing or not a number; at least 1)."""
    try:
        levels = float(tags.get("building:levels", "1").replace(",", ".").split(";")[0])
    except ValueError:
        return 1.0
    return max(1.0, levels) if levels == levels and levels < 1e3 else 1.0


def _polygon_m2(lon: list[float], lat: list[float]) -> float:
    """Area of a closed ring of lon/lat points [m2] (shoelace on a local equirectangular projection)."""
    import math

    lat0 = math.radians(sum(lat) / len(lat))
    x = [v * 111_320.0 * math.cos(lat0) for v in lon]
    y = [v * 110_540.0 for v in lat]
    return abs(sum(x[i] * y[i + 1] - x[i + 1] * y[i] for i in range(len(x) - 1))) / 2


def land_use(found: ClippedExtract) -> LandUse:
    """Homes and workplaces of the areas :func:`clipped_xml` read (module docstring, "Land use")."""
    from shapely import STRtree, points
    from shapely.geometry import Polygon

    rings = []
    for refs, kind, value, levels in found.areas:
        pts = [found.area_nodes[r] for r in refs if r in found.area_nodes]
        if len(pts) == len(refs):  # an area cut at the file's edge is left out
            rings.append((pts, kind, value, levels))
    has_buildings = any(kind == "building" for _pts, kind, *_ in rings)
    context = [(Polygon(pts), value) for pts, kind, value, _ in rings if kind == "landuse" and len(pts) >= 4]
    context = [(poly, value) for poly, value in context if poly.is_valid]
    out = LandUse([], [], [], [])
    generic: list[tuple[int, float]] = []  # (row, floor area) of buildings the landuse around them classifies
    for pts, kind, value, levels in rings:
        if (kind == "building") != has_buildings or value in NO_TRIP_BUILDINGS:
            continue
        home = value in HOME_BUILDINGS or value == "residential"
        job = value in JOB_BUILDINGS or value in JOB_LANDUSE
        if kind == "landuse" and not (home or job):
            continue  # grass, railway, basin ...: no trip end
        lon = [p[0] for p in pts]
        lat = [p[1] for p in pts]
        area = _polygon_m2(lon, lat) * (levels if kind == "building" else 1.0)
        if not (home or job):
            generic.append((len(out), area))
        out.lon.append(sum(lon[:-1]) / (len(lon) - 1))
        out.lat.append(sum(lat[:-1]) / (len(lat) - 1))
        out.home_m2.append(area if home else 0.0)
        out.job_m2.append(area if job else 0.0)
    around: dict[int, str] = {}
    if generic and context:
        tree = STRtree([poly for poly, _ in context])
        at = points([out.lon[i] for i, _ in generic], [out.lat[i] for i, _ in generic])
        pt_idx, poly_idx = tree.query(at, predicate="within")
        for p_i, c_i in zip(pt_idx.tolist(), poly_idx.tolist(), strict=True):
            around.setdefault(generic[p_i][0], context[c_i][1])
    for i, area in generic:
        use = around.get(i)
        home_share = 1.0 if use == "residential" else 0.0 if use in JOB_LANDUSE else 0.5
        out.home_m2[i], out.job_m2[i] = area * home_share, area * (1.0 - home_share)
    return out


def _cut(
    ways: list[_Way], nodes: _Nodes, found: ClippedExtract
) -> list[tuple[int, list[int], dict[str, str]]]:
    """Cut every way at the file's edge: its pieces (id, refs, tags); counts and boundary nodes into ``found``."""
    pieces: list[tuple[int, list[int], dict[str, str]]] = []
    next_id = -1
    for way_id, refs, tags, drivable in ways:
        runs = _runs(refs, nodes)
        if runs == [(0, len(refs))]:  # whole way in the file (a one-node way makes no link)
            if len(refs) >= 2:
                pieces.append((way_id, refs, tags))
            continue
        found.clipped_ways += 1
        found.clipped_drivable_ways += drivable
        for a, b in runs if drivable else []:
            # the road leaves the file here (a one-node run too: its node may be on another road)
            found.boundary_osmids.update(refs[i] for i, cut in ((a, a > 0), (b - 1, b < len(refs))) if cut)
        for i, (a, b) in enumerate(r for r in runs if r[1] - r[0] >= 2):
            piece_id = way_id
            if i > 0:
                piece_id, next_id = next_id, next_id - 1
                found.piece_way_ids[piece_id] = way_id
            pieces.append((piece_id, refs[a:b], tags))
    return pieces


@contextmanager
def clipped_xml(path: Path) -> Iterator[tuple[Path, ClippedExtract]]:
    """Read an OSM file with pyosmium and yield a temporary OSM XML file of its highways, cut at the file's edge.

    Yields
    ------
    (xml_path, extract)
        The temporary file (deleted on exit) for ``osmnx.graph_from_xml`` and what was found (counts, boundary
        nodes, piece ids).

    Raises
    ------
    DataError
        The file is not readable OSM data.
    """
    import osmium

    found = ClippedExtract()
    try:
        ways, nodes = _read(path, found)
    except (RuntimeError, ValueError, OSError) as exc:  # libosmium's io/parse errors arrive as RuntimeError
        raise DataError(f"{path}: not a readable OSM file ({type(exc).__name__}: {exc})") from None
    found.highway_ways = len(ways)
    pieces = _cut(ways, nodes, found)
    used = sorted({ref for _id, refs, _tags in pieces for ref in refs})
    with tempfile.TemporaryDirectory(prefix="vz-osm-") as tmp:
        xml_path = Path(tmp) / "clipped.osm"
        with osmium.SimpleWriter(str(xml_path)) as writer:
            for node_id in used:
                lon, lat, node_tags = nodes[node_id]
                writer.add_node(osmium.osm.mutable.Node(id=node_id, location=(lon, lat), tags=node_tags))
            for piece_id, piece_refs, tags in pieces:
                writer.add_way(osmium.osm.mutable.Way(id=piece_id, nodes=piece_refs, tags=tags))
        yield xml_path, found


def restore_way_ids(graph: nx.MultiDiGraph[Any], piece_way_ids: Mapping[int, int]) -> None:
    """Put the original OSM way id back on the edges of the extra pieces of cut ways (in place)."""
    if not piece_way_ids:
        return
    for _u, _v, data in graph.edges(data=True):
        osmid = data.get("osmid")
        if isinstance(osmid, int) and osmid in piece_way_ids:
            data["osmid"] = piece_way_ids[osmid]
