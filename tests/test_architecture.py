"""The package layout follows the data flow: a lower stage never imports a higher one, and there are no cycles.

Stages in order (``vision_zero/__init__.py`` and ``cli`` sit on top and may import anything):
core → network → program → traffic → risk → runs → appraisal → outputs → cli.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from paths import ROOT

PACKAGE = ROOT / "vision_zero"
STAGES = ("core", "network", "program", "traffic", "risk", "runs", "appraisal", "outputs", "cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``vision_zero.*`` module that ``path`` imports, at top level or inside a function."""
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("vision_zero"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("vision_zero"))
    return found


def _graph() -> nx.DiGraph[str]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    g: nx.DiGraph[str] = nx.DiGraph()
    for name, path in modules.items():
        g.add_node(name)
        for target in _imports(path):
            if target in modules and target != name:
                g.add_edge(name, target)
    return g


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in STAGES:
        return None  # vision_zero/__init__, __main__: the top
    return STAGES.index(parts[1])


def test_every_module_belongs_to_a_stage() -> None:
    loose = [m for m in _graph() if _stage(m) is None and m not in ("vision_zero", "vision_zero.__main__")]
    assert loose == []


def test_no_lower_stage_imports_a_higher_one() -> None:
    upward = []
    for a, b in _graph().edges:
        sa, sb = _stage(a), _stage(b)
        if sa is not None and (sb is None or sb > sa):
            upward.append(f"{a} -> {b}")
    assert upward == []


def test_no_import_cycles() -> None:
    g = _graph()
    # a package's __init__ re-exporting its own modules is not a cycle of the layout
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".")])
    assert list(nx.simple_cycles(g)) == []


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from vision_zero.outputs.report import write_report\n")
    assert "vision_zero.outputs.report" in _imports(bad)


@pytest.mark.parametrize("package", ["vision_zero", *(f"vision_zero.{s}" for s in STAGES)])
def test_each_subpackage_imports_alone(package: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {package}"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def _imported_of(code: str) -> str:
    """What ``code``, run in a fresh interpreter, prints (it names the listed modules it found imported)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_traffic_path_leaves_unused_heavy_modules_unimported() -> None:
    """#16 start-up: a traffic run imports neither plotting/GIS nor scipy.sparse (only the HCM option's segments).

    scipy.sparse with csgraph cost ~0.1-0.25 CPU-s of a 10k-trip grid run's ~3.4 when `traffic._model` imported
    them at the top; scipy.special ~0.12 of ~2.4 (load ~1.5; only calmed streets and cameras need its normal
    distribution); networkx ~0.2 with the grid's graph (load ~0.7; a network built from tables builds its plain
    graph only when drawn or saved).
    """
    heavy = (
        "scipy.sparse",
        "scipy.spatial",
        "scipy.special",
        "matplotlib",
        "geopandas",
        "osmnx",
        "shapely",
        "networkx",
    )
    code = (
        "import sys, vision_zero.traffic.simulation, vision_zero.network.road_network\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    assert _imported_of(code) == ""


_PROGRAM_RUN = (
    "import sys\n"
    "sys.path.insert(0, {tests!r})\n"
    "import numpy as np, pandas as pd\n"
    "from traffic_fixtures import grid\n"
    "from vision_zero.core.process import own_process\n"
    "from vision_zero.traffic.periods import Period\n"
    "from vision_zero.traffic.simulation import simulate\n"
    "{own}\n"
    "trips = pd.DataFrame({{'trip': np.arange(40), 'period': 'h', 'origin': np.arange(40) % 9,\n"
    "                      'destination': (np.arange(40) * 5 + 3) % 9, 'depart_s': np.arange(40) * 60.0}})\n"
    "trips = trips[trips['origin'] != trips['destination']]\n"
    "record = simulate(grid(3, signalised=True), trips, None, rng=np.random.default_rng(1),\n"
    "                  periods=(Period('h', 8.0, 3600.0, 0.09, 340.0),))\n"
    "assert record.trips['completed'].all()\n"
    "print(','.join(m for m in ('scipy.linalg', 'numba.np.arraymath') if m in sys.modules))"
)


def test_a_programs_traffic_run_leaves_scipy_linalg_unimported() -> None:
    """#16 start-up: in the command's (or a benchmark worker's) process a traffic run never imports scipy.linalg.

    Numba's set-up at the first compiled call imported it only to probe for BLAS (~0.1-0.2 CPU-s of a 10k-trip
    grid run's ~3.3); :func:`vision_zero.core.process.set_up_numba`, which the simulation calls first, hides it
    then. In a process that is not the program's (tests, a notebook) numba sets itself up as always.
    """
    tests = str(ROOT / "tests")
    program = _imported_of(_PROGRAM_RUN.format(tests=tests, own="own_process()"))
    assert program == "numba.np.arraymath"  # numba was set up, without scipy.linalg
    library = _imported_of(_PROGRAM_RUN.format(tests=tests, own=""))
    assert library == "scipy.linalg,numba.np.arraymath"  # unchanged in someone else's process


def test_a_search_with_landmark_bounds_leaves_scipy_sparse_unimported() -> None:
    """#16 start-up: the landmarks' trees of a band search are compiled, not scipy.sparse.csgraph's ``dijkstra``.

    Its import (scipy.sparse, and with it scipy.linalg and numpy's testing and f2py modules) cost ~0.2 CPU-s of
    a 10k-trip grid run's ~3 (load ~5) in every run whose band phase searched with limits.
    """
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "import numpy as np\n"
        "from traffic_fixtures import grid\n"
        "from vision_zero.traffic.routing import Router\n"
        "router = Router(grid(8))\n"
        "o = np.arange(64); d = 63 - o\n"
        "router.shortest(o, d, np.full(len(router.u), 10.0), limit_s=np.full(64, 100.0))\n"
        "assert router._landmarks is not None\n"
        "print('scipy.sparse' in sys.modules)"
    )
    assert _imported_of(code) == "False"


def test_the_command_line_parser_imports_no_numerical_library() -> None:
    """#16 start-up: ``vision-zero --help`` (the parser with every sub-command) imports no numpy or pandas.

    Before, ``vision_zero.core`` imported the parameters (numpy, pandas, pyarrow) with the package, the network
    command the schematic generator (scipy.sparse, networkx) for its presets' names, and the version
    :mod:`importlib.metadata`: 1.20 CPU-s for ``--help``, 0.08 after (medians of 7, load ~4.7).
    """
    heavy = ("numpy", "pandas", "pyarrow", "scipy", "networkx", "numba", "importlib.metadata")
    code = (
        "import sys, vision_zero.cli\n"
        "vision_zero.cli.build_parser()\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    assert _imported_of(code) == ""


def test_the_version_is_read_when_asked() -> None:
    """``__version__`` (read on first use) is the installed distribution's, from the package and the command."""
    from importlib.metadata import version

    import vision_zero
    from vision_zero.cli import main
    from vision_zero.core.version import __version__

    assert vision_zero.__version__ == __version__ == version("vision-zero")
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
