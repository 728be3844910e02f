"""Selectors: where an intervention applies.

A :class:`Selector` picks links of a :class:`~vision_zero.network.road_network.RoadNetwork`; every criterion given must hold
(criteria combine with AND; a list inside one criterion is an OR over its items). Links are located by their
midpoint (the mean of their end nodes' coordinates) for the spatial criteria.

Criteria
--------
``highway``
    Road classes, e.g. ``["primary", "trunk"]`` (OSM ``highway`` tag of the link).
``name``
    Street names, case-insensitive, matched against every name column present (``name``, ``name:ru``,
    ``name:kk``, ``name:en``). An item with ``*``, ``?`` or ``[`` is a shell-style pattern
    (``"*Farabi*"``); otherwise the whole name must match, and must exist in the network (a pattern may match
    nothing as long as the criterion as a whole matches something: patterns are often alternatives, such as
    ``["*Фараби*", "*Farabi*"]``).
``name_regex``
    A regular expression searched (case-insensitive) in the same name columns.
``polygon``
    A GeoJSON file (a Polygon or MultiPolygon geometry, Feature or FeatureCollection; lon/lat, EPSG:4326).
``bbox``
    ``[west, south, east, north]`` in degrees.
``near``
    ``{lon = .., lat = .., radius_m = ..}``: within a radius of a point [m] (equirectangular distance, good to
    well under 1% at city scale).
``osm_way``
    OSM way ids of the links.
``osm_node``
    OSM node ids: the links that start or end at one of them (a junction's approaches and exits; the
    ``roundabout`` intervention converts exactly these nodes).
``speed_limit_kph``
    Current posted limits, e.g. ``[80]`` for the links now signed at 80 km/h.

Crossings and junctions are chosen from the selected links: :class:`CrossingFilter` ("existing crossings where
…") keeps crossings that any selected link passes over; :func:`select_junctions` keeps nodes where selected links
end. :func:`new_crossings_along` places new crossings every N metres along the selected links.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from vision_zero.core.errors import SelectorError
from vision_zero.network.road_network import (
    CROSSING_TYPES,
    SIGNAL_CROSSING_TYPES,
    RoadNetwork,
    junction_control,
)

__all__ = [
    "NAME_COLUMNS",
    "CrossingFilter",
    "Near",
    "Selection",
    "Selector",
    "crossing_is_signalised",
    "name_columns",
    "new_crossings_along",
    "select_crossings",
    "select_junctions",
    "select_links",
]

#: Name columns searched by ``name`` and ``name_regex`` (those present in the links table).
NAME_COLUMNS: tuple[str, ...] = ("name", "name:ru", "name:kk", "name:en")

_EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), for the equirectangular distance

BoolMask = npt.NDArray[np.bool_]


def _as_list(value: Any) -> Any:
    """Accept a single item where a list is expected (``highway = "primary"``)."""
    if value is None or isinstance(value, list | tuple):
        return value
    return [value]


StrList = Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list)]
IntList = Annotated[list[int], BeforeValidator(_as_list)]
FloatList = Annotated[list[float], BeforeValidator(_as_list)]


class Near(BaseModel):
    """A circle around a point: ``lon``, ``lat`` [deg] and ``radius_m`` [m]."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: float = Field(gt=0)


