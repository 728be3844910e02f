"""OpenStreetMap tag normalisation, in one place: speed limits, lanes, oneway, road class, crossings.

OSM tags are free text. ``maxspeed`` alone comes as ``"60"``, ``"60;40"``, ``["60", "40"]`` (after osmnx merges
ways), ``"RU:urban"``, ``"KZ:living_street"``, ``"DE:zone30"``, ``"30 mph"``, ``"walk"``, ``"none"`` or
``"signals"``. Every parser here returns ``None`` for a value it cannot read; the caller then uses the default
of :class:`TagDefaults` and counts the link as *defaulted*.

Default speed limits are those of the network's country (:class:`CountryLimits`: urban, living street, rural,
motorway; OSM wiki "Default speed limits"), chosen by :mod:`vision_zero.network.country`; capacity per lane by
road class is MATSim's (SCIENCE.md §8). All numbers are in ``data/parameters/network.toml``.
``maxspeed=none`` (no limit) is honoured only on motorways and trunk roads; on any other road it is a data error:
the class default is used, the link counts as defaulted and as ``maxspeed_none_ignored``.

Rules chosen where a tag holds several values (``"60;40"``, ``"2;3"``, a list after simplification): the
*lowest* speed limit and the *fewest* lanes, i.e. the bottleneck of the link.

References
----------
OpenStreetMap wiki: Key:maxspeed, Key:lanes, Lanes (forward/backward), Key:oneway, Tag:highway=crossing,
Key:crossing, Default speed limits.
Horni, Nagel, Axhausen (eds.), *The Multi-Agent Transport Simulation MATSim*, 2016 (OsmNetworkReader defaults).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from vision_zero.core.parameters import ParameterSet
from vision_zero.core.units import mph_to_kph

__all__ = [
    "GENERIC_COUNTRY",
    "LINK_TAGS",
    "NO_LIMIT_CLASSES",
    "ROAD_CLASSES",
    "CountryLimits",
    "LinkValues",
    "TagDefaults",
    "countries_with_limits",
    "country_prefixes",
    "crossing_type",
    "is_drivable",
    "is_signalised",
    "lanes_per_direction",
    "node_tags_to_keep",
    "normalise_link",
    "parse_lanes",
    "parse_maxspeed",
    "parse_oneway",
    "road_class",
    "split_values",
]

#: Drivable OSM road classes, most important first (a link tagged with several takes the first).
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
)
#: Class used for a drivable way whose ``highway`` value is missing or unknown (e.g. ``road``, ``busway``).
FALLBACK_CLASS = "unclassified"

# osmnx's "drive" network filter (osmnx/_overpass.py, network_type="drive"), applied to OSM XML files, which
# osmnx.graph_from_xml reads without any filter. Values are matched whole, not as substrings.
_NOT_DRIVE_HIGHWAY = frozenset(
    [
        "abandoned",
        "bridleway",
        "bus_guideway",
        "construction",
        "corridor",
        "cycleway",
        "elevator",
        "escalator",
        "footway",
        "no",
        "path",
        "pedestrian",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "rest_area",
        "service",
        "services",
        "steps",
        "track",
    ]
)
_NOT_DRIVE_SERVICE = frozenset(
    ["alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"]
)

_SPEED_RE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph|km/ч|км/ч)?$")
_ZONE_RE = re.compile(r"^([a-z]{2}(?:-[a-z0-9]+)?):(.+)$")
_ZONE_NUMBER_RE = re.compile(r"^zone:?(\d+)$")
_COUNTRY_PREFIX_RE = re.compile(r"^([A-Za-z]{2})(?:-[A-Za-z0-9]+)?:[A-Za-z_]")
#: Way tags whose values may start with a country code (``FI:urban``, ``DE:zone30``), read in this order.
COUNTRY_TAGS = ("maxspeed", "maxspeed:type", "source:maxspeed", "zone:maxspeed", "zone:traffic")
_SIGNAL_CROSSINGS = frozenset({"traffic_signals", "pelican", "toucan", "puffin", "pegasus"})
_MARKED_CROSSINGS = frozenset({"marked", "zebra", "uncontrolled", "island"})
_UNMARKED_CROSSINGS = frozenset({"unmarked", "informal"})
_FLASHING = frozenset({"yes", "button", "sensor", "always"})

#: Road classes where ``maxspeed=none`` (no limit, ``network.maxspeed_none_kph``) is believed; on any other
#: class the tag is a mistake (no urban street has no limit) and the class default is used, counted as defaulted.
NO_LIMIT_CLASSES = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})

#: Crossing type given to ``highway=crossing`` nodes that say nothing more (counted as defaulted): in OSM a
#: mapped crossing without details is most often a marked one; unmarked ones are tagged ``crossing=unmarked``.
DEFAULT_CROSSING_TYPE = "marked"


#: Key of the defaults used where no country is known (the most common values of the OSM wiki's table).
GENERIC_COUNTRY = "generic"
#: Road classes whose default is the country's motorway limit, and classes where ``maxspeed=none`` is honoured.
_MOTORWAY_CLASSES = frozenset({"motorway", "motorway_link"})
#: ``CC:<zone>`` values of speed tags (FI:urban, RU:living_street, GB:nsl_single) -> :class:`CountryLimits` field.
_ZONE_FIELDS = {
    "urban": "urban_kph",
    "rural": "rural_kph",
    "motorway": "motorway_kph",
    "living_street": "living_street_kph",
    "nsl_single": "rural_kph",
}


@dataclass(frozen=True)
class CountryLimits:
    """The implicit speed limits of one country [km/h] (``network.default_speed_kph.<CC>.*``)."""

    urban_kph: float
    living_street_kph: float
    rural_kph: float
    motorway_kph: float
    service_kph: float

    def by_context(self) -> dict[str, float]:
        """The limits a network records as its ``default_speed_kph``: urban, living street, rural, motorway."""
        return {
            "urban": self.urban_kph,
            "living_street": self.living_street_kph,
            "rural": self.rural_kph,
            "motorway": self.motorway_kph,
        }

    @classmethod
    def from_parameters(cls, params: ParameterSet, country: str) -> CountryLimits:
        """Read ``network.default_speed_kph.<country>.*`` (mph values converted; see ``network.toml``)."""
        group = params.group(f"network.default_speed_kph.{country}")

        def kph(category: str) -> float | None:
            p = group.get(category)
            if p is None:
                return None
            return mph_to_kph(p.value) if p.unit == "mph" else p.value

        urban = kph("urban")
        if urban is None:
            raise ValueError(f"network.default_speed_kph.{country}.urban: missing")
        rural = kph("rural")
        walk = params.value("network.maxspeed_walk_kph")
        none = params.value("network.maxspeed_none_kph")
        living = kph("living_street")
        return cls(
            urban_kph=urban,
            living_street_kph=living if living is not None else (walk if country in _WALK else urban),
            rural_kph=rural if rural is not None else urban,
            motorway_kph=kph("motorway") or (none if country in _NO_MOTORWAY_LIMIT else (rural or urban)),
            service_kph=kph("service") or urban,
        )


#: Countries whose living streets are "walk" in the wiki, and whose motorways have no general limit.
_WALK = frozenset({"SE", "NO", "DE", "AT"})
_NO_MOTORWAY_LIMIT = frozenset({"DE"})


@dataclass(frozen=True, eq=False)
class TagDefaults:
    """The numbers tag normalisation needs, read from ``network.toml`` (see :meth:`from_parameters`).

    ``country`` is the network's country (an ISO code, or :data:`GENERIC_COUNTRY`): its limits are the defaults
    of untagged roads. ``limits`` holds every country's, for tags that name one (``RU:urban`` on any network).
    """

    country: str
    limits: Mapping[str, CountryLimits]
    walk_kph: float
    none_kph: float
    max_posted_kph: float
    lanes_per_direction: Mapping[str, int]
    capacity_vph_per_lane: Mapping[str, float]
    jam_density_veh_per_km_per_lane: float

    @classmethod
    def from_parameters(cls, params: ParameterSet, *, country: str = "KZ") -> TagDefaults:
        """Read the ``network.*`` parameters; ``country`` must have limits (:func:`countries_with_limits`)."""
        known = countries_with_limits(params)
        if country not in known:
            raise ValueError(f"country {country!r}: no default speed limits; expected one of {sorted(known)}")
        lanes = {k: int(p.value) for k, p in params.group("network.default_lanes_per_direction").items()}
        return cls(
            country=country,
            limits={c: CountryLimits.from_parameters(params, c) for c in known},
            walk_kph=params.value("network.maxspeed_walk_kph"),
            none_kph=params.value("network.maxspeed_none_kph"),
            max_posted_kph=params.value("network.maxspeed_max_kph"),
            lanes_per_direction=lanes,
            capacity_vph_per_lane={
                k: p.value for k, p in params.group("network.capacity_vph_per_lane").items()
            },
            jam_density_veh_per_km_per_lane=params.value("network.jam_density_veh_per_km_per_lane"),
        )

    @property
    def country_limits(self) -> CountryLimits:
        """The limits of the network's own country."""
        return self.limits[self.country]

    def default_speed_kph(self, road_class: str) -> float:
        """Speed limit of an untagged road of this class in the network's country.

        Motorways (and their links) get the motorway limit, living streets the living-street limit, service roads
        the service limit (the urban one where the country has none), every other class the urban limit.
        """
        limits = self.country_limits
        if road_class in _MOTORWAY_CLASSES:
            return limits.motorway_kph
        if road_class == "living_street":
            return limits.living_street_kph
        if road_class == "service":
            return limits.service_kph
        return limits.urban_kph

    def zone_kph(self, country: str, zone: str) -> float | None:
        """The limit a ``CC:zone`` value names (``FI:urban`` -> 50), or ``None`` for an unknown country/zone."""
        limits = self.limits.get(country.upper())
        field_name = _ZONE_FIELDS.get(zone.lower())
        if limits is None or field_name is None:
            return None
        return float(getattr(limits, field_name))

    def default_lanes(self, road_class: str) -> int:
        """Lanes per direction of a road of this class without a ``lanes`` tag."""
        base = road_class.removesuffix("_link")
        if road_class.endswith("_link"):
            return self.lanes_per_direction["other"]
        return self.lanes_per_direction.get(base, self.lanes_per_direction["other"])

    def capacity_per_lane_vph(self, road_class: str) -> float:
        """Capacity of one lane of this class [veh/h]."""
        return self.capacity_vph_per_lane.get(road_class, self.capacity_vph_per_lane[FALLBACK_CLASS])


