"""Every ``--option`` a command's help names is one that command (or one of its subcommands) has."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from vision_zero.cli import build_parser


def _commands(
    parser: argparse.ArgumentParser, path: str = "vision-zero"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The options of ``parser`` and of every subcommand below it."""
    return {s for _path, p in _commands(parser) for a in p._actions for s in a.option_strings}


def test_help_names_only_options_that_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no option cut at a line's end
    unknown = {}
    for path, parser in _commands(build_parser()):
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", parser.format_help()))
        if named - _options(parser):
            unknown[path] = sorted(named - _options(parser))
    assert unknown == {}
