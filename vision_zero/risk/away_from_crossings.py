"""Pedestrians crossing away from the mapped crossings: beside them, and on the streets no crossing serves.

:func:`injuries_away_from_crossings` (the share of a crossing's pedestrians who cross the same road elsewhere) and
:func:`injuries_on_streets` (pedestrians crossing local and collector streets that no mapped crossing serves, at
their junctions and between them, from the same pedestrian demand model), each an unmarked crossing met by the
link's simulated traffic and the chain's risk per conflict (:mod:`vision_zero.risk.pedestrian_conflict`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.parameters import Parameter, ParameterSet
from vision_zero.network.road_network import RoadNetwork
from vision_zero.risk._parameters import param
from vision_zero.risk.crossing_behaviour import crossing_time_s
from vision_zero.risk.crossing_passages import _frame, _site_rows, crossing_leg_weight, pedestrian_rates
from vision_zero.risk.pedestrian_conflict import _mean_conflict_risk
from vision_zero.traffic.demand import street_pedestrian_demand
from vision_zero.traffic.periods import annual_factors
from vision_zero.traffic.simulation import SPEED_BIN_KPH, TrafficRecord

__all__ = [
    "injuries_away_from_crossings",
    "injuries_on_streets",
]

FloatArray = npt.NDArray[np.float64]


def injuries_away_from_crossings(
    network: RoadNetwork, record: TrafficRecord, *, parameters: Mapping[str, float]
) -> pd.DataFrame:
    """Expected annual pedestrian casualties crossing away from crossings, per link (site_type ``"link"``).

    Proxy (documented): the pedestrians arriving at a crossing (:func:`pedestrian_rates`) stand for the link's
    pedestrian activity; a share ``s`` of all crossings is made away from crosswalks (FHWA-HRT-13-098, 11%), so each crossing pedestrian
    brings ``s / (1 - s)`` crossings elsewhere on the crossing's links (both directions of a road; at a junction
    spread over its legs). Each is an
    uncontrolled crossing of the whole road (both directions' lanes) met by the link's traffic at its simulated
    mean speed; the conflict time ``tau`` is integrated uniformly over the crossing time. Links without a
    crossing have no pedestrian activity in the record and get none.
    """
    s = param(parameters, "risk.pedestrian.share_away_from_crossings")
    links = network.links
    rates = pedestrian_rates(record)
    if not len(rates) or not len(network.crossing_links) or not len(record.link_stats):
        return _frame([])
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
    window = crossing_time_s(lanes, "unmarked", parameters=parameters)
    period = away["period"].astype(str)
    flow_vps = away["entries"].to_numpy(np.float64) / period.map(durations).to_numpy(np.float64)
    f = annual_factors(period, record.periods) * away["away"].to_numpy(np.float64) * flow_vps * window
    speed = away["mean_speed_kph"].to_numpy(np.float64)
    risk = _mean_conflict_risk(speed, lanes, "unmarked", parameters, through=True)
    return _link_rows(len(links), link, {sev: f * risk[sev] for sev in ("fatal", "serious", "slight")})


def _link_rows(n_links: int, link: npt.NDArray[np.int64], per_year: Mapping[str, FloatArray]) -> pd.DataFrame:
    """Rows (site_type ``"link"``) of the casualties per year summed per link, for the links present."""
    totals = {sev: np.bincount(link, weights=per_year[sev], minlength=n_links)[:n_links] for sev in per_year}
    sites = np.unique(link)
    return _site_rows(
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


def injuries_on_streets(
    network: RoadNetwork, record: TrafficRecord, *, parameters: Mapping[str, float]
) -> pd.DataFrame:
    """Expected annual pedestrian casualties crossing streets between mapped crossings, per link, raw.

    Local and collector streets that no mapped crossing serves (site_type ``"link"``).
    The pedestrians come from the demand model (:func:`vision_zero.traffic.demand.street_pedestrian_demand`:
    ``demand.pedestrians_per_hour.local`` / ``.collector`` at each junction end of the street, x land use x time
    of day); a share ``s`` of all crossings is made away from the junctions (``risk.pedestrian.
    share_away_from_crossings``, FHWA-HRT-13-098), so the junction crossings are ``1 - s`` of the street's
    crossings. Each is an unmarked crossing of the whole road (both directions' lanes) met by the link's simulated
    traffic: conflicts = pedestrians x flow x crossing time, and each conflict's risk is the chain of
    :func:`conflict_injury_risk` (yielding by approach speed, reaction, braking, impact speed) averaged over the
    link's simulated speed distribution (each vehicle's running speed, from the speed histogram) and over the
    warning time. Vehicles turning at the junction or starting from a give-way stop are taken at their running
    speed (the record has no movements on streets without a mapped crossing: an upper bound on severity).
    """
    links = network.links
    if not len(record.link_stats) or not len(links):
        return _frame([])
    demand = street_pedestrian_demand(
        network, periods=record.periods, params=ParameterSet(_Drawn(parameters))
    )
    stats = record.link_stats[["period", "link", "entries", "mean_speed_kph"]].astype({"period": str})
    d = demand.merge(stats, on=["period", "link"], how="inner")
    d = d[(d["entries"] > 0) & (d["peds_per_h"] > 0) & np.isfinite(d["mean_speed_kph"])].reset_index(
        drop=True
    )
    if not len(d):
        return _frame([])
    s = param(parameters, "risk.pedestrian.share_away_from_crossings")
    durations = {p.name: p.duration_s for p in record.periods}
    duration_s = d["period"].map(durations).to_numpy(np.float64)
    link = d["link"].to_numpy(np.int64)
    n_lanes = links["lanes"].to_numpy(np.float64)
    reverse = links["reverse"].to_numpy(np.int64)
    lanes = n_lanes[link] + np.where(reverse[link] >= 0, n_lanes[np.maximum(reverse[link], 0)], 0.0)
    peds = d["peds_per_h"].to_numpy(np.float64) * duration_s / 3600.0 / (1.0 - s)
    flow_vps = d["entries"].to_numpy(np.float64) / duration_s
    window = crossing_time_s(lanes, "unmarked", parameters=parameters)
    conflicts = annual_factors(d["period"], record.periods) * peds * flow_vps * window
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
    risk = _mean_conflict_risk(speed, lanes[row], "unmarked", parameters, through=True)
    w = conflicts[row] * weight
    return _link_rows(len(links), link[row], {sev: w * risk[sev] for sev in ("fatal", "serious", "slight")})
