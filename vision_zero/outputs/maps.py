"""Network maps of KSI per km: baseline, variant and the difference; the per-link attribution behind them.

Casualties are placed on links by :func:`vision_zero.appraisal.attribution.link_ksi_per_year`. A map draws each
street once: a link and its reverse are summed and divided by the street's length, so the colour is KSI per km of
street per year. Maps meant to be read side by side take one shared colour scale (``vmax``); a difference map
can grey out the streets whose change is within noise (``noise``). Every map has a scale bar and, where the
network has street names, the names of its longest named streets.
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
from vision_zero.outputs.plot import network_label

__all__ = ["link_geometries", "link_ksi_per_year", "map_scale", "plot_ksi_map", "street_values"]

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


def map_scale(network: RoadNetwork, per_link: list[FloatArray], *, diverging: bool = False) -> float:
    """One colour-scale top for several maps of ``network``, so maps side by side are read on the same scale.

    The 99th percentile of KSI per km over all of them; for difference maps the largest absolute change.
    """
    vals = [street_values(network, v)["per_km"].to_numpy(dtype=float) for v in per_link]
    pooled = np.concatenate(vals) if vals else np.zeros(0)
    pooled = pooled[np.isfinite(pooled)]
    if not pooled.size:
        return 1.0
    top = float(np.max(np.abs(pooled))) if diverging else float(np.percentile(pooled, 99))
    return top if top > 0 else 1.0


def _nice_km(span_km: float) -> float:
    """A round scale-bar length [km] of about a fifth of the map's width."""
    target = max(span_km / 5.0, 1e-3)
    base = 10.0 ** np.floor(np.log10(target))
    return float(max(m * base for m in (1.0, 2.0, 5.0) if m * base <= target))


def _scale_bar(ax: Any, lat0: float) -> None:
    """A scale bar in the lower-left corner (lengths from the equirectangular approximation)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    km_per_deg = 111.32 * max(np.cos(np.radians(lat0)), 1e-3)
    length_km = _nice_km((x1 - x0) * km_per_deg)
    dx = length_km / km_per_deg
    x, y = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([x, x + dx], [y, y], color="black", lw=3, solid_capstyle="butt", zorder=5)
    label = f"{length_km:g} km" if length_km >= 1 else f"{length_km * 1000:g} m"
    ax.text(x + dx / 2, y + 0.015 * (y1 - y0), label, ha="center", va="bottom", fontsize=8, zorder=5)


def _street_names(ax: Any, network: RoadNetwork, geoms: list[FloatArray], *, top: int = 10) -> None:
    """Names of the ``top`` longest named streets, at the middle of their longest link."""
    links = network.links
    if "name" not in links.columns or not len(links):
        return
    names = links["name"].astype(str).to_numpy()
    length = links["length_m"].to_numpy(dtype=float)
    ok = np.array([bool(n) and n.lower() not in ("nan", "none", "") for n in names])
    if not ok.any():
        return
    frame = pd.DataFrame({"name": names[ok], "length_m": length[ok], "link": np.flatnonzero(ok)})
    total = frame.groupby("name")["length_m"].sum().sort_values(ascending=False).head(top)
    for name in total.index:
        rows = frame[frame["name"] == name]
        g = geoms[int(rows.loc[rows["length_m"].idxmax(), "link"])]
        mid = g[len(g) // 2] if len(g) > 2 else g.mean(axis=0)
        ax.annotate(
            name,
            (float(mid[0]), float(mid[1])),
            fontsize=6.5,
            color="#222222",
            ha="center",
            va="center",
            zorder=6,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
        )


def plot_ksi_map(
    network: RoadNetwork,
    per_link: FloatArray,
    path: Path,
    *,
    title: str,
    diverging: bool = False,
    lang: str = "en",
    source: str = "",
    vmax: float | None = None,
    noise: npt.NDArray[np.bool_] | None = None,
) -> Path:
    """Draw each street coloured by KSI per km per year (or its change, with a diverging scale).

    Parameters
    ----------
    vmax
        Top of the colour scale (the largest absolute change for ``diverging``); give the same value to maps
        meant to be compared (:func:`map_scale`). Default: this map's own 99th percentile (largest change).
    noise
        Per link, True where the change is within noise; such streets (both directions within noise) are drawn
        thin and grey instead of coloured.
    """
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize, TwoSlopeNorm
    from matplotlib.lines import Line2D

    streets = street_values(network, per_link)
    geoms = link_geometries(network)
    segs = [geoms[int(k)] for k in streets["link"]]
    vals = streets["per_km"].to_numpy(dtype=float)
    quiet = np.zeros(len(vals), dtype=bool)
    if noise is not None:
        rev = network.links["reverse"].to_numpy(dtype=np.int64)
        key = streets["link"].to_numpy(dtype=np.int64)
        other = np.where(rev[key] >= 0, rev[key], key)
        quiet = np.asarray(noise, dtype=bool)[key] & np.asarray(noise, dtype=bool)[other]
    fig, ax = figure(7.5)
    top = vmax if vmax is not None and vmax > 0 else map_scale(network, [per_link], diverging=diverging)
    if diverging:
        norm: Normalize = TwoSlopeNorm(vcenter=0.0, vmin=-top, vmax=top)
        cmap = colormaps["RdBu_r"]
        widths = 0.6 + 2.4 * np.clip(np.abs(vals) / top, 0, 1)
    else:
        norm = Normalize(vmin=0.0, vmax=top)
        cmap = colormaps["inferno_r"]
        widths = 0.6 + 2.4 * np.clip(vals / top, 0, 1)
    if quiet.any():
        ax.add_collection(
            LineCollection(
                [segs[i] for i in np.flatnonzero(quiet)], colors="#c8c8c8", linewidths=0.5, zorder=1
            )
        )
    shown = np.flatnonzero(~quiet)
    order = shown[np.argsort(np.abs(vals[shown]))]  # strongest on top
    lc = LineCollection([segs[i] for i in order], cmap=cmap, norm=norm, linewidths=widths[order], zorder=2)
    lc.set_array(vals[order])
    ax.add_collection(lc)
    ax.autoscale()
    lat0 = float(network.nodes["lat"].mean()) if len(network.nodes) else 0.0
    ax.set_aspect(1.0 / max(np.cos(np.radians(lat0)), 1e-3), adjustable="datalim")
    ax.apply_aspect()
    _scale_bar(ax, lat0)
    _street_names(ax, network, geoms)
    if noise is not None:
        ax.legend(
            handles=[Line2D([], [], color="#c8c8c8", lw=1.5, label=text("map_noise", lang))],
            loc="upper right",
            fontsize=7,
        )
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
        source=source or network_label(network.label, lang),
        note=text("map_note", lang),
    )
    return save(fig, path)
