"""GeoPackage export: one layer of links with baseline, variant and difference attributes (opens in QGIS).

Per link (one row per directed link, LineString in EPSG:4326 from the graph's edge geometry or the node
coordinates): its id, ends, name, road class, length and limit, then for the baseline ``base_ksi`` and
``base_ksi_km`` (KSI per year attributed to the link, and per km — attribution as in :mod:`vision_zero.outputs.maps`),
and for each variant ``<v>_ksi``, ``<v>_ksi_km``, ``<v>_diff`` (variant − baseline KSI per year), where ``<v>`` is
the variant's name made into a safe column name, and ``<v>_limit_kph`` (the variant's speed limit, so each
program can be seen in QGIS). ``schematic`` says whether the geometry is the built-in schematic network.

Every field carries a human-readable alias in the report's language (GeoPackage schema extension,
``gpkg_data_columns``: ``name`` and ``title``), from the translation catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.files import atomic_path
from vision_zero.core.i18n import catalogue, text
from vision_zero.core.units import m_to_km
from vision_zero.network.road_network import RoadNetwork
from vision_zero.outputs.maps import link_geometries

__all__ = ["column_prefix", "field_aliases", "links_frame", "write_links_gpkg"]

FloatArray = npt.NDArray[np.float64]

LAYER = "links"


def column_prefix(name: str) -> str:
    """A safe attribute-name prefix for a scenario name (letters, digits, underscores; not starting with a digit)."""
    s = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_").lower() or "variant"
    return f"s_{s}" if s[0].isdigit() else s


def links_frame(
    network: RoadNetwork,
    baseline_ksi: FloatArray,
    variants_ksi: Mapping[str, FloatArray],
    variants_limit_kph: Mapping[str, FloatArray] | None = None,
) -> pd.DataFrame:
    """The attribute table of the links layer (no geometry); ``variants_limit_kph``: each variant's limits."""
    links = network.links
    km = m_to_km(links["length_m"].to_numpy(dtype=float)).clip(min=1e-3)
    frame = pd.DataFrame(
        {
            "link": np.arange(len(links), dtype=np.int64),
            "u": links["u"].to_numpy(dtype=np.int64),
            "v": links["v"].to_numpy(dtype=np.int64),
            "name": links["name"].astype(str).to_numpy() if "name" in links else "",
            "highway": links["highway"].astype(str).to_numpy() if "highway" in links else "",
            "length_m": links["length_m"].to_numpy(dtype=float),
            "speed_limit_kph": links["speed_limit_kph"].to_numpy(dtype=float),
            "base_ksi": baseline_ksi,
            "base_ksi_km": baseline_ksi / km,
        }
    )
    used: set[str] = {"base"}
    for name, ksi in variants_ksi.items():
        p = column_prefix(name)
        while p in used:
            p += "_"
        used.add(p)
        frame[f"{p}_ksi"] = ksi
        frame[f"{p}_ksi_km"] = ksi / km
        frame[f"{p}_diff"] = ksi - baseline_ksi
        if variants_limit_kph is not None and name in variants_limit_kph:
            frame[f"{p}_limit_kph"] = np.asarray(variants_limit_kph[name], dtype=float)
    frame["schematic"] = bool(network.schematic)
    return frame


def field_aliases(columns: list[str], variants: list[str], lang: str = "en") -> dict[str, str]:
    """Column -> human-readable alias in ``lang`` for the columns of :func:`links_frame`."""
    out: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    used: set[str] = {"base"}
    for name in variants:
        p = column_prefix(name)
        while p in used:
            p += "_"
        used.add(p)
        prefixes[p] = name
    for c in columns:
        key = f"gpkg_{c}"
        if key in catalogue("en"):
            out[c] = text(key, lang)
            continue
        for p, name in prefixes.items():
            suffix = c[len(p) + 1 :]
            if c.startswith(p + "_") and f"gpkg_v_{suffix}" in catalogue("en"):
                out[c] = text(f"gpkg_v_{suffix}", lang, variant=name)
                break
    return out


def _write_aliases(path: Path, aliases: Mapping[str, str]) -> None:
    """Record ``aliases`` in the GeoPackage schema extension (``gpkg_data_columns``; name and title)."""
    import sqlite3

    con = sqlite3.connect(path)
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS gpkg_data_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
            "name TEXT, title TEXT, description TEXT, mime_type TEXT, constraint_name TEXT, "
            "CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name), CONSTRAINT gdc_tn UNIQUE (table_name, name))"
        )
        con.execute(
            "INSERT OR IGNORE INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
            "VALUES ('gpkg_data_columns', NULL, 'gpkg_schema', 'http://www.geopackage.org/spec/#extension_schema', "
            "'read-write')"
        )
        seen: set[str] = set()
        for column, alias in aliases.items():
            name = alias
            while name in seen:  # the standard wants unique names per table
                name += " "
            seen.add(name)
            con.execute(
                "INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title, description) "
                "VALUES (?, ?, ?, ?, ?)",
                (LAYER, column, name, alias, alias),
            )
        con.commit()
    finally:
        con.close()


def write_links_gpkg(
    network: RoadNetwork,
    baseline_ksi: FloatArray,
    variants_ksi: Mapping[str, FloatArray],
    path: Path,
    *,
    variants_limit_kph: Mapping[str, FloatArray] | None = None,
    lang: str = "en",
) -> Path:
    """Write ``links.gpkg`` (layer ``links``, field aliases in ``lang``) atomically: to a temporary file, then rename."""
    import geopandas as gpd
    from shapely.geometry import LineString

    frame = links_frame(network, baseline_ksi, variants_ksi, variants_limit_kph)
    geoms = [LineString(c) for c in link_geometries(network)]
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")
    with atomic_path(path, suffix=".gpkg", create=False) as tmp:  # the driver wants to create the file itself
        gdf.to_file(tmp, layer=LAYER, driver="GPKG", engine="pyogrio")
        _write_aliases(tmp, field_aliases(list(frame.columns), list(variants_ksi), lang))
    return path
