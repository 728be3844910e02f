"""The country of a network and its implicit speed limits (OSM wiki "Default speed limits", network.toml)."""

from pathlib import Path

import pytest
from paths import FIXTURES, SHARED_OSM

from vision_zero.core.errors import DataError, ScenarioError
from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import mph_to_kph
from vision_zero.network import osm_tags
from vision_zero.network.country import country_from_box, detect_country
from vision_zero.network.road_network import load_network
from vision_zero.program.scenario import load_scenario

OAKLAND = SHARED_OSM / "west-oakland.osm.bz2"
MUNICH = SHARED_OSM / "munich-small.osm.bz2"
needs_shared = pytest.mark.skipif(not OAKLAND.is_file(), reason="shared OSM extracts not present")
PARAMS = load_parameters()
KNOWN = osm_tags.countries_with_limits(PARAMS)


def _defaults(country: str) -> osm_tags.TagDefaults:
    return osm_tags.TagDefaults.from_parameters(PARAMS, country=country)


def test_every_country_table_is_sourced_from_the_wiki() -> None:
    assert {"FI", "KZ", "RU", "US", "DE", osm_tags.GENERIC_COUNTRY} <= set(KNOWN)
    for name, p in PARAMS.group("network.default_speed_kph").items():
        assert "Default speed limits" in p.source or "Kazakhstan" in p.source, name
        assert p.status in ("checked", "derived"), name


@pytest.mark.parametrize(
    ("country", "urban", "living", "rural", "motorway"),
    [
        ("FI", 50, 20, 100, 100),  # no motorway row for Finland: the general limit
        ("KZ", 60, 20, 110, 140),
        ("RU", 60, 20, 90, 110),
        ("SE", 50, 20, 70, 110),  # living street "walk": network.maxspeed_walk_kph
        ("DE", 50, 20, 100, 130),  # no Autobahn limit: network.maxspeed_none_kph
    ],
)
def test_country_limits(country: str, urban: float, living: float, rural: float, motorway: float) -> None:
    d = _defaults(country)
    assert d.default_speed_kph("residential") == urban
    assert d.default_speed_kph("primary") == urban
    assert d.default_speed_kph("living_street") == living
    assert d.country_limits.rural_kph == rural
    assert d.default_speed_kph("motorway") == motorway


def test_us_limits_are_in_mph() -> None:
    d = _defaults("US")
    assert d.default_speed_kph("residential") == pytest.approx(mph_to_kph(25))
    assert d.country_limits.rural_kph == pytest.approx(mph_to_kph(55))


def test_kazakh_service_roads_keep_their_derived_limit() -> None:
    assert _defaults("KZ").default_speed_kph("service") == 20.0
    assert _defaults("FI").default_speed_kph("service") == 50.0


def test_zone_values_name_their_own_country() -> None:
    fi = _defaults("FI")
    assert osm_tags.parse_maxspeed("FI:urban", defaults=fi) == 50.0
    assert osm_tags.parse_maxspeed("RU:urban", defaults=fi) == 60.0  # any country's zones, on any network
    assert osm_tags.parse_maxspeed("FI:rural", defaults=fi) == 100.0
    assert osm_tags.parse_maxspeed("XX:urban", defaults=fi) is None


def test_maxspeed_none_only_on_motorways_and_trunks() -> None:
    fi = _defaults("FI")
    residential = osm_tags.normalise_link({"highway": "residential", "maxspeed": "none"}, defaults=fi)
    assert residential.speed_limit_kph == 50.0 and residential.speed_defaulted
    assert residential.maxspeed_none_ignored
    motorway = osm_tags.normalise_link({"highway": "motorway", "maxspeed": "none"}, defaults=fi)
    assert motorway.speed_limit_kph == PARAMS.value("network.maxspeed_none_kph")
    assert not motorway.speed_defaulted and not motorway.maxspeed_none_ignored


