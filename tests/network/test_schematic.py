"""Tests of the built-in schematic network generator (``schematic:almaty``)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import osmnx as ox
import pytest

from vision_zero.core.errors import ConfigError, VisionZeroError
from vision_zero.network.road_network import RoadNetwork
from vision_zero.network.schematic import (
    ALMATY_CENTRE_LAT,
    ALMATY_CENTRE_LON,
    SCALE_PRESETS,
    generate_schematic_graph,
    parse_scale,
    schematic_source,
)

if TYPE_CHECKING:
    Graph = nx.MultiDiGraph[Any]


@pytest.fixture(scope="module")
def tiny(tiny_graph: Graph) -> Graph:
    return tiny_graph  # the session's (tests/conftest.py)


@pytest.fixture(scope="module")
def small(small_graph: Graph) -> Graph:
    return small_graph


@pytest.fixture(scope="module")
def city() -> Graph:
    return generate_schematic_graph(scale="city", seed=0)


def _dump(g: Graph) -> tuple[Any, ...]:
    return (dict(g.graph), list(g.nodes(data=True)), list(g.edges(keys=True, data=True)))


# --- options -------------------------------------------------------------------------------------------------


def test_parse_scale_presets_and_numbers() -> None:
    assert parse_scale("tiny") == (SCALE_PRESETS["tiny"], "tiny")
    assert parse_scale(" City ") == (1.0, "city")
    assert parse_scale(0.25) == (0.25, "0.25")
    assert parse_scale("0.5") == (0.5, "0.5")
    assert parse_scale(1) == (1.0, "1.0")


@pytest.mark.parametrize("bad", ["huge", "", -1, 0, 0.0001, 100, float("nan"), float("inf"), True, None, [1]])
def test_bad_scale_is_a_config_error_naming_the_option(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"schematic:almaty: scale: expected .*tiny.*\(got "):
        generate_schematic_graph(scale=bad)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "abc", None, 2**63])
def test_bad_seed_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"schematic:almaty: seed: expected an integer"):
        generate_schematic_graph(scale="tiny", seed=bad)


def test_config_error_is_a_vision_zero_error() -> None:
    with pytest.raises(VisionZeroError):
        schematic_source(scale="nope")


def test_source_string_round_trips(tiny: Graph) -> None:
    assert tiny.graph["source"] == "schematic:almaty?scale=tiny&seed=0"
    assert schematic_source(scale=0.01, seed=7) == "schematic:almaty?scale=0.01&seed=7"
    # the numeric label reproduces the same fraction exactly
    frac, label = parse_scale(1 / 3)
    assert parse_scale(label)[0] == frac


# --- determinism ---------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_graph(tiny: Graph) -> None:
    again = generate_schematic_graph(scale="tiny", seed=0)
    assert _dump(again) == _dump(tiny)


def test_numeric_scale_equal_to_a_preset_gives_the_same_network(tiny: Graph) -> None:
    numeric = generate_schematic_graph(scale=SCALE_PRESETS["tiny"], seed=0)
    assert list(numeric.nodes(data=True)) == list(tiny.nodes(data=True))
    assert list(numeric.edges(keys=True, data=True)) == list(tiny.edges(keys=True, data=True))


def test_different_seed_gives_a_different_graph(tiny: Graph) -> None:
    other = generate_schematic_graph(scale="tiny", seed=1)
    assert other.graph["source"] == "schematic:almaty?scale=tiny&seed=1"
    assert _dump(other)[1:] != _dump(tiny)[1:]


# --- size ----------------------------------------------------------------------------------------------------


def test_tiny_and_small_sizes(tiny: Graph, small: Graph) -> None:
    assert 70 <= tiny.number_of_nodes() <= 160
    assert 700 <= small.number_of_nodes() <= 1500
    for g in (tiny, small):
        assert 2.0 <= g.number_of_edges() / g.number_of_nodes() <= 3.2


def _km(g: Graph) -> Counter[str]:
    """Centreline km by road class (a two-way street counted once)."""
    km: Counter[str] = Counter()
    for _, _, d in g.edges(data=True):
        km[d["highway"]] += d["length"] / (1.0 if d["oneway"] else 2.0) / 1000.0
    return km


@pytest.mark.slow
def test_city_has_almatys_road_lengths(city: Graph) -> None:
    # Almaty's road register (zakon.kz 2021): 3,097 km of road, 1,125 km of it streets of city and district
    # significance (OSM tertiary and above); the schematic city's main streets carry Almaty's vehicle-km
    from vision_zero.core.parameters import load_parameters

    params = load_parameters()
    km = _km(city)
    main = sum(km[c] for c in ("trunk", "primary", "secondary", "tertiary"))
    assert main == pytest.approx(params.value("demand.almaty.main_road_length_km"), rel=0.05)
    assert sum(km.values()) == pytest.approx(params.value("demand.almaty.road_length_km"), rel=0.05)
    assert 10_000 <= city.number_of_nodes() <= 15_000
    assert 2.0 <= city.number_of_edges() / city.number_of_nodes() <= 3.2
    lat = np.array([d["y"] for _, d in city.nodes(data=True)])
    lon = np.array([d["x"] for _, d in city.nodes(data=True)])
    # a plausible Almaty box, centred on the city centre
    assert 43.05 < lat.min() < lat.max() < 43.45
    assert 76.65 < lon.min() < lon.max() < 77.2
    assert abs(lat.mean() - ALMATY_CENTRE_LAT) < 0.02
    assert abs(lon.mean() - ALMATY_CENTRE_LON) < 0.02
    # about 680 km² of rectangle: extents of roughly 28 x 24 km
    km_ns = (lat.max() - lat.min()) * 111.2
    km_ew = (lon.max() - lon.min()) * 111.2 * math.cos(math.radians(ALMATY_CENTRE_LAT))
    assert 500 < km_ns * km_ew < 800
    # the outskirts have fewer main streets per km2 than the centre (a 5 km grid outside a 1 km one)
    half_w_km = params.value("schematic.centre.half_width") / 1000.0
    half_h_km = params.value("schematic.centre.half_height") / 1000.0
    x_km = (lon - ALMATY_CENTRE_LON) * 111.2 * math.cos(math.radians(ALMATY_CENTRE_LAT))
    y_km = (lat - ALMATY_CENTRE_LAT) * 111.2
    pos = dict(zip(city.nodes, zip(x_km, y_km, strict=True), strict=True))
    centre = Counter[bool]()
    for u, v, d in city.edges(data=True):
        if d["highway"] in ("primary", "secondary", "tertiary"):
            (xu, yu), (xv, yv) = pos[u], pos[v]
            inside = max(abs(xu), abs(xv)) <= half_w_km and max(abs(yu), abs(yv)) <= half_h_km
            centre[inside] += d["length"] / (1.0 if d["oneway"] else 2.0) / 1000.0
    centre_km2 = 4 * half_w_km * half_h_km
    assert centre[True] / centre_km2 > 3 * centre[False] / (km_ns * km_ew - centre_km2)


def test_the_smaller_presets_lie_inside_the_centre_so_the_outskirts_leave_them_unchanged() -> None:
    # the tiny, small and district networks (tests, examples) are the centre's 1 km grid: their extent
    # (x the full city's rectangle) lies within schematic.centre.*
    from vision_zero.core.parameters import load_parameters

    p = {k: v.value for k, v in load_parameters().group("schematic").items()}
    for preset in ("tiny", "small", "district"):
        area_m2 = p["city.area"] * SCALE_PRESETS[preset] * 1e6
        assert math.sqrt(area_m2 * p["city.aspect_ratio"]) / 2 <= p["centre.half_width"], preset
        assert math.sqrt(area_m2 / p["city.aspect_ratio"]) / 2 <= p["centre.half_height"], preset


# --- structure -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["tiny", "small"])
def test_strongly_connected(fixture: str, request: pytest.FixtureRequest) -> None:
    g: Graph = request.getfixturevalue(fixture)
    assert nx.is_strongly_connected(g)


@pytest.mark.slow
def test_city_is_strongly_connected(city: Graph) -> None:
    assert nx.is_strongly_connected(city)


def test_hierarchy_and_tags_present(small: Graph) -> None:
    classes = Counter(d["highway"] for _, _, d in small.edges(data=True))
    for cls in ("primary", "secondary", "tertiary", "residential", "living_street"):
        assert classes[cls] > 0, cls
    assert classes["residential"] > classes["primary"]
    node_tags = Counter((d.get("highway"), d.get("crossing")) for _, d in small.nodes(data=True))
    assert node_tags[("traffic_signals", "traffic_signals")] > 0
    assert node_tags[("crossing", "traffic_signals")] > 0
    assert node_tags[("crossing", "marked")] + node_tags[("crossing", "uncontrolled")] > 0
    assert any(d["oneway"] for _, _, d in small.edges(data=True))
    # some ways carry no maxspeed or lanes, so the loader's Kazakhstan defaults get exercised
    assert any("maxspeed" not in d for _, _, d in small.edges(data=True))
    assert any("lanes" not in d for _, _, d in small.edges(data=True))


def _incident_names(g: Graph, n: int) -> set[str]:
    return {d.get("name", "") for _, _, d in g.out_edges(n, data=True)} | {
        d.get("name", "") for _, _, d in g.in_edges(n, data=True)
    }


def _arterial(d: dict[str, Any]) -> bool:
    return d["highway"] in ("primary", "trunk")


def test_signals_at_every_arterial_junction(small: Graph) -> None:
    junctions = [
        n
        for n in small.nodes
        if len({d["name"] for _, _, d in small.out_edges(n, data=True) if _arterial(d)}) >= 2
    ]
    assert len(junctions) >= 4
    for n in junctions:
        assert small.nodes[n].get("highway") == "traffic_signals", n


def test_midblock_crossings_on_arterials_are_nodes(small: Graph) -> None:
    mid = [
        n
        for n, d in small.nodes(data=True)
        if d.get("highway") == "crossing"
        and all(_arterial(e) for _, _, e in [*small.out_edges(n, data=True), *small.in_edges(n, data=True)])
    ]
    assert len(mid) >= 3
    for n in mid:
        assert small.nodes[n]["street_count"] == 2
        assert small.in_degree(n) == 2 and small.out_degree(n) == 2  # one way in, one way out, per direction
        assert len(_incident_names(small, n)) == 1  # in the middle of one street
        assert small.nodes[n]["crossing"] in ("marked", "uncontrolled", "traffic_signals", "unmarked")


_LOCAL_STREETS = ("residential", "living_street", "unclassified")


def test_crossings_where_only_local_streets_meet(small: Graph) -> None:
    """Junctions where only local streets meet carry crossing nodes in the share the parameters give
    (``schematic.crossings.local_junction_share``), tagged ``crossing=unmarked`` (pedestrians crossing residential
    streets where they walk), as OSM mappers put crossings on residential legs at junctions (Helsinki's extract)."""
    from vision_zero.core.parameters import load_parameters

    share = load_parameters().value("schematic.crossings.local_junction_share")
    local = [
        n
        for n in small.nodes
        if small.nodes[n]["street_count"] >= 3
        and small.nodes[n].get("highway") != "traffic_signals"
        and all(
            e["highway"] in _LOCAL_STREETS
            for _, _, e in [*small.out_edges(n, data=True), *small.in_edges(n, data=True)]
        )
    ]
    assert len(local) >= 50
    tagged = [n for n in local if small.nodes[n].get("highway") == "crossing"]
    assert all(small.nodes[n]["crossing"] == "unmarked" for n in tagged)
    # the layout draw: one uniform per node (binomial sd <= 0.5 / sqrt(n))
    assert abs(len(tagged) / len(local) - share) <= 3 * 0.5 / math.sqrt(len(local))
    assert tagged, "no crossing where only local streets meet"


@pytest.mark.slow
def test_real_names_and_expressways(city: Graph) -> None:
    by_name: dict[str, set[tuple[str, str, str]]] = {}
    for _, _, d in city.edges(data=True):
        if "name" in d:
            by_name.setdefault(d["name"], set()).add(
                (d["highway"], d.get("maxspeed", ""), d.get("name:ru", ""))
            )
    for name in ("al-Farabi Avenue", "Eastern Ring Road (VOAD)"):
        assert by_name[name] == {("trunk", "80", next(iter(by_name[name]))[2])}
    assert ("primary", "60", "улица Саина") in by_name["Sain Street"]
    for name in ("Abay Avenue", "Tole Bi Street", "Dostyk Avenue", "Nazarbayev Avenue", "Rozybakiev Street"):
        assert {h for h, _, _ in by_name[name]} == {"primary"}, name
        assert all(ru for _, _, ru in by_name[name]), name
    lanes = Counter(
        d["lanes"] for _, _, d in city.edges(data=True) if d["highway"] == "primary" and "lanes" in d
    )
    assert set(lanes) == {"4", "6"}  # 2-3 lanes each way, OSM counts both directions


def test_residential_zones_are_20(small: Graph) -> None:
    speeds = {d.get("maxspeed") for _, _, d in small.edges(data=True) if d["highway"] == "living_street"}
    assert speeds <= {"20", None} and "20" in speeds


# --- osmnx compatibility -------------------------------------------------------------------------------------


def test_graph_attributes(tiny: Graph) -> None:
    assert tiny.graph["crs"] == "epsg:4326"
    assert tiny.graph["simplified"] is True
    assert tiny.graph["schematic"] is True
    assert tiny.graph["created_with"] == "vision_zero schematic"


def test_osm_style_attributes(small: Graph) -> None:
    ox.convert.validate_graph(small, strict=True)
    for n, d in small.nodes(data=True):
        assert isinstance(n, int) and isinstance(d["x"], float) and isinstance(d["y"], float)
    for u, v, k, d in small.edges(keys=True, data=True):
        assert k == 0
        assert (
            isinstance(d["osmid"], int) and isinstance(d["oneway"], bool) and isinstance(d["reversed"], bool)
        )
        assert isinstance(d["length"], float) and d["length"] > 0
        assert "maxspeed" not in d or d["maxspeed"] in ("20", "60", "80", "KZ:urban")
        assert "lanes" not in d or (d["lanes"].isdigit() and int(d["lanes"]) >= 1)
        if d["oneway"]:
            assert not small.has_edge(v, u) and d["reversed"] is False
        else:
            back = small.edges[v, u, 0]
            assert back["osmid"] == d["osmid"] and back["reversed"] is (not d["reversed"])
            assert back["length"] == d["length"]


def test_street_count_matches_osmnx(small: Graph) -> None:
    expected = ox.stats.count_streets_per_node(small)
    assert {n: d["street_count"] for n, d in small.nodes(data=True)} == expected


def test_lengths_match_osmnx_great_circle(small: Graph) -> None:
    u, v, length = zip(*((u, v, d["length"]) for u, v, d in small.edges(data=True)), strict=True)
    y = nx.get_node_attributes(small, "y")
    x = nx.get_node_attributes(small, "x")
    ref = ox.distance.great_circle(
        np.array([y[n] for n in u]),
        np.array([x[n] for n in u]),
        np.array([y[n] for n in v]),
        np.array([x[n] for n in v]),
    )
    np.testing.assert_allclose(np.array(length), ref, rtol=1e-9)
    # blocks are of city scale: a local block face is ~100-200 m, no edge is longer than ~1 km
    assert 80 < float(np.median(length)) < 250 and max(length) < 1100


def test_graphml_round_trip_and_projection(tiny: Graph, tmp_path: Path) -> None:
    path = tmp_path / "tiny.graphml"
    ox.save_graphml(tiny, path)
    back = ox.load_graphml(path)
    assert back.number_of_nodes() == tiny.number_of_nodes()
    assert back.number_of_edges() == tiny.number_of_edges()
    assert back.graph["source"] == tiny.graph["source"]
    projected = ox.project_graph(tiny)
    assert str(projected.graph["crs"]).upper() == "EPSG:32643"  # UTM zone 43N: Almaty


def test_load_network_end_to_end(tiny_network: RoadNetwork, tiny: Graph) -> None:
    net = tiny_network
    assert net.schematic
    assert "schematic" in net.label.lower()
    direct = tiny
    assert len(net.links) == direct.number_of_edges()
    assert len(net.nodes) == direct.number_of_nodes()
    assert (net.nodes["signalised"]).sum() == sum(
        d.get("highway") == "traffic_signals" for _, d in direct.nodes(data=True)
    )


# --- a part of the city: boundary nodes where its streets run on ----------------------------------------------


def test_sub_network_is_cut_from_the_city_at_boundary_nodes(small: Graph, city: Graph) -> None:
    xy = {n: (d["x"], d["y"]) for n, d in small.nodes(data=True)}
    xs, ys = np.array([v[0] for v in xy.values()]), np.array([v[1] for v in xy.values()])
    cut = {n for n, d in small.nodes(data=True) if d.get("boundary") is True}
    assert cut
    # every boundary node lies on the edge of the extent, and a street leaves it across that edge
    tol = 1e-9
    for n in cut:
        x, y = xy[n]
        west, east = abs(x - xs.min()) < tol, abs(x - xs.max()) < tol
        south, north = abs(y - ys.min()) < tol, abs(y - ys.max()) < tol
        assert west or east or south or north
        nbrs = set(small.successors(n)) | set(small.predecessors(n))
        across = [
            m
            for m in nbrs
            if ((west or east) and abs(xy[m][1] - y) < tol) or ((south or north) and abs(xy[m][0] - x) < tol)
        ]
        assert across, n
    # each arterial that crosses the extent is cut at both ends: 2 per primary/trunk line, rows and columns
    arterial_ends = {
        n
        for u, v, d in small.edges(data=True)
        if d["highway"] in ("primary", "trunk")
        for n in (u, v)
        if n in cut
    }
    assert len(arterial_ends) >= 2 * 4
    # the full city is not cut from anything
    assert not any(d.get("boundary") for _, d in city.nodes(data=True))
