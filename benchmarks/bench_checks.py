"""What the reliability checks cost a normal run: each check timed against one replication of the README example.

Run by hand (about a minute; ``--scenario`` defaults to the README's ``scenarios/centre-30.toml``)::

    PYTHONPATH=. MPLBACKEND=Agg .venv/bin/python benchmarks/bench_checks.py

Checks once per run: validating the scenario files before the executor starts (the extra load in ``run``), the
network's table checks (:func:`vision_zero.network.road_network.check_tables`), the output folder probe and the
sweep of stale payload folders. Checks once per replication: the list of files with sizes and SHA-256 written
into its folder, and checking it again when a later run resumes (:func:`vision_zero.runs.results.replication_problem`).
The replication is the real pipeline (:func:`vision_zero.runs.pipeline.run_replication`), timed once in CPU time
(so that a loaded machine does not flatter the ratio); the checks are timed as the best of ``--repeat`` runs. Prints the times and the overhead in percent of one replication.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vision_zero.cli._argtypes import check_output_folder
from vision_zero.network.road_network import check_tables
from vision_zero.program.scenario import load_scenario
from vision_zero.runs import pipeline
from vision_zero.runs.parallel import sweep_stale_payload_folders
from vision_zero.runs.results import _file_list, replication_problem, write_replication


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Time the checks and one replication; print a table and the overhead."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/centre-30.toml"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    scenario = load_scenario(args.scenario)
    prepared = pipeline.prepare(scenario)
    net = prepared.network
    start, cpu = time.perf_counter(), time.process_time()
    result = pipeline.run_replication(prepared, 0)
    wall_s = time.perf_counter() - start
    replication_s = time.process_time() - cpu  # CPU time: the machine's load does not inflate it

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_replication(Path(tmp), result)
        size = sum(f.stat().st_size for f in folder.iterdir())
        per_run = {
            "validate scenario before the executor (load_scenario)": _best(
                lambda: load_scenario(args.scenario), args.repeat
            ),
            "network table checks (check_tables)": _best(
                lambda: check_tables("bench", net.nodes, net.links, max_speed_kph=160.0), args.repeat
            ),
            "output folder probe (check_output_folder)": _best(
                lambda: check_output_folder(Path(tmp) / "out", "--out"), args.repeat
            ),
            "sweep of stale payload folders": _best(sweep_stale_payload_folders, args.repeat),
        }
        per_replication = {
            f"files.json: sizes + SHA-256 of {size / 1e6:.2f} MB": _best(
                lambda: _file_list(folder), args.repeat
            ),
            "check on resume (replication_problem)": _best(lambda: replication_problem(folder), args.repeat),
        }
    print(f"scenario {args.scenario}: {len(net.links)} links; load {os.getloadavg()[0]:.1f} (1-min average)")
    print(f"one replication: {replication_s:.2f} s CPU ({wall_s:.2f} s wall); checks in % of its CPU time\n")
    print("| check | once per | time [ms] | % of one replication |\n|---|---|---:|---:|")
    for label, group in (("run", per_run), ("replication", per_replication)):
        for name, sec in group.items():
            print(f"| {name} | {label} | {1e3 * sec:.2f} | {100 * sec / replication_s:.3f} |")
    total = sum(per_run.values()) + sum(per_replication.values())
    print(
        f"\nall checks of a one-replication run: {1e3 * total:.1f} ms = {100 * total / replication_s:.3f}% of it"
    )


if __name__ == "__main__":
    main()
