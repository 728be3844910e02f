"""The self-contained HTML report, in the order a committee reads it.

1. **Decision summary** (one page): what the totals cover (area, share of the city's traffic, period,
   replications); what each program is, in its scenario's sentence and in counts (cameras, km of new limits,
   crossings by type); per program the KSI avoided per year with its interval, the cost, the benefit–cost ratio,
   the cost per KSI avoided, the NPV and a verdict that says "not distinguishable yet — N replications more
   needed" where the replications cannot tell the change from noise; the ranking by NPV (each step checked pair
   by pair) and the incremental value of a package over each of its parts.
2. **Evidence**: tables, charts and maps (one shared colour scale; differences within noise greyed).
3. **Method and assumptions**: the standard assumptions, the money convention, economic values, costs.
4. **Parameters and sources**.

Self-contained means one file that works offline and by e-mail: images are inline (base64 PNG), the style sheet
is inline, there are no scripts and no external fonts, links or images. Every phrase comes from the translation
catalogue (:mod:`vision_zero.core.i18n`): English, Russian or Kazakh.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vision_zero.appraisal.compare import Comparison, VariantComparison
from vision_zero.appraisal.compare_text import (
    interval_digits,
    more_pairs,
    precision_foot,
    precision_text,
    probability_text,
    table_rows,
    target_lines,
    unreliable_note,
)
from vision_zero.appraisal.ksi_split import PARTS, KsiSplit
from vision_zero.appraisal.ranking import increments, ranking
from vision_zero.appraisal.study import ContentItem
from vision_zero.core.formatting import format_number, replications_text
from vision_zero.core.i18n import catalogue, check_lang, ntext, text
from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI, Interval
from vision_zero.core.version import __version__
from vision_zero.outputs.plot import network_label
from vision_zero.risk.crash_model import ROAD_USERS
from vision_zero.runs.results import atomic_write_text

__all__ = [
    "Coverage",
    "ReportInputs",
    "content_counts",
    "content_phrases",
    "coverage_text",
    "render_report",
    "write_report",
]

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0 auto;padding:16px;
max-width:1100px;color:#1a1a1a;line-height:1.45;font-size:15px}
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1.02em;margin:1.1em 0 .3em}
.warn{background:#fde8ea;border:2px solid #b00020;color:#7a0016;padding:.6em .9em;font-weight:600;margin:.8em 0}
.summary{background:#eef5fb;border-left:5px solid #1f77b4;padding:.4em 1em;margin:.8em 0}
.summary p{margin:.5em 0}.note{color:#555;font-size:.88em}.quick{background:#fff4d6;border:1px solid #c90;
padding:.4em .8em;margin:.6em 0}
nav ol{margin:.3em 0;padding-left:1.5em}nav{font-size:.92em}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.4em 0 1em;font-size:.82em}
th,td{border:1px solid #ccc;padding:3px 5px;text-align:right;vertical-align:top;overflow-wrap:anywhere;
word-break:break-word}
th{background:#f3f3f3}td.l,th.l{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;height:auto;display:block;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
ul{padding-left:1.3em}li{margin:.25em 0}
"""


@dataclass(frozen=True)
class Coverage:
    """What the totals cover: the network's area and road length, its share of the city's traffic.

    Attributes
    ----------
    area_km2
        Area of the network's bounding box [km²].
    road_km
        Road length, a two-way street counted once [km].
    veh_km_per_year
        The baseline's simulated vehicle-km per year (mean over replications).
    city_veh_km_per_year
        The city's vehicle-km per year (``calibration.almaty.veh_km_per_year``).
    replications
        Paired replications behind every interval.
    """

    area_km2: float
    road_km: float
    veh_km_per_year: float
    city_veh_km_per_year: float
    replications: int

    @property
    def share(self) -> float:
        """Share of the city's vehicle-km the totals cover [0..1]."""
        return self.veh_km_per_year / self.city_veh_km_per_year if self.city_veh_km_per_year > 0 else math.nan


