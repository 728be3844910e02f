"""The money side of an appraisal: values of casualties and time, discounting, intervention costs.

Defaults come from ``vision_zero/data/parameters/economics.toml`` (each with its source and status); a
scenario's ``[economics]`` section overrides them (:meth:`Economics.with_overrides`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from vision_zero.core.errors import ConfigError
from vision_zero.core.parameters import ParameterSet, load_parameters

__all__ = ["Economics", "InterventionCost", "annuity_factor"]


def annuity_factor(*, discount_rate: float, horizon_years: int) -> float:
    """Present value of 1 a year paid at the end of years 1..``horizon_years``: ``Σ (1 + r)^−t``."""
    if horizon_years < 0:
        raise ConfigError(f"economics.horizon_years: expected a whole number >= 0 (got {horizon_years})")
    if discount_rate <= -1.0:
        raise ConfigError(f"economics.discount_rate: expected a rate > -1 (got {discount_rate})")
    return float(sum((1.0 + discount_rate) ** -t for t in range(1, horizon_years + 1)))


@dataclass(frozen=True)
class Economics:
    """Money values of the appraisal; defaults from ``economics.toml``, overridden by a scenario.

    Attributes
    ----------
    currency
        Currency code of every money value, e.g. ``"USD"``.
    vsl
        Value of a statistical life (one death prevented) [currency].
    serious_injury_value, slight_injury_value
        Value of one serious / slight injury prevented [currency].
    value_of_time
        Value of one vehicle-hour [currency/vehicle-hour].
    discount_rate
        Real discount rate [1/year].
    horizon_years
        Appraisal period [year]; benefits in years 1..horizon.
    sources
        Field name -> source line, for the report.
    """

    currency: str
    vsl: float
    serious_injury_value: float
    slight_injury_value: float
    value_of_time: float
    discount_rate: float
    horizon_years: int
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_parameters(cls, params: ParameterSet | None = None) -> Economics:
        """The shipped defaults (``vision_zero/data/parameters/economics.toml``)."""
        p = load_parameters() if params is None else params
        vsl = p.value("economics.vsl")
        src = {
            "vsl": p["economics.vsl"].source,
            "serious_injury_value": p["economics.serious_injury_vsl_share"].source,
            "slight_injury_value": p["economics.slight_injury_vsl_share"].source,
            "value_of_time": p["economics.value_of_time"].source,
            "discount_rate": p["economics.discount_rate"].source,
            "horizon_years": p["economics.horizon_years"].source,
        }
        return cls(
            currency="USD",
            vsl=vsl,
            serious_injury_value=vsl * p.value("economics.serious_injury_vsl_share"),
            slight_injury_value=vsl * p.value("economics.slight_injury_vsl_share"),
            value_of_time=p.value("economics.value_of_time"),
            discount_rate=p.value("economics.discount_rate"),
            horizon_years=round(p.value("economics.horizon_years")),
            sources=src,
        )

    def with_overrides(self, overrides: Mapping[str, Any], *, origin: str = "scenario") -> Economics:
        """A copy with values from a scenario's ``[economics]`` section.

        Keys are the field names (``vsl``, ``value_of_time`` …); ``serious_injury_vsl_share`` and
        ``slight_injury_vsl_share`` are accepted as shares of the (possibly overridden) VSL. Unknown keys raise
        :class:`~vision_zero.core.errors.ConfigError` naming ``origin``.
        """
        names = {f.name for f in fields(self)} - {"sources"}
        shares = {"serious_injury_vsl_share", "slight_injury_vsl_share"}
        unknown = set(overrides) - names - shares
        if unknown:
            raise ConfigError(
                f"{origin}: economics: unknown keys {sorted(unknown)}; allowed: {sorted(names | shares)}"
            )
        _check_override_types(overrides, origin)
        out = replace(self, **{k: v for k, v in overrides.items() if k == "currency"})
        vsl_changed = "vsl" in overrides
        upd: dict[str, Any] = {}
        if vsl_changed:
            upd["vsl"] = float(overrides["vsl"])
            ratio = float(overrides["vsl"]) / self.vsl if self.vsl else 1.0
            upd["serious_injury_value"] = self.serious_injury_value * ratio
            upd["slight_injury_value"] = self.slight_injury_value * ratio
        vsl = upd.get("vsl", self.vsl)
        for share in shares:
            if share in overrides:
                upd[share.replace("_vsl_share", "_value")] = float(overrides[share]) * vsl
        for key in ("serious_injury_value", "slight_injury_value", "value_of_time", "discount_rate"):
            if key in overrides:
                upd[key] = float(overrides[key])
        if "horizon_years" in overrides:
            h = overrides["horizon_years"]
            if float(h) != round(float(h)) or float(h) < 0:
                raise ConfigError(
                    f"{origin}: economics.horizon_years: expected a whole number >= 0 (got {h!r})"
                )
            upd["horizon_years"] = round(float(h))
        new_currency = overrides.get("currency", self.currency)
        if new_currency != self.currency:
            missing = [k for k in ("vsl", "value_of_time") if k not in overrides]
            if missing:
                raise ConfigError(
                    f"{origin}: economics.currency = {new_currency!r} differs from the defaults' "
                    f"{self.currency!r}: also set {', '.join('economics.' + k for k in missing)} in "
                    f"{new_currency} (and the interventions' unit costs), or keep currency = {self.currency!r}"
                )
        srcs = dict(self.sources)
        for key in upd:
            srcs[key] = f"set in {origin}"
        return replace(out, sources=srcs, **upd)

    @property
    def annuity(self) -> float:
        """Annuity factor of the horizon at the discount rate."""
        return annuity_factor(discount_rate=self.discount_rate, horizon_years=self.horizon_years)

    def injury_value(self, severity: str) -> float:
        """Money value of preventing one casualty of ``severity``."""
        return {"fatal": self.vsl, "serious": self.serious_injury_value, "slight": self.slight_injury_value}[
            severity
        ]


@dataclass(frozen=True)
class InterventionCost:
    """What one intervention of a scenario costs.

    Attributes
    ----------
    name
        Intervention label (as in the scenario).
    capital
        One-off cost in year 0 [currency].
    annual
        Running cost (maintenance, enforcement) in each year 1..horizon [currency/year].
    lifetime_years
        Service life; the capital cost recurs at the end of each lifetime that ends before the horizon
        (years L, 2L, … < H), with no residual value. ``None``: lasts the whole horizon.
    source
        Where the cost figure comes from.
    """

    name: str
    capital: float
    annual: float = 0.0
    lifetime_years: float | None = None
    source: str = ""

    def present_value(self, economics: Economics) -> float:
        """Discounted cost over the horizon: capital, renewals and running costs."""
        pv = self.capital + self.annual * economics.annuity
        life = self.lifetime_years
        if life is not None and life > 0:
            k = 1
            while k * life < economics.horizon_years:
                pv += self.capital * (1.0 + economics.discount_rate) ** -(k * life)
                k += 1
        return pv


def _check_override_types(overrides: Mapping[str, Any], origin: str) -> None:
    """``currency`` must be a non-empty text, every other value of ``[economics]`` a number."""
    for key, val in overrides.items():
        if key == "currency":
            if not isinstance(val, str) or not val:
                raise ConfigError(f"{origin}: economics.currency: expected a currency code (got {val!r})")
        elif isinstance(val, bool) or not isinstance(val, int | float):
            raise ConfigError(f"{origin}: economics.{key}: expected a number (got {val!r})")
