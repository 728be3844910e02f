"""Turning a network *source* into an osmnx graph: files, downloads with a GraphML cache, the schematic generator.

Private helper of :mod:`vision_zero.network.road_network` (which documents the sources); everything osmnx-specific lives here.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import networkx as nx
import numpy as np

from vision_zero.core.errors import DataError, InputFileNotFoundError, NetworkSourceError
from vision_zero.core.files import atomic_path
from vision_zero.network import _extract, osm_tags

__all__ = ["LoadedGraph", "load_graph", "mark_cut_nodes", "save_graphml_atomic", "snap_land_use"]

#: OSM data files (read with pyosmium, see :mod:`vision_zero.network._extract`).
OSM_SUFFIXES = _extract.OSM_FILE_SUFFIXES
POLYGON_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
GRAPHML_SUFFIXES = (".graphml",)
SCHEMATIC_CITIES = ("almaty",)
SCHEMATIC_OPTIONS = ("scale", "seed")

#: OSM node tags read besides osmnx's defaults: everything crossing and signal classification needs.
NODE_TAGS = (
    "crossing",
    "crossing:island",
    "crossing:markings",
    "crossing:signals",
    "crossing_ref",
    "flashing_lights",
    "traffic_calming",
    "traffic_signals",
)
#: OSM way tags read besides osmnx's defaults: per-direction lanes and limits, zone limits, the drive filter.
WAY_TAGS = (
    "lanes:forward",
    "lanes:backward",
    "maxspeed:forward",
    "maxspeed:backward",
    "maxspeed:type",
    "source:maxspeed",
    "zone:maxspeed",
    "zone:traffic",
    "motor_vehicle",
    "motorcar",
)
#: Simplification keeps a node where these edge attributes change, so a link has one class, limit and lane count.
EDGE_ATTRS_DIFFER = ("highway", "maxspeed", "lanes")
_KEEP = "vz_keep"

_OFFLINE_HINT = (
    "build from a file instead: export an OSM extract (e.g. a Geofabrik download cut with `osmium extract`, "
    "or JOSM) and run `vision-zero network build FILE.osm.pbf`, or use the built-in `schematic:almaty`"
)


@dataclass(frozen=True)
class LoadedGraph:
    """A graph fresh from its source: ``label`` is the canonical source text, ``schematic`` its kind."""

    graph: nx.MultiDiGraph[Any]
    label: str
    schematic: bool


@contextmanager
def _osmnx_settings(**overrides: Any) -> Iterator[None]:
    """Set osmnx settings for one call and put the old values back (osmnx keeps them module-global)."""
    import osmnx as ox

    old = {k: getattr(ox.settings, k) for k in overrides}
    try:
        for k, v in overrides.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(ox.settings, k, v)


def _tag_settings(**more: Any) -> dict[str, Any]:
    import osmnx as ox

    return {
        "useful_tags_node": list(dict.fromkeys([*ox.settings.useful_tags_node, *NODE_TAGS])),
        "useful_tags_way": list(dict.fromkeys([*ox.settings.useful_tags_way, *WAY_TAGS])),
        "log_console": False,
        **more,
    }


def simplify_keeping_crossings(graph: nx.MultiDiGraph[Any]) -> nx.MultiDiGraph[Any]:
    """``ox.simplify_graph`` keeping signal, crossing and boundary nodes; links break where class/limit/lanes change."""
    import osmnx as ox

    keep = osm_tags.node_tags_to_keep(graph.nodes(data=True))
    keep += [n for n, d in graph.nodes(data=True) if d.get("boundary") is True]
    for n in keep:
        graph.nodes[n][_KEEP] = True
    simplified = ox.simplify_graph(
        graph, node_attrs_include=[_KEEP], edge_attrs_differ=list(EDGE_ATTRS_DIFFER)
    )
    for n in keep:
        graph.nodes[n].pop(_KEEP, None)
        if n in simplified:
            simplified.nodes[n].pop(_KEEP, None)
    return simplified


def mark_cut_nodes(graph: nx.MultiDiGraph[Any]) -> int:
    """Mark the nodes where a download's polygon cut a street as ``boundary=True`` (in place); their number.

    osmnx builds a place's, box's or polygon's graph from a buffered area, truncates it to the polygon and then
    gives each node ``street_count``, its streets in the buffered graph (``osmnx.graph_from_polygon``: "to retain
    true counts for each intersection, even if some of its neighbors are outside the polygon"). A node with more
    streets there than in the truncated graph lost a street at the polygon's edge: traffic enters and leaves the
    network there, as at the cut nodes of a clipped OSM file (:mod:`._extract`), and the demand model puts an
    external zone on it. Call before simplification (which keeps boundary nodes).
    """
    import osmnx as ox

    own = ox.stats.count_streets_per_node(graph)
    cut = 0
    for node, data in graph.nodes(data=True):
        given = data.get("street_count")
        if given is not None and int(given) > own.get(node, 0):
            data["boundary"] = True
            cut += 1
    return cut


def _drive_only(graph: nx.MultiDiGraph[Any], *, retain_all: bool) -> nx.MultiDiGraph[Any]:
    import osmnx as ox

    drop = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if not osm_tags.is_drivable(d)]
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    if not retain_all and len(graph) > 0:
        graph = ox.truncate.largest_component(graph, strongly=False)
    return graph


def _read_osm(path: Path, *, retain_all: bool) -> nx.MultiDiGraph[Any]:
    """An OSM file (PBF or XML) cut at its edge (:mod:`._extract`), built by osmnx, drive-filtered, simplified.

    Graph attributes added: ``source_file``, ``network_type``, ``highway_ways``, ``clipped_ways`` (highway ways
    that reference nodes outside the file), ``clipped_drivable_ways``, ``boundary_nodes`` (nodes where a drivable
    way was cut; they carry the node attribute ``boundary=True``), ``addr_country`` (the most common
    ``addr:country`` in the file, if any) and ``land_use_areas`` (buildings or landuse areas read as homes and
    workplaces, :func:`snap_land_use`).
    """
    import osmnx as ox

    with _extract.clipped_xml(path) as (xml_path, found):
        if found.highway_ways == 0:
            raise DataError(f"{path}: no roads (no way with a highway tag) in this OSM file; nothing to load")
        try:
            with _osmnx_settings(**_tag_settings()):
                graph = ox.graph_from_xml(xml_path, simplify=False, retain_all=True)
        except Exception as exc:  # osmnx raises many kinds; all mean "this file is not usable OSM data"
            raise DataError(f"{path}: not a usable OSM file ({type(exc).__name__}: {exc})") from None
    _extract.restore_way_ids(graph, found.piece_way_ids)
    for n in found.boundary_osmids:
        if n in graph:
            graph.nodes[n]["boundary"] = True
    graph = _drive_only(graph, retain_all=retain_all)
    if graph.number_of_edges() == 0:
        raise DataError(f"{path}: no drivable roads in this OSM file (osmnx 'drive' filter); nothing to load")
    graph = simplify_keeping_crossings(graph)
    areas = snap_land_use(graph, _extract.land_use(found))
    graph.graph.update(
        {
            "land_use_areas": areas,
            "source_file": path.name,
            "network_type": "drive",
            "highway_ways": found.highway_ways,
            "clipped_ways": found.clipped_ways,
            "clipped_drivable_ways": found.clipped_drivable_ways,
            "boundary_nodes": sum(1 for _n, d in graph.nodes(data=True) if d.get("boundary") is True),
        }
    )
    if found.addr_countries:
        graph.graph["addr_country"] = found.addr_countries.most_common(1)[0][0]
    return graph


def snap_land_use(graph: nx.MultiDiGraph[Any], land: _extract.LandUse) -> int:
    """Give each node the floor area of homes and workplaces nearest to it: ``home_m2``, ``job_m2`` (in place).

    Each area of :func:`vision_zero.network._extract.land_use` goes to its nearest node that is not a cut edge of
    the extract (those stand for the land beyond). Without land use in the file nothing is set, and the demand
    model falls back to its street-frontage proxy. Returns the number of areas.
    """
    from scipy.spatial import cKDTree

    inner = [n for n, d in graph.nodes(data=True) if d.get("boundary") is not True]
    if len(land) == 0 or not inner:
        return 0
    lat0 = math.radians(float(np.mean(land.lat)))
    kx, ky = 111_320.0 * math.cos(lat0), 110_540.0  # metres per degree of longitude / latitude
    xy = np.array([(graph.nodes[n]["x"] * kx, graph.nodes[n]["y"] * ky) for n in inner])
    _, nearest = cKDTree(xy).query(np.column_stack([np.asarray(land.lon) * kx, np.asarray(land.lat) * ky]))
    home = np.bincount(nearest, np.asarray(land.home_m2), len(inner))
    job = np.bincount(nearest, np.asarray(land.job_m2), len(inner))
    for n in graph.nodes:
        graph.nodes[n]["home_m2"] = 0.0
        graph.nodes[n]["job_m2"] = 0.0
    for i, n in enumerate(inner):
        graph.nodes[n]["home_m2"] = float(home[i])
        graph.nodes[n]["job_m2"] = float(job[i])
    return len(land)


def _parse_bool(text: str) -> bool:
    return str(text).strip().lower() in ("true", "1", "yes")


def _read_graphml(path: Path) -> nx.MultiDiGraph[Any]:
    import osmnx as ox

    floats = {k: float for k in ("speed_limit_kph", "capacity_vph")}
    try:
        graph = ox.load_graphml(
            path,
            graph_dtypes={"schematic": _parse_bool, "simplified": _parse_bool},
            edge_dtypes={**floats, "lanes_dir": int, "link_id": int},
            node_dtypes={
                "node_id": int,
                "signalised": _parse_bool,
                "boundary": _parse_bool,
                "home_m2": float,
                "job_m2": float,
            },
        )
    except Exception as exc:  # malformed XML, missing x/y, bad dtypes
        raise DataError(f"{path}: not a readable osmnx GraphML file ({type(exc).__name__}: {exc})") from None
    if graph.number_of_edges() == 0:
        raise DataError(f"{path}: the graph has no edges")
    if not graph.graph.get("simplified", False):
        graph = simplify_keeping_crossings(graph)
    return graph


def save_graphml_atomic(graph: nx.MultiDiGraph[Any], path: Path) -> Path:
    """Save ``graph`` as osmnx GraphML so that readers never see a partial file."""
    import osmnx as ox

    with atomic_path(path, suffix=".graphml") as tmp:
        ox.save_graphml(graph, tmp)
    return path


def _parse_schematic(source: str) -> tuple[str, dict[str, Any]]:
    parts = urlsplit(source)
    city = (parts.netloc or parts.path).strip("/").lower()
    if city not in SCHEMATIC_CITIES:
        raise NetworkSourceError(
            f"{source}: unknown schematic city {city!r}; expected one of {list(SCHEMATIC_CITIES)}"
        )
    options: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in SCHEMATIC_OPTIONS:
            raise NetworkSourceError(
                f"{source}: unknown schematic option {key!r}; expected one of {list(SCHEMATIC_OPTIONS)}"
            )
        if key == "seed":
            try:
                options["seed"] = int(value)
            except ValueError:
                raise NetworkSourceError(f"{source}: seed: expected an integer (got {value!r})") from None
        else:
            try:
                options["scale"] = float(value)
            except ValueError:
                options["scale"] = value
    return city, options


def _schematic(source: str) -> LoadedGraph:
    city, options = _parse_schematic(source)
    try:
        from vision_zero.network.schematic import generate_schematic_graph
    except ImportError:
        raise NetworkSourceError(
            f"{source}: the schematic generator (vision_zero.network.schematic) is missing"
        ) from None
    try:
        graph = generate_schematic_graph(**options)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, NetworkSourceError):
            raise
        raise NetworkSourceError(f"{source}: {exc}") from None
    graph.graph["schematic"] = True
    graph.graph.setdefault("country", "KZ")  # the schematic city is Almaty
    graph.graph.setdefault("country_source", "schematic city (Almaty)")
    query = "&".join(f"{k}={v}" for k, v in sorted(options.items()))
    label = str(graph.graph.get("source") or f"schematic:{city}" + (f"?{query}" if query else ""))
    return LoadedGraph(graph, label, True)


def _parse_bbox(source: str) -> tuple[float, float, float, float]:
    text = source.split(":", 1)[1]
    try:
        west, south, east, north = (float(x) for x in text.split(","))
    except ValueError:
        raise NetworkSourceError(
            f"{source}: expected bbox:west,south,east,north in degrees, e.g. bbox:76.90,43.22,76.96,43.26"
        ) from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise NetworkSourceError(
            f"{source}: expected -180 <= west < east <= 180 and -90 <= south < north <= 90 (degrees)"
        )
    return west, south, east, north


def _cache_path(cache_dir: Path, kind: str, key: str, *, retain_all: bool) -> Path:
    digest = hashlib.sha256(f"{kind}|{key}|drive|{retain_all}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:40] or kind
    return cache_dir / f"{kind}-{slug}-{digest}.graphml"


def _read_polygon(path: Path) -> Any:
    import geopandas as gpd

    try:
        frame = gpd.read_file(path)
        if frame.crs is not None:
            frame = frame.to_crs(4326)
        polygon = frame.geometry.union_all()
    except Exception as exc:  # pyogrio/fiona raise many kinds
        raise DataError(f"{path}: not a readable polygon file ({type(exc).__name__}: {exc})") from None
    if polygon is None or polygon.is_empty or polygon.geom_type not in ("Polygon", "MultiPolygon"):
        raise DataError(
            f"{path}: expected (multi)polygon geometries (got {getattr(polygon, 'geom_type', None)})"
        )
    return polygon


def _check_online(query: str, *, cache_dir: Path, timeout_s: float) -> None:
    """Fail fast without internet: osmnx itself waits 60 s when the Overpass status endpoint is unreachable."""
    import osmnx as ox
    import requests

    url = ox.settings.overpass_url.rstrip("/") + "/status"
    try:
        requests.get(url, timeout=timeout_s, **ox.settings.requests_kwargs)
    except requests.RequestException as exc:
        raise NetworkSourceError(
            f"{query}: cannot reach OpenStreetMap's Overpass API ({type(exc).__name__}), and no cached copy in "
            f"{cache_dir}/; {_OFFLINE_HINT}"
        ) from None


def _download(
    kind: str, query: str, what: Any, *, cache_dir: Path, retain_all: bool, timeout_s: float
) -> nx.MultiDiGraph[Any]:
    import osmnx as ox

    _check_online(query, cache_dir=cache_dir, timeout_s=timeout_s)
    settings = _tag_settings(requests_timeout=timeout_s, cache_folder=str(cache_dir / "http-cache"))
    try:
        with _osmnx_settings(**settings):
            if kind == "place":
                graph = ox.graph_from_place(what, network_type="drive", simplify=False, retain_all=retain_all)
            elif kind == "bbox":
                graph = ox.graph_from_bbox(what, network_type="drive", simplify=False, retain_all=retain_all)
            else:
                graph = ox.graph_from_polygon(
                    what, network_type="drive", simplify=False, retain_all=retain_all
                )
    except (ox._errors.InsufficientResponseError, ox._errors.ResponseStatusCodeError) as exc:
        raise NetworkSourceError(f"{query}: OpenStreetMap returned no usable road network ({exc})") from None
    except (TypeError, ValueError) as exc:  # geocoder: place not found / not a polygon
        raise NetworkSourceError(
            f"{query}: not a known place, file or source ({exc}); sources are a place name, "
            f"bbox:west,south,east,north, a polygon/OSM/GraphML file, or schematic:almaty"
        ) from None
    except Exception as exc:  # requests' ConnectionError/Timeout and kin: no internet
        raise NetworkSourceError(
            f"{query}: cannot download from OpenStreetMap ({type(exc).__name__}), and no cached copy in "
            f"{cache_dir}/; {_OFFLINE_HINT}"
        ) from None
    cut = mark_cut_nodes(graph)
    graph = simplify_keeping_crossings(graph)
    graph.graph.update(
        {
            "boundary_nodes": cut,
            "query": query,
            "query_kind": kind,
            "network_type": "drive",
            "downloaded_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "osmnx_version": ox.__version__,
        }
    )
    return graph


def _looks_like_file(source: str) -> bool:
    low = source.lower()
    return (
        low.endswith(OSM_SUFFIXES + POLYGON_SUFFIXES + GRAPHML_SUFFIXES)
        or "/" in source
        or os.sep in source
        or low.startswith(".")
    )


def load_graph(source: str | Path, *, cache_dir: Path, retain_all: bool, timeout_s: float) -> LoadedGraph:
    """Load the osmnx graph a source names (see :mod:`vision_zero.network.road_network` for the forms)."""
    text = str(source).strip()
    if not text:
        raise NetworkSourceError(
            "empty network source; expected a file, a place, bbox:... or schematic:almaty"
        )
    low = text.lower()
    if low.startswith("schematic:"):
        return _schematic(text)
    if low.startswith("bbox:"):
        bbox = _parse_bbox(text)
        query = "bbox:" + ",".join(f"{c:.6f}" for c in bbox)
        return _cached_download(
            "bbox", query, bbox, cache_dir=cache_dir, retain_all=retain_all, timeout_s=timeout_s
        )
    path = Path(text).expanduser()
    if path.is_file():
        name = path.name.lower()
        if name.endswith(GRAPHML_SUFFIXES):
            graph = _read_graphml(path)
            origin = graph.graph.get("source") or graph.graph.get("query")
            label = f"{path} (built from {origin})" if origin and str(origin) != str(path) else str(path)
            return LoadedGraph(graph, label, bool(graph.graph.get("schematic", False)))
        if name.endswith(OSM_SUFFIXES):
            return LoadedGraph(_read_osm(path, retain_all=retain_all), str(path), False)
        if name.endswith(POLYGON_SUFFIXES):
            polygon = _read_polygon(path)
            key = f"{path.name}-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
            return _cached_download(
                "polygon", key, polygon, cache_dir=cache_dir, retain_all=retain_all, timeout_s=timeout_s
            )
        raise NetworkSourceError(
            f"{path}: unknown network file type; expected one of "
            f"{list(OSM_SUFFIXES + GRAPHML_SUFFIXES + POLYGON_SUFFIXES)}"
        )
    if path.is_dir():
        raise NetworkSourceError(f"{path}: is a directory; expected an OSM, GraphML or polygon file")
    if _looks_like_file(text):
        raise InputFileNotFoundError(f"{path}: network file not found")
    return _cached_download(
        "place", text, text, cache_dir=cache_dir, retain_all=retain_all, timeout_s=timeout_s
    )


def _cached_download(
    kind: str, query: str, what: Any, *, cache_dir: Path, retain_all: bool, timeout_s: float
) -> LoadedGraph:
    cache = _cache_path(cache_dir, kind, query, retain_all=retain_all)
    if cache.is_file():
        return LoadedGraph(_read_graphml(cache), query, False)
    graph = _download(kind, query, what, cache_dir=cache_dir, retain_all=retain_all, timeout_s=timeout_s)
    save_graphml_atomic(graph, cache)
    return LoadedGraph(graph, query, False)
