"""Stage 1 — the road network.

Loading (osmnx place/box/polygon, OSM files, GraphML, ``schematic:``), OSM tag
normalisation and the flat link/node/crossing tables of :class:`RoadNetwork`.
"""

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
