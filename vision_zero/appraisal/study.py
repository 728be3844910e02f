"""Find or run the replications of a baseline and its variants, and compare them pair by pair.

:func:`compare_scenarios` takes scenario files (a baseline first), finds or runs their replications through
:func:`vision_zero.runs.replications.run_comparison` (which resumes and skips what is already on disk, so a second call
only reads) and compares them (:func:`vision_zero.appraisal.compare.compare`). The outputs stage
(:func:`vision_zero.outputs.write.write_outputs`) writes what a committee reads from the result.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from vision_zero.appraisal.compare import Comparison, ScenarioRuns, compare
from vision_zero.appraisal.economics import InterventionCost
from vision_zero.core.parameters import ParameterSet
from vision_zero.network.road_network import RoadNetwork
from vision_zero.program.interventions import Crossing, SpeedCamera, SpeedLimit
from vision_zero.program.selectors import road_km
from vision_zero.program.touched import Touched
from vision_zero.runs.jobs import scenario_job, scenario_view
from vision_zero.runs.parallel import make_executor
from vision_zero.runs.preparation import AppliedScenario, prepare
from vision_zero.runs.replications import may_share_traffic, run_comparison, traffic_store_dir
from vision_zero.runs.results import ReplicationResult
from vision_zero.runs.scenario_demand import simulated_periods
from vision_zero.runs.sensitivity import ScenarioTraffic, risk_sensitivity
from vision_zero.runs.stopping import check_stopping_options

__all__ = ["CompareInputs", "ContentItem", "compare_scenarios", "program_content", "scenario_traffic"]


@dataclass(frozen=True)
class ContentItem:
    """One intervention of a program as applied: what it is and how much of it (for the decision summary).

    Attributes
    ----------
    title
        The intervention's label (or type and setting).
    type
        Intervention type (``speed_limit``, ``speed_camera``, ``crossing`` …).
    detail
        The setting that says what it is: the limit [km/h] and enforcement, the camera mode, the crossing type
        and action (``"30|camera"``, ``"fixed"``, ``"refuge_island|upgrade"``), else ``""``.
    quantity, unit
        What its cost counts (``Cost.quantity`` and ``Cost.unit``: camera sites, km, crossings …).
    road_km
        Road length its selector matched [km], a two-way street counted once.
    camera_km
        Road it put under camera enforcement that had none before [km]: a ``speed_camera`` (fixed or section)
        or a ``speed_limit`` enforced by ``camera`` or ``section_control`` (an earlier intervention's cameras are
        not counted again, as the costs do).
    """

    title: str
    type: str
    detail: str
    quantity: float
    unit: str
    road_km: float
    camera_km: float = 0.0


def program_content(applied: AppliedScenario) -> tuple[ContentItem, ...]:
    """Per intervention of an applied scenario, a :class:`ContentItem`."""
    items = []
    network = applied.network
    enforced = np.zeros(len(network.links), dtype=bool)  # camera-enforced by an earlier intervention
    for a in applied.interventions:
        iv = applied.scenario.interventions[a.index]
        cameras = isinstance(iv, SpeedCamera) or (
            isinstance(iv, SpeedLimit) and iv.enforcement in ("camera", "section_control")
        )
        new = np.zeros(len(network.links), dtype=bool)
        if cameras:
            new[a.touched.links] = True
            new &= ~enforced
            enforced |= new
        if isinstance(iv, SpeedLimit):
            detail = f"{iv.limit_kph:g}|{iv.enforcement}"
        elif isinstance(iv, SpeedCamera):
            detail = str(iv.mode)
        elif isinstance(iv, Crossing):
            detail = f"{iv.crossing_type}|{iv.action}"
        else:
            detail = ""
        items.append(
            ContentItem(
                a.title,
                a.type,
                detail,
                float(a.cost.quantity),
                str(a.cost.unit),
                a.selection.road_km,
                road_km(network, new) if new.any() else 0.0,
            )
        )
    return tuple(items)


@dataclass(frozen=True)
class CompareInputs:
    """One scenario's runs plus what the outputs need from its prepared scenario.

    Attributes
    ----------
    runs
        The replications with costs, economics overrides and the schematic flag.
    network
        The scenario's network with its interventions applied (maps, touched links, GeoPackage).
    parameters
        The parameter set the scenario used (tornado ranges, sources table).
    description
        The scenario file's ``description`` (what the program is, in a sentence or two; the default text).
    descriptions
        Language -> the description in it, where the scenario file gives one (see
        :meth:`vision_zero.program.scenario.Scenario.description_in`).
    content
        What the program consists of, per intervention (:func:`program_content`).
    touched
        What the scenario's interventions changed on ``network`` (the KSI split, speed charts).
    """

    runs: ScenarioRuns
    network: RoadNetwork
    parameters: ParameterSet = field(default_factory=ParameterSet)
    description: str = ""
    descriptions: Mapping[str, str] = field(default_factory=dict)
    content: tuple[ContentItem, ...] = ()
    touched: Touched = field(default_factory=Touched)

    def description_in(self, lang: str) -> tuple[str, bool]:
        """The description in ``lang`` and True, or the default and False (``lang`` not given by the file)."""
        text = self.descriptions.get(lang)
        return (text, True) if text else (self.description, lang == "en")


def _runs_from(
    applied: AppliedScenario, results: Sequence[ReplicationResult], run_dir: Path | None
) -> CompareInputs:
    """Build :class:`CompareInputs` from a scenario's applied interventions and its results."""
    costs = tuple(
        InterventionCost(
            name=c.label,
            capital=float(c.capital),
            annual=float(c.annual),
            lifetime_years=float(c.lifetime_years) if c.lifetime_years else None,
            source=str(c.source),
        )
        for c in applied.costs
    )
    net: RoadNetwork = applied.network
    runs = ScenarioRuns(
        name=applied.name,
        replications=list(results),
        schematic=bool(net.schematic),
        costs=costs,
        economics=applied.scenario.economics.overrides(),
        network_source=str(net.source),
        run_dir=run_dir,
    )
    return CompareInputs(
        runs=runs,
        network=net,
        parameters=applied.parameters,
        description=str(applied.scenario.description),
        descriptions=dict(applied.scenario.descriptions),
        content=program_content(applied),
        touched=applied.touched,
    )


