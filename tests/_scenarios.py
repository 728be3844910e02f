"""Tiny scenario files on the schematic network for the run/sweep/executor tests (well under a second a replication)."""

from __future__ import annotations

from pathlib import Path

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
