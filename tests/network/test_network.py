import bz2
import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
from paths import FIXTURES, SHARED_OSM

from vision_zero.core.errors import DataError, InputFileNotFoundError, NetworkSourceError
from vision_zero.core.units import kph_to_mps
from vision_zero.network._sources import _cache_path, simplify_keeping_crossings
from vision_zero.network.road_network import (
    CROSSING_TYPES,
    RoadNetwork,
    load_network,
    network_fingerprint,
    network_summary,
    node_legs,
    save_network_graph,
)

MIDWAY = FIXTURES / "midway_crossing.osm"
OAKLAND = SHARED_OSM / "west-oakland.osm.bz2"
MUNICH = SHARED_OSM / "munich-small.osm.bz2"
needs_shared = pytest.mark.skipif(not OAKLAND.is_file(), reason="shared OSM extracts not present")


@pytest.fixture(scope="module")
def midway() -> RoadNetwork:
    return load_network(MIDWAY)


def _node(net: RoadNetwork, osmid: int) -> int:
    return int(np.flatnonzero(net.nodes["osmid"].to_numpy() == osmid)[0])


def _link(net: RoadNetwork, osm_u: int, osm_v: int) -> int:
    links = net.links
    return int(np.flatnonzero((links["osm_u"] == osm_u).to_numpy() & (links["osm_v"] == osm_v).to_numpy())[0])


# --- the hand-written fixture: every number below can be checked against tests/fixtures/midway_crossing.osm ---


def test_midway_crossing_is_a_node(midway: RoadNetwork) -> None:
    # node 2 sits in the middle of way 100; only the crossing rule keeps it
    assert 2 in set(midway.nodes["osmid"])
    assert midway.nodes.loc[_node(midway, 2), "crossing"] == "marked"
    # the way is split there: links 1->2 and 2->3 exist, and no link jumps over the crossing
    _link(midway, 1, 2)
    _link(midway, 2, 3)
    assert not ((midway.links["osm_u"] == 1) & (midway.links["osm_v"] == 3)).any()


