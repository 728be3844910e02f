"""Argument helpers shared by the commands.

Argument types turn a bad value into argparse's one-line usage error; ``print_group_help`` is what a command
group does when given no sub-command; the output checks run before any work, so that a result folder that cannot
be written fails in one line at once, not after the simulation.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vision_zero.core.errors import ConfigError

__all__ = [
    "check_output_file",
    "check_output_folder",
    "non_negative_int",
    "percent",
    "positive_int",
    "print_group_help",
]


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
        raise argparse.ArgumentTypeError(f"expected a percentage > 0 (got {text!r})")
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
