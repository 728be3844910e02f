"""A small hand-built network for the scenario, selector and intervention tests (checkable on paper).

::

            E (43.2440)
            |  Side Street (residential, 40 km/h, 1 lane each way)
    A ----- B ----- C ----- D ========== G      Abay Avenue (primary, 60 km/h, 2 lanes each way): A-B-C-D
            |                                  al-Farabi Avenue (trunk, 80 km/h, 3 lanes each way): D-G
            F (43.2360)

    lon: A 76.930, B 76.935, C 76.940, D 76.945, G 76.955; lat 43.24 (E, F on B's meridian)

B: traffic signals with a signalised crossing; C: a marked crossing (``crossing=zebra``); E: an unmarked
crossing. Every street is two-way (two directed links per segment).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from vision_zero.network.road_network import RoadNetwork, network_from_graph

NODES: dict[str, tuple[float, float, dict[str, str]]] = {
    "A": (76.930, 43.240, {}),
    "B": (76.935, 43.240, {"highway": "traffic_signals", "crossing": "traffic_signals"}),
    "C": (76.940, 43.240, {"highway": "crossing", "crossing": "zebra"}),
    "D": (76.945, 43.240, {}),
    "G": (76.955, 43.240, {}),
    "E": (76.935, 43.244, {"highway": "crossing", "crossing": "unmarked"}),
    "F": (76.935, 43.236, {}),
}
ABAY = {
    "highway": "primary",
    "name": "Abay Avenue",
    "name:ru": "проспект Абая",
    "maxspeed": "60",
    "lanes": "4",
}
FARABI = {"highway": "trunk", "name": "al-Farabi Avenue", "maxspeed": "80", "lanes": "6"}
SIDE = {"highway": "residential", "name": "Side Street", "maxspeed": "40", "lanes": "2"}
WAYS: list[tuple[str, str, int, dict[str, str]]] = [
    ("A", "B", 101, ABAY),
    ("B", "C", 101, ABAY),
    ("C", "D", 101, ABAY),
    ("D", "G", 202, FARABI),
    ("E", "B", 303, SIDE),
    ("B", "F", 303, SIDE),
]


def _length_m(a: str, b: str) -> float:
    import math

    lon1, lat1, _ = NODES[a]
    lon2, lat2, _ = NODES[b]
    phi = math.radians((lat1 + lat2) / 2)
    dx = math.radians(lon2 - lon1) * math.cos(phi)
    dy = math.radians(lat2 - lat1)
    return 6_371_009.0 * math.hypot(dx, dy)


def toy_network() -> RoadNetwork:
    """The network drawn in the module docstring."""
    g: nx.MultiDiGraph[Any] = nx.MultiDiGraph(crs="epsg:4326")
    ids = {name: 1000 + i for i, name in enumerate(NODES)}
    for name, (lon, lat, tags) in NODES.items():
        g.add_node(ids[name], x=lon, y=lat, **tags)
    for a, b, way, tags in WAYS:
        length = _length_m(a, b)
        g.add_edge(ids[a], ids[b], osmid=way, length=length, oneway=False, reversed=False, **tags)
        g.add_edge(ids[b], ids[a], osmid=way, length=length, oneway=False, reversed=True, **tags)
    return network_from_graph(g, source="toy network (tests/scenario_fixtures.py)", schematic=False)


def node_id(network: RoadNetwork, name: str) -> int:
    """Row id of node ``name`` (A..G) in the network's node table."""
    return int((network.nodes["osmid"] == 1000 + list(NODES).index(name)).to_numpy().nonzero()[0][0])


def link_id(network: RoadNetwork, a: str, b: str) -> int:
    """Row id of the directed link a -> b."""
    u, v = node_id(network, a), node_id(network, b)
    links = network.links
    return int(((links["u"] == u) & (links["v"] == v)).to_numpy().nonzero()[0][0])
