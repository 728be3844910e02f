"""Tests of :mod:`vision_zero.traffic._desired_speed`: speed response, cameras, calming, HCM speeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from simulation_fixtures import BASE, one_road, run, trips_frame
from traffic_fixtures import make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._model import (
    DESIGN_SPEED_QUANTILE,
    compliance_draws,
    free_flow_speed_kph,
    hcm_urban_street_free_flow_speed_kph,
    segment_length_m,
)
from vision_zero.traffic.simulation import desired_speed_kph


def test_speed_response_moves_mean_speed_by_its_share_of_the_limit_change() -> None:
    base = one_road(limit_kph=60.0)
    links = base.links.copy()
    links["reference_speed_kph"] = 60.0
    links["speed_limit_kph"] = 40.0
    links["speed_response"] = 0.1
    lowered = base.with_tables(links=links)
    trips = trips_frame([0], [1], np.arange(200) * 15.0)
    before = run(base, trips, seed=1).link_stats["mean_speed_kph"].iloc[0]
    after = run(lowered, trips, seed=1).link_stats["mean_speed_kph"].iloc[0]
    # same drivers (common random numbers): the mean moves by 0.1 x (40 - 60) = -2 km/h (x (1 + cv mean z))
    assert after - before == pytest.approx(-2.0, abs=0.05)


def test_camera_mean_speed_factor_is_the_whole_fall_of_the_mean_not_compounded() -> None:
    # Wilson et al. (2010) measure one camera's fall in mean speed and in speeding; both factors must not stack.
    links = one_road(limit_kph=50.0).links.assign(over_limit_factor=0.5, mean_speed_factor=0.9)
    z = np.random.default_rng(0).standard_normal(400_000)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    v = desired_speed_kph(links, np.zeros(len(z), dtype=np.int64), z, st)
    assert v.mean() == pytest.approx(
        0.9 * 60.0, rel=0.002
    )  # -10% in all, as measured (was 0.9 x 55 = -17.5%)
    # by hand: E[(v - 50)+] for v ~ N(60, 6^2) = 6 phi(10/6) + 10 Phi(10/6) = 10.118; halving the excess gives a
    # mean of 54.94, so all speeds are scaled by 54 / 54.94 = 0.9829 for the rest of the measured fall
    np.testing.assert_allclose(
        desired_speed_kph(links, np.zeros(1, dtype=np.int64), np.zeros(1), st), [54.06], atol=0.01
    )


def test_mean_speed_factor_without_a_camera_scales_every_speed_whatever_other_links_have() -> None:
    # a measured fall of the mean without an over-limit factor (1): every speed x the factor, by hand; a driver's
    # speed on such a link is the same to the last bit whether or not another link of the network has a camera
    plain = one_road(limit_kph=50.0).links
    slowed = plain.assign(mean_speed_factor=0.9, over_limit_factor=1.0)
    z = np.array([0.0, 1.0])
    idx = np.zeros(2, dtype=np.int64)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    alone = desired_speed_kph(slowed, idx, z, st)
    np.testing.assert_allclose(alone, [0.9 * 60.0, 0.9 * 66.0])
    cam = plain.assign(over_limit_factor=0.5, mean_speed_factor=0.99)
    mixed = pd.concat([slowed, cam], ignore_index=True)
    both = desired_speed_kph(mixed, np.array([0, 0, 1, 1]), np.concatenate([z, z]), st)
    assert np.array_equal(both[:2], alone)
    np.testing.assert_allclose(both[2:], [55.0, 58.0])  # the camera's own case in the test below


def test_camera_over_limit_factor_is_the_share_still_speeding() -> None:
    # Wilson et al. (2010) measure the fall in the SHARE of drivers speeding (later update -52%): with one
    # compliance draw per driver, a share 1 - over_limit_factor of the drivers above the limit keep to it and the
    # others keep their speed; the mean is the same as the expected-value form (excess scaled by the factor).
    links = one_road(limit_kph=50.0).links.assign(over_limit_factor=0.48, mean_speed_factor=0.93)
    z = np.random.default_rng(0).standard_normal(400_000)
    idx = np.zeros(len(z), dtype=np.int64)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    plain = desired_speed_kph(one_road(limit_kph=50.0).links, idx, z, st)
    drivers = desired_speed_kph(links, idx, z, st, compliance_draw=compliance_draws(z))
    expected = desired_speed_kph(links, idx, z, st)
    assert (drivers > 50.0 + 1e-9).mean() == pytest.approx(0.48 * (plain > 50.0).mean(), rel=0.01)
    assert drivers.mean() == pytest.approx(expected.mean(), rel=0.002)
    assert drivers.mean() <= 0.93 * plain.mean() * 1.002  # at least the measured fall of the mean
    assert np.array_equal(compliance_draws(z[:10]), compliance_draws(z[:10].copy()))  # a fixed function of z


def test_desired_speed_columns_by_hand() -> None:
    links = one_road(limit_kph=50.0).links
    z = np.array([0.0, 1.0])
    idx = np.zeros(2, dtype=np.int64)
    st = dataclasses.replace(BASE, offset_kph=10.0, cv=0.1)
    np.testing.assert_allclose(desired_speed_kph(links, idx, z, st), [60.0, 66.0])
    # camera whose measured mean fall (1%) is smaller than what halving the excess already gives: excess halved only
    cam = links.assign(over_limit_factor=0.5, mean_speed_factor=0.99)
    np.testing.assert_allclose(desired_speed_kph(cam, idx, z, st), [55.0, 58.0])
    # calmed: the street's 85th percentile (z = 1.0364) at the design speed, each driver in his place
    calm = links.assign(design_speed_kph=30.0)
    np.testing.assert_allclose(
        desired_speed_kph(calm, idx, z, st), [30.0 / 1.10364, 33.0 / 1.10364], rtol=1e-5
    )
    np.testing.assert_allclose(
        desired_speed_kph(links, idx, np.array([-20.0, 0.0]), st)[0], BASE.min_speed_kph
    )


def test_a_calmed_streets_85th_percentile_is_its_design_speed() -> None:
    """FHWA PEDSAFE's design speed of a table is the 85th percentile measured over it (DESIGN_SPEED_QUANTILE)."""
    links = one_road(limit_kph=60.0).links.assign(design_speed_kph=30.0)
    z = np.random.default_rng(0).standard_normal(200_000)
    v = desired_speed_kph(links, np.zeros(z.size, dtype=np.int64), z, BASE)
    assert float(np.quantile(v, DESIGN_SPEED_QUANTILE)) == pytest.approx(30.0, rel=2e-3)
    assert v.mean() == pytest.approx(30.0 / (1.0 + BASE.cv * 1.0364), rel=2e-3)
    # a street already slower than its design speed keeps its speeds
    slow = one_road(limit_kph=20.0).links.assign(design_speed_kph=60.0)
    plain = one_road(limit_kph=20.0).links
    idx = np.zeros(z.size, dtype=np.int64)
    np.testing.assert_allclose(desired_speed_kph(slow, idx, z, BASE), desired_speed_kph(plain, idx, z, BASE))