def test_plain_simplification_would_lose_the_crossing() -> None:
    # the control: osmnx's default simplification drops node 2, so the test above can fail
    with_tags = ox.settings.useful_tags_node
    ox.settings.useful_tags_node = [*with_tags, "crossing"]
    try:
        raw = ox.graph_from_xml(MIDWAY, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_node = with_tags
    raw.remove_edges_from(
        [(u, v, k) for u, v, k, d in raw.edges(keys=True, data=True) if d["highway"] != "primary"]
    )
    raw.remove_nodes_from([n for n in list(raw) if raw.degree(n) == 0])
    assert 2 not in ox.simplify_graph(raw.copy())
    assert 2 in simplify_keeping_crossings(raw)


def test_fixture_sizes_and_filter(midway: RoadNetwork) -> None:
    # nodes 8 (interior of the one-way), 10/11 (footway) and 12 (private driveway) are gone
    assert sorted(midway.nodes["osmid"]) == [1, 2, 3, 4, 5, 6, 9]
    # primary 3 segments x 2 + residential 2 x 2 + secondary one-way 1 + living street 2
    assert len(midway.links) == 13
    assert midway.links.index.tolist() == list(range(13))
    assert midway.nodes.index.tolist() == list(range(7))


def test_fixture_normalised_values(midway: RoadNetwork) -> None:
    links = midway.links
    primary = links.loc[_link(midway, 1, 2)]
    assert primary["highway"] == "primary"
    assert primary["speed_limit_kph"] == 60.0  # KZ:urban
    assert primary["lanes"] == 2  # lanes=4 on a two-way road
    assert primary["capacity_vph"] == 2 * 1500.0
    assert not primary["speed_limit_defaulted"]
    assert primary["name"] == "проспект Абая"
    assert primary["osm_way"] == "100"
    residential = links.loc[_link(midway, 3, 5)]
    assert residential["speed_limit_kph"] == 40.0  # "60;40": the lowest
    assert residential["lanes"] == 1  # "2;3": the fewest, split in two directions
    oneway = links.loc[_link(midway, 6, 4)]
    assert oneway["oneway"] and oneway["lanes"] == 2 and oneway["speed_limit_kph"] == 50.0
    assert oneway["reverse"] == -1
    assert not ((links["osm_u"] == 4) & (links["osm_v"] == 6)).any()
    living = links.loc[_link(midway, 6, 9)]
    assert living["speed_limit_kph"] == 20.0 and living["speed_limit_defaulted"]
    assert living["lanes"] == 1 and living["lanes_defaulted"]
    assert midway.defaulted == {
        "highway": 0,
        "speed_limit_kph": 2,
        "lanes": 2,
        "oneway": 0,
        "crossing_type": 0,
        "maxspeed_none_ignored": 0,
    }


def test_free_flow_time_and_storage(midway: RoadNetwork) -> None:
    links = midway.links
    expected_t = links["length_m"] / kph_to_mps(links["speed_limit_kph"].to_numpy())
    np.testing.assert_allclose(links["free_flow_travel_time_s"], expected_t)
    np.testing.assert_allclose(links["storage_veh"], links["length_m"] / 1000.0 * links["lanes"] * 137.5)
    # 1->2 is 0.001 deg of longitude at 43.24 N: about 81 m
    assert links.loc[_link(midway, 1, 2), "length_m"] == pytest.approx(81.0, abs=1.0)


def test_reverse_ids_are_mutual(midway: RoadNetwork) -> None:
    links = midway.links
    rev = links["reverse"].to_numpy()
    for i, r in enumerate(rev):
        if r >= 0:
            assert rev[r] == i
            assert links.loc[r, "u"] == links.loc[i, "v"] and links.loc[r, "v"] == links.loc[i, "u"]
    assert (rev >= 0).sum() == 12


def test_ids_map_back_to_osm(midway: RoadNetwork) -> None:
    nodes, links = midway.nodes, midway.links
    np.testing.assert_array_equal(nodes["osmid"].to_numpy()[links["u"]], links["osm_u"])
    np.testing.assert_array_equal(nodes["osmid"].to_numpy()[links["v"]], links["osm_v"])
    for i, (u, v, k) in enumerate(zip(links["osm_u"], links["osm_v"], links["key"], strict=True)):
        assert midway.graph.edges[u, v, k]["link_id"] == i


def test_projection_in_metres(midway: RoadNetwork) -> None:
    nodes = midway.nodes
    a, b = nodes.loc[_node(midway, 1)], nodes.loc[_node(midway, 2)]
    assert math.hypot(b.x_m - a.x_m, b.y_m - a.y_m) == pytest.approx(81.0, abs=1.0)
    assert nodes["x_m"].between(1e5, 9e5).all()  # UTM easting


def test_signals_and_crossings(midway: RoadNetwork) -> None:
    nodes = midway.nodes
    assert nodes.loc[nodes["signalised"], "osmid"].tolist() == [3]
    crossings = midway.crossings
    assert crossings["osmid"].tolist() == [2, 5]
    assert crossings["crossing_type"].tolist() == ["marked", "refuge_island"]
    assert set(crossings["crossing_type"]) <= set(CROSSING_TYPES)
    assert crossings["lanes_crossed"].tolist() == [4, 2]  # the full width of the road at the crossing
    assert (crossings["link"] == -1).all() and crossings["offset_m"].isna().all()
    assert crossings["node"].tolist() == [_node(midway, 2), _node(midway, 5)]
    # links passing over crossing 0: those ending at node 2 (from 1 and from 3)
    cl = midway.crossing_links
    over = sorted(
        (int(midway.links.loc[i, "osm_u"]), int(midway.links.loc[i, "osm_v"]))
        for i in cl.loc[cl.crossing == 0, "link"]
    )
    assert over == [(1, 2), (3, 2)]


def test_graph_carries_normalised_attributes(midway: RoadNetwork) -> None:
    data = midway.graph.edges[3, 5, 0]
    assert data["speed_limit_kph"] == 40.0 and data["road_class"] == "residential"
    assert midway.graph.nodes[2]["crossing_type"] == "marked"
    assert not midway.schematic and "schematic" not in midway.label.lower()


def test_table_dtypes(midway: RoadNetwork) -> None:
    links = midway.links
    for col in ("u", "v", "osm_u", "osm_v", "key", "lanes", "reverse"):
        assert links[col].dtype == np.int64, col
    for col in ("length_m", "speed_limit_kph", "capacity_vph", "free_flow_travel_time_s", "storage_veh"):
        assert links[col].dtype == np.float64, col
    assert links["oneway"].dtype == bool
    assert midway.nodes["osmid"].dtype == np.int64
    assert midway.nodes["signalised"].dtype == bool


def test_graphml_round_trip(midway: RoadNetwork, tmp_path: Path) -> None:
    path = save_network_graph(midway, tmp_path / "fx.graphml")
    again = load_network(path)
    assert network_fingerprint(again) == network_fingerprint(midway)
    assert again.defaulted == midway.defaulted
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_fingerprint_is_stable_and_sensitive(midway: RoadNetwork) -> None:
    again = load_network(MIDWAY)
    assert network_fingerprint(again) == network_fingerprint(midway)
    links = midway.links.copy()
    links.loc[0, "speed_limit_kph"] = 30.0
    assert network_fingerprint(midway.with_tables(links=links)) != network_fingerprint(midway)


def test_summary(midway: RoadNetwork) -> None:
    s = network_summary(midway)
    assert s["nodes"] == 7 and s["links"] == 13 and s["signals"] == 1
    assert s["crossings_by_type"] == {"marked": 1, "refuge_island": 1}
    assert set(s["km_by_speed_limit"]) == {20.0, 40.0, 50.0, 60.0}
    assert sum(s["km_by_class"].values()) == pytest.approx(s["length_km"])
    assert s["defaulted_share"]["speed_limit_kph"] == pytest.approx(2 / 13)


# --- the shared real extracts ---------------------------------------------------------------------------------


@needs_shared
def test_west_oakland() -> None:
    net = load_network(OAKLAND)
    assert net.nodes["signalised"].sum() == 4
    assert len(net.links) > 40
    # no maxspeed tags there: every limit is the US urban default (25 mph), and counted as defaulted
    assert net.country == "US"
    assert net.links["speed_limit_kph"].to_numpy() == pytest.approx(25 * 1.609344)
    assert net.defaulted["speed_limit_kph"] == len(net.links)
    # lanes=2 and lanes=3 are tagged: as many lanes one-way, or 1 each way on a two-way road
    tagged = net.links.loc[~net.links["lanes_defaulted"]]
    assert len(tagged) > 0
    assert set(tagged.loc[tagged["oneway"], "lanes"]) <= {2, 3}
    assert set(tagged.loc[~tagged["oneway"], "lanes"]) <= {1}


@needs_shared
def test_munich_speed_limits() -> None:
    net = load_network(MUNICH)
    share_30 = (net.links["speed_limit_kph"] == 30.0).mean()
    assert 0.5 <= share_30 < 1.0
    assert net.defaulted["speed_limit_kph"] == (net.links["speed_limit_kph"] != 30.0).sum()
    assert "Goethestraße" in ";".join(net.links["name"])


# --- schematic ------------------------------------------------------------------------------------------------


def test_schematic_source() -> None:
    net = load_network("schematic:almaty?scale=tiny&seed=3")
    assert net.schematic and "SCHEMATIC" in net.label
    assert "scale=tiny" in net.source and "seed=3" in net.source
    assert len(net.nodes) > 50 and len(net.crossings) > 0 and net.nodes["signalised"].any()
    again = load_network("schematic:almaty?seed=3&scale=tiny")
    assert network_fingerprint(again) == network_fingerprint(net)


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("schematic:paris", "unknown schematic city"),
        ("schematic:almaty?colour=red", "unknown schematic option"),
        ("schematic:almaty?seed=x", "seed"),
    ],
)
def test_schematic_bad_options(source: str, words: str) -> None:
    with pytest.raises(NetworkSourceError, match=words):
        load_network(source)


