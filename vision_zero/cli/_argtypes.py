"""Argument helpers shared by the commands.

Argument types turn a bad value into argparse's one-line usage error; ``print_group_help`` is what a command
group does when given no sub-command; the output checks run before any work, so that a result folder that cannot
be written fails in one line at once, not after the simulation.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from vision_zero.core.errors import ConfigError

__all__ = [
    "LINK_EVENTS_HELP",
    "add_command",
    "add_group",
    "add_link_events_option",
    "add_precision_options",
    "add_replications_option",
    "add_set_option",
    "check_output_file",
    "check_output_folder",
    "non_negative_int",
    "parse_overrides",
    "percent",
    "positive_int",
    "print_group_help",
]


def add_command(
    subparsers: Any, name: str, help: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """A command (or sub-command) whose description and examples are printed as written."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def add_group(subparsers: Any, name: str, *, help: str, description: str, epilog: str) -> Any:
    """A command group; returns its sub-parsers. Without a sub-command it prints its help (``print_group_help``)."""
    group: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description, epilog=epilog
    )
    sub = group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
    group.set_defaults(func=lambda _args: print_group_help(group))
    return sub


def add_link_events_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--link-events`` (a switch, off by default): replications also write ``link_events.parquet``."""
    parser.add_argument("--link-events", action="store_true", help=help)


#: What ``--link-events`` writes and how large it gets (the one text for ``run`` and ``compare``).
LINK_EVENTS_HELP = (
    "also write link_events.parquet into each replication folder: one row per vehicle and link entered "
    "(period, vehicle, size_veh, link, enter_s, run_end_s, exit_s; seconds from the period's start), e.g. for "
    "time-space diagrams; results are identical with or without it. Size: about 28 bytes per link entry, "
    "12 MB per replication for the example programs (district, a tenth of the demand: 446k link entries), ten "
    "times that at full demand"
)


def add_replications_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--replications/-n N`` (a whole number >= 1; default None: the scenario files decide)."""
    parser.add_argument("--replications", "-n", type=positive_int, default=None, metavar="N", help=help)


def add_precision_options(parser: argparse.ArgumentParser, *, target_help: str, cap_help: str) -> None:
    """``--target-ci PCT`` and ``--max-replications M``: the stopping rule of ``run``, ``compare`` and ``sweep``.

    PCT a percentage (default None: a fixed number of replications), M a whole number >= 1 (default 200); the rule
    is :func:`vision_zero.runs.stopping.rounds_to_precision`.
    """
    parser.add_argument("--target-ci", type=percent, default=None, metavar="PCT", help=target_help)
    parser.add_argument("--max-replications", type=positive_int, default=200, metavar="M", help=cap_help)


def add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``overrides``; :func:`parse_overrides` reads them."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )


def parse_overrides(texts: list[str]) -> dict[str, Any]:
    """``["demand.scale=0.1", …]`` → ``{"demand.scale": 0.1, …}`` (values are TOML literals or text)."""
    from vision_zero.program.scenario import parse_override

    return dict(parse_override(t) for t in texts)


def _whole_number(text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum} (got {text!r})") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum} (got {text!r})")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1 (replications, workers)."""
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (seeds)."""
    return _whole_number(text, minimum=0)


def percent(text: str) -> float:
    """A percentage > 0, with or without a trailing ``%``."""
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage such as 20 (got {text!r})") from None
    if not 0 < value < 1000:
        raise argparse.ArgumentTypeError(f"expected a percentage > 0 and < 1000 (got {text!r})")
    return value


def print_group_help(parser: argparse.ArgumentParser) -> int:
    """What a command group does when called without a sub-command: show its help, exit code 2."""
    parser.print_help()
    return 2


def _probe_folder(path: Path, option: str) -> None:
    """Create ``path`` (and its parents) if needed and write and delete a file in it, or a ConfigError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{option} {path}: expected a folder this user can write to ({exc.strerror or exc})"
        ) from None


def check_output_folder(path: Path, option: str) -> None:
    """Refuse an output folder that is a file or cannot be written, before any work (``--out``)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: expected a folder (it is a file)")
    _probe_folder(path, option)


def check_output_file(path: Path, option: str) -> None:
    """Refuse an output file that is a folder or whose folder cannot be written, before any work (``-o``)."""
    if path.is_dir():
        raise ConfigError(f"{option} {path}: expected a file name (it is a folder)")
    _probe_folder(path.parent if str(path.parent) else Path("."), option)
