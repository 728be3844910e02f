"""The movements of a network and their turns (:mod:`vision_zero.traffic._movements`)."""

from __future__ import annotations

import numpy as np

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic.routing import (
    Movements,
    movement_turns,
)


def test_movements_are_numbered_by_link_and_looked_up_by_their_links(tiny_network: RoadNetwork) -> None:
    u = tiny_network.links["u"].to_numpy(dtype=np.int64)
    v = tiny_network.links["v"].to_numpy(dtype=np.int64)
    moves = Movements.of(u, v, len(tiny_network.nodes))
    np.testing.assert_array_equal(u[moves.b], v[moves.a])  # each leaves its predecessor's end node
    np.testing.assert_array_equal(moves.ids(moves.a, moves.b), np.arange(len(moves.a)))
    n_out = np.bincount(u, minlength=len(tiny_network.nodes))[v]
    assert len(moves.a) == n_out.sum() and (np.diff(moves.a) >= 0).all()  # every movement once, by link
    # the record's turn per passage: the movement's own, from the table
    rng = np.random.default_rng(5)
    pick = rng.integers(0, len(moves.a), 500)
    turns = movement_turns(tiny_network.nodes, u, v, moves.a, moves.b)
    direct = movement_turns(tiny_network.nodes, u, v, moves.a[pick], moves.b[pick])
    np.testing.assert_array_equal(turns[moves.ids(moves.a[pick], moves.b[pick])], direct)
