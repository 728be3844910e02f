"""Static charts and maps (matplotlib, Agg backend): written atomically as PNG/SVG/PDF.

Every figure of a schematic network says so in its title.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from vision_zero.core.errors import ConfigError
from vision_zero.core.i18n import text
from vision_zero.network.road_network import RoadNetwork
from vision_zero.runs.results import atomic_write_bytes

__all__ = ["network_label", "plot_network"]

_FORMATS = ("png", "svg", "pdf")
#: Colour of each speed-limit band [km/h, upper bound inclusive].
_SPEED_BANDS: tuple[tuple[float, str, str], ...] = (
    (20.0, "#1a9850", "≤ 20"),
    (30.0, "#91cf60", "21–30"),
    (40.0, "#d9ef8b", "31–40"),
    (50.0, "#fee08b", "41–50"),
    (60.0, "#fc8d59", "51–60"),
    (80.0, "#d73027", "61–80"),
    (float("inf"), "#7f0000", "> 80"),
)


def network_label(label: str, lang: str = "en") -> str:
    """:attr:`RoadNetwork.label <vision_zero.network.road_network.RoadNetwork.label>` with its kind in ``lang``."""
    for key in ("label_schematic", "label_osm"):
        kind = text(key, "en")
        if label.startswith(kind):
            return text(key, lang) + label[len(kind) :]
    return label


def _link_lines(network: RoadNetwork) -> list[Any]:
    """One polyline (lon, lat) per link: the edge geometry where osmnx kept one, else the straight segment."""
    lon = network.nodes["lon"].to_numpy()
    lat = network.nodes["lat"].to_numpy()
    geometry: dict[int, Any] = {}
    for _u, _v, data in network.graph.edges(data=True):
        geom = data.get("geometry")
        if geom is not None and "link_id" in data:
            geometry[int(data["link_id"])] = np.asarray(geom.coords)
    lines = []
    for i, (u, v) in enumerate(
        zip(network.links["u"].to_numpy(), network.links["v"].to_numpy(), strict=True)
    ):
        lines.append(geometry.get(i, np.array([[lon[u], lat[u]], [lon[v], lat[v]]])))
    return lines


def plot_network(
    network: RoadNetwork,
    path: Path,
    *,
    title: str | None = None,
    width_in: float = 10.0,
    dpi: int = 150,
    lang: str = "en",
    highlight: Any = None,
) -> Path:
    """Map of the network: roads coloured by speed limit, crossings and signals marked.

    Parameters
    ----------
    network
        The network to draw (its ``links.speed_limit_kph`` decides the colours, so interventions show).
    path
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``). Written atomically.
    title
        Title; default: the network's label, which says "SCHEMATIC" for the built-in network.
    width_in, dpi
        Figure width [inch] and resolution.
    lang
        Language of the legend, axes and the schematic warning.
    highlight
        Ids of links to mark (e.g. those a program changed): drawn under a wide violet band.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ConfigError(f"{path}: expected a file ending in one of {['.' + f for f in _FORMATS]}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    links = network.links
    speed = links["speed_limit_kph"].to_numpy()
    band = np.searchsorted([b[0] for b in _SPEED_BANDS], speed, side="left")
    colours = [_SPEED_BANDS[min(int(i), len(_SPEED_BANDS) - 1)][1] for i in band]
    dense = len(links) > 20_000  # a whole city: thinner lines and smaller markers, or nothing is legible
    widths = (0.6 + 0.5 * np.minimum(links["lanes"].to_numpy(), 4)) * (0.35 if dense else 1.0)
    marker = 0.8 if dense else 20.0

    lat0 = float(network.nodes["lat"].median())
    height_in = width_in * 0.8
    fig, ax = plt.subplots(figsize=(width_in, height_in))
    try:
        lines = _link_lines(network)
        marked = np.unique(np.asarray(highlight if highlight is not None else [], dtype=np.int64))
        if marked.size:
            ax.add_collection(
                LineCollection(
                    [lines[int(i)] for i in marked], colors="#7b3294", linewidths=5.0, alpha=0.35, zorder=0
                )
            )
        ax.add_collection(LineCollection(lines, colors=colours, linewidths=widths, zorder=1))
        nodes = network.nodes
        sig = nodes[nodes["signalised"]]
        ax.scatter(
            sig["lon"],
            sig["lat"],
            s=marker * 1.2,
            marker="s",
            c="black",
            zorder=3,
            label=text("net_signals", lang, n=len(sig)),
        )
        cross = network.crossings
        ax.scatter(
            cross["lon"],
            cross["lat"],
            s=marker,
            marker="o",
            facecolors="white",
            edgecolors="#2b5fab",
            linewidths=0.3 if dense else 1.0,
            zorder=4,
        )
        ax.autoscale()
        ax.set_aspect(1.0 / max(np.cos(np.radians(lat0)), 1e-6))
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.set_xlabel(text("lon", lang))
        ax.set_ylabel(text("lat", lang))
        present = sorted({min(int(i), len(_SPEED_BANDS) - 1) for i in band})
        handles = [
            Line2D(
                [], [], color=_SPEED_BANDS[i][1], lw=2.5, label=text("net_kmh", lang, band=_SPEED_BANDS[i][2])
            )
            for i in present
        ]
        handles += [
            Line2D([], [], marker="s", ls="", color="black", label=text("net_signals", lang, n=len(sig))),
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                mfc="white",
                mec="#2b5fab",
                label=text("net_crossings", lang, n=len(cross)),
            ),
        ]
        if marked.size:
            handles.append(
                Line2D(
                    [],
                    [],
                    color="#7b3294",
                    lw=5.0,
                    alpha=0.35,
                    label=text("net_changed", lang, n=marked.size),
                )
            )
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            title=text("net_limit", lang),
            title_fontsize=8,
        )
        heading = title if title is not None else network_label(network.label, lang)
        if network.schematic and text("schematic", lang).split()[0].lower() not in heading.lower():
            heading = text("schematic_prefix", lang, heading=heading)
        ax.set_title(heading, fontsize=10)
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
