"""Everything ``vision-zero compare`` writes, into one folder.

:func:`write_outputs` takes a comparison (:func:`vision_zero.appraisal.study.compare_scenarios`) and writes
``comparison.csv/.parquet``, ``scenarios.csv/.parquet``, ``headline.csv/.parquet``, ``pairs.csv/.parquet``,
``ksi_split.csv/.parquet`` (KSI avoided on the links each variant changed vs elsewhere),
``costs.csv``, the charts (``ksi_by_scenario.png``, ``ksi_vs_travel_time.png``, ``speeds_<variant>.png``,
``tornado_<variant>.png``), the maps (``map_<scenario>.png`` on one shared colour scale,
``map_diff_<variant>.png`` on another, streets within noise greyed, ``network_<scenario>.png`` — each network
coloured by speed limit with the streets the program changed marked, from
:func:`vision_zero.outputs.plot.plot_network`), ``links.gpkg`` and ``report.html``.

Languages: the tables are the same in every language and go into the folder itself; what has text in it (charts,
maps, ``links.gpkg`` with its field aliases, ``report.html``) goes into the folder for English and into a
sub-folder named after the language otherwise (``ru/``, ``kk/``), so ``--lang ru`` never overwrites the English
report.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.appraisal.attribution import link_ksi_per_year
from vision_zero.appraisal.compare import Comparison, ScenarioRuns
from vision_zero.appraisal.ksi_split import KsiSplit, ksi_split, split_frame
from vision_zero.appraisal.study import CompareInputs
from vision_zero.core.i18n import check_lang, text
from vision_zero.core.intervals import excludes_zero_by_column
from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.network.road_network import RoadNetwork
from vision_zero.outputs.charts import all_charts, tornado_frame
from vision_zero.outputs.gis import write_links_gpkg
from vision_zero.outputs.maps import map_scale, plot_ksi_map
from vision_zero.outputs.plot import plot_network
from vision_zero.outputs.report import Coverage, ReportInputs, write_report
from vision_zero.program.selectors import road_km
from vision_zero.runs.results import atomic_write_bytes, atomic_write_text, safe_file_name
from vision_zero.runs.run_summary import calibration_warnings, format_peak_calibration, run_warnings

FloatArray = npt.NDArray[np.float64]

__all__ = ["coverage", "default_out_dir", "language_dir", "write_outputs", "write_tables"]


def language_dir(out_dir: Path, lang: str) -> Path:
    """Where the files with text in ``lang`` go: ``out_dir`` for English, ``out_dir/<lang>`` otherwise."""
    return out_dir if check_lang(lang) == "en" else out_dir / lang


def coverage(comparison: Comparison, network: RoadNetwork, params: ParameterSet) -> Coverage:
    """What the comparison's totals cover: the baseline network's area and roads, its share of the city's traffic."""
    nodes = network.nodes
    if len(nodes):
        lat0 = float(nodes["lat"].mean())
        width_km = (
            (float(nodes["lon"].max()) - float(nodes["lon"].min())) * 111.32 * math.cos(math.radians(lat0))
        )
        height_km = (float(nodes["lat"].max()) - float(nodes["lat"].min())) * 111.32
        area = width_km * height_km
    else:
        area = 0.0
    km = road_km(network, np.ones(len(network.links), dtype=bool))
    city = (
        params.value("calibration.almaty.veh_km_per_year")
        if "calibration.almaty.veh_km_per_year" in params.parameters
        else math.nan
    )
    return Coverage(
        area_km2=area,
        road_km=km,
        veh_km_per_year=comparison.baseline.metrics["veh_km"].mean,
        city_veh_km_per_year=city,
        replications=comparison.baseline.metrics["ksi"].n,
    )


def _per_replication_ksi(network: RoadNetwork, runs: ScenarioRuns) -> dict[int, FloatArray]:
    return {r.replication: link_ksi_per_year(network, [r]) for r in runs.replications}


def _within_noise(
    base: dict[int, FloatArray], variant: dict[int, FloatArray], m: int
) -> npt.NDArray[np.bool_]:
    """Per link, True when the 95% interval of the paired per-replication KSI change does not exclude 0.

    The interval rule of the tables (:func:`vision_zero.core.intervals.excludes_zero_by_column`): every link is
    within noise with fewer than ``MIN_REPLICATIONS_FOR_CI`` pairs, where no interval is reliable.
    """
    common = sorted(set(base) & set(variant))
    if not common:
        return np.ones(m, dtype=bool)
    return ~excludes_zero_by_column(np.stack([variant[i] - base[i] for i in common]))


def default_out_dir(names: Sequence[str], *, root: Path = Path("results")) -> Path:
    """``results/compare-<baseline>-<variant>…``; past 60 characters ``compare-<baseline>-and-<n>-variants-<hash>``."""
    joined = "-".join(safe_file_name(n) for n in names)
    if len(joined) > 60:
        digest = hashlib.sha1("\0".join(names).encode("utf-8")).hexdigest()[:6]
        joined = f"{safe_file_name(names[0])}-and-{len(names) - 1}-variants-{digest}"
    return root / f"compare-{joined}"


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def write_tables(
    comparison: Comparison, out_dir: Path, *, splits: Sequence[KsiSplit] = ()
) -> dict[str, Path]:
    """Write ``comparison``, ``scenarios``, ``headline`` and ``pairs`` tables as CSV and Parquet, atomically.

    With ``splits`` (:func:`vision_zero.appraisal.ksi_split.ksi_split`, one per variant) also ``ksi_split``: KSI avoided
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


def _description(inputs: CompareInputs, lang: str) -> str:
    """The scenario's description in ``lang``, or its default with a note saying the file has none in ``lang``."""
    description, found = inputs.description_in(lang)
    return description if found else f"{description} {text('description_fallback', lang)}"