def coverage_text(coverage: Coverage, lang: str = "en") -> str:
    """One sentence: area, road length, share of the city's traffic, period and replications."""

    def num(x: float) -> str:  # small numbers keep a decimal (a district is not "0 km²")
        return format_number(x, 0 if abs(x) >= 100 else 1)

    share = coverage.share
    return ntext(
        "coverage",
        coverage.replications,
        lang,
        road_km=num(coverage.road_km),
        area_km2=num(coverage.area_km2),
        share=(f"{share:.1%}" if share >= 0.01 else f"{share:.2%}") if math.isfinite(share) else "–",
        veh_km=num(coverage.veh_km_per_year / 1e6),
    )


@dataclass(frozen=True)
class ReportInputs:
    """What the report shows besides the comparison.

    Attributes
    ----------
    charts
        Key -> PNG file of each chart, in display order (``ksi``, ``tradeoff``, ``speeds:<v>``, ``tornado:<v>``).
    maps
        Key -> PNG file of each map, in display order (``map:<s>``, ``map_diff:<v>``, ``network:<s>``).
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
    descriptions
        Scenario name -> its ``description`` (what the program is).
    content
        Variant -> what it consists of (:func:`vision_zero.appraisal.study.program_content`).
    coverage
        What the totals cover (area, share of the city's traffic), or None.
    warnings
        Loud warnings shown at the top (:func:`vision_zero.runs.run_summary.run_warnings`: gridlock, an unmet
        peak calibration).
    peak_calibration
        The baseline's peak calibration in the report's language
        (:func:`vision_zero.runs.run_summary.format_peak_calibration`: the calibrated congestion index at central
        parameters, its target and range, the replications' mean and range), or "" without a calibration.
    calibration_warnings
        The baseline's calibration warnings (:func:`vision_zero.runs.run_summary.calibration_warnings`), repeated
        under that line.
    """

    charts: Mapping[str, Path] = field(default_factory=dict)
    maps: Mapping[str, Path] = field(default_factory=dict)
    parameters: pd.DataFrame | None = None
    network_label: str = ""
    costs: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    tornado: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    assumptions: Sequence[str] = ()
    ksi_split: Sequence[KsiSplit] = ()
    descriptions: Mapping[str, str] = field(default_factory=dict)
    content: Mapping[str, Sequence[ContentItem]] = field(default_factory=dict)
    coverage: Coverage | None = None
    warnings: Sequence[str] = ()
    peak_calibration: str = ""
    calibration_warnings: Sequence[str] = ()


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _num(x: float, digits: int = 1) -> str:
    return format_number(x, digits, million=" M", million_digits=2)


def _ci(iv: Interval, lang: str, digits: int = 1) -> str:
    """``low … high``; "n<2" without two values; "no reliable CI" when the interval is not reliable."""
    if iv.n < 2:
        return "n<2"
    if not iv.reliable:
        return text("ci_unreliable", lang)
    return f"{_num(iv.low, digits)} … {_num(iv.high, digits)}"


