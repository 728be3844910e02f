"""The tornado alone: :func:`vision_zero.runs.sensitivity.risk_sensitivity` timed on a comparison's stored traffic.

Run by hand from the repository, after a comparison has stored its replications (e.g. ``vision-zero compare
scenarios/baseline.toml scenarios/vision-zero-package.toml --set demand.scale=1.0 -n 1 --results /tmp/runs``)::

    nice python benchmarks/bench_sensitivity.py scenarios/baseline.toml scenarios/vision-zero-package.toml \
        --set demand.scale=1.0 -n 1 --results /tmp/runs --save /tmp/tornado_before.pickle [--profile /tmp/t.prof]

It finds the comparison's replications in ``--results`` (the same ``--set`` and ``-n`` as the comparison: nothing is
simulated when they are there; but a run folder's id includes the code's fingerprint, so to time another build of the
code on the same traffic name the folders with ``--run-dirs``), then runs the risk stage's re-runs in this process (serial executor), as
``compare`` does after the replications, and prints the CPU seconds of the whole call, the calls and CPU seconds of
each road-user model, of the CMF factors, of the calibration and of reading the stored tables, and the load.
``--save`` pickles the sensitivity tables; ``--check`` compares them with a saved pickle, exactly (the bits of
every float), to show that a speed-up changed no result. ``--profile`` writes a cProfile of the call.

``--workers N`` (N >= 2) runs the call on a local process pool of N workers instead, the path ``compare --workers N``
takes (:func:`vision_zero.runs.parallel.make_executor`, one task per pair): the pool is started first with a task
per worker that imports the package (as the compare's pool, which ran the replications, is up when its tornado
starts; timed apart), then the call is timed: wall, this process's CPU seconds and each worker's (from
``/proc/<pid>/stat``), each worker's peak RSS, and the load. The per-model tallies are this process's only, so
they are not printed then. Run it under ``py-spy record --subprocesses`` to see where the workers' time goes.
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

import pandas as pd

from vision_zero.appraisal.study import _runs_from, compare_scenarios, scenario_traffic
from vision_zero.cli._argtypes import parse_overrides
from vision_zero.core.parameters import ParameterSet
from vision_zero.core.process import own_process
from vision_zero.risk import crash_model
from vision_zero.runs import sensitivity
from vision_zero.runs.jobs import scenario_job, scenario_view
from vision_zero.runs.parallel import LocalPoolExecutor, SerialExecutor, make_executor
from vision_zero.runs.results import completed_replications, read_replication, replication_dir
from vision_zero.runs.sensitivity import ScenarioTraffic


def _timed(owner: Any, name: str, tally: dict[str, list[float]], label: str | None = None) -> None:
    """Wrap ``owner.name`` so that each call adds its CPU seconds and one call to ``tally[label or name]``."""
    inner = getattr(owner, name)
    key = label or name
    tally[key] = [0.0, 0.0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            tally[key][0] += time.process_time() - t
            tally[key][1] += 1

    setattr(owner, name, wrapper)


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> bool:
    if set(a) != set(b):
        return False
    for k in a:
        try:
            pd.testing.assert_frame_equal(a[k], b[k], check_exact=True)
        except AssertionError as exc:
            print(f"{k}: differs: {exc}")
            return False
    return True


def stored_runs_parser(description: str) -> argparse.ArgumentParser:
    """The arguments that name a comparison's stored replications (read by :func:`_traffic`); bench_nested's too."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("baseline", type=Path)
    ap.add_argument("variants", type=Path, nargs="+")
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument(
        "--run-dirs",
        type=Path,
        nargs="+",
        default=None,
        help="read the replications from these run folders (one per scenario, the baseline's first) instead of "
        "finding the comparison's in --results: a changed code has another run id",
    )
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("-n", "--replications", type=int, default=None)
    return ap


