"""What every intervention is and returns: the base class, its context, its :class:`Effect` and its cost.

:class:`Intervention` is the base of the kinds registered in :mod:`vision_zero.program.interventions`; applying
one returns an :class:`Effect`: the new network, the risk-modifier table (:data:`MODIFIER_COLUMNS`), the
:class:`Binding` s of network values to uncertain parameters (re-set per replication by :func:`apply_bindings`)
and a :class:`Cost` (a scenario may override its unit costs: :class:`CostOverride`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from vision_zero.core.parameters import ParameterSet
from vision_zero.network.road_network import RoadNetwork
from vision_zero.program.selectors import Selection, Selector, select_links
from vision_zero.program.touched import Touched

__all__ = [
    "MODIFIER_COLUMNS",
    "ApplyContext",
    "Binding",
    "Cost",
    "CostOverride",
    "Effect",
    "Intervention",
    "apply_bindings",
    "empty_modifiers",
]

#: Columns of the risk-modifier table (see :class:`vision_zero.risk.crash_model.CrashEstimate`).
MODIFIER_COLUMNS: tuple[str, ...] = ("site_type", "site", "road_user", "severity", "parameter")


def empty_modifiers() -> pd.DataFrame:
    """A risk-modifier table with no rows."""
    return pd.DataFrame(
        {
            "site_type": pd.Series(dtype=str),
            "site": pd.Series(dtype=np.int64),
            "road_user": pd.Series(dtype=str),
            "severity": pd.Series(dtype=str),
            "parameter": pd.Series(dtype=str),
        }
    )


@dataclass(frozen=True)
class Binding:
    """Network values tied to an uncertain parameter: ``table[column][rows] = scale * draw[parameter]``.

    Interventions are applied once with central values; each replication re-sets bound values from its own
    parameter draw (:func:`apply_bindings`), so the intervals carry the evidence's spread. With ``upper``, the
    value is ``fmin(scale * draw[parameter], upper)`` (a cap the row had before; NaN: none), as an intervention
    that lowers a capacity to its own figure sets it.
    """

    table: Literal["links", "nodes", "crossings"]
    column: str
    rows: npt.NDArray[np.int64]
    parameter: str
    scale: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True)
class Cost:
    """What one intervention costs: ``capital = unit_cost * quantity``, ``annual = annual_cost * quantity``.

    Money in the currency of the parameters file (USD) unless the scenario overrides the unit costs.
    """

    label: str
    quantity: float
    unit: str
    unit_cost: float
    annual_cost: float
    lifetime_years: float
    source: str

    @property
    def capital(self) -> float:
        """One-off cost [currency]."""
        return self.unit_cost * self.quantity

    @property
    def annual(self) -> float:
        """Running cost per year [currency/year]."""
        return self.annual_cost * self.quantity


class CostOverride(BaseModel):
    """A scenario's own unit costs for one intervention (any subset)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    unit_cost: float | None = Field(default=None, ge=0)
    annual_cost: float | None = Field(default=None, ge=0)
    lifetime_years: float | None = Field(default=None, gt=0)
    source: str | None = None


@dataclass(frozen=True)
class ApplyContext:
    """What an intervention needs besides the network: parameters and where it was written."""

    parameters: ParameterSet
    base_dir: Path = Path(".")
    origin: str = "<scenario>"
    key: str = "interventions[0]"


@dataclass(frozen=True)
class Effect:
    """The result of applying one intervention: the new network and what the intervention touched on it."""

    network: RoadNetwork
    modifiers: pd.DataFrame
    bindings: tuple[Binding, ...]
    cost: Cost
    selection: Selection
    touched: Touched = field(default_factory=Touched)
    notes: tuple[str, ...] = field(default_factory=tuple)


class Intervention(BaseModel):
    """Base of every intervention: ``type``, an optional ``label``, a ``where`` selector, a ``cost`` override."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    kind: ClassVar[str] = ""
    type: str
    label: str | None = None
    where: Selector = Selector()
    cost: CostOverride | None = None

    def title(self) -> str:
        """The label, or the type and its main setting."""
        return self.label or self.type

    def apply(self, network: RoadNetwork, ctx: ApplyContext) -> Effect:
        """Apply to ``network``; raises :class:`~vision_zero.core.errors.SelectorError` if nothing is selected."""
        raise NotImplementedError

    # helpers -------------------------------------------------------------------------------------------
    def _links(self, network: RoadNetwork, ctx: ApplyContext) -> npt.NDArray[np.bool_]:
        return select_links(
            network, self.where, base_dir=ctx.base_dir, origin=ctx.origin, key=f"{ctx.key}.where"
        )

    def _cost(
        self,
        ctx: ApplyContext,
        *,
        quantity: float,
        unit: str,
        unit_cost: float,
        annual_cost: float,
        lifetime_years: float,
        source: str,
    ) -> Cost:
        o = self.cost or CostOverride()
        return Cost(
            label=self.title(),
            quantity=float(quantity),
            unit=unit,
            unit_cost=unit_cost if o.unit_cost is None else o.unit_cost,
            annual_cost=annual_cost if o.annual_cost is None else o.annual_cost,
            lifetime_years=lifetime_years if o.lifetime_years is None else o.lifetime_years,
            source=o.source or (source if o == CostOverride() else f"scenario file; defaults: {source}"),
        )


def apply_bindings(
    network: RoadNetwork, bindings: tuple[Binding, ...], draw: dict[str, float]
) -> RoadNetwork:
    """Re-set bound network values from one replication's parameter draw (in the order given)."""
    if not bindings:
        return network
    tables: dict[str, pd.DataFrame] = {}
    for b in bindings:
        frame = tables.get(b.table)
        if frame is None:
            frame = getattr(network, b.table).copy()
            tables[b.table] = frame
        values = frame[b.column].to_numpy(dtype=float, copy=True)
        bound = b.scale * draw[b.parameter]
        values[b.rows] = bound if b.upper is None else np.fmin(bound, b.upper)
        frame[b.column] = values
    return network.with_tables(**tables)