class Selector(BaseModel):
    """Which links an intervention applies to; every given criterion must hold. Empty = every link."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    highway: StrList | None = None
    name: StrList | None = None
    name_regex: str | None = None
    polygon: Path | None = None
    bbox: tuple[float, float, float, float] | None = None
    near: Near | None = None
    osm_way: IntList | None = None
    osm_node: IntList | None = None
    speed_limit_kph: FloatList | None = None

    @field_validator("name_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"a valid regular expression ({exc})") from None
        return value

    @field_validator("bbox")
    @classmethod
    def _bbox_ordered(cls, value: tuple[float, float, float, float] | None) -> Any:
        if value is not None:
            west, south, east, north = value
            if not (west < east and south < north):
                raise ValueError("[west, south, east, north] with west < east and south < north")
        return value

    def is_empty(self) -> bool:
        """True when no criterion is given (the selector matches every link)."""
        return all(getattr(self, f) is None for f in type(self).model_fields)

    def describe(self) -> str:
        """A one-line description for tables and messages."""
        parts = [f"{k}={v}" for k, v in self.model_dump(exclude_none=True, mode="json").items()]
        return ", ".join(parts) if parts else "all links"


class CrossingFilter(BaseModel):
    """Existing crossings where …: ``types`` (crossing types), ``signalised`` (true/false), ``osmid`` (OSM node ids)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    types: Annotated[list[str], BeforeValidator(_as_list)] | None = None
    signalised: bool | None = None
    osmid: IntList | None = None

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if item not in CROSSING_TYPES:
                raise ValueError(f"crossing types from {list(CROSSING_TYPES)}; {item!r} is not one")
        return value


@dataclass(frozen=True)
class Selection:
    """What one intervention's selector matched (for ``scenario show`` and cost quantities)."""

    links: int = 0
    road_km: float = 0.0
    crossings: int = 0
    junctions: int = 0

    def describe(self) -> str:
        """E.g. ``"42 links, 12.3 km, 7 crossings"``."""
        out = [f"{self.links} links", f"{self.road_km:.1f} km"]
        if self.crossings:
            out.append(f"{self.crossings} crossings")
        if self.junctions:
            out.append(f"{self.junctions} junctions")
        return ", ".join(out)


# --------------------------------------------------------------------------------------------------- links


def _midpoints(network: RoadNetwork) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    lon = network.nodes["lon"].to_numpy(dtype=float)
    lat = network.nodes["lat"].to_numpy(dtype=float)
    u = network.links["u"].to_numpy(dtype=np.int64)
    v = network.links["v"].to_numpy(dtype=np.int64)
    return (lon[u] + lon[v]) / 2.0, (lat[u] + lat[v]) / 2.0


def _distance_m(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], lon0: float, lat0: float
) -> npt.NDArray[np.float64]:
    """Equirectangular distance [m] from (lon0, lat0)."""
    phi0 = math.radians(lat0)
    dx = np.radians(lon - lon0) * math.cos(phi0)
    dy = np.radians(lat - lat0)
    return np.asarray(_EARTH_RADIUS_M * np.hypot(dx, dy), dtype=float)


def _graph_names(network: RoadNetwork, tag: str) -> list[str] | None:
    """Values of ``tag`` on the graph's edges by link id (the link table keeps only ``name``), or None."""
    n = len(network.links)
    if network.graph.number_of_edges() != n:
        return None
    out = [""] * n
    found = False
    for i, (_u, _v, data) in enumerate(network.graph.edges(data=True)):
        value = data.get(tag)
        if value is None:
            continue
        found = True
        idx = int(data.get("link_id", i))
        if 0 <= idx < n:
            out[idx] = ";".join(map(str, value)) if isinstance(value, list) else str(value)
    return out if found else None


def name_columns(network: RoadNetwork) -> dict[str, list[str]]:
    """Every name column available (lower-cased): from the link table, else from the graph's edge tags."""
    links = network.links
    out: dict[str, list[str]] = {}
    for col in NAME_COLUMNS:
        if col in links.columns:
            out[col] = [str(x).lower() for x in links[col].fillna("").astype(str)]
        else:
            values = _graph_names(network, col)
            if values is not None:
                out[col] = [x.lower() for x in values]
    return out


def _matches(values: list[str], pattern: re.Pattern[str], *, search: bool = False) -> BoolMask:
    """Per value: the pattern matches one of its ``;``-separated names (OSM multi-valued tags)."""
    fn = pattern.search if search else pattern.fullmatch
    return np.fromiter(
        (any(fn(part.strip()) for part in v.split(";")) for v in values), dtype=bool, count=len(values)
    )


