"""How a number and a target precision read: one wording for the terminal, the written summaries, tables and report.

:func:`format_number` is every table's number; :func:`replications_text` the count of replications a precision
needs (the "reps for ±N%" column); :func:`precision_line` the sentence saying where a series stopped against
``--target-ci``. ``vision-zero run`` prints that sentence under a run's summary (and writes it into
``run_summary.json``), ``vision-zero compare`` under its table and in the report, so both say it alike.
"""

from __future__ import annotations

import math

from vision_zero.core.i18n import ntext
from vision_zero.core.intervals import NEEDED_CAP, Precision

__all__ = ["aligned_columns", "format_number", "precision_line", "replications_text"]


def aligned_columns(rows: list[list[str]]) -> list[str]:
    """A text table's lines: the first column left-aligned, the others right-aligned, a rule under the first row."""
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def format_number(x: float, digits: int = 1, *, million: str = "M", million_digits: int = 0) -> str:
    """A number as a committee reads it: thousands separators, millions as ``1.2M``, "–" if not finite.

    ``million`` is the suffix after millions (``" M"`` in the report), shown with at least
    ``million_digits`` decimals.
    """
    if not math.isfinite(x):
        return "–"
    if round(x, digits) == 0:
        x = 0.0  # no "-0.0"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.{max(digits, million_digits)}f}{million}"
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def replications_text(needed: int, pairs: int, mean: float) -> str:
    """A "reps for ±N%" cell: the count, "≥ 100,000" at the cap, "–" if there is nothing to count.

    ``needed`` from :func:`~vision_zero.core.intervals.replications_needed`, ``pairs`` the pairs it came from,
    ``mean`` their mean: without two pairs or with a mean of 0 there is no observed variance or nothing to be
    precise about ("–").
    """
    if needed >= NEEDED_CAP:
        return "–" if pairs < 2 or mean == 0.0 else f"≥ {format_number(NEEDED_CAP, 0)}"
    return format_number(needed, 0)


#: The message of each :attr:`~vision_zero.core.intervals.Precision.stop_reason`, for pairs (a variant's KSI
#: avoided) and for replications (a scenario's own KSI).
_TARGET_KEYS = {
    "target-ci": ("target_reached", "target_reached_runs"),
    "out-of-reach": ("target_out_of_reach", "target_out_of_reach_runs"),
    "max-replications": ("target_not_reached", "target_not_reached_runs"),
}


def precision_line(where: Precision, name: str, *, paired: bool = True, lang: str = "en") -> str:
    """One sentence: whether scenario ``name`` reached its target precision, and if not the replications it needs.

    Reached after n; or not reached (stopped at ``--max-replications``, or out of reach: its interval includes 0
    and it would need more than the maximum) with the count :func:`replications_text` gives. ``paired``: the
    series is a variant's KSI avoided per pair (counted in pairs), else a scenario's KSI per replication.
    """
    pairs_key, runs_key = _TARGET_KEYS[where.stop_reason]
    return ntext(
        pairs_key if paired else runs_key,
        where.n,
        lang,
        variant=name,
        pct=f"{where.target_ci_pct / 2:g}",
        width=format_number(where.width_pct, 0) if math.isfinite(where.width_pct) else "∞",
        needed=replications_text(where.needed, where.n, where.mean),
        max=where.max_replications,
    )
