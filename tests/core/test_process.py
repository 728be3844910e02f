"""vision_zero.core.process: the heap is frozen only in a process its entry point declared its own."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from vision_zero.core import process

ROOT = Path(__file__).resolve().parents[2]


def test_freeze_heap_does_nothing_in_a_process_not_declared_own() -> None:
    before = gc.get_freeze_count()
    process.freeze_heap()  # this test process (pytest's) is nobody's program: untouched
    assert gc.get_freeze_count() == before


def _child(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return res.stdout.strip()


def test_freeze_heap_freezes_an_own_process() -> None:
    out = _child(
        "import gc\n"
        "from vision_zero.core import process\n"
        "process.freeze_heap(); a = gc.get_freeze_count()\n"
        "process.own_process(); process.freeze_heap(); print(a, gc.get_freeze_count())\n"
    )
    before, after = map(int, out.split())
    assert before == 0
    assert after > 10_000  # the imported modules' objects


def test_the_command_freezes_only_when_it_is_the_process() -> None:
    """``main()`` (console script) declares the process its own; ``main(argv)`` (tests, callers) does not."""
    code = (
        "import gc, io, sys\n"
        "sys.stdout = io.StringIO()\n"
        "from vision_zero.cli import main\n"
        "sys.argv = ['vision-zero', 'scenario', 'show', {path!r}]\n"
        "main({argv})\n"
        "sys.stdout = sys.__stdout__\n"
        "print(gc.get_freeze_count())\n"
    )
    path = str(ROOT / "scenarios" / "baseline.toml")
    assert int(_child(code.format(path=path, argv=""))) > 10_000
    assert int(_child(code.format(path=path, argv="sys.argv[1:]"))) == 0
