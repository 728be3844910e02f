"""Money in the appraisal: the annuity, the economics defaults and overrides, renewals within the horizon."""

from __future__ import annotations

import pytest
from compare_fixtures import ECON

from vision_zero.appraisal.economics import Economics, InterventionCost, annuity_factor
from vision_zero.core.errors import ConfigError
from vision_zero.core.parameters import load_parameters


def test_annuity_factor_by_hand() -> None:
    assert annuity_factor(discount_rate=0.05, horizon_years=2) == pytest.approx(1 / 1.05 + 1 / 1.05**2)
    assert annuity_factor(discount_rate=0.0, horizon_years=20) == pytest.approx(20.0)
    with pytest.raises(ConfigError, match="horizon_years"):
        annuity_factor(discount_rate=0.05, horizon_years=-1)


def test_economics_defaults_come_from_the_parameters_file() -> None:
    e = Economics.from_parameters()
    p = load_parameters()
    assert e.vsl == pytest.approx(
        p.value("economics.vsl_gdp_multiple") * p.value("economics.gdp_per_capita"), rel=1e-3
    )
    assert e.serious_injury_value == pytest.approx(0.25 * e.vsl)
    assert "iRAP" in e.sources["serious_injury_value"]


def test_economics_overrides() -> None:
    e = ECON.with_overrides(
        {"vsl": 2000.0, "value_of_time": 1.0, "discount_rate": 0.0, "horizon_years": 10, "currency": "KZT"}
    )
    assert e.serious_injury_value == pytest.approx(500.0)  # keeps its share of the VSL
    assert e.annuity == pytest.approx(10.0)
    assert e.currency == "KZT"
    with pytest.raises(ConfigError, match=r"unknown keys.*vls"):
        ECON.with_overrides({"vls": 1.0}, origin="scenarios/x.toml")
    with pytest.raises(ConfigError, match=r"also set economics\.vsl, economics\.value_of_time in KZT"):
        ECON.with_overrides({"currency": "KZT"}, origin="scenarios/x.toml")
    with pytest.raises(ConfigError, match=r"economics\.vsl: expected a number"):
        ECON.with_overrides({"vsl": "lots"})


def test_renewals_within_the_horizon() -> None:
    econ = ECON.with_overrides({"horizon_years": 10, "discount_rate": 0.0})
    # lifetime 4 in a 10-year horizon: bought in year 0, renewed in years 4 and 8
    assert InterventionCost("paint", capital=100.0, annual=5.0, lifetime_years=4).present_value(
        econ
    ) == pytest.approx(300.0 + 50.0)
    assert InterventionCost("kerb", capital=100.0, lifetime_years=10).present_value(econ) == pytest.approx(
        100.0
    )
