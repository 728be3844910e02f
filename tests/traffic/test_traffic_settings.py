"""Tests of :mod:`vision_zero.traffic._traffic_settings`: settings from a draw, a link's storage."""

from __future__ import annotations

import dataclasses

import numpy as np
from simulation_fixtures import EXACT
from traffic_fixtures import make_network

from vision_zero.traffic._loop import flow_capacity_vph
from vision_zero.traffic._model import link_storage_veh
from vision_zero.traffic.simulation import TrafficSettings


def test_storage_follows_the_drawn_jam_density_where_it_is_the_networks_default() -> None:
    """A 500 m and two 100 m one-lane links: default storage 0.5 x 137.5 = 68.75 and 0.1 x 137.5 = 13.75; the
    middle one's own storage 5 (from the data). At a drawn 145 veh/km/lane the defaults become 72.5 and 14.5 and
    the flow capacity u w k_jam / (u + w) rises by 145 / 137.5; the own value stays 5. At 137.5 nothing moves."""
    links = [(0, 1, 500.0, 1, 50.0, 3600.0), (1, 2, 100.0, 1, 50.0, 600.0), (2, 3, 100.0, 1, 50.0, 3600.0)]
    xy = [(0, 0), (500, 0), (600, 0), (700, 0)]
    net = make_network(xy, links, storage_veh=[68.75, 5.0, 13.75])
    net = dataclasses.replace(net, links=net.links.drop(columns="link_capacity_vph"))
    assert EXACT.jam_density_veh_per_km_lane == 137.5
    drawn = dataclasses.replace(EXACT, jam_density_veh_per_km_lane=145.0)
    np.testing.assert_array_equal(link_storage_veh(net, EXACT), [68.75, 5.0, 13.75])
    np.testing.assert_allclose(link_storage_veh(net, drawn), [72.5, 5.0, 14.5], rtol=1e-12)
    u_mps, w_mps = 50.0 / 3.6, EXACT.backward_wave_kph / 3.6
    k_per_m = np.array([72.5 / 500.0, 5.0 / 100.0, 14.5 / 100.0])
    np.testing.assert_allclose(
        flow_capacity_vph(net, np.full(3, 50.0), drawn), u_mps * w_mps * k_per_m / (u_mps + w_mps) * 3600.0
    )
    # a network built from its tags: every link at the default, so every link follows the draw
    built = make_network(xy, links)
    np.testing.assert_allclose(link_storage_veh(built, drawn), built.links["storage_veh"] * 145.0 / 137.5)


def test_settings_from_a_parameter_draw() -> None:
    from vision_zero.core.parameters import load_parameters

    params = load_parameters()
    draw = params.draw(np.random.default_rng(0))
    st = TrafficSettings.from_values(draw)
    assert st.cv == draw["traffic.desired_speed.cv"] and 0.13 <= st.cv <= 0.15
    assert TrafficSettings.from_parameters(params) == TrafficSettings.from_values(params.central())
