"""Behaviour at a crossing: yielding, crossing time, speed by movement and over a raised table, lag acceptance."""

from __future__ import annotations

import numpy as np
import pytest

from vision_zero.core.errors import ConfigError
from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import mph_to_kph
from vision_zero.risk.crossing_behaviour import (
    crossing_time_s,
    effective_approach_speed_kph,
    lag_acceptance_share,
    movement_speed_kph,
    yield_probability,
)

P = load_parameters().central()


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
