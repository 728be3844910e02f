import numpy as np
import pytest

from vision_zero.core import units


def test_hand_values() -> None:
    assert units.kph_to_mps(36.0) == pytest.approx(10.0)
    assert units.mps_to_kph(10.0) == pytest.approx(36.0)
    assert units.mph_to_kph(30.0) == pytest.approx(48.28032)
    assert units.km_to_miles(1.609344) == pytest.approx(1.0)
    assert units.s_to_hours(5400.0) == pytest.approx(1.5)


def test_round_trip_arrays() -> None:
    v = np.array([0.0, 30.0, 60.0, 110.0])
    assert np.allclose(units.mps_to_kph(units.kph_to_mps(v)), v)
