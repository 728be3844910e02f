"""OSM nodes and ways as rows of the node and link tables, for :func:`~vision_zero.network.road_network.network_from_elements`.

Tags normalised (:mod:`vision_zero.network.osm_tags`) with the country's defaults, nodes projected to their UTM
zone, node crossings typed, land use carried over where the file has it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vision_zero.core.errors import shorten
from vision_zero.network import osm_tags
from vision_zero.network.tables import utm_epsg

__all__ = [
    "LAND_USE_COLUMNS",
    "node_coordinates",
    "osm_link_table",
    "osm_node_table",
    "present_tags",
]


def _str(value: Any) -> str:
    if isinstance(value, str) and ";" not in value:
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return ";".join(dict.fromkeys(osm_tags.split_values(value)))


def _hashable(value: Any) -> Any:
    return tuple(map(_hashable, value)) if isinstance(value, list) else value


def _length(value: Any) -> float:
    """A link's ``length`` attribute as a float (NaN if it is no number: :func:`check_tables` refuses it)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _int_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def node_coordinates(
    ids: Sequence[Any], tags: Sequence[Mapping[str, Any]], source: str
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
    """Longitudes and latitudes of nodes ``ids`` (attributes ``x``, ``y``), or a DataError naming the node."""
    from vision_zero.core.errors import DataError

    out = np.empty((2, len(ids)), dtype=np.float64)
    for i, n in enumerate(ids):
        for j, key in enumerate(("x", "y")):
            try:
                out[j, i] = float(tags[i][key])
            except (KeyError, TypeError, ValueError):
                given = shorten(repr(tags[i].get(key)))
                raise DataError(
                    f"{source}: node {n}: {key}: expected a coordinate in degrees (got {given})"
                ) from None
    return out[0], out[1]


#: Optional node columns of land use read from an OSM file (floor area [m2] of homes, of workplaces).
LAND_USE_COLUMNS = ("home_m2", "job_m2")


def osm_node_table(
    ids: Sequence[Any],
    node_tags: Sequence[Mapping[str, Any]],
    lon: np.ndarray[Any, np.dtype[np.float64]],
    lat: np.ndarray[Any, np.dtype[np.float64]],
) -> tuple[pd.DataFrame, dict[Any, int], int]:
    """The node table of OSM nodes ``ids``, the row of each id and the number of defaulted crossing types.

    Columns: coordinates, projected metres, the tags the model reads, land use where the tags give it.
    """
    from pyproj import Transformer

    epsg = utm_epsg(float(np.median(lon)), float(np.median(lat))) if len(ids) else 32643
    x_m, y_m = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    highway, signalised, crossing, boundary = [], [], [], []
    defaulted_crossings = 0
    for tags in node_tags:
        highway.append(_str(tags.get("highway")))
        signalised.append(osm_tags.is_signalised(tags))
        ctype, was_defaulted = osm_tags.crossing_type(tags)
        crossing.append(ctype or "")
        boundary.append(tags.get("boundary", False) is True)
        defaulted_crossings += was_defaulted
    nodes = pd.DataFrame(
        {
            "osmid": np.array([_int_id(n) for n in ids], dtype=np.int64),
            "lon": lon,
            "lat": lat,
            "x_m": np.asarray(x_m, dtype=np.float64),
            "y_m": np.asarray(y_m, dtype=np.float64),
            "highway": pd.Series(highway, dtype=str),
            "signalised": np.array(signalised, dtype=bool),
            "crossing": pd.Series(crossing, dtype=str),
            "boundary": np.array(boundary, dtype=bool),
        }
    )
    for (
        col
    ) in LAND_USE_COLUMNS:  # floor area of homes / workplaces nearest to the node, where the file has them
        if any(col in tags for tags in node_tags):
            nodes[col] = np.array([float(tags.get(col, 0.0)) for tags in node_tags], dtype=np.float64)
    return nodes, {n: i for i, n in enumerate(ids)}, defaulted_crossings


def osm_link_table(
    edges: Sequence[tuple[Any, Any, int, Mapping[str, Any]]],
    index: dict[Any, int],
    defaults: osm_tags.TagDefaults,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The link table of graph edges ``(u, v, key, tags)`` and the counts of defaulted or ignored values by tag.

    ``index``: node id -> row; tags normalised with ``defaults``.
    """
    cols: dict[str, list[Any]] = defaultdict(list)
    counts = dict.fromkeys(("highway", "speed_limit_kph", "lanes", "oneway", "maxspeed_none_ignored"), 0)
    memo: dict[tuple[Any, ...], osm_tags.LinkValues] = {}  # few distinct tag combinations in a city
    for u, v, k, d in edges:
        memo_key = tuple(_hashable(d.get(tag)) for tag in osm_tags.LINK_TAGS)
        values = memo.get(memo_key)
        if values is None:
            values = memo[memo_key] = osm_tags.normalise_link(d, defaults=defaults)
        counts["highway"] += values.class_defaulted
        counts["speed_limit_kph"] += values.speed_defaulted
        counts["lanes"] += values.lanes_defaulted
        counts["oneway"] += values.oneway_defaulted
        counts["maxspeed_none_ignored"] += values.maxspeed_none_ignored
        cols["u"].append(index[u])
        cols["v"].append(index[v])
        cols["osm_u"].append(_int_id(u))
        cols["osm_v"].append(_int_id(v))
        cols["key"].append(k)
        cols["osm_way"].append(_str(d.get("osmid")))
        cols["name"].append(_str(d.get("name")))
        cols["length_m"].append(_length(d.get("length", math.nan)))
        cols["values"].append(values)
    values_arr = cols.pop("values")
    for field_name in ("highway", "lanes", "oneway", "speed_limit_kph", "capacity_vph"):
        attr = "road_class" if field_name == "highway" else field_name
        cols[field_name] = [getattr(x, attr) for x in values_arr]
    cols["speed_limit_defaulted"] = [x.speed_defaulted for x in values_arr]
    cols["lanes_defaulted"] = [x.lanes_defaulted for x in values_arr]
    length_m = np.array(cols["length_m"], dtype=np.float64)
    speed_kph = np.array(cols["speed_limit_kph"], dtype=np.float64)
    lanes_arr = np.array(cols["lanes"], dtype=np.int64)
    links = pd.DataFrame(
        {
            "u": np.array(cols["u"], dtype=np.int64),
            "v": np.array(cols["v"], dtype=np.int64),
            "osm_u": np.array(cols["osm_u"], dtype=np.int64),
            "osm_v": np.array(cols["osm_v"], dtype=np.int64),
            "key": np.array(cols["key"], dtype=np.int64),
            "osm_way": pd.Series(cols["osm_way"], dtype=str),
            "name": pd.Series(cols["name"], dtype=str),
            "highway": pd.Series(cols["highway"], dtype=str),
            "length_m": length_m,
            "lanes": lanes_arr,
            "oneway": np.array(cols["oneway"], dtype=bool),
            "speed_limit_kph": speed_kph,
            "capacity_vph": np.array(cols["capacity_vph"], dtype=np.float64),
            "speed_limit_defaulted": np.array(cols["speed_limit_defaulted"], dtype=bool),
            "lanes_defaulted": np.array(cols["lanes_defaulted"], dtype=bool),
        }
    )
    return links, counts


def present_tags(columns: Mapping[str, list[Any]], row: int) -> dict[str, Any]:
    """Row ``row`` of ``columns`` as a tag mapping, without its absent (None or NaN) cells."""
    out: dict[str, Any] = {}
    for name, values in columns.items():
        value = values[row]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        out[name] = value
    return out
