"""Tiny scenario files on the schematic network for the run, sweep, executor, compare and pipeline tests."""

from __future__ import annotations

from pathlib import Path

#: The tiny schematic network most of these scenarios run on.
TINY = "schematic:almaty?scale=tiny&seed=0"

BASE = """\
name = "base"
description = "SCHEMATIC tiny network: test baseline"

[network]
source = "schematic:almaty?scale=tiny&seed=0"

[simulation]
replications = 2
seed = 3
periods = ["am_peak"]
duration_s = 600.0

[demand]
scale = 0.05
"""

VARIANT = """\
name = "slow"
description = "SCHEMATIC tiny network: 30 km/h with cameras on every street"
extends = "base.toml"

[[interventions]]
type = "speed_limit"
limit_kph = 30
enforcement = "camera"
where = { highway = ["primary", "secondary", "tertiary", "residential"] }
"""


def write_scenarios(folder: Path) -> tuple[Path, Path]:
    """Write ``base.toml`` and ``slow.toml`` (extends base) into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base.toml"
    variant = folder / "slow.toml"
    base.write_text(BASE, "utf-8")
    variant.write_text(VARIANT, "utf-8")
    return base, variant


#: compare's end-to-end baseline (tests/cli/test_cli_compare.py) and the jobs test: 3 replications, 20% demand.
TINY_BASE = """\
name = "base"
description = "SCHEMATIC tiny test network"

[network]
source = "schematic:almaty?scale=tiny&seed=0"

[simulation]
replications = 3
seed = 5
periods = ["am_peak"]
duration_s = 600.0

[demand]
scale = 0.2
"""


#: ``TINY_BASE`` at 30 km/h everywhere with physical calming.
TINY_SLOW = """\
name = "slow"
description = "SCHEMATIC tiny test network: 30 km/h everywhere with physical calming"
extends = "base.toml"

[[interventions]]
type = "speed_limit"
limit_kph = 30
enforcement = "calming"
"""


#: The pipeline tests' scenario on the tiny network (one 10-minute AM peak, 5% demand): ``{name}``, ``{extends}``.
PIPELINE_BASE = """name = "{name}"
description = "SCHEMATIC network, tiny: pipeline test"
{extends}
[network]
source = "schematic:almaty?scale=tiny&seed=0"
[simulation]
periods = ["am_peak"]
duration_s = 600
replications = 3
seed = 11
[demand]
scale = 0.05
"""


def scenario_file(tmp_path: Path, name: str, body: str = "", extends: str = "") -> Path:
    """Write ``<name>.toml``: :data:`PIPELINE_BASE` plus ``body``, or (``extends``) a variant of that file plus ``body``."""
    path = tmp_path / f"{name}.toml"
    ext = f'extends = "{extends}"' if extends else ""
    text = (
        PIPELINE_BASE.format(name=name, extends=ext)
        if not extends
        else f'name = "{name}"\ndescription = "d"\n{ext}\n'
    )
    path.write_text(text + body, "utf-8")
    return path
