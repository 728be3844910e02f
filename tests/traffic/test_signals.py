"""Tests of :mod:`vision_zero.traffic._signals`: fixed-time plans, offsets and phases, Webster's delay."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from simulation_fixtures import EXACT, run, trips_frame
from traffic_fixtures import make_network

from vision_zero.traffic._model import signal_plans
from vision_zero.traffic.periods import Period


def test_signal_offsets_from_the_node_column_else_pseudo_random() -> None:
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    st = dataclasses.replace(EXACT, cycle_s=90.0, lost_time_per_phase_s=4.0)
    own = signal_plans(net, st)
    given = signal_plans(
        dataclasses.replace(net, nodes=net.nodes.assign(signal_offset_s=[np.nan, 100.0, np.nan, np.nan])), st
    )
    # east-west approach 0 -> 1: green from the offset (100 mod 90 = 10 s); north approach 2 -> 1: one green
    # (41 s) and one lost time (4 s) later
    np.testing.assert_allclose(given.offset_s[:2], [10.0, 10.0 + 41.0 + 4.0])
    np.testing.assert_allclose(given.green_s[:2], [41.0, 41.0])
    assert own.offset_s[0] != pytest.approx(10.0)  # without the column: the node's fixed pseudo-random offset
    np.testing.assert_allclose(own.offset_s[1] - own.offset_s[0], 45.0)


def test_a_signal_on_one_road_has_one_vehicle_phase() -> None:
    """Lost time 4 s in a 90 s cycle. A junction's signal (three streets at a ``traffic_signals`` node) splits the
    82 s of effective green between its east-west and north-south approaches (41 s each, the second one green and
    one lost time later); a pedestrian signal where a street joins (the same node tagged ``highway=crossing``) and a
    signal where its road bends by 60 degrees (two neighbours) give every approach the whole 82 s from the offset."""
    st = dataclasses.replace(EXACT, cycle_s=90.0, lost_time_per_phase_s=4.0)
    tee = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    tee = dataclasses.replace(tee, nodes=tee.nodes.assign(signal_offset_s=[np.nan, 10.0, np.nan, np.nan]))
    junction = signal_plans(tee, st)
    np.testing.assert_allclose(junction.green_s[:2], [41.0, 41.0])
    np.testing.assert_allclose(junction.offset_s[:2], [10.0, 55.0])
    crossing = dataclasses.replace(tee, nodes=tee.nodes.assign(highway=["", "crossing", "", ""]))
    pedestrian = signal_plans(crossing, st)
    np.testing.assert_allclose(pedestrian.green_s[:2], [82.0, 82.0])
    np.testing.assert_allclose(pedestrian.offset_s[:2], [10.0, 10.0])
    # a road bending at its signal: from the west-south-west (bearing under 45 degrees: east-west) and, the other
    # way, from the north-north-east (north-south); both directions green together for the whole 82 s
    bend = make_network(
        [(0, -100), (300, 0), (400, 300)],
        [(0, 1, 316.0, 1, 50.0, 1800.0), (2, 1, 316.0, 1, 50.0, 1800.0), (1, 0, 316.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    bent = signal_plans(bend, st)
    np.testing.assert_allclose(bent.green_s[:2], [82.0, 82.0])
    assert bent.offset_s[0] == pytest.approx(bent.offset_s[1])


def webster_delay_s(c: float, g: float, q_vps: float, s_vps: float) -> float:
    lam = g / c
    x = q_vps / (lam * s_vps)
    return (
        c * (1 - lam) ** 2 / (2 * (1 - lam * x))
        + x**2 / (2 * q_vps * (1 - x))
        - 0.65 * (c / q_vps**2) ** (1 / 3) * x ** (2 + 5 * lam)
    )


def test_signalised_approach_delay_in_line_with_webster_at_low_saturation() -> None:
    # west approach 0->1 and a north approach 2->1 (the other phase), exit 1->3; node 1 signalised
    net = make_network(
        [(0, 0), (300, 0), (300, 300), (600, 0)],
        [(0, 1, 300.0, 1, 50.0, 1800.0), (2, 1, 300.0, 1, 50.0, 1800.0), (1, 3, 300.0, 1, 50.0, 1800.0)],
        signalised=[1],
    )
    st = dataclasses.replace(EXACT, cycle_s=60.0, lost_time_per_phase_s=4.0, saturation_flow_vphpl=1800.0)
    q_vph, horizon = 400.0, 4 * 3600.0
    rng = np.random.default_rng(3)
    dep = np.sort(rng.uniform(0, horizon, rng.poisson(q_vph * horizon / 3600)))
    per = Period("long", 8.0, horizon, 1.0, 1.0)
    rec = run(net, trips_frame([0], [3], dep, "long"), periods=(per,), settings=st)
    delay = rec.trips["travel_time_s"].to_numpy() - 600.0 / (50.0 / 3.6)
    expected = webster_delay_s(60.0, 26.0, q_vph / 3600, 1800.0 / 3600)  # green (60 - 2 x 4) / 2 = 26 s
    assert expected == pytest.approx(14.13, abs=0.01)  # 12.39 uniform + 2.43 random - 0.68 correction
    assert delay.mean() == pytest.approx(
        expected, rel=0.2
    )  # simulated 12.2 s: discrete discharge from green onset
    # some vehicles pass on green without stopping, the worst wait a full red
    assert delay.min() == pytest.approx(0.0, abs=1e-6)
    assert delay.max() >= 60.0 - 26.0
