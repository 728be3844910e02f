import math

import pytest

from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import mph_to_kph
from vision_zero.network import osm_tags
from vision_zero.network.road_network import CROSSING_TYPES


@pytest.fixture(scope="module")
def defaults() -> osm_tags.TagDefaults:
    return osm_tags.TagDefaults.from_parameters(load_parameters())


@pytest.mark.parametrize(
    ("tag", "expected_kph"),
    [
        ("60", 60.0),
        (" 40 ", 40.0),
        ("60;40", 40.0),  # several values: the lowest
        (["60", "40"], 40.0),  # osmnx list after merging ways
        (["50", "30;70"], 30.0),
        ("50 km/h", 50.0),
        ("50km/h", 50.0),
        ("50 kmh", 50.0),
        ("50 kph", 50.0),
        ("30 mph", mph_to_kph(30.0)),
        ("RU:urban", 60.0),
        ("ru:urban", 60.0),
        ("KZ:urban", 60.0),
        ("RU:living_street", 20.0),
        ("KZ:living_street", 20.0),
        ("RU:rural", 90.0),
        ("RU:motorway", 110.0),
        ("DE:zone30", 30.0),
        ("DE:zone:30", 30.0),
        ("zone:20", 20.0),
        ("walk", 20.0),
        ("none", 130.0),
        (60, 60.0),
        (60.0, 60.0),
    ],
)
def test_maxspeed_forms(tag: object, expected_kph: float, defaults: osm_tags.TagDefaults) -> None:
    assert osm_tags.parse_maxspeed(tag, defaults=defaults) == pytest.approx(expected_kph)


@pytest.mark.parametrize(
    "tag",
    [
        None,
        "",
        "signals",
        "variable",
        "implicit",
        "fast",
        "0",
        "-5",
        "600",
        "1000 mph",
        "zone:999",
        "XX:urban",
        float("nan"),
        [],
        ["signals"],
    ],
)
def test_unreadable_maxspeed_is_none(tag: object, defaults: osm_tags.TagDefaults) -> None:
    assert osm_tags.parse_maxspeed(tag, defaults=defaults) is None


def test_unreadable_mixed_with_readable_keeps_the_readable(defaults: osm_tags.TagDefaults) -> None:
    assert osm_tags.parse_maxspeed("signals;50", defaults=defaults) == 50.0


def test_mph_uses_the_unit_conversion(defaults: osm_tags.TagDefaults) -> None:
    assert osm_tags.parse_maxspeed("20 mph", defaults=defaults) == pytest.approx(32.18688)


def test_kazakhstan_defaults_by_class(defaults: osm_tags.TagDefaults) -> None:
    assert defaults.default_speed_kph("primary") == 60.0
    assert defaults.default_speed_kph("residential") == 60.0
    assert defaults.default_speed_kph("living_street") == 20.0
    assert defaults.default_speed_kph("service") == 20.0


def test_capacity_per_lane_matsim(defaults: osm_tags.TagDefaults) -> None:
    assert defaults.capacity_per_lane_vph("motorway") == 2000.0
    assert defaults.capacity_per_lane_vph("primary") == 1500.0
    assert defaults.capacity_per_lane_vph("secondary") == 1000.0
    assert defaults.capacity_per_lane_vph("residential") == 600.0
    assert defaults.capacity_per_lane_vph("service") == 300.0
    # unknown class falls back to unclassified
    assert defaults.capacity_per_lane_vph("busway") == defaults.capacity_per_lane_vph("unclassified")


def test_every_road_class_has_a_capacity(defaults: osm_tags.TagDefaults) -> None:
    for road_class in osm_tags.ROAD_CLASSES:
        assert road_class in defaults.capacity_vph_per_lane