def _name_mask(network: RoadNetwork, names: list[str]) -> BoolMask:
    mask = np.zeros(len(network.links), dtype=bool)
    for col in name_columns(network).values():
        for item in names:
            pattern = item.lower()
            if any(ch in pattern for ch in "*?["):
                mask |= _matches(col, re.compile(fnmatch.translate(pattern)))
            else:
                mask |= _matches(col, re.compile(re.escape(pattern)))
    return mask


def _regex_mask(network: RoadNetwork, pattern: str) -> BoolMask:
    regex = re.compile(pattern, flags=re.IGNORECASE)
    mask = np.zeros(len(network.links), dtype=bool)
    for col in name_columns(network).values():
        mask |= _matches(col, regex, search=True)
    return mask


def load_polygon(path: Path, *, origin: str, key: str) -> Any:
    """Read a Polygon/MultiPolygon (or the union of a FeatureCollection's polygons) from a GeoJSON file."""
    import shapely
    from shapely.errors import ShapelyError
    from shapely.geometry import shape

    if not path.is_file():
        raise SelectorError(origin, key, "an existing GeoJSON file", str(path))
    try:
        data = json.loads(path.read_text("utf-8-sig"))
        if data.get("type") == "FeatureCollection":
            raw = [f["geometry"] for f in data["features"]]
        elif data.get("type") == "Feature":
            raw = [data["geometry"]]
        else:
            raw = [data]
        for i, g in enumerate(raw):
            problem = _ring_problem(g) if g.get("type") in ("Polygon", "MultiPolygon") else None
            if problem:
                raise SelectorError(
                    origin, key, f"a valid polygon (GeoJSON geometry {i}: {problem})", str(path)
                )
        geoms = [shape(g) for g in raw]
    except SelectorError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise SelectorError(origin, key, f"a readable GeoJSON file ({exc})", str(path)) from None
    except ShapelyError as exc:
        raise SelectorError(origin, key, f"a valid GeoJSON geometry ({exc})", str(path)) from None
    polys = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        kinds = sorted({g.geom_type for g in geoms})
        raise SelectorError(origin, key, "a GeoJSON file with a Polygon or MultiPolygon", f"{path}: {kinds}")
    for i, g in enumerate(geoms):
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        problem = None if g.is_valid else shapely.is_valid_reason(g)
        if problem:
            raise SelectorError(origin, key, f"a valid polygon (GeoJSON geometry {i}: {problem})", str(path))
    return shapely.union_all(polys)


def _ring_problem(geometry: Any) -> str | None:
    """Why a GeoJSON Polygon/MultiPolygon's rings are not closed rings of 4+ positions (shapely closes them)."""
    coords = geometry.get("coordinates")
    polygons = [coords] if geometry.get("type") == "Polygon" else list(coords)
    for polygon in polygons:
        for ring in polygon:
            if not all(math.isfinite(c) for position in ring for c in position):
                return "a position whose coordinates are not finite numbers"
            if len(ring) < 4:
                return f"a ring of {len(ring)} positions; a closed ring needs at least 4"
            if list(ring[0]) != list(ring[-1]):
                return f"a ring not closed: it starts at {list(ring[0])} and ends at {list(ring[-1])}"
    return None


