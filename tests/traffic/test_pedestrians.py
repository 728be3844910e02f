from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from traffic_fixtures import crossing_network, grid

from vision_zero.core.parameters import load_parameters
from vision_zero.network.road_network import RoadNetwork, load_network, network_from_tables
from vision_zero.traffic import demand, pedestrians

P = load_parameters()


def test_pedestrian_demand_by_road_class_and_time_of_day() -> None:
    net = crossing_network()
    peds = pedestrians.pedestrian_demand(net)
    am = peds[peds["period"] == "am_peak"].set_index("crossing")["peds_per_h"]
    night = peds[peds["period"] == "night"].set_index("crossing")["peds_per_h"]
    ratio_base = P.value("demand.pedestrians_per_hour.arterial") / P.value(
        "demand.pedestrians_per_hour.local"
    )
    land0, land1 = (
        am[0] / P.value("demand.pedestrians_per_hour.arterial"),
        am[1] / P.value("demand.pedestrians_per_hour.local"),
    )
    assert am[0] / am[1] == pytest.approx(ratio_base * land0 / land1)
    assert 0.25 <= land0 <= 4 and 0.25 <= land1 <= 4
    share = {p.name: p.demand_share for p in demand.default_periods()}
    assert night[0] / am[0] == pytest.approx(share["night"] / share["am_peak"])


def test_street_pedestrians_cross_local_streets_at_their_junction_ends() -> None:
    """A 3x3 grid of residential streets: each street segment gets the demand model's local rate x land use at each
    end that is a junction (3+ streets meet; the corners have two), both directions the same pedestrians; arterials
    get none (they are crossed at their mapped crossings)."""
    net = grid(3)
    net = net.with_tables(links=net.links.assign(highway="residential"))
    peds = pedestrians.street_pedestrian_demand(net)
    am = peds[peds["period"] == "am_peak"].set_index("link")["peds_per_h"]
    links = net.links
    land = pedestrians.pedestrian_land_use(net)
    degree = np.bincount(np.concatenate([links["u"], links["v"]]), minlength=9) // 2
    rate = P.value("demand.pedestrians_per_hour.local")
    expected = rate * sum(np.where(degree[links[end]] >= 3, land[links[end]], 0.0) for end in ("u", "v"))
    assert am.sort_index().to_numpy() == pytest.approx(expected)
    assert am[0] == pytest.approx(am[int(links["reverse"][0])])
    night = peds[peds["period"] == "night"].set_index("link")["peds_per_h"]
    share = {p.name: p.demand_share for p in demand.default_periods()}
    assert night[0] / am[0] == pytest.approx(share["night"] / share["am_peak"])
    arterial = net.with_tables(links=links.assign(highway="primary"))
    assert pedestrians.street_pedestrian_demand(arterial).empty


def _with_node_crossings(net: RoadNetwork, nodes: list[int]) -> RoadNetwork:
    """``net`` with an unmarked crossing on each of ``nodes`` (the schematic network's junction crossings)."""
    crossing = np.full(len(net.nodes), "", dtype=object)
    crossing[nodes] = "unmarked"
    return network_from_tables(
        net.nodes.assign(crossing=crossing), net.links, source="test:junction-crossings"
    )


def _am_pedestrians(net: RoadNetwork) -> float:
    """Pedestrians crossing in the AM peak hour: at the mapped crossings, and at the streets' junction ends (each
    street once: its two directions carry the same pedestrians)."""
    at = pedestrians.pedestrian_demand(net)
    streets = pedestrians.street_pedestrian_demand(net)
    return float(
        at.loc[at["period"] == "am_peak", "peds_per_h"].sum()
        + streets.loc[streets["period"] == "am_peak", "peds_per_h"].sum() / 2.0
    )


def test_a_crossing_mapped_at_a_junction_takes_its_streets_pedestrians() -> None:
    """Issue 13: mapping a crossing on a junction node moves the pedestrians who crossed its streets there; it
    neither loses nor makes any. A 3x3 grid of residential streets, crossings on the centre (4 legs) and an edge
    junction (3 legs): each crossing gets the local rate x land use once per leg (the crosswalks of its legs), its
    streets keep the pedestrians at their other, unmapped ends, and the grid's total is unchanged. A junction with
    main-road legs sums each leg's class (arterial legs the arterial rate); a node where two streets meet (an OSM
    crossing node on a street) keeps the one crossing of its highest class."""
    plain = grid(3)
    plain = plain.with_tables(links=plain.links.assign(highway="residential"))
    mapped = _with_node_crossings(plain, [4, 1])
    assert pedestrians.junction_legs(plain).tolist() == [2, 3, 2, 3, 4, 3, 2, 3, 2]
    rate = P.value("demand.pedestrians_per_hour.local")
    land = pedestrians.pedestrian_land_use(plain)
    at = pedestrians.pedestrian_demand(mapped)
    am = at[at["period"] == "am_peak"].set_index("crossing")["peds_per_h"]
    assert am.to_numpy() == pytest.approx([3 * rate * land[1], 4 * rate * land[4]])  # by node
    assert _am_pedestrians(mapped) == pytest.approx(_am_pedestrians(plain))
    # the street from the centre to node 5 keeps its pedestrians at node 5's end, none at the centre's
    streets = pedestrians.street_pedestrian_demand(mapped)
    links = plain.links
    to_5 = int(np.flatnonzero((links["u"] == 4) & (links["v"] == 5))[0])
    row = streets[(streets["period"] == "am_peak") & (streets["link"] == to_5)]
    assert row["peds_per_h"].to_numpy() == pytest.approx([rate * land[5]])

    main = plain.links["u"].isin([3, 4, 5]) & plain.links["v"].isin([3, 4, 5])
    crossroads = _with_node_crossings(
        plain.with_tables(links=plain.links.assign(highway=np.where(main, "secondary", "residential"))),
        [4, 0],
    )
    am = pedestrians.pedestrian_demand(crossroads).query("period == 'am_peak'")["peds_per_h"].to_numpy()
    arterial = P.value("demand.pedestrians_per_hour.arterial")
    assert am == pytest.approx([rate * land[0], (2 * arterial + 2 * rate) * land[4]])


