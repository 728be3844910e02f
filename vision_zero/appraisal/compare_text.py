"""The comparison as text: intervals, probabilities and verdicts in words, the terminal/report table and its notes.

Everything here reads a :class:`~vision_zero.appraisal.compare.Comparison` and computes nothing new: the terminal
(:func:`format_table`), the report (:mod:`vision_zero.outputs.report`) and the sweep's table word their figures
through these functions, in the user's language (:mod:`vision_zero.core.i18n`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vision_zero.appraisal.compare import Comparison, VariantComparison
from vision_zero.appraisal.paired_stats import sd_range
from vision_zero.core.formatting import aligned_columns, format_number, precision_line, replications_text
from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI, Interval

__all__ = [
    "format_interval",
    "format_probability",
    "format_table",
    "interval_digits",
    "more_pairs",
    "precision_foot",
    "precision_text",
    "probability_text",
    "table_rows",
    "target_lines",
    "unreliable_note",
]


def interval_digits(iv: Interval, digits: int = 1, *, most: int = 4) -> int:
    """The decimals to print ``iv`` with: ``digits``, or more (up to ``most``) where fewer would mislead.

    More when a mean that is not 0 would print as 0, and, for an interval within ±1, when it is shown and excludes 0
    but a bound would print as 0, or when its two bounds would print alike: KSI avoided "0.0 (0.0 to 0.0)" beside
    "P(fewer KSI) > 99%" reads as no effect, where "0.02 (0.01 to 0.04)" is the same figure told plainly. Not for
    figures that print as 0 even with ``most`` decimals (a residue of summation): those keep ``digits``.
    """
    # figures that print as 0 even with ``most`` decimals are a residue of summation (e.g. 1e-12 KSI "elsewhere" for
    # a crossing-only variant whose traffic is identical): printed as 0.0, not "0.0000"
    if all(round(x, most) == 0.0 for x in (iv.mean, iv.low, iv.high) if math.isfinite(x)):
        return digits

    def misleads(d: int) -> bool:
        if iv.mean != 0.0 and round(iv.mean, d) == 0.0:
            return True
        if not iv.reliable:
            return False
        low, high = round(iv.low, d), round(iv.high, d)
        small = max(abs(iv.low), abs(iv.high)) < 1.0  # "5.0 (0.0 to 10.0)" reads right; no 4 decimals for it
        return small and ((iv.excludes_zero and 0.0 in (low, high)) or (iv.low < iv.high and low == high))

    d = digits
    while d < most and misleads(d):
        d += 1
    return d


def format_interval(iv: Interval, digits: int = 1, *, lang: str = "en") -> str:
    """``mean (low to high)`` in ``lang``, or ``mean (no reliable CI)``, or the mean alone.

    "No reliable CI" when the interval is not :attr:`~Interval.reliable`; the mean alone with fewer than two
    replications. ``digits`` decimals, more where fewer would mislead (:func:`interval_digits`).
    """
    from vision_zero.core.i18n import text

    digits = interval_digits(iv, digits)
    if iv.n < 2:
        return format_number(iv.mean, digits)
    if not iv.reliable:
        return text("interval_unreliable", lang, mean=format_number(iv.mean, digits))
    return text(
        "interval",
        lang,
        mean=format_number(iv.mean, digits),
        low=format_number(iv.low, digits),
        high=format_number(iv.high, digits),
    )


def format_probability(p: float) -> str:
    """A probability as a percentage; above 99% as "> 99%" and below 1% as "< 1%" (never a certain 100% or 0%)."""
    if not math.isfinite(p):
        return "–"
    if p > 0.99:
        return "> 99%"
    if p < 0.01:
        return "< 1%"
    return f"{p:.0%}"


def more_pairs(needed: int, pairs: int) -> tuple[int, str]:
    """The paired replications a "not yet (+N)" verdict asks for, and N as printed.

    ``needed`` from :func:`~vision_zero.core.intervals.replications_needed`, ``pairs`` the pairs it came from. With
    fewer than two pairs no spread is observed and ``replications_needed`` answers its cap: the count is then the
    least that gives a reliable interval (:data:`MIN_REPLICATIONS_FOR_CI`), printed as a lower bound ("≥ 2"), not
    the cap.
    """
    if pairs < 2:
        more = MIN_REPLICATIONS_FOR_CI - pairs
        return more, f"≥ {format_number(more, 0)}"
    more = max(needed - pairs, 1)
    return more, format_number(more, 0)


def probability_text(v: VariantComparison, lang: str = "en") -> str:
    """P(fewer KSI) as a percentage where the replications tell the change from noise, else "not yet (+N)"."""
    from vision_zero.core.i18n import ntext

    if v.distinguishable:
        return format_probability(v.prob_reduces_ksi)
    more, shown = more_pairs(v.replications_needed, len(v.pairs))
    return ntext("not_yet_short", more, lang, more=shown)


def precision_text(v: VariantComparison) -> str:
    """The paired replications for ± ``precision_pct`` on KSI avoided (:func:`replications_text`)."""
    return replications_text(v.replications_for_precision, len(v.pairs), v.difference["ksi"].mean)


def target_lines(comparison: Comparison, lang: str = "en") -> list[str]:
    """What ``compare --target-ci`` did: a line saying the target, then one per variant.

    Per variant :func:`~vision_zero.core.formatting.precision_line` (the sentence ``vision-zero run`` prints too):
    reached after n pairs; or not reached (at the maximum, or out of reach) and the pairs it would need, counted as
    the "reps for ±x%" column counts them. Empty for a comparison without a target.
    """
    from vision_zero.core.i18n import text

    targets = [(v, v.target) for v in comparison.variants if v.target is not None]
    if not targets:
        return []
    first = targets[0][1]
    lines = [
        text(
            "target_head",
            lang,
            width=f"{first.target_ci_pct:g}",
            pct=f"{first.target_ci_pct / 2:g}",
            max=first.max_replications,
        )
    ]
    lines.extend(precision_line(t, v.variant, lang=lang) for v, t in targets)
    return lines


def unreliable_note(n: int, lang: str = "en") -> str:
    """The sentence saying why ``n`` paired replications give no reliable interval ("" from the minimum on)."""
    from vision_zero.core.i18n import ntext

    if n >= MIN_REPLICATIONS_FOR_CI or n < 2:
        return ""
    lo, hi = sd_range(n)
    return ntext(
        "unreliable_note",
        n,
        lang,
        df=n - 1,
        sd_low=f"{lo:.2f}",
        sd_high=format_number(hi, 0),
        minimum=MIN_REPLICATIONS_FOR_CI,
    )


def table_rows(comparison: Comparison, *, lang: str = "en") -> tuple[list[str], list[list[str]]]:
    """Header and rows of the terminal/report table: one row per scenario (numbers as text)."""
    from vision_zero.core.i18n import text

    cur = comparison.currency
    keys = (
        "scenario",
        "col_deaths",
        "col_serious",
        "col_ksi",
        "col_ksi_avoided",
        "col_ksi_change",
        "col_prob",
    )
    pct = comparison.precision_pct
    header = [text(k, lang) for k in keys] + [
        text("col_reps_precision", lang, pct=format_number(pct, 0)),
        text("col_veh_h", lang),
        text("col_trips", lang),
        text("col_cost", lang, cur=cur),
        text("col_npv", lang, cur=cur),
        text("col_bcr", lang),
    ]
    b = comparison.baseline.metrics
    fmt = _interval_formatter(lang)
    rows = [
        [
            _baseline_label(comparison.baseline.name, lang),
            fmt(b["fatal"]),
            fmt(b["serious"]),
            fmt(b["ksi"]),
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    ]
    sums = {s.name: s for s in comparison.scenarios}
    for v in comparison.variants:
        m = sums[v.variant].metrics
        rows.append(
            [
                v.variant,
                fmt(m["fatal"]),
                fmt(m["serious"]),
                fmt(m["ksi"]),
                fmt(v.ksi_avoided),
                fmt(v.percent_change["ksi"]),
                probability_text(v, lang),
                precision_text(v),
                format_number(v.difference["veh_h"].mean, 0),
                _trips_change(m, v),
                format_number(v.cost_pv, 1),
                fmt(v.npv),
                fmt(v.bcr, 2),
            ]
        )
    return header, rows


def precision_foot(pct: float, lang: str = "en") -> str:
    """The note under a table with the replications-for-precision column (± ``pct`` %): what it means, how to get there.

    The comparison's table and report (:attr:`~vision_zero.appraisal.compare.Comparison.precision_pct`) and the sweep's table say it alike.
    """
    from vision_zero.core.i18n import text

    return text("precision_foot", lang, pct=format_number(pct, 0), width=format_number(2 * pct, 0))


def _trips_change(m: Mapping[str, Interval], v: VariantComparison) -> str:
    """E.g. ``−412/+0 (−3.1%)``: mean simulated trips evaporated and added, and the change in trips."""
    pct = v.percent_change["trips"].mean
    tail = f" ({pct:+.1f}%)" if math.isfinite(pct) else ""
    return f"−{format_number(m['trips_evaporated'].mean, 0)}/+{format_number(m['trips_added'].mean, 0)}{tail}"


def _baseline_label(name: str, lang: str) -> str:
    """``name (baseline)`` unless the name says so already (no "baseline (baseline)")."""
    from vision_zero.core.i18n import text

    if name.lower() in ("baseline", text("baseline", lang).lower()):
        return name
    return text("baseline_label", lang, name=name)


def _interval_formatter(lang: str) -> Any:
    def fmt(iv: Interval, digits: int = 1) -> str:
        return format_interval(iv, digits, lang=lang)

    return fmt


def format_table(comparison: Comparison, *, label: str = "", lang: str = "en", coverage: str = "") -> str:
    """Aligned plain-text tables for the terminal (per scenario, then each variant against the baseline).

    ``label`` is the network's label, ``coverage`` the sentence saying what the totals cover; both are printed
    under the tables. Text in ``lang``.
    """
    from vision_zero.core.i18n import ntext, text

    header, rows = table_rows(comparison, lang=lang)

    def block(cols: list[int]) -> list[str]:
        return aligned_columns([[r[j] for j in cols] for r in [header, *rows]])

    per_scenario = block([0, 1, 2, 3])
    against = block([0, *range(4, len(header))])
    against = against[:2] + against[3:]  # the baseline's row is empty here
    n = comparison.baseline.metrics["ksi"].n
    foot = [ntext("table_foot", n, lang)]
    if unreliable_note(n, lang):
        foot.append(unreliable_note(n, lang))
    if any(not v.distinguishable for v in comparison.variants):
        foot.append(text("not_yet_foot", lang))
    if comparison.variants:
        foot.append(precision_foot(comparison.precision_pct, lang))
    foot.extend(target_lines(comparison, lang))
    if any(s.truncated for s in comparison.scenarios):
        foot.append(text("truncated_note", lang))
    if coverage:
        foot.append(coverage)
    if label:
        foot.append(label)
    if comparison.schematic:
        foot.append(text("schematic_long", lang))
    heading = text("against", lang, baseline=comparison.baseline.name)
    return "\n".join([*per_scenario, "", heading, *against, "", *foot])
