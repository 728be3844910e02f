"""The conflict chain per conflict: reaction, braking, impact speed and severity; the impact table's cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import mph_to_kph
from vision_zero.network.road_network import CROSSING_TYPES
from vision_zero.risk.crossing_behaviour import (
    yield_probability,
)
from vision_zero.risk.pedestrian_conflict import conflict_injury_risk
from vision_zero.risk.pedestrian_injury import (
    pedestrian_injury_risk,
)

P = load_parameters().central()


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


def test_impact_table_cache_keyed_on_exactly_the_parameters_it_reads() -> None:
    """The table cache's key is exactly the parameters the table reads (the tornado moves one at a time).

    Every other parameter (here the occupant power-model exponent and the yielding elasticity, read downstream of
    the table) reuses the central table; each parameter the table reads, the lane time's two included, rebuilds it.
    """
    from vision_zero.risk.crossing_behaviour import lane_crossing_time_s
    from vision_zero.risk.pedestrian_conflict import _TABLE_PARAMETERS, _cached_table, _ImpactTable

    def build(values: dict[str, float]) -> _ImpactTable:
        return _ImpactTable.build(values, lane_crossing_time_s(values))

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
