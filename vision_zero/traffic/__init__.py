"""Stage 3 — traffic: representative periods, demand (trips, pedestrians), routing and the SimPy simulation."""

from vision_zero.traffic.demand import generate_trips
from vision_zero.traffic.pedestrians import pedestrian_demand
from vision_zero.traffic.periods import Period, annual_factor
from vision_zero.traffic.routing import Router, Routes, route_trips
from vision_zero.traffic.simulation import TrafficRecord, TrafficSettings, simulate

__all__ = [
    "Period",
    "Router",
    "Routes",
    "TrafficRecord",
    "TrafficSettings",
    "annual_factor",
    "generate_trips",
    "pedestrian_demand",
    "route_trips",
    "simulate",
]