def test_default_lanes(defaults: osm_tags.TagDefaults) -> None:
    assert defaults.default_lanes("primary") == 2
    assert defaults.default_lanes("primary_link") == 1
    assert defaults.default_lanes("residential") == 1


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("2", 2), ("2;3", 2), (["3", "2"], 2), ("3.0", 3), (4, 4), ("0", None), ("x", None), (None, None)],
)
def test_parse_lanes(tag: object, expected: int | None) -> None:
    assert osm_tags.parse_lanes(tag) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("yes", True),
        ("-1", True),
        ("1", True),
        (True, True),
        ("no", False),
        (False, False),
        ("reversible", False),
        ([False, True], True),
        (None, None),
        ("maybe", None),
    ],
)
def test_parse_oneway(tag: object, expected: bool | None) -> None:
    assert osm_tags.parse_oneway(tag) is expected


def test_lanes_per_direction_two_way_splits_total() -> None:
    assert osm_tags.lanes_per_direction(lanes="4", oneway=False) == 2
    assert osm_tags.lanes_per_direction(lanes="3", oneway=False) == 1  # odd middle lane: a turn lane
    assert osm_tags.lanes_per_direction(lanes="1", oneway=False) == 1


def test_lanes_per_direction_uses_forward_backward() -> None:
    tags = {"lanes": "5", "lanes_forward": "3", "lanes_backward": "2", "oneway": False}
    assert osm_tags.lanes_per_direction(**tags, reversed_=False) == 3
    assert osm_tags.lanes_per_direction(**tags, reversed_=True) == 2
    # only one side tagged: the other is total minus it
    assert osm_tags.lanes_per_direction(lanes="5", lanes_forward="3", oneway=False, reversed_=True) == 2
    # ambiguous direction after merging ways (a list): symmetric split
    assert osm_tags.lanes_per_direction(**tags, reversed_=[False, True]) == 2


def test_lanes_per_direction_oneway_uses_total() -> None:
    assert osm_tags.lanes_per_direction(lanes="3", oneway=True) == 3
    assert osm_tags.lanes_per_direction(lanes=None, oneway=True) is None


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("primary", ("primary", False)),
        (["residential", "primary"], ("primary", False)),
        (["unclassified", "service"], ("unclassified", False)),
        ("road", ("unclassified", True)),
        (None, ("unclassified", True)),
    ],
)
def test_road_class(tag: object, expected: tuple[str, bool]) -> None:
    assert osm_tags.road_class(tag) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "crossing", "crossing": "traffic_signals"}, ("signalised", False)),
        ({"highway": "traffic_signals", "crossing": "traffic_signals"}, ("signalised", False)),
        ({"highway": "crossing", "crossing": "toucan"}, ("signalised", False)),
        ({"highway": "crossing", "crossing_ref": "pelican"}, ("signalised", False)),
        ({"highway": "crossing", "crossing": "marked"}, ("marked", False)),
        ({"highway": "crossing", "crossing": "zebra"}, ("marked", False)),
        ({"highway": "crossing", "crossing": "uncontrolled"}, ("marked", False)),
        ({"highway": "crossing", "crossing_ref": "zebra"}, ("marked", False)),
        ({"highway": "crossing", "crossing:markings": "zebra"}, ("marked", False)),
        ({"highway": "crossing", "crossing": "unmarked"}, ("unmarked", False)),
        ({"highway": "crossing", "crossing": "informal"}, ("unmarked", False)),
        ({"highway": "crossing", "crossing:markings": "no"}, ("unmarked", False)),
        ({"highway": "crossing", "crossing": "island"}, ("refuge_island", False)),
        ({"highway": "crossing", "crossing": "marked", "crossing:island": "yes"}, ("refuge_island", False)),
        ({"highway": "crossing", "crossing": "marked", "traffic_calming": "table"}, ("raised", False)),
        ({"highway": "crossing", "flashing_lights": "button"}, ("rrfb", False)),
        ({"highway": "crossing"}, ("marked", True)),
        ({"highway": "crossing", "crossing": "something_new"}, ("marked", True)),
        ({"crossing": "marked"}, ("marked", False)),  # crossing tag without highway=crossing
        ({"highway": "crossing", "crossing": "no"}, (None, False)),
        ({"highway": "traffic_signals"}, (None, False)),
        ({}, (None, False)),
    ],
)
def test_crossing_type(tags: dict[str, str], expected: tuple[str | None, bool]) -> None:
    assert osm_tags.crossing_type(tags) == expected
    if expected[0] is not None:
        assert expected[0] in CROSSING_TYPES


