"""Interventions, registered by name: what each changes in the network, which evidence it carries, what it costs.

Every intervention is a small pydantic model (strict: unknown keys are errors) with an ``apply`` method that
returns an :class:`Effect`: a modified :class:`~vision_zero.network.road_network.RoadNetwork` (through
:meth:`RoadNetwork.with_tables`), risk modifiers (crash-modification factors, only where no mechanism is
modelled, see :class:`vision_zero.risk.crash_model.CrashEstimate`), :class:`Binding` s of network columns to uncertain
parameters (so each replication draws them), and a :class:`Cost`.

===================  ===========================================================  ==========================
name                 changes                                                      evidence reaches risk via
===================  ===========================================================  ==========================
``speed_limit``      ``speed_limit_kph``, free-flow time, ``speed_response`` by    simulated speeds
                     enforcement, ``reference_speed_kph`` kept at the old limit
``speed_camera``     ``mean_speed_factor``, ``over_limit_factor`` (fixed/section)  simulated speeds
``crossing``         new crossings every N m, or ``crossing_type`` of existing     crossing mechanism in risk
                                                                                   (raised: + occupant CMF)
``traffic_calming``  ``design_speed_kph`` (humps, tables, cushions)                simulated speeds
``road_diet``        ``lanes``, ``capacity_vph``, ``storage_veh``                  simulation + CMF
``roundabout``       node ``junction_control``; ``exit_capacity_vph``              simulation + CMF
===================  ===========================================================  ==========================

A link carries at most one camera: ``speed_camera`` and a ``speed_limit`` enforced by ``camera`` or
``section_control`` mark their links in the added boolean link column ``camera_enforced``, and a later one of them
neither charges a camera again nor (``speed_camera``) lowers speeds again on links already marked.

Numbers (speed response, camera factors, design speeds, unit costs, lifetimes) come from
``vision_zero/data/parameters/interventions.toml``; crash-modification factors from ``risk.toml`` (``risk.cmf.*``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field, model_validator

from vision_zero.core.errors import SelectorError
from vision_zero.core.parameters import ParameterSet
from vision_zero.network.road_network import (
    SIGNAL_CROSSING_TYPES,
    CrossingType,
    RoadNetwork,
    junction_control,
    link_column,
)
from vision_zero.network.tables import free_flow_travel_time_s
from vision_zero.program.intervention_base import (
    MODIFIER_COLUMNS,
    ApplyContext,
    Binding,
    Cost,
    CostOverride,
    Effect,
    Intervention,
    apply_bindings,
    empty_modifiers,
)
from vision_zero.program.selectors import (
    CrossingFilter,
    Selection,
    new_crossings_along,
    road_km,
    select_crossings,
    select_junctions,
)
from vision_zero.program.touched import Touched

__all__ = [
    "INTERVENTIONS",
    "MODIFIER_COLUMNS",
    "ApplyContext",
    "Binding",
    "Cost",
    "CostOverride",
    "Crossing",
    "Effect",
    "Intervention",
    "RoadDiet",
    "Roundabout",
    "SpeedCamera",
    "SpeedLimit",
    "TrafficCalming",
    "apply_bindings",
    "empty_modifiers",
]

Enforcement = Literal["signs", "police", "camera", "section_control", "calming"]
JunctionControl = Literal["signal", "priority"]
_CONTROLS: tuple[JunctionControl, ...] = ("signal", "priority")


def _link_series(links: pd.DataFrame, name: str) -> pd.Series:
    """An optional link column, or its default (:func:`vision_zero.network.road_network.link_column`)."""
    return pd.Series(link_column(links, name), index=links.index, dtype=float)


def _column(frame: pd.DataFrame, name: str, default: float) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype(float)
    return pd.Series(default, index=frame.index, dtype=float)


def _camera_enforced(links: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """The links already under camera enforcement (column ``camera_enforced``; False where absent)."""
    if "camera_enforced" not in links.columns:
        return np.zeros(len(links), dtype=bool)
    return links["camera_enforced"].eq(True).to_numpy(dtype=bool)


def _mark_camera_enforced(links: pd.DataFrame, mask: npt.NDArray[np.bool_]) -> None:
    links["camera_enforced"] = _camera_enforced(links) | mask


def _cost_source(params: ParameterSet, *names: str) -> str:
    return "; ".join(f"{n.rsplit('.', 1)[-1]}: {params[n].source} [{params[n].status}]" for n in names)


# --------------------------------------------------------------------------------------------- speed limit


class SpeedLimit(Intervention):
    """A new posted limit on the selected links.

    Drivers respond to a share of the change that depends on enforcement (``speed_response``, SCIENCE.md §4):
    ``signs`` ≈ 0.1, ``police`` ≈ 0.3, ``camera`` ≈ 0.4, ``section_control`` ≈ 0.5, ``calming`` ≈ 0.9 (and the
    calming's design speed, set to the new limit, caps desired speeds). ``reference_speed_kph`` keeps the limit
    drivers were used to (the first limit, when several speed-limit interventions touch a link).
    """

    kind: ClassVar[str] = "speed_limit"
    type: Literal["speed_limit"]
    limit_kph: float = Field(gt=0, le=130)
    enforcement: Enforcement = "signs"

    def title(self) -> str:
        """E.g. ``speed_limit 60 km/h (signs)``."""
        return self.label or f"speed_limit {self.limit_kph:g} km/h ({self.enforcement})"

    def apply(self, network: RoadNetwork, ctx: ApplyContext) -> Effect:
        """New limit, free-flow time and speed response on the selected links."""
        mask = self._links(network, ctx)
        links = network.links.copy()
        links["reference_speed_kph"] = _link_series(links, "reference_speed_kph")
        links["speed_response"] = _link_series(links, "speed_response")
        param = f"interventions.speed_limit.speed_response.{self.enforcement}"
        response = ctx.parameters.value(param)
        links.loc[mask, "speed_limit_kph"] = self.limit_kph
        links.loc[mask, "free_flow_travel_time_s"] = free_flow_travel_time_s(
            links.loc[mask, "length_m"], self.limit_kph
        )
        links.loc[mask, "speed_response"] = response
        if self.enforcement == "calming":
            design = _link_series(links, "design_speed_kph")
            links["design_speed_kph"] = design
            links.loc[mask, "design_speed_kph"] = np.fmin(design[mask].to_numpy(), self.limit_kph)
        rows = np.flatnonzero(mask)
        km = road_km(network, mask)
        notes: tuple[str, ...] = ()
        old_limit = network.links["speed_limit_kph"].to_numpy(dtype=float)
        unchanged = mask & np.isclose(old_limit, self.limit_kph)
        if unchanged.any():  # e.g. 60 -> 60 km/h: no change there, though the signs are still charged
            share = (
                "all" if unchanged.sum() == mask.sum() else f"{int(unchanged.sum())} of the {int(mask.sum())}"
            )
            notes = (
                f"{share} selected links already have a {self.limit_kph:g} km/h limit: no change there "
                f"({road_km(network, unchanged):.1f} km; their cost is still counted)",
            )
        raised = mask & (old_limit < self.limit_kph) & ~unchanged
        if raised.any():  # e.g. living streets at 20 km/h inside a 30 km/h zone: their limit goes up
            share = "all" if raised.sum() == mask.sum() else f"{int(raised.sum())} of the {int(mask.sum())}"
            lowest = float(old_limit[raised].min())
            notes += (
                f"{share} selected links have a lower limit (from {lowest:g} km/h): this raises it there to "
                f"{self.limit_kph:g} km/h ({road_km(network, raised):.1f} km)",
            )
        # cameras are charged only on the km not already camera-enforced by an earlier intervention
        new_cam = mask & ~_camera_enforced(links)
        cam_share = road_km(network, new_cam) / km if km > 0 else 0.0
        if self.enforcement in ("camera", "section_control"):
            if cam_share < 1.0:
                notes += (
                    f"{int((mask & ~new_cam).sum())} selected links already have camera enforcement: "
                    "their camera is not charged again",
                )
            _mark_camera_enforced(links, mask)
        p = ctx.parameters
        base = "interventions.speed_limit.cost."
        unit_cost = p.value(base + "unit_cost")
        annual = 0.0
        names = [base + "unit_cost", base + "lifetime_years"]
        cam = "interventions.speed_camera.cost."
        if self.enforcement == "police":
            annual = p.value(base + "police_annual_cost")
            names.append(base + "police_annual_cost")
        elif self.enforcement == "camera":  # one fixed camera site per km (of road without a camera yet)
            unit_cost += p.value(cam + "fixed_unit_cost") * cam_share
            annual = p.value(cam + "annual_cost") * cam_share
            names += [cam + "fixed_unit_cost", cam + "annual_cost"]
        elif self.enforcement == "section_control":
            unit_cost += p.value(cam + "section_unit_cost") * cam_share
            annual = p.value(cam + "annual_cost") * cam_share
            names += [cam + "section_unit_cost", cam + "annual_cost"]
        elif self.enforcement == "calming":
            unit_cost += p.value(base + "calming_unit_cost")
            names.append(base + "calming_unit_cost")
        cost = self._cost(
            ctx,
            quantity=km,
            unit="km",
            unit_cost=unit_cost,
            annual_cost=annual,
            lifetime_years=p.value(base + "lifetime_years"),
            source=_cost_source(p, *names),
        )
        binding = Binding("links", "speed_response", rows, param, np.ones(len(rows)))
        return Effect(
            network=network.with_tables(links=links),
            modifiers=empty_modifiers(),
            bindings=(binding,),
            cost=cost,
            touched=Touched.of(links=mask),
            selection=Selection(links=int(mask.sum()), road_km=km),
            notes=notes,
        )


# -------------------------------------------------------------------------------------------- speed camera


class SpeedCamera(Intervention):
    """Fixed speed cameras or section (average-speed) control on the selected links.

    Multiplies ``mean_speed_factor`` and ``over_limit_factor`` (Wilson et al. 2010 for fixed cameras; section
    control: assumptions, see interventions.toml). The crash effect follows from the simulated speeds, so the
    crash-level CMFs of cameras (``risk.cmf.speed_camera.*``) are not applied (no double counting).
    Cost: fixed cameras one site per km of selected road (at least one); section control per km.
    Links already under camera enforcement (an earlier ``speed_camera`` or camera-enforced ``speed_limit``) are
    left as they are: neither charged nor slowed twice.
    """

    kind: ClassVar[str] = "speed_camera"
    type: Literal["speed_camera"]
    mode: Literal["fixed", "section"] = "fixed"

    def title(self) -> str:
        """E.g. ``speed_camera (section)``."""
        return self.label or f"speed_camera ({self.mode})"

    def apply(self, network: RoadNetwork, ctx: ApplyContext) -> Effect:
        """Camera speed factors on the selected links."""
        selected = self._links(network, ctx)
        links = network.links.copy()
        mask = selected & ~_camera_enforced(links)
        notes: tuple[str, ...] = ()
        if (selected & ~mask).any():
            notes = (
                f"{int((selected & ~mask).sum())} selected links already have camera enforcement: "
                "left as they are (not charged or slowed twice)",
            )
        _mark_camera_enforced(links, mask)
        rows = np.flatnonzero(mask)
        bindings = []
        for column in ("mean_speed_factor", "over_limit_factor"):
            param = f"interventions.speed_camera.{self.mode}.{column}"
            current = _link_series(links, column)
            scale = current.to_numpy()[rows]
            links[column] = current
            links.loc[mask, column] = scale * ctx.parameters.value(param)
            bindings.append(Binding("links", column, rows, param, scale))
        km = road_km(network, mask)
        p = ctx.parameters
        c = "interventions.speed_camera.cost."
        if self.mode == "fixed":
            sites = float(max(1, math.ceil(km))) if rows.size else 0.0
            quantity, unit, unit_name = sites, "camera site", c + "fixed_unit_cost"
        else:
            quantity, unit, unit_name = km, "km", c + "section_unit_cost"
        annual = p.value(c + "annual_cost")  # per site, or per km of section (about one site per km)
        cost = self._cost(
            ctx,
            quantity=quantity,
            unit=unit,
            unit_cost=p.value(unit_name),
            annual_cost=annual,
            lifetime_years=p.value(c + "lifetime_years"),
            source=_cost_source(p, unit_name, c + "annual_cost", c + "lifetime_years"),
        )
        return Effect(
            network=network.with_tables(links=links),
            modifiers=empty_modifiers(),
            bindings=tuple(bindings),
            cost=cost,
            touched=Touched.of(links=mask),
            selection=Selection(links=int(mask.sum()), road_km=km),
            notes=notes,
        )


# ---------------------------------------------------------------------------------------------- crossings


class Crossing(Intervention):
    """Add new crossings or upgrade existing ones.

    ``action = "upgrade"``: existing crossings passed over by the selected links, filtered by ``existing``
    (``types``, ``signalised``), get ``crossing_type``. ``action = "add"``: new crossings of ``crossing_type``
    every ``every_m`` metres along the selected links (see :func:`vision_zero.program.selectors.new_crossings_along`).
    The risk model's crossing mechanism does the rest (yielding, approach speed, two-stage crossing); a raised
    crossing also records its design speed in ``crossings.design_speed_kph``.

    Vehicle crashes at a raised crossing: no simulated mechanism covers them (the crossing's design speed caps
    only the pedestrian model's approach speed, not the simulated link speeds), so they are a crash-modification
    factor, ``risk.cmf.raised_crosswalk.vehicle`` (FHWA STEP, -30% vehicle crashes), on the occupant injuries
    (every severity) of the sites a new raised crossing affects: the links whose vehicles pass over it and its
    node when that node is a junction (3 or more legs). Each site gets the factor once, and not at all when it
    already had a raised crossing (its effect is then in the network already).
    """

    kind: ClassVar[str] = "crossing"
    type: Literal["crossing"]
    action: Literal["upgrade", "add"]
    crossing_type: CrossingType
    existing: CrossingFilter | None = None
    every_m: float | None = Field(default=None, ge=20, le=5000)

    @model_validator(mode="after")
    def _consistent(self) -> Crossing:
        if self.action == "add" and self.every_m is None:
            raise ValueError("every_m: the spacing of the new crossings [m], required with action = 'add'")
        if self.action == "add" and self.existing is not None:
            raise ValueError("existing: no filter with action = 'add' (it selects crossings to upgrade)")
        if self.action == "upgrade" and self.every_m is not None:
            raise ValueError(
                "every_m: no spacing with action = 'upgrade' (use action = 'add' for new crossings)"
            )
        return self

    def title(self) -> str:
        """E.g. ``crossing upgrade → raised``."""
        return self.label or f"crossing {self.action} → {self.crossing_type}"

    def apply(self, network: RoadNetwork, ctx: ApplyContext) -> Effect:
        """Upgrade or add crossings on the selected links."""
        mask = self._links(network, ctx)
        crossings = network.crossings.copy()
        crossing_links = network.crossing_links
        if self.action == "upgrade":
            chosen = select_crossings(
                network, mask, self.existing or CrossingFilter(), origin=ctx.origin, key=f"{ctx.key}.existing"
            )
            crossings.loc[chosen, "crossing_type"] = self.crossing_type
            rows = np.flatnonzero(chosen)
        else:
            assert self.every_m is not None
            new, new_links = new_crossings_along(
                network,
                mask,
                every_m=self.every_m,
                crossing_type=self.crossing_type,
                origin=ctx.origin,
                key=f"{ctx.key}.every_m",
            )
            dtypes = {c: t for c, t in crossings.dtypes.items() if c in new.columns}
            crossings = pd.concat([crossings, new.astype(dtypes)])
            crossing_links = pd.concat([crossing_links, new_links], ignore_index=True)
            rows = new.index.to_numpy(dtype=np.int64)
        bindings: list[Binding] = []
        modifiers = empty_modifiers()
        if self.crossing_type == "raised":
            modifiers = _raised_crossing_modifiers(network, crossings, crossing_links, rows)
        crossings["design_speed_kph"] = _column(crossings, "design_speed_kph", math.nan)
        if self.crossing_type == "raised":
            param = "risk.pedestrian.raised.design_speed_kph"
            crossings.loc[rows, "design_speed_kph"] = ctx.parameters.value(param)
            bindings.append(Binding("crossings", "design_speed_kph", rows, param, np.ones(len(rows))))
        else:  # an upgraded raised crossing loses its hump
            crossings.loc[rows, "design_speed_kph"] = math.nan
        p = ctx.parameters
        unit_name = f"interventions.crossing.cost.{self.crossing_type}"
        life = "interventions.crossing.cost.lifetime_years"
        cost = self._cost(
            ctx,
            quantity=len(rows),
            unit="crossing",
            unit_cost=p.value(unit_name),
            annual_cost=0.0,
            lifetime_years=p.value(life),
            source=_cost_source(p, unit_name, life),
        )
        net = network.with_tables(crossings=crossings, crossing_links=crossing_links)
        return Effect(
            network=net,
            modifiers=modifiers,
            bindings=tuple(bindings),
            cost=cost,
            touched=Touched.of(crossings=rows),
            selection=Selection(links=int(mask.sum()), road_km=road_km(network, mask), crossings=len(rows)),
        )


def _raised_crossing_modifiers(
    network: RoadNetwork,
    crossings: pd.DataFrame,
    crossing_links: pd.DataFrame,
    rows: npt.NDArray[np.int64],
) -> pd.DataFrame:
    """Occupant CMF rows (``risk.cmf.raised_crosswalk.vehicle``) for the sites of crossings ``rows``, now raised.

    Sites: the links passing over each crossing (``crossing_links``) and the crossing's node if it is a junction
    (3 or more distinct neighbours, as the junction model counts legs). Sites that had a raised crossing before
    (in ``network``) are left out, and each site appears once.
    """
    before = network.crossings["crossing_type"].astype(str).eq("raised")
    was_raised = np.flatnonzero(before.to_numpy())
    old_links = network.crossing_links
    old_sites = set(old_links.loc[old_links["crossing"].isin(was_raised), "link"].astype(int))
    old_nodes = {int(n) for n in network.crossings["node"].to_numpy()[was_raised] if n >= 0}
    links = crossing_links.loc[crossing_links["crossing"].isin(rows), "link"].to_numpy(dtype=np.int64)
    link_sites = sorted({int(x) for x in links} - old_sites)
    ends = network.links[["u", "v"]].to_numpy(dtype=np.int64)
    ends = ends[ends[:, 0] != ends[:, 1]]
    pairs = np.unique(np.sort(ends, axis=1), axis=0)
    legs = np.bincount(pairs.ravel(), minlength=len(network.nodes))
    nodes = crossings.loc[rows, "node"].to_numpy(dtype=np.int64)
    junctions = sorted({int(n) for n in nodes if n >= 0 and legs[n] >= 3} - old_nodes)
    param = "risk.cmf.raised_crosswalk.vehicle"
    sites = [("link", i) for i in link_sites] + [("junction", n) for n in junctions]
    frame = pd.DataFrame(
        {
            "site_type": pd.Series([t for t, _ in sites], dtype=str),
            "site": pd.Series([i for _, i in sites], dtype=np.int64),
            "road_user": pd.Series(["occupant"] * len(sites), dtype=str),
            "severity": pd.Series(["all"] * len(sites), dtype=str),
            "parameter": pd.Series([param] * len(sites), dtype=str),
        }
    )
    return frame


# ----------------------------------------------------------------------------------------- traffic calming


class TrafficCalming(Intervention):
    """Vertical deflection (humps, tables, cushions) built for ``design_speed_kph`` on the selected links.

    Sets ``design_speed_kph`` (the lower of the existing and the new value), which caps desired speeds in the
    simulation so that it is the calmed street's 85th percentile (``traffic._model.DESIGN_SPEED_QUANTILE``); the
    crash effect follows from the simulated speeds, so the hump CMFs (``risk.cmf.speed_humps.*``) are not
    applied. Quantity: one device every ``spacing_m`` (default from interventions.toml).
    """

    kind: ClassVar[str] = "traffic_calming"
    type: Literal["traffic_calming"]
    design_speed_kph: float = Field(ge=10, le=60)
    device: Literal["humps", "tables", "cushions"] = "humps"
    spacing_m: float | None = Field(default=None, ge=20, le=1000)

    def title(self) -> str:
        """E.g. ``traffic_calming humps 30 km/h``."""
        return self.label or f"traffic_calming {self.device} {self.design_speed_kph:g} km/h"

    def apply(self, network: RoadNetwork, ctx: ApplyContext) -> Effect:
        """Design speed on the selected links."""
        mask = self._links(network, ctx)
        links = network.links.copy()
        design = _link_series(links, "design_speed_kph")
        links["design_speed_kph"] = design
        links.loc[mask, "design_speed_kph"] = np.fmin(design[mask].to_numpy(), self.design_speed_kph)
        km = road_km(network, mask)
        p = ctx.parameters
        spacing_name = "interventions.traffic_calming.spacing_m"
        spacing = self.spacing_m if self.spacing_m is not None else p.value(spacing_name)
        c = "interventions.traffic_calming.cost."
        cost = self._cost(
            ctx,
            quantity=math.ceil(km * 1000.0 / spacing),
            unit="device",
            unit_cost=p.value(c + "unit_cost"),
            annual_cost=0.0,
            lifetime_years=p.value(c + "lifetime_years"),
            source=_cost_source(p, c + "unit_cost", c + "lifetime_years", spacing_name),
        )
        return Effect(
            network=network.with_tables(links=links),
            modifiers=empty_modifiers(),
            bindings=(),
            cost=cost,
            touched=Touched.of(links=mask),
            selection=Selection(links=int(mask.sum()), road_km=km),
        )


# ---------------------------------------------------------------------------------------------- road diet


class RoadDiet(Intervention):
    """Fewer general traffic lanes on the selected links (e.g. 2 → 1 per direction plus a centre turn lane).

    Links with more than ``lanes`` lanes get ``lanes``; capacity and queue storage scale with the lane count
    (the simulation shows the delay); the safety effect of the new layout is the CMF ``risk.cmf.road_diet.all``
    (FHWA-HRT-10-053), applied to every casualty on the converted links.
    """

    kind: ClassVar[str] = "road_diet"
    type: Literal["road_diet"]
    lanes: int = Field(ge=1, le=6)

    def title(self) -> str:
        """E.g. ``road_diet to 1 lane``."""
        return self.label or f"road_diet to {self.lanes} lane{'s' if self.lanes > 1 else ''} per direction"

    def apply(self, network: RoadNetwork, ctx: ApplyContext) -> Effect:
        """Lanes, capacity and storage on the selected links with more lanes; CMF rows for them."""
        mask = self._links(network, ctx)
        links = network.links.copy()
        old = links["lanes"].to_numpy(dtype=float)
        changed = mask & (old > self.lanes)
        if not changed.any():
            raise SelectorError(
                ctx.origin,
                f"{ctx.key}.lanes",
                f"fewer lanes than the selected links have (they have at most {int(old[mask].max())})",
                self.lanes,
            )
        ratio = self.lanes / old[changed]
        links.loc[changed, "lanes"] = self.lanes
        links.loc[changed, "capacity_vph"] = links.loc[changed, "capacity_vph"].to_numpy() * ratio
        links.loc[changed, "storage_veh"] = links.loc[changed, "storage_veh"].to_numpy() * ratio
        sites = np.flatnonzero(changed)
        modifiers = pd.DataFrame(
            {
                "site_type": "link",
                "site": sites.astype(np.int64),
                "road_user": "all",
                "severity": "all",
                "parameter": "risk.cmf.road_diet.all",
            }
        )
        km = road_km(network, changed)
        p = ctx.parameters
        c = "interventions.road_diet.cost."
        cost = self._cost(
            ctx,
            quantity=km,
            unit="km",
            unit_cost=p.value(c + "unit_cost"),
            annual_cost=0.0,
            lifetime_years=p.value(c + "lifetime_years"),
            source=_cost_source(p, c + "unit_cost", c + "lifetime_years"),
        )
        return Effect(
            network=network.with_tables(links=links),
            modifiers=modifiers,
            bindings=(),
            cost=cost,
            touched=Touched.of(links=changed),
            selection=Selection(links=int(changed.sum()), road_km=km),
        )


# --------------------------------------------------------------------------------------------- roundabout


class Roundabout(Intervention):
    """Convert junctions at the ends of the selected links into single-lane roundabouts.

    Selected junctions: nodes where a selected link ends, with at least ``min_legs`` legs and a current control
    in ``control``. Sets ``junction_control = "roundabout"`` and ``signalised = False``; caps the outflow of the
    entering links at ``entry_capacity_vph_per_lane`` × lanes (``exit_capacity_vph``: a junction capacity);
    signalised crossings on the legs become marked (zebra) crossings, and every crossing at the junction gets the
    entry design speed (``entry_design_speed_kph``). Both figures are bound (:class:`Binding`): each replication
    uses its own draw of them. Crash effect: ``risk.cmf.roundabout.fatal`` on fatal and
    ``risk.cmf.roundabout.injury`` on serious and slight casualties at the junction (TS-handbok §1.6).
    """

    kind: ClassVar[str] = "roundabout"
    type: Literal["roundabout"]
    control: list[JunctionControl] = Field(default_factory=lambda: list(_CONTROLS), min_length=1)
    min_legs: int = Field(default=3, ge=3, le=6)

    def title(self) -> str:
        """E.g. ``roundabout``."""
        return self.label or "roundabout"

    def apply(self, network: RoadNetwork, ctx: ApplyContext) -> Effect:
        """Junction control, entry capacity, crossings and CMF rows at the selected junctions."""
        mask = self._links(network, ctx)
        junctions = select_junctions(
            network,
            mask,
            control=list(self.control),
            min_legs=self.min_legs,
            osm_nodes=self.where.osm_node,
            origin=ctx.origin,
            key=f"{ctx.key}.where",
        )
        p = ctx.parameters
        nodes = network.nodes.copy()
        nodes["junction_control"] = junction_control(nodes)
        nodes.loc[junctions, "junction_control"] = "roundabout"
        nodes.loc[junctions, "signalised"] = False
        links = network.links.copy()
        entering = np.isin(links["v"].to_numpy(dtype=np.int64), junctions)
        cap_name = "interventions.roundabout.entry_capacity_vph_per_lane"
        lanes = links["lanes"].to_numpy(dtype=float)
        exit_cap = _column(links, "exit_capacity_vph", math.nan).to_numpy(dtype=float)
        links["exit_capacity_vph"] = np.where(
            entering, np.fmin(exit_cap, lanes * p.value(cap_name)), exit_cap
        )
        entry_rows = np.flatnonzero(entering)
        crossings = network.crossings.copy()
        crossings["design_speed_kph"] = _column(crossings, "design_speed_kph", math.nan)
        at = np.isin(crossings["node"].to_numpy(dtype=np.int64), junctions)
        signal = at & crossings["crossing_type"].astype(str).isin(SIGNAL_CROSSING_TYPES).to_numpy()
        crossings.loc[signal, "crossing_type"] = "marked"
        ds_name = "interventions.roundabout.entry_design_speed_kph"
        crossings.loc[at, "design_speed_kph"] = p.value(ds_name)
        at_rows = np.flatnonzero(at)
        # each replication's draw of the two figures is what its run uses (the entry capacity under any lower
        # exit capacity the entering link had before)
        bindings = (
            Binding(
                "links", "exit_capacity_vph", entry_rows, cap_name, lanes[entry_rows], exit_cap[entry_rows]
            ),
            Binding("crossings", "design_speed_kph", at_rows, ds_name, np.ones(len(at_rows))),
        )
        rows = [
            {"site_type": "junction", "site": int(n), "road_user": "all", "severity": sev, "parameter": par}
            for n in junctions
            for sev, par in (
                ("fatal", "risk.cmf.roundabout.fatal"),
                ("serious", "risk.cmf.roundabout.injury"),
                ("slight", "risk.cmf.roundabout.injury"),
            )
        ]
        c = "interventions.roundabout.cost."
        cost = self._cost(
            ctx,
            quantity=len(junctions),
            unit="junction",
            unit_cost=p.value(c + "unit_cost"),
            annual_cost=0.0,
            lifetime_years=p.value(c + "lifetime_years"),
            source=_cost_source(p, c + "unit_cost", c + "lifetime_years"),
        )
        net = network.with_tables(links=links, nodes=nodes, crossings=crossings)
        return Effect(
            network=net,
            modifiers=pd.DataFrame(rows, columns=list(MODIFIER_COLUMNS)),
            bindings=bindings,
            cost=cost,
            touched=Touched.of(links=entering, nodes=junctions, crossings=at),
            selection=Selection(
                links=int(mask.sum()),
                road_km=road_km(network, mask),
                crossings=int(at.sum()),
                junctions=len(junctions),
            ),
        )


#: Every intervention kind by the name a scenario file uses in ``type = "..."``.
INTERVENTIONS: dict[str, type[Intervention]] = {
    cls.kind: cls for cls in (SpeedLimit, SpeedCamera, Crossing, TrafficCalming, RoadDiet, Roundabout)
}


def describe_interventions() -> dict[str, Any]:
    """Name -> (docstring summary, fields) of every registered intervention, for help texts."""
    out: dict[str, Any] = {}
    for name, cls in INTERVENTIONS.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        out[name] = {"summary": doc, "fields": [f for f in cls.model_fields if f != "type"]}
    return out
