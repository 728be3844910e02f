"""Speed models: how the number of casualties changes with speed, named after the published models.

:func:`power_model` (Nilsson; Elvik's exponents by severity and road environment: :func:`power_exponents`) and
:func:`exponential_model` (Cameron & Elvik's urban alternative); :func:`speed_effect` applies the chosen one per
link, and :func:`reference_mean_effect` is the same effect averaged over drivers who keep the reference speed
distribution (the divisor that makes an unchanged link neutral). :func:`vision_zero.risk.crash_model.estimate` reads
them for vehicle occupants.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import ConfigError
from vision_zero.risk._parameters import param

__all__ = [
    "FREEWAY_HIGHWAYS",
    "SEVERITIES",
    "SPEED_MODELS",
    "exponential_model",
    "freeway_links",
    "power_exponents",
    "power_model",
    "reference_mean_effect",
    "speed_effect",
]

FloatArray = npt.NDArray[np.float64]

#: The severities of a casualty, most severe first: the speed models' exponents are by severity (Elvik 2009), and
#: :class:`vision_zero.risk.crash_model.CrashEstimate` keys its injuries by them (re-exported there).
SEVERITIES: tuple[str, ...] = ("fatal", "serious", "slight")

#: The speed models :func:`speed_effect` knows (``risk.speed_model`` / ``estimate(speed_model=…)``).
SPEED_MODELS: tuple[str, ...] = ("power", "exponential")


def power_model(speed_ratio: npt.ArrayLike, exponent: float | npt.ArrayLike) -> FloatArray:
    """Nilsson's power model: relative crash (or casualty) count ``(V1 / V0) ** p``.

    Parameters
    ----------
    speed_ratio
        ``V1 / V0``, mean speed after over before [-], > 0.
    exponent
        ``p`` for the severity level and road environment (:func:`power_exponents`; Elvik 2009), a number or one
        per ratio.

    Returns
    -------
    numpy.ndarray
        ``N1 / N0`` [-].

    References
    ----------
    Nilsson, G. (2004). Traffic safety dimensions and the power model to describe the effect of speed on safety.
    Bulletin 221, Lund Institute of Technology.
    Elvik, R. (2009). The Power Model of the relationship between speed and road safety. TØI report 1034/2009.
    Cameron, M. H., Elvik, R. (2010). Nilsson's Power Model connecting speed and road trauma: applicability by
    road type and alternative models for urban roads. Accident Analysis & Prevention 42, 1908-1915.
    """
    r = np.asarray(speed_ratio, dtype=np.float64)
    if np.any(r < 0):
        raise ConfigError(f"speed_ratio: expected values >= 0 (got min {float(r.min())})")
    out: FloatArray = np.power(r, np.asarray(exponent, dtype=np.float64))
    return out


def exponential_model(delta_speed_kph: npt.ArrayLike, beta: float) -> FloatArray:
    """Exponential model: relative crash count ``exp(beta * (V1 - V0))``, the urban alternative to the power model.

    Parameters
    ----------
    delta_speed_kph
        ``V1 - V0`` [km/h].
    beta
        Coefficient [1/(km/h)] for the severity level (``risk.exponential_model.beta.<severity>``).

    Returns
    -------
    numpy.ndarray
        ``N1 / N0`` [-].

    References
    ----------
    Cameron, M. H., Elvik, R. (2010). Accident Analysis & Prevention 42, 1908-1915.
    Elvik, R. (2013). A re-parameterisation of the Power Model of the relationship between the speed of traffic
    and the number of accidents and accident victims. Accident Analysis & Prevention 50, 854-860.
    """
    d = np.asarray(delta_speed_kph, dtype=np.float64)
    out: FloatArray = np.exp(beta * d)
    return out


#: OSM road classes whose links take the power model's "rural roads and freeways" exponents (Elvik 2009; Cameron &
#: Elvik 2010: Nilsson's power model fits rural highways and freeways, not urban arterials); every other link takes
#: the urban exponents. An urban expressway (``trunk``) is a freeway-type road whatever the land use around it.
FREEWAY_HIGHWAYS: tuple[str, ...] = ("motorway", "motorway_link", "trunk", "trunk_link")

#: Nodes of the probabilists' Gauss-Hermite rule used for the expected power of a normal speed distribution.
_HERMITE = np.polynomial.hermite_e.hermegauss(40)


def freeway_links(links: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Links whose road environment is "rural roads and freeways" for the power model (:data:`FREEWAY_HIGHWAYS`)."""
    if "highway" not in links.columns:
        return np.zeros(len(links), dtype=bool)
    out: npt.NDArray[np.bool_] = links["highway"].astype(str).isin(FREEWAY_HIGHWAYS).to_numpy(dtype=bool)
    return out