def test_signalised_nodes() -> None:
    assert osm_tags.is_signalised({"highway": "traffic_signals"})
    assert osm_tags.is_signalised({"highway": "crossing", "crossing": "traffic_signals"})
    assert not osm_tags.is_signalised({"highway": "crossing", "crossing": "zebra"})
    assert not osm_tags.is_signalised({"highway": "stop"})


@pytest.mark.parametrize(
    ("tags", "drivable"),
    [
        ({"highway": "primary"}, True),
        ({"highway": "residential", "access": "destination"}, True),
        ({"highway": "footway"}, False),
        ({"highway": "service"}, False),
        ({"highway": "track"}, False),
        ({"highway": "residential", "access": "private"}, False),
        ({"highway": "residential", "area": "yes"}, False),
        ({"highway": "residential", "motor_vehicle": "no"}, False),
        ({"highway": "unclassified", "service": "parking_aisle"}, False),
        ({"highway": ["unclassified", "footway"]}, False),
        ({}, False),
    ],
)
def test_drive_filter(tags: dict[str, object], drivable: bool) -> None:
    assert osm_tags.is_drivable(tags) is drivable


def test_split_values() -> None:
    assert osm_tags.split_values("a; b;;") == ["a", "b"]
    assert osm_tags.split_values(["a", "b;c"]) == ["a", "b", "c"]
    assert osm_tags.split_values(math.nan) == []


def test_normalise_link_directional_limit(defaults: osm_tags.TagDefaults) -> None:
    tags = {"highway": "primary", "oneway": False, "maxspeed": "60", "maxspeed:forward": "40", "lanes": "4"}
    forward = osm_tags.normalise_link({**tags, "reversed": False}, defaults=defaults)
    backward = osm_tags.normalise_link({**tags, "reversed": True}, defaults=defaults)
    assert forward.speed_limit_kph == 40.0 and backward.speed_limit_kph == 60.0
    assert forward.lanes == backward.lanes == 2
    assert forward.capacity_vph == 2 * 1500.0
    assert not (forward.speed_defaulted or forward.lanes_defaulted or forward.class_defaulted)


def test_normalise_link_zone_tag_fallback_and_defaults(defaults: osm_tags.TagDefaults) -> None:
    zoned = osm_tags.normalise_link(
        {"highway": "residential", "zone:maxspeed": "KZ:urban"}, defaults=defaults
    )
    assert zoned.speed_limit_kph == 60.0 and not zoned.speed_defaulted
    assert zoned.oneway_defaulted and not zoned.oneway
    bare = osm_tags.normalise_link({"highway": "living_street", "maxspeed": "signals"}, defaults=defaults)
    assert bare.speed_limit_kph == 20.0 and bare.speed_defaulted
    assert bare.lanes == 1 and bare.lanes_defaulted and bare.capacity_vph == 300.0
    unknown = osm_tags.normalise_link({"highway": "busway", "oneway": "yes", "lanes": "2"}, defaults=defaults)
    assert unknown.road_class == "unclassified" and unknown.class_defaulted
    assert unknown.oneway and unknown.lanes == 2 and unknown.capacity_vph == 1200.0


def test_maxspeed_none_is_believed_on_motorways_only(defaults: osm_tags.TagDefaults) -> None:
    """``maxspeed=none`` on a residential street is a tagging mistake: the class default (60), not 130 km/h."""
    street = osm_tags.normalise_link({"highway": "residential", "maxspeed": "none"}, defaults=defaults)
    assert (
        street.speed_limit_kph == defaults.default_speed_kph("residential") == 60.0 and street.speed_defaulted
    )
    assert street.maxspeed_none_ignored
    motorway = osm_tags.normalise_link({"highway": "motorway", "maxspeed": "none"}, defaults=defaults)
    assert motorway.speed_limit_kph == defaults.none_kph == 130.0 and not motorway.speed_defaulted