def test_hcm_urban_street_free_flow_speed_by_hand() -> None:
    # HCM 6th ed. eqs. 18-3..18-5 (traffic.desired_speed.hcm.*), limit 40 km/h = 24.855 mi/h, one lane, 300 m:
    # S_0 = 25.6 + 0.47 x 24.855 = 37.282; f_CS = -0.47; D_a = 73 points/mi (Exhibit 18-7 at 25 mi/h, clamped),
    # f_A = -0.078 x 73 = -5.694; S_fo = 31.118 mi/h; f_L = 1.02 - 4.7 x 11.618 / 984.25 ft = 0.96452;
    # S_f = 30.014 mi/h = 48.30 km/h (above the limit, so eq. 18-5's floor does not bind)
    hcm = BASE.hcm
    assert hcm is not None
    got = hcm_urban_street_free_flow_speed_kph(np.array([40.0]), np.array([1.0]), np.array([300.0]), hcm)
    np.testing.assert_allclose(got, [48.30], atol=0.01)
    # on a 150 m block at 60 km/h S_fo f_L = 50.4 km/h: floored at the limit (S_f >= S_pl)
    short = hcm_urban_street_free_flow_speed_kph(np.array([60.0]), np.array([1.0]), np.array([150.0]), hcm)
    np.testing.assert_allclose(short, [60.0])
    # longer segments and more lanes: faster, never slower
    long = hcm_urban_street_free_flow_speed_kph(
        np.full(3, 50.0), np.array([1.0, 1.0, 2.0]), np.array([150.0, 600.0, 600.0]), hcm
    )
    assert long[0] <= long[1] < long[2]


