import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from scenario_fixtures import link_id, node_id, toy_network

from vision_zero.core.errors import SelectorError
from vision_zero.program.selectors import (
    CrossingFilter,
    Selector,
    new_crossings_along,
    road_km,
    select_crossings,
    select_junctions,
    select_links,
)


@pytest.fixture(scope="module")
def net():
    return toy_network()


def names(net, mask):
    return sorted(set(net.links.loc[mask, "name"]))


def test_empty_selector_selects_every_link(net):
    assert select_links(net, Selector()).all()


def test_highway_and_name_combine_with_and(net):
    assert names(net, select_links(net, Selector(highway="primary"))) == ["Abay Avenue"]
    both = select_links(net, Selector(highway=["primary", "trunk"], name="al-Farabi Avenue"))
    assert names(net, both) == ["al-Farabi Avenue"] and both.sum() == 2


def test_name_exact_is_case_insensitive_and_whole(net):
    assert select_links(net, Selector(name="ABAY AVENUE")).sum() == 6
    with pytest.raises(
        SelectorError, match="Abay Avenue"
    ):  # a part of a name is no match; close names listed
        select_links(net, Selector(name="Abay"))


def test_name_glob_and_regex_search_russian_names(net):
    assert names(net, select_links(net, Selector(name="*абая*"))) == ["Abay Avenue"]  # name:ru
    assert names(net, select_links(net, Selector(name_regex="farabi|side"))) == [
        "Side Street",
        "al-Farabi Avenue",
    ]


def test_bbox_and_near_use_link_midpoints(net):
    # west half: A-B (mid 76.9325) and the side street (76.935); B-C mid is 76.9375
    west = select_links(net, Selector(bbox=(76.92, 43.23, 76.936, 43.25)))
    assert names(net, west) == ["Abay Avenue", "Side Street"]
    assert west.sum() == 2 + 4
    # 300 m around B: the side-street midpoints lie 222 m away, Abay midpoints 203 m; C-D and D-G farther
    near = select_links(net, Selector(near={"lon": 76.935, "lat": 43.24, "radius_m": 300}))
    assert near.sum() == 8


def test_polygon_from_geojson(tmp_path: Path, net):
    poly = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "east"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[76.944, 43.23], [76.96, 43.23], [76.96, 43.25], [76.944, 43.25], [76.944, 43.23]]
                    ],
                },
            }
        ],
    }
    (tmp_path / "east.geojson").write_text(json.dumps(poly))
    mask = select_links(net, Selector(polygon="east.geojson"), base_dir=tmp_path)
    assert names(net, mask) == ["al-Farabi Avenue"]


def test_missing_geojson_is_a_selector_error(tmp_path: Path, net):
    with pytest.raises(SelectorError, match=r"where\.polygon: expected an existing GeoJSON file"):
        select_links(net, Selector(polygon="nowhere.geojson"), base_dir=tmp_path, origin="x.toml")


def test_osm_way_and_current_limit(net):
    assert names(net, select_links(net, Selector(osm_way=303))) == ["Side Street"]
    assert names(net, select_links(net, Selector(speed_limit_kph=80))) == ["al-Farabi Avenue"]


def test_nothing_matching_names_the_criterion(net):
    with pytest.raises(SelectorError) as err:
        select_links(net, Selector(highway="motorway"), origin="s.toml", key="interventions[1].where")
    assert err.value.key == "interventions[1].where.highway"
    assert "road classes present" in str(err.value) and "motorway" in str(err.value)
    with pytest.raises(SelectorError, match="together match"):
        select_links(net, Selector(highway="trunk", name="Abay Avenue"))


def test_selector_is_strict():
    with pytest.raises(ValidationError):
        Selector(hihgway="primary")
    with pytest.raises(ValidationError):
        Selector(bbox=(77.0, 43.0, 76.0, 44.0))
    with pytest.raises(ValidationError):
        Selector(name_regex="(")


