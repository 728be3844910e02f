"""Pedestrian risk: Tefft's points, yielding, the conflict chain, crossing types against their evidence."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from risk_fixtures import PERIOD, link_record, one_road, record, star

from vision_zero.core.errors import ConfigError
from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import mph_to_kph
from vision_zero.network.road_network import CROSSING_TYPES, RoadNetwork, network_from_tables
from vision_zero.risk.crash_model import pedestrian_injury_risk as public_alias
from vision_zero.risk.pedestrian import (
    conflict_injury_risk,
    crossing_casualties_by_movement,
    crossing_injuries,
    crossing_leg_weight,
    crossing_time_s,
    effective_approach_speed_kph,
    injuries_away_from_crossings,
    injuries_on_streets,
    lag_acceptance_share,
    lane_entry_tau_s,
    mais3_pedestrian_injury,
    movement_speed_kph,
    pedestrian_injury_risk,
    pedestrian_rates,
    tefft_pedestrian_injury,
    yield_probability,
)
from vision_zero.traffic.demand import pedestrian_demand, street_pedestrian_demand
from vision_zero.traffic.simulation import TrafficRecord

P = load_parameters().central()
RISKS = np.array([0.10, 0.25, 0.50, 0.75, 0.90])
TEFFT = {
    "fatal": np.array([38.8, 52.3, 65.3, 77.2, 87.9]),
    "serious": np.array([27.5, 40.1, 53.1, 65.7, 77.4]),
}


# --- Tefft 2013 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("severity", ["fatal", "serious"])
def test_tefft_published_points_reproduced(severity: str) -> None:
    speeds = TEFFT[severity]
    risk = tefft_pedestrian_injury(speeds, severity)
    assert np.abs(risk - RISKS).max() < 0.025  # within 2.5 percentage points
    # and the speed at which each published risk is reached, within 1.5 km/h
    grid = np.linspace(0.0, 150.0, 15001)
    curve = tefft_pedestrian_injury(grid, severity)
    speed_at = np.interp(RISKS, curve, grid)
    assert np.abs(speed_at - speeds).max() < 1.5


def test_tefft_vectorised_and_alias() -> None:
    v = np.array([[10.0, 30.0], [50.0, 70.0]])
    out = pedestrian_injury_risk(v, "fatal")
    assert out.shape == (2, 2)
    assert public_alias(v, "fatal") == pytest.approx(out)
    assert float(pedestrian_injury_risk(50.0, "fatal")) == pytest.approx(out[1, 0])
    # AIS 4+ includes death: never below the death risk
    assert (pedestrian_injury_risk(v, "serious") >= out).all()


def test_rosen_sander_points_hold() -> None:
    """Rosén & Sander 2009: death risk at 50 km/h > 2x that at 40 and > 5x that at 30 (SCIENCE.md §2); about 20%
    at 60 km/h (WHO 2013 quoting them). The MAIS 3+ curve: 10% at 34 km/h (GIDAS-based models)."""
    r30, r40, r50, r60 = pedestrian_injury_risk(np.array([30.0, 40.0, 50.0, 60.0]), "fatal")
    assert r50 / r40 > 2.0
    assert r50 / r30 > 5.0
    assert 0.15 < r60 < 0.25
    assert float(mais3_pedestrian_injury(34.0)) == pytest.approx(0.10, abs=0.002)
    # the chain's curves describe police-reported casualties: below Tefft's in-depth-weighted curves
    v = np.array([30.0, 50.0, 70.0])
    assert (pedestrian_injury_risk(v, "fatal") < tefft_pedestrian_injury(v, "fatal")).all()


def test_death_curve_rises_with_impact_speed_as_in_french_national_data() -> None:
    """Martin & Wu 2018 (Traffic Inj. Prev. 19:94; every French fatal crash of 2011 and a twentieth of the injury
    crashes, weighted for under-reporting): the risk of death rose 2-fold from 30 to 40 km/h impact speed and 6-fold
    from 30 to 50 (risk.pedestrian.evidence.death_risk_ratio_*, ranges an assumption). An independent check of the
    chain's death curve (Rosén & Sander 2009, German in-depth data): 2.4x and 5.6x."""
    p = load_parameters()
    r30, r40, r50 = pedestrian_injury_risk(np.array([30.0, 40.0, 50.0]), "fatal")
    for ratio, name in ((r40 / r30, "40_to_30kph"), (r50 / r30, "50_to_30kph")):
        evidence = p[f"risk.pedestrian.evidence.death_risk_ratio_{name}"]
        assert evidence.low is not None and evidence.high is not None
        assert evidence.low <= ratio <= evidence.high, name


def test_tefft_rejects_unknown_severity() -> None:
    with pytest.raises(ConfigError, match="severity"):
        pedestrian_injury_risk(50.0, "slight")


def test_tefft_speed_shift_moves_curve() -> None:
    shifted = dict(P)
    shifted["risk.pedestrian.injury_speed_shift_kph"] = 19.0
    older = tefft_pedestrian_injury(50.0, "fatal", parameters=shifted)
    assert float(older) == pytest.approx(float(tefft_pedestrian_injury(69.0, "fatal")))
    older = pedestrian_injury_risk(50.0, "serious", parameters=shifted)
    assert float(older) == pytest.approx(float(pedestrian_injury_risk(69.0, "serious")))


@given(st.floats(0.0, 200.0), st.floats(0.0, 50.0), st.sampled_from(["fatal", "serious"]))
def test_tefft_never_falls_as_speed_rises(v: float, dv: float, severity: str) -> None:
    assert pedestrian_injury_risk(v + dv, severity) >= pedestrian_injury_risk(v, severity)


# --- yielding and exposure --------------------------------------------------------------------------------
def test_yielding_reproduces_bertulis_dulaski() -> None:
    y20, y37 = yield_probability(mph_to_kph(np.array([20.0, 37.0])), "marked", parameters=P)
    assert y20 == pytest.approx(0.75, abs=0.01)
    assert y37 == pytest.approx(0.17, abs=0.01)
    assert float(yield_probability(50.0, "rrfb", parameters=P)) == 0.86
    assert float(yield_probability(50.0, "phb", parameters=P)) == 0.96