def split_values(value: Any) -> list[str]:
    """All values of a tag as stripped strings: lists are flattened, ``"a;b"`` is split; missing → ``[]``."""
    if value is None:
        return []
    if isinstance(value, float) and math.isnan(value):
        return []
    if isinstance(value, list | tuple | set):
        out: list[str] = []
        for item in value:
            out.extend(split_values(item))
        return out
    if isinstance(value, bool):
        return [str(value).lower()]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _plausible(kph: float, defaults: TagDefaults) -> float | None:
    """``kph``, or None (unreadable) for 0 or a limit above any posted anywhere (a tagging mistake)."""
    return kph if 0 < kph <= defaults.max_posted_kph else None


def countries_with_limits(params: ParameterSet) -> list[str]:
    """Country keys that have default speed limits in the parameters (ISO codes and :data:`GENERIC_COUNTRY`)."""
    names = params.group("network.default_speed_kph")
    return sorted({k.split(".", 1)[0] for k in names if k.endswith(".urban")})


@lru_cache(maxsize=4096)
def _parse_one_maxspeed(text: str, defaults: TagDefaults) -> float | None:
    t = text.strip().lower()
    if t == "walk":
        return defaults.walk_kph
    if t == "none":
        return defaults.none_kph
    m = _SPEED_RE.match(t)
    if m:
        number = float(m.group(1).replace(",", "."))
        return _plausible(mph_to_kph(number) if m.group(2) == "mph" else number, defaults)
    zone_number = _ZONE_NUMBER_RE.match(t.replace(" ", ""))
    if zone_number:
        return _plausible(float(zone_number.group(1)), defaults)
    m = _ZONE_RE.match(t)
    if m:
        country, zone = m.group(1).split("-")[0], m.group(2).strip()
        zone_number = _ZONE_NUMBER_RE.match(zone.replace(" ", ""))
        if zone_number:
            return _plausible(float(zone_number.group(1)), defaults)
        return defaults.zone_kph(country, zone)
    return None  # "signals", "variable", "implicit", garbage: the caller defaults by road class


