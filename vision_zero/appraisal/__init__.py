"""Stage 6 — appraisal: scenarios compared pair by pair, economics, where the KSI are avoided, sweeps."""

from vision_zero.appraisal.attribution import link_ksi_per_year
from vision_zero.appraisal.compare import Comparison, compare
from vision_zero.appraisal.economics import Economics, InterventionCost
from vision_zero.appraisal.ksi_split import KsiSplit, ksi_split
from vision_zero.appraisal.study import CompareInputs, compare_scenarios
from vision_zero.appraisal.sweep import run_sweep

__all__ = [
    "CompareInputs",
    "Comparison",
    "Economics",
    "InterventionCost",
    "KsiSplit",
    "compare",
    "compare_scenarios",
    "ksi_split",
    "link_ksi_per_year",
    "run_sweep",
]
