"""``vision-zero sweep SCENARIO --vary KEY=V1,V2,…``: a grid of variants against the baseline, and its response."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vision_zero.cli._argtypes import add_command, add_precision_options, check_output_folder, parse_overrides
from vision_zero.cli.run import add_execution_options

__all__ = ["register"]

_HELP = "run a grid of variants (--vary KEY=V1,V2,…) against the baseline; draw KSI avoided and delay"
_DESCRIPTION = """\
Run a grid of variants of one scenario against its baseline: each --vary sets one key of the scenario to each
of its values (several --vary options give every combination). Each variant is a scenario of its own (named
SCENARIO.<key>-<value>, with its run folder under OUT/), run with common random numbers against the baseline;
with --target-ci, each variant's pairs are added in rounds until its KSI avoided is as precise as asked (the
rule of run --target-ci).

Writes OUT/<scenario>/sweep-<id>/sweep.csv (one row per variant: the varied values, KSI avoided per year and
its change in percent, vehicle-hours of travel time added per year, with 95% intervals as the compare command
computes them (none below 3 paired replications), the paired replications for the KSI avoided interval within
± appraisal.ksi_precision_pct of its mean (± half of --target-ci when given, with where each variant stopped),
casualties per year) and sweep.png (the response curves). Key paths are checked against the scenario before
anything runs.
"""

_EPILOG = """\
examples:
  vision-zero sweep scenarios/centre-30.toml --vary interventions[0].limit_kph=20,30,40,50 -n 10
  vision-zero sweep scenarios/centre-30.toml --vary interventions[0].limit_kph=20,30,40 --target-ci 40
  vision-zero sweep scenarios/arterial-cameras.toml --vary interventions[1].mode=fixed,section \\
      --vary interventions[1].where.highway=primary,secondary
"""


def register(subparsers: Any) -> None:
    """Add the ``sweep`` command."""
    p = add_command(subparsers, "sweep", _HELP, _DESCRIPTION, _EPILOG)
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario file that extends a baseline")
    p.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="KEY=V1,V2,…",
        help="a key path of the scenario and the values to try, e.g. interventions[0].limit_kph=30,40,50",
    )
    add_execution_options(
        p,
        replications_help="replications per scenario (default: the scenario's own); with --target-ci: the minimum",
    )
    add_precision_options(
        p,
        target_help=(
            "add pairs (the variant's replications and its baseline's, same indices) in rounds until each "
            "variant's 95%% interval of KSI avoided is narrower than PCT %% of its mean: full width, so 40 means "
            "±20%% (the 'reps for ±20%%' column). Each variant stops on its own. A variant whose KSI avoided is "
            "not told apart from 0 (its interval includes 0) and whose observed mean and spread need more than "
            "--max-replications pairs stops there: more would not reach PCT"
        ),
        cap_help="the most pairs --target-ci may run per variant (default: 200)",
    )
    p.set_defaults(func=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vision_zero.appraisal.sweep import format_sweep, parse_vary, plan_sweep, run_sweep
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.parallel import make_executor
    from vision_zero.runs.run_summary import format_summary

    varies = [parse_vary(text) for text in args.vary]
    plan = plan_sweep(Path(args.scenario), varies, overrides=parse_overrides(args.overrides), seed=args.seed)
    check_output_folder(Path(args.out), "--out")

    def show(run: RunResult) -> None:
        print(format_summary(run))

    with make_executor(workers=args.workers, dask=args.dask) as executor:
        print(f"sweep: {len(plan.variants)} variant(s) on {executor.describe()}", file=sys.stderr)
        result = run_sweep(
            plan,
            out_dir=args.out,
            executor=executor,
            replications=args.replications,
            target_ci_pct=args.target_ci,
            max_replications=args.max_replications,
            progress=not args.quiet,
            on_variant=show,
        )
    print()
    if result.schematic:
        print("SCHEMATIC network: not real geometry; no result here is a finding about Almaty")
    print(format_sweep(result.table, varies))
    print(f"wrote {result.csv_path}")
    print(f"wrote {result.png_path}")
    return 0
