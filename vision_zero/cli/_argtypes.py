"""Argument helpers shared by the commands.

Argument types turn a bad value into argparse's one-line usage error; ``print_group_help`` is what a command
group does when given no sub-command.
"""

from __future__ import annotations

import argparse

__all__ = ["non_negative_int", "percent", "positive_int", "print_group_help"]


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
