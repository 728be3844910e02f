"""What interventions report they touched (program.touched.Touched), on the hand-built toy network."""

from __future__ import annotations

import numpy as np
from scenario_fixtures import link_id, node_id, toy_network

from vision_zero.core.parameters import load_parameters
from vision_zero.program.interventions import ApplyContext, Crossing, Roundabout, SpeedLimit
from vision_zero.program.touched import Touched

CTX = ApplyContext(parameters=load_parameters())


def test_record_from_masks_and_ids_and_union() -> None:
    a = Touched.of(links=np.array([True, False, True]), crossings=[3, 1, 3])
    assert a.links.tolist() == [0, 2] and a.crossings.tolist() == [1, 3] and a.nodes.tolist() == []
    b = Touched.of(links=[2, 5], nodes=[7])
    u = Touched.union([a, b])
    assert u.links.tolist() == [0, 2, 5] and u.nodes.tolist() == [7] and u.crossings.tolist() == [1, 3]
    assert not Touched() and u


def test_speed_limit_touches_the_selected_links() -> None:
    net = toy_network()
    effect = SpeedLimit.model_validate(
        {"type": "speed_limit", "limit_kph": 30, "where": {"name": ["Abay Avenue"]}}
    ).apply(net, CTX)
    abay = net.links["name"].eq("Abay Avenue").to_numpy()
    assert effect.touched.links.tolist() == np.flatnonzero(abay).tolist()
    assert effect.touched.site_links(effect.network).tolist() == np.flatnonzero(abay).tolist()


def test_crossing_upgrade_touches_the_crossing_its_links_and_its_junction() -> None:
    net = toy_network()
    effect = Crossing.model_validate(
        {
            "type": "crossing",
            "action": "upgrade",
            "crossing_type": "raised",
            "where": {"name": ["Abay Avenue"]},
            "existing": {"types": ["marked"]},
        }
    ).apply(net, CTX)
    c = node_id(net, "C")  # the zebra at C on Abay Avenue
    crossings = net.crossings
    assert effect.touched.crossings.tolist() == np.flatnonzero(crossings["node"].eq(c)).tolist()
    assert len(effect.touched.links) == 0
    # the links that end at junction C carry its crossing and junction casualties
    assert effect.touched.site_links(effect.network).tolist() == sorted(
        [link_id(net, "B", "C"), link_id(net, "D", "C")]
    )


def test_roundabout_touches_junction_entries_and_crossings() -> None:
    net = toy_network()
    effect = Roundabout.model_validate(
        {"type": "roundabout", "where": {"name": ["Side Street"]}, "control": ["signal"]}
    ).apply(net, CTX)
    b = node_id(net, "B")
    assert effect.touched.nodes.tolist() == [b]
    entering = np.flatnonzero(net.links["v"].eq(b).to_numpy())
    assert effect.touched.links.tolist() == entering.tolist()
    assert effect.touched.crossings.tolist() == np.flatnonzero(net.crossings["node"].eq(b)).tolist()
