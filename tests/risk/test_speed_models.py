"""Speed models (risk.speed_models): Nilsson's power model and the exponential model, by hand and monotone."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision_zero.core.errors import ConfigError
from vision_zero.core.parameters import load_parameters
from vision_zero.risk import crash_model as risk
from vision_zero.risk import speed_models

P = load_parameters().central()


def test_power_and_exponential_hand_values() -> None:
    assert float(speed_models.power_model(1.1, 3.0)) == pytest.approx(1.331)
    assert float(speed_models.power_model(0.9, 2.0)) == pytest.approx(0.81)
    assert float(speed_models.exponential_model(-10.0, 0.06)) == pytest.approx(math.exp(-0.6))
    with pytest.raises(ConfigError, match="speed_ratio"):
        speed_models.power_model(-0.1, 2.0)


@given(st.floats(0.01, 5.0), st.floats(0.0, 3.0), st.floats(0.0, 6.0))
def test_power_model_never_falls_as_speed_rises(ratio: float, dr: float, exponent: float) -> None:
    assert speed_models.power_model(ratio + dr, exponent) >= speed_models.power_model(ratio, exponent)


@given(st.floats(-60.0, 60.0), st.floats(0.0, 40.0), st.floats(0.0, 0.2))
def test_exponential_model_never_falls_as_speed_rises(dv: float, step: float, beta: float) -> None:
    assert speed_models.exponential_model(dv + step, beta) >= speed_models.exponential_model(dv, beta)


def test_models_agree_for_small_changes_at_50() -> None:
    # the derived beta = exponent / 50 km/h makes both models agree near 50 km/h
    for s in risk.SEVERITIES:
        p = float(speed_models.power_model(51.0 / 50.0, P[f"risk.power_model.exponent.{s}"]))
        e = float(speed_models.exponential_model(1.0, P[f"risk.exponential_model.beta.{s}"]))
        assert p == pytest.approx(e, rel=0.01)
