"""Pedestrian injury by impact speed: the conflict chain's death and serious-injury curves, and Tefft's.

Step 6 of the pedestrian chain (:mod:`vision_zero.risk.pedestrian_conflict`): death risk from Rosén & Sander 2009
and killed-or-seriously-injured risk from a MAIS 3+ curve, both describing police-reported casualties; Tefft 2013
(AIS 4+, weighted to in-depth investigations) kept as the reference curve.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from vision_zero.core.errors import ConfigError
from vision_zero.risk._parameters import param

__all__ = [
    "logistic",
    "mais3_pedestrian_injury",
    "pedestrian_injury_risk",
    "rosen_sander_pedestrian_fatality",
    "serious_given_fatal",
    "tefft_pedestrian_injury",
]

FloatArray = npt.NDArray[np.float64]
PEDESTRIAN_SEVERITIES: tuple[str, ...] = ("fatal", "serious")


@functools.lru_cache(maxsize=1)
def _shipped_central() -> dict[str, float]:
    from vision_zero.core.parameters import load_parameters

    return load_parameters().central()


def logistic(x: FloatArray) -> FloatArray:
    """The logistic function ``1 / (1 + exp(-x))``, written with tanh (no overflow)."""
    out: FloatArray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def tefft_pedestrian_injury(
    impact_speed_kph: npt.ArrayLike, severity: str, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """Risk that a struck pedestrian dies or is seriously injured, by impact speed (Tefft 2013).

    ``P = 1 / (1 + exp(-(b0 + b1 (v + shift))))`` with ``b0``, ``b1`` fitted by least squares (in speed) to the
    published 10/25/50/75/90% points; ``shift`` (default 0) carries the age-mix uncertainty.

    Parameters
    ----------
    impact_speed_kph
        Impact speed [km/h], any shape.
    severity
        ``"fatal"`` (death) or ``"serious"`` (AIS 4+ including death, as Tefft defines it).
    parameters
        A drawn parameter set (``risk.pedestrian.tefft.*``); the shipped central values if omitted.

    Returns
    -------
    numpy.ndarray
        Probability [0-1], same shape as ``impact_speed_kph``.

    References
    ----------
    Tefft, B. C. (2013). Impact speed and a pedestrian's risk of severe injury or death. Accident Analysis &
    Prevention 50, 871-878. doi:10.1016/j.aap.2012.07.022
    """
    if severity not in PEDESTRIAN_SEVERITIES:
        raise ConfigError(f"severity: expected one of {list(PEDESTRIAN_SEVERITIES)} (got {severity!r})")
    return _shifted_logistic(impact_speed_kph, f"risk.pedestrian.tefft.{severity}", parameters)


def _shifted_logistic(
    impact_speed_kph: npt.ArrayLike, prefix: str, parameters: Mapping[str, float] | None
) -> FloatArray:
    """``1 / (1 + exp(-(b0 + b1 (v + shift))))``: ``b0``, ``b1`` at ``prefix.intercept``/``.slope``, the age shift."""
    p = _shipped_central() if parameters is None else parameters
    v = np.asarray(impact_speed_kph, dtype=np.float64)
    b0 = param(p, f"{prefix}.intercept")
    b1 = param(p, f"{prefix}.slope")
    shift = float(p.get("risk.pedestrian.injury_speed_shift_kph", 0.0))
    return logistic(b0 + b1 * (v + shift))


def rosen_sander_pedestrian_fatality(
    impact_speed_kph: npt.ArrayLike, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """Risk that a struck adult pedestrian dies, by impact speed (Rosén & Sander 2009, GIDAS, weighted).

    ``P = 1 / (1 + exp(-(b0 + b1 (v + shift))))`` with ``risk.pedestrian.fatality.*``. Rosén & Sander weighted
    their in-depth sample to all police-reported injury crashes in Germany, which is the population the
    calibration targets count (police-reported casualties); Tefft 2013 (:func:`tefft_pedestrian_injury`) is
    weighted to crashes investigated in depth and gives about twice the risk.

    References
    ----------
    Rosén, E., Sander, U. (2009). Pedestrian fatality risk as a function of car impact speed. Accident Analysis &
    Prevention 41, 536-542.
    """
    return _shifted_logistic(impact_speed_kph, "risk.pedestrian.fatality", parameters)


def mais3_pedestrian_injury(
    impact_speed_kph: npt.ArrayLike, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """Risk that a struck pedestrian is killed or seriously injured (MAIS 3+, the EU definition of serious).

    ``P = 1 / (1 + exp(-(b0 + b1 (v + shift))))`` with ``risk.pedestrian.mais3.*``: 10% at 34 km/h (GIDAS-based
    risk models, TARGET thresholds) with the slope of Tefft's AIS 4+ curve (see the parameters file).
    """
    return _shifted_logistic(impact_speed_kph, "risk.pedestrian.mais3", parameters)


def pedestrian_injury_risk(
    impact_speed_kph: npt.ArrayLike, severity: str, *, parameters: Mapping[str, float] | None = None
) -> FloatArray:
    """The severity curves of the conflict chain: ``"fatal"`` death, ``"serious"`` killed or MAIS 3+.

    Death: :func:`rosen_sander_pedestrian_fatality`; killed or seriously injured: the larger of
    :func:`mais3_pedestrian_injury` and the death risk. Both describe police-reported casualties (the population
    the calibration targets count), so the calibrated chain keeps their speed dependence and its severity mix.

    Parameters
    ----------
    impact_speed_kph
        Impact speed [km/h], scalar or array.
    severity
        ``"fatal"`` or ``"serious"`` (killed or seriously injured).
    parameters
        A drawn parameter set; the shipped central values if omitted.

    Returns
    -------
    numpy.ndarray
        Probability [0-1].
    """
    if severity not in PEDESTRIAN_SEVERITIES:
        raise ConfigError(f"severity: expected one of {list(PEDESTRIAN_SEVERITIES)} (got {severity!r})")
    fatal = rosen_sander_pedestrian_fatality(impact_speed_kph, parameters=parameters)
    if severity == "fatal":
        return fatal
    return serious_given_fatal(impact_speed_kph, fatal, parameters)


def serious_given_fatal(
    impact_speed_kph: npt.ArrayLike, fatal: FloatArray, parameters: Mapping[str, float] | None
) -> FloatArray:
    """Killed or MAIS 3+ (:func:`pedestrian_injury_risk` ``"serious"``) from the death risk at the same speeds."""
    out: FloatArray = np.maximum(mais3_pedestrian_injury(impact_speed_kph, parameters=parameters), fatal)
    return out
