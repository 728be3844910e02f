"""Small hand-built road networks for the demand, routing and simulation tests."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd

from vision_zero.network.road_network import RoadNetwork

LinkSpec = tuple[int, int, float, int, float, float]  # u, v, length_m, lanes, limit_kph, capacity_vph


def make_network(
    xy: Sequence[tuple[float, float]],
    links: Sequence[LinkSpec],
    *,
    highway: str | Sequence[str] = "secondary",
    signalised: Sequence[int] = (),
    storage_veh: Sequence[float] | None = None,
    crossings: Sequence[tuple[int, int, float]] = (),
) -> RoadNetwork:
    """A RoadNetwork from node coordinates [m] and directed links; crossings as (node, link, offset_m)."""
    n = len(xy)
    x = np.array([p[0] for p in xy], dtype=float)
    y = np.array([p[1] for p in xy], dtype=float)
    sig = np.zeros(n, dtype=bool)
    sig[list(signalised)] = True
    nodes = pd.DataFrame(
        {
            "osmid": np.arange(n, dtype=np.int64) + 1000,
            "lon": 76.9 + x / 80_000.0,
            "lat": 43.25 + y / 111_000.0,
            "x_m": x,
            "y_m": y,
            "highway": np.where(sig, "traffic_signals", ""),
            "signalised": sig,
            "crossing": "",
        }
    )
    u = np.array([s[0] for s in links], dtype=np.int64)
    v = np.array([s[1] for s in links], dtype=np.int64)
    length = np.array([s[2] for s in links], dtype=float)
    lanes = np.array([s[3] for s in links], dtype=np.int64)
    limit = np.array([s[4] for s in links], dtype=float)
    cap = np.array([s[5] for s in links], dtype=float)
    pair = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(u, v, strict=True))}
    reverse = np.array([pair.get((int(b), int(a)), -1) for a, b in zip(u, v, strict=True)], dtype=np.int64)
    hw = [highway] * len(links) if isinstance(highway, str) else list(highway)
    storage = length * lanes * 0.1375 if storage_veh is None else np.asarray(storage_veh, dtype=float)
    table = pd.DataFrame(
        {
            "u": u,
            "v": v,
            "osm_u": u + 1000,
            "osm_v": v + 1000,
            "key": 0,
            "osm_way": [str(i) for i in range(len(links))],
            "name": "",
            "highway": hw,
            "length_m": length,
            "lanes": lanes,
            "oneway": reverse < 0,
            "speed_limit_kph": limit,
            "capacity_vph": cap,
            "free_flow_travel_time_s": length / (limit / 3.6),
            "storage_veh": storage,
            "reverse": reverse,
        }
    )
    rows, cl = [], []
    for c, (node, link, off) in enumerate(crossings):
        rows.append(
            {
                "node": node,
                "link": link,
                "offset_m": off if node < 0 else np.nan,
                "lon": 0.0,
                "lat": 0.0,
                "crossing_type": "marked",
                "lanes_crossed": 2,
                "osmid": -1,
            }
        )
        if node >= 0:
            cl += [(c, int(i)) for i in np.flatnonzero(v == node)]
        else:
            cl.append((c, link))
            if reverse[link] >= 0:
                cl.append((c, int(reverse[link])))
    cross = pd.DataFrame(
        rows, columns=["node", "link", "offset_m", "lon", "lat", "crossing_type", "lanes_crossed", "osmid"]
    )
    cross_links = pd.DataFrame(cl, columns=["crossing", "link"], dtype=np.int64)
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(u.tolist(), v.tolist(), strict=True))
    return RoadNetwork(
        graph=g,
        nodes=nodes,
        links=table,
        crossings=cross,
        crossing_links=cross_links,
        source="test",
        schematic=False,
    )


def grid(
    n: int,
    spacing_m: float = 200.0,
    *,
    lanes: int = 2,
    limit_kph: float = 50.0,
    capacity_vph_per_lane: float = 1500.0,
    signalised: bool = False,
) -> RoadNetwork:
    """An n x n grid of two-way links."""
    xy = [(i * spacing_m, j * spacing_m) for j in range(n) for i in range(n)]
    links: list[LinkSpec] = []
    for j in range(n):
        for i in range(n):
            a = j * n + i
            for b in ([a + 1] if i + 1 < n else []) + ([a + n] if j + 1 < n else []):
                links.append((a, b, spacing_m, lanes, limit_kph, lanes * capacity_vph_per_lane))
                links.append((b, a, spacing_m, lanes, limit_kph, lanes * capacity_vph_per_lane))
    sig = [k for k in range(n * n)] if signalised else []
    return make_network(xy, links, signalised=sig)
