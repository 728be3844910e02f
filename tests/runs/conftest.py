"""Fixtures of the runs tests: the tiny schematic network, and the demand and peak caches emptied and counted."""

from __future__ import annotations

import pytest
from _scenarios import TINY

from vision_zero.network.road_network import RoadNetwork, load_network
from vision_zero.runs import peak_calibration, scenario_demand
from vision_zero.traffic import trip_distribution as distribution


@pytest.fixture(scope="module")
def tiny() -> RoadNetwork:
    return load_network(TINY)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Empty caches, and how often the trip distribution is computed."""
    monkeypatch.setattr(scenario_demand, "_DEMAND_CACHE", type(scenario_demand._DEMAND_CACHE)())
    monkeypatch.setattr(peak_calibration, "_PEAK_CACHE", {})
    calls = {"distribution": 0}
    real = distribution.trip_distribution

    def trip_distribution(*args, **kwargs):
        calls["distribution"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(distribution, "trip_distribution", trip_distribution)
    return calls
