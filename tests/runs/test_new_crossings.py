"""New crossings move pedestrians who already cross the same street; they do not create them (hand checks)."""

from __future__ import annotations

import pandas as pd
import pytest
from risk_fixtures import star

from vision_zero.network.road_network import RoadNetwork, network_from_tables
from vision_zero.runs.preparation import move_pedestrians_to_new_crossings


def _with_crossings(network: RoadNetwork, rows: list[dict[str, object]]) -> RoadNetwork:
    return network_from_tables(
        network.nodes, network.links, crossings=pd.DataFrame(rows), source="test:star-with-crossings"
    )


JUNCTION = {
    "node": 0,
    "link": -1,
    "offset_m": float("nan"),
    "crossing_type": "signalised",
    "lanes_crossed": 2,
}


def _mid_block(link: int) -> dict[str, object]:
    return {"node": -1, "link": link, "offset_m": 150.0, "crossing_type": "refuge_island", "lanes_crossed": 2}


@pytest.mark.parametrize(("new_demand", "expected_new"), [(80.0, 25.0), (10.0, 10.0)])
def test_a_new_crossing_takes_only_the_junction_pedestrians_crossing_its_own_leg(
    new_demand: float, expected_new: float
) -> None:
    """A four-arm junction with a signalised crossing (100 pedestrians/h over its 4 approaches) and a new refuge
    island 150 m up one arm: the refuge can draw at most the quarter crossing that arm (25/h), not the ones crossing
    the side streets; what it takes leaves the junction; the total is unchanged."""
    arms = star(arms=4)
    base = _with_crossings(arms, [JUNCTION])
    arm = int(arms.links.index[(arms.links["u"] == 1) & (arms.links["v"] == 0)][0])
    net = _with_crossings(arms, [JUNCTION, _mid_block(arm)])
    demand = pd.DataFrame({"crossing": [0, 1], "period": "peak", "peds_per_h": [100.0, new_demand]})
    out = move_pedestrians_to_new_crossings(base, net, demand).set_index("crossing")["peds_per_h"]
    assert out[1] == pytest.approx(expected_new)
    assert out[0] == pytest.approx(100.0 - expected_new)
    assert out.sum() == pytest.approx(100.0)


def test_a_new_crossing_along_a_street_takes_from_the_crossings_of_that_street() -> None:
    """A mid-block marked crossing on the same link (both directions) is all on this street: all of it can move."""
    arms = star(arms=4)
    arm = int(arms.links.index[(arms.links["u"] == 1) & (arms.links["v"] == 0)][0])
    old = {**_mid_block(arm), "crossing_type": "marked", "offset_m": 50.0}
    base = _with_crossings(arms, [old])
    net = _with_crossings(arms, [old, _mid_block(arm)])
    demand = pd.DataFrame({"crossing": [0, 1], "period": "peak", "peds_per_h": [30.0, 80.0]})
    out = move_pedestrians_to_new_crossings(base, net, demand).set_index("crossing")["peds_per_h"]
    assert out.to_dict() == pytest.approx({0: 0.0, 1: 30.0})
