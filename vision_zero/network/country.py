"""The country of a road network: its implicit speed limits are the defaults of untagged roads.

Default limits differ by country (Finland: 50 km/h in built-up areas; Kazakhstan: 60; US states: 25-30 mph), so a
network loaded from OSM must know its country before tags are normalised. Clues, strongest first
(:func:`detect_country`):

1. ``explicit``: the scenario's ``[network] country = "FI"`` (or the ``country=`` argument of
   :func:`vision_zero.network.road_network.load_network`).
2. The graph's own ``country`` attribute: set by the schematic generator (Almaty: ``KZ``) and by an earlier build
   (saved in the GraphML with its ``country_source``).
3. Country prefixes in the speed tags of the roads (``maxspeed``/``maxspeed:type``/``source:maxspeed``/
   ``zone:maxspeed``/``zone:traffic`` values such as ``FI:urban``, ``RU:urban``, ``KZ:urban``): the code of the
   country whose box (5.) holds the network if the tags name it at all (Almaty's mappers use ``RU:`` forms too),
   else the most frequent code that has a limits table.
4. The most common ``addr:country`` of the OSM file (buildings and addresses; recorded by the file reader).
5. A coarse bounding box of the network's median node (``vision_zero/data/countries.toml``).
6. None of these: the generic defaults (:data:`~vision_zero.network.osm_tags.GENERIC_COUNTRY`, the most common
   values of the OSM wiki's table), said so wherever the country is shown.

Reference: OpenStreetMap wiki, "Default speed limits" (the table in ``data/parameters/network.toml``).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from vision_zero.network.osm_tags import GENERIC_COUNTRY, country_prefixes

__all__ = ["CountryChoice", "country_from_box", "country_from_tags", "country_name", "detect_country"]


@dataclass(frozen=True)
class CountryChoice:
    """The country whose defaults a network uses: ISO code (or ``generic``), name, and how it was chosen."""

    code: str
    name: str
    how: str


@lru_cache(maxsize=1)
def _countries() -> dict[str, tuple[str, tuple[tuple[float, float, float, float], ...]]]:
    text = (resources.files("vision_zero") / "data" / "countries.toml").read_text("utf-8")
    out = {}
    for code, entry in tomllib.loads(text).items():
        boxes = tuple((float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in entry["boxes"])
        out[code.upper()] = (str(entry["name"]), boxes)
    return out


def country_name(code: str) -> str:
    """English name of a country code of the table (``FI`` -> ``Finland``); the code itself if unknown."""
    if code == GENERIC_COUNTRY:
        return "no country (generic defaults)"
    entry = _countries().get(code.upper())
    return entry[0] if entry else code


def country_from_box(lon: float, lat: float) -> str | None:
    """The country whose (smallest) coarse box holds the point, or ``None``."""
    best: tuple[float, str] | None = None
    for code, (_name, boxes) in _countries().items():
        for west, south, east, north in boxes:
            if west <= lon <= east and south <= lat <= north:
                area = (east - west) * (north - south)
                if best is None or area < best[0]:
                    best = (area, code)
    return None if best is None else best[1]


def country_from_tags(edges: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How many edges name each country code in their speed tags (:func:`osm_tags.country_prefixes`)."""
    counts: Counter[str] = Counter()
    for data in edges:
        for code in set(country_prefixes(data)):
            counts[code] += 1
    return counts


def detect_country(
    graph_attrs: Mapping[str, Any],
    edges: Iterable[Mapping[str, Any]],
    lonlat: tuple[float, float] | None,
    *,
    known: Collection[str],
    explicit: str | None = None,
) -> CountryChoice:
    """Choose the country of a network from the clues listed in the module docstring.

    Parameters
    ----------
    graph_attrs
        The graph's attributes (``country``/``country_source`` of an earlier build, ``addr_country`` of a file).
    edges
        Edge attribute mappings (OSM way tags).
    lonlat
        A representative point of the network (median node) in degrees, or ``None``.
    known
        Codes that have a limits table (a clue naming another country is passed over, and said so).
    explicit
        A country given by the user; must be in ``known`` (the caller checks and reports).
    """

    def choice(code: str, how: str) -> CountryChoice:
        return CountryChoice(code, country_name(code), how)

    if explicit:
        return choice(explicit.upper(), "given ([network] country)")
    saved = str(graph_attrs.get("country") or "").strip()
    if saved and saved in known:
        return choice(saved, str(graph_attrs.get("country_source") or "saved with the graph"))
    skipped: list[str] = []
    by_tags = country_from_tags(edges)
    boxed = country_from_box(*lonlat) if lonlat is not None else None
    if boxed is not None and boxed in known and by_tags.get(boxed, 0) > 0:
        # mappers use a neighbour's forms too (RU:urban in Almaty): the tagged country where the network lies
        return choice(
            boxed, f"speed tags of the roads ({boxed}:… on {by_tags[boxed]} links) and its location"
        )
    for code, n in by_tags.most_common():
        if code in known:
            return choice(code, f"speed tags of the roads ({code}:… on {n} links)")
        skipped.append(code)
    addr = str(graph_attrs.get("addr_country") or "").strip().upper()
    if addr:
        if addr in known:
            return choice(addr, "addr:country of the OSM file")
        skipped.append(addr)
    if boxed is not None and boxed in known:
        return choice(boxed, "coarse bounding box of the network's location")
    note = f"; no limits table for {', '.join(dict.fromkeys(skipped))}" if skipped else ""
    return choice(GENERIC_COUNTRY, f"not detected{note}")
