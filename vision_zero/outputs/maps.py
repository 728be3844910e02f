"""Network maps of KSI per km: baseline, variant and the difference; the per-link attribution behind them.

Casualties are placed on links by :func:`vision_zero.appraisal.attribution.link_ksi_per_year`. A map draws each street once: a link and its
reverse are summed and divided by the street's length, so the colour is KSI per km of street per year.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.appraisal.attribution import link_ksi_per_year
from vision_zero.core.i18n import text
from vision_zero.core.units import m_to_km
from vision_zero.network.road_network import RoadNetwork
from vision_zero.outputs.charts import figure, finish, save

__all__ = ["link_geometries", "link_ksi_per_year", "plot_ksi_map", "street_values"]

FloatArray = npt.NDArray[np.float64]


def street_values(network: RoadNetwork, per_link: FloatArray) -> pd.DataFrame:
    """One row per street (a link and its reverse): ``link`` (the lower id), ``value``, ``per_km``."""
    links = network.links
    ids = np.arange(len(links))
    rev = links["reverse"].to_numpy(dtype=np.int64)
    key = np.where(rev >= 0, np.minimum(ids, rev), ids)
    frame = pd.DataFrame({"key": key, "value": per_link, "length_m": links["length_m"].to_numpy(dtype=float)})
    g = frame.groupby("key").agg(value=("value", "sum"), length_m=("length_m", "max")).reset_index()
    g = g.rename(columns={"key": "link"})
    g["per_km"] = g["value"] / m_to_km(g["length_m"].to_numpy()).clip(min=1e-3)
    return g


def link_geometries(network: RoadNetwork) -> list[FloatArray]:
    """Each link's polyline as an array of (lon, lat) rows: the graph edge's geometry, else a straight line."""
    nodes = network.nodes
    lon = nodes["lon"].to_numpy(dtype=float)
    lat = nodes["lat"].to_numpy(dtype=float)
    g = network.graph
    out: list[FloatArray] = []
    links = network.links
    us = links["u"].to_numpy(dtype=np.int64)
    vs = links["v"].to_numpy(dtype=np.int64)
    has_osm = {"osm_u", "osm_v", "key"} <= set(links.columns)
    ou = links["osm_u"].to_numpy(dtype=np.int64) if has_osm else us
    ov = links["osm_v"].to_numpy(dtype=np.int64) if has_osm else vs
    keys = links["key"].to_numpy(dtype=np.int64) if has_osm else np.zeros(len(links), dtype=np.int64)
    for i in range(len(links)):
        geom: Any = None
        if has_osm:
            data = g.get_edge_data(int(ou[i]), int(ov[i]), int(keys[i]))
            geom = None if data is None else data.get("geometry")
        if geom is not None and hasattr(geom, "coords"):
            out.append(np.asarray(geom.coords, dtype=np.float64))
        else:
            u, v = us[i], vs[i]
            out.append(np.array([[lon[u], lat[u]], [lon[v], lat[v]]], dtype=np.float64))
    return out


def plot_ksi_map(
    network: RoadNetwork,
    per_link: FloatArray,
    path: Path,
    *,
    title: str,
    diverging: bool = False,
    lang: str = "en",
    source: str = "",
) -> Path:
    """Draw each street coloured by KSI per km per year (or its change, with a diverging scale)."""
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize, TwoSlopeNorm

    streets = street_values(network, per_link)
    geoms = link_geometries(network)
    segs = [geoms[int(k)] for k in streets["link"]]
    vals = streets["per_km"].to_numpy(dtype=float)
    fig, ax = figure(7.5)
    if diverging:
        span = float(np.nanmax(np.abs(vals))) if vals.size else 0.0
        span = span if span > 0 else 1.0
        norm: Normalize = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
        cmap = colormaps["RdBu_r"]
        widths = 0.6 + 2.4 * np.abs(vals) / span
    else:
        top = float(np.nanpercentile(vals, 99)) if vals.size else 0.0
        norm = Normalize(vmin=0.0, vmax=top if top > 0 else 1.0)
        cmap = colormaps["inferno_r"]
        widths = 0.6 + 2.4 * np.clip(vals / (top if top > 0 else 1.0), 0, 1)
    order = np.argsort(np.abs(vals))  # strongest on top
    lc = LineCollection([segs[i] for i in order], cmap=cmap, norm=norm, linewidths=widths[order])
    lc.set_array(vals[order])
    ax.add_collection(lc)
    ax.autoscale()
    lat0 = float(network.nodes["lat"].mean()) if len(network.nodes) else 0.0
    ax.set_aspect(1.0 / max(np.cos(np.radians(lat0)), 1e-3), adjustable="datalim")
    ax.ticklabel_format(useOffset=False)
    ax.set_xlabel(text("lon", lang))
    ax.set_ylabel(text("lat", lang))
    ax.tick_params(labelsize=7)
    cb = fig.colorbar(lc, ax=ax, shrink=0.8)
    cb.set_label(text("map_diff_unit" if diverging else "map_unit", lang), fontsize=8)
    finish(
        fig,
        ax,
        title=title,
        schematic=network.schematic,
        lang=lang,
        source=source or network.label,
        note=text("map_note", lang),
    )
    return save(fig, path)