# --- errors, downloads and the cache --------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="not found"):
        load_network(tmp_path / "nothing.osm")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.osm", b"this is not xml"),
        ("truncated.osm", MIDWAY.read_bytes()[:700]),
        ("bad.osm.bz2", b"BZh9 not really bz2"),
        ("bad.graphml", b"<graphml><broken"),
    ],
)
def test_corrupt_files(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=name):
        load_network(path)


def test_osm_without_roads(tmp_path: Path) -> None:
    path = tmp_path / "paths.osm.bz2"
    text = (
        MIDWAY.read_text("utf-8").replace('v="primary"', 'v="footway"').replace('v="residential"', 'v="path"')
    )
    text = text.replace('v="secondary"', 'v="cycleway"').replace('v="living_street"', 'v="steps"')
    path.write_bytes(bz2.compress(text.encode()))
    with pytest.raises(DataError, match="no drivable roads"):
        load_network(path)


def test_unknown_file_type(tmp_path: Path) -> None:
    path = tmp_path / "roads.txt"
    path.write_text("x")
    with pytest.raises(NetworkSourceError, match="unknown network file type"):
        load_network(path)


@pytest.mark.parametrize("source", ["bbox:1,2,3", "bbox:10,50,5,51", "bbox:a,b,c,d"])
def test_bad_bbox(source: str) -> None:
    with pytest.raises(NetworkSourceError, match="bbox"):
        load_network(source)


