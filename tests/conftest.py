"""Fixtures shared by the whole suite: the built-in schematic networks, built once per test session.

The networks are shared between tests: treat them as read-only (copy a table before changing it; interventions
already return new tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

from vision_zero.network.road_network import RoadNetwork, load_network
from vision_zero.network.schematic import generate_schematic_graph

if TYPE_CHECKING:
    import networkx as nx

# The machine the suite runs on is shared (CI and developers on 2 cores): property tests check properties, not
# speed, so Hypothesis's per-example deadline and "too slow" health check are off for every test.
settings.register_profile("shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")

#: The tiny schematic network most end-to-end tests run on (seed 0, as in the test scenarios).
TINY_SOURCE = "schematic:almaty?scale=tiny&seed=0"


@pytest.fixture(scope="session")
def tiny_network() -> RoadNetwork:
    """The tiny schematic network (:data:`TINY_SOURCE`) as flat tables; read-only."""
    return load_network(TINY_SOURCE)


@pytest.fixture(scope="session")
def tiny_graph() -> nx.MultiDiGraph[Any]:
    """The generator's raw graph of the tiny schematic network (OSM-style tags, before normalising); read-only."""
    return generate_schematic_graph(scale="tiny", seed=0)


@pytest.fixture(scope="session")
def small_graph() -> nx.MultiDiGraph[Any]:
    """The generator's raw graph of the small schematic network; read-only."""
    return generate_schematic_graph(scale="small", seed=0)