def compare_scenarios(
    baseline: Path,
    variants: Sequence[Path],
    *,
    results_dir: Path = Path("results"),
    replications: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    executor: Any = None,
    progress: bool = True,
    stream: TextIO | None = None,
    sensitivity: bool = True,
    link_events: bool = False,
    target_ci_pct: float | None = None,
    max_replications: int = 200,
) -> tuple[Comparison, list[CompareInputs]]:
    """Find (or run, resuming) the replications of a baseline and its variants, and compare them pair by pair.

    Parameters
    ----------
    baseline, variants
        Scenario files; a variant equal to the baseline file is skipped (so ``scenarios/*.toml`` works).
    results_dir
        Where run folders live (``<results_dir>/<scenario>/<run-id>/``).
    replications
        Replications per scenario; default: the largest number any of the scenarios asks for, so that every
        variant has a partner for each baseline replication.
    seed
        Replaces every scenario's seed (all scenarios must share one for common random numbers).
    overrides
        Key path -> value applied to every scenario (as ``--set`` gives them), e.g. a smaller demand for a try.
    executor
        A :class:`vision_zero.runs.parallel.Executor`; default: a local process pool.
    sensitivity
        Also re-run the risk stage per parameter on the stored traffic for the tornado charts
        (:attr:`~vision_zero.appraisal.compare.VariantComparison.sensitivity`).
    link_events
        Every scenario's replications also write ``link_events.parquet`` (every vehicle's link entries and exits:
        :func:`vision_zero.runs.replications.run_job`); the comparison is the same either way.
    target_ci_pct, max_replications
        Run pairs in rounds until each variant's 95% interval of KSI avoided is narrower than ``target_ci_pct``
        percent of its mean (full width: 40 = ±20%), or out of reach, or ``max_replications`` pairs
        (:func:`vision_zero.runs.replications.run_comparison`; ``replications`` is then the first round). Each
        variant's :attr:`~vision_zero.appraisal.compare.VariantComparison.target` says where it stopped, and the
        "replications for ±x%" figures are for ``target_ci_pct / 2``.
    """
    check_stopping_options(replications, target_ci_pct, max_replications)
    log = stream or sys.stderr
    base_path = Path(baseline).resolve()
    seen = {base_path}
    var_paths = []
    for p in variants:
        rp = Path(p).resolve()
        if rp not in seen:
            seen.add(rp)
            var_paths.append(Path(p))
    # one command loads each network source and makes each distinct scenario's job once (a baseline shared by
    # every variant included); a job is prepared only if one of its replications has to run
    networks: dict[str, Any] = {}
    jobs_made: dict[tuple[str, ...], Any] = {}
    base_job = scenario_job(
        baseline, seed=seed, overrides=overrides, networks=networks, jobs=jobs_made, lazy=True
    )
    var_jobs = [
        scenario_job(
            p,
            seed=seed if seed is not None else base_job.seed,
            overrides=overrides,
            networks=networks,
            jobs=jobs_made,
            lazy=True,
        )
        for p in var_paths
    ]
    for job, path in zip(var_jobs, var_paths, strict=True):
        if job.baseline is None or job.baseline.name != base_job.name:
            b = "itself" if job.baseline is None else repr(job.baseline.name)
            print(
                f"vision-zero: note: {path}: calibrated against {b}, compared against {base_job.name!r}",
                file=log,
            )

    def run_all(ex: Any) -> list[Any]:
        # one traffic store for the whole comparison: every variant whose traffic inputs equal the baseline's
        # (crossing upgrades) re-uses the baseline replication's vehicle traffic instead of simulating it again
        share = any(may_share_traffic(j) for j in var_jobs)
        with traffic_store_dir(Path(results_dir)) if share else contextlib.nullcontext() as store:
            return run_comparison(
                base_job,
                var_jobs,
                out_dir=results_dir,
                executor=ex,
                replications=replications,
                target_ci_pct=target_ci_pct,
                max_replications=max_replications,
                progress=progress,
                traffic_store=store,
                link_events=link_events,
            )

    jobs = [base_job, *var_jobs]

    def run_and_compare(ex: Any) -> tuple[Comparison, list[CompareInputs]]:
        runs = run_all(ex)
        views = [scenario_view(j) for j in jobs]
        inputs = [_runs_from(v, r.results, r.run_dir) for v, r in zip(views, runs, strict=True)]
        params = inputs[0].parameters if len(inputs[0].parameters) else None
        comparison = compare(
            inputs[0].runs,
            [i.runs for i in inputs[1:]],
            parameters=params,
            precision_pct=None if target_ci_pct is None else target_ci_pct / 2.0,
        )
        if target_ci_pct is not None:
            comparison = replace(
                comparison,
                variants=tuple(
                    replace(v, target=r.extra["precision"])
                    for v, r in zip(comparison.variants, runs[1:], strict=True)
                ),
            )
        if sensitivity and comparison.variants:  # over the same executor: one task per pair
            comparison = _with_sensitivity(comparison, views, inputs, log if progress else None, ex)
        return comparison, inputs

    if executor is None:
        with make_executor() as ex:
            return run_and_compare(ex)
    return run_and_compare(executor)


