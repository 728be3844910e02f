"""Networks, trips and runs shared by the route-choice tests (equilibrium, band phase, held routes)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from simulation_fixtures import HOUR
from traffic_fixtures import make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic.routing import HeldRoutes, RouteChoiceSettings
from vision_zero.traffic.simulation import TrafficSettings, VehicleTraffic, simulate_vehicles

__all__ = ["EXACT", "HOUR", "bottleneck_or_detour", "grid_trips", "one_hour", "one_to_one", "slower_a"]

#: every driver drives exactly the limit, so free-flow times are hand-computable
EXACT = dataclasses.replace(TrafficSettings.from_parameters(), offset_kph=0.0, cv=0.0)


def bottleneck_or_detour() -> RoadNetwork:
    # 0 -> 1 via node 2: route A, 2 x 500 m, capacity 600 veh/h; via node 3: route B, 2 x 800 m, 1,800 veh/h
    return make_network(
        [(0, 0), (1000, 0), (500, 100), (500, -600)],
        [
            (0, 2, 500.0, 1, 50.0, 600.0),
            (2, 1, 500.0, 1, 50.0, 600.0),
            (0, 3, 800.0, 1, 50.0, 1800.0),
            (3, 1, 800.0, 1, 50.0, 1800.0),
        ],
    )


def one_to_one(n: int, headway_s: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": "h",
            "origin": 0,
            "destination": 1,
            "depart_s": np.arange(n) * headway_s,
        }
    )


def grid_trips(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": "h",
            "origin": rng.integers(0, 25, n),
            "destination": rng.integers(0, 25, n),
            "depart_s": rng.uniform(0, 3600, n),
        }
    )


def one_hour(
    net: RoadNetwork,
    trips: pd.DataFrame,
    rc: RouteChoiceSettings,
    held: HeldRoutes | None = None,
    *,
    seed: int = 0,
) -> VehicleTraffic:
    """One hour of ``trips`` with exact speeds: the equilibrium, or from the baseline's ``held`` routes."""
    return simulate_vehicles(
        net,
        trips,
        rng=np.random.default_rng(seed),
        periods=(HOUR,),
        settings=EXACT,
        route_settings=rc,
        held_routes=held,
    )


def slower_a(kph: float) -> RoadNetwork:
    net = bottleneck_or_detour()
    links = net.links.copy()
    links.loc[[0, 1], "speed_limit_kph"] = kph
    return dataclasses.replace(net, links=links)
