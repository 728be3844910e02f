"""Stage 2 — the program: scenario files (schema, ``extends``, validation), selectors and interventions."""

from vision_zero.program.interventions import INTERVENTIONS, Intervention, apply_bindings
from vision_zero.program.scenario import Scenario, load_scenario
from vision_zero.program.selectors import Selector, select_crossings, select_junctions, select_links
from vision_zero.program.touched import Touched

__all__ = [
    "INTERVENTIONS",
    "Intervention",
    "Scenario",
    "Selector",
    "Touched",
    "apply_bindings",
    "load_scenario",
    "select_crossings",
    "select_junctions",
    "select_links",
]
