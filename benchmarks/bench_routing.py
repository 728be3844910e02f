"""CPU of the shortest-route search alone: one replication's AM-peak trips routed under drivers' expected link times.

Two calls of :meth:`vision_zero.traffic.routing.Router.shortest` on the schematic city (or a preset), as the
equilibrium makes them: every trip at once (the first routes) and the trips of the first departure slice (one
tree set of a re-routing iteration). Prints CPU seconds, trees and ms per tree, peak RSS and ``/proc/loadavg``;
``--save`` writes the costs and routes (``.npz``) so that two trees of the code can be compared array for array.
For the whole replication phase by phase, see ``bench_city.py``.

    nice python benchmarks/bench_routing.py                    # full city (schematic:almaty)
    nice python benchmarks/bench_routing.py --scale district --save before.npz
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vision_zero.core.parameters import load_parameters
from vision_zero.core.seeding import replication_rngs
from vision_zero.network.road_network import load_network
from vision_zero.traffic import demand, simulation, trip_distribution
from vision_zero.traffic.routing import RouteChoiceSettings, Router


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="city", help="city, district, small, tiny (schematic:almaty presets)")
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--save", type=Path, default=None, help="write every call's costs and routes here (.npz)")
    args = ap.parse_args()
    load = Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "n/a"
    source = "schematic:almaty" if args.scale == "city" else f"schematic:almaty?scale={args.scale}"
    network = load_network(source)
    params = load_parameters()
    periods = tuple(p for p in demand.default_periods(params) if p.name == "am_peak")
    rngs = replication_rngs(args.seed, 0)
    dist = trip_distribution.trip_distribution(network, params)
    trips = demand.generate_trips(network, rng=rngs.demand, periods=periods, params=params, distribution=dist)
    o = trips["origin"].to_numpy(np.int64)
    d = trips["destination"].to_numpy(np.int64)
    first_slice = trips["depart_s"].to_numpy(np.float64) < RouteChoiceSettings.from_parameters(params).slice_s
    cost = simulation.expected_link_cost_s(network)
    router = Router(network)
    router.shortest(o[:1], d[:1], cost)  # load (or compile) the kernel outside the timing
    print(f"{source}: {len(network.links):,} links, {len(trips):,} AM-peak trips (seed {args.seed})")
    out: dict[str, np.ndarray] = {}
    for name, idx in (("all trips", np.arange(len(o))), ("first slice", np.flatnonzero(first_slice))):
        t0 = time.process_time()
        best, routes = router.shortest(o[idx], d[idx], cost)
        cpu = time.process_time() - t0
        trees = len(np.unique(o[idx]))
        print(
            f"{name:<12}{len(idx):>9,} trips {trees:>6,} trees {cpu:>8.2f} CPU-s {1e3 * cpu / trees:>7.2f} ms/tree"
        )
        key = name.replace(" ", "_")
        out |= {f"{key}_best": best, f"{key}_ptr": routes.ptr, f"{key}_links": routes.links.astype(np.int64)}
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"loadavg start: {load} | end: {Path('/proc/loadavg').read_text().strip()}")
    if args.save:
        np.savez(args.save, **out)


if __name__ == "__main__":
    main()
