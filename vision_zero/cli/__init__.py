"""The ``vision-zero`` command: parses arguments and calls the library, nothing more.

Each command group lives in its own module here with a ``register(subparsers)`` function that adds its
sub-commands; each sub-command sets ``func`` to a callable taking the parsed ``argparse.Namespace`` and returning
an exit code. Heavy libraries are imported inside those callables so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from vision_zero.core.errors import VisionZeroError, one_line
from vision_zero.core.process import freeze_heap, own_process
from vision_zero.core.version import installed_version

__all__ = ["build_parser", "main"]

#: Command-group modules under ``vision_zero.cli``, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = ("network", "scenario", "run", "sweep", "compare")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="vision-zero",
        description=(
            "How many deaths and serious injuries will a road-safety program prevent? Build a road network, "
            "run scenarios through a traffic simulation and an evidence-based crash-risk model, compare them."
        ),
        epilog="Example: vision-zero network info schematic:almaty",
    )
    parser.add_argument("--version", action=_VersionAction, help="show program's version number and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"vision_zero.cli.{name}")
        module.register(sub)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: argparse's own action, but the version read only when asked (not for every command; #16)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"vision-zero {installed_version()}")  # on stdout, as argparse's own version action
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    if argv is None:  # the process is the command's own (console script, ``python -m vision_zero``)
        own_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    previous = _exit_on_sigterm()
    try:
        code = func(args)
    except VisionZeroError as exc:
        print(f"vision-zero: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vision-zero: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        freeze_heap()  # the interpreter's shutdown then skips the collector's passes over everything still alive
    return int(code or 0)


def _exit_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit(143) so that worker pools and temporary folders are cleaned up on the way out.

    Returns the previous handler (None when not in the main thread, where handlers cannot be set).
    """

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    try:
        return signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
