"""Everything ``vision-zero compare`` writes, into one folder.

:func:`write_outputs` takes a comparison (:func:`vision_zero.appraisal.study.compare_scenarios`) and writes
``comparison.csv/.parquet``, ``scenarios.csv/.parquet``, ``headline.csv/.parquet``, ``pairs.csv/.parquet``,
``ksi_split.csv/.parquet`` (KSI avoided on the links each variant changed vs elsewhere),
``costs.csv``, the charts (``ksi_by_scenario.png``, ``ksi_vs_travel_time.png``, ``speeds_<variant>.png``,
``tornado_<variant>.png``), the maps (``map_<scenario>.png``, ``map_diff_<variant>.png``,
``network_<variant>.png`` — the variant's network coloured by speed limit, from
:func:`vision_zero.outputs.plot.plot_network`), ``links.gpkg`` and ``report.html``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vision_zero.appraisal.attribution import link_ksi_per_year
from vision_zero.appraisal.compare import Comparison
from vision_zero.appraisal.ksi_split import KsiSplit, ksi_split, split_frame
from vision_zero.appraisal.study import CompareInputs
from vision_zero.core.i18n import check_lang, text
from vision_zero.core.parameters import load_parameters
from vision_zero.outputs.charts import _slug, all_charts, changed_links, tornado_frame
from vision_zero.outputs.gis import write_links_gpkg
from vision_zero.outputs.maps import plot_ksi_map
from vision_zero.outputs.report import ReportInputs, write_report
from vision_zero.runs.results import atomic_write_bytes, atomic_write_text

__all__ = ["default_out_dir", "write_outputs", "write_tables"]


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
        from vision_zero.outputs.plot import plot_network

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
