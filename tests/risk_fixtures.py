"""Hand-built one-road networks and traffic records for the risk tests (no simulation needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vision_zero.network.road_network import RoadNetwork, network_from_tables
from vision_zero.traffic.periods import Period
from vision_zero.traffic.simulation import TrafficRecord

PERIOD = Period(name="peak", start_h=8.0, duration_s=3600.0, demand_share=0.1, annual_hours=340.0)


def one_road(
    *,
    lanes: int = 1,
    length_m: float = 1000.0,
    limit_kph: float = 50.0,
    crossing_type: str = "marked",
    lanes_crossed: int = 2,
    two_way: bool = True,
) -> RoadNetwork:
    """Two nodes, one road (link 0: 0->1, link 1: 1->0 if two-way), one crossing along it."""
    nodes = pd.DataFrame(
        {"osmid": [1, 2], "lon": [76.90, 76.9117], "lat": [43.25, 43.25], "x_m": [0.0, length_m], "y_m": 0.0}
    )
    ends = [(0, 1)] + ([(1, 0)] if two_way else [])
    links = pd.DataFrame(ends, columns=["u", "v"]).assign(
        osm_way="w1",
        name="Test Street",
        highway="secondary",
        length_m=length_m,
        lanes=lanes,
        speed_limit_kph=limit_kph,
        capacity_vph=1000.0 * lanes,
    )
    crossings = pd.DataFrame(
        {
            "node": [-1],
            "link": [0],
            "offset_m": [length_m / 2],
            "lon": [76.906],
            "lat": [43.25],
            "crossing_type": [crossing_type],
            "lanes_crossed": [lanes_crossed],
        }
    )
    return network_from_tables(nodes, links, crossings=crossings, source="test:one-road")


def record(
    network: RoadNetwork,
    *,
    speed_kph: float = 59.5,
    flow_vph: float = 600.0,
    peds_per_hour: float = 60.0,
    speed_factor: float = 1.0,
    seed: int = 7,
) -> TrafficRecord:
    """Vehicles at random (seeded) times, constant speeds, on every link for one hour; pedestrians at crossing 0."""
    v = speed_kph * speed_factor
    n_links = len(network.links)
    length_km = network.links["length_m"].to_numpy() / 1000.0
    link_stats = pd.DataFrame(
        {
            "period": PERIOD.name,
            "link": np.arange(n_links),
            "entries": int(flow_vph),
            "veh_km": flow_vph * length_km,
            "veh_h": flow_vph * length_km / v,
            "mean_speed_kph": v,
            "p85_speed_kph": v * 1.15,
            "share_over_limit": 0.5,
            "max_queue_veh": 0.0,
        }
    )
    rng = np.random.default_rng(seed)
    n_cars = int(flow_vph) * n_links
    t_cars = np.sort(rng.uniform(0.0, 3600.0, n_cars))
    passages = pd.DataFrame({"period": PERIOD.name, "crossing": 0, "t_s": t_cars, "speed_kph": v})
    pedestrians = pd.DataFrame({"crossing": [0], "period": PERIOD.name, "peds_per_h": [float(peds_per_hour)]})
    return TrafficRecord(
        periods=(PERIOD,),
        link_stats=link_stats,
        passages=passages,
        trips=pd.DataFrame(),
        speed_hist=pd.DataFrame(),
        pedestrian_demand=pedestrians,
    )


def star(*, arms: int = 4, signalised: bool = True, lanes: int = 1) -> RoadNetwork:
    """A junction (node 0) with ``arms`` two-way arms of 300 m; no crossings."""
    n = arms + 1
    ang = np.linspace(0.0, 2 * np.pi, arms, endpoint=False)
    x = np.concatenate(([0.0], 300.0 * np.cos(ang)))
    y = np.concatenate(([0.0], 300.0 * np.sin(ang)))
    nodes = pd.DataFrame(
        {
            "osmid": np.arange(n) + 1,
            "lon": 76.9 + x / 81_000.0,
            "lat": 43.25 + y / 111_000.0,
            "x_m": x,
            "y_m": y,
            "signalised": [signalised] + [False] * arms,
        }
    )
    ends = [pair for a in range(1, n) for pair in ((a, 0), (0, a))]
    links = pd.DataFrame(ends, columns=["u", "v"]).assign(
        osm_way=[f"w{k // 2}" for k in range(len(ends))],
        name=[f"Arm {k // 2}" for k in range(len(ends))],
        highway="secondary",
        length_m=300.0,
        lanes=lanes,
        speed_limit_kph=50.0,
        capacity_vph=1000.0 * lanes,
        storage_veh=40.0,
    )
    return network_from_tables(nodes, links, source="test:star")


def junction(arms: int, crossing: str) -> RoadNetwork:
    """A residential star (no signal), with a crossing of type ``crossing`` on its centre node ("" for none)."""
    net = star(arms=arms, signalised=False)
    nodes = net.nodes.assign(crossing=[crossing] + [""] * arms)
    return network_from_tables(nodes, net.links.assign(highway="residential"), source="test:junction")


def link_record(network: RoadNetwork, flows_vph: list[float], *, speed_kph: float = 59.5) -> TrafficRecord:
    """Link statistics only (no crossings): ``flows_vph[i]`` vehicles on link i in one hour at ``speed_kph``."""
    length_km = network.links["length_m"].to_numpy() / 1000.0
    f = np.asarray(flows_vph, dtype=float)
    link_stats = pd.DataFrame(
        {
            "period": PERIOD.name,
            "link": np.arange(len(f)),
            "entries": f.astype(int),
            "veh_km": f * length_km,
            "veh_h": f * length_km / speed_kph,
            "mean_speed_kph": speed_kph,
            "p85_speed_kph": speed_kph * 1.15,
            "share_over_limit": 0.5,
            "max_queue_veh": 0.0,
        }
    )
    empty = pd.DataFrame({"period": pd.Series(dtype="str"), "crossing": pd.Series(dtype="int64")})
    return TrafficRecord(
        periods=(PERIOD,),
        link_stats=link_stats,
        passages=empty.assign(t_s=pd.Series(dtype="float64"), speed_kph=pd.Series(dtype="float64")),
        trips=pd.DataFrame(),
        speed_hist=pd.DataFrame(),
    )
