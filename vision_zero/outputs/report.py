"""The self-contained HTML report: a two-minute summary for a committee, then tables, charts, maps, sources.

Self-contained means one file that works offline and by e-mail: images are inline (base64 PNG), the style sheet
is inline, there are no scripts and no external fonts, links or images. Text in English, Russian or Kazakh
(:mod:`vision_zero.core.i18n`).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vision_zero.appraisal.compare import Comparison, Interval, format_number, table_rows
from vision_zero.appraisal.ksi_split import PARTS, KsiSplit
from vision_zero.core.i18n import check_lang, text
from vision_zero.core.version import __version__
from vision_zero.risk.crash_model import ROAD_USERS
from vision_zero.runs.results import atomic_write_text

__all__ = ["ReportInputs", "render_report", "write_report"]

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0 auto;padding:16px;
max-width:1100px;color:#1a1a1a;line-height:1.45;font-size:15px}
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1.02em;margin:1.1em 0 .3em}
.warn{background:#fde8ea;border:2px solid #b00020;color:#7a0016;padding:.6em .9em;font-weight:600;margin:.8em 0}
.summary{background:#eef5fb;border-left:5px solid #1f77b4;padding:.4em 1em;margin:.8em 0}
.summary p{margin:.5em 0}.note{color:#555;font-size:.88em}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.4em 0 1em;font-size:.82em}
th,td{border:1px solid #ccc;padding:3px 5px;text-align:right;vertical-align:top;overflow-wrap:anywhere;
word-break:break-word}
th{background:#f3f3f3}td.l,th.l{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;height:auto;display:block;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
ul{padding-left:1.3em}li{margin:.25em 0}
"""


@dataclass(frozen=True)
class ReportInputs:
    """What the report shows besides the comparison.

    Attributes
    ----------
    charts
        Title-less key -> PNG file of each chart, in display order.
    maps
        Key -> PNG file of each map, in display order.
    parameters
        :meth:`vision_zero.core.parameters.ParameterSet.to_frame` of the parameters used.
    network_label
        :attr:`vision_zero.network.road_network.RoadNetwork.label` of the network.
    costs
        Variant -> rows ``intervention, capital, annual, lifetime_years, present_value, source``.
    tornado
        Variant -> :func:`vision_zero.outputs.charts.tornado_frame` (shown as a table under the chart).
    assumptions
        Extra assumption lines (the standard ones are always listed).
    ksi_split
        Per variant, KSI avoided on the links it changed vs elsewhere (:func:`vision_zero.appraisal.ksi_split.ksi_split`).
    """

    charts: Mapping[str, Path] = field(default_factory=dict)
    maps: Mapping[str, Path] = field(default_factory=dict)
    parameters: pd.DataFrame | None = None
    network_label: str = ""
    costs: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    tornado: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    assumptions: Sequence[str] = ()
    ksi_split: Sequence[KsiSplit] = ()


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _num(x: float, digits: int = 1) -> str:
    return format_number(x, digits, million=" M", million_digits=2)