def _with_ci(iv: Interval, lang: str, digits: int = 1) -> str:
    """``mean (low … high)``, with more decimals where ``digits`` would mislead (:func:`interval_digits`)."""
    digits = interval_digits(iv, digits)
    return f"{_num(iv.mean, digits)} ({_ci(iv, lang, digits)})"


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    left: int = 1,
    widths: Sequence[int] = (),
    text_cols: Sequence[int] = (),
    source_cols: Sequence[int] = (),
) -> str:
    """An HTML table; ``source_cols`` hold citations as the parameters files give them (class ``src``)."""

    def cell(tag: str, j: int, v: object) -> str:
        classes = (["l"] if j < left or j in text_cols or j in source_cols else []) + (
            ["src"] if tag == "td" and j in source_cols else []
        )
        cls = f' class="{" ".join(classes)}"' if classes else ""
        return f"<{tag}{cls}>{_e(v)}</{tag}>"

    head = "".join(cell("th", j, h) for j, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", j, v) for j, v in enumerate(r)) + "</tr>" for r in rows)
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    group = f"<colgroup>{cols}</colgroup>" if widths else ""
    return f"<table>{group}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _has(key: str) -> bool:
    return key in catalogue("en")


def content_phrases(items: Sequence[ContentItem], lang: str = "en") -> list[str]:
    """What a program consists of, one phrase per intervention with its count (cameras, km, crossings …)."""
    out = []
    for it in items:
        parts = it.detail.split("|")
        if it.type == "speed_limit" and len(parts) == 2:
            enforcement = text(f"enf_{parts[1]}", lang) if _has(f"enf_{parts[1]}") else parts[1]
            phrase = text("content_limit", lang, km=_num(it.road_km), limit=parts[0], enforcement=enforcement)
        elif it.type == "speed_camera" and parts[0] == "fixed":
            phrase = ntext("content_cameras", it.quantity, lang, n=_num(it.quantity, 0), km=_num(it.road_km))
        elif it.type == "speed_camera":
            phrase = text("content_section", lang, km=_num(it.road_km))
        elif it.type == "crossing" and len(parts) == 2:
            kind = text(f"ct_{parts[0]}", lang) if _has(f"ct_{parts[0]}") else parts[0]
            key = "content_upgrade" if parts[1] == "upgrade" else "content_add"
            phrase = ntext(key, it.quantity, lang, n=_num(it.quantity, 0), type=kind)
        else:
            unit_key = "unit_" + it.unit.replace(" ", "_")
            unit = text(unit_key, lang) if _has(unit_key) else it.unit
            phrase = text("content_other", lang, type=it.type, quantity=_num(it.quantity, 1), unit=unit)
        out.append(f"{it.title} — {phrase}")
    return out


def content_counts(items: Sequence[ContentItem], lang: str) -> str:
    """Counts a committee compares across programs, one per kind of measure.

    Always: fixed camera sites (``speed_camera`` fixed, and one site per km a camera-enforced ``speed_limit``
    newly covers, as its cost counts), km of new limits and crossings by type; when present: km of section
    control (``speed_camera`` section, ``speed_limit`` with ``section_control``), km enforced by police, km
    and devices of physical calming, roundabouts, km of road diet.
    """

    def total(
        kind: str, detail: Callable[[ContentItem], bool], value: Callable[[ContentItem], float]
    ) -> float:
        return sum(value(it) for it in items if it.type == kind and detail(it))

    def enforcement(name: str) -> Callable[[ContentItem], bool]:
        return lambda it: it.detail.split("|")[-1] == name

    def anything(_: ContentItem) -> bool:
        return True

    cameras = total("speed_camera", lambda it: it.detail == "fixed", lambda it: it.quantity) + total(
        "speed_limit",
        enforcement("camera"),
        lambda it: float(math.ceil(it.camera_km)) if it.camera_km else 0.0,
    )
    section = total("speed_camera", lambda it: it.detail == "section", lambda it: it.road_km) + total(
        "speed_limit", enforcement("section_control"), lambda it: it.camera_km
    )
    crossings: dict[str, float] = {}
    for it in items:
        if it.type == "crossing":
            kind = it.detail.split("|")[0]
            crossings[kind] = crossings.get(kind, 0.0) + it.quantity
    listed = ", ".join(
        f"{text(f'ct_{k}', lang) if _has(f'ct_{k}') else k} ({_num(n, 0)})"
        for k, n in sorted(crossings.items())
    )
    parts = [ntext("count_camera_sites", cameras, lang, n=_num(cameras, 0))]
    optional = [
        ("count_section_km", section),
        ("count_police_km", total("speed_limit", enforcement("police"), lambda it: it.road_km)),
        ("count_calming_km", total("speed_limit", enforcement("calming"), lambda it: it.road_km)),
    ]
    parts += [text(key, lang, km=_num(km)) for key, km in optional if km > 0]
    devices = total("traffic_calming", anything, lambda it: it.quantity)
    if devices > 0:
        parts.append(ntext("count_devices", devices, lang, n=_num(devices, 0)))
    parts.append(text("count_limit_km", lang, km=_num(total("speed_limit", anything, lambda it: it.road_km))))
    parts.append(text("count_crossings", lang, list=listed or "0"))
    roundabouts = total("roundabout", anything, lambda it: it.quantity)
    if roundabouts > 0:
        parts.append(ntext("count_roundabouts", roundabouts, lang, n=_num(roundabouts, 0)))
    diet = total("road_diet", anything, lambda it: it.road_km)
    if diet > 0:
        parts.append(text("count_road_diet_km", lang, km=_num(diet)))
    return text("content_counts", lang, parts=", ".join(parts))


def _verdict(v: VariantComparison, lang: str) -> str:
    if not v.distinguishable:
        more, shown = more_pairs(v.replications_needed, len(v.pairs))
        return ntext("verdict_not_yet", more, lang, more=shown)
    if v.ksi_avoided.mean > 0:
        return text("verdict_fewer", lang, prob=probability_text(v, lang))
    return text("verdict_more", lang)


def _programs(comparison: Comparison, inputs: ReportInputs, lang: str) -> str:
    header = [text("col_program", lang), text("col_what", lang), text("col_contents", lang)]
    rows = []
    for v in comparison.variants:
        items = inputs.content.get(v.variant, ())
        rows.append(
            [
                v.variant,
                inputs.descriptions.get(v.variant, ""),
                "; ".join([content_counts(items, lang), *content_phrases(items, lang)]),
            ]
        )
    return _table(header, rows, widths=(16, 42, 42), text_cols=(1, 2))


def _decision_table(comparison: Comparison, lang: str) -> str:
    cur = comparison.currency
    pct = comparison.precision_pct
    header = [
        text("col_program", lang),
        text("col_ksi_avoided_ci", lang),
        text("col_deaths_avoided", lang),
        text("col_cost", lang, cur=cur),
        text("col_bcr_ci", lang),
        text("col_bcr_safety", lang),
        text("col_cost_per_ksi", lang, cur=cur),
        text("col_npv_ci", lang, cur=cur),
        text("col_verdict", lang),
        text("col_reps_precision", lang, pct=format_number(pct, 0)),
    ]
    rows = []
    for v in comparison.variants:
        rows.append(
            [
                v.variant,
                _with_ci(v.ksi_avoided, lang),
                _with_ci(v.difference["fatal"].negated(), lang, 2),
                _num(v.cost_pv),
                _with_ci(v.bcr, lang, 2),
                _num(v.bcr_safety.mean, 2),
                _num(v.cost_per_ksi_avoided, 0),
                _with_ci(v.npv, lang),
                _verdict(v, lang),
                precision_text(v),
            ]
        )
    return _table(header, rows, widths=(12, 11, 9, 8, 11, 7, 9, 13, 13, 7), text_cols=(8,))


def _ranking(comparison: Comparison, lang: str) -> str:
    header = [
        text("col_rank", lang),
        text("col_program", lang),
        text("col_npv_ci", lang, cur=""),
        text("col_vs_next", lang),
    ]
    rows = []
    for r in ranking(comparison):
        if r.ahead_of_next is None:
            vs = ""
        elif r.separated:
            vs = text("rank_separated", lang, diff=_with_ci(r.ahead_of_next, lang))
        else:
            n = r.ahead_of_next.n
            more, shown = more_pairs(r.replications_needed, n)
            vs = ntext("rank_not_yet", more, lang, more=shown)
        rows.append([r.rank, r.variant, _with_ci(r.npv, lang), vs])
    return _table(header, rows, left=2, widths=(7, 23, 30, 40), text_cols=(3,))


def _increments(comparison: Comparison, lang: str) -> str:
    incs = increments(comparison)
    if not incs:
        return f'<p class="note">{_e(text("increments_none", lang))}</p>'
    header = [
        text("col_package", lang),
        text("col_part", lang),
        text("col_extra_ksi", lang),
        text("col_extra_cost", lang),
        text("col_extra_npv", lang),
        text("col_incr_bcr", lang),
    ]
    rows = [
        [
            i.package,
            i.part,
            _with_ci(i.ksi_avoided, lang),
            _num(i.cost_pv),
            _with_ci(i.npv, lang),
            _with_ci(i.bcr, lang, 2),
        ]
        for i in incs
    ]
    return f'<p class="note">{_e(text("increments_note", lang))}</p>' + _table(header, rows, left=2)


def _peak_calibration(baseline: str, inputs: ReportInputs, lang: str) -> str:
    """The baseline's peak calibration line, its warnings and what the congestion index is."""
    line = inputs.peak_calibration
    out = [f"<p>{_e(baseline)} — {_e(line[:1].upper() + line[1:])}</p>"]
    out += [f'<p class="quick">{_e(w)}</p>' for w in inputs.calibration_warnings]
    out.append(f'<p class="note">{_e(text("peak_calibration_note", lang))}</p>')
    return "".join(out)


def _target(comparison: Comparison, lang: str) -> list[str]:
    """``compare --target-ci``: the target, then per variant whether it was reached (a variant that was not: loud)."""
    lines = target_lines(comparison, lang)
    if not lines:
        return []
    reached = [True] + [v.target.reached for v in comparison.variants if v.target is not None]
    return [
        f'<p class="{"note" if ok else "quick"}">{_e(line)}</p>'
        for line, ok in zip(lines, reached, strict=True)
    ]


def _summary(comparison: Comparison, inputs: ReportInputs, lang: str) -> str:
    parts = []
    if inputs.coverage is not None:
        parts.append(f"<p><strong>{_e(coverage_text(inputs.coverage, lang))}</strong></p>")
    if inputs.peak_calibration:
        parts.append(_peak_calibration(comparison.baseline.name, inputs, lang))
    n = comparison.baseline.metrics["ksi"].n
    if comparison.variants and not all(v.distinguishable for v in comparison.variants):
        parts.append(f'<p class="quick">{_e(ntext("quick_look", n, lang))}</p>')
    out = ['<div class="summary">' + "".join(parts) + "</div>"]
    out.append(f"<h3>{_e(text('programs', lang))}</h3>")
    out.append(_programs(comparison, inputs, lang))
    out.append(f"<h3>{_e(text('decision', lang))}</h3>")
    out.append(_decision_table(comparison, lang))
    out.append(f'<p class="note">{_e(ntext("interval_note", n, lang))} {_e(text("money_note", lang))}</p>')
    if unreliable_note(n, lang):
        out.append(f'<p class="quick">{_e(unreliable_note(n, lang))}</p>')
    if comparison.variants:
        out.append(f'<p class="note">{_e(precision_foot(comparison.precision_pct, lang))}</p>')
    out.extend(_target(comparison, lang))
    if any(sc.truncated for sc in comparison.scenarios):
        out.append(f'<p class="note">{_e(text("truncated_note", lang))}</p>')
    out.append(f"<h3>{_e(text('ranking', lang))}</h3>")
    out.append(_ranking(comparison, lang))
    out.append(f"<h3>{_e(text('increments', lang))}</h3>")
    out.append(_increments(comparison, lang))
    return "\n".join(out)


def _road_user_table(comparison: Comparison, lang: str) -> str:
    header = [text("scenario", lang)] + [text(ru, lang) for ru in ROAD_USERS]
    rows = []
    for v in comparison.variants:
        row: list[object] = [v.variant]
        for ru in ROAD_USERS:
            row.append(_with_ci(v.difference[f"ksi_{ru}"].negated(), lang))
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
            text("econ_serious", lang),
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
            text("per_veh_h", lang, value=_num(e.value_of_time, 2), cur=cur),
            e.sources.get("value_of_time", ""),
        ),
        (text("econ_rate", lang), f"{e.discount_rate:.1%}", e.sources.get("discount_rate", "")),
        (
            text("econ_horizon", lang),
            ntext("years", e.horizon_years, lang),
            e.sources.get("horizon_years", ""),
        ),
    ]
    head = [text("econ_value", lang), text("econ_used", lang), text("econ_source", lang)]
    return _table(head, rows, left=1, widths=(25, 18, 57), source_cols=(2,))


