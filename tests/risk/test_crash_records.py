"""Crash records: reading, snapping, calibration targets, Empirical Bayes (HSM eq. A-5) and hotspots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from risk_fixtures import one_road, record

from vision_zero.core.errors import DataError, InputFileNotFoundError
from vision_zero.core.parameters import load_parameters
from vision_zero.risk import crash_model as risk
from vision_zero.risk.crash_records import (
    eb_weight,
    empirical_bayes,
    hotspots,
    read_crash_records,
    record_years,
    snap_to_links,
    targets_from_records,
)

P = load_parameters().central()


def test_eb_weight_matches_hsm_hand_example() -> None:
    # HSM eq. A-5 with k = 0.84 (two-lane undivided), 2.0 predicted crashes/year over 3 years
    w = float(eb_weight(6.0, 0.84))
    assert w == pytest.approx(1.0 / (1.0 + 0.84 * 6.0))
    assert w == pytest.approx(0.16556, abs=1e-5)
    # 10 observed over the 3 years: N_expected = w*6 + (1-w)*10 = 9.338 -> 3.113 per year
    assert float(empirical_bayes(2.0, 10.0, years=3.0, k=0.84)) == pytest.approx((w * 6 + (1 - w) * 10) / 3)
    assert float(empirical_bayes(2.0, 10.0, years=3.0, k=0.84)) == pytest.approx(3.1126, abs=1e-4)
    # no overdispersion: trust the model; huge overdispersion: trust the record
    assert float(empirical_bayes(2.0, 10.0, years=3.0, k=0.0)) == pytest.approx(2.0)
    assert float(empirical_bayes(2.0, 10.0, years=3.0, k=1e9)) == pytest.approx(10.0 / 3.0, rel=1e-6)


def _write(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    f = tmp_path / "crashes.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    return f


def _row(
    lat: float, lon: float, severity: str = "serious", user: str = "pedestrian", date: str = "2024-03-01"
):
    return {"lat": lat, "lon": lon, "date": date, "severity": severity, "road_user": user}


def test_read_snap_and_targets(tmp_path: Path) -> None:
    net = one_road()  # nodes at (43.25, 76.90) and (43.25, 76.9117): an east-west road
    rows = [
        _row(43.25001, 76.905, "fatal", "pedestrian", "2023-01-01"),  # ~1 m from the road
        _row(43.25010, 76.908, "serious", "occupant", "2024-12-31"),  # ~11 m
        _row(43.2600, 76.905, "slight", "occupant", "2024-06-01"),  # ~1.1 km away: unsnapped
    ]
    recs = read_crash_records(_write(tmp_path, rows))
    assert record_years(recs) == pytest.approx(731 / 365.25)
    snapped = snap_to_links(recs, net, parameters=P)
    assert list(snapped["link"]) == [0, 0, -1]
    assert snapped["snap_distance_m"].iloc[1] == pytest.approx(11.1, abs=0.3)
    t = targets_from_records(recs, years=2.0)
    assert (t.deaths_per_year, t.serious_per_year, t.slight_per_year) == (0.5, 0.5, 0.5)
    assert t.pedestrian_share_of_deaths == 1.0
    assert t.pedestrian_share_of_injured == 0.0


def test_read_errors_name_file_row_and_column(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nothere\.csv"):
        read_crash_records(tmp_path / "nothere.csv")
    f = tmp_path / "bad.csv"
    pd.DataFrame({"lat": [43.2], "lon": [76.9], "date": ["2024-01-01"], "severity": ["fatal"]}).to_csv(
        f, index=False
    )
    with pytest.raises(DataError, match=r"bad.csv: expected columns .*missing \['road_user'\]"):
        read_crash_records(f)
    f2 = _write(tmp_path, [_row(43.2, 76.9), _row(43.2, 76.9, severity="grave")])
    with pytest.raises(DataError, match=r"row 3: severity: expected one of"):
        read_crash_records(f2)
    f3 = _write(tmp_path, [_row(95.0, 76.9)])
    with pytest.raises(DataError, match="row 2: lat"):
        read_crash_records(f3)


def test_hotspots_rank_by_eb_expected(tmp_path: Path) -> None:
    net = one_road()
    est = risk.estimate(net, record(net, speed_kph=55.0), parameters=P)
    cal = risk.calibrate(est, risk.CalibrationTargets.almaty().scaled(0.001))
    # five KSI casualties on the road over a year, snapped to link 0 (the lower id of the two-way pair)
    rows = [_row(43.25, 76.901 + 0.001 * i, "serious", "occupant", f"2024-0{i + 1}-01") for i in range(5)]
    snapped = snap_to_links(read_crash_records(_write(tmp_path, rows)), net, parameters=P)
    table = hotspots(cal, net, snapped, parameters=P, years=1.0)
    assert list(table["rank"]) == [1, 2]
    top = table.iloc[0]
    assert top["link"] == 0 and top["observed"] == 5
    k = P["risk.spf.segment.two_lane_undivided.k"]
    w = 1.0 / (1.0 + k * top["predicted_per_year"])
    assert top["eb_weight"] == pytest.approx(w)
    assert top["expected_per_year"] == pytest.approx(w * top["predicted_per_year"] + (1 - w) * 5)
    assert table["expected_per_year"].is_monotonic_decreasing
    assert np.isfinite(table["excess_per_year"]).all()
    with pytest.raises(DataError, match="severity"):
        hotspots(cal, net, snapped, parameters=P, severity="minor")
