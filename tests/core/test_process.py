"""vision_zero.core.process: the heap is frozen only in a process its entry point declared its own."""

from __future__ import annotations

import ast
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


_RELEASE = (
    "import io, gc, numpy as np, pandas as pd\n"
    "from vision_zero.core import process\n"
    "{own}\n"
    "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20\n"
    "buf = io.BytesIO(); pd.DataFrame({{'x': np.arange(20_000_000)}}).to_parquet(buf)\n"
    "frame = pd.read_parquet(buf, dtype_backend='pyarrow'); del frame, buf; gc.collect()\n"
    "a = rss(); process.release_free_memory(); print(a, rss())\n"
)


def test_release_free_memory_gives_freed_arrow_memory_back_only_in_an_own_process() -> None:
    """A parquet table read through Arrow and freed leaves its pages in Arrow's pool until released (#16)."""
    if not sys.platform.startswith("linux"):
        return
    kept, still = map(float, _child(_RELEASE.format(own="")).split())
    assert still > kept - 20  # not declared its own: untouched
    held, released = map(float, _child(_RELEASE.format(own="process.own_process()")).split())
    assert held - released > 100  # the 160 MB column's pages went back


_NUMBA = (
    "import sys, numpy as np\n"
    "from vision_zero.core import process\n"
    "{own}\n"
    "process.set_up_numba()\n"
    "print('numba.np.arraymath' in sys.modules, 'scipy.linalg' in sys.modules)\n"
    "from numba import njit\n"
    "a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)\n"
    "print(bool((njit(lambda x, y: np.dot(x, y))(a, b) == a @ b).all()), 'scipy.linalg' in sys.modules)\n"
)


def test_set_up_numba_sets_it_up_without_scipy_only_in_an_own_process() -> None:
    """Numba's set-up in a program's process skips SciPy's import (#16); its linear algebra still works after."""
    assert _child(_NUMBA.format(own="")).split() == ["False", "False", "True", "True"]
    set_up, with_scipy, dot_equal, scipy_after = _child(_NUMBA.format(own="process.own_process()")).split()
    assert (set_up, with_scipy) == ("True", "False")  # set up, and scipy.linalg left unimported
    assert (dot_equal, scipy_after) == ("True", "True")  # np.dot in a kernel imports it when compiled


def test_no_kernel_uses_what_numba_builds_differently_without_scipy() -> None:
    """Without SciPy at numba's set-up (:func:`process.set_up_numba`) only np.convolve and np.correlate differ.

    numba.np.arraymath builds their inner product from BLAS or from a loop by whether its import of
    scipy.linalg succeeded; every other kernel compiles the same either way. No module of the package names them.
    """
    named = []
    for path in (ROOT / "vision_zero").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name in ("convolve", "correlate"):
                named.append(f"{path.name}:{node.lineno}")  # type: ignore[attr-defined]
    assert named == []