def _money_table(comparison: Comparison, lang: str) -> str:
    cur = comparison.currency
    header = [
        text("scenario", lang),
        text("col_benefit_pv", lang),
        text("col_tt_pv", lang),
        text("col_cost_pv", lang),
        text("col_npv_ci", lang, cur=cur),
        text("col_bcr_ci", lang),
        text("col_bcr_safety", lang),
        text("col_cost_per_ksi", lang, cur=cur),
    ]
    rows = []
    for v in comparison.variants:
        rows.append(
            [
                v.variant,
                f"{_num(v.safety_benefit_pv.mean)} {cur}",
                f"{_num(v.travel_time_cost_pv.mean)} {cur}",
                f"{_num(v.cost_pv)} {cur}",
                _with_ci(v.npv, lang),
                _with_ci(v.bcr, lang, 2),
                _num(v.bcr_safety.mean, 2),
                _num(v.cost_per_ksi_avoided, 0),
            ]
        )
    return _table(header, rows)


def _frame_table(
    frame: pd.DataFrame,
    columns: Sequence[str],
    lang: str,
    *,
    left: int = 1,
    digits: int = 3,
    widths: Sequence[int] = (),
    translate: Sequence[str] = (),
) -> str:
    """A data frame as a table; headers from the catalogue (``col_<name>``), values of ``translate`` columns too."""

    def fmt(c: str, v: object) -> object:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            return _num(v, 2) if abs(v) >= 1e4 else f"{v:.{digits}g}"
        if c in translate and isinstance(v, str) and _has(f"{c}_{v}"):
            return text(f"{c}_{v}", lang)
        return "" if v is None else v

    sub = frame[list(columns)]
    text_cols = [
        j for j, c in enumerate(columns) if sub[c].dtype == object or pd.api.types.is_string_dtype(sub[c])
    ]
    rows = [[fmt(c, v) for c, v in zip(columns, r, strict=True)] for r in sub.itertuples(index=False)]
    header = [text(f"col_{c}", lang) for c in columns]
    sources = [j for j, c in enumerate(columns) if c == "source"]
    return _table(header, rows, left=left, widths=widths, text_cols=text_cols, source_cols=sources)