def test_source_maxspeed_and_zone_traffic_give_implicit_limits() -> None:
    fi = _defaults("FI")
    link = osm_tags.normalise_link({"highway": "primary", "source:maxspeed": "FI:urban"}, defaults=fi)
    assert link.speed_limit_kph == 50.0 and not link.speed_defaulted
    link = osm_tags.normalise_link({"highway": "primary", "zone:traffic": "FI:rural"}, defaults=fi)
    assert link.speed_limit_kph == 100.0


@pytest.mark.parametrize(
    ("lon", "lat", "code"),
    [
        (24.94, 60.17, "FI"),  # Helsinki (also inside Russia's box: the smaller box wins)
        (24.75, 59.44, "EE"),  # Tallinn
        (76.93, 43.24, "KZ"),  # Almaty, 25 km from Kyrgyzstan
        (74.60, 42.87, "KG"),  # Bishkek
        (11.58, 48.14, "DE"),  # Munich
        (16.37, 48.21, "AT"),  # Vienna
        (-122.28, 37.81, "US"),  # West Oakland
        (37.62, 55.75, "RU"),  # Moscow
        (-58.4, -34.6, None),  # Buenos Aires: no table
    ],
)
def test_country_boxes(lon: float, lat: float, code: str | None) -> None:
    assert country_from_box(lon, lat) == code


def test_detection_order() -> None:
    tagged = [{"maxspeed": "RU:urban"}, {"maxspeed": "RU:urban"}, {"zone:traffic": "FI:urban"}]
    # explicit beats everything; then the graph's own; then tags; then addr:country; then the box
    assert detect_country({}, tagged, (24.9, 60.2), known=KNOWN, explicit="FI").code == "FI"
    assert detect_country({"country": "KZ"}, tagged, None, known=KNOWN).code == "KZ"
    assert detect_country({"addr_country": "FI"}, tagged, None, known=KNOWN).code == "RU"
    assert detect_country({"addr_country": "FI"}, [{}], (76.9, 43.2), known=KNOWN).code == "FI"
    assert detect_country({}, [{}], (76.9, 43.2), known=KNOWN).code == "KZ"
    # Almaty's mappers use RU: forms as well as KZ: ones; where the tags name the country the network lies in,
    # that country wins over the more frequent neighbour's forms
    almaty = [{"maxspeed": "RU:urban"}, {"maxspeed": "RU:urban"}, {"maxspeed:type": "KZ:urban"}]
    assert detect_country({}, almaty, (76.93, 43.24), known=KNOWN).code == "KZ"
    assert detect_country({}, almaty, (37.6, 55.75), known=KNOWN).code == "RU"
    generic = detect_country({"addr_country": "AR"}, [{"maxspeed": "AR:urban"}], (-58.4, -34.6), known=KNOWN)
    assert generic.code == osm_tags.GENERIC_COUNTRY and "AR" in generic.how


def test_a_given_country_overrides_detection() -> None:
    net = load_network(FIXTURES / "clipped_box.osm", country="KZ")
    assert net.country == "KZ"
    way_203 = net.links.loc[net.links["osm_way"] == "203"]
    assert set(way_203["speed_limit_kph"]) == {60.0}


def test_an_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="country 'AR'"):
        load_network(FIXTURES / "clipped_box.osm", country="AR")


def test_scenario_country_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "s"\ndescription = "d"\n[network]\nsource = "schematic:almaty?scale=tiny"\ncountry = "AR"\n'
    )
    with pytest.raises(ScenarioError, match=r"network\.country"):
        load_scenario(path)
    path.write_text(path.read_text().replace('"AR"', '"KZ"'))
    assert load_scenario(path).network.country == "KZ"


@needs_shared
def test_oakland_gets_us_defaults_and_munich_german_ones() -> None:
    oakland = load_network(OAKLAND)
    assert oakland.country == "US" and "box" in oakland.country_source
    munich = load_network(MUNICH)
    assert munich.country == "DE" and "addr:country" in munich.country_source
    assert set(munich.links.loc[munich.links["speed_limit_defaulted"], "speed_limit_kph"]) <= {50.0}
