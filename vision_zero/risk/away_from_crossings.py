"""Pedestrians crossing away from the mapped crossings: beside them, and on the streets no crossing serves.

:func:`injuries_away_from_crossings` (the share of a crossing's pedestrians who cross the same road elsewhere) and
:func:`injuries_on_streets` (pedestrians crossing local and collector streets that no mapped crossing serves, at
their junctions and between them, from the same pedestrian demand model), each an unmarked crossing met by the
link's simulated traffic and the chain's risk per conflict (:mod:`vision_zero.risk.pedestrian_conflict`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.parameters import Parameter, ParameterSet
from vision_zero.network.road_network import RoadNetwork
from vision_zero.risk._parameters import Kept, param
from vision_zero.risk.crossing_behaviour import crossing_time_s
from vision_zero.risk.crossing_passages import (
    casualty_frame,
    crossing_leg_weight,
    pedestrian_rates,
    site_rows,
)
from vision_zero.risk.pedestrian_conflict import mean_conflict_risk
from vision_zero.traffic.pedestrians import street_pedestrian_demand
from vision_zero.traffic.periods import annual_factors
from vision_zero.traffic.simulation import SPEED_BIN_KPH, TrafficRecord

__all__ = [
    "KeptExposure",
    "injuries_away_from_crossings",
    "injuries_on_streets",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _AwayRows:
    """What :func:`injuries_away_from_crossings` reads of a record before the chain's parameters, per link-period.

    ``away``: the pedestrians crossing away from the crossings in the period (with the share ``s`` it was made for).
    """

    n_links: int
    link: npt.NDArray[np.int64]
    lanes: FloatArray
    annual: FloatArray
    away: FloatArray
    flow_vps: FloatArray
    speed: FloatArray


def _away_rows(
    network: RoadNetwork, record: TrafficRecord, parameters: Mapping[str, float]
) -> _AwayRows | None:
    """The :class:`_AwayRows` of a record (None: no crossing with pedestrians and traffic).

    ``parameters``: the share crossing away from the crossings (``risk.pedestrian.share_away_from_crossings``).
    """
    s = param(parameters, "risk.pedestrian.share_away_from_crossings")
    links = network.links
    rates = pedestrian_rates(record)
    if not len(rates) or not len(network.crossing_links) or not len(record.link_stats):
        return None
    durations_s = {p.name: p.duration_s for p in record.periods}
    # expected pedestrians at each crossing in each period (the arrivals' rate, not a draw of them)
    peds = rates.assign(n=rates["peds_per_h"] * rates["period"].map(durations_s).astype(np.float64) / 3600.0)
    peds = peds[["period", "crossing", "n"]].dropna()
    cl = network.crossing_links[["crossing", "link"]]
    # A pedestrian crosses one road: both directions of a two-way link (weight 1 each), or one of the legs of a
    # junction, met by the vehicles through it as at the crossing itself (crossing_leg_weight: 2 / legs on each
    # incoming link; summed over them, the flows in and out of each leg)
    cl = cl.assign(weight=crossing_leg_weight(network)[cl["crossing"].to_numpy(np.int64)])
    per_link = peds.merge(cl, on="crossing")
    per_link["away"] = per_link["n"] * per_link["weight"] * s / (1.0 - s)
    away = per_link.groupby(["period", "link"])["away"].sum().reset_index()
    stats = record.link_stats[["period", "link", "entries", "mean_speed_kph"]].astype({"period": str})
    away = away.merge(stats, on=["period", "link"], how="inner")
    durations = {p.name: p.duration_s for p in record.periods}
    away = away[(away["entries"] > 0) & np.isfinite(away["mean_speed_kph"])]
    link = away["link"].to_numpy(np.int64)
    n_lanes = links["lanes"].to_numpy(np.float64)
    reverse = links["reverse"].to_numpy(np.int64)
    lanes = n_lanes[link] + np.where(reverse[link] >= 0, n_lanes[np.maximum(reverse[link], 0)], 0.0)
    period = away["period"].astype(str)
    flow_vps = away["entries"].to_numpy(np.float64) / period.map(durations).to_numpy(np.float64)
    return _AwayRows(
        n_links=len(links),
        link=link,
        lanes=lanes,
        annual=annual_factors(period, record.periods),
        away=away["away"].to_numpy(np.float64),
        flow_vps=flow_vps,
        speed=away["mean_speed_kph"].to_numpy(np.float64),
    )


def injuries_away_from_crossings(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    exposure: KeptExposure | None = None,
) -> pd.DataFrame:
    """Expected annual pedestrian casualties crossing away from crossings, per link (site_type ``"link"``).

    Proxy (documented): the pedestrians arriving at a crossing (:func:`pedestrian_rates`) stand for the link's
    pedestrian activity; a share ``s`` of all crossings is made away from crosswalks (FHWA-HRT-13-098, 11%), so each crossing pedestrian
    brings ``s / (1 - s)`` crossings elsewhere on the crossing's links (both directions of a road; at a junction
    spread over its legs). Each is an
    uncontrolled crossing of the whole road (both directions' lanes) met by the link's traffic at its simulated
    mean speed; the conflict time ``tau`` is integrated uniformly over the crossing time. Links without a
    crossing have no pedestrian activity in the record and get none. ``exposure``: the record's exposure prepared
    once (:class:`KeptExposure` of ``network`` and ``record``), for a caller that re-runs this for other
    parameters on the same traffic; None: prepared here.
    """
    rows = exposure.beside(parameters) if exposure is not None else _away_rows(network, record, parameters)
    if rows is None:
        return casualty_frame([])
    window = crossing_time_s(rows.lanes, "unmarked", parameters=parameters)
    f = rows.annual * rows.away * rows.flow_vps * window
    risk = mean_conflict_risk(rows.speed, rows.lanes, "unmarked", parameters, through=True)
    return _link_rows(rows.n_links, rows.link, {sev: f * risk[sev] for sev in ("fatal", "serious", "slight")})


def _link_rows(n_links: int, link: npt.NDArray[np.int64], per_year: Mapping[str, FloatArray]) -> pd.DataFrame:
    """Rows (site_type ``"link"``) of the casualties per year summed per link, for the links present."""
    totals = {sev: np.bincount(link, weights=per_year[sev], minlength=n_links)[:n_links] for sev in per_year}
    sites = np.unique(link)
    return site_rows(
        "link", sites, np.column_stack([totals[sev][sites] for sev in ("fatal", "serious", "slight")])
    )


class _Drawn(Mapping[str, Parameter]):
    """A replication's draw seen as parameters, read lazily.

    Only the names the demand model asks for are read (the risk-only sensitivity re-run records which parameters
    each part reads).
    """

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> Parameter:
        return Parameter(name, float(self._values[name]), "", "replication draw", "derived")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class _StreetRows:
    """What :func:`injuries_on_streets` reads of a record before the risk parameters, per link-period row ``d``.

    ``peds_s``: the demand's pedestrians in the period (``peds_per_h x duration / 3600``, before the share crossing
    away from the junctions); per row of the speed distribution (``row`` into ``d``): ``speed``, ``weight``.
    """

    n_links: int
    link: npt.NDArray[np.int64]
    lanes: FloatArray
    peds_s: FloatArray
    annual: FloatArray
    flow_vps: FloatArray
    row: npt.NDArray[np.int64]
    speed: FloatArray
    weight: FloatArray


def _street_rows(
    network: RoadNetwork, record: TrafficRecord, parameters: Mapping[str, float]
) -> _StreetRows | None:
    """The :class:`_StreetRows` of a record (None: no street has pedestrians and traffic).

    ``parameters``: the demand model's (:func:`vision_zero.traffic.pedestrians.street_pedestrian_demand`).
    """
    links = network.links
    if not len(record.link_stats) or not len(links):
        return None
    demand = street_pedestrian_demand(
        network, periods=record.periods, params=ParameterSet(_Drawn(parameters))
    )
    stats = record.link_stats[["period", "link", "entries", "mean_speed_kph"]].astype({"period": str})
    d = demand.merge(stats, on=["period", "link"], how="inner")
    d = d[(d["entries"] > 0) & (d["peds_per_h"] > 0) & np.isfinite(d["mean_speed_kph"])].reset_index(
        drop=True
    )
    if not len(d):
        return None
    durations = {p.name: p.duration_s for p in record.periods}
    duration_s = d["period"].map(durations).to_numpy(np.float64)
    link = d["link"].to_numpy(np.int64)
    n_lanes = links["lanes"].to_numpy(np.float64)
    reverse = links["reverse"].to_numpy(np.int64)
    lanes = n_lanes[link] + np.where(reverse[link] >= 0, n_lanes[np.maximum(reverse[link], 0)], 0.0)
    peds_s = d["peds_per_h"].to_numpy(np.float64) * duration_s / 3600.0
    flow_vps = d["entries"].to_numpy(np.float64) / duration_s
    annual = annual_factors(d["period"], record.periods)
    # each vehicle's running speed: the link-period's speed histogram (bin midpoints), else its mean speed
    speed = d["mean_speed_kph"].to_numpy(np.float64)
    row = np.arange(len(d))
    weight = np.ones(len(d))
    hist = record.speed_hist
    if len(hist):
        h = hist[["period", "link", "bin_lo_kph", "count"]].astype({"period": str})
        h = h.merge(d[["period", "link"]].assign(row=row), on=["period", "link"], how="inner")
        total = h.groupby("row")["count"].transform("sum").to_numpy(np.float64)
        h_row = h["row"].to_numpy(np.int64)
        has = np.zeros(len(d), dtype=bool)
        has[h_row[total > 0]] = True
        keep = ~has
        row = np.concatenate([h_row[total > 0], row[keep]])
        speed = np.concatenate(
            [(h["bin_lo_kph"].to_numpy(np.float64) + 0.5 * SPEED_BIN_KPH)[total > 0], speed[keep]]
        )
        weight = np.concatenate(
            [(h["count"].to_numpy(np.float64) / np.where(total > 0, total, 1.0))[total > 0], weight[keep]]
        )
    return _StreetRows(len(links), link, lanes, peds_s, annual, flow_vps, row, speed, weight)


class KeptExposure:
    """A record's pedestrian exposure away from the mapped crossings, prepared once for a caller that re-runs it.

    The preparation of :func:`injuries_away_from_crossings` (the crossings' pedestrians spread over their links and
    joined to the simulated traffic: ``beside``) and of :func:`injuries_on_streets` (the demand model's pedestrians
    per street and period joined to the traffic and its speed histograms: ``streets``) are pandas merges that were
    most of each call; they read only the share crossing away from the crossings and the demand model's
    parameters. The tornado's re-runs (:mod:`vision_zero.runs.sensitivity`) keep the first of each with the values
    of the parameters it read and prepare again only when one of those moves: the same numbers to the last bit (the
    same operations on the same values).
    """

    def __init__(self, network: RoadNetwork, record: TrafficRecord) -> None:
        self.beside: Kept[_AwayRows | None] = Kept(lambda p: _away_rows(network, record, p))
        self.streets: Kept[_StreetRows | None] = Kept(lambda p: _street_rows(network, record, p))


def injuries_on_streets(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    exposure: KeptExposure | None = None,
) -> pd.DataFrame:
    """Expected annual pedestrian casualties crossing streets between mapped crossings, per link, raw.

    Local and collector streets that no mapped crossing serves (site_type ``"link"``).
    The pedestrians come from the demand model (:func:`vision_zero.traffic.pedestrians.street_pedestrian_demand`:
    ``demand.pedestrians_per_hour.local`` / ``.collector`` at each junction end of the street, x land use x time
    of day); a share ``s`` of all crossings is made away from the junctions (``risk.pedestrian.
    share_away_from_crossings``, FHWA-HRT-13-098), so the junction crossings are ``1 - s`` of the street's
    crossings. Each is an unmarked crossing of the whole road (both directions' lanes) met by the link's simulated
    traffic: conflicts = pedestrians x flow x crossing time, and each conflict's risk is the chain of
    :func:`conflict_injury_risk` (yielding by approach speed, reaction, braking, impact speed) averaged over the
    link's simulated speed distribution (each vehicle's running speed, from the speed histogram) and over the
    warning time. Vehicles turning at the junction or starting from a give-way stop are taken at their running
    speed (the record has no movements on streets without a mapped crossing: an upper bound on severity).
    ``exposure``: as :func:`injuries_away_from_crossings` takes it.
    """
    d = exposure.streets(parameters) if exposure is not None else _street_rows(network, record, parameters)
    if d is None:
        return casualty_frame([])
    s = param(parameters, "risk.pedestrian.share_away_from_crossings")
    peds = d.peds_s / (1.0 - s)
    window = crossing_time_s(d.lanes, "unmarked", parameters=parameters)
    conflicts = d.annual * peds * d.flow_vps * window
    risk = mean_conflict_risk(d.speed, d.lanes[d.row], "unmarked", parameters, through=True)
    w = conflicts[d.row] * d.weight
    return _link_rows(
        d.n_links, d.link[d.row], {sev: w * risk[sev] for sev in ("fatal", "serious", "slight")}
    )