#: Catalogue keys of the assumptions every report lists.
_STANDARD_ASSUMPTIONS = (
    "assume_pairs",
    "assume_intervals",
    "assume_noise",
    "assume_money",
    "assume_bcr",
    "assume_maps",
    "assume_tornado",
)


def _split_table(splits: Sequence[KsiSplit], lang: str) -> str:
    pct = splits[0].precision_pct if splits else float("nan")
    header = [text("scenario", lang)] + [text(f"where_{p}", lang) for p in PARTS]
    header.append(text("col_reps_precision_touched", lang, pct=format_number(pct, 0)))
    rows = []
    for sp in splits:
        row: list[object] = [sp.variant]
        for p in PARTS:
            row.append(_with_ci(sp.part(p), lang))
        row.append(replications_text(sp.replications_for_precision("touched"), sp.touched.n, sp.touched.mean))
        rows.append(row)
    return _table(header, rows)


def _caption(key: str, lang: str, baseline: str) -> str:
    kind, _, name = key.partition(":")
    if kind in ("ksi", "tradeoff"):
        return text(f"cap_{kind}", lang)
    if kind == "map" and name == baseline:
        return text("cap_map", lang, scenario=text("baseline_label", lang, name=name))
    if kind in ("speeds", "tornado", "map", "map_diff", "network"):
        return text(f"cap_{kind}", lang, scenario=name)
    return key