def _criteria(
    network: RoadNetwork, selector: Selector, *, base_dir: Path, origin: str, key: str
) -> dict[str, BoolMask]:
    links = network.links
    out: dict[str, BoolMask] = {}
    if selector.highway is not None:
        out["highway"] = links["highway"].astype(str).isin(selector.highway).to_numpy()
    if selector.name is not None:
        out["name"] = _name_mask(network, selector.name)
    if selector.name_regex is not None:
        out["name_regex"] = _regex_mask(network, selector.name_regex)
    if selector.osm_way is not None:
        ways = {str(w) for w in selector.osm_way}
        out["osm_way"] = links["osm_way"].astype(str).isin(ways).to_numpy()
    if selector.osm_node is not None:
        ids = network.nodes["osmid"].to_numpy(dtype=np.int64)
        hit = np.isin(ids, np.asarray(selector.osm_node, dtype=np.int64))
        u = links["u"].to_numpy(dtype=np.int64)
        v = links["v"].to_numpy(dtype=np.int64)
        out["osm_node"] = hit[u] | hit[v]
    if selector.speed_limit_kph is not None:
        limits = links["speed_limit_kph"].to_numpy(dtype=float)
        out["speed_limit_kph"] = np.isin(np.round(limits, 3), np.round(selector.speed_limit_kph, 3))
    if selector.bbox is not None or selector.near is not None or selector.polygon is not None:
        mlon, mlat = _midpoints(network)
        if selector.bbox is not None:
            west, south, east, north = selector.bbox
            out["bbox"] = (mlon >= west) & (mlon <= east) & (mlat >= south) & (mlat <= north)
        if selector.near is not None:
            n = selector.near
            out["near"] = _distance_m(mlon, mlat, n.lon, n.lat) <= n.radius_m
        if selector.polygon is not None:
            import shapely

            path = selector.polygon if selector.polygon.is_absolute() else base_dir / selector.polygon
            geom = load_polygon(path, origin=origin, key=f"{key}.polygon")
            out["polygon"] = np.asarray(shapely.contains_xy(geom, mlon, mlat), dtype=bool)
    return out


def _known_names(network: RoadNetwork) -> list[str]:
    names: set[str] = set()
    for col in NAME_COLUMNS:
        values = network.links[col] if col in network.links.columns else _graph_names(network, col)
        if values is not None:
            names.update(str(x) for x in values if isinstance(x, str) and x)
    return sorted(names)


def _nothing_message(network: RoadNetwork, selector: Selector, criterion: str) -> tuple[str, str]:
    """(expected, given) for a criterion that alone matches no link."""
    import difflib

    links = network.links
    value = getattr(selector, criterion)
    if criterion == "name":
        known = _known_names(network)
        close: list[str] = []
        for item in value:
            close += difflib.get_close_matches(item, known, n=3, cutoff=0.5)
        hint = f"; close matches: {sorted(set(close))}" if close else f"; {len(known)} names in the network"
        return f"a street name found in the network{hint}", ", ".join(value)
    if criterion == "highway":
        classes = sorted(set(links["highway"].astype(str)))
        return f"road classes present in the network {classes}", ", ".join(value)
    if criterion == "speed_limit_kph":
        limits = sorted({float(x) for x in links["speed_limit_kph"].round(3)})
        return f"limits present in the network {limits}", str(value)
    if criterion in ("bbox", "near", "polygon"):
        lon = network.nodes["lon"]
        lat = network.nodes["lat"]
        extent = f"[{lon.min():.4f}, {lat.min():.4f}, {lon.max():.4f}, {lat.max():.4f}]"
        return f"an area overlapping the network (its extent is {extent})", str(value)
    return "values found in the network", str(value)


def select_links(
    network: RoadNetwork,
    selector: Selector,
    *,
    base_dir: Path = Path("."),
    origin: str = "<scenario>",
    key: str = "where",
    allow_empty: bool = False,
) -> BoolMask:
    """Boolean mask over ``network.links`` of the links the selector matches.

    Parameters
    ----------
    network
        The network to select in.
    selector
        The criteria (AND).
    base_dir
        Folder that relative ``polygon`` paths are relative to (the scenario file's folder).
    origin, key
        Scenario file and key path, for error messages.
    allow_empty
        Return an all-False mask instead of raising when nothing matches.

    Raises
    ------
    SelectorError
        When nothing matches: names the criterion that matched nothing (with close street names), or says that
        the criteria together match nothing.
    """
    crit = _criteria(network, selector, base_dir=base_dir, origin=origin, key=key)
    for item in selector.name or []:  # an exact name claims the street exists; patterns may be alternatives
        if not any(ch in item for ch in "*?[") and not _name_mask(network, [item]).any():
            expected, _ = _nothing_message(network, selector.model_copy(update={"name": [item]}), "name")
            raise SelectorError(origin, f"{key}.name", expected, item)
    mask = np.ones(len(network.links), dtype=bool)
    for m in crit.values():
        mask &= m
    if mask.any() or allow_empty:
        return mask
    for name, m in crit.items():
        if not m.any():
            expected, given = _nothing_message(network, selector, name)
            raise SelectorError(origin, f"{key}.{name}", expected, given)
    if not len(network.links):
        raise SelectorError(origin, key, "a network with links", "an empty network")
    raise SelectorError(
        origin,
        key,
        "criteria that together match at least one link (each matches some, none matches all)",
        selector.describe(),
    )


