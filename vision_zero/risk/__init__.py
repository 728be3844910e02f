"""Stage 4 — crash risk: the published models that turn simulated traffic into expected injuries, and calibration."""

from vision_zero.risk.crash_model import (
    ROAD_USERS,
    SEVERITIES,
    CalibrationTargets,
    CrashEstimate,
    calibrate,
    estimate,
)
from vision_zero.risk.crash_records import read_crash_records, targets_from_records
from vision_zero.risk.crossing_passages import crossing_injuries
from vision_zero.risk.pedestrian_injury import tefft_pedestrian_injury
from vision_zero.risk.speed_models import exponential_model, power_model

__all__ = [
    "ROAD_USERS",
    "SEVERITIES",
    "CalibrationTargets",
    "CrashEstimate",
    "calibrate",
    "crossing_injuries",
    "estimate",
    "exponential_model",
    "power_model",
    "read_crash_records",
    "targets_from_records",
    "tefft_pedestrian_injury",
]