def _evidence(comparison: Comparison, inputs: ReportInputs, lang: str) -> str:
    """Section 2: tables, charts and maps."""
    out: list[str] = []
    out.append(f'<h2 id="s-evidence">2. {_e(text("sec_evidence", lang))}</h2>')
    out.append(f"<h3>{_e(text('tables', lang))}</h3>")
    header, rows = table_rows(comparison, lang=lang)
    out.append(_table(header, rows))
    if comparison.variants and not all(v.distinguishable for v in comparison.variants):
        out.append(f'<p class="note">{_e(text("not_yet_foot", lang))}</p>')
    if comparison.variants:
        out.append(f'<p class="note">{_e(precision_foot(comparison.precision_pct, lang))}</p>')
    out.append(f"<h3>{_e(text('by_road_user', lang))}</h3>")
    out.append(_road_user_table(comparison, lang))
    if inputs.ksi_split:
        out.append(f"<h3>{_e(text('where_title', lang))}</h3>")
        out.append(f'<p class="note">{_e(text("where_note", lang))}</p>')
        out.append(_split_table(inputs.ksi_split, lang))
    out.append(f"<h3>{_e(text('money', lang))}</h3>")
    out.append(_money_table(comparison, lang))
    if inputs.charts:
        out.append(f"<h3>{_e(text('charts', lang))}</h3>")
        for key, path in inputs.charts.items():
            out.append(_img(path, _caption(key, lang, comparison.baseline.name)))
            tor = inputs.tornado.get(key.split(":", 1)[1]) if key.startswith("tornado:") else None
            if tor is not None and len(tor):
                cols = ["parameter", "unit", "low", "high", "at_low", "at_high"]
                out.append(_frame_table(tor.head(10), cols, lang))
    if inputs.maps:
        out.append(f"<h3>{_e(text('maps', lang))}</h3>")
        out.append(f'<p class="note">{_e(text("maps_note", lang))}</p>')
        for key, path in inputs.maps.items():
            out.append(_img(path, _caption(key, lang, comparison.baseline.name)))

    return "\n".join(out)


