"""Pedestrian injury curves: Tefft's points, Rosén & Sander's and the MAIS 3+ curve against their evidence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision_zero.core.errors import ConfigError
from vision_zero.core.parameters import load_parameters
from vision_zero.risk.crash_model import pedestrian_injury_risk as public_alias
from vision_zero.risk.pedestrian_injury import (
    mais3_pedestrian_injury,
    pedestrian_injury_risk,
    tefft_pedestrian_injury,
)

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
