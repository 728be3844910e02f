"""One road, trips and a one-call run shared by the simulation tests and those of the model's parts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from traffic_fixtures import make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic.periods import Period
from vision_zero.traffic.simulation import TrafficSettings, simulate

HOUR = Period("h", 8.0, 3600.0, 0.09, 340.0)
BASE = TrafficSettings.from_parameters()
#: every driver drives exactly the limit: hand calculations
EXACT = dataclasses.replace(BASE, offset_kph=0.0, cv=0.0, hcm=None)


def trips_frame(
    origin: list[int] | np.ndarray,
    destination: list[int] | np.ndarray,
    depart_s: np.ndarray,
    period: str = "h",
) -> pd.DataFrame:
    n = len(depart_s)
    return pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": period,
            "origin": np.broadcast_to(origin, n),
            "destination": np.broadcast_to(destination, n),
            "depart_s": depart_s,
        }
    )


def run(
    net: RoadNetwork,
    trips: pd.DataFrame,
    *,
    seed: int = 0,
    periods: tuple[Period, ...] = (HOUR,),
    settings: TrafficSettings = BASE,
    **kw: object,
) -> object:
    return simulate(
        net, trips, None, rng=np.random.default_rng(seed), periods=periods, settings=settings, **kw
    )


def one_road(
    length_m: float = 1000.0, limit_kph: float = 50.0, crossing_offset_m: float | None = None
) -> RoadNetwork:
    crossings = [] if crossing_offset_m is None else [(-1, 0, crossing_offset_m)]
    return make_network(
        [(0, 0), (length_m, 0)], [(0, 1, length_m, 1, limit_kph, 1800.0)], crossings=crossings
    )