_LOCAL_STREETS = ("residential", "unclassified", "living_street")


def _local_crossings(net: RoadNetwork) -> np.ndarray:
    """Crossings whose vehicles all come from local streets."""
    cl = net.crossing_links
    local = net.links["highway"].isin(_LOCAL_STREETS).to_numpy()[cl["link"].to_numpy(np.int64)]
    by_crossing = pd.Series(local).groupby(cl["crossing"].to_numpy()).all()
    out: np.ndarray = by_crossing.index[by_crossing.to_numpy()].to_numpy(np.int64)
    return out


def test_residential_crossings_carry_the_local_rate_on_osm_and_on_the_schematic() -> None:
    """Where pedestrians cross residential streets, OSM and the schematic network agree: in Helsinki's extract every
    junction where only residential or unclassified streets meet has a ``highway=crossing`` node within 30 m on a leg
    (the measurement behind ``schematic.crossings.local_junction_share``), and the schematic puts its crossings at
    such junctions in that share. On both, each crosswalk of a local street gets the demand model's local rate x
    land use (``demand.pedestrians_per_hour.local``), as the pedestrians crossing a local street's junction end
    where no crossing is mapped (:func:`~vision_zero.traffic.pedestrians.street_pedestrian_demand`): an OSM crossing
    node on one leg that rate, a schematic crossing on the junction node (the crosswalks of all its legs) the rate
    once per leg."""
    from paths import HELSINKI_PBF

    rate = P.value("demand.pedestrians_per_hour.local")
    helsinki = load_network(HELSINKI_PBF)
    small = load_network("schematic:almaty?scale=small&seed=0")
    for net in (helsinki, small):
        crossings = _local_crossings(net)
        assert len(crossings) >= 20
        peds = pedestrians.pedestrian_demand(net)
        am = peds[peds["period"] == "am_peak"].set_index("crossing")["peds_per_h"]
        cr = net.crossings.loc[crossings]
        at = np.where(
            cr["node"].to_numpy() >= 0,
            cr["node"].to_numpy(),
            net.links["u"].to_numpy()[np.maximum(cr["link"].to_numpy(), 0)],
        )
        land = pedestrians.pedestrian_land_use(net)[at]
        legs = pedestrians.junction_legs(net)[at]
        crosswalks = np.where((cr["node"].to_numpy() >= 0) & (legs >= 3), legs, 1)
        assert (crosswalks > 1).any() == (net is small)  # OSM: nodes on a leg; schematic: junction nodes
        np.testing.assert_allclose(am.loc[crossings].to_numpy(), rate * land * crosswalks)

    links = helsinki.links
    u, v, length = (links[c].to_numpy() for c in ("u", "v", "length_m"))
    n = len(helsinki.nodes)
    pair = np.unique(np.sort(np.stack([u, v], axis=1), axis=1), axis=0)
    degree = np.bincount(pair.ravel(), minlength=n)
    ends = np.concatenate([u, v])
    local = pd.Series(np.tile(links["highway"].isin(_LOCAL_STREETS).to_numpy(), 2)).groupby(ends).all()
    junctions = [int(j) for j in local.index[local.to_numpy()] if degree[j] >= 3]
    crossing_nodes = set(helsinki.crossings["node"].to_numpy().tolist())
    served = [
        j
        for j in junctions
        if j in crossing_nodes
        or any(v[k] in crossing_nodes and length[k] <= 30.0 for k in np.flatnonzero(u == j))
    ]
    assert len(junctions) >= 20
    share = P.value("schematic.crossings.local_junction_share")
    assert len(served) / len(junctions) == pytest.approx(share, abs=0.1)


def test_junction_legs_count_the_legs_table_per_node() -> None:
    """The count from the link ends alone equals the legs table's rows per node (its one definition of a leg):
    both directions of a street are one leg, a link from a node to itself is none, parallel links one."""
    for net in (grid(3), load_network("schematic:almaty?scale=tiny&seed=0")):
        links = net.links
        extra = links.iloc[[0, 0]].assign(
            v=[int(links["u"].iloc[0]), int(links["v"].iloc[0])]
        )  # loop, parallel
        for n in (net, net.with_tables(links=pd.concat([links, extra], ignore_index=True))):
            by_table = np.bincount(pedestrians._legs(n)["node"].to_numpy(np.int64), minlength=len(n.nodes))
            np.testing.assert_array_equal(pedestrians.junction_legs(n), by_table)
