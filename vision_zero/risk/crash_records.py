"""Observed crash records: reading, snapping to the network, calibration targets, Empirical Bayes and hotspots.

A crash-record CSV has one row per casualty with columns ``lat``, ``lon`` [deg, WGS84], ``date`` (ISO date),
``severity`` (``fatal``, ``serious`` or ``slight``) and ``road_user`` (``pedestrian`` or ``occupant``).

Empirical Bayes (HSM Part C appendix A, eq. A-4/A-5) combines a site's model prediction with its own record:
``N_expected = w N_predicted + (1 - w) N_observed`` with ``w = 1 / (1 + k sum(N_predicted))`` over the record's
years, ``k`` the overdispersion of the site's SPF. Sites are ranked by their expected casualties per year.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError
from vision_zero.core.tables import read_csv_table
from vision_zero.network.road_network import RoadNetwork
from vision_zero.risk._parameters import param
from vision_zero.risk.crash_model import (
    ROAD_USERS,
    SEVERITIES,
    CalibrationTargets,
    CrashEstimate,
    segment_spf_type,
)

__all__ = [
    "RECORD_COLUMNS",
    "eb_weight",
    "empirical_bayes",
    "hotspots",
    "read_crash_records",
    "record_years",
    "snap_to_links",
    "targets_from_records",
]

RECORD_COLUMNS: tuple[str, ...] = ("lat", "lon", "date", "severity", "road_user")
FloatArray = npt.NDArray[np.float64]
_EARTH_RADIUS_M = 6_371_008.8
_DAYS_PER_YEAR = 365.25


def read_crash_records(path: Path | str) -> pd.DataFrame:
    """Read and validate a crash-record CSV (see the module docstring for the columns).

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    DataError
        A column is missing or a value is invalid; the message names the file, the column and the row.
    """
    p = Path(path)
    df = read_csv_table(p, what="crash-record file")
    missing = [c for c in RECORD_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{p}: expected columns {list(RECORD_COLUMNS)} (missing {missing})")
    for col in ("lat", "lon"):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | ~values.between(-180.0, 180.0)
        if col == "lat":
            bad |= ~values.between(-90.0, 90.0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{p}: row {row + 2}: {col}: expected degrees (got {df[col].to_list()[row]!r})")
        df[col] = values.astype(np.float64)
    dates = pd.to_datetime(df["date"], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(f"{p}: row {row + 2}: date: expected an ISO date (got {df['date'].iloc[row]!r})")
    df["date"] = dates
    for col, allowed in (("severity", SEVERITIES), ("road_user", ROAD_USERS)):
        values = df[col].astype(str).str.strip().str.lower()
        bad = ~values.isin(allowed)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{p}: row {row + 2}: {col}: expected one of {list(allowed)} (got {df[col].iloc[row]!r})"
            )
        df[col] = values
    return df[list(RECORD_COLUMNS)].reset_index(drop=True)


def record_years(records: pd.DataFrame) -> float:
    """Years the records span (first to last date, at least one year)."""
    if not len(records):
        return 1.0
    span = int((records["date"].max() - records["date"].min()).days) + 1
    return max(span / _DAYS_PER_YEAR, 1.0)


def _local_xy(lat: FloatArray, lon: FloatArray, lat0: float, lon0: float) -> tuple[FloatArray, FloatArray]:
    """Equirectangular projection around (lat0, lon0) [m]: accurate to well under 1% over a city."""
    x = np.radians(lon - lon0) * _EARTH_RADIUS_M * np.cos(np.radians(lat0))
    y = np.radians(lat - lat0) * _EARTH_RADIUS_M
    return x, y


def snap_to_links(
    records: pd.DataFrame, network: RoadNetwork, *, parameters: Mapping[str, float], chunk: int = 2048
) -> pd.DataFrame:
    """Each record's nearest link (straight segment between its nodes) and the distance to it.

    Records farther than ``risk.crash_records.max_snap_distance_m`` get ``link`` -1. Of a two-way road the
    direction with the lower id is taken (a record does not say the direction of travel).

    Returns
    -------
    pandas.DataFrame
        The records with ``link`` int and ``snap_distance_m`` float added.
    """
    out = records.copy()
    nodes, links = network.nodes, network.links
    if not len(out) or not len(links):
        out["link"] = -1
        out["snap_distance_m"] = np.nan
        return out
    lat0, lon0 = float(nodes["lat"].mean()), float(nodes["lon"].mean())
    nx_, ny_ = _local_xy(nodes["lat"].to_numpy(np.float64), nodes["lon"].to_numpy(np.float64), lat0, lon0)
    u, v = links["u"].to_numpy(np.int64), links["v"].to_numpy(np.int64)
    ax, ay, bx, by = nx_[u], ny_[u], nx_[v], ny_[v]
    dx, dy = bx - ax, by - ay
    len2 = np.maximum(dx * dx + dy * dy, 1e-9)
    px, py = _local_xy(out["lat"].to_numpy(np.float64), out["lon"].to_numpy(np.float64), lat0, lon0)
    best = np.empty(len(out), dtype=np.int64)
    dist = np.empty(len(out))
    for s in range(0, len(out), chunk):
        qx, qy = px[s : s + chunk, None], py[s : s + chunk, None]
        t = np.clip(((qx - ax) * dx + (qy - ay) * dy) / len2, 0.0, 1.0)
        d = np.hypot(qx - (ax + t * dx), qy - (ay + t * dy))
        i = np.argmin(d, axis=1)
        best[s : s + chunk] = i
        dist[s : s + chunk] = d[np.arange(len(i)), i]
    reverse = links["reverse"].to_numpy(np.int64)[best]
    best = np.where(reverse >= 0, np.minimum(best, reverse), best)  # a two-way road: the lower id of the pair
    limit = param(parameters, "risk.crash_records.max_snap_distance_m")
    out["link"] = np.where(dist <= limit, links.index.to_numpy(np.int64)[best], -1)
    out["snap_distance_m"] = dist
    return out


def targets_from_records(
    records: pd.DataFrame, *, years: float | None = None, source: str = ""
) -> CalibrationTargets:
    """Calibration targets from the records: casualties per year by severity and the pedestrian share of deaths."""
    yrs = record_years(records) if years is None else years
    if yrs <= 0:
        raise DataError(f"crash records: years: expected a number > 0 (got {yrs!r})")
    counts = records["severity"].value_counts()
    deaths = float(counts.get("fatal", 0))
    ped_deaths = float(((records["severity"] == "fatal") & (records["road_user"] == "pedestrian")).sum())
    injured = records["severity"] != "fatal"
    ped_injured = float((injured & (records["road_user"] == "pedestrian")).sum())
    return CalibrationTargets(
        deaths_per_year=deaths / yrs,
        serious_per_year=float(counts.get("serious", 0)) / yrs,
        slight_per_year=float(counts.get("slight", 0)) / yrs,
        pedestrian_share_of_deaths=ped_deaths / deaths if deaths > 0 else 0.0,
        source=source or f"crash records ({len(records)} casualties over {yrs:.2f} years)",
        pedestrian_share_of_injured=ped_injured / float(injured.sum()) if injured.any() else None,
    )


def eb_weight(predicted_total: npt.ArrayLike, k: npt.ArrayLike) -> FloatArray:
    """Empirical-Bayes weight ``w = 1 / (1 + k * sum(N_predicted))`` (HSM eq. A-5).

    Parameters
    ----------
    predicted_total
        Model prediction summed over the years of the record [crashes or casualties].
    k
        Overdispersion parameter of the site's SPF.

    References
    ----------
    AASHTO (2010). Highway Safety Manual, Part C appendix A, eq. A-5.
    """
    n = np.asarray(predicted_total, dtype=np.float64)
    out: FloatArray = 1.0 / (1.0 + np.asarray(k, dtype=np.float64) * n)
    return out


def empirical_bayes(
    predicted_per_year: npt.ArrayLike, observed: npt.ArrayLike, *, years: float, k: npt.ArrayLike
) -> FloatArray:
    """Expected per year: ``(w N_pred + (1 - w) N_obs) / years`` over the record's years (HSM eq. A-4)."""
    pred_total = np.asarray(predicted_per_year, dtype=np.float64) * years
    w = eb_weight(pred_total, k)
    out: FloatArray = (w * pred_total + (1.0 - w) * np.asarray(observed, dtype=np.float64)) / years
    return out