def test_crossing_time_hand_example() -> None:
    # 2 lanes x 3.5 m / 1.07 m/s = 6.542 s; a refuge island on 4 lanes: 2 lanes at once
    assert float(crossing_time_s(2, "marked", parameters=P)) == pytest.approx(7.0 / 1.07)
    assert float(crossing_time_s(4, "refuge_island", parameters=P)) == pytest.approx(7.0 / 1.07)
    assert float(crossing_time_s(3, "refuge_island", parameters=P)) == pytest.approx(7.0 / 1.07)
    with pytest.raises(ConfigError, match="crossing_type"):
        crossing_time_s(2, "zebra", parameters=P)


def test_pedestrian_rates_are_the_demand() -> None:
    net = one_road()
    rec = record(net, peds_per_hour=90)
    rates = pedestrian_rates(rec)
    assert rates.to_dict("records") == [{"period": "peak", "crossing": 0, "peds_per_h": 90.0}]
    demand = pd.DataFrame({"crossing": [0, 1], "period": "peak", "peds_per_h": [37.5, 0.0]})
    rates = pedestrian_rates(dataclasses.replace(rec, pedestrian_demand=demand))
    assert rates.to_dict("records") == [
        {"period": "peak", "crossing": 0, "peds_per_h": 37.5}
    ]  # zero rows dropped
    assert lane_entry_tau_s(np.array([1.0, 4.0]), parameters=P) == pytest.approx([1.0, 4.0 - 3.5 / 1.07])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.floats(1.0, 500.0))
def test_crossing_casualties_are_expected_over_arrivals_not_a_draw_of_them(
    seed_a: int, seed_b: int, peds_per_h: float
) -> None:
    """The casualties are in proportion to the pedestrians' Poisson rate and do not depend on when the vehicles'
    passages fall within the period (one crossing's casualties do not hang on whether a drawn pedestrian met a
    red-light runner: no pedestrian is drawn)."""
    net = one_road(crossing_type="signalised", lanes_crossed=4, lanes=2)
    demand = pd.DataFrame({"crossing": [0], "period": "peak", "peds_per_h": [peds_per_h]})
    a = dataclasses.replace(record(net, seed=seed_a), pedestrian_demand=demand)
    b = dataclasses.replace(record(net, seed=seed_b), pedestrian_demand=demand)
    unit = dataclasses.replace(a, pedestrian_demand=demand.assign(peds_per_h=1.0))
    got_a, got_b, got_unit = (
        crossing_injuries(net, r, parameters=P)["per_year_raw"].to_numpy() for r in (a, b, unit)
    )
    assert got_a.sum() > 0
    np.testing.assert_allclose(got_a, got_b, rtol=1e-12)
    np.testing.assert_allclose(got_a, peds_per_h * got_unit, rtol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 8), st.floats(20.0, 90.0), st.integers(0, 1000))
