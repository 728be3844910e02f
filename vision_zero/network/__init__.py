"""Stage 1 — the road network.

Loading (osmnx place/box/polygon, OSM files, GraphML, ``schematic:``), OSM tag
normalisation and the flat link/node/crossing tables of :class:`RoadNetwork`.

The names below come from :mod:`vision_zero.network.road_network` on first use, so that importing a light
module of this package (the command line's scale presets, :mod:`vision_zero.network.scales`) does not import
numpy and pandas (#16).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vision_zero.network.road_network import (
        CROSSING_TYPES,
        RoadNetwork,
        load_network,
        network_fingerprint,
        network_from_graph,
        network_summary,
        save_network_graph,
    )

__all__ = [
    "CROSSING_TYPES",
    "RoadNetwork",
    "load_network",
    "network_fingerprint",
    "network_from_graph",
    "network_summary",
    "save_network_graph",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("vision_zero.network.road_network"), name)
    raise AttributeError(f"module 'vision_zero.network' has no attribute {name!r}")