def test_no_internet_no_cache_says_how_to_build_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no internet, made certain: every request goes to a closed local port
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(NetworkSourceError, match=r"build from a file instead.*network build"):
        load_network("bbox:76.90,43.22,76.91,43.23", cache_dir=tmp_path, timeout_s=2)
    assert not list(tmp_path.glob("*.graphml"))


def test_download_cache_is_used(midway: RoadNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    # what a first (online) call leaves behind: the simplified graph under the query's cache name
    query = "bbox:76.930000,43.239000,76.933000,43.243000"
    save_network_graph(midway, _cache_path(tmp_path, "bbox", query, retain_all=False))
    net = load_network("bbox:76.93,43.239,76.933,43.243", cache_dir=tmp_path)
    assert net.source == query
    assert network_fingerprint(net) == network_fingerprint(midway)


def test_graph_attributes_survive_for_schematic_graphml(tmp_path: Path) -> None:
    g = nx.MultiDiGraph(crs="epsg:4326", simplified=True, schematic=True)
    g.add_node(1, x=76.93, y=43.24)
    g.add_node(2, x=76.931, y=43.24)
    g.add_edge(1, 2, osmid=7, highway="primary", oneway=True, reversed=False, length=81.0)
    path = tmp_path / "s.graphml"
    ox.save_graphml(g, path)
    net = load_network(path)
    assert net.schematic
    assert net.links.loc[0, "speed_limit_kph"] == 60.0


def test_polygon_file_without_internet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    poly = tmp_path / "area.geojson"
    poly.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
        '{"type": "Polygon", "coordinates": [[[76.93, 43.24], [76.94, 43.24], [76.94, 43.25], [76.93, 43.24]]]}}]}'
    )
    with pytest.raises(NetworkSourceError, match=r"area\.geojson.*no cached copy"):
        load_network(poly, cache_dir=tmp_path, timeout_s=2)


def test_bad_polygon_file(tmp_path: Path) -> None:
    poly = tmp_path / "area.geojson"
    poly.write_text("{not json")
    with pytest.raises(DataError, match=r"area\.geojson: not a readable polygon file"):
        load_network(poly, cache_dir=tmp_path)


def test_schematic_graphml_round_trip_stays_schematic(tmp_path: Path) -> None:
    net = load_network("schematic:almaty?scale=tiny&seed=1")
    again = load_network(save_network_graph(net, tmp_path / "s.graphml"))
    assert again.schematic and "SCHEMATIC" in again.label and "schematic:almaty" in again.source
    assert network_fingerprint(again) == network_fingerprint(net)


def test_schematic_network_carries_its_area_share(
    tiny_network: RoadNetwork, midway: RoadNetwork, tmp_path: Path
) -> None:
    from vision_zero.network.schematic import SCALE_PRESETS

    assert tiny_network.area_share == SCALE_PRESETS["tiny"]
    assert midway.area_share is None  # OSM: demand comes from road length, not from an area
    again = load_network(save_network_graph(tiny_network, tmp_path / "tiny.graphml"))
    assert again.area_share == tiny_network.area_share


