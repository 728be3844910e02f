"""OSM files as users have them: ``.osm.pbf`` and XML extracts clipped at a box (ways cut at the file's edge).

The real file is the shipped Helsinki extract (networks/helsinki-centre.osm.pbf, 191 of its 2,650 highway ways
reference nodes outside it); the hand-made one is tests/fixtures/clipped_box.osm, whose header lists every
number checked here.
"""

from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pytest
from paths import FIXTURES, HELSINKI_PBF, SHARED_OSM

from vision_zero.cli import main
from vision_zero.core.errors import DataError
from vision_zero.network.road_network import (
    RoadNetwork,
    load_network,
    network_fingerprint,
    network_summary,
    save_network_graph,
)

CLIPPED = FIXTURES / "clipped_box.osm"


@pytest.fixture(scope="module")
def helsinki() -> RoadNetwork:
    return load_network(HELSINKI_PBF)


@pytest.fixture(scope="module")
def clipped() -> RoadNetwork:
    return load_network(CLIPPED)


def _write_pbf(source: Path, target: Path) -> Path:
    """The same objects as ``source``, written as PBF with pyosmium (as ``osmium cat`` would)."""
    with osmium.SimpleWriter(str(target)) as writer:
        for obj in osmium.FileProcessor(str(source)):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
    return target


# --- the hand-made clipped fixture ------------------------------------------------------------------------------


def test_plain_osmnx_refuses_the_clipped_fixture() -> None:
    # the control: without cutting the ways at the edge, osmnx fails on this file
    with pytest.raises(ValueError, match="missing nodes"):
        ox.graph_from_xml(CLIPPED, simplify=False, retain_all=True)


def test_clipped_xml_loads_and_counts(clipped: RoadNetwork) -> None:
    s = network_summary(clipped)
    assert (s["highway_ways"], s["clipped_ways"], s["clipped_drivable_ways"]) == (6, 4, 3)
    # 1..6 and 8 kept; 7 is simplified away inside piece 6-7-8; 90..94 were never in the file
    assert sorted(clipped.nodes["osmid"]) == [1, 2, 3, 4, 5, 6, 8]
    boundary = set(clipped.nodes.loc[clipped.nodes["boundary"], "osmid"])
    assert boundary == {1, 3, 5, 6}
    assert s["boundary_nodes"] == 4


def test_a_way_that_leaves_and_returns_keeps_both_pieces_and_its_id(clipped: RoadNetwork) -> None:
    links = clipped.links
    way_202 = links.loc[links["osm_way"] == "202"]
    pairs = set(zip(way_202["osm_u"], way_202["osm_v"], strict=True))
    assert {(4, 5), (5, 4), (6, 8), (8, 6)} <= pairs
    assert not ((links["osm_u"] == 5) & (links["osm_v"] == 6)).any()  # no link across the gap
    assert not links["osm_way"].str.contains("-").any()  # temporary piece ids never leak


def test_clipped_fixture_tags_and_country(clipped: RoadNetwork) -> None:
    links = clipped.links
    assert clipped.country == "FI"
    assert set(links.loc[links["osm_way"] == "200", "speed_limit_kph"]) == {40.0}
    # zone:traffic=FI:urban gives Finland's urban limit, not counted as defaulted
    way_202 = links.loc[links["osm_way"] == "202"]
    assert set(way_202["speed_limit_kph"]) == {50.0} and not way_202["speed_limit_defaulted"].any()
    # maxspeed=none on a residential street: ignored (not 130 km/h), Finland's default, flagged
    way_203 = links.loc[links["osm_way"] == "203"]
    assert set(way_203["speed_limit_kph"]) == {50.0} and way_203["speed_limit_defaulted"].all()
    assert clipped.defaulted["maxspeed_none_ignored"] == 2
    crossing = clipped.nodes.loc[clipped.nodes["osmid"] == 2, "crossing"].item()
    assert crossing == "marked"  # the zebra mid-way stays a node through simplification


def test_clipped_pbf_gives_the_same_network(tmp_path: Path, clipped: RoadNetwork) -> None:
    pbf = load_network(_write_pbf(CLIPPED, tmp_path / "clipped_box.osm.pbf"))
    assert network_fingerprint(pbf) == network_fingerprint(clipped)
    assert network_summary(pbf)["clipped_ways"] == 4