def road_km(network: RoadNetwork, mask: BoolMask) -> float:
    """Length of road selected [km], a two-way street counted once (not once per direction)."""
    links = network.links
    idx = np.flatnonzero(mask)
    rev = links["reverse"].to_numpy(dtype=np.int64)[idx]
    # count a link unless its reverse is also selected and has the smaller id
    keep = ~((rev >= 0) & np.isin(rev, idx) & (rev < idx))
    return float(links["length_m"].to_numpy(dtype=float)[idx][keep].sum() / 1000.0)


# ----------------------------------------------------------------------------------------------- crossings


def crossing_is_signalised(network: RoadNetwork) -> BoolMask:
    """Per crossing: a signalised crossing type, or a crossing at a signalised node."""
    cr = network.crossings
    by_type = cr["crossing_type"].astype(str).isin(SIGNAL_CROSSING_TYPES).to_numpy()
    node = cr["node"].to_numpy(dtype=np.int64)
    sig_nodes = network.nodes["signalised"].to_numpy(dtype=bool)
    at_signal = np.zeros(len(cr), dtype=bool)
    has_node = node >= 0
    at_signal[has_node] = sig_nodes[node[has_node]]
    return np.asarray(by_type | at_signal, dtype=bool)


def select_crossings(
    network: RoadNetwork,
    link_mask: BoolMask,
    flt: CrossingFilter,
    *,
    origin: str = "<scenario>",
    key: str = "existing",
) -> BoolMask:
    """Existing crossings passed over by a selected link that satisfy the filter (mask over crossings)."""
    cr = network.crossings
    cl = network.crossing_links
    on_links = np.zeros(len(cr), dtype=bool)
    sel = link_mask[cl["link"].to_numpy(dtype=np.int64)]
    on_links[cl["crossing"].to_numpy(dtype=np.int64)[sel]] = True
    mask = on_links.copy()
    if flt.types is not None:
        mask &= cr["crossing_type"].astype(str).isin(flt.types).to_numpy()
    if flt.signalised is not None:
        mask &= crossing_is_signalised(network) == flt.signalised
    if flt.osmid is not None:
        mask &= np.isin(cr["osmid"].to_numpy(dtype=np.int64), np.asarray(flt.osmid, dtype=np.int64))
    if not mask.any():
        present = (
            cr.loc[on_links, "crossing_type"].astype(str).value_counts().to_dict() if on_links.any() else {}
        )
        raise SelectorError(
            origin,
            key,
            f"existing crossings on the selected links matching {flt.model_dump(exclude_none=True)} "
            f"(crossings on those links by type: {present})",
            f"{int(on_links.sum())} crossings on the selected links, none matching",
        )
    return mask


def select_junctions(
    network: RoadNetwork,
    link_mask: BoolMask,
    *,
    control: list[str] | None = None,
    min_legs: int = 3,
    osm_nodes: list[int] | None = None,
    origin: str = "<scenario>",
    key: str = "where",
) -> npt.NDArray[np.int64]:
    """Node ids where a selected link ends, with at least ``min_legs`` neighbouring nodes and a given control.

    With ``osm_nodes``, only those nodes (by OSM id) are candidates.
    """
    links = network.links
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    candidates = np.unique(v[link_mask])
    if osm_nodes is not None:
        ids = network.nodes["osmid"].to_numpy(dtype=np.int64)
        candidates = candidates[np.isin(ids[candidates], np.asarray(osm_nodes, dtype=np.int64))]
    pairs = np.unique(np.concatenate([np.stack([u, v], 1), np.stack([v, u], 1)]), axis=0)
    legs = np.bincount(pairs[:, 0], minlength=len(network.nodes))
    keep = candidates[legs[candidates] >= min_legs]
    if control is not None:
        current = junction_control(network.nodes)[keep]
        keep = keep[np.isin(current, control)]
    if not len(keep):
        raise SelectorError(
            origin,
            key,
            f"junctions (>= {min_legs} legs{'' if control is None else f', control in {control}'}) "
            "at the ends of the selected links",
            "none",
        )
    return np.asarray(keep, dtype=np.int64)