def test_optional_link_columns_default_in_one_place(midway: RoadNetwork) -> None:
    from vision_zero.network.road_network import LINK_DEFAULTS, junction_control, link_column

    links = midway.links
    np.testing.assert_array_equal(link_column(links, "reference_speed_kph"), links["speed_limit_kph"])
    for name, value in LINK_DEFAULTS.items():
        np.testing.assert_array_equal(link_column(links, name), np.full(len(links), value))
    changed = links.assign(speed_response=0.3)
    assert (link_column(changed, "speed_response") == 0.3).all()
    control = junction_control(midway.nodes)
    assert set(control[midway.nodes["signalised"].to_numpy()]) == {"signal"}
    assert set(control[~midway.nodes["signalised"].to_numpy()]) == {"priority"}


def test_one_builder_fills_the_whole_table_contract(midway: RoadNetwork) -> None:
    """network_from_tables: the loader's columns and dtypes from a minimal table, defaults from network.toml."""
    import pandas as pd

    from vision_zero.core.parameters import load_parameters
    from vision_zero.network.road_network import network_from_tables
    from vision_zero.network.tables import free_flow_travel_time_s

    p = load_parameters()
    nodes = pd.DataFrame({"lon": [76.90, 76.91, 76.91], "lat": [43.25, 43.25, 43.26]})
    links = pd.DataFrame({"u": [0, 1, 1], "v": [1, 0, 2], "length_m": [800.0, 800.0, 1100.0]})
    links["highway"] = ["primary", "primary", "residential"]
    crossings = pd.DataFrame({"node": [-1], "link": [0], "offset_m": [400.0], "crossing_type": ["marked"]})
    net = network_from_tables(nodes, links, crossings=crossings, source="test:builder")
    for table in ("nodes", "links", "crossings", "crossing_links"):
        built, loaded = getattr(net, table), getattr(midway, table)
        assert list(built.columns) == list(loaded.columns), table
        assert built.dtypes.tolist() == loaded.dtypes.tolist(), table
    lk = net.links
    assert lk["reverse"].tolist() == [1, 0, -1] and lk["oneway"].tolist() == [False, False, True]
    lanes = [p.value("network.default_lanes_per_direction.primary")] * 2 + [1]
    assert lk["lanes"].tolist() == lanes
    assert lk.loc[0, "capacity_vph"] == lanes[0] * p.value("network.capacity_vph_per_lane.primary")
    np.testing.assert_array_equal(
        lk["free_flow_travel_time_s"], free_flow_travel_time_s(lk["length_m"], lk["speed_limit_kph"])
    )
    jam = p.value("network.jam_density_veh_per_km_per_lane")
    np.testing.assert_allclose(lk["storage_veh"], lk["length_m"] / 1000 * lk["lanes"] * jam)
    cr = net.crossings
    assert cr.loc[0, "lanes_crossed"] == 2 * lanes[0] and cr.loc[0, "lon"] == pytest.approx(76.905)
    assert net.crossing_links.values.tolist() == [[0, 0], [0, 1]]  # the link and its reverse
    assert net.graph.number_of_edges() == 3 and net.nodes["x_m"].notna().all()


#: attributes network_from_graph writes onto the graph (not OSM tags)
_WRITTEN_BACK = {
    "node_id",
    "signalised",
    "crossing_type",
    "boundary",
    "link_id",
    "road_class",
    "speed_limit_kph",
}
_WRITTEN_BACK |= {"lanes_dir", "capacity_vph"}


