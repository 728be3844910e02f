"""Replications per minute on 1 and 2 local workers and on a Dask LocalCluster; Dask's per-task overhead.

Run by hand (it takes minutes on the full city)::

    /work/venv/bin/python benchmarks/bench_replications.py --scale city --replications 4

Startup is the time to start the executor's worker processes (an empty task on each); the wall time of the
replications then includes importing the pipeline in each worker and shipping the prepared scenario to it.

It writes a baseline scenario on the schematic network of the given scale into a temporary folder, prepares it
once (network, interventions), then runs the same replications from scratch on each executor and prints a
Markdown table for ``benchmarks/README.md`` ("## Replications"). Every executor must give identical results
(checked: same KSI per replication). Dask's per-task overhead is measured twice: on the real replications
(wall time against the 2-worker process pool) and with empty tasks (scheduling and transfer only).
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vision_zero.runs.jobs import ScenarioJob, scenario_job
from vision_zero.runs.parallel import DaskExecutor, Executor, LocalPoolExecutor, SerialExecutor
from vision_zero.runs.replications import run_job

_BASELINE = """\
name = "bench-baseline"
description = "SCHEMATIC network: benchmark of the replication engine (not a finding about Almaty)"

[network]
source = "schematic:almaty?scale={scale}&seed=0"

[simulation]
replications = {replications}
seed = 1
"""


def noop(payload: Any, item: int) -> int:
    """An empty task: what is left is the executor's own cost."""
    return item


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the pool's or cluster's worker processes)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _time_run(ex: Executor, job: ScenarioJob, out: Path, n: int) -> tuple[float, list[tuple[float, float]]]:
    t0 = time.perf_counter()
    run = run_job(job, out_dir=out, executor=ex, replications=n, progress=False)
    return time.perf_counter() - t0, list(zip(run.values("ksi"), run.values("veh_km"), strict=True))


def _time_noop(ex: Executor, payload: Any, n: int) -> float:
    list(ex.map_unordered(noop, payload, list(range(2))))  # warm: workers started, payload shipped
    t0 = time.perf_counter()
    list(ex.map_unordered(noop, payload, list(range(n))))
    return (time.perf_counter() - t0) / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--scale", default="city", help="schematic scale: tiny, small, district, city or a number"
    )
    ap.add_argument("--replications", type=int, default=4)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--noop-tasks", type=int, default=200)
    ap.add_argument("--skip-serial", action="store_true", help="skip the in-process run")
    args = ap.parse_args()

    from vision_zero.program.scenario import parse_override

    overrides = dict(parse_override(t) for t in args.overrides)
    tmp = Path(tempfile.mkdtemp(prefix="bench-replications-"))
    scen = tmp / "baseline.toml"
    scen.write_text(_BASELINE.format(scale=args.scale, replications=args.replications), "utf-8")
    t0 = time.perf_counter()
    job = scenario_job(scen, overrides=overrides)
    prepare_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    payload_bytes = len(pickle.dumps(job.payload, protocol=pickle.HIGHEST_PROTOCOL))
    pickle_s = time.perf_counter() - t0
    n = args.replications
    print(
        f"network {job.network.source} ({job.network.label}); prepare {prepare_s:.1f} s; payload "
        f"{payload_bytes / 1e6:.1f} MB pickled in {pickle_s:.2f} s; {n} replications; {os.cpu_count()} CPUs",
        file=sys.stderr,
    )

    rows: list[tuple[str, float, float, float, float]] = []  # name, startup s, run s, reps/min, CPU s per rep
    ksi: dict[str, list[tuple[float, float]]] = {}
    noop_s: dict[str, float] = {}
    configs: list[tuple[str, Any]] = []
    if not args.skip_serial:
        configs.append(("serial, in process", lambda: SerialExecutor()))
    configs += [
        ("process pool, 1 worker", lambda: LocalPoolExecutor(workers=1)),
        ("process pool, 2 workers", lambda: LocalPoolExecutor(workers=2)),
        ("Dask LocalCluster, 2 workers x 1 thread", lambda: DaskExecutor("local", workers=2)),
    ]
    for name, make in configs:
        cpu0 = _cpu_s()
        t0 = time.perf_counter()
        ex = make()
        list(ex.map_unordered(noop, None, list(range(2 * ex.workers))))  # start the worker processes
        startup_s = time.perf_counter() - t0
        try:
            run_s, ksi[name] = _time_run(ex, job, tmp / name.replace(" ", "_").replace(",", ""), n)
            if not isinstance(ex, SerialExecutor):
                noop_s[name] = _time_noop(ex, job.payload, args.noop_tasks)
        finally:
            ex.close()
        time.sleep(1.0)  # let the closed workers be reaped, so their CPU time is counted
        cpu_per_rep = (_cpu_s() - cpu0) / n
        rows.append((name, startup_s, run_s, 60.0 * n / run_s, cpu_per_rep))
        print(
            f"{name}: startup {startup_s:.1f} s, {n} replications in {run_s:.1f} s, {cpu_per_rep:.1f} CPU s each",
            file=sys.stderr,
        )

    ref = next(iter(ksi.values()))
    same = all(v == ref for v in ksi.values())
    pool1 = next(r for r in rows if r[0] == "process pool, 1 worker")
    pool2 = next(r for r in rows if r[0] == "process pool, 2 workers")
    dask = next(r for r in rows if r[0].startswith("Dask"))

    print(
        f"\nNetwork: `{job.network.source}` ({job.network.label}); {n} replications per executor; "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}; prepare (load network) {prepare_s:.1f} s, "
        f"payload {payload_bytes / 1e6:.1f} MB pickled.\n"
    )
    print(
        "| executor | startup [s] | wall for the replications [s] | replications per minute "
        "| speed-up vs 1 worker | CPU s per replication (all processes) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, startup_s, run_s, rpm, cpu in rows:
        print(f"| {name} | {startup_s:.1f} | {run_s:.1f} | {rpm:.2f} | {pool1[2] / run_s:.2f} | {cpu:.1f} |")
    print()
    load = os.getloadavg()
    print(f"Identical KSI and vehicle-km per replication on every executor: {'yes' if same else 'NO'}.")
    print(f"Load average at the end (1/5/15 min): {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.")
    print(
        f"Dask overhead on the real replications: {(dask[2] - pool2[2]) / n:+.2f} s per replication "
        "(Dask wall minus 2-worker pool wall, divided by replications)."
    )
    for name, s in noop_s.items():
        print(
            f"Empty-task cost, {name}: {1000 * s:.2f} ms per task (throughput of {args.noop_tasks} empty tasks)."
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
