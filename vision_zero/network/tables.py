"""The network's tables completed and checked: the one place where a contract column gets its default.

:func:`vision_zero.network.road_network.network_from_tables` (every loader, the tests and the benchmarks build
networks through it) completes the node, link and crossing tables here: each column of the table contract
(:mod:`vision_zero.network.road_network`) as given or filled with its default, the derived columns
(``free_flow_travel_time_s``, ``reverse``, projected coordinates), the crossings from the nodes' ``crossing``
tags. :func:`check_tables` refuses the values no model can use, naming the node or link.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from vision_zero.core.units import kph_to_mps, m_to_km
from vision_zero.network import osm_tags

__all__ = [
    "check_tables",
    "complete_crossings",
    "complete_links",
    "complete_nodes",
    "crossing_tables",
    "free_flow_travel_time_s",
    "utm_epsg",
]


def free_flow_travel_time_s(length_m: Any, speed_limit_kph: Any) -> Any:
    """Free-flow travel time [s] of links of ``length_m`` driven at ``speed_limit_kph`` (arrays or numbers).

    The one formula behind the links' ``free_flow_travel_time_s`` column (set on loading and by a new limit).
    """
    return length_m / kph_to_mps(speed_limit_kph)


def utm_epsg(lon: float, lat: float) -> int:
    """The EPSG code of the WGS 84 / UTM zone that holds ``lon``, ``lat`` (326xx north, 327xx south)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def _reverse_ids(u: list[int], v: list[int], key: list[int]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """For each link the id of a link v→u (same key preferred), -1 if none; self-loops have none."""
    by_pair: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for i, (a, b, k) in enumerate(zip(u, v, key, strict=True)):
        by_pair[(a, b)][k] = i
    out = np.full(len(u), -1, dtype=np.int64)
    for i, (a, b, k) in enumerate(zip(u, v, key, strict=True)):
        if a == b:
            continue
        back = by_pair.get((b, a))
        if back:
            out[i] = back.get(k, min(back.values()))
    return out


def _widest_arm_lanes(u: Any, v: Any, lanes: Any) -> dict[int, int]:
    """Per node, the lanes of its widest road arm, counting both directions of that arm (lanes crossed)."""
    arm_lanes: dict[tuple[int, int], int] = defaultdict(int)
    for a, b, n_lanes in zip(u, v, lanes, strict=True):
        if a != b:
            arm_lanes[(min(a, b), max(a, b))] += int(n_lanes)
    widest: dict[int, int] = defaultdict(int)
    for (a, b), n_lanes in arm_lanes.items():
        widest[a] = max(widest[a], n_lanes)
        widest[b] = max(widest[b], n_lanes)
    return widest


def crossing_tables(nodes: pd.DataFrame, links: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Crossings at nodes (all OSM crossings become nodes on loading) and the links that pass over them."""
    at = np.flatnonzero(nodes["crossing"].to_numpy() != "")
    u = links["u"].to_numpy()
    v = links["v"].to_numpy()
    widest = _widest_arm_lanes(u, v, links["lanes"].to_numpy())
    crossings = pd.DataFrame(
        {
            "node": at.astype(np.int64),
            "link": np.full(len(at), -1, dtype=np.int64),
            "offset_m": np.full(len(at), np.nan),
            "lon": nodes["lon"].to_numpy()[at],
            "lat": nodes["lat"].to_numpy()[at],
            "crossing_type": pd.Series(nodes["crossing"].to_numpy()[at], dtype=str),
            "lanes_crossed": np.array([widest[int(n)] for n in at], dtype=np.int64),
            "osmid": nodes["osmid"].to_numpy()[at].astype(np.int64),
        }
    )
    crossing_of_node = {int(n): c for c, n in enumerate(at)}
    pairs = [(crossing_of_node[int(b)], i) for i, b in enumerate(v) if int(b) in crossing_of_node]
    pairs.sort()
    crossing_links = pd.DataFrame(
        {
            "crossing": np.array([p[0] for p in pairs], dtype=np.int64),
            "link": np.array([p[1] for p in pairs], dtype=np.int64),
        }
    )
    return crossings, crossing_links


def _first_bad(
    source: str, what: str, ids: pd.Series, column: str, values: np.ndarray, bad: np.ndarray, expected: str
) -> None:
    from vision_zero.core.errors import DataError

    rows = np.flatnonzero(bad)
    if rows.size:
        i = int(rows[0])
        more = f"; {rows.size - 1} more like it" if rows.size > 1 else ""
        raise DataError(
            f"{source}: {what} {ids.iloc[i]}: {column}: expected {expected} (got {values[i]}){more}"
        )


def check_tables(source: str, nodes: pd.DataFrame, links: pd.DataFrame, *, max_speed_kph: float) -> None:
    """Refuse a network whose numbers cannot be right, before any work is done on it.

    Node coordinates finite and on the globe; link lengths finite and > 0 m; lanes >= 1; speed limits finite,
    > 0 and at most ``max_speed_kph``. A GraphML file edited by hand (or damaged) is the usual cause; the
    message names the source, the node or link (its OSM ids), the column, what was expected and given.

    Raises
    ------
    DataError
    """
    osm_node = nodes["osmid"]
    lon = nodes["lon"].to_numpy(dtype=np.float64)
    lat = nodes["lat"].to_numpy(dtype=np.float64)
    _first_bad(source, "node", osm_node, "lon", lon, ~(np.abs(lon) <= 180), "a longitude -180..180")
    _first_bad(source, "node", osm_node, "lat", lat, ~(np.abs(lat) <= 90), "a latitude -90..90")
    link_ids = links["osm_u"].astype(str) + "->" + links["osm_v"].astype(str)
    length = links["length_m"].to_numpy(dtype=np.float64)
    _first_bad(
        source,
        "link",
        link_ids,
        "length",
        length,
        ~(length > 0) | ~np.isfinite(length),
        "a finite length > 0 m",
    )
    lanes = links["lanes"].to_numpy()
    _first_bad(source, "link", link_ids, "lanes", lanes, ~(lanes >= 1), "at least 1 lane per direction")
    speed = links["speed_limit_kph"].to_numpy(dtype=np.float64)
    _first_bad(
        source,
        "link",
        link_ids,
        "speed_limit_kph",
        speed,
        ~((speed > 0) & (speed <= max_speed_kph)),
        f"a speed limit above 0 and at most {max_speed_kph:.0f} km/h",
    )


def _given(table: pd.DataFrame, name: str, default: Any, dtype: Any) -> Any:
    """Column ``name`` of ``table`` as ``dtype``, or ``default`` (a scalar or an array) for every row."""
    if name in table.columns:
        values = table[name].to_numpy()
    else:
        values = np.broadcast_to(np.asarray(default), (len(table),))
    if dtype is str:
        return pd.Series(values, dtype=str)
    return np.array(values, dtype=dtype)


def _with_extra(contract: dict[str, Any], given: pd.DataFrame) -> pd.DataFrame:
    """The contract's columns in their order, then any other column of ``given``."""
    extra = {c: given[c].to_numpy() for c in given.columns if c not in contract}
    return pd.DataFrame({**contract, **extra})


def complete_nodes(nodes: pd.DataFrame) -> pd.DataFrame:
    """The node table with every contract column: defaults where absent, projected ``x_m``/``y_m`` from the coordinates."""
    from pyproj import Transformer

    n = len(nodes)
    lon = _given(nodes, "lon", np.nan, np.float64)
    lat = _given(nodes, "lat", np.nan, np.float64)
    if "x_m" in nodes.columns and "y_m" in nodes.columns:
        x_m, y_m = nodes["x_m"].to_numpy(dtype=np.float64), nodes["y_m"].to_numpy(dtype=np.float64)
    else:
        epsg = utm_epsg(float(np.median(lon)), float(np.median(lat))) if n else 32643
        x_m, y_m = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    contract = {
        "osmid": _given(nodes, "osmid", -1, np.int64),
        "lon": lon,
        "lat": lat,
        "x_m": np.asarray(x_m, dtype=np.float64),
        "y_m": np.asarray(y_m, dtype=np.float64),
        "highway": _given(nodes, "highway", "", str),
        "signalised": _given(nodes, "signalised", False, bool),
        "crossing": _given(nodes, "crossing", "", str),
        "boundary": _given(nodes, "boundary", False, bool),
    }
    return _with_extra(contract, nodes)


def complete_links(links: pd.DataFrame, nodes: pd.DataFrame, defaults: osm_tags.TagDefaults) -> pd.DataFrame:
    """The link table with every contract column: each absent or empty column gets its default (``defaults``)."""
    u = _given(links, "u", -1, np.int64)
    v = _given(links, "v", -1, np.int64)
    key = _given(links, "key", 0, np.int64)
    highway = _given(links, "highway", osm_tags.FALLBACK_CLASS, str)
    classes = highway.to_numpy(dtype=str)
    lanes = _given(links, "lanes", [defaults.default_lanes(c) for c in classes], np.int64)
    speed_kph = _given(links, "speed_limit_kph", [defaults.default_speed_kph(c) for c in classes], np.float64)
    per_lane = np.array([defaults.capacity_per_lane_vph(c) for c in classes], dtype=np.float64)
    length_m = _given(links, "length_m", np.nan, np.float64)
    reverse = _reverse_ids(u.tolist(), v.tolist(), key.tolist())
    osmid = nodes["osmid"].to_numpy(dtype=np.int64)
    contract = {
        "u": u,
        "v": v,
        "osm_u": _given(links, "osm_u", osmid[u], np.int64),
        "osm_v": _given(links, "osm_v", osmid[v], np.int64),
        "key": key,
        "osm_way": _given(links, "osm_way", "", str),
        "name": _given(links, "name", "", str),
        "highway": highway,
        "length_m": length_m,
        "lanes": lanes,
        "oneway": _given(links, "oneway", reverse < 0, bool),
        "speed_limit_kph": speed_kph,
        "capacity_vph": _given(links, "capacity_vph", lanes * per_lane, np.float64),
        "free_flow_travel_time_s": free_flow_travel_time_s(length_m, speed_kph),
        "storage_veh": _given(
            links,
            "storage_veh",
            m_to_km(length_m) * lanes * defaults.jam_density_veh_per_km_per_lane,
            np.float64,
        ),
        "reverse": reverse,
        "speed_limit_defaulted": _given(links, "speed_limit_defaulted", False, bool),
        "lanes_defaulted": _given(links, "lanes_defaulted", False, bool),
    }
    return _with_extra(contract, links)


def complete_crossings(
    crossings: pd.DataFrame, nodes: pd.DataFrame, links: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The crossing table and the links over each crossing, with every contract column (given crossings)."""
    node = _given(crossings, "node", -1, np.int64)
    link = _given(crossings, "link", -1, np.int64)
    offset = _given(crossings, "offset_m", np.nan, np.float64)
    lon_n, lat_n = nodes["lon"].to_numpy(dtype=np.float64), nodes["lat"].to_numpy(dtype=np.float64)
    u, v = links["u"].to_numpy(dtype=np.int64), links["v"].to_numpy(dtype=np.int64)
    length = links["length_m"].to_numpy(dtype=np.float64)
    lanes = links["lanes"].to_numpy(dtype=np.int64)
    reverse = links["reverse"].to_numpy(dtype=np.int64)
    along = node < 0
    li = np.where(along, link, 0)
    share = np.where(along, np.clip(offset / np.where(length[li] > 0, length[li], 1.0), 0.0, 1.0), 0.0)
    at = np.where(along, 0, node)
    lon = np.where(along, lon_n[u[li]] + share * (lon_n[v[li]] - lon_n[u[li]]), lon_n[at])
    lat = np.where(along, lat_n[u[li]] + share * (lat_n[v[li]] - lat_n[u[li]]), lat_n[at])
    widest = _widest_arm_lanes(u, v, lanes)
    both_ways = lanes[li] + np.where(reverse[li] >= 0, lanes[np.maximum(reverse[li], 0)], 0)
    lanes_crossed = np.where(along, both_ways, [widest[int(n)] for n in at])
    table = {
        "node": node,
        "link": link,
        "offset_m": np.where(along, offset, np.nan),
        "lon": _given(crossings, "lon", lon, np.float64),
        "lat": _given(crossings, "lat", lat, np.float64),
        "crossing_type": _given(crossings, "crossing_type", "unmarked", str),
        "lanes_crossed": _given(crossings, "lanes_crossed", lanes_crossed, np.int64),
        "osmid": _given(crossings, "osmid", -1, np.int64),
    }
    pairs = []
    for c in range(len(node)):
        if node[c] >= 0:
            pairs += [(c, int(i)) for i in np.flatnonzero(v == node[c])]
        else:
            pairs += [(c, int(link[c]))] + ([(c, int(reverse[link[c]]))] if reverse[link[c]] >= 0 else [])
    crossing_links = pd.DataFrame(
        {
            "crossing": np.array([p[0] for p in pairs], dtype=np.int64),
            "link": np.array([p[1] for p in pairs], dtype=np.int64),
        }
    )
    return _with_extra(table, crossings), crossing_links
