"""``vision-zero compare BASELINE VARIANT...``: paired comparison, table, charts, maps, report, GeoPackage."""

from __future__ import annotations

import argparse
import sys
import time
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
    positive_int,
)

__all__ = ["register"]

_HELP = "compare variants with a baseline: table, charts, maps, report.html, links.gpkg"
_DESCRIPTION = """\
Compare variants with a baseline, replication by replication (common random numbers): deaths, serious and
slight injuries per year with 95% intervals, KSI avoided (by road user), the probability of fewer KSI, travel
time added and its money value, intervention costs, monetised safety benefits, NPV and benefit-cost ratio.

Runs that are already in the results folder are reused; missing replications are run (and resumed after an
interruption); with --target-ci, pairs are added in rounds until each variant's KSI avoided is as precise as
asked. Writes to OUT: comparison/scenarios/headline/pairs tables (CSV + Parquet), charts and maps (PNG),
links.gpkg (QGIS) and report.html (one self-contained file). Prints the table.
"""

_EPILOG = """\
examples:
  vision-zero compare scenarios/baseline.toml scenarios/*.toml
  vision-zero compare scenarios/baseline.toml scenarios/centre-30.toml --replications 10 --lang ru
  vision-zero compare scenarios/baseline.toml scenarios/*.toml --target-ci 40 --max-replications 50
"""


def register(subparsers: Any) -> None:
    """Add the ``compare`` command."""
    p = add_command(subparsers, "compare", _HELP, _DESCRIPTION, _EPILOG)
    p.add_argument("baseline", type=Path, metavar="BASELINE", help="the baseline scenario file")
    p.add_argument(
        "variants",
        nargs="+",
        type=Path,
        metavar="VARIANT",
        help="variant scenario files (the baseline itself is skipped if listed again)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: RESULTS/compare-<names>/, see --results)",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        metavar="DIR",
        help="where scenario runs are found or written (default: results/)",
    )
    p.add_argument(
        "--lang", choices=("en", "ru", "kk"), default="en", help="language of charts and report (default: en)"
    )
    add_replications_option(
        p,
        "replications per scenario (default: the most any of the scenario files asks for); with --target-ci: "
        "the first round",
    )
    add_precision_options(
        p,
        target_help=(
            "run pairs (the baseline and every variant, same replication indices) in rounds until each variant's "
            "95%% interval of KSI avoided is narrower than PCT %% of its mean: full width, so 40 means ±20%% "
            "(the 'reps for ±20%%' column). Rounds start at 3 pairs (or -n); the next round has the pairs the "
            "slowest variant's mean and spread need by the Student t (that column's rule; at most double). A variant stops when it reaches PCT; the others go on. A variant whose KSI "
            "avoided is not told apart from 0 (its interval includes 0) can need any number of pairs: it "
            "stops as soon as the pairs its observed mean and spread need exceed --max-replications, because "
            "more rounds would not reach PCT and only cost time; the terminal and report.html say which "
            "variants did not reach PCT and how many pairs they would need"
        ),
        cap_help="the most pairs --target-ci may run (default: 200)",
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=None, metavar="S", help="base seed for every scenario"
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="local worker processes (default: all cores; 1 runs in this process)",
    )
    p.add_argument(
        "--dask",
        default=None,
        metavar="ADDR",
        help="run missing replications on Dask ('local' or tcp://host:8786)",
    )
    add_set_option(p, "override a setting of every scenario, e.g. --set demand.scale=0.1 (repeatable)")
    add_link_events_option(p, f"{LINK_EVENTS_HELP} (every scenario)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from vision_zero.appraisal.compare_text import format_table
    from vision_zero.appraisal.study import compare_scenarios
    from vision_zero.core.i18n import ntext
    from vision_zero.core.parameters import load_parameters
    from vision_zero.outputs.plot import network_label
    from vision_zero.outputs.report import coverage_text
    from vision_zero.outputs.write import coverage, default_out_dir, language_dir, write_outputs
    from vision_zero.program.scenario import parse_override
    from vision_zero.runs.parallel import make_executor

    overrides = dict(parse_override(item) for item in args.overrides)
    check_output_folder(Path(args.results), "--results")
    if args.out is not None:
        check_output_folder(Path(args.out), "--out")
    start = time.perf_counter()
    with make_executor(workers=args.workers, dask=args.dask) as executor:
        comparison, inputs = compare_scenarios(
            args.baseline,
            args.variants,
            results_dir=args.results,
            replications=args.replications,
            seed=args.seed,
            overrides=overrides or None,
            executor=executor,
            progress=not args.quiet,
            link_events=args.link_events,
            target_ci_pct=args.target_ci,
            max_replications=args.max_replications,
        )
    if not comparison.variants:
        print(
            "vision-zero: note: no variant besides the baseline was given; nothing to compare",
            file=sys.stderr,
        )
        return 2
    out = args.out or default_out_dir([i.runs.name for i in inputs], root=args.results)
    paths = write_outputs(comparison, inputs, out, lang=args.lang)
    base = inputs[0]
    params = base.parameters if len(base.parameters) else load_parameters()
    cover = coverage_text(coverage(comparison, base.network, params), args.lang)
    print(
        format_table(
            comparison, label=network_label(base.network.label, args.lang), lang=args.lang, coverage=cover
        )
    )
    from vision_zero.runs.run_summary import format_peak_calibration, run_warnings

    peak = format_peak_calibration([r.summary for r in base.runs.replications], args.lang)
    if peak:  # the baseline's, as the report shows it
        print(f"\n{base.runs.name}: {peak}")
    for i in inputs:
        for warning in run_warnings(i.runs.name, [r.summary for r in i.runs.replications], args.lang):
            print(f"\n{warning}")
    if "ksi_split" in paths:
        import pandas as pd

        from vision_zero.appraisal.ksi_split import format_split

        print()
        print(format_split(pd.read_csv(paths["ksi_split"]), lang=args.lang))
    print()
    print(
        ntext(
            "written_to",
            len(paths),
            args.lang,
            out=out,
            report=language_dir(out, args.lang) / "report.html",
        )
    )
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0