def write_outputs(
    comparison: Comparison,
    inputs: Sequence[CompareInputs],
    out_dir: Path,
    *,
    lang: str = "en",
) -> dict[str, Path]:
    """Write tables, charts, maps, ``links.gpkg`` and ``report.html``; returns key -> path.

    ``inputs`` are the baseline's first, then the variants', in the order of ``comparison.variants``. Tables go
    into ``out_dir``; charts, maps, GeoPackage and report into :func:`language_dir`.
    """
    check_lang(lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    text_dir = language_dir(out_dir, lang)
    text_dir.mkdir(parents=True, exist_ok=True)
    base = inputs[0]
    params = base.parameters if len(base.parameters) else load_parameters()
    touched = {i.runs.name: i.touched.site_links(i.network) for i in inputs[1:]}
    same_links = [i for i in inputs[1:] if len(i.network.links) == len(base.network.links)]
    precision_pct = comparison.precision_pct
    splits = [
        ksi_split(
            base.runs,
            i.runs,
            baseline_network=base.network,
            variant_network=i.network,
            touched=touched[i.runs.name],
            precision_pct=precision_pct,
        )
        for i in same_links
    ]
    paths: dict[str, Path] = dict(write_tables(comparison, out_dir, splits=splits))
    charts = all_charts(
        comparison, [i.runs for i in inputs], text_dir, params=params, lang=lang, touched=touched
    )
    paths.update(charts)

    maps: dict[str, Path] = {}
    ksi = {i.runs.name: link_ksi_per_year(i.network, i.runs.replications) for i in inputs}
    b_name = base.runs.name
    # one colour scale for every KSI map and one for every difference map, so side by side they compare
    top = map_scale(base.network, list(ksi.values()))
    top_diff = map_scale(base.network, [ksi[i.runs.name] - ksi[b_name] for i in same_links], diverging=True)
    per_rep_base = _per_replication_ksi(base.network, base.runs)
    for i in inputs:
        name = i.runs.name
        label = text("baseline_label", lang, name=name) if i is base else name
        maps[f"map:{name}"] = plot_ksi_map(
            i.network,
            ksi[name],
            text_dir / f"map_{safe_file_name(name)}.png",
            title=text("map_title", lang, scenario=label),
            lang=lang,
            vmax=top if len(i.network.links) == len(base.network.links) else None,
        )
    for i in same_links:
        name = i.runs.name
        noise = _within_noise(per_rep_base, _per_replication_ksi(i.network, i.runs), len(base.network.links))
        maps[f"map_diff:{name}"] = plot_ksi_map(
            i.network,
            ksi[name] - ksi[b_name],
            text_dir / f"map_diff_{safe_file_name(name)}.png",
            title=text("map_diff_title", lang, variant=name, baseline=b_name),
            diverging=True,
            lang=lang,
            vmax=top_diff,
            noise=noise,
        )
    for i in inputs:
        name = i.runs.name
        maps[f"network:{name}"] = plot_network(
            i.network,
            text_dir / f"network_{safe_file_name(name)}.png",
            title=text("net_title", lang, name=name),
            width_in=9.0,
            dpi=110,
            lang=lang,
            highlight=touched.get(name),
        )
    costs = {i.runs.name: _costs_frame(comparison, i.runs.name) for i in inputs[1:]}
    paths.update(maps)
    if costs:
        all_costs = pd.concat([f.assign(variant=n) for n, f in costs.items()], ignore_index=True)
        atomic_write_text(out_dir / "costs.csv", all_costs.to_csv(index=False))
        paths["costs"] = out_dir / "costs.csv"
    paths["gpkg"] = write_links_gpkg(
        base.network,
        ksi[b_name],
        {i.runs.name: ksi[i.runs.name] for i in same_links},
        text_dir / "links.gpkg",
        variants_limit_kph={
            i.runs.name: i.network.links["speed_limit_kph"].to_numpy(dtype=float) for i in same_links
        },
        lang=lang,
    )
    base_summaries = [r.summary for r in base.runs.replications]
    report_inputs = ReportInputs(
        charts=charts,
        maps=maps,
        parameters=params.to_frame(),
        network_label=base.network.label,
        costs=costs,
        tornado={v.variant: tornado_frame(v, params) for v in comparison.variants},
        ksi_split=splits,
        descriptions={i.runs.name: _description(i, lang) for i in inputs},
        content={i.runs.name: i.content for i in inputs[1:]},
        coverage=coverage(comparison, base.network, params),
        warnings=[
            w
            for i in inputs
            for w in run_warnings(i.runs.name, [r.summary for r in i.runs.replications], lang)
        ],
        peak_calibration=format_peak_calibration(base_summaries, lang),
        calibration_warnings=calibration_warnings(b_name, base_summaries, lang),
    )
    paths["report"] = write_report(comparison, report_inputs, text_dir / "report.html", lang=lang)
    return paths