def test_a_refuge_island_halves_a_marked_crossings_conflicts_within_the_evidence(
    lanes: int, speed_kph: float, seed: int
) -> None:
    """Hand check of the refuge mechanism: same vehicles, same pedestrians, marked vs refuge island.

    A refuge island makes the crossing two-stage (``ceil(lanes / 2)`` lanes at once), so a passing vehicle meets
    pedestrians in its path for ``ceil(lanes / 2) / lanes`` of the time; each conflict's risk is unchanged (same
    yielding as an uncontrolled crossing, same warning time within the lane) and the marked multilane factor
    (Elvik 3.14) applies to both, once. So refuge / marked = ``ceil(lanes / 2) / lanes`` exactly: -50% (even) to
    -33% (3 lanes), inside FHWA's -32..-56% (risk.cmf.refuge_island.pedestrian); nothing counted twice.
    """
    marked, refuge = (
        one_road(crossing_type=t, lanes_crossed=lanes, lanes=max(lanes // 2, 1))
        for t in ("marked", "refuge_island")
    )
    rec = record(marked, speed_kph=speed_kph, peds_per_hour=300, seed=seed)
    m = crossing_injuries(marked, rec, parameters=P).groupby("severity")["per_year_raw"].sum()
    r = crossing_injuries(refuge, rec, parameters=P).groupby("severity")["per_year_raw"].sum()
    ratio = np.ceil(lanes / 2) / lanes
    np.testing.assert_allclose(r.to_numpy(), ratio * m.to_numpy(), rtol=1e-12)
    low, high = (1.0 + x for x in _cmf_range("risk.cmf.refuge_island.pedestrian"))
    assert low <= ratio <= high


def _injured_per_death(speed_kph: float) -> float:
    """The conflict chain's injured per death at an unmarked crossing, the warning time uniform over one lane."""
    lane_s = 3.5 / 1.07
    tau = (np.arange(200) + 0.5) * lane_s / 200
    r = conflict_injury_risk(speed_kph, tau, "unmarked", parameters=P)
    return float((r["collision"].sum() - r["fatal"].sum()) / r["fatal"].sum())


def test_the_chains_severity_by_speed_brackets_injured_per_death_on_low_speed_roads() -> None:
    """The chain's speed-severity relation is the police-reported population's.

    NHTSA Traffic Tech 215 (2000; US 1995): 57.1 injured pedestrians per death on roads posted 25 mph or less
    (risk.pedestrian.evidence.injured_per_death.limit_25mph_or_less). The chain (yielding, reaction, braking,
    Rosén & Sander 2009) per collision: 72 at 20 mph (32 km/h), 38 at 25 mph (40 km/h): it brackets it, and the
    ratio falls steadily with speed (0.7 at 60 mph, 0.4 at 70 mph against NHTSA's 0.3 at 60 mph or more). So a
    network's pedestrian death share is set by the speeds its pedestrians meet, not by the chain's curves.
    Per conflict, warning times uniform: through traffic's conflicts are weighted by the lags pedestrians accept
    (lag_acceptance_share), which makes them braked ones: 103 / 60 injured per death at 20 / 25 mph and 1.8 at
    60 mph for vehicles coming straight at the pedestrians (2026-12-01), while NHTSA's roads carry turning and
    starting vehicles too.
    """
    low = load_parameters().value("risk.pedestrian.evidence.injured_per_death.limit_25mph_or_less")
    assert _injured_per_death(mph_to_kph(20.0)) >= low >= _injured_per_death(mph_to_kph(25.0))
    ratios = [_injured_per_death(mph_to_kph(mph)) for mph in (20, 25, 30, 40, 50, 60, 70)]
    assert (np.diff(ratios) < 0).all()
    high = load_parameters().value("risk.pedestrian.evidence.injured_per_death.limit_60mph_or_more")
    assert high < _injured_per_death(mph_to_kph(60.0)) < 3.0 * high


def _cmf_range(name: str) -> tuple[float, float]:
    """The 95% range of a crash-modification factor as changes (CMF - 1)."""
    par = load_parameters()[name]
    return par.low - 1.0, par.high - 1.0


# --- the conflict chain -----------------------------------------------------------------------------------
def test_conflict_at_zero_distance_hits_at_full_speed() -> None:
    # tau = 0: no time to react, impact speed = approach speed; only yielding and in-path scale it
    r = conflict_injury_risk(50.0, 0.0, "rrfb", parameters=P)
    scale = (1 - 0.86) ** P["risk.pedestrian.nonyield_elasticity"] * P[
        "risk.pedestrian.collision_given_nonyield"
    ]
    assert float(r["collision"]) == pytest.approx(scale)
    assert float(r["fatal"]) == pytest.approx(scale * float(pedestrian_injury_risk(50.0, "fatal")))
    ksi = float(pedestrian_injury_risk(50.0, "serious"))
    assert float(r["fatal"] + r["serious"]) == pytest.approx(scale * ksi)
    assert float(r["slight"]) == pytest.approx(scale * (1 - ksi))


def test_far_conflict_stops_in_time() -> None:
    # 10 s away at 50 km/h = 139 m: only the extreme quadrature tails (8 s reactions, 1 m/s^2) fail to stop
    near = conflict_injury_risk(50.0, 1.0, "marked", parameters=P)
    far = conflict_injury_risk(50.0, 10.0, "marked", parameters=P)
    assert float(far["collision"]) < 1e-6 * float(near["collision"])
    assert float(conflict_injury_risk(50.0, 30.0, "marked", parameters=P)["collision"]) == 0.0


def test_movement_speed_from_rest_and_turning_by_hand() -> None:
    # from rest: sqrt(2 a d) = sqrt(2 x 2.0 x 8.0) = 5.66 m/s = 20.4 km/h; turning: at most 21 km/h
    v = np.array([70.0, 70.0, 70.0, 70.0, 15.0])
    stopped = np.array([False, True, False, True, True])
    turning = np.array([False, False, True, True, True])
    a, d = P["risk.pedestrian.start.acceleration_mps2"], P["risk.pedestrian.start.run_up_m"]
    start = np.sqrt(2 * a * d) * 3.6
    got = movement_speed_kph(v, stopped=stopped, turning=turning, parameters=P)
    turn = P["risk.pedestrian.turning_speed_kph"]
    assert got == pytest.approx([70.0, start, turn, min(start, turn), 15.0])


def test_turning_vehicle_at_a_signal_yields_as_at_an_uncontrolled_crossing_unless_it_does_not_look() -> None:
    """The walk phase runs with the turning movement's green: no red light stops a turning driver, so the signal's
    compliance does not apply; Bertulis & Dulaski's speed curve does, at the turning speed. The share who do not
    look for pedestrians (risk.pedestrian.turning_not_looking_share, Marnell et al. 2013) neither yield nor brake:
    by hand, a mixture of an unbraked impact at the turning speed and the uncontrolled crossing's braking."""
    turn = P["risk.pedestrian.turning_speed_kph"]
    marked = conflict_injury_risk(turn, 0.5, "marked", lanes_crossed=2, parameters=P)
    looking = {**P, "risk.pedestrian.turning_not_looking_share": 0.0}
    signal_all_look = conflict_injury_risk(70.0, 0.5, "signalised", turning=True, parameters=looking)
    for sev in ("fatal", "serious", "slight", "collision"):
        assert float(signal_all_look[sev]) == pytest.approx(float(marked[sev]))
    share, el = P["risk.pedestrian.turning_not_looking_share"], P["risk.pedestrian.nonyield_elasticity"]
    assert 0.04 <= share <= 0.07
    cgn = P["risk.pedestrian.collision_given_nonyield"]
    y = float(yield_probability(turn, "marked", parameters=P))
    p_not = share + (1.0 - share) * (1.0 - y)
    w = share / p_not
    f_marked, f_signal = (1.0 - y) ** el * cgn, p_not**el * cgn
    unbraked = {
        "collision": 1.0,
        "fatal": float(pedestrian_injury_risk(turn, "fatal", parameters=P)),
        "ksi": float(pedestrian_injury_risk(turn, "serious", parameters=P)),
    }
    braked = {
        "collision": float(marked["collision"]) / f_marked,
        "fatal": float(marked["fatal"]) / f_marked,
        "ksi": float(marked["fatal"] + marked["serious"]) / f_marked,
    }
    expected = {k: f_signal * (w * unbraked[k] + (1.0 - w) * braked[k]) for k in unbraked}
    signal = conflict_injury_risk(70.0, 0.5, "signalised", turning=True, parameters=P)
    assert float(signal["collision"]) == pytest.approx(expected["collision"])
    assert float(signal["fatal"]) == pytest.approx(expected["fatal"])
    assert float(signal["fatal"] + signal["serious"]) == pytest.approx(expected["ksi"])
    assert float(signal["collision"]) > float(marked["collision"])
    through = conflict_injury_risk(70.0, 0.5, "signalised", parameters=P)
    assert float(signal["fatal"]) < float(through["fatal"])  # slower, so less severe
    assert float(signal["collision"]) > float(through["collision"])  # but far more often not yielded to


@settings(max_examples=60, deadline=None)
@given(
    st.floats(5.0, 120.0),
    st.floats(0.1, 40.0),
    st.floats(0.0, 8.0),
    st.sampled_from(CROSSING_TYPES),
)
def test_conflict_chain_never_falls_as_speed_rises(v: float, dv: float, tau: float, ctype: str) -> None:
    lo = conflict_injury_risk(v, tau, ctype, lanes_crossed=4, parameters=P)
    hi = conflict_injury_risk(v + dv, tau, ctype, lanes_crossed=4, parameters=P)
    for key in ("fatal", "collision"):
        assert float(hi[key]) >= float(lo[key]) - 1e-15
    assert float(hi["fatal"] + hi["serious"]) >= float(lo["fatal"] + lo["serious"]) - 1e-15


@settings(max_examples=15, deadline=None)
@given(st.floats(20.0, 90.0), st.floats(1.01, 1.5), st.sampled_from(CROSSING_TYPES))
def test_whole_crossing_model_never_falls_as_speed_rises(v: float, factor: float, ctype: str) -> None:
    net = one_road(crossing_type=ctype, lanes_crossed=2)
    lo = crossing_injuries(net, record(net, speed_kph=v, peds_per_hour=100), parameters=P)
    hi = crossing_injuries(
        net, record(net, speed_kph=v, speed_factor=factor, peds_per_hour=100), parameters=P
    )
    # a raised crossing scales every vehicle to its table's speeds by the site's 85th percentile: all speeds x factor
    # give the same speeds at the crossing, to the rounding (v=83.5, factor=1.5: KSI 1 ulp lower, before and after
    # 1225357), so "never falls" is to a relative 1e-12
    tol = 1.0 - 1e-12
    for sev in ("fatal",):
        assert (
            hi.loc[hi.severity == sev, "per_year_raw"].sum()
            >= lo.loc[lo.severity == sev, "per_year_raw"].sum() * tol
        )
    ksi = ["fatal", "serious"]
    assert (
        hi.loc[hi.severity.isin(ksi), "per_year_raw"].sum()
        >= lo.loc[lo.severity.isin(ksi), "per_year_raw"].sum() * tol
    )


# --- crossing types against their evidence ----------------------------------------------------------------
def _crossing_total(
    ctype: str, *, lanes: int = 2, speed_kph: float = 59.5, severities: tuple[str, ...] = ()
) -> float:
    net = one_road(crossing_type=ctype, lanes_crossed=lanes, lanes=max(lanes // 2, 1))
    inj = crossing_injuries(net, record(net, speed_kph=speed_kph, peds_per_hour=600), parameters=P)
    if severities:
        inj = inj[inj.severity.isin(severities)]
    return float(inj["per_year_raw"].sum())


def test_crossing_types_move_risk_as_their_evidence_says() -> None:
    """Each type against a marked crossing on a 2-lane road, 85th-percentile-like approach speed 59.5 km/h (37 mph).

    Evidence (SCIENCE.md §3) | mechanism here (all pedestrian injuries), and the tolerance allowed:
    RRFB -47% | yielding 86% with the non-yielding elasticity: about -44%;       within +-12 points
    PHB  -55% | yielding 96%: about -63%;                                         within +-12 points
    refuge island -32..-56% | two-stage exposure halves the conflicts: about -51%;  inside the range
    raised -45% (CMF range 0.40-0.75) | the site's speeds scaled to the design speed 44 km/h at their 85th
    percentile (one speed here, so the vehicle is capped at 44 km/h): about -26%
    LPI CMF 0.87 | applied on top of the signalised mechanism: exactly 0.87 x signalised
    signalised CMF range 0.40-1.00 (Hunt 1998; Gårder 1989 about half) | red-light violators and the 10.6% who cross
    against their red: about -57%;                                                 inside the range
    """
    marked = _crossing_total("marked")
    ratio = {t: _crossing_total(t) / marked for t in ("rrfb", "phb", "refuge_island", "raised", "signalised")}
    assert ratio["rrfb"] == pytest.approx(1 - 0.47, abs=0.12)
    assert ratio["phb"] == pytest.approx(1 - 0.55, abs=0.12)
    assert 1 - 0.56 - 0.05 <= ratio["refuge_island"] <= 1 - 0.32
    assert 0.40 <= ratio["raised"] <= 0.75
    assert _crossing_total("leading_pedestrian_interval") / _crossing_total("signalised") == pytest.approx(
        0.87
    )
    signal_cmf = load_parameters()["risk.cmf.signalised_crossing.pedestrian"]
    assert signal_cmf.low is not None and signal_cmf.high is not None
    assert signal_cmf.low <= ratio["signalised"] <= signal_cmf.high


def test_marked_only_on_multilane_roads_doubles_risk() -> None:
    # Elvik TS-handbok §3.14: marked crosswalk alone on >2 lanes about x2 vs unmarked; no change on 2 lanes
    assert _crossing_total("marked", lanes=4) / _crossing_total("unmarked", lanes=4) == pytest.approx(2.0)
    assert _crossing_total("marked", lanes=2) == pytest.approx(_crossing_total("unmarked", lanes=2))


def test_raised_crossing_puts_the_sites_85th_percentile_at_the_design_speed() -> None:
    """FHWA PEDSAFE / Falamarzi & Rahmat 2014 measure the 85th percentile over a table: every vehicle slows, each
    keeps its place in the site's distribution; a site already slower than the table is left as it is."""
    design = P["risk.pedestrian.raised.design_speed_kph"]
    rng = np.random.default_rng(0)
    v = rng.normal(65.0, 9.0, 2000)
    p85 = float(np.quantile(v, 0.85))
    over = effective_approach_speed_kph(v, "raised", P, site_p85_kph=np.full(v.size, p85))
    assert float(np.quantile(over, 0.85)) == pytest.approx(design)
    assert (np.argsort(over) == np.argsort(v)).all() and (over <= v).all()
    assert over.max() > design  # the tail is kept, not cut at the design speed
    slow = v * 0.5
    assert effective_approach_speed_kph(slow, "raised", P, site_p85_kph=np.full(v.size, p85 * 0.5)) == (
        pytest.approx(slow)
    )
    assert effective_approach_speed_kph(v, "marked", P, site_p85_kph=np.full(v.size, p85)) is v


def test_raised_crossing_cuts_deaths_more_than_slight_injuries() -> None:
    fatal_ratio = _crossing_total("raised", severities=("fatal",)) / _crossing_total(
        "marked", severities=("fatal",)
    )
    all_ratio = _crossing_total("raised") / _crossing_total("marked")
    assert fatal_ratio < all_ratio < 1.0


def test_more_lanes_crossed_at_once_more_conflicts() -> None:
    assert _crossing_total("unmarked", lanes=4) > 1.6 * _crossing_total("unmarked", lanes=2)


# --- away from crossings ----------------------------------------------------------------------------------
def test_away_from_crossings_scales_with_share() -> None:
    net = one_road(crossing_type="marked")
    rec = record(net, speed_kph=50.0, peds_per_hour=200)
    base = injuries_away_from_crossings(net, rec, parameters=P)
    assert set(base["site"]) == {0, 1} and (base["site_type"] == "link").all()
    p2 = dict(P)
    p2["risk.pedestrian.share_away_from_crossings"] = 0.2
    more = injuries_away_from_crossings(net, rec, parameters=p2)
    expected = (0.2 / 0.8) / (0.11 / 0.89)
    assert more["per_year_raw"].sum() / base["per_year_raw"].sum() == pytest.approx(expected)
    faster = injuries_away_from_crossings(net, record(net, speed_kph=60.0, peds_per_hour=200), parameters=P)
    fatal = lambda df: df.loc[df.severity == "fatal", "per_year_raw"].sum()  # noqa: E731
    assert fatal(faster) > fatal(base)


# --- streets between mapped crossings --------------------------------------------------------------------
def _residential_star() -> RoadNetwork:
    net = star(signalised=False)
    return net.with_tables(links=net.links.assign(highway="residential"))


def _street_totals(net: RoadNetwork, rec: TrafficRecord, parameters: dict[str, float] = P) -> pd.Series:
    return injuries_on_streets(net, rec, parameters=parameters).groupby("severity")["per_year_raw"].sum()


def test_local_streets_without_a_crossing_get_crossing_pedestrians_from_the_demand_model() -> None:
    """Pedestrians cross a residential street at its junction end (the star's centre; the arms' outer ends are dead
    ends, no crossing point): casualties on every arm, in proportion to the demand model's local rate and flow."""
    net = _residential_star()
    rec = link_record(net, [300.0] * len(net.links), speed_kph=40.0)
    base = injuries_on_streets(net, rec, parameters=P)
    assert set(base["site"]) == set(range(len(net.links))) and (base["site_type"] == "link").all()
    assert (base["road_user"] == "pedestrian").all() and (base["per_year_raw"] > 0).all()
    doubled = dict(P)
    doubled["demand.pedestrians_per_hour.local"] = 2.0 * P["demand.pedestrians_per_hour.local"]
    ratio = _street_totals(net, rec, doubled) / _street_totals(net, rec)
    assert ratio.to_numpy() == pytest.approx(2.0)
    busier = _street_totals(net, link_record(net, [600.0] * len(net.links), speed_kph=40.0))
    assert (busier / _street_totals(net, rec)).to_numpy() == pytest.approx(2.0)


def test_local_street_deaths_are_a_small_share_at_30_kph_and_rise_with_speed() -> None:
    """Severity of the unmarked crossing chain on a local street: about 1% deaths at 30 km/h (Rosén & Sander's
    curve through reaction and braking), several times more at 60 km/h."""
    net = _residential_star()
    share = {}
    for v in (30.0, 60.0):
        t = _street_totals(net, link_record(net, [300.0] * len(net.links), speed_kph=v))
        share[v] = t["fatal"] / t.sum()
    assert share[30.0] < 0.02 and share[60.0] > 4.0 * share[30.0]


def test_streets_served_by_a_crossing_or_arterials_get_no_street_crossings() -> None:
    """A street with a mapped crossing has its pedestrians there (crossing_injuries, injuries_away_from_crossings);
    arterials are crossed at their mapped crossings only."""
    road = one_road()
    road = road.with_tables(links=road.links.assign(highway="residential"))
    assert injuries_on_streets(road, record(road), parameters=P).empty
    arterial = star(signalised=False)
    assert injuries_on_streets(arterial, link_record(arterial, [300.0] * 8), parameters=P).empty


def _junction(arms: int, crossing: str) -> RoadNetwork:
    """A residential star (no signal), with a crossing of type ``crossing`` on its centre node ("" for none)."""
    net = star(arms=arms, signalised=False)
    nodes = net.nodes.assign(crossing=[crossing] + [""] * arms)
    return network_from_tables(nodes, net.links.assign(highway="residential"), source="test:junction")


def _with_passages(net: RoadNetwork, flows_vph: list[float], speed_kph: float) -> TrafficRecord:
    """``link_record`` plus each vehicle entering the centre node as a passage of its crossing at ``speed_kph``
    (neither stopped nor turning: the street model's running speed), and the demand model's pedestrians."""
    rec = link_record(net, flows_vph, speed_kph=speed_kph)
    into = np.flatnonzero(net.links["v"].to_numpy() == 0)
    rng = np.random.default_rng(3)
    link = np.repeat(into, [int(flows_vph[i]) for i in into])
    passages = pd.DataFrame(
        {
            "period": PERIOD.name,
            "crossing": 0,
            "t_s": np.sort(rng.uniform(0.0, PERIOD.duration_s, len(link))),
            "speed_kph": speed_kph,
            "link": link,
            "stopped": False,
            "turning": False,
        }
    )
    peds = pedestrian_demand(net, periods=(PERIOD,), params=load_parameters())
    return dataclasses.replace(rec, passages=passages, pedestrian_demand=peds)


@pytest.mark.parametrize("arms", [3, 4])
def test_a_crossing_mapped_at_a_junction_moves_its_streets_pedestrians_and_meets_the_same_vehicles(
    arms: int,
) -> None:
    """Hand case (issue 13): one junction of ``arms`` residential streets, known flows, the demand model's local rate.

    Unmapped, each street is crossed at its junction end by ``lambda = local x land use`` pedestrians an hour
    (:func:`street_pedestrian_demand`), each meeting the vehicles entering and leaving the junction by that street:
    ``sum_legs lambda (in + out) = 2 lambda F`` meetings per hour-window (``F``: vehicles through the junction).
    That is what is physically right: a pedestrian crossing at a junction crosses one leg. Mapped as one crossing
    on the junction node, the crossing gets every leg's pedestrians (``arms x lambda``) and each vehicle through
    it crosses two legs' crosswalks, meeting ``2 / arms`` of them (:func:`crossing_leg_weight`): again
    ``2 lambda F``. So the pedestrians and their casualties (at the crossing, away from it, and on the streets)
    are the same whether the junction's crossing is mapped or not. Before this accounting the crossing took
    ``lambda`` once per junction and met each pedestrian with every vehicle (``lambda F``, half the meetings at
    four legs) and lost the streets' own: mapping a crossing lost 53% of the junction's pedestrian casualties."""
    # unequal legs, in and out differing on each leg; as many vehicles leave the junction as enter it
    flows_in = [100.0, 200.0, 300.0, 400.0][:arms]
    flows_out = flows_in[::-1]
    plain, mapped = _junction(arms, ""), _junction(arms, "unmarked")
    link_flows = [
        flows_out[int(v) - 1] if u == 0 else flows_in[int(u) - 1]
        for u, v in plain.links[["u", "v"]].to_numpy()
    ]
    speed = 40.0
    assert crossing_leg_weight(mapped).tolist() == [pytest.approx(2.0 / arms)]

    # pedestrians: the junction's crossing takes the sum of its streets' junction-end pedestrians
    streets = street_pedestrian_demand(plain, periods=(PERIOD,), params=load_parameters())
    per_street = streets["peds_per_h"].sum() / 2.0  # one row per direction; both directions are one street
    at_crossing = pedestrian_demand(mapped, periods=(PERIOD,), params=load_parameters())["peds_per_h"].sum()
    assert at_crossing == pytest.approx(per_street) and per_street > 0
    assert (
        street_pedestrian_demand(mapped, periods=(PERIOD,), params=load_parameters())["peds_per_h"].sum() == 0
    )

    unmapped = _street_totals(plain, link_record(plain, link_flows, speed_kph=speed))
    rec = _with_passages(mapped, link_flows, speed)
    parts = [
        crossing_injuries(mapped, rec, parameters=P),
        injuries_away_from_crossings(mapped, rec, parameters=P),
        injuries_on_streets(mapped, rec, parameters=P),
    ]
    with_crossing = pd.concat(parts).groupby("severity")["per_year_raw"].sum()
    assert with_crossing.reindex(unmapped.index).to_numpy() == pytest.approx(unmapped.to_numpy(), rel=1e-9)


def test_street_crossings_read_each_vehicles_speed_from_the_histogram() -> None:
    """The speed histogram spreads the link's vehicles over their running speeds: half at 20 and half at 60 km/h
    give the mean of the two single-speed results, not the result at the mean speed."""
    net = _residential_star()
    flows = [300.0] * len(net.links)

    def with_hist(speeds: list[float]) -> TrafficRecord:
        rec = link_record(net, flows, speed_kph=float(np.mean(speeds)))
        hist = pd.DataFrame(
            [
                {"period": "peak", "link": link, "bin_lo_kph": v - 2.5, "count": 150 * 2 // len(speeds)}
                for link in range(len(flows))
                for v in speeds
            ]
        )
        return dataclasses.replace(rec, speed_hist=hist)

    low, high, mixed = (_street_totals(net, with_hist(v)) for v in ([20.0], [60.0], [20.0, 60.0]))
    assert mixed.to_numpy() == pytest.approx(0.5 * (low + high).to_numpy())
    at_mean = _street_totals(net, link_record(net, flows, speed_kph=40.0))
    assert mixed["fatal"] > 1.5 * at_mean["fatal"]


def test_no_pedestrians_no_pedestrian_injuries() -> None:
    net = one_road()
    rec = record(net, peds_per_hour=0)
    assert injuries_away_from_crossings(net, rec, parameters=P).empty
    inj = crossing_injuries(net, rec, parameters=P)
    assert len(inj) == 3 and (inj["per_year_raw"] == 0).all()
    assert isinstance(inj, pd.DataFrame)


def test_table_lookup_matches_the_exact_chain_over_crossings_and_periods() -> None:
    """crossing_injuries (grouped, vectorised, table look-up) equals the exact chain run per (period, crossing)."""
    from risk_fixtures import PERIOD

    from vision_zero.traffic.periods import Period, annual_factor
    from vision_zero.traffic.simulation import TrafficRecord

    net = one_road(crossing_type="marked", lanes_crossed=4, lanes=2)
    second = net.crossings.assign(crossing_type="rrfb", lanes_crossed=2, offset_m=200.0)
    net = net.with_tables(crossings=pd.concat([net.crossings, second], ignore_index=True))
    night = Period(name="night", start_h=23.0, duration_s=1800.0, demand_share=0.02, annual_hours=1000.0)
    rng = np.random.default_rng(11)
    cars, demand = [], []
    for period, dur in ((PERIOD.name, 3600.0), ("night", 1800.0)):
        for c, n_cars, peds_per_h in ((0, 900, 150.0), (1, 300, 40.0)):
            cars.append(
                pd.DataFrame(
                    {
                        "period": period,
                        "crossing": c,
                        "t_s": rng.uniform(0, dur, n_cars),
                        "speed_kph": rng.uniform(25, 75, n_cars),
                    }
                )
            )
            demand.append(pd.DataFrame({"crossing": [c], "period": period, "peds_per_h": peds_per_h}))
    rec = TrafficRecord(
        periods=(PERIOD, night),
        link_stats=record(net).link_stats,
        passages=pd.concat(cars, ignore_index=True),
        trips=pd.DataFrame(),
        speed_hist=pd.DataFrame(),
        pedestrian_demand=pd.concat(demand, ignore_index=True),
    )
    got = crossing_injuries(net, rec, parameters=P).set_index(["site", "severity"])["per_year_raw"]
    factor = {PERIOD.name: annual_factor(PERIOD), "night": annual_factor(night)}
    d = rec.pedestrian_demand.set_index(["period", "crossing"])["peds_per_h"]
    for c in (0, 1):
        ctype, lanes = str(net.crossings.at[c, "crossing_type"]), float(net.crossings.at[c, "lanes_crossed"])
        exact = dict.fromkeys(("fatal", "serious", "slight"), 0.0)
        window = float(crossing_time_s(lanes, ctype, parameters=P))
        # each passage meets the Poisson pedestrians who stepped out within the window before it: rate x the
        # integral of the exact chain over the warning time (midpoint rule, 400 steps); these vehicles pass at
        # their running speed, so the pedestrians picked their lag (lag_acceptance_share weights the times)
        tau = (np.arange(400) + 0.5) * window / 400
        lane_tau = lane_entry_tau_s(tau[None, :], parameters=P)
        accepted = lag_acceptance_share(lane_tau, parameters=P)
        for period in factor:
            car = rec.passages[(rec.passages.period == period) & (rec.passages.crossing == c)]
            v = car.speed_kph.to_numpy()[:, None]
            r = conflict_injury_risk(v, lane_tau, ctype, lanes_crossed=lanes, parameters=P)
            rate_s = d[(period, c)] / 3600.0
            for sev in exact:
                exact[sev] += factor[period] * rate_s * float((r[sev] * accepted).sum()) * window / 400
        for sev, value in exact.items():
            assert got[(c, sev)] == pytest.approx(value, rel=0.01)


def _mixed_crossings() -> tuple[RoadNetwork, TrafficRecord]:
    """A road with marked, raised, signalised and RRFB crossings, 4000 random passages in two periods (and some at
    an unknown crossing or in a period the record does not have)."""
    from vision_zero.traffic.periods import Period

    net = one_road(crossing_type="marked", lanes_crossed=4, lanes=2)
    others = [
        net.crossings.assign(crossing_type=t, lanes_crossed=2, offset_m=100.0 * (i + 2))
        for i, t in enumerate(("raised", "signalised", "rrfb"))
    ]
    net = net.with_tables(crossings=pd.concat([net.crossings, *others], ignore_index=True))
    night = Period(name="night", start_h=23.0, duration_s=1800.0, demand_share=0.02, annual_hours=1000.0)
    rng = np.random.default_rng(5)
    n = 4000
    cars = pd.DataFrame(
        {
            "period": rng.choice([PERIOD.name, "night", "evening"], n, p=[0.6, 0.35, 0.05]),
            "crossing": rng.integers(0, 5, n),  # crossing 4 is not on the network
            "t_s": rng.uniform(0, 1800, n),
            "speed_kph": rng.uniform(10, 80, n),
            "stopped": rng.random(n) < 0.2,
            "turning": rng.random(n) < 0.3,
        }
    )
    demand = pd.DataFrame(
        {"crossing": [0, 1, 2, 3, 0, 2], "period": [PERIOD.name] * 4 + ["night"] * 2, "peds_per_h": 80.0}
    )
    rec = TrafficRecord(
        periods=(PERIOD, night),
        link_stats=record(net).link_stats,
        passages=cars,
        trips=pd.DataFrame(),
        speed_hist=pd.DataFrame(),
        pedestrian_demand=demand,
    )
    return net, rec


def test_crossing_casualties_do_not_depend_on_blocks_or_the_period_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The passages' casualties are summed in blocks of whole crossings (memory): every block size gives the same
    totals bit for bit (each cell summed over the same passages in the same order), whatever the rows' order, and
    a stored record's categorical period column gives what a string column gives. Passages at an unknown crossing
    or in a period the record does not have count nowhere."""
    from vision_zero.risk import pedestrian

    net, rec = _mixed_crossings()
    cars = rec.passages
    whole = pedestrian.crossing_casualties_by_movement(net, rec, parameters=P)
    assert set(whole["crossing"]) == {0, 1, 2, 3} and whole["fatal"].gt(0).all()
    stored = dataclasses.replace(rec, passages=cars.astype({"period": "category"}))
    for block in (1, 7, 1000):
        monkeypatch.setattr(pedestrian, "_BLOCK_PASSAGES", block)
        for r in (rec, stored):
            pd.testing.assert_frame_equal(
                pedestrian.crossing_casualties_by_movement(net, r, parameters=P), whole, check_exact=True
            )
    kept = cars[cars["crossing"].lt(4) & cars["period"].ne("evening")]
    only = dataclasses.replace(rec, passages=kept.reset_index(drop=True))
    pd.testing.assert_frame_equal(
        pedestrian.crossing_casualties_by_movement(net, only, parameters=P), whole, check_exact=True
    )


def test_kept_passages_give_every_parameter_set_what_a_fresh_run_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tornado's re-runs (``CrossingPassages(keep=True)``, :mod:`vision_zero.runs.sensitivity`) group the
    passages once and keep each group's impact (speed at the crossing, means over the warning time) with the
    parameters it read: parameter sets in turn give, bit for bit, what a fresh call gives; a set that moves only
    what comes after the impact (yielding, the non-yielding elasticity) computes no impact again, one that moves the
    turning speed, the walking speed, the raised crossings' design speed, a reaction-time parameter or the critical
    lag does; a parameter of one crossing type recomputes only the passages at crossings of that type."""
    from vision_zero.risk import pedestrian

    net, rec = _mixed_crossings()
    monkeypatch.setattr(pedestrian, "_BLOCK_PASSAGES", 1000)  # several blocks, each with several groups
    impacts = []
    inner = pedestrian._mean_impact

    def counted(*args: object, **kwargs: object) -> object:
        impacts.append(1)
        return inner(*args, **kwargs)  # type: ignore[arg-type]

    kept = pedestrian.CrossingPassages(net, rec, keep=True)
    moves = [
        ({}, True),
        ({"risk.pedestrian.nonyield_elasticity": 0.45}, False),
        ({"risk.pedestrian.yield.signalised": 0.99}, False),
        (
            {"risk.pedestrian.yield.marked.intercept": P["risk.pedestrian.yield.marked.intercept"] + 0.5},
            False,
        ),
        ({"risk.pedestrian.turning_speed_kph": 34.0}, True),
        ({"risk.pedestrian.walking_speed_mps": 1.0}, True),
        ({"risk.pedestrian.raised.design_speed_kph": 20.0}, True),
        ({"risk.pedestrian.perception_reaction.median_s": 2.0}, True),
        ({"risk.pedestrian.critical_lag.median_s": 6.0}, True),
        ({}, False),
    ]
    central = crossing_casualties_by_movement(net, rec, parameters=P)
    for changes, computes in moves:
        values = {**P, **changes}
        fresh = crossing_casualties_by_movement(net, rec, parameters=values)
        assert changes == {} or not fresh[["fatal", "serious"]].equals(central[["fatal", "serious"]]), changes
        monkeypatch.setattr(pedestrian, "_mean_impact", counted)
        impacts.clear()
        got = kept.casualties(values)
        monkeypatch.setattr(pedestrian, "_mean_impact", inner)
        pd.testing.assert_frame_equal(got, fresh, check_exact=True)
        assert bool(impacts) == computes, changes
    # a parameter of one crossing type recomputes only that type's groups of passages
    combined: list[str] = []
    inner_combine = pedestrian._combine

    def combine_counted(*args: object, **kwargs: object) -> object:
        combined.append(str(args[2]))
        return inner_combine(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pedestrian, "_combine", combine_counted)
    values = {**P, "risk.pedestrian.yield.rrfb": 0.5}
    got = kept.casualties(values)
    monkeypatch.setattr(pedestrian, "_combine", inner_combine)
    pd.testing.assert_frame_equal(
        got, crossing_casualties_by_movement(net, rec, parameters=values), check_exact=True
    )
    assert combined and set(combined) == {"rrfb"}
    # a record too large to keep is grouped again on every call: the same numbers
    monkeypatch.setattr(pedestrian, "_KEEP_PASSAGES", 100)
    not_kept = pedestrian.CrossingPassages(net, rec, keep=True)
    for changes, _ in moves[:3]:
        values = {**P, **changes}
        fresh = crossing_casualties_by_movement(net, rec, parameters=values)
        pd.testing.assert_frame_equal(not_kept.casualties(values), fresh, check_exact=True)
    assert not_kept._kept is None and not not_kept._impacts


def test_lag_acceptance_share_is_the_lognormal_of_the_critical_lags() -> None:
    """Half the pedestrians accept the median critical lag, nobody a lag of 0, more accept longer lags."""
    median = P["risk.pedestrian.critical_lag.median_s"]
    tau = np.array([-1.0, 0.0, 0.5 * median, median, 2.0 * median, 10.0 * median])
    share = lag_acceptance_share(tau, parameters=P)
    assert share[:2].tolist() == [0.0, 0.0]
    assert share[3] == pytest.approx(0.5)
    assert np.all(np.diff(share[1:]) > 0.0) and share[-1] < 1.0
    # the spread sets how many accept half the median: Phi(-ln 2 / sigma)
    wider = {**P, "risk.pedestrian.critical_lag.sigma_log": 2.0 * P["risk.pedestrian.critical_lag.sigma_log"]}
    assert lag_acceptance_share(0.5 * median, parameters=wider) > share[2]


def test_critical_lags_85th_percentile_within_brewers_accepted_gaps() -> None:
    """Brewer et al. 2006 (TRR 1982, 11 US approaches): 85th-percentile accepted gaps 5.3-9.4 s
    (risk.pedestrian.evidence.accepted_gap_p85_s). The fitted spread of the critical lags
    (risk.pedestrian.critical_lag.sigma_log) keeps their 85th percentile inside: fewer than 85% of the pedestrians
    accept a 5.3 s lag, more than 85% a 9.4 s one (a bound: their gaps are whole crossings, the chain's lags one
    lane's)."""
    evidence = load_parameters()["risk.pedestrian.evidence.accepted_gap_p85_s"]
    assert evidence.low is not None and evidence.high is not None
    share = lag_acceptance_share(np.array([evidence.low, evidence.high]), parameters=P)
    assert share[0] < 0.85 < share[1]


def test_lag_acceptance_weights_through_traffic_only() -> None:
    """Pedestrians pick their lag against vehicles coming straight at them, not against turning vehicles or those
    leaving a stop line: only the first movement's casualties depend on the critical lags."""
    net = one_road(lanes=1, crossing_type="marked")
    rec = record(net)
    n = len(rec.passages)
    moves = np.arange(n) % 3
    passages = rec.passages.assign(turning=moves == 2, stopped=moves == 1)
    rec = dataclasses.replace(rec, passages=passages)
    bolder = {**P, "risk.pedestrian.critical_lag.median_s": 0.5 * P["risk.pedestrian.critical_lag.median_s"]}
    base = crossing_casualties_by_movement(net, rec, parameters=P).set_index("movement")
    bold = crossing_casualties_by_movement(net, rec, parameters=bolder).set_index("movement")
    assert bold.loc["passing", "collision"] > base.loc["passing", "collision"] > 0.0
    for movement in ("from_stop", "turning"):
        assert bold.loc[movement, "collision"] == pytest.approx(base.loc[movement, "collision"], rel=1e-12)


def test_crossing_leg_weight_is_cached_by_the_networks_content(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same weights with and without the cache; a network of the same name with other legs misses it."""
    from vision_zero.risk import pedestrian

    monkeypatch.setattr(pedestrian, "_LEG_WEIGHT_CACHE", type(pedestrian._LEG_WEIGHT_CACHE)())
    counted = []
    real = pedestrian.junction_legs
    monkeypatch.setattr(pedestrian, "junction_legs", lambda net: counted.append(1) or real(net))
    four = _junction(4, "unmarked")
    first = crossing_leg_weight(four)
    again = crossing_leg_weight(_junction(4, "unmarked"))  # another object, the same tables
    assert len(counted) == 1 and again is first and not first.flags.writeable
    assert first.tolist() == [0.5]
    # one arm fewer, the same source name and node count: its own weight (2 / 3 legs)
    links = four.links
    three = four.with_tables(links=links[(links["u"] != 4) & (links["v"] != 4)].reset_index(drop=True))
    assert crossing_leg_weight(three).tolist() == [pytest.approx(2.0 / 3.0)] and len(counted) == 2
    assert crossing_leg_weight(_junction(3, "unmarked")).tolist() == [pytest.approx(2.0 / 3.0)]
    monkeypatch.setattr(pedestrian, "_LEG_WEIGHT_CACHE", type(pedestrian._LEG_WEIGHT_CACHE)())
    assert crossing_leg_weight(four).tolist() == first.tolist()  # computed again: equal


def test_impact_table_cache_keyed_on_exactly_the_parameters_it_reads() -> None:
    """The table cache's key is exactly the parameters the table reads (the tornado moves one at a time).

    Every other parameter (here the occupant power-model exponent and the yielding elasticity, read downstream of
    the table) reuses the central table; each parameter the table reads, the lane time's two included, rebuilds it.
    """
    from vision_zero.risk.pedestrian import _TABLE_PARAMETERS, _cached_table, _ImpactTable, _lane_time_s

    def build(values: dict[str, float]) -> _ImpactTable:
        return _ImpactTable.build(values, _lane_time_s(values))

    _cached_table.cache_clear()
    try:
        central = build(P)
        assert _cached_table.cache_info().misses == 1
        for unrelated in ("risk.power_model.exponent.serious", "risk.pedestrian.nonyield_elasticity"):
            assert unrelated not in _TABLE_PARAMETERS
            assert build({**P, unrelated: P[unrelated] * 1.1}) is central, unrelated
        assert _cached_table.cache_info().misses == 1
        read = (*_TABLE_PARAMETERS, "risk.pedestrian.lane_width_m", "risk.pedestrian.walking_speed_mps")
        for n, name in enumerate(read, 2):
            moved = build({**P, name: P[name] * 1.1 + 0.01})
            assert moved is not central, name
            assert _cached_table.cache_info().misses == n, name
            differs = [not np.array_equal(a, b) for a, b in zip(moved.values, central.values, strict=True)]
            assert any(differs) or moved.dtau_s != central.dtau_s, name
    finally:
        _cached_table.cache_clear()


@pytest.mark.parametrize("n", [0, 1, 7])
def test_site_rows_are_the_frame_of_the_rows_as_dicts(n: int) -> None:
    """The road-user models' pedestrian rows are built column by column: the frame of the same rows as dicts."""
    from vision_zero.risk import pedestrian

    rng = np.random.default_rng(n)
    sites = np.sort(rng.choice(100, n, replace=False)).astype(np.int64)
    values = rng.random((n, 3))
    rows = [
        {
            "site_type": "link",
            "site": int(i),
            "road_user": "pedestrian",
            "severity": sev,
            "per_year_raw": float(x),
        }
        for i, v in zip(sites, values, strict=True)
        for sev, x in zip(("fatal", "serious", "slight"), v, strict=True)
    ]
    pd.testing.assert_frame_equal(
        pedestrian._site_rows("link", sites, values), pedestrian._frame(rows), check_exact=True
    )