def _ci(iv: Interval, digits: int = 1) -> str:
    if iv.n < 2 or not math.isfinite(iv.low):
        return "n<2"
    return f"{_num(iv.low, digits)} … {_num(iv.high, digits)}"


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    left: int = 1,
    widths: Sequence[int] = (),
    text_cols: Sequence[int] = (),
) -> str:
    def cell(tag: str, j: int, v: object) -> str:
        cls = ' class="l"' if j < left or j in text_cols else ""
        return f"<{tag}{cls}>{_e(v)}</{tag}>"

    head = "".join(cell("th", j, h) for j, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", j, v) for j, v in enumerate(r)) + "</tr>" for r in rows)
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    group = f"<colgroup>{cols}</colgroup>" if widths else ""
    return f"<table>{group}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></figure>'


def _headline(comparison: Comparison, lang: str) -> str:
    parts = []
    for v in comparison.variants:
        fa = v.difference["fatal"].negated()
        se = v.difference["serious"].negated()
        parts.append(
            "<p>"
            + _e(
                text(
                    "headline",
                    lang,
                    variant=v.variant,
                    deaths=_num(fa.mean, 1),
                    deaths_ci=_ci(fa),
                    serious=_num(se.mean, 1),
                    serious_ci=_ci(se),
                    cost=_num(v.cost_pv, 1),
                    currency=v.economics.currency,
                    bcr=_num(v.bcr.mean, 2),
                    bcr_ci=_ci(v.bcr, 2),
                    prob=f"{v.prob_reduces_ksi:.0%}",
                )
            )
            + "</p>"
        )
    n = comparison.baseline.metrics["ksi"].n
    parts.append(f'<p class="note">{_e(text("interval_note", lang, n=n))}</p>')
    if any(sc.truncated for sc in comparison.scenarios):
        parts.append(f'<p class="note">{_e(text("truncated_note", lang))}</p>')
    if 0 < n < 5:
        parts.append(
            f'<p class="note"><strong>{_e(text("few_reps", lang, n=n, step=round(100 / n)))}</strong></p>'
        )
    return '<div class="summary">' + "".join(parts) + "</div>"


def _road_user_table(comparison: Comparison, lang: str) -> str:
    header = [text("scenario", lang)] + [text(ru, lang) for ru in ROAD_USERS]
    rows = []
    for v in comparison.variants:
        row: list[object] = [v.variant]
        for ru in ROAD_USERS:
            iv = v.difference[f"ksi_{ru}"].negated()
            row.append(f"{_num(iv.mean)} ({_ci(iv)})")
        rows.append(row)
    return _table(header, rows)


def _economics_table(comparison: Comparison, lang: str) -> str:
    if not comparison.variants:
        return ""
    e = comparison.variants[0].economics
    cur = e.currency
    rows = [
        (text("econ_vsl", lang), f"{_num(e.vsl)} {cur}", e.sources.get("vsl", "")),
        (
            "serious injury",
            f"{_num(e.serious_injury_value)} {cur}",
            e.sources.get("serious_injury_value", ""),
        ),
        (
            text("econ_slight", lang),
            f"{_num(e.slight_injury_value)} {cur}",
            e.sources.get("slight_injury_value", ""),
        ),
        (
            text("econ_vot", lang),
            f"{_num(e.value_of_time, 2)} {cur}/veh-h",
            e.sources.get("value_of_time", ""),
        ),
        (text("econ_rate", lang), f"{e.discount_rate:.1%}", e.sources.get("discount_rate", "")),
        (
            text("econ_horizon", lang),
            text("years", lang, n=e.horizon_years),
            e.sources.get("horizon_years", ""),
        ),
    ]
    head = [text("econ_value", lang), text("econ_used", lang), text("econ_source", lang)]
    return _table(head, rows, left=1, widths=(25, 18, 57), text_cols=(2,))


def _money_table(comparison: Comparison, lang: str) -> str:
    header = [
        text("scenario", lang),
        text("col_benefit_pv", lang),
        text("col_tt_pv", lang),
        text("col_cost_pv", lang),
        text("col_npv", lang, cur="(95% CI)"),
        text("col_bcr", lang) + " (95% CI)",
    ]
    rows = []
    for v in comparison.variants:
        cur = v.economics.currency
        rows.append(
            [
                v.variant,
                f"{_num(v.safety_benefit_pv.mean)} {cur}",
                f"{_num(v.travel_time_cost_pv.mean)} {cur}",
                f"{_num(v.cost_pv)} {cur}",
                f"{_num(v.npv.mean)} ({_ci(v.npv)})",
                f"{_num(v.bcr.mean, 2)} ({_ci(v.bcr, 2)})",
            ]
        )
    return _table(header, rows)


def _frame_table(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    left: int = 1,
    digits: int = 3,
    widths: Sequence[int] = (),
) -> str:
    def fmt(v: object) -> object:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            return _num(v, 2) if abs(v) >= 1e4 else f"{v:.{digits}g}"
        return "" if v is None else v

    sub = frame[list(columns)]
    text_cols = [
        j for j, c in enumerate(columns) if sub[c].dtype == object or pd.api.types.is_string_dtype(sub[c])
    ]
    rows = [[fmt(v) for v in r] for r in sub.itertuples(index=False)]
    return _table(list(columns), rows, left=left, widths=widths, text_cols=text_cols)


_STANDARD_ASSUMPTIONS = (
    "Paired comparison: replication i of every variant uses the same random numbers (demand, drivers, "
    "parameter draws) as replication i of the baseline, and is calibrated with the baseline's replication i.",
    "Intervals in brackets are 95% confidence intervals of the mean (Student t over the paired replications). "
    "Replications also draw the uncertain evidence, so the spread of single replications (p_low–p_high in "
    "comparison.csv) is the wider uncertainty range. Casualties of one scenario cannot be negative, so their "
    "intervals are cut at 0 (flagged low_truncated in scenarios.csv); differences keep their signed intervals.",
    "P(fewer KSI) is the share of paired replications in which the variant has fewer killed or seriously "
    "injured than the baseline.",
    "Money: safety benefit = casualties avoided per year × value per casualty; travel time added × value of "
    "time counts against it; both are discounted over the horizon (years 1..H); capital costs in year 0, "
    "running costs every year, renewals at the end of each lifetime within the horizon. NPV = benefit − "
    "travel-time cost − intervention cost; BCR = (benefit − travel-time cost) / intervention cost.",
    "Maps and links.gpkg: casualties at crossings and junctions are shared equally among the links that meet "
    "there; each street shows both directions together, per km of street.",
    "Tornado chart: sensitivity estimated by regressing the paired KSI difference on each parameter's draws "
    "across replications, scaled to the parameter's low–high range (not by re-running the model).",
)


def _split_table(splits: Sequence[KsiSplit], lang: str) -> str:
    header = [text("scenario", lang)] + [text(f"where_{p}", lang) for p in PARTS]
    rows = []
    for sp in splits:
        row: list[object] = [sp.variant]
        for p in PARTS:
            iv = sp.part(p)
            row.append(f"{_num(iv.mean)} ({_ci(iv)})")
        rows.append(row)
    return _table(header, rows)


def render_report(comparison: Comparison, inputs: ReportInputs, *, lang: str = "en") -> str:
    """The report as one HTML string (see the module docstring)."""
    check_lang(lang)
    variants = ", ".join(v.variant for v in comparison.variants)
    title = text("report_title", lang, variants=variants, baseline=comparison.baseline.name)
    out = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    if comparison.schematic:
        out.append(f'<div class="warn">{_e(text("schematic_long", lang))}</div>')
    if inputs.network_label:
        out.append(f'<p class="note">{_e(inputs.network_label)}</p>')
    out.append(f"<h2>{_e(text('summary', lang))}</h2>")
    out.append(_headline(comparison, lang))

    out.append(f"<h2>{_e(text('tables', lang))}</h2>")
    header, rows = table_rows(comparison, lang=lang)
    out.append(_table(header, rows))
    out.append(f"<h3>{_e(text('by_road_user', lang))}</h3>")
    out.append(_road_user_table(comparison, lang))
    if inputs.ksi_split:
        out.append(f"<h3>{_e(text('where_title', lang))}</h3>")
        out.append(f'<p class="note">{_e(text("where_note", lang))}</p>')
        out.append(_split_table(inputs.ksi_split, lang))
    out.append(f"<h3>{_e(text('money', lang))}</h3>")
    out.append(_money_table(comparison, lang))
    for name, frame in inputs.costs.items():
        if len(frame):
            out.append(f"<h3>{_e(text('intervention_costs', lang, name=name))}</h3>")
            cols = [c for c in frame.columns if c != "variant"]
            out.append(_frame_table(frame, cols, digits=4))
    out.append(f"<h3>{_e(text('economics', lang))}</h3>")
    out.append(_economics_table(comparison, lang))

    if inputs.charts:
        out.append(f"<h2>{_e(text('charts', lang))}</h2>")
        for key, path in inputs.charts.items():
            out.append(_img(path, key))
            tor = inputs.tornado.get(key.split(":", 1)[1]) if key.startswith("tornado:") else None
            if tor is not None and len(tor):
                cols = ["parameter", "slope", "slope_se", "low", "high", "at_low", "at_high"]
                out.append(_frame_table(tor.head(10), cols))
    if inputs.maps:
        out.append(f"<h2>{_e(text('maps', lang))}</h2>")
        for key, path in inputs.maps.items():
            out.append(_img(path, key))

    out.append(f"<h2>{_e(text('assumptions', lang))}</h2><ul>")
    for line in (*_STANDARD_ASSUMPTIONS, *inputs.assumptions):
        out.append(f"<li>{_e(line)}</li>")
    if comparison.schematic:
        out.append(f"<li><strong>{_e(text('schematic_long', lang))}</strong></li>")
    out.append("</ul>")

    if inputs.parameters is not None and len(inputs.parameters):
        out.append(f"<h2>{_e(text('sources', lang))}</h2>")
        p = inputs.parameters
        cols = ["name", "value", "low", "high", "unit", "status", "source"]
        out.append(_frame_table(p, cols, left=1, digits=4, widths=(24, 8, 7, 7, 10, 9, 35)))
    out.append(
        '<p class="note">'
        + _e(text("generated", lang, version=__version__, network=inputs.network_label or "?"))
        + "</p></body></html>"
    )
    return "\n".join(out)


def write_report(comparison: Comparison, inputs: ReportInputs, path: Path, *, lang: str = "en") -> Path:
    """Write :func:`render_report` to ``path`` atomically."""
    atomic_write_text(path, render_report(comparison, inputs, lang=lang))
    return path
