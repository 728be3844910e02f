"""vision_zero: how many deaths and serious injuries will a road-safety program prevent?

The package is laid out in the order the data flows, one subpackage per stage; a lower stage never imports a
higher one:

``core`` (errors, units, seeds, parameters, translations) → ``network`` → ``program`` (scenario, selectors,
interventions) → ``traffic`` (periods, demand, routing, simulation) → ``risk`` → ``runs`` (pipeline,
replications, executors, result files) → ``appraisal`` (comparison, economics, KSI split, sweep) → ``outputs``
(charts, maps, report, GeoPackage) → ``cli``.

Importing the package defines things and does nothing else; the notebook-facing functions below are imported
on first use:

- :func:`load_network` — a network from a place, an OSM file, a GraphML file or ``schematic:almaty``;
- :func:`load_scenario` — a scenario file, validated, with ``extends`` resolved;
- :func:`run` — a scenario's replications (resumable, in parallel);
- :func:`compare_scenarios` — a baseline and variants compared pair by pair.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vision_zero.core.version import __version__

__all__ = ["__version__", "compare_scenarios", "load_network", "load_scenario", "run"]

_LAZY = {
    "__version__": ("vision_zero.core.version", "__version__"),
    "load_network": ("vision_zero.network.road_network", "load_network"),
    "load_scenario": ("vision_zero.program.scenario", "load_scenario"),
    "run": ("vision_zero.runs.replications", "run_scenario"),
    "compare_scenarios": ("vision_zero.appraisal.study", "compare_scenarios"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'vision_zero' has no attribute {name!r}")