def test_road_km_counts_two_way_streets_once(net):
    both = select_links(net, Selector(name="al-Farabi Avenue"))
    one = np.zeros(len(net.links), dtype=bool)
    one[link_id(net, "D", "G")] = True
    length_km = net.links.loc[link_id(net, "D", "G"), "length_m"] / 1000
    assert road_km(net, both) == pytest.approx(length_km)
    assert road_km(net, one) == pytest.approx(length_km)


def test_existing_crossings_by_type_and_signal(net):
    abay = select_links(net, Selector(name="Abay Avenue"))
    unsignalised = select_crossings(net, abay, CrossingFilter(signalised=False))
    assert list(np.flatnonzero(unsignalised)) == [1]  # the zebra at C; B is signalised
    signalised = select_crossings(net, abay, CrossingFilter(signalised=True))
    assert list(np.flatnonzero(signalised)) == [0]
    side = select_links(net, Selector(name="Side Street"))
    by_type = select_crossings(net, side, CrossingFilter(types=["unmarked"]))
    assert list(np.flatnonzero(by_type)) == [2]
    with pytest.raises(SelectorError, match="none matching"):
        select_crossings(net, side, CrossingFilter(types=["rrfb"]))


def test_new_crossings_every_n_metres(net):
    farabi = select_links(net, Selector(name="al-Farabi Avenue"))
    length = float(net.links.loc[link_id(net, "D", "G"), "length_m"])  # about 810 m
    new, links = new_crossings_along(net, farabi, every_m=200, crossing_type="rrfb")
    n = round(length / 200)
    assert len(new) == n == 4
    assert list(new.index) == list(range(len(net.crossings), len(net.crossings) + n))
    np.testing.assert_allclose(new["offset_m"], (np.arange(n) + 0.5) * length / n)
    assert set(new["crossing_type"]) == {"rrfb"} and (new["lanes_crossed"] == 6).all()
    # each new crossing is passed by the link and its reverse
    assert len(links) == 2 * n
    assert set(links["link"]) == {link_id(net, "D", "G"), link_id(net, "G", "D")}


def test_new_crossings_skip_positions_near_existing_ones(net):
    bc = np.zeros(len(net.links), dtype=bool)
    bc[link_id(net, "B", "C")] = True  # 405 m between the signal at B and the zebra at C
    new, _ = new_crossings_along(net, bc, every_m=150, crossing_type="marked")
    # round(405 / 150) = 3 positions at 67.5, 202.5, 337.5 m: the outer two are within 75 m of B and C
    assert len(new) == 1 and new["offset_m"].iloc[0] == pytest.approx(
        net.links.loc[bc, "length_m"].iloc[0] / 2
    )
    with pytest.raises(SelectorError, match="places at least one"):
        new_crossings_along(net, bc, every_m=500, crossing_type="marked")  # one spot, 202 m < 250 m from B


def test_junctions_at_link_ends(net):
    abay = select_links(net, Selector(name="Abay Avenue"))
    junctions = select_junctions(net, abay)
    assert list(junctions) == [node_id(net, "B")]  # the only node with >= 3 legs
    with pytest.raises(SelectorError):
        select_junctions(net, abay, control=["priority"])


def test_every_exact_name_in_a_list_must_exist_but_patterns_may_be_alternatives(net):
    with pytest.raises(SelectorError) as err:
        select_links(net, Selector(name=["Abay Avenue", "Sain Street"]), key="where")
    assert err.value.key == "where.name" and err.value.given == "Sain Street"
    mask = select_links(net, Selector(name=["*Фараби*", "*farabi*"]))  # only the Latin pattern matches
    assert names(net, mask) == ["al-Farabi Avenue"]


def test_osm_node_ids_select_a_junction_and_crossings(net):
    b_osm = int(net.nodes.loc[node_id(net, "B"), "osmid"])
    mask = select_links(net, Selector(osm_node=b_osm))
    assert mask.sum() == 8  # four legs, both directions
    assert list(select_junctions(net, mask, osm_nodes=[b_osm])) == [node_id(net, "B")]
    c_osm = int(net.nodes.loc[node_id(net, "C"), "osmid"])
    abay = select_links(net, Selector(name="Abay Avenue"))
    assert list(np.flatnonzero(select_crossings(net, abay, CrossingFilter(osmid=[c_osm])))) == [1]