def test_boundary_survives_graphml(tmp_path: Path, clipped: RoadNetwork) -> None:
    again = load_network(save_network_graph(clipped, tmp_path / "c.graphml"))
    assert again.nodes["boundary"].tolist() == clipped.nodes["boundary"].tolist()
    assert again.country == "FI"
    assert network_summary(again)["clipped_ways"] == 4


def test_corrupt_pbf(tmp_path: Path) -> None:
    path = tmp_path / "broken.osm.pbf"
    path.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    with pytest.raises(DataError, match=r"broken\.osm\.pbf"):
        load_network(path)


def test_schematic_part_has_boundary_nodes_and_is_almaty() -> None:
    # a preset is a part cut from the schematic city: its streets that run on are cut at its edge
    # (tests/network/test_schematic.py checks where; the full city has none)
    net = load_network("schematic:almaty?scale=tiny&seed=3")
    assert net.nodes["boundary"].any()
    assert net.country == "KZ"


# --- the real file: central Helsinki ------------------------------------------------------------------------------


def test_helsinki_pbf_sizes(helsinki: RoadNetwork) -> None:
    s = network_summary(helsinki)
    # networks/README.md: ~670 nodes, ~1,000 links, ~20 road-km after the drive filter
    assert 600 <= s["nodes"] <= 750
    assert 900 <= s["links"] <= 1100
    assert 18.0 <= s["length_km"] <= 22.0
    assert not helsinki.schematic
    assert s["crossings"] > 100 and s["signals"] > 50


def test_helsinki_clipped_ways(helsinki: RoadNetwork) -> None:
    s = network_summary(helsinki)
    assert (s["highway_ways"], s["clipped_ways"]) == (2650, 191)
    assert 0 < s["clipped_drivable_ways"] < s["clipped_ways"]
    # roads leave the box at its edge: boundary nodes lie near the box, none in the middle
    b = helsinki.nodes.loc[helsinki.nodes["boundary"]]
    assert len(b) >= 10
    lon, lat = helsinki.nodes["lon"], helsinki.nodes["lat"]
    edge_m = np.minimum.reduce(
        [
            (b["lat"] - lat.min()) * 111_000,
            (lat.max() - b["lat"]) * 111_000,
            (b["lon"] - lon.min()) * 55_000,
            (lon.max() - b["lon"]) * 55_000,
        ]
    )
    assert (edge_m < 150).mean() > 0.8


def test_helsinki_is_finland_with_finnish_defaults(helsinki: RoadNetwork) -> None:
    assert helsinki.country == "FI" and "speed tags" in helsinki.country_source
    assert helsinki.default_speed_kph == {
        "urban": 50.0,
        "living_street": 20.0,
        "rural": 100.0,
        "motorway": 100.0,
    }
    links = helsinki.links
    defaulted = links.loc[links["speed_limit_defaulted"]]
    assert len(defaulted) > 0
    expected = np.where(defaulted["highway"] == "living_street", 20.0, 50.0)
    assert defaulted["speed_limit_kph"].tolist() == expected.tolist()
    assert set(links["speed_limit_kph"]) <= {20.0, 30.0, 40.0, 50.0}  # no 60 km/h Kazakh default anywhere
    assert (links["speed_limit_kph"] == 30.0).mean() > 0.5