def _osm_tables(graph: "nx.MultiDiGraph[Any]", *, keys: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A graph's nodes and edges as the OSM-style tables of network_from_osm_tables (absent tags: NaN cells)."""
    nodes = pd.DataFrame(
        [
            {"osmid": n, "lon": d["x"], "lat": d["y"]}
            | {k: v for k, v in d.items() if k not in _WRITTEN_BACK | {"x", "y"}}
            for n, d in graph.nodes(data=True)
        ]
    )
    links = pd.DataFrame(
        [
            {"osm_u": u, "osm_v": v}
            | ({"key": k} if keys else {})
            | {t: x for t, x in d.items() if t not in _WRITTEN_BACK}
            for u, v, k, d in graph.edges(keys=True, data=True)
        ]
    )
    return nodes, links


def _assert_same_network(a: RoadNetwork, b: RoadNetwork) -> None:
    from pandas.testing import assert_frame_equal

    for table in ("nodes", "links", "crossings", "crossing_links"):
        assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True)
    for name in ("source", "schematic", "defaulted", "country", "country_source", "default_speed_kph"):
        assert getattr(a, name) == getattr(b, name), name


def test_osm_tables_give_the_loaders_network(midway: RoadNetwork) -> None:
    """network_from_osm_tables runs the loader's steps without a graph: the loader's network, bit for bit."""
    from vision_zero.network.road_network import network_from_osm_tables

    graph = midway.source_graph
    assert graph is not None
    nodes, links = _osm_tables(graph, keys=True)
    assert links.isna().to_numpy().any()  # absent tags (NaN cells) are absent, as in the graph
    attrs = {k: v for k, v in graph.graph.items() if k not in ("country", "country_source")}
    # origin groups in reverse order: links are listed as the graph lists them (by origin node, then in row order)
    position = {n: i for i, n in enumerate(nodes["osmid"])}
    rows = np.argsort([-position[u] for u in links["osm_u"]], kind="stable")
    assert (rows != np.arange(len(rows))).any()
    shuffled = links.iloc[rows].reset_index(drop=True)
    net = network_from_osm_tables(nodes, shuffled, source=midway.source, graph_attrs=attrs)
    _assert_same_network(net, midway)
    assert net.source_graph is None


def test_osm_tables_number_parallel_links_as_a_graph_does() -> None:
    """Links between one node pair, no ``key`` column: keyed and listed as a MultiDiGraph adds and lists them."""
    from vision_zero.network.road_network import network_from_graph, network_from_osm_tables

    g: nx.MultiDiGraph[Any] = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (lon, lat) in {7: (76.90, 43.25), 5: (76.91, 43.25), 9: (76.91, 43.26)}.items():
        g.add_node(n, x=lon, y=lat)
    g.nodes[5]["highway"] = "traffic_signals"
    edges = [
        (5, 9, "residential", "30"),
        (7, 5, "primary", "60"),
        (7, 5, "service", None),
        (5, 7, "primary", "60"),
        (5, 9, "service", None),  # listed by the graph before (5, 7): with the pair's first link
    ]
    for u, v, highway, maxspeed in edges:
        tags = {"highway": highway, "length": 900.0, "oneway": False} | (
            {"maxspeed": maxspeed} if maxspeed else {}
        )
        g.add_edge(u, v, **tags)
    nodes, _ = _osm_tables(g, keys=False)
    added = [
        {"osm_u": u, "osm_v": v, "highway": h, "length": 900.0, "oneway": False, "maxspeed": m}
        for u, v, h, m in edges
    ]
    # in the order added: (5, 9) first, though the graph lists node 7's links first
    links = pd.DataFrame(added)
    from_tables = network_from_osm_tables(nodes, links, source="test:parallel")
    _assert_same_network(from_tables, network_from_graph(g, source="test:parallel"))
    assert from_tables.links["key"].tolist() == [0, 1, 0, 1, 0]


def test_node_legs_count_each_neighbour_once() -> None:
    # node 0: a two-way street to 1 (two links), two parallel links to 2, one link in from 3 and a loop on itself
    # -> legs 1, 2, 3; node 4 has no link; node 1 one leg (0)
    u = np.array([0, 1, 0, 0, 3, 0], dtype=np.int64)
    v = np.array([1, 0, 2, 2, 0, 0], dtype=np.int64)
    assert node_legs(u, v, 5).tolist() == [3, 1, 1, 1, 0]
    assert node_legs(np.zeros(0, np.int64), np.zeros(0, np.int64), 2).tolist() == [0, 0]
