"""``vision-zero validate SCENARIO...`` and ``vision-zero scenario show SCENARIO``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vision_zero.cli._argtypes import add_group, add_set_option, parse_overrides

__all__ = ["register"]

_SET_HELP = (
    "override a value of the resolved scenario, e.g. --set simulation.replications=1 "
    "--set interventions[0].limit_kph=50 (TOML values; repeatable)"
)


def register(subparsers: Any) -> None:
    """Add ``validate`` and the ``scenario`` group (``scenario show``)."""
    validate = subparsers.add_parser(
        "validate",
        help="check scenario files without running them (schema, files, extends, selectors against the network)",
        description=(
            "Check each scenario file: keys, types and ranges, extends chain, referenced files, and that every "
            "intervention's selector matches something on the scenario's network. Every mistake of every file "
            "is listed (the same mistake shared by several files once), each with the file, the key path, what "
            "was expected and what was given; exit code 2 if there is any. Warnings (e.g. a new speed limit "
            "equal to the old one) do not fail."
        ),
        epilog="Example: vision-zero validate scenarios/*.toml",
    )
    validate.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files (TOML)")
    add_set_option(validate, _SET_HELP)
    validate.add_argument(
        "--schema-only", action="store_true", help="skip loading the network (selectors are not checked)"
    )
    validate.set_defaults(func=_validate)

    sub = add_group(
        subparsers,
        "scenario",
        help="show a scenario resolved (extends applied) and what each intervention selects",
        description="Inspect scenario files.",
        epilog="Example: vision-zero scenario show scenarios/centre-30.toml",
    )
    show = sub.add_parser(
        "show",
        help="print the resolved scenario, what each selector matched (counts, km), costs and economic values",
        description=(
            "Print the scenario with extends applied and defaults filled, then per intervention what its selector "
            "matched on the network (links, km, crossings, junctions) and its cost, then the economic values "
            "with their sources."
        ),
        epilog="Example: vision-zero scenario show scenarios/arterials-80-to-60.toml",
    )
    show.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    add_set_option(show, _SET_HELP)
    show.set_defaults(func=_show)


def _validate(args: argparse.Namespace) -> int:
    from vision_zero.core.errors import VisionZeroError, one_line
    from vision_zero.program.scenario import load_scenario
    from vision_zero.runs.preparation import load_base_network, prepare

    overrides = parse_overrides(args.overrides)
    failed = 0
    networks: dict[str, Any] = {}  # each network is loaded once for all the files
    printed: dict[str, list[str]] = {}  # message -> the files it was found in (printed once)

    def report(message: str, path: str) -> None:
        if message not in printed:
            print(f"vision-zero: error: {message}", file=sys.stderr)
        printed.setdefault(message, []).append(path)

    for path in args.scenarios:
        try:
            scenario = load_scenario(path, overrides=overrides)
            if args.schema_only:
                print(
                    f"ok (schema only): {path}: {scenario.name}, {len(scenario.interventions)} interventions"
                )
                continue
            source = scenario.network.cache_key
            if source not in networks:
                networks[source] = load_base_network(scenario)
            prepared = prepare(scenario, network=networks[source], calibrate_demand=False)
        except VisionZeroError as exc:
            for mistake in (exc, *getattr(exc, "more", ())):
                report(one_line(str(mistake)), path)
            failed += 1
            continue
        matched = (
            "; ".join(f"{a.title}: {a.selection.describe()}" for a in prepared.interventions)
            or "no interventions"
        )
        print(f"ok: {path}: {scenario.name} on {prepared.network.label} — {matched}")
        for a in prepared.interventions:
            for note in a.notes:
                print(
                    f"vision-zero: warning: {path}: interventions[{a.index}] ({a.title}): {note}",
                    file=sys.stderr,
                )
    for paths in printed.values():
        if len(paths) > 1:
            print(
                f"vision-zero: note: the same error for {len(paths)} files: {', '.join(paths)}",
                file=sys.stderr,
            )
    return 2 if failed else 0


def _show(args: argparse.Namespace) -> int:
    from vision_zero.program.scenario import load_scenario
    from vision_zero.runs.preparation import prepare

    scenario = load_scenario(args.scenario, overrides=parse_overrides(args.overrides))
    prepared = prepare(scenario)
    print(scenario.resolved_toml())
    print(f"# network: {prepared.network.label}")
    print(f"# baseline: {scenario.baseline_path}{' (this scenario)' if scenario.is_baseline else ''}")
    print(
        f"# daily trips simulated: {prepared.daily_trips:,.0f}; periods: {[p.name for p in prepared.periods]}"
    )
    print(
        f"# expected share of city veh-km: {prepared.network_share:.4f} "
        "(calibration scales the city's totals by each baseline replication's simulated veh-km)"
    )
    if prepared.interventions:
        print("#\n# interventions: what each selector matched, and its cost (money in economics currency)")
        for a in prepared.interventions:
            c = a.cost
            print(f"#  [{a.index}] {a.title}: {a.selection.describe()}")
            print(
                f"#      cost: {c.quantity:,.1f} {c.unit} x {c.unit_cost:,.0f} = {c.capital:,.0f} capital, "
                f"{c.annual:,.0f}/year, lifetime {c.lifetime_years:g} years"
            )
            print(f"#      cost source: {c.source}")
            for note in a.notes:
                print(f"#      warning: {note}")
    print("#\n# economic values")
    for line in _economics_lines(scenario):
        print(f"#  {line}")
    return 0


def _economics_lines(scenario: Any) -> list[str]:
    from vision_zero.appraisal.economics import Economics
    from vision_zero.core.parameters import load_parameters

    params = load_parameters(scenario.risk.parameters)
    econ = Economics.from_parameters(params).with_overrides(
        scenario.economics.overrides(), origin=str(scenario.path.name)
    )
    status = {
        "vsl": "economics.vsl",
        "serious_injury_value": "economics.serious_injury_vsl_share",
        "slight_injury_value": "economics.slight_injury_vsl_share",
        "value_of_time": "economics.value_of_time",
        "discount_rate": "economics.discount_rate",
        "horizon_years": "economics.horizon_years",
    }
    out = [f"currency = {econ.currency}"]
    for key, pname in status.items():
        value = getattr(econ, key)
        src = econ.sources.get(key, "")
        shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
        if src.startswith("set in"):
            out.append(f"{key} = {shown} ({src})")
        else:
            out.append(f"{key} = {shown} (default, {params[pname].status}: {src})")
    return out
