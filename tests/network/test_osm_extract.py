"""OSM files as users have them: ``.osm.pbf`` and XML extracts clipped at a box (ways cut at the file's edge).

The real file is the shipped Helsinki extract (networks/helsinki-centre.osm.pbf, 191 of its 2,650 highway ways
reference nodes outside it); the hand-made one is tests/fixtures/clipped_box.osm, whose header lists every
number checked here.
"""

from pathlib import Path

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


def test_schematic_has_no_boundary_and_is_almaty() -> None:
    net = load_network("schematic:almaty?scale=tiny&seed=3")
    assert not net.nodes["boundary"].any()
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
