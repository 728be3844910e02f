"""A user's demand files: origin-destination tables and pedestrian counts, read and checked.

Every error names the file, the row and the column, what was expected and what was given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError, shorten
from vision_zero.core.tables import read_csv_table
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic.pedestrians import PEDESTRIAN_COLUMNS

__all__ = [
    "MAX_OD_TRIPS_PER_ROW",
    "MAX_PEDESTRIANS_PER_HOUR",
    "read_od_csv",
    "read_pedestrian_csv",
]

#: Input bounds (not model values: a row above them is a typing error, and would exhaust memory). No OD pair
#: carries a million car trips in one simulated hour (a motorway lane carries about 2,000 vehicles per hour);
#: no crossing a hundred thousand pedestrians per hour (Shibuya, the busiest, about 3,000 per signal phase).
MAX_OD_TRIPS_PER_ROW = 1e6
MAX_PEDESTRIANS_PER_HOUR = 1e5


def _read_csv(path: Path | str) -> tuple[Path, pd.DataFrame]:
    """A CSV file as a table of at least one row (:func:`vision_zero.core.tables.read_csv_table`)."""
    return Path(path), read_csv_table(path)


def _numeric(path: Path, frame: pd.DataFrame, col: str) -> npt.NDArray[np.float64]:
    """Column ``col`` as finite numbers, or a DataError naming the file, row and column."""
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        given = shorten(repr(frame[col].to_list()[row]))
        raise DataError(f"{path}: row {row + 2}, column {col!r}: expected a finite number (got {given})")
    return values


def _non_negative(
    path: Path, frame: pd.DataFrame, col: str, *, maximum: float, unit: str
) -> npt.NDArray[np.float64]:
    """Column ``col`` as numbers in ``0..maximum``, or a DataError naming the file, row and column."""
    values = _numeric(path, frame, col)
    out = np.flatnonzero((values < 0) | (values > maximum))
    if out.size:
        raise DataError(
            f"{path}: row {out[0] + 2}, column {col!r}: expected {unit} from 0 to {maximum:,.0f} "
            f"(got {float(values[out[0]])})"
        )
    return values


def _no_duplicates(path: Path, frame: pd.DataFrame, cols: list[str]) -> None:
    """Refuse a second row for the same key (which of two counts is meant cannot be told)."""
    dup = np.flatnonzero(frame.duplicated(subset=cols, keep=False).to_numpy())
    if dup.size:
        first, second = int(dup[0]), int(dup[1])
        key = ", ".join(f"{c}={frame[c].to_list()[first]!r}" for c in cols)
        raise DataError(
            f"{path}: rows {first + 2} and {second + 2}: expected one row per {'/'.join(cols)} "
            f"(got two for {shorten(key)})"
        )


def _ids(path: Path, frame: pd.DataFrame, col: str, n: int, what: str) -> npt.NDArray[np.int64]:
    """Column ``col`` as ids ``0..n-1`` of ``what`` (e.g. "node"), or a DataError naming the file, row and column."""
    values = _numeric(path, frame, col)
    bad = np.flatnonzero((values != np.round(values)) | (values < 0) | (values >= n))
    if bad.size:
        raise DataError(
            f"{path}: row {bad[0] + 2}, column {col!r}: expected a {what} id 0..{n - 1} "
            f"(got {frame[col].to_list()[bad[0]]!r})"
        )
    return values.astype(np.int64)


def _snap(
    path: Path,
    network: RoadNetwork,
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    what: str,
    max_snap_m: float,
) -> npt.NDArray[np.int64]:
    from scipy.spatial import cKDTree  # only for user zone/OD tables: not on every run's import path

    nodes = network.nodes
    lat0 = float(nodes["lat"].mean())
    kx = 111_320.0 * np.cos(np.radians(lat0))  # metres per degree of longitude at the network's latitude
    ky = 110_540.0  # metres per degree of latitude
    tree = cKDTree(np.column_stack([nodes["lon"].to_numpy() * kx, nodes["lat"].to_numpy() * ky]))
    dist, idx = tree.query(np.column_stack([lon * kx, lat * ky]))
    far = np.flatnonzero(dist > max_snap_m)
    if far.size:
        r = int(far[0])
        raise DataError(
            f"{path}: row {r + 2}: {what} ({lat[r]}, {lon[r]}) is {dist[r]:.0f} m from the nearest network node; "
            f"expected within {max_snap_m:.0f} m (is the file for this network: {network.label}?)"
        )
    return np.asarray(idx, dtype=np.int64)


def read_od_csv(path: Path | str, network: RoadNetwork, *, max_snap_m: float = 500.0) -> pd.DataFrame:
    """Read an origin-destination file: one row per (origin, destination, period) with a number of trips.

    Columns: ``period``, ``trips`` and either ``origin``/``destination`` (node ids, rows of the node table) or
    ``origin_lat``/``origin_lon``/``destination_lat``/``destination_lon`` (degrees; snapped to the nearest node
    within ``max_snap_m``).

    Returns
    -------
    pandas.DataFrame
        ``origin``, ``destination`` (node ids), ``period`` str, ``trips`` float.
    """
    path, frame = _read_csv(path)
    cols = set(frame.columns)
    for col in ("period", "trips"):
        if col not in cols:
            raise DataError(
                f"{path}: missing column {col!r}; expected columns period, trips and origin/destination "
                f"(node ids) or origin_lat/origin_lon/destination_lat/destination_lon (got {sorted(cols)})"
            )
    trips = _non_negative(path, frame, "trips", maximum=MAX_OD_TRIPS_PER_ROW, unit="a number of trips")
    n_nodes = len(network.nodes)
    if {"origin", "destination"} <= cols:
        origin, destination = (_ids(path, frame, end, n_nodes, "node") for end in ("origin", "destination"))
    elif {"origin_lat", "origin_lon", "destination_lat", "destination_lon"} <= cols:
        origin, destination = (
            _snap(
                path,
                network,
                _numeric(path, frame, f"{end}_lat"),
                _numeric(path, frame, f"{end}_lon"),
                end,
                max_snap_m,
            )
            for end in ("origin", "destination")
        )
    else:
        raise DataError(
            f"{path}: expected columns origin/destination (node ids) or origin_lat/origin_lon/"
            f"destination_lat/destination_lon (got {sorted(cols)})"
        )
    od = pd.DataFrame(
        {
            "origin": origin,
            "destination": destination,
            "period": frame["period"].astype(str).to_numpy(),
            "trips": trips,
        }
    )
    _no_duplicates(path, od, ["origin", "destination", "period"])
    return od


def read_pedestrian_csv(path: Path | str, demand: pd.DataFrame, *, n_crossings: int) -> pd.DataFrame:
    """Override pedestrian demand with counts from a CSV (``crossing``, ``period``, ``peds_per_h``).

    Rows of the file replace the matching (crossing, period) rows of ``demand``; others are kept.
    """
    path, frame = _read_csv(path)
    for col in PEDESTRIAN_COLUMNS:
        if col not in frame.columns:
            raise DataError(
                f"{path}: missing column {col!r}; expected columns {list(PEDESTRIAN_COLUMNS)} "
                f"(got {list(frame.columns)})"
            )
    cid = _ids(path, frame, "crossing", n_crossings, "crossing")
    peds = _non_negative(
        path, frame, "peds_per_h", maximum=MAX_PEDESTRIANS_PER_HOUR, unit="pedestrians per hour"
    )
    known = set(demand["period"])
    per = frame["period"].astype(str)
    unknown = sorted(set(per) - known)
    if unknown:
        raise DataError(f"{path}: column 'period': expected one of {sorted(known)} (got {unknown[0]!r})")
    new = pd.DataFrame({"crossing": cid.astype(np.int64), "period": per.to_numpy(), "peds_per_h": peds})
    _no_duplicates(path, new, ["crossing", "period"])
    keep = demand.merge(new[["crossing", "period"]], how="left", indicator=True)
    kept = demand[(keep["_merge"] == "left_only").to_numpy()]
    return (
        pd.concat([kept, new], ignore_index=True).sort_values(["period", "crossing"]).reset_index(drop=True)
    )