def hotspots(
    result: CrashEstimate,
    network: RoadNetwork,
    snapped: pd.DataFrame,
    *,
    parameters: Mapping[str, float],
    years: float | None = None,
    severity: str = "ksi",
) -> pd.DataFrame:
    """Links ranked by their Empirical-Bayes expected casualties per year.

    The prediction of a link is the calibrated ``per_year`` of its own rows and of the crossings along it (records
    snap to links, so junction casualties fall on the approach links and are compared with the links' prediction
    only: a documented simplification). ``k`` is the overdispersion of the link's segment SPF.

    Parameters
    ----------
    result
        The calibrated baseline estimate.
    network
        The network the estimate is for.
    snapped
        Records with a ``link`` column (:func:`snap_to_links`).
    parameters
        Drawn or central parameters (for ``k``).
    years
        Years the records cover; from their dates if omitted.
    severity
        ``"ksi"``, ``"all"`` or one severity.

    Returns
    -------
    pandas.DataFrame
        One row per link with ``rank``, ``link``, ``name``, ``predicted_per_year``, ``observed``,
        ``observed_per_year``, ``eb_weight``, ``expected_per_year``, ``excess_per_year`` (expected - predicted),
        sorted by ``expected_per_year`` descending.
    """
    allowed = {"ksi": ("fatal", "serious"), "all": SEVERITIES, **{s: (s,) for s in SEVERITIES}}
    if severity not in allowed:
        raise DataError(f"hotspots: severity: expected one of {sorted(allowed)} (got {severity!r})")
    sev = allowed[severity]
    yrs = record_years(snapped) if years is None else years
    inj = result.injuries[result.injuries["severity"].isin(sev)]
    links = network.links
    pred = np.zeros(len(links))
    own = inj[inj["site_type"] == "link"].groupby("site")["per_year"].sum()
    pred[own.index.to_numpy(np.int64)] += own.to_numpy(np.float64)
    at = inj[inj["site_type"] == "crossing"].groupby("site")["per_year"].sum()
    if len(at):
        crossing_link = network.crossings["link"].reindex(at.index).to_numpy()
        ok = crossing_link >= 0
        np.add.at(pred, crossing_link[ok].astype(np.int64), at.to_numpy(np.float64)[ok])
    obs_rec = snapped[(snapped["link"] >= 0) & snapped["severity"].isin(sev)]
    observed = np.bincount(obs_rec["link"].to_numpy(np.int64), minlength=len(links))[: len(links)].astype(
        float
    )
    kinds = segment_spf_type(links)
    k = np.array([param(parameters, f"risk.spf.segment.{t}.k") for t in kinds])
    expected = empirical_bayes(pred, observed, years=yrs, k=k)
    table = pd.DataFrame(
        {
            "link": links.index.to_numpy(np.int64),
            "name": links["name"].astype(str).to_numpy(),
            "predicted_per_year": pred,
            "observed": observed,
            "observed_per_year": observed / yrs,
            "eb_weight": eb_weight(pred * yrs, k),
            "expected_per_year": expected,
            "excess_per_year": expected - pred,
        }
    )
    table = table.sort_values(["expected_per_year", "link"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)
