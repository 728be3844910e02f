"""``vision-zero network build|info|plot``: load a road network from any source, save, describe or draw it."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from vision_zero.cli._argtypes import add_command, add_group, check_output_file
from vision_zero.network.scales import SCALE_PRESETS

__all__ = ["register"]

_SOURCE_HELP = (  # the scale presets listed from the one place they are defined
    "network source: an OSM file (.osm.pbf, .osm, .osm.bz2, .xml; an extract clipped at a box is fine), "
    "a GraphML file built earlier, "
    f"schematic:almaty[?scale={'|'.join(SCALE_PRESETS)}|<number>&seed=N], bbox:west,south,east,north, "
    "a polygon file (.geojson) or a place name (downloads need internet; cached in --cache-dir)"
)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("networks"),
        help="where osmnx downloads are cached as GraphML (default: networks/)",
    )
    p.add_argument(
        "--country",
        default=None,
        metavar="CC",
        help="ISO code of the country whose implicit speed limits fill missing maxspeed, e.g. FI "
        "(default: detected from the speed tags, addr:country or the location)",
    )


def register(subparsers: Any) -> None:
    """Add the ``network`` command group and its sub-commands."""
    sub = add_group(
        subparsers,
        "network",
        help="build, describe or plot a road network",
        description="Road networks: load from OSM data or the built-in schematic Almaty, save, describe, plot.",
        epilog="Example: vision-zero network info schematic:almaty",
    )

    build = add_command(
        sub,
        "build",
        help="load a network and save it as GraphML",
        description=(
            "Load a road network (OSM file, download, or schematic), normalise its tags and save it as GraphML "
            "that later commands read without network access."
        ),
        epilog="Example: vision-zero network build ../shared/osm/west-oakland.osm.bz2 -o networks/oakland.graphml",
    )
    _add_common(build)
    build.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="GraphML file to write (default: networks/NAME.graphml)",
    )
    build.set_defaults(func=_build)

    info = sub.add_parser(
        "info",
        help="describe a network: size, road classes, crossings, signals, speed limits, defaulted tags",
        description=(
            "Print the country whose default limits apply (and how it was found), the ways cut at the edge of a "
            "clipped file, nodes, links, km by road class, crossings by type, signals, km by speed limit, the share "
            "of each attribute that was defaulted because OSM had no usable tag, and whether it is schematic."
        ),
        epilog="Example: vision-zero network info networks/helsinki-centre.osm.pbf",
    )
    _add_common(info)
    info.set_defaults(func=_info)

    plot = sub.add_parser(
        "plot",
        help="draw a network map: roads coloured by speed limit, crossings and signals marked",
        description="Draw the network to an image (PNG, SVG or PDF), roads coloured by speed limit.",
        epilog="Example: vision-zero network plot schematic:almaty?scale=tiny -o results/almaty-schematic.png",
    )
    _add_common(plot)
    plot.add_argument(
        "-o", "--output", type=Path, required=True, help="image file to write (.png, .svg, .pdf)"
    )
    plot.set_defaults(func=_plot)


def _load(args: argparse.Namespace) -> Any:
    from vision_zero.network.road_network import load_network

    country = args.country.upper() if args.country else None
    return load_network(args.source, cache_dir=args.cache_dir, country=country)


def _default_output(source: str, cache_dir: Path) -> Path:
    name = Path(source).name if not source.lower().startswith(("schematic:", "bbox:")) else source
    for suffix in (".bz2", ".pbf", ".osm", ".xml", ".graphml", ".geojson", ".json"):
        name = name.removesuffix(suffix)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "network"
    return cache_dir / f"{slug}.graphml"


def _build(args: argparse.Namespace) -> int:
    from vision_zero.network.road_network import network_summary, save_network_graph

    if args.output is not None:
        check_output_file(Path(args.output), "-o")
    network = _load(args)
    output = args.output if args.output is not None else _default_output(args.source, args.cache_dir)
    save_network_graph(network, output)
    s = network_summary(network)
    print(f"{network.label}")
    print(f"wrote {output}: {s['nodes']} nodes, {s['links']} links, {s['length_km']:.1f} km of road")
    print(_country_line(s))
    if s["clipped_ways"]:
        print(_clipped_line(s))
    return 0


def _country_line(s: dict[str, Any]) -> str:
    limits = s["default_speed_kph"]
    values = ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in limits.items())
    return f"country:      {s['country_name']} ({s['country']}; {s['country_source']}); default limits km/h: {values}"


def _clipped_line(s: dict[str, Any]) -> str:
    return (
        f"clipped:      {s['clipped_ways']} of {s['highway_ways']} highway ways reference nodes outside the file "
        f"({s['clipped_drivable_ways']} drivable): cut at the edge; {s['boundary_nodes']} boundary nodes"
    )


def _format_info(s: dict[str, Any]) -> str:
    lines = []
    if s["schematic"]:
        lines.append(
            "SCHEMATIC — not real geometry: no result on this network is a finding about a real city"
        )
    else:
        lines.append("Real OpenStreetMap network")
    lines.append(f"source:       {s['source']}")
    lines += [f"{k + ':':<14}{v}" for k, v in s.get("metadata", {}).items()]
    lines.append(f"fingerprint:  {s['fingerprint']}")
    lines.append(_country_line(s))
    if s["clipped_ways"] is not None:
        lines.append(_clipped_line(s))
    elif s["schematic"] and s["boundary_nodes"]:
        lines.append(
            f"cut:          a part of the schematic city: {s['boundary_nodes']} boundary nodes where its streets "
            "run on (traffic to, from and through the rest of the city enters and leaves there)"
        )
    lines.append(f"nodes:        {s['nodes']}")
    lines.append(f"links:        {s['links']} (directed)")
    lines.append(f"road length:  {s['length_km']:.2f} km (two-way roads counted once)")
    lines.append(f"signals:      {s['signals']} signalised nodes")
    by_type = ", ".join(f"{k} {v}" for k, v in s["crossings_by_type"].items()) or "none"
    lines.append(f"crossings:    {s['crossings']} ({by_type})")
    lines.append("km by road class:")
    lines += [f"  {k:<16}{v:10.2f}" for k, v in s["km_by_class"].items()]
    lines.append("km by speed limit:")
    total = s["length_km"] or 1.0
    lines += [f"  {k:>6.0f} km/h {v:10.2f}  ({v / total:6.1%})" for k, v in s["km_by_speed_limit"].items()]
    lines.append(f"defaulted (no usable OSM tag; {s['country_name']} default or class default used):")
    lines += [f"  {k:<16}{v:7.1%}" for k, v in s["defaulted_share"].items()]
    if s["maxspeed_none_ignored"]:
        lines.append(
            f"warning: {s['maxspeed_none_ignored']} links tagged maxspeed=none are no motorway/trunk; "
            "the tag was ignored and the country's default used"
        )
    return "\n".join(lines)


def _info(args: argparse.Namespace) -> int:
    from vision_zero.network.road_network import network_summary

    print(_format_info(network_summary(_load(args))))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from vision_zero.outputs.plot import plot_network

    check_output_file(Path(args.output), "-o")
    network = _load(args)
    path = plot_network(network, args.output)
    print(f"wrote {path} ({network.label})", file=sys.stdout)
    return 0