def _parser() -> argparse.ArgumentParser:
    ap = stored_runs_parser(__doc__.split("\n")[0])
    ap.add_argument("--save", type=Path, default=None, help="pickle the sensitivity tables here")
    ap.add_argument("--check", type=Path, default=None, help="compare the tables with this pickle, exactly")
    ap.add_argument("--profile", type=Path, default=None, help="write a cProfile of risk_sensitivity here")
    ap.add_argument(
        "--repeat", type=int, default=1, help="time the call this many times (tables of the last)"
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the call on a local process pool of this many workers, as compare --workers does (default: 1, "
        "serial in this process with the per-model tallies)",
    )
    return ap


def _traffic(args: argparse.Namespace) -> tuple[list[ScenarioTraffic], ParameterSet]:
    """The scenarios' stored traffic (:func:`scenario_traffic`) and the baseline's parameters."""
    overrides = parse_overrides(args.overrides)
    seed = None
    views = []
    for p in (args.baseline, *args.variants):
        job = scenario_job(p, seed=seed, overrides=overrides, lazy=True)
        seed = job.seed if seed is None else seed
        views.append(scenario_view(job))
    if args.run_dirs:  # the runs of another build of the code (a run folder's id has the code's fingerprint)
        if len(args.run_dirs) != len(views):
            raise SystemExit("--run-dirs: one run folder per scenario, the baseline's first")
        inputs = []
        for view, run_dir in zip(views, args.run_dirs, strict=True):
            done = completed_replications(run_dir)[: args.replications]
            reps = [read_replication(replication_dir(run_dir, i)) for i in done]
            inputs.append(_runs_from(view, reps, run_dir))
    else:
        _, inputs = compare_scenarios(
            args.baseline,
            args.variants,
            results_dir=args.results,
            replications=args.replications,
            overrides=overrides,
            executor=SerialExecutor(),
            progress=False,
            sensitivity=False,
        )
    traffic = [scenario_traffic(v, i.runs) for v, i in zip(views, inputs, strict=True)]
    for t in traffic:
        print(f"{t.applied.name}: replications {[r.replication for r in t.replications]}", flush=True)
    return traffic, inputs[0].parameters


def _run(
    args: argparse.Namespace, traffic: list[ScenarioTraffic], params: ParameterSet
) -> dict[str, pd.DataFrame]:
    """Time risk_sensitivity ``--repeat`` times (serial executor), the road-user models and steps it calls."""
    tally: dict[str, list[float]] = {}
    for name in (
        "occupant_injuries",
        "crossing_injuries",
        "injuries_away_from_crossings",
        "injuries_on_streets",
    ):
        _timed(crash_model, name, tally)
    for name in ("apply_modifiers", "calibration_factors", "calibration_targets", "read_traffic_tables"):
        _timed(sensitivity, name, tally)
    tables: dict[str, pd.DataFrame] = {}
    for r in range(args.repeat):
        for v in tally.values():
            v[:] = [0.0, 0.0]
        prof = cProfile.Profile() if args.profile is not None and r == args.repeat - 1 else None
        t0, w0 = time.process_time(), time.perf_counter()
        if prof is not None:
            prof.enable()
        tables = sensitivity.risk_sensitivity(traffic[0], traffic[1:], params, executor=SerialExecutor())
        if prof is not None:
            prof.disable()
            prof.dump_stats(str(args.profile))
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        print(f"risk_sensitivity: {cpu:.2f} CPU-s, {wall:.2f} s wall, load {os.getloadavg()}", flush=True)
        for name, (secs, calls) in tally.items():
            print(f"  {name:32s} {int(calls):6d} calls {secs:8.2f} CPU-s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of the process: {peak:.2f} GiB")
    return tables


def _started(_payload: object, _item: int) -> int:
    """A pool task that only starts its worker (the package's imports, in the worker): its process id."""
    time.sleep(0.2)  # so that the first worker up does not take every start task
    return os.getpid()


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_peak_gib(pid: int) -> float:
    """Peak resident memory of a live process [GiB], from ``/proc/<pid>/status`` (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def _run_pool(
    args: argparse.Namespace, traffic: list[ScenarioTraffic], params: ParameterSet
) -> dict[str, pd.DataFrame]:
    """Time risk_sensitivity ``--repeat`` times on the pool ``compare --workers`` makes (tables of the last)."""
    tables: dict[str, pd.DataFrame] = {}
    with make_executor(workers=args.workers) as ex:
        if not isinstance(ex, LocalPoolExecutor):
            raise SystemExit(f"--workers {args.workers}: no process pool on this machine ({ex.describe()})")
        w0, c0 = time.perf_counter(), time.process_time()
        pids: set[int] = set()
        while len(pids) < ex.workers:
            pids |= {pid for _, pid in ex.map_unordered(_started, None, range(ex.workers))}
        print(
            f"pool started ({ex.describe()}): {time.perf_counter() - w0:.2f} s wall, this process "
            f"{time.process_time() - c0:.2f} CPU-s, workers {sum(_proc_cpu_s(p) for p in pids):.2f} CPU-s",
            flush=True,
        )
        for _ in range(args.repeat):
            before = {p: _proc_cpu_s(p) for p in pids}
            load = Path("/proc/loadavg").read_text().split()[:3]
            w0, c0 = time.perf_counter(), time.process_time()
            tables = sensitivity.risk_sensitivity(traffic[0], traffic[1:], params, executor=ex)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            workers = {p: _proc_cpu_s(p) - before[p] for p in pids}
            print(
                f"risk_sensitivity on the pool: {wall:.2f} s wall, this process {cpu:.2f} CPU-s, workers "
                f"{sum(workers.values()):.2f} CPU-s ({', '.join(f'{v:.1f}' for v in workers.values())}), "
                f"load {' '.join(load)} -> {' '.join(Path('/proc/loadavg').read_text().split()[:3])}",
                flush=True,
            )
        peaks = ", ".join(f"{_proc_peak_gib(p):.2f}" for p in sorted(pids))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS: this process {peak:.2f} GiB, workers {peaks} GiB")
    return tables


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    own_process()  # a program, as a pool worker: freed memory goes back between a pair's scenarios
    print(f"load at start: {os.getloadavg()}", flush=True)
    tables = _run(args, *_traffic(args)) if args.workers < 2 else _run_pool(args, *_traffic(args))
    for name, frame in tables.items():
        print(f"{name}: {len(frame)} parameters; largest swings:")
        print(frame.head(5).to_string(index=False))
    if args.save is not None:
        with args.save.open("wb") as f:
            pickle.dump(tables, f)
    if args.check is not None:
        with args.check.open("rb") as f:
            saved = pickle.load(f)
        same = _same(saved, tables)
        print("tables identical to", args.check, "(exact)" if same else "DIFFER")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