def parse_maxspeed(value: Any, *, defaults: TagDefaults, allow_none: bool = True) -> float | None:
    """A ``maxspeed`` tag in km/h, or ``None`` if it cannot be read (then default by road class).

    Several values (``"60;40"``, a list) give the lowest. ``"FI:urban"``/``"KZ:living_street"``-style zones are
    the implicit limits of that country (:meth:`TagDefaults.zone_kph`); ``"DE:zone30"``/``"zone:30"`` give the
    number; ``"walk"`` and ``"none"`` have their own parameters (``"none"`` only with ``allow_none``);
    ``"signals"``/``"variable"`` are unreadable.
    """
    speeds = [
        s
        for v in split_values(value)
        if allow_none or v.lower() != "none"
        for s in [_parse_one_maxspeed(v, defaults)]
        if s is not None
    ]
    return min(speeds) if speeds else None


def country_prefixes(tags: Mapping[str, Any]) -> list[str]:
    """Country codes named by a way's speed tags (``FI:urban`` in ``maxspeed``, ``source:maxspeed`` …), upper case."""
    out = []
    for key in COUNTRY_TAGS:
        for v in split_values(tags.get(key)):
            m = _COUNTRY_PREFIX_RE.match(v)
            if m:
                out.append(m.group(1).upper())
    return out