def test_network_info_on_the_pbf(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", "info", str(HELSINKI_PBF)]) == 0
    out = capsys.readouterr().out
    assert "Finland (FI" in out and "urban 50" in out
    assert "191 of 2650 highway ways" in out
    assert "Kazakhstan" not in out


def test_network_build_writes_graphml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "helsinki.graphml"
    assert main(["network", "build", str(CLIPPED), "-o", str(out_path)]) == 0
    assert out_path.is_file() and "clipped:" in capsys.readouterr().out
    assert out_path.stat().st_mode & 0o044, "GraphML written private (mkstemp's 0600), not with open()'s mode"


@pytest.mark.skipif(not (SHARED_OSM / "helsinki-centre.osm.pbf").is_file(), reason="shared extracts absent")
def test_shipped_file_is_the_shared_one() -> None:
    assert HELSINKI_PBF.read_bytes() == (SHARED_OSM / "helsinki-centre.osm.pbf").read_bytes()


def test_a_download_cut_by_its_polygon_marks_the_cut_nodes() -> None:
    # what osmnx.graph_from_polygon does (place and box downloads too), offline on a local file: build the
    # graph of a larger area, truncate it to a smaller polygon and give each node its street count in the larger
    # graph; the nodes that lost a street at the polygon's edge become boundary nodes (external zones)
    from shapely.geometry import box

    from vision_zero.network._sources import mark_cut_nodes

    big = ox.graph_from_xml(SHARED_OSM / "west-oakland.osm.bz2", simplify=False, retain_all=True)
    xs = np.array([d["x"] for _n, d in big.nodes(data=True)])
    ys = np.array([d["y"] for _n, d in big.nodes(data=True)])
    inner = box(np.quantile(xs, 0.25), np.quantile(ys, 0.25), np.quantile(xs, 0.75), np.quantile(ys, 0.75))
    counts = ox.stats.count_streets_per_node(big)
    small = ox.truncate.truncate_graph_polygon(big, inner)
    for n in small.nodes:
        small.nodes[n]["street_count"] = counts[n]
    cut = mark_cut_nodes(small)
    marked = {n for n, d in small.nodes(data=True) if d.get("boundary") is True}
    assert cut == len(marked) > 0
    # exactly the nodes with a neighbour outside the polygon in the larger graph
    outside = {n for n in small.nodes if set(nx.all_neighbors(big, n)) - set(small.nodes)}
    assert marked == outside
    # the whole graph was not cut anywhere
    whole = big.copy()
    for n in whole.nodes:
        whole.nodes[n]["street_count"] = counts[n]
    assert mark_cut_nodes(whole) == 0


# --- land use (buildings, landuse areas) read in the same pass as the roads ---------------------------------------
LAND_USE = FIXTURES / "land_use.osm"
#: a 0.0004 deg x 0.0002 deg rectangle at 60.17 N [m2] (the fixture's buildings)
_RECT_M2 = 0.0004 * 111_320 * np.cos(np.radians(60.1703)) * 0.0002 * 110_540


@pytest.mark.parametrize("as_pbf", [False, True])
def test_buildings_become_homes_and_workplaces_at_their_nearest_node(tmp_path: Path, as_pbf: bool) -> None:
    src = _write_pbf(LAND_USE, tmp_path / "land_use.osm.pbf") if as_pbf else LAND_USE
    net = load_network(src)
    nodes = net.nodes.set_index("osmid")
    home, job = nodes["home_m2"], nodes["job_m2"]
    assert home[1] == pytest.approx(4 * _RECT_M2, rel=0.01) and job[1] == 0  # apartments, 4 floors
    assert job[3] == pytest.approx(_RECT_M2, rel=0.01) and home[3] == 0  # office (the grass is nothing)
    assert job[4] == pytest.approx(_RECT_M2, rel=0.01) and home[4] == 0  # building=yes on commercial land
    assert (
        home[2] == job[2] == pytest.approx(_RECT_M2 / 2, rel=0.01)
    )  # building=yes alone; the shed is nothing
    assert home.sum() + job.sum() == pytest.approx(7 * _RECT_M2, rel=0.01)  # the cut house is left out


def test_a_file_without_land_use_has_no_land_use_columns(clipped: RoadNetwork) -> None:
    assert "home_m2" not in clipped.nodes.columns and "job_m2" not in clipped.nodes.columns


def test_helsinki_land_use(helsinki: RoadNetwork) -> None:
    # 433 buildings in the file (314 building=yes, classified by the commercial/residential landuse around them):
    # central Helsinki holds more workplace than home floor area; cut edges stand for the land beyond, not for
    # buildings
    n = helsinki.nodes
    assert n["home_m2"].sum() > 1e5 and n["job_m2"].sum() > n["home_m2"].sum()
    assert ((n["home_m2"] + n["job_m2"]) > 0).sum() > 100
    assert (n.loc[n["boundary"], ["home_m2", "job_m2"]].to_numpy() == 0).all()


def test_land_use_survives_graphml(tmp_path: Path) -> None:
    net = load_network(LAND_USE)
    again = load_network(save_network_graph(net, tmp_path / "lu.graphml"))
    np.testing.assert_allclose(again.nodes["home_m2"], net.nodes["home_m2"])
    np.testing.assert_allclose(again.nodes["job_m2"], net.nodes["job_m2"])