def _method(comparison: Comparison, inputs: ReportInputs, lang: str) -> str:
    """Section 3: assumptions, economic values, intervention costs."""
    out: list[str] = []
    out.append(f'<h2 id="s-method">3. {_e(text("method", lang))}</h2>')
    out.append(f"<h3>{_e(text('assumptions', lang))}</h3><ul>")
    for key in _STANDARD_ASSUMPTIONS:
        out.append(f"<li>{_e(text(key, lang, minimum=MIN_REPLICATIONS_FOR_CI))}</li>")
    for line in inputs.assumptions:
        out.append(f"<li>{_e(line)}</li>")
    if comparison.schematic:
        out.append(f"<li><strong>{_e(text('schematic_long', lang))}</strong></li>")
    out.append("</ul>")
    out.append(f"<h3>{_e(text('economics', lang))}</h3>")
    out.append(_economics_table(comparison, lang))
    for name, frame in inputs.costs.items():
        if len(frame):
            out.append(f"<h3>{_e(text('intervention_costs', lang, name=name))}</h3>")
            cols = [c for c in frame.columns if c != "variant"]
            out.append(_frame_table(frame, cols, lang, digits=4))

    return "\n".join(out)


def render_report(comparison: Comparison, inputs: ReportInputs, *, lang: str = "en") -> str:
    """The report as one HTML string (see the module docstring)."""
    check_lang(lang)
    variants = ", ".join(v.variant for v in comparison.variants)
    title = text("report_title", lang, variants=variants, baseline=comparison.baseline.name)
    sections = [
        ("summary", "s-summary"),
        ("sec_evidence", "s-evidence"),
        ("method", "s-method"),
        ("sources", "s-sources"),
    ]
    out = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
    ]
    if comparison.schematic:
        out.append(f'<div class="warn">{_e(text("schematic_long", lang))}</div>')
    out.extend(f'<div class="warn">{_e(w)}</div>' for w in inputs.warnings)
    if inputs.network_label:
        out.append(f'<p class="note">{_e(network_label(inputs.network_label, lang))}</p>')
    toc = "".join(f'<li><a href="#{anchor}">{_e(text(key, lang))}</a></li>' for key, anchor in sections)
    out.append(f"<nav><strong>{_e(text('contents', lang))}</strong><ol>{toc}</ol></nav>")

    out.append(f'<h2 id="s-summary">1. {_e(text("summary", lang))}</h2>')
    out.append(_summary(comparison, inputs, lang))

    out.append(_evidence(comparison, inputs, lang))
    out.append(_method(comparison, inputs, lang))
    out.append(f'<h2 id="s-sources">4. {_e(text("sources", lang))}</h2>')
    if inputs.parameters is not None and len(inputs.parameters):
        cols = ["name", "value", "low", "high", "unit", "status", "source"]
        out.append(
            _frame_table(
                inputs.parameters,
                cols,
                lang,
                digits=4,
                widths=(24, 8, 7, 7, 10, 9, 35),
                translate=("status",),
            )
        )
    out.append(
        '<p class="note">'
        + _e(
            text(
                "generated",
                lang,
                version=__version__,
                network=network_label(inputs.network_label, lang) or "?",
            )
        )
        + "</p></body></html>"
    )
    return "\n".join(out)


def write_report(comparison: Comparison, inputs: ReportInputs, path: Path, *, lang: str = "en") -> Path:
    """Write :func:`render_report` to ``path`` atomically."""
    atomic_write_text(path, render_report(comparison, inputs, lang=lang))
    return path
