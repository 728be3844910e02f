"""Tests of :mod:`vision_zero.traffic._signal_plan`: a signal plan given in the network's optional columns."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from simulation_fixtures import EXACT, HOUR, run, trips_frame
from traffic_fixtures import make_network

from vision_zero.core.errors import DataError
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._model import signal_plans
from vision_zero.traffic.simulation import simulate


def _cross_with_plan(
    phases: object = "50;10;40;5",
    groups: tuple[object, ...] = ("1", "2;3", "3;0", None),
    offset_s: float = 20.0,
) -> RoadNetwork:
    """A signal (node 1) with approaches from the west (0), north (2) and south (4) and an exit east (3), its plan
    given in the optional columns ``signal_phases_s`` and ``signal_group``."""
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0), (300, -300)],
        [
            (0, 1, 300.0, 1, 50.0, 1800.0),
            (2, 1, 300.0, 1, 50.0, 1800.0),
            (4, 1, 300.0, 1, 50.0, 1800.0),
            (1, 3, 300.0, 1, 50.0, 1800.0),
        ],
        signalised=[1],
    )
    nodes = net.nodes.assign(signal_offset_s=[np.nan, offset_s, np.nan, np.nan, np.nan])
    nodes["signal_phases_s"] = [None, phases, None, None, None]
    links = net.links.assign(signal_group=list(groups))
    return dataclasses.replace(net, nodes=nodes, links=links)


def test_a_given_signal_plan_sets_each_approach_one_window_per_cycle() -> None:
    """Four phases of 50, 10, 40 and 5 s (a 105 s cycle) from the offset 20 s: the west approach green in phase 1
    (from 20 + 50 = 70 s, 10 s), the north one in phases 2 and 3 (from 80 s, 45 s), the south one in phases 3 and
    0, wrapping round the cycle (from 20 + 100 = 120 s, i.e. 15 s into the next cycle, 55 s). No lost time is taken
    off (the phases are effective green, as UXsim has them); the exit east is no signal."""
    sig = signal_plans(_cross_with_plan(), EXACT)
    np.testing.assert_array_equal(sig.cycle_s, [105.0, 105.0, 105.0, 0.0])
    np.testing.assert_allclose(sig.offset_s[:3] % 105.0, [70.0, 80.0, 15.0])
    np.testing.assert_allclose(sig.green_s, [10.0, 45.0, 55.0, 0.0])
    always = signal_plans(_cross_with_plan(groups=("0;1;2;3", "2;3", "0", None)), EXACT)
    assert always.green_s[0] == always.cycle_s[0] == 105.0  # green in every phase: never a red


def test_vehicles_pass_a_given_plan_only_in_their_approachs_phases() -> None:
    """The real simulation at a given plan: the west approach (phase 1 only: green from 70 to 80 s in each 105 s
    cycle) discharges only in that window and fills it at the saturation flow up to its end, no lost time."""
    net = _cross_with_plan()
    depart = np.arange(0.0, 400.0, 6.0)  # one every 6 s: a queue builds in each 95 s red
    rec = run(net, trips_frame([0], [3], depart), settings=EXACT, link_events=True)
    ev = rec.link_events[rec.link_events["link"] == 0]
    exit_s = np.sort(ev["exit_s"].to_numpy())
    phi = (exit_s - 70.0) % 105.0
    assert (phi < 10.0).all(), phi
    headway_s = 3600.0 / EXACT.saturation_flow_vphpl
    assert phi.max() > 10.0 - headway_s - 1e-9  # the window is used to its end: effective green as given
    assert len(np.unique(np.floor((exit_s - 70.0) / 105.0))) >= 3  # served over several cycles
    assert rec.trips["completed"].all()


@pytest.mark.parametrize(
    ("phases", "groups", "message"),
    [
        (
            "50;0;40;5",
            ("1", "2;3", "3;0", None),
            "column 'signal_phases_s': expected phase durations in s > 0",
        ),
        ("50;ten", ("1", "2;3", "3;0", None), "node 1001 (row 1): '50;ten'"),
        ("50;10;40;5", ("0;2", "2;3", "3;0", None), "column 'signal_group': expected the phases 0..3"),
        ("50;10;40;5", ("1", "4", "3;0", None), "link 1 (node 1002 -> 1001): '4'"),
        ("50;10;40;5", ("1", "2;2", "3;0", None), "link 1 (node 1002 -> 1001): '2;2'"),
        ("50;10;40;5", ("1", "2;3", None, None), "link 2 (node 1004 -> 1001): missing"),
        ("50;10;40;5", ("1", "2;3", "3;0", "0"), "expected a group only on a link into a node with a plan"),
        (None, ("1", None, None, None), "link 0 (node 1000 -> 1001): '1'"),
    ],
)
def test_a_given_signal_plan_refuses_bad_input_naming_the_column_and_row(
    phases: object, groups: tuple[object, ...], message: str
) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        signal_plans(_cross_with_plan(phases, groups), EXACT)


def test_a_given_signal_plan_only_at_a_signal() -> None:
    net = _cross_with_plan()
    net = dataclasses.replace(net, nodes=net.nodes.assign(junction_control="priority"))
    with pytest.raises(DataError, match=re.escape("expected a plan only at a signal-controlled node")):
        simulate(net, trips_frame([0], [3], np.zeros(1)), None, rng=np.random.default_rng(0), periods=(HOUR,))
