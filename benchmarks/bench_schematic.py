"""Build time and size of the schematic network ``schematic:almaty`` at each preset.

Run by hand, one process per scale so that peak memory is that scale's alone::

    for s in tiny small district city; do
        /usr/bin/time -v /work/venv/bin/python benchmarks/bench_schematic.py --scale $s 2>&1 \
            | grep -E '^\\{|Maximum resident'
    done

Prints one JSON line: nodes, edges, km of road (each two-way street counted once), signals, crossings,
the generator's wall time (``build_s``, imports excluded) and, with ``--load``, the time of
``vision_zero.network.road_network.load_network`` on the same source (generator + tag normalisation + tables).
"""

from __future__ import annotations

import argparse
import json
import time

from vision_zero.network.schematic import generate_schematic_graph


def main() -> None:
    """Build one schematic network and print its size and build time as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", default="city", help="preset (tiny, small, district, city) or area fraction"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--load", action="store_true", help="also time load_network on the same source")
    args = parser.parse_args()

    t0 = time.perf_counter()
    graph = generate_schematic_graph(scale=args.scale, seed=args.seed)
    build_s = time.perf_counter() - t0
    nodes = graph.nodes(data=True)
    out: dict[str, object] = {
        "source": graph.graph["source"],
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "road_km": round(
            sum(d["length"] * (1.0 if d["oneway"] else 0.5) for _, _, d in graph.edges(data=True)) / 1000, 1
        ),
        "signals": sum(d.get("highway") == "traffic_signals" for _, d in nodes),
        "crossings": sum("crossing" in d for _, d in nodes),
        "build_s": round(build_s, 3),
    }
    if args.load:
        from vision_zero.network.road_network import load_network

        t0 = time.perf_counter()
        network = load_network(graph.graph["source"])
        out["load_network_s"] = round(time.perf_counter() - t0, 3)
        out["links"] = len(network.links)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
