"""``vision-zero run SCENARIO...``: run scenarios' replications (resumable, in parallel) and print a summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vision_zero.cli._argtypes import (
    LINK_EVENTS_HELP,
    add_command,
    add_link_events_option,
    add_precision_options,
    add_replications_option,
    add_set_option,
    check_output_folder,
    non_negative_int,
    parse_overrides,
    positive_int,
)

__all__ = ["add_execution_options", "register"]

_HELP = "run scenarios (replications in parallel, resumable) and print deaths/serious/slight per year"
_DESCRIPTION = """\
Run each scenario: network, interventions, demand, traffic simulation and crash-risk model for every
replication, in parallel. Results go to OUT/<scenario>/<run-id>/ (the resolved scenario, a manifest with the
package version, seed and network fingerprint, one folder per replication). Each replication is saved as soon as
it finishes: rerunning the same command after an interruption resumes where it stopped.

A variant (a scenario that extends a baseline) is calibrated with the baseline's replication of the same index
(common random numbers), so the baseline's replications are run (or reused from its run folder) first.
"""

_EPILOG = """\
examples:
  vision-zero run scenarios/baseline.toml scenarios/centre-30.toml --replications 10
  vision-zero run scenarios/arterials-80-to-60.toml --target-ci 20 --max-replications 100
  vision-zero run scenarios/centre-30.toml --dask tcp://10.0.0.5:8786
"""


def add_execution_options(p: argparse.ArgumentParser, *, replications_help: str) -> None:
    """Options shared by ``run`` and ``sweep``: replications, seed, output folder, executor."""
    add_replications_option(p, replications_help)
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=None,
        metavar="S",
        help="base seed (default: the scenario's own)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("results"), metavar="DIR", help="results folder (default: results/)"
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="local worker processes (default: all cores; 1 runs in this process); with --dask local: workers",
    )
    p.add_argument(
        "--dask",
        default=None,
        metavar="ADDR",
        help="run on Dask: 'local' starts a LocalCluster, or the scheduler address of a cluster (tcp://host:8786)",
    )
    add_set_option(
        p,
        "override a value of the resolved scenario, e.g. --set demand.scale=0.1 (repeatable); settings "
        "apply to the baseline too, interventions[...] keys only to the scenario",
    )
    p.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bars (they only show on a terminal anyway)"
    )


def register(subparsers: Any) -> None:
    """Add the ``run`` command."""
    p = add_command(subparsers, "run", _HELP, _DESCRIPTION, _EPILOG)
    p.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO", help="scenario TOML file(s)")
    add_execution_options(
        p,
        replications_help="replications per scenario (default: the scenario's own); with --target-ci: the minimum",
    )
    add_precision_options(
        p,
        target_help=(
            "add replications until the 95%% interval of the KSI difference against the baseline is narrower "
            "than PCT %% of its mean (a baseline alone: of its KSI); full width, so 40 means ±20%%. A variant "
            "whose difference is not told apart from 0 (its interval includes 0) and whose observed mean and "
            "spread need more than --max-replications stops there: more would not reach PCT"
        ),
        cap_help="the most replications --target-ci may use (default: 200)",
    )
    add_link_events_option(
        p, f"{LINK_EVENTS_HELP} (the scenarios named here, not a variant's baseline run only as its partner)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from vision_zero.core.process import freeze_heap
    from vision_zero.program.scenario import load_scenario
    from vision_zero.runs.jobs import scenario_job
    from vision_zero.runs.parallel import make_executor
    from vision_zero.runs.replications import run_job
    from vision_zero.runs.run_summary import format_summary

    freeze_heap()  # start-up done: the imported modules live until exit
    overrides = parse_overrides(args.overrides)
    for path in args.scenarios:  # cheap checks first: every file valid, the output folder writable …
        load_scenario(path, overrides=overrides or None)
    check_output_folder(args.out, "--out")
    # … then the executor (an unreachable Dask scheduler fails in seconds), then the expensive preparation
    with make_executor(workers=args.workers, dask=args.dask) as executor:
        networks: dict[str, Any] = {}  # each network source loaded once
        jobs = [
            scenario_job(p, seed=args.seed, overrides=overrides, networks=networks) for p in args.scenarios
        ]
        print(f"running {len(jobs)} scenario(s) on {executor.describe()}", file=sys.stderr)
        for job in jobs:
            run = run_job(
                job,
                out_dir=args.out,
                executor=executor,
                replications=args.replications,
                target_ci_pct=args.target_ci,
                max_replications=args.max_replications,
                progress=not args.quiet,
                link_events=args.link_events,
            )
            print(format_summary(run))
    return 0
