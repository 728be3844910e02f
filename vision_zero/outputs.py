"""Everything ``vision-zero compare`` writes, and the run-finding that feeds it.

:func:`compare_scenarios` takes scenario files (a baseline first), finds or runs their replications through
:func:`vision_zero.replications.run_job` (which resumes and skips what is already on disk, so a second call only
reads), compares them (:func:`vision_zero.compare.compare`) and :func:`write_outputs` writes, into one folder:

``comparison.csv/.parquet``, ``scenarios.csv/.parquet``, ``headline.csv/.parquet``, ``pairs.csv/.parquet``,
``ksi_split.csv/.parquet`` (KSI avoided on the links each variant changed vs elsewhere),
``costs.csv``, the charts (``ksi_by_scenario.png``, ``ksi_vs_travel_time.png``, ``speeds_<variant>.png``,
``tornado_<variant>.png``), the maps (``map_<scenario>.png``, ``map_diff_<variant>.png``,
``network_<variant>.png`` — the variant's network coloured by speed limit, from :func:`vision_zero.plot.plot_network`),
``links.gpkg`` and ``report.html``.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from vision_zero.charts import _slug, all_charts, changed_links, tornado_frame
from vision_zero.compare import Comparison, ScenarioRuns, compare
from vision_zero.economics import InterventionCost
from vision_zero.gis import write_links_gpkg
from vision_zero.i18n import check_lang, text
from vision_zero.ksi_split import KsiSplit, ksi_split, split_frame
from vision_zero.maps import link_ksi_per_year, plot_ksi_map
from vision_zero.network import RoadNetwork
from vision_zero.parameters import ParameterSet, load_parameters
from vision_zero.report import ReportInputs, write_report
from vision_zero.results import ReplicationResult, atomic_write_bytes, atomic_write_text

__all__ = ["CompareInputs", "compare_scenarios", "default_out_dir", "write_outputs", "write_tables"]


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
    """

    runs: ScenarioRuns
    network: RoadNetwork
    parameters: ParameterSet = field(default_factory=ParameterSet)


def default_out_dir(names: Sequence[str], *, root: Path = Path("results")) -> Path:
    """``results/compare-<baseline>-<variant>…``; past 60 characters ``compare-<baseline>-and-<n>-variants-<hash>``."""
    joined = "-".join(_slug(n) for n in names)
    if len(joined) > 60:
        digest = hashlib.sha1("\0".join(names).encode("utf-8")).hexdigest()[:6]
        joined = f"{_slug(names[0])}-and-{len(names) - 1}-variants-{digest}"
    return root / f"compare-{joined}"


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def write_tables(
    comparison: Comparison, out_dir: Path, *, splits: Sequence[KsiSplit] = ()
) -> dict[str, Path]:
    """Write ``comparison``, ``scenarios``, ``headline`` and ``pairs`` tables as CSV and Parquet, atomically.

    With ``splits`` (:func:`vision_zero.ksi_split.ksi_split`, one per variant) also ``ksi_split``: KSI avoided
    per year on the links each variant changed, elsewhere and in total, with intervals.

    Returns
    -------
    dict
        Table name -> CSV path.
    """
    tables = {
        "comparison": comparison.to_frame(),
        "scenarios": comparison.scenarios_frame(),
        "headline": comparison.headline_frame(),
        "pairs": pd.concat(
            [v.per_pair.assign(variant=v.variant) for v in comparison.variants], ignore_index=True
        ),
    }
    if splits:
        tables["ksi_split"] = split_frame(splits)
    out: dict[str, Path] = {}
    for name, frame in tables.items():
        frame = frame.assign(schematic=comparison.schematic)
        csv = out_dir / f"{name}.csv"
        atomic_write_text(csv, frame.to_csv(index=False))
        _atomic_parquet(frame, out_dir / f"{name}.parquet")
        out[name] = csv
    return out


def _costs_frame(comparison: Comparison, name: str) -> pd.DataFrame:
    for v in comparison.variants:
        if v.variant == name:
            return pd.DataFrame(
                [
                    {
                        "intervention": c.name,
                        "capital": c.capital,
                        "annual": c.annual,
                        "lifetime_years": np.nan if c.lifetime_years is None else c.lifetime_years,
                        "present_value": c.present_value(v.economics),
                        "source": c.source,
                    }
                    for c in v.costs
                ]
            )
    return pd.DataFrame()


