"""Pedestrians who want to cross: at each mapped crossing and along local streets, per period (a documented proxy).

Every number comes from ``traffic.toml`` (``demand.*``) with its source; see SCIENCE.md §10. Counts from a file
replace the proxy (:func:`vision_zero.traffic.demand_files.read_pedestrian_csv`).

Pedestrian demand table: ``crossing`` int, ``period`` str, ``peds_per_h`` float.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.parameters import ParameterSet
from vision_zero.network.road_network import RoadNetwork, node_legs
from vision_zero.traffic._demand_common import parameters_or_default
from vision_zero.traffic.demand import default_periods
from vision_zero.traffic.periods import Period
from vision_zero.traffic.trip_distribution import trip_end_weights

__all__ = [
    "PEDESTRIAN_COLUMNS",
    "STREET_CROSSING_CLASSES",
    "crossings_at_junctions",
    "junction_legs",
    "pedestrian_demand",
    "pedestrian_land_use",
    "street_pedestrian_demand",
]

PEDESTRIAN_COLUMNS: tuple[str, ...] = ("crossing", "period", "peds_per_h")
_PED_CLASS = {
    "trunk": "arterial",
    "trunk_link": "arterial",
    "primary": "arterial",
    "primary_link": "arterial",
    "secondary": "arterial",
    "secondary_link": "arterial",
    "tertiary": "collector",
    "tertiary_link": "collector",
}
_PED_RANK = {"local": 0, "collector": 1, "arterial": 2}


def pedestrian_land_use(network: RoadNetwork, params: ParameterSet | None = None) -> npt.NDArray[np.float64]:
    """Per node: the land-use factor of :func:`pedestrian_demand` and :func:`street_pedestrian_demand`.

    The activity weight (homes + jobs, :func:`trip_end_weights`) relative to the network's mean, clipped to 0.25-4.
    """
    home, job = trip_end_weights(network, parameters_or_default(params))
    act = home + job
    mean_act = float(act.mean()) if act.size and act.mean() > 0 else 1.0
    out: npt.NDArray[np.float64] = np.clip(act / mean_act, 0.25, 4.0)
    return out


def _pedestrian_class_rank(network: RoadNetwork) -> npt.NDArray[np.int64]:
    """Per link: the pedestrian demand class rank of its road (:data:`_PED_RANK`: local 0, collector 1, arterial 2)."""
    hw = network.links["highway"].astype(str)
    out: npt.NDArray[np.int64] = hw.map(lambda h: _PED_RANK[_PED_CLASS.get(h, "local")]).to_numpy(np.int64)
    return out


def _pedestrians_per_hour_by_rank(p: ParameterSet) -> dict[int, float]:
    return {r: p.value(f"demand.pedestrians_per_hour.{name}") for name, r in _PED_RANK.items()}


def _legs(network: RoadNetwork) -> pd.DataFrame:
    """One row per leg of every node: ``node``, ``rank`` (the leg's pedestrian demand class rank, :data:`_PED_RANK`).

    A leg is a neighbouring node joined by a link in either direction (both directions of a street are one leg;
    a link from a node to itself is no leg); its class is the highest of the links on it.
    """
    links = network.links
    u = links["u"].to_numpy(np.int64)
    v = links["v"].to_numpy(np.int64)
    rank = _pedestrian_class_rank(network)
    ends = pd.DataFrame(
        {
            "node": np.concatenate([u, v]),
            "other": np.concatenate([v, u]),
            "rank": np.concatenate([rank, rank]),
        }
    )
    ends = ends[ends["node"] != ends["other"]]
    legs: pd.DataFrame = ends.groupby(["node", "other"], sort=True)["rank"].max().reset_index()
    return legs[["node", "rank"]]


def junction_legs(network: RoadNetwork) -> npt.NDArray[np.int64]:
    """Per node: the streets (legs) that meet there; a junction has three or more.

    The rows of :func:`_legs` per node (neighbours joined by a link in either direction, no link to itself),
    counted from the link ends alone: their classes are not needed for a count (4-14x faster on the schematic
    networks; equal counts, tests/traffic/test_pedestrians.py).
    """
    links = network.links
    return node_legs(links["u"].to_numpy(np.int64), links["v"].to_numpy(np.int64), len(network.nodes))


def crossings_at_junctions(
    network: RoadNetwork, legs: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.bool_]:
    """Per crossing: whether it sits on a junction node (three or more legs, :func:`junction_legs`).

    ``legs``: :func:`junction_legs` of ``network`` where the caller has it already (computed once, not twice).

    Such a crossing stands for the crosswalks of all its legs (the schematic network's convention): it takes every
    leg's pedestrians (:func:`pedestrian_demand`) and only its streets' ends at that junction
    (:func:`street_pedestrian_demand`), and a vehicle through it meets ``2 / legs`` of them
    (:func:`vision_zero.risk.crossing_passages.crossing_leg_weight`).
    """
    node = network.crossings["node"].to_numpy(np.int64)
    legs = junction_legs(network) if legs is None else legs
    out: npt.NDArray[np.bool_] = (node >= 0) & (legs[np.maximum(node, 0)] >= 3)
    return out


def pedestrian_demand(
    network: RoadNetwork, *, periods: tuple[Period, ...] | None = None, params: ParameterSet | None = None
) -> pd.DataFrame:
    """Pedestrians per hour wanting to cross at each crossing, per period (a documented proxy).

    ``peds_per_h = base x land use x time of day``. The base is the peak-hour volume of one crossing of a road of
    its class (``demand.pedestrians_per_hour.*``): for a crossing along a road, or on a node where at most two
    streets meet (an OSM crossing node on one leg), that of the highest road class the crossing crosses; for a
    crossing on a junction node (three or more legs, :func:`junction_legs`; the schematic network's convention
    for the crosswalks of a junction) the sum over its legs of each leg's class volume, as the pedestrians who
    cross that junction's streets at their junction ends when no crossing is mapped there
    (:func:`street_pedestrian_demand`): mapping a crossing at a junction moves those pedestrians onto it rather
    than replacing them by one street's volume (the risk stage spreads them over the legs,
    :func:`vision_zero.risk.crossing_passages.crossing_leg_weight`). Land use is the activity weight (homes + jobs,
    :func:`trip_end_weights`) at the crossing's node relative to the network's mean, clipped to 0.25-4
    (:func:`pedestrian_land_use`); time of day scales with the period's share of car trips relative to the peak
    hour (an assumption: no Almaty pedestrian profile was found). Replace with counts via
    :func:`read_pedestrian_csv`.
    """
    p = parameters_or_default(params)
    periods = default_periods(p) if periods is None else periods
    cr = network.crossings
    if len(cr) == 0:
        return pd.DataFrame(
            {
                "crossing": pd.Series(dtype=np.int64),
                "period": pd.Series(dtype=str),
                "peds_per_h": pd.Series(dtype=np.float64),
            }
        )
    links = network.links
    cl = network.crossing_links
    cls = pd.Series(_pedestrian_class_rank(network))
    rank = cl.assign(r=cls.to_numpy()[cl["link"].to_numpy(dtype=np.int64)]).groupby("crossing")["r"].max()
    rank_c = rank.reindex(np.arange(len(cr)), fill_value=0).to_numpy()
    by_rank = _pedestrians_per_hour_by_rank(p)
    base = np.vectorize(by_rank.get, otypes=[np.float64])(rank_c)
    node = cr["node"].to_numpy(dtype=np.int64)
    legs = _legs(network)
    leg_sum = np.bincount(
        legs["node"].to_numpy(np.int64),
        weights=np.vectorize(by_rank.get, otypes=[np.float64])(legs["rank"].to_numpy(np.int64)),
        minlength=len(network.nodes),
    )
    per_node = np.bincount(legs["node"].to_numpy(np.int64), minlength=len(network.nodes))  # junction_legs
    base = np.where(crossings_at_junctions(network, per_node), leg_sum[np.maximum(node, 0)], base)
    link = cr["link"].to_numpy(dtype=np.int64)
    at = np.where(node >= 0, node, links["u"].to_numpy(dtype=np.int64)[np.maximum(link, 0)])
    land = pedestrian_land_use(network, p)[at]
    peak = p.value("demand.share_per_hour.peak")
    rows = []
    for per in periods:
        tod = per.demand_share / peak
        rows.append(
            pd.DataFrame(
                {
                    "crossing": np.arange(len(cr), dtype=np.int64),
                    "period": per.name,
                    "peds_per_h": base * land * tod,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


#: Pedestrian demand classes whose streets get crossing pedestrians away from mapped crossings
#: (:func:`street_pedestrian_demand`): local streets and collectors.
STREET_CROSSING_CLASSES: tuple[str, ...] = ("local", "collector")


def street_pedestrian_demand(
    network: RoadNetwork, *, periods: tuple[Period, ...] | None = None, params: ParameterSet | None = None
) -> pd.DataFrame:
    """Pedestrians per hour crossing each local or collector street where no mapped crossing serves it, per period.

    The same proxy as :func:`pedestrian_demand`, for the crossing points the network does not map: a pedestrian
    walking along a street crosses each side street at the junction, so each end of a street segment that is a
    junction (three or more streets meet, :func:`junction_legs`) is an unmarked crossing point with the demand
    model's pedestrians for a crossing of that street's class (``demand.pedestrians_per_hour.local`` /
    ``.collector``) x the land use at that junction (:func:`pedestrian_land_use`) x time of day. Crossings away
    from the junctions are added by the risk stage (:func:`vision_zero.risk.away_from_crossings.injuries_on_streets`).

    A mapped crossing serves a street: one along it, or on a node where at most two streets meet (an OSM crossing
    node on the street), takes all the street's pedestrians (both directions); one on a junction node takes the
    pedestrians of that junction end only (:func:`pedestrian_demand` counts them there), so the street's other end
    keeps its own.

    Returns
    -------
    pandas.DataFrame
        ``period`` str, ``link`` int (one row for each direction of a two-way street: its pedestrians cross both),
        ``peds_per_h`` float: pedestrians crossing the street at its junction ends per hour.
    """
    p = parameters_or_default(params)
    periods = default_periods(p) if periods is None else periods
    links = network.links
    rank = _pedestrian_class_rank(network)
    wanted = np.isin(rank, [_PED_RANK[c] for c in STREET_CROSSING_CLASSES])
    n = len(network.nodes)
    legs = junction_legs(network)
    cr_node = network.crossings["node"].to_numpy(np.int64)
    at_junction = crossings_at_junctions(network, legs)
    crossed_junction = np.zeros(n, dtype=bool)
    crossed_junction[cr_node[at_junction]] = True
    cl = network.crossing_links
    whole = ~at_junction[cl["crossing"].to_numpy(np.int64)]
    served = np.zeros(len(links), dtype=bool)
    served[cl["link"].to_numpy(np.int64)[whole]] = True
    # the reverse direction of a served street is served too (its crossing's pedestrians cross both)
    rev = links["reverse"].to_numpy(np.int64)
    served |= np.where(rev >= 0, served[np.maximum(rev, 0)], False)
    chosen = np.flatnonzero(wanted & ~served)
    u = links["u"].to_numpy(np.int64)[chosen]
    v = links["v"].to_numpy(np.int64)[chosen]
    open_end = (legs >= 3) & ~crossed_junction  # a junction whose pedestrians no mapped crossing counts
    land = pedestrian_land_use(network, p)
    ends = np.where(open_end[u], land[u], 0.0) + np.where(open_end[v], land[v], 0.0)
    base = np.vectorize(_pedestrians_per_hour_by_rank(p).get, otypes=[np.float64])(rank[chosen])
    peak = p.value("demand.share_per_hour.peak")
    per_h = [base * ends * per.demand_share / peak for per in periods]
    return pd.DataFrame(
        {
            "period": pd.Series(np.repeat([per.name for per in periods], len(chosen)), dtype=str),
            "link": np.tile(chosen.astype(np.int64), len(periods)),
            "peds_per_h": np.concatenate(per_h) if per_h else np.empty(0),
        }
    )
