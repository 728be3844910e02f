"""A variant's replication against its paired baseline's, phase by phase: where its route choice's CPU goes.

Run by hand from the repository (minutes on the district)::

    nice python benchmarks/bench_variant.py scenarios/baseline.toml scenarios/centre-30.toml \
        scenarios/arterials-80-to-60.toml --replication 0 --baseline-cache /tmp/base0.pickle

At full demand (about 15 minutes; the baseline replication ~150 CPU-s once, then each variant)::

    nice python benchmarks/bench_variant.py scenarios/baseline.toml scenarios/vision-zero-package.toml \
        --set demand.scale=1.0 --replication 0 --baseline-cache /tmp/base0_full.pickle

It prepares the scenarios, runs the baseline's replication (or loads it from ``--baseline-cache``, written on
the first run: the variants of two code versions can then be timed on the same baseline), then each variant's
replication as a comparison does (the baseline's held routes, link statistics and calibration), one after the
other in one process, as a pool worker runs them. It prints each variant replication's CPU seconds, the CPU and
calls of the shortest-route searches (the band search after each simulation, elastic demand's trip times under
the baseline's and the variant's costs), the route-choice log (trees, switchers, drivers outside their band,
gap), the CPU of each phase (the simulations, the band search's trees, the forgone savings of held routes,
elastic demand, the congestion index, the record and the risk model), the variant's KSI per year and a SHA-256 of
its injuries and link traffic tables (to check that two code versions give the same results bit for bit).
``--set KEY=VALUE`` (repeatable) overrides a key of every scenario, as ``vision-zero compare --set`` does (e.g.
``demand.scale=1.0``); a baseline cache is only valid for the overrides it was written with. ``--landmarks N``
sets the band search's landmarks (:data:`vision_zero.traffic._router.LANDMARKS`; 0: none, as before them). State the machine
load (printed) beside any figure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from vision_zero.cli._argtypes import parse_overrides
from vision_zero.risk import crash_model
from vision_zero.runs.pipeline import prepare_file, run_replication
from vision_zero.traffic import (
    _band_phase,
    _network_loading,
    _route_choice,
    _router,
    _vehicles,
    demand,
    routing,
    simulation,
)


def _timed(owner: Any, name: str, tally: dict[str, list[float]]) -> None:
    """Wrap ``owner.name`` so that each call adds its CPU seconds and one call to ``tally[name]``."""
    inner = getattr(owner, name)
    tally[name] = [0.0, 0.0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            tally[name][0] += time.process_time() - t
            tally[name][1] += 1

    setattr(owner, name, wrapper)


def _digest(*tables: pd.DataFrame) -> str:
    """SHA-256 (first 16 hex digits) of the tables' values and index, in order."""
    h = hashlib.sha256()
    for t in tables:
        h.update(pd.util.hash_pandas_object(t, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("baseline", type=Path)
    ap.add_argument("variants", type=Path, nargs="+")
    ap.add_argument("--replication", type=int, default=0)
    ap.add_argument("--baseline-cache", type=Path, default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument(
        "--landmarks",
        type=int,
        default=None,
        help="landmarks of the band search's lower bounds (_router.LANDMARKS; 0 = none, the search before them)",
    )
    args = ap.parse_args(argv)
    if args.landmarks is not None:
        _router.LANDMARKS = args.landmarks
    overrides = parse_overrides(args.overrides) or None
    print(f"load at start: {os.getloadavg()}", flush=True)
    logs: list[Any] = []
    sim = simulation.simulate_vehicles

    def simulate_vehicles(*a: Any, **k: Any) -> Any:
        out = sim(*a, **k)
        logs.append(out.route_choice)
        return out

    simulation.simulate_vehicles = simulate_vehicles  # type: ignore[assignment]
    base = prepare_file(args.baseline, overrides=overrides)
    cache = args.baseline_cache
    if cache is not None and cache.is_file():
        with cache.open("rb") as f:
            b = pickle.load(f)
    else:
        t = time.process_time()
        b = run_replication(base, args.replication)
        print(f"baseline replication: {time.process_time() - t:.1f} CPU-s")
        if cache is not None:
            with cache.open("wb") as f:
                pickle.dump(b, f, protocol=pickle.HIGHEST_PROTOCOL)
    keys = ("ksi", "trips", "route_", "congestion")
    print(
        "baseline:", {k: round(val, 6) for k, val in b.summary.items() if any(w in k.lower() for w in keys)}
    )
    for log in logs:  # the baseline replication's route choice (not when loaded from --baseline-cache)
        print(log.to_string())
    tally: dict[str, list[float]] = {}
    _timed(routing.Router, "shortest", tally)
    _timed(demand, "od_travel_time_s", tally)
    for owner in (_route_choice, _band_phase, _vehicles):  # every module that calls it
        _timed(owner, "best_routes", tally)  # the route choice's searches after each simulation
    _timed(_network_loading, "_simulate_once", tally)  # one simulation of every period (the event loop)
    _timed(_network_loading, "_slice_costs", tally)
    _timed(routing.HeldRoutes, "forgone", tally)  # held routes' forgone savings (their own trees)
    _timed(demand, "elastic_trips", tally)
    _timed(simulation, "record_of", tally)
    _timed(crash_model, "estimate", tally)
    _timed(demand, "congestion_index", tally)
    stats = b.traffic["traffic_link_stats"][["link", "period", "veh_km", "veh_h"]]
    for (
        path
    ) in args.variants:  # in one process: a later variant reuses what an earlier one left (the same baseline)
        var = prepare_file(path, overrides=overrides)
        for entry in tally.values():
            entry[:] = [0.0, 0.0]
        logs.clear()
        t = time.process_time()
        v = run_replication(
            var,
            args.replication,
            baseline_draws=b.risk_draws,
            baseline_routes=b.routes,
            baseline_link_stats=stats,
        )
        cpu = time.process_time() - t
        print(f"{path.name} replication {args.replication}: {cpu:.1f} CPU-s; load at end: {os.getloadavg()}")
        for name, (s, n) in tally.items():
            print(f"  {name}: {s:.1f} CPU-s in {n:.0f} calls")
        for log in logs:
            print(log.to_string())
        print({k: round(val, 6) for k, val in v.summary.items() if any(w in k.lower() for w in keys)})
        print(f"  ksi {v.summary['ksi']!r}; digest {_digest(v.injuries, v.link_traffic)}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