def _cross(highway_ns: str, highway_ew: str) -> RoadNetwork:
    """A 3 x 3 grid of 150 m two-way links: the middle column is ``highway_ns``, every other link ``highway_ew``."""
    xy = [(i * 150.0, j * 150.0) for j in range(3) for i in range(3)]
    links: list[tuple[int, int, float, int, float, float]] = []
    kinds: list[str] = []
    for j in range(3):
        for i in range(3):
            a = j * 3 + i
            for b, vertical in ([(a + 1, False)] if i < 2 else []) + ([(a + 3, True)] if j < 2 else []):
                kind = highway_ns if vertical and i == 1 else highway_ew
                links += [(a, b, 150.0, 1, 60.0, 600.0), (b, a, 150.0, 1, 60.0, 600.0)]
                kinds += [kind, kind]
    return make_network(xy, links, highway=kinds)


def test_segment_length_cut_where_the_through_movement_may_have_to_yield() -> None:
    # residential crossing residential: priority to the right, every junction bounds a segment (the 150 m links at
    # the centre node run between junctions of 3 and 4 legs; a bend at a corner does not cut one)
    flat = _cross("residential", "residential")
    at_centre = ((flat.links["u"] == 4) | (flat.links["v"] == 4)).to_numpy()
    seg = segment_length_m(flat.links)
    np.testing.assert_allclose(seg[at_centre], 150.0)
    np.testing.assert_allclose(seg[~at_centre], 300.0)  # round a corner to the next junction
    # a collector through local streets keeps its priority: its segment is the whole 300 m column
    col = _cross("tertiary", "residential")
    seg = segment_length_m(col.links)
    tertiary = (col.links["highway"] == "tertiary").to_numpy()
    np.testing.assert_allclose(seg[tertiary], 300.0)
    np.testing.assert_allclose(seg[at_centre & ~tertiary], 150.0)


def test_local_streets_take_the_hcm_free_flow_speed_and_arterials_the_offset() -> None:
    # SCIENCE.md §8 / traffic.toml: limit + 9.5 km/h on arterials; a 60 km/h residential street on 150 m blocks is
    # driven at the limit on average (HCM eq. 18-5's floor), not 69.5 km/h
    net = _cross("primary", "residential")
    links = net.links
    ff = free_flow_speed_kph(links, BASE.offset_kph, BASE.hcm)
    primary = (links["highway"] == "primary").to_numpy()
    np.testing.assert_allclose(ff[primary], 60.0 + BASE.offset_kph)
    np.testing.assert_allclose(ff[~primary], 60.0)
    idx = np.arange(len(links))
    v = desired_speed_kph(links, idx, np.zeros(len(links)), BASE)
    np.testing.assert_allclose(v, ff)
    # a later limit change acts through the speed response around the same free flow, not through HCM's slope
    calmed = links.assign(reference_speed_kph=60.0, speed_limit_kph=30.0, speed_response=0.4)
    np.testing.assert_allclose(
        desired_speed_kph(calmed, idx, np.zeros(len(links)), BASE)[~primary], 60.0 - 12.0
    )
    # without HCM coefficients every class takes the offset
    plain = dataclasses.replace(BASE, hcm=None)
    np.testing.assert_allclose(desired_speed_kph(links, idx, np.zeros(len(links)), plain), 69.5)
