"""Unit conversions, each in one named function: never an inline ``/ 3.6`` elsewhere."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "FT_PER_M",
    "KM_PER_MILE",
    "M_PER_KM",
    "S_PER_HOUR",
    "hours_to_s",
    "km_to_miles",
    "kph_to_mph",
    "kph_to_mps",
    "m_to_ft",
    "m_to_km",
    "mph_to_kph",
    "mps_to_kph",
    "s_to_hours",
]

KM_PER_MILE = 1.609344
FT_PER_M = 1.0 / 0.3048  # the international foot is 0.3048 m
M_PER_KM = 1000.0
S_PER_HOUR = 3600.0

Num = TypeVar("Num", float, npt.NDArray[np.float64])


def kph_to_mps(speed_kph: Num) -> Num:
    """Convert km/h to m/s."""
    return speed_kph * (M_PER_KM / S_PER_HOUR)


def mps_to_kph(speed_mps: Num) -> Num:
    """Convert m/s to km/h."""
    return speed_mps * (S_PER_HOUR / M_PER_KM)


def mph_to_kph(speed_mph: Num) -> Num:
    """Convert miles per hour to km/h."""
    return speed_mph * KM_PER_MILE


def kph_to_mph(speed_kph: Num) -> Num:
    """Convert km/h to miles per hour (the HCM's unit of speed)."""
    return speed_kph / KM_PER_MILE


def m_to_ft(length_m: Num) -> Num:
    """Convert metres to international feet (the HCM's unit of segment length)."""
    return length_m * FT_PER_M


def m_to_km(length_m: Num) -> Num:
    """Convert metres to kilometres."""
    return length_m / M_PER_KM


def km_to_miles(length_km: Num) -> Num:
    """Convert kilometres to statute miles (the HSM's unit of segment length)."""
    return length_km / KM_PER_MILE


def s_to_hours(time_s: Num) -> Num:
    """Convert seconds to hours."""
    return time_s / S_PER_HOUR


def hours_to_s(time_h: Num) -> Num:
    """Convert hours to seconds."""
    return time_h * S_PER_HOUR
