"""The schema of a scenario file: its sections (``[network]``, ``[demand]`` …) as strict pydantic models.

Unknown keys are errors; each field states its bounds. :func:`vision_zero.program.scenario.load_scenario` reads
the files, resolves ``extends`` and overrides, and validates the result as a :class:`ScenarioDocument`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_DAILY_TRIPS",
    "CalibrationSection",
    "DemandSection",
    "EconomicsSection",
    "NetworkSection",
    "RiskSection",
    "ScenarioDocument",
    "SimulationSection",
]

#: An input bound, not a model value: no city has a hundred million car trips a day (Almaty's default demand is
#: about two million); a larger ``demand.daily_trips`` is a typing error that would exhaust memory.
MAX_DAILY_TRIPS = 1e8


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NetworkSection(_Section):
    """``[network]``: ``source`` and ``country``.

    ``source`` = ``schematic:almaty?scale=..&seed=..``, a network file, a bbox or a place; ``country`` = the ISO
    code whose implicit speed limits fill missing ``maxspeed`` (detected from the data if omitted).
    """

    source: str = Field(min_length=1)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @model_validator(mode="after")
    def _country_has_limits(self) -> NetworkSection:
        if self.country is not None:
            from vision_zero.core.parameters import load_parameters
            from vision_zero.network.osm_tags import GENERIC_COUNTRY, countries_with_limits

            known = [c for c in countries_with_limits(load_parameters()) if c != GENERIC_COUNTRY]
            if self.country not in known:
                raise ValueError(f"country: expected a country with default speed limits, one of {known}")
        return self

    @property
    def cache_key(self) -> str:
        """What identifies the loaded base network: the source, and the country if given."""
        return self.source if self.country is None else f"{self.source}|country={self.country}"


class DemandSection(_Section):
    """``[demand]``: daily trips, scale, OD/pedestrian files, trip length, elasticity, congestion target."""

    daily_trips: float | None = Field(default=None, gt=0, le=MAX_DAILY_TRIPS)
    scale: float = Field(default=1.0, gt=0, le=10)
    mean_trip_length_km: float | None = Field(default=None, gt=0, le=200)
    travel_time_elasticity: float | None = Field(default=None, ge=-3, le=0)
    congestion_index_target: float | Literal["almaty", "europe"] | None = None

    @field_validator("congestion_index_target")
    @classmethod
    def _index_range(cls, v: float | str | None) -> float | str | None:
        if isinstance(v, float | int) and not 1.0 <= v <= 5.0:
            raise ValueError(
                "expected a number in [1, 5] (peak / free-flow travel time) or 'almaty' or 'europe'"
            )
        return v

    od_file: Path | None = None
    pedestrian_file: Path | None = None

    @model_validator(mode="after")
    def _one_source_of_trips(self) -> DemandSection:
        if self.daily_trips is not None and self.od_file is not None:
            raise ValueError(
                "daily_trips: no daily total with od_file (the OD table gives the trips; use scale)"
            )
        return self


class SimulationSection(_Section):
    """``[simulation]``: periods (names of the default set), replications, seed, platoon size, re-routing, risk draws.

    ``risk_draws``: M, the joint draws of the parameters after the traffic at which each replication's risk stage
    is evaluated (:mod:`vision_zero.runs.risk_draws`; the replication's value is the mean over them); 1 = the
    replication's own draw only.
    """

    periods: list[str] | None = Field(default=None, min_length=1)
    duration_s: float | None = Field(default=None, ge=60, le=86400)
    replications: int = Field(default=10, ge=1, le=100000)
    seed: int = Field(default=0, ge=0, lt=2**63)
    platoon_size: int = Field(default=1, ge=1, le=20)
    reroute_passes: int | None = Field(default=None, ge=0, le=50)
    risk_draws: int = Field(default=8, ge=1, le=1000)


class CalibrationSection(_Section):
    """``[calibration]``: observed annual totals (defaults: Almaty, ``calibration.toml``) and crash records."""

    deaths_per_year: float | None = Field(default=None, ge=0)
    serious_per_year: float | None = Field(default=None, ge=0)
    slight_per_year: float | None = Field(default=None, ge=0)
    pedestrian_share_of_deaths: float | None = Field(default=None, ge=0, le=1)
    scale_to_network: bool = True
    crash_records: Path | None = None


class EconomicsSection(_Section):
    """``[economics]``: money values (defaults: ``economics.toml``; status-labelled in ``scenario show``)."""

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    vsl: float | None = Field(default=None, gt=0)
    serious_injury_value: float | None = Field(default=None, ge=0)
    slight_injury_value: float | None = Field(default=None, ge=0)
    serious_injury_vsl_share: float | None = Field(default=None, ge=0, le=1)
    slight_injury_vsl_share: float | None = Field(default=None, ge=0, le=1)
    value_of_time: float | None = Field(default=None, ge=0)
    discount_rate: float | None = Field(default=None, ge=0, lt=1)
    horizon_years: int | None = Field(default=None, ge=1, le=100)

    def overrides(self) -> dict[str, Any]:
        """The values set in the scenario (the form :meth:`vision_zero.appraisal.economics.Economics.with_overrides` takes)."""
        return self.model_dump(exclude_none=True, exclude_defaults=False)


class RiskSection(_Section):
    """``[risk]``: speed model and a parameters file whose entries replace shipped ones."""

    speed_model: Literal["power", "exponential"] = "power"
    parameters: Path | None = None


class ScenarioDocument(_Section):
    """A resolved scenario file (``extends`` merged, overrides applied) as validated; interventions stay raw tables.

    :func:`vision_zero.program.scenario.load_scenario` validates each intervention by its ``type`` afterwards.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)
    description: str = Field(min_length=1)
    extends: str | None = None
    baseline: Path | None = None
    network: NetworkSection
    demand: DemandSection = DemandSection()
    simulation: SimulationSection = SimulationSection()
    calibration: CalibrationSection = CalibrationSection()
    economics: EconomicsSection = EconomicsSection()
    risk: RiskSection = RiskSection()
    interventions: list[dict[str, Any]] = Field(default_factory=list)