def scenario_traffic(view: AppliedScenario, runs: ScenarioRuns) -> ScenarioTraffic:
    """What re-running the risk stage of a scenario's replications needs (:mod:`vision_zero.runs.sensitivity`)."""
    records = None
    if view.scenario.calibration.crash_records is not None:  # a baseline's targets are its records
        records = prepare(view.scenario, applied=view, calibrate_demand=False).crash_records
    return ScenarioTraffic(
        applied=view,
        periods=simulated_periods(view.scenario, view.parameters),
        replications=runs.replications,
        run_dir=runs.run_dir if runs.run_dir is not None else Path(),
        crash_records=records,
    )


def _with_sensitivity(
    comparison: Comparison,
    views: Sequence[AppliedScenario],
    inputs: Sequence[CompareInputs],
    log: TextIO | None,
    executor: Any = None,
) -> Comparison:
    """The comparison with each variant's :func:`~vision_zero.runs.sensitivity.risk_sensitivity` (the tornado).

    ``executor``: runs the pairs (the replications' :class:`~vision_zero.runs.parallel.Executor`; default: this
    process); same tables whichever runs them.
    """
    import time

    start = time.perf_counter()
    traffic = [scenario_traffic(view, inp.runs) for view, inp in zip(views, inputs, strict=True)]
    tables = risk_sensitivity(traffic[0], traffic[1:], inputs[0].parameters, executor=executor)
    if log is not None:
        print(
            f"vision-zero: sensitivity: the risk stage re-run per parameter on the stored traffic "
            f"({time.perf_counter() - start:.0f} s)",
            file=log,
        )
    return replace(
        comparison,
        variants=tuple(replace(v, sensitivity=tables.get(v.variant)) for v in comparison.variants),
    )