def parse_lanes(value: Any) -> int | None:
    """A ``lanes`` tag as a positive int (the fewest of several values), or ``None``."""
    lanes: list[int] = []
    for part in split_values(value):
        try:
            n = int(float(part))
        except ValueError:
            continue
        if n > 0:
            lanes.append(n)
    return min(lanes) if lanes else None


def parse_oneway(value: Any) -> bool | None:
    """A ``oneway`` tag (or osmnx's bool) as a bool; several values → True if any is one-way; else ``None``."""
    result: bool | None = None
    for part in split_values(value):
        p = part.lower()
        if p in ("yes", "true", "1", "-1", "reverse"):
            return True
        if p in ("no", "false", "0", "reversible", "alternating"):
            result = False
    return result


def road_class(highway: Any) -> tuple[str, bool]:
    """The road class of a ``highway`` value (the most important of several) and whether it was defaulted."""
    values = split_values(highway)
    known = [v for v in values if v in ROAD_CLASSES]
    if known:
        return min(known, key=ROAD_CLASSES.index), False
    return FALLBACK_CLASS, True


def lanes_per_direction(
    *,
    lanes: Any,
    lanes_forward: Any = None,
    lanes_backward: Any = None,
    oneway: bool,
    reversed_: Any = False,
) -> int | None:
    """Lanes of one directed link, or ``None`` if untagged (default by class).

    One-way: ``lanes:forward`` else ``lanes``. Two-way: the link's own ``lanes:forward``/``lanes:backward``
    (by osmnx's ``reversed`` flag), else ``lanes`` minus the other direction's, else half of ``lanes`` (rounded
    down, at least 1: an odd middle lane is usually a turn lane).
    """
    total = parse_lanes(lanes)
    fwd, bwd = parse_lanes(lanes_forward), parse_lanes(lanes_backward)
    if oneway:
        return fwd if fwd is not None else total
    if isinstance(reversed_, bool):
        own, other = (bwd, fwd) if reversed_ else (fwd, bwd)
        if own is not None:
            return own
        if other is not None and total is not None and total > other:
            return total - other
    if total is None:
        return None
    return max(1, total // 2)


def is_drivable(tags: Mapping[str, Any]) -> bool:
    """Whether a way's tags pass osmnx's ``network_type="drive"`` filter (public drivable streets)."""
    highway = split_values(tags.get("highway"))
    if not highway or any(h in _NOT_DRIVE_HIGHWAY for h in highway):
        return False
    if "yes" in split_values(tags.get("area")) or "private" in split_values(tags.get("access")):
        return False
    if "no" in split_values(tags.get("motor_vehicle")) or "no" in split_values(tags.get("motorcar")):
        return False
    return not any(s in _NOT_DRIVE_SERVICE for s in split_values(tags.get("service")))


def _first(tags: Mapping[str, Any], key: str) -> str:
    values = split_values(tags.get(key))
    return values[0].lower() if values else ""


def crossing_type(tags: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The crossing type of an OSM node (one of ``network.CROSSING_TYPES``), or ``None`` for no crossing.

    Returns ``(type, defaulted)``. A node is a crossing if ``highway=crossing`` or it has a ``crossing`` tag other
    than ``no``. Priority when several apply: signalised > rrfb (flashing lights) > raised (``traffic_calming=
    table``) > refuge_island > marked > unmarked. A crossing that says nothing more is
    :data:`DEFAULT_CROSSING_TYPE` and counted as defaulted.
    """
    highway = split_values(tags.get("highway"))
    crossing = _first(tags, "crossing")
    if crossing == "no" or ("crossing" not in highway and not crossing):
        return None, False
    ref = _first(tags, "crossing_ref")
    markings = _first(tags, "crossing:markings")
    if crossing in _SIGNAL_CROSSINGS or ref in _SIGNAL_CROSSINGS or _first(tags, "crossing:signals") == "yes":
        return "signalised", False
    if _first(tags, "flashing_lights") in _FLASHING:
        return "rrfb", False
    if _first(tags, "traffic_calming") == "table":
        return "raised", False
    if crossing == "island" or _first(tags, "crossing:island") == "yes":
        return "refuge_island", False
    if crossing in _MARKED_CROSSINGS or ref == "zebra" or markings not in ("", "no"):
        return "marked", False
    if crossing in _UNMARKED_CROSSINGS or markings == "no":
        return "unmarked", False
    return DEFAULT_CROSSING_TYPE, True


def is_signalised(tags: Mapping[str, Any]) -> bool:
    """Whether vehicles meet a signal at this node (``highway=traffic_signals`` or a signalised crossing)."""
    if "traffic_signals" in split_values(tags.get("highway")):
        return True
    return crossing_type(tags)[0] == "signalised"


def node_tags_to_keep(nodes: Iterable[tuple[Any, Mapping[str, Any]]]) -> list[Any]:
    """Nodes that simplification must keep as graph nodes: signals and crossings."""
    return [n for n, tags in nodes if is_signalised(tags) or crossing_type(tags)[0] is not None]


#: The edge attributes :func:`normalise_link` reads.
LINK_TAGS: tuple[str, ...] = (
    "highway",
    "oneway",
    "reversed",
    "maxspeed",
    "maxspeed:forward",
    "maxspeed:backward",
    "zone:maxspeed",
    "maxspeed:type",
    "source:maxspeed",
    "zone:traffic",
    "lanes",
    "lanes:forward",
    "lanes:backward",
)


class LinkValues(NamedTuple):
    """The normalised values of one directed link, and which of them were defaulted."""

    road_class: str
    oneway: bool
    speed_limit_kph: float
    lanes: int
    capacity_vph: float
    class_defaulted: bool
    oneway_defaulted: bool
    speed_defaulted: bool
    lanes_defaulted: bool
    maxspeed_none_ignored: bool = False


def normalise_link(tags: Mapping[str, Any], *, defaults: TagDefaults) -> LinkValues:
    """Road class, one-way flag, speed limit [km/h], lanes and capacity [veh/h] of one directed osmnx edge.

    The limit is the link's own direction's ``maxspeed:forward``/``:backward`` on a two-way road, else
    ``maxspeed``, else a country zone in ``zone:maxspeed``, ``maxspeed:type``, ``source:maxspeed`` or
    ``zone:traffic`` (e.g. ``FI:urban``), else the class default of the network's country. ``maxspeed=none`` is
    read only on motorway and trunk classes; elsewhere it is ignored (defaulted, ``maxspeed_none_ignored``).
    Lanes: :func:`lanes_per_direction`, else the class default. Capacity: lanes x MATSim's capacity per lane.
    """
    road, class_defaulted = road_class(tags.get("highway"))
    oneway_tag = parse_oneway(tags.get("oneway"))
    oneway = bool(oneway_tag)
    reversed_ = tags.get("reversed", False)
    allow_none = road in NO_LIMIT_CLASSES
    speed = None
    if not oneway and isinstance(reversed_, bool):
        speed = parse_maxspeed(
            tags.get("maxspeed:backward" if reversed_ else "maxspeed:forward"),
            defaults=defaults,
            allow_none=allow_none,
        )
    for key in ("maxspeed", "zone:maxspeed", "maxspeed:type", "source:maxspeed", "zone:traffic"):
        if speed is None:
            speed = parse_maxspeed(tags.get(key), defaults=defaults, allow_none=allow_none)
    none_ignored = (
        speed is None
        and not allow_none
        and any(v.lower() == "none" for v in split_values(tags.get("maxspeed")))
    )
    speed_defaulted = speed is None
    lanes = lanes_per_direction(
        lanes=tags.get("lanes"),
        lanes_forward=tags.get("lanes:forward"),
        lanes_backward=tags.get("lanes:backward"),
        oneway=oneway,
        reversed_=reversed_,
    )
    lanes_defaulted = lanes is None
    n_lanes = defaults.default_lanes(road) if lanes is None else lanes
    return LinkValues(
        road_class=road,
        oneway=oneway,
        speed_limit_kph=float(defaults.default_speed_kph(road) if speed is None else speed),
        lanes=n_lanes,
        capacity_vph=n_lanes * defaults.capacity_per_lane_vph(road),
        class_defaulted=class_defaulted,
        oneway_defaulted=oneway_tag is None,
        speed_defaulted=speed_defaulted,
        lanes_defaulted=lanes_defaulted,
        maxspeed_none_ignored=none_ignored,
    )