def new_crossings_along(
    network: RoadNetwork,
    link_mask: BoolMask,
    *,
    every_m: float,
    crossing_type: str,
    origin: str = "<scenario>",
    key: str = "every_m",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New crossings every ``every_m`` metres along the selected links, and their ``crossing_links`` rows.

    Each selected street segment (a link and its reverse counted once) of length L gets ``round(L / every_m)``
    crossings, evenly spaced at ``(i + 0.5) · L / n``; a position within ``every_m / 2`` of an existing crossing
    on the segment (mid-block, or at either end node) is skipped. Positions are interpolated linearly between the
    end nodes. Ids continue after the existing crossings.
    """
    links = network.links
    nodes = network.nodes
    cr = network.crossings
    lengths = links["length_m"].to_numpy(dtype=float)
    rev = links["reverse"].to_numpy(dtype=np.int64)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    lanes = links["lanes"].to_numpy(dtype=np.int64)
    lon = nodes["lon"].to_numpy(dtype=float)
    lat = nodes["lat"].to_numpy(dtype=float)
    # existing positions per link (offset from the link's start); node crossings at 0 or L
    existing: dict[int, list[float]] = {}
    cr_link = cr["link"].to_numpy(dtype=np.int64)
    cr_offset = cr["offset_m"].to_numpy(dtype=float)
    for link, offset in zip(cr_link.tolist(), cr_offset.tolist(), strict=True):
        if link >= 0:
            existing.setdefault(link, []).append(offset)
            if rev[link] >= 0:
                existing.setdefault(int(rev[link]), []).append(lengths[link] - offset)
    node_has_crossing = np.zeros(len(nodes), dtype=bool)
    node_ids = cr["node"].to_numpy(dtype=np.int64)
    node_has_crossing[node_ids[node_ids >= 0]] = True

    rows: list[dict[str, Any]] = []
    clinks: list[tuple[int, int]] = []
    next_id = len(cr)
    selected = np.flatnonzero(link_mask)
    done: set[int] = set()
    for link in selected.tolist():
        if link in done:
            continue
        done.add(link)
        if rev[link] >= 0:
            done.add(int(rev[link]))
        length = lengths[link]
        n = math.floor(length / every_m + 0.5)
        taken = list(existing.get(link, []))
        if node_has_crossing[u[link]]:
            taken.append(0.0)
        if node_has_crossing[v[link]]:
            taken.append(length)
        for i in range(n):
            offset = (i + 0.5) * length / n
            if any(abs(offset - t) < every_m / 2 for t in taken):
                continue
            f = offset / length
            rows.append(
                {
                    "node": -1,
                    "link": link,
                    "offset_m": offset,
                    "lon": lon[u[link]] + f * (lon[v[link]] - lon[u[link]]),
                    "lat": lat[u[link]] + f * (lat[v[link]] - lat[u[link]]),
                    "crossing_type": crossing_type,
                    "lanes_crossed": int(lanes[link] + (lanes[rev[link]] if rev[link] >= 0 else 0)),
                    "osmid": -1,
                }
            )
            clinks.append((next_id, link))
            if rev[link] >= 0:
                clinks.append((next_id, int(rev[link])))
            next_id += 1
    if not rows:
        raise SelectorError(
            origin,
            key,
            "a spacing that places at least one new crossing on the selected links "
            f"(longest selected link {lengths[selected].max():.0f} m; positions near existing crossings are skipped)",
            every_m,
        )
    new = pd.DataFrame(rows, index=pd.RangeIndex(len(cr), next_id))
    new_links = pd.DataFrame(clinks, columns=["crossing", "link"])
    return new, new_links
