"""The traffic record alone: :func:`vision_zero.traffic.simulation.record_of` timed on a stored replication's traffic.

Run by hand from the repository, on a vehicle traffic a comparison stored (a traffic store's pickled
``(TRAFFIC_STORE_VERSION, VehicleTraffic)`` of the scenario's replication,
:func:`vision_zero.runs.pipeline._save_traffic`)::

    nice python benchmarks/bench_record.py scenarios/baseline.toml /tmp/store/<key>.pickle \
        --set demand.scale=1.0 --replication 0 --repeat 3 --save /tmp/record_before.pickle

    # the changed build, on the same traffic
    nice python benchmarks/bench_record.py scenarios/baseline.toml /tmp/store/<key>.pickle \
        --set demand.scale=1.0 --replication 0 --repeat 3 --check /tmp/record_before.pickle

It prepares the scenario (``--set KEY=VALUE``, repeatable, as ``vision-zero compare --set``), regenerates the
replication's trips and network exactly as :func:`vision_zero.runs.pipeline.run_replication` does (its random
streams, parameter draw, bindings and trips; not elastic demand: a baseline has none), loads the stored vehicles
(which must be that replication's), then calls ``record_of`` ``--repeat`` times (one untimed call first: numba's
cached kernels load) and prints the best and every call's CPU seconds (``time.process_time``), the load, and the
process's peak RSS before and after the first call (its rise: the record's peak memory above the inputs).
``--save`` pickles the record's tables (link stats, passages, trips, speed histogram, pedestrian demand, route
choice, stuck moves); ``--check`` compares them with a saved pickle exactly: the same columns in the same order,
the same dtypes and the same bits of every value (floats compared as their bytes, NaN included), to show that a
speed-up changed no result. ``--profile`` writes a cProfile of one more call.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vision_zero.cli._argtypes import parse_overrides
from vision_zero.runs.pipeline import prepare_file, replication_inputs
from vision_zero.traffic.simulation import TrafficRecord, VehicleTraffic, record_of

TABLES = ("link_stats", "passages", "trips", "speed_hist", "pedestrian_demand", "route_choice")


def _tables(record: TrafficRecord) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(record, name) for name in TABLES}
    out["stuck_moves"] = record.stuck_moves
    return out


def _column_bytes(s: pd.Series) -> tuple[str, bytes]:
    """A column's dtype and the bytes of its values (object and string columns: their items pickled)."""
    values = s.to_numpy()
    if values.dtype.kind in "biufcM":
        return str(s.dtype), np.ascontiguousarray(values).tobytes()
    return str(s.dtype), pickle.dumps(values.tolist(), protocol=pickle.HIGHEST_PROTOCOL)


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two records' tables, bit for bit (empty: identical)."""
    out: list[str] = []
    for name in (*TABLES, "stuck_moves"):
        x, y = a[name], b[name]
        if not isinstance(x, pd.DataFrame):
            if x != y:
                out.append(f"{name}: {x!r} != {y!r}")
            continue
        if list(x.columns) != list(y.columns):
            out.append(f"{name}: columns {list(x.columns)} != {list(y.columns)}")
            continue
        if len(x) != len(y) or not x.index.equals(y.index):
            out.append(f"{name}: {len(x)} rows != {len(y)} rows, or another index")
            continue
        for c in x.columns:
            dx, bx = _column_bytes(x[c])
            dy, by = _column_bytes(y[c])
            if dx != dy:
                out.append(f"{name}.{c}: dtype {dx} != {dy}")
            elif bx != by:
                out.append(f"{name}.{c}: values differ")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument(
        "traffic", type=Path, help="a stored (version, VehicleTraffic) pickle of that replication"
    )
    ap.add_argument("--replication", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--check", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    print(f"load at start: {os.getloadavg()}", flush=True)
    prepared = prepare_file(args.scenario, overrides=parse_overrides(args.overrides) or None)
    _, _, network, trips = replication_inputs(prepared, args.replication)
    if prepared.reference_cost_s is not None and prepared.cost_s is not None:
        sys.exit("elastic demand: the trips depend on the baseline's link stats; give a baseline scenario")
    with args.traffic.open("rb") as f:
        stored = pickle.load(f)
    vehicles = stored[1] if isinstance(stored, tuple) else stored
    if not isinstance(vehicles, VehicleTraffic):
        sys.exit(f"{args.traffic}: not a stored VehicleTraffic")
    if len(vehicles.veh.trip_vehicle) != len(trips):
        sys.exit(f"{args.traffic}: {len(vehicles.veh.trip_vehicle)} trips stored, {len(trips)} generated")

    def call() -> TrafficRecord:
        return record_of(network, trips, prepared.pedestrians, prepared.periods, vehicles)

    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = call()  # untimed: numba's cached kernels load
    rss_call_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu: list[float] = []
    for _ in range(args.repeat):
        t = time.process_time()
        record = call()
        cpu.append(time.process_time() - t)
    print(
        f"record_of: best {min(cpu):.2f} CPU-s of {args.repeat} ({', '.join(f'{c:.2f}' for c in cpu)}); "
        f"{len(trips):,} trips, {len(record.passages):,} passages; load at end: {os.getloadavg()}"
    )
    print(f"peak RSS: {rss_mib:,.0f} MiB before the first call, {rss_call_mib:,.0f} MiB after it")
    if args.profile is not None:
        prof = cProfile.Profile()
        prof.runcall(call)
        prof.dump_stats(str(args.profile))
        print(f"profile: {args.profile}")
    tables = _tables(record)
    if args.save is not None:
        with args.save.open("wb") as f:
            pickle.dump(tables, f, protocol=pickle.HIGHEST_PROTOCOL)
        print(f"saved: {args.save}")
    if args.check is not None:
        with args.check.open("rb") as f:
            saved = pickle.load(f)
        diff = _differences(saved, tables)
        if diff:
            print("check: DIFFERENT\n  " + "\n  ".join(diff))
            sys.exit(1)
        print(f"check: identical to {args.check} (every table, column order, dtype and bit)")


if __name__ == "__main__":
    main()