def power_exponents(links: pd.DataFrame, severity: str, parameters: Mapping[str, float]) -> FloatArray:
    """Per link, the power-model exponent for casualties of ``severity`` in the link's road environment.

    ``risk.power_model.exponent.<severity>`` (urban roads) or ``risk.power_model.exponent.rural_freeway.<severity>``
    (:func:`freeway_links`): Elvik 2009's exponents for killed, seriously and slightly injured road users.
    """
    urban = param(parameters, f"risk.power_model.exponent.{severity}")
    freeway = freeway_links(links)
    if not freeway.any():
        return np.full(len(links), urban)
    return np.where(freeway, param(parameters, f"risk.power_model.exponent.rural_freeway.{severity}"), urban)


def _expected_power_of_normal(exponent: FloatArray, cv: float) -> FloatArray:
    """``E[(1 + cv z) ** p]`` for standard-normal ``z`` (Gauss-Hermite; the tail below 0 speed is cut at 0)."""
    x, w = _HERMITE
    rel = np.maximum(1.0 + cv * x, 0.0)
    out: FloatArray = (np.power.outer(rel, np.asarray(exponent, dtype=np.float64)) * w[:, None]).sum(
        0
    ) / w.sum()
    return out


def speed_effect(
    speed_kph: npt.ArrayLike,
    reference_speed_kph: npt.ArrayLike,
    severity: str,
    *,
    parameters: Mapping[str, float],
    speed_model: str = "power",
    exponent: npt.ArrayLike | None = None,
) -> FloatArray:
    """Relative casualty count at ``speed_kph`` against ``reference_speed_kph`` for one severity.

    ``exponent``: the power model's exponent per value (e.g. :func:`power_exponents`); None: the urban one. Where an
    exponent differs from the urban one (freeway links) the power model applies also under ``"exponential"``
    (Cameron & Elvik 2010 proposed the exponential form for urban roads only).
    """
    v = np.asarray(speed_kph, dtype=np.float64)
    v0 = np.asarray(reference_speed_kph, dtype=np.float64)
    urban = param(parameters, f"risk.power_model.exponent.{severity}")
    p = np.full(np.broadcast(v, v0).shape, urban) if exponent is None else np.asarray(exponent, np.float64)
    if speed_model == "power":
        return power_model(v / v0, p)
    if speed_model == "exponential":
        beta = param(parameters, f"risk.exponential_model.beta.{severity}")
        return np.where(p == urban, exponential_model(v - v0, beta), power_model(v / v0, p))
    raise ConfigError(f"speed_model: expected one of {list(SPEED_MODELS)} (got {speed_model!r})")


def reference_mean_effect(
    reference_speed_kph: FloatArray,
    exponent: FloatArray,
    severity: str,
    *,
    parameters: Mapping[str, float],
    speed_model: str,
) -> FloatArray:
    """The mean per-vehicle speed effect of drivers who keep their reference distribution.

    Normal around the reference speed with sd = cv x mean (the desired speeds' ``traffic.desired_speed.cv``).
    Dividing by it makes such a link neutral whatever the exponent (Jensen: the mean of ``(v / v0) ** p`` over
    drivers exceeds 1).
    """
    cv = param(parameters, "traffic.desired_speed.cv")
    out = _expected_power_of_normal(exponent, cv)
    if speed_model == "exponential":
        beta = param(parameters, f"risk.exponential_model.beta.{severity}")
        urban = param(parameters, f"risk.power_model.exponent.{severity}")
        out = np.where(exponent == urban, np.exp(0.5 * (beta * cv * reference_speed_kph) ** 2), out)
    return out