def write_outputs(
    comparison: Comparison,
    inputs: Sequence[CompareInputs],
    out_dir: Path,
    *,
    lang: str = "en",
) -> dict[str, Path]:
    """Write tables, charts, maps, ``links.gpkg`` and ``report.html`` into ``out_dir``; returns key -> path.

    ``inputs`` are the baseline's first, then the variants', in the order of ``comparison.variants``.
    """
    check_lang(lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = inputs[0]
    params = base.parameters if len(base.parameters) else load_parameters()
    touched = {
        i.runs.name: changed_links(
            base.runs, i.runs, baseline_links=base.network.links, variant_links=i.network.links
        )
        for i in inputs[1:]
    }
    splits = [
        ksi_split(
            base.runs,
            i.runs,
            baseline_network=base.network,
            variant_network=i.network,
            touched=touched[i.runs.name],
        )
        for i in inputs[1:]
        if len(i.network.links) == len(base.network.links)
    ]
    paths: dict[str, Path] = dict(write_tables(comparison, out_dir, splits=splits))
    charts = all_charts(
        comparison, [i.runs for i in inputs], out_dir, params=params, lang=lang, touched=touched
    )
    paths.update(charts)

    maps: dict[str, Path] = {}
    ksi = {i.runs.name: link_ksi_per_year(i.network, i.runs.replications) for i in inputs}
    b_name = base.runs.name
    maps[f"map:{b_name}"] = plot_ksi_map(
        base.network,
        ksi[b_name],
        out_dir / f"map_{_slug(b_name)}.png",
        title=text("map_title", lang, scenario=f"{b_name} ({text('baseline', lang)})"),
        lang=lang,
    )
    costs: dict[str, pd.DataFrame] = {}
    for i in inputs[1:]:
        name = i.runs.name
        maps[f"map:{name}"] = plot_ksi_map(
            i.network,
            ksi[name],
            out_dir / f"map_{_slug(name)}.png",
            title=text("map_title", lang, scenario=name),
            lang=lang,
        )
        maps[f"map_diff:{name}"] = plot_ksi_map(
            i.network,
            ksi[name] - ksi[b_name],
            out_dir / f"map_diff_{_slug(name)}.png",
            title=text("map_diff_title", lang, variant=name, baseline=b_name),
            diverging=True,
            lang=lang,
        )
        from vision_zero.plot import plot_network

        maps[f"network:{name}"] = plot_network(
            i.network,
            out_dir / f"network_{_slug(name)}.png",
            title=f"{name}: {i.network.label}",
            width_in=9.0,
            dpi=110,
        )
        costs[name] = _costs_frame(comparison, name)
    paths.update(maps)
    if costs:
        all_costs = pd.concat([f.assign(variant=n) for n, f in costs.items()], ignore_index=True)
        atomic_write_text(out_dir / "costs.csv", all_costs.to_csv(index=False))
        paths["costs"] = out_dir / "costs.csv"
    paths["gpkg"] = write_links_gpkg(
        base.network, ksi[b_name], {i.runs.name: ksi[i.runs.name] for i in inputs[1:]}, out_dir / "links.gpkg"
    )
    report_inputs = ReportInputs(
        charts=charts,
        maps=maps,
        parameters=params.to_frame(),
        network_label=base.network.label,
        costs=costs,
        tornado={v.variant: tornado_frame(v, params) for v in comparison.variants},
        ksi_split=splits,
    )
    paths["report"] = write_report(comparison, report_inputs, out_dir / "report.html", lang=lang)
    return paths


def _runs_from(prepared: Any, results: Sequence[ReplicationResult], run_dir: Path | None) -> CompareInputs:
    """Build :class:`CompareInputs` from a prepared scenario and its results.

    ``prepared`` is a :class:`vision_zero.pipeline.PreparedScenario` or an
    :class:`~vision_zero.pipeline.AppliedScenario`: only name, network, costs, scenario and parameters are read.
    """
    costs = tuple(
        InterventionCost(
            name=c.label,
            capital=float(c.capital),
            annual=float(c.annual),
            lifetime_years=float(c.lifetime_years) if c.lifetime_years else None,
            source=str(c.source),
        )
        for c in prepared.costs
    )
    net: RoadNetwork = prepared.network
    runs = ScenarioRuns(
        name=prepared.name,
        replications=list(results),
        schematic=bool(net.schematic),
        costs=costs,
        economics=prepared.scenario.economics.overrides(),
        network_source=str(net.source),
        run_dir=run_dir,
    )
    return CompareInputs(runs=runs, network=net, parameters=prepared.parameters)


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
        A :class:`vision_zero.parallel.Executor`; default: a local process pool.
    """
    from vision_zero.parallel import make_executor
    from vision_zero.replications import run_job, scenario_job, scenario_view

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
    n = replications or max(j.replications for j in (base_job, *var_jobs))

    def run_all(ex: Any) -> list[Any]:
        return [run_job(j, out_dir=results_dir, executor=ex, replications=n, progress=progress) for j in jobs]

    jobs = [base_job, *var_jobs]
    if executor is None:
        with make_executor() as ex:
            runs = run_all(ex)
    else:
        runs = run_all(executor)
    inputs = [_runs_from(scenario_view(j), r.results, r.run_dir) for j, r in zip(jobs, runs, strict=True)]
    params = inputs[0].parameters if len(inputs[0].parameters) else None
    comparison = compare(inputs[0].runs, [i.runs for i in inputs[1:]], parameters=params)
    return comparison, inputs
