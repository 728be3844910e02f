"""What a run says: the terminal summary, its loud warnings (gridlock, the peak calibration) and ``run_summary.json``.

:func:`format_summary` is what ``vision-zero run`` prints; :func:`run_warnings` the loud warnings the terminal, each
replication's ``summary.json``, ``run_summary.json`` and the report show alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from vision_zero.core.formatting import precision_line
from vision_zero.core.i18n import text
from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI, Interval, interval
from vision_zero.runs.jobs import RunResult
from vision_zero.runs.results import atomic_write_text

__all__ = [
    "RUN_SUMMARY_FILE",
    "arrival_warning",
    "calibration_spread_warning",
    "calibration_warning",
    "calibration_warnings",
    "format_peak_calibration",
    "format_route_choice",
    "format_summary",
    "format_traffic",
    "run_warnings",
    "write_run_summary",
]

#: Summary keys printed by :func:`format_summary`: (key, label).
_HEADLINE: tuple[tuple[str, str], ...] = (("fatal", "deaths"), ("serious", "serious"), ("slight", "slight"))

#: The run's written summary (in the run folder, beside ``replications.csv``).
RUN_SUMMARY_FILE = "run_summary.json"


def write_run_summary(run: RunResult) -> Path:
    """Write ``run_summary.json`` into the run folder: what the terminal prints of the run, and its loud warnings.

    ``text`` is :func:`format_summary` (the lines ``vision-zero run`` prints), ``warnings`` the loud warnings among
    them (:func:`run_warnings` over the replications' means: gridlock, an unmet peak calibration), so a run read
    later from its folder says what its terminal said. Rewritten, like ``replications.csv``, by every run of the
    folder.
    """
    doc = {
        "scenario": run.job.name,
        "seed": run.job.seed,
        "replications": run.n,
        "stop_reason": run.stop_reason,
        "warnings": run_warnings(run.job.name, run.summaries),
        "text": format_summary(run),
    }
    path = run.run_dir / RUN_SUMMARY_FILE
    atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False))
    return path


def _fmt_interval(iv: Interval) -> str:
    """``mean  [low, high]`` when ``iv`` is :attr:`~vision_zero.core.intervals.Interval.reliable`, else why not."""
    if iv.n < 2:
        return f"{iv.mean:9.2f}  (one replication: no interval)"
    if iv.n < MIN_REPLICATIONS_FOR_CI:
        return (
            f"{iv.mean:9.2f}  ({iv.n} replications: no reliable interval, it needs {MIN_REPLICATIONS_FOR_CI})"
        )
    if not iv.reliable:
        return f"{iv.mean:9.2f}  (no reliable interval)"
    return f"{iv.mean:9.2f}  [{iv.low:.2f}, {iv.high:.2f}]"


def format_route_choice(run: RunResult) -> str:
    """``  route choice: relative gap …`` over the replications, or "" for results without it (older runs)."""
    summaries = run.summaries
    if not summaries or any("route_relative_gap" not in s for s in summaries):
        return ""
    gaps = np.array([s["route_relative_gap"] for s in summaries])
    iters = np.array([s["route_iterations"] for s in summaries])
    band = ""
    if all("route_outside_band" in s for s in summaries):
        outside = np.array([s["route_outside_band"] for s in summaries])
        band = f", {100 * outside.mean():.1f}% of trips outside their indifference band"
    return (
        f"  route choice: relative gap {100 * gaps.mean():.1f}% (replications {100 * gaps.min():.1f}-"
        f"{100 * gaps.max():.1f}%) after {iters.min():.0f}-{iters.max():.0f} re-routing iteration(s){band}"
        f"{_route_stops(summaries)}"
    )


def _route_stops(summaries: Sequence[Mapping[str, float]]) -> str:
    """``; stopped by the gap target in 2, at the cap of 8 … in 1 of 3 replications`` ("" for older results)."""
    from vision_zero.traffic.simulation import STOP_REASONS

    if any(f"route_stop_{r}" not in s for s in summaries for r in STOP_REASONS):
        return ""
    label = {
        "gap_target": "by the gap target",
        "plateau": "on a plateau of the gap",
        "band": "with the drivers inside their indifference band (within its tolerance)",
    }
    parts, capped = [], [s for s in summaries if s["route_stop_cap"] == 1.0]
    for r in STOP_REASONS:
        n = sum(s[f"route_stop_{r}"] == 1.0 for s in summaries)
        if r == "cap" and n:
            caps = "/".join(f"{k:.0f}" for k in sorted({s["route_iterations"] for s in capped}))
            parts.append(f"at the cap of {caps} re-routing iterations in {n}")
        elif n:
            parts.append(f"{label[r]} in {n}")
    line = f"; stopped {', '.join(parts)} of {len(summaries)} replication(s)"
    if capped:
        g = np.array([s["route_relative_gap"] for s in capped])
        gap = f"{100 * g.min():.1f}-{100 * g.max():.1f}%" if g.min() < g.max() else f"{100 * g[0]:.1f}%"
        line += f": NOT converged there (gap {gap})"
    return line


def _traffic_mean(summaries: Sequence[Mapping[str, float]], key: str) -> float:
    """Mean of a traffic-summary key over replications (NaN if a summary predates it or none is finite)."""
    if not summaries or any(key not in s for s in summaries):
        return math.nan
    v = np.array([s[key] for s in summaries], dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def format_traffic(summaries: Sequence[Mapping[str, float]]) -> str | None:
    """One line on the simulated traffic: trips arrived and en route, congestion index, stuck moves (means)."""
    share = _traffic_mean(summaries, "share_arrived")
    if math.isnan(share):
        return None
    return (
        f"traffic: {share:.1%} of routed trips arrived, {_traffic_mean(summaries, 'trips_en_route'):,.0f} still "
        f"en route; congestion index (peak travel time / free-flow) "
        f"{_traffic_mean(summaries, 'congestion_index'):.2f}; stuck moves "
        f"{_traffic_mean(summaries, 'stuck_moves'):,.0f} (means per replication)"
    )


def arrival_warning(name: str, summaries: Sequence[Mapping[str, float]], lang: str = "en") -> str | None:
    """A loud warning when fewer than ``ARRIVAL_WARNING_SHARE`` of the routed trips arrive, else None.

    In ``lang`` (``en``, ``ru``, ``kk``: the catalogue of :mod:`vision_zero.core.i18n`, key ``warn_gridlock``).
    """
    from vision_zero.traffic.simulation import ARRIVAL_WARNING_SHARE

    share = _traffic_mean(summaries, "share_arrived")
    if math.isnan(share) or share >= ARRIVAL_WARNING_SHARE:
        return None
    return text(
        "warn_gridlock", lang, name=name, share=f"{share:.0%}", threshold=f"{ARRIVAL_WARNING_SHARE:.0%}"
    )


def calibration_warning(name: str, summaries: Sequence[Mapping[str, float]], lang: str = "en") -> str | None:
    """A loud warning when the peak calibration stopped without meeting its congestion target, else None.

    Reads the ``peak_*`` keys :func:`vision_zero.runs.pipeline.summarise` copies from the scenario's
    :class:`~vision_zero.runs.peak_calibration.PeakCalibration` (the same in every replication); None without them (no
    ``[demand] congestion_index_target``, or a run written before they existed). In ``lang`` (keys
    ``warn_calibration_*`` of :mod:`vision_zero.core.i18n`'s catalogue).
    """
    if not summaries or any("peak_reached" not in s for s in summaries):
        return None
    s = summaries[0]
    if s["peak_reached"] >= 1.0:
        return None
    target, ci, factor = s["peak_target"], s["peak_congestion_index"], s["peak_factor"]
    done, steps = s["peak_completed_share"], int(s["peak_steps"])
    low, high = s["peak_factor_low"], s["peak_factor_high"]
    got = text("warn_calibration_got", lang, ci=f"{ci:.2f}", target=f"{target:.2f}", done=f"{done:.0%}")
    # the calibration moves the demand towards its target: stopped at the upper end, the peak needed more demand
    ends = {"upper": high, "lower": low}
    end = next((e for e, f in ends.items() if math.isclose(factor, f, rel_tol=1e-9)), None)
    if end is not None:
        out = text(
            f"warn_calibration_{end}",
            lang,
            name=name,
            factor=f"{factor:.3f}",
            low=f"{low:.3f}",
            high=f"{high:.3f}",
            got=got,
        )
        return out + _route_gap_clause(summaries, lang) if end == "lower" else out
    return text("warn_calibration_steps", lang, name=name, steps=steps, factor=f"{factor:.3f}", got=got)


def _route_gap_clause(summaries: Sequence[Mapping[str, float]], lang: str) -> str:
    """Why a calibration can stop at its lower bound: unconverged route choice ("" once it has converged).

    Drivers left on routes slower than their best (the calibration's own route gap at its calibrated step,
    ``peak_route_relative_gap``, above ``traffic.route_choice.relative_gap_target``) add delay that no demand
    within the range removes: on the full schematic city at SCIENCE.md §10's lower bound the index is 1.91 with
    the default re-routing passes and 1.63 with 8 (benchmarks/README.md, "Calibrated baselines"). The
    calibration's gap is the same in every replication's summary, so a replication's warning (its
    ``summary.json``) reads as the run's. Key ``warn_calibration_route``.
    """
    from vision_zero.core.parameters import load_parameters

    gap = summaries[0].get("peak_route_relative_gap", math.nan)
    if math.isnan(gap) or gap <= load_parameters().value("traffic.route_choice.relative_gap_target"):
        return ""
    return "; " + text("warn_calibration_route", lang, gap=f"{gap:.0%}")


def _index_spread(summaries: Sequence[Mapping[str, float]]) -> tuple[float, float, float] | None:
    """The replications' congestion index: (mean, lowest, highest) of the finite ones, None without any."""
    if not summaries or any("congestion_index" not in s for s in summaries):
        return None
    v = np.array([s["congestion_index"] for s in summaries], dtype=float)
    v = v[np.isfinite(v)]
    return (float(v.mean()), float(v.min()), float(v.max())) if v.size else None


def format_peak_calibration(summaries: Sequence[Mapping[str, float]], lang: str = "en") -> str:
    """``peak calibration: …``: the calibrated index at central parameters beside the run's replications'.

    The calibration (:func:`vision_zero.runs.peak_calibration.calibrate_peak`) meets its target with the central traffic
    parameters; each replication draws its own (signal cycle, saturation flow, …), and near capacity the index
    is convex in them, so the run's mean can sit away from the calibrated value. "" without a calibration. In
    ``lang`` (keys ``peak_calibration``, ``peak_target_range``, ``peak_central_se``: the calibrated index with its
    standard error over the calibration's replications, where the summaries carry it); :func:`format_summary`
    indents it, the report shows it under what the totals cover.
    """
    spread = _index_spread(summaries)
    if spread is None or any("peak_congestion_index" not in s for s in summaries):
        return ""
    s = summaries[0]
    mean, low, high = spread
    target = f"{s['peak_target']:.2f}"
    if "peak_target_low" in s:
        target = text(
            "peak_target_range",
            lang,
            target=target,
            low=f"{s['peak_target_low']:.2f}",
            high=f"{s['peak_target_high']:.2f}",
        )
    central = f"{s['peak_congestion_index']:.2f}"
    if s.get("peak_congestion_index_se", 0.0) > 0:  # how sure the calibration is (its replications' seeds)
        central = text(
            "peak_central_se",
            lang,
            ci=central,
            se=f"{s['peak_congestion_index_se']:.2f}",
            n=int(s["peak_replications"]),
        )
    return text(
        "peak_calibration",
        lang,
        central=central,
        target=target,
        factor=f"{s['peak_factor']:.3f}",
        mean=f"{mean:.2f}",
        low=f"{low:.2f}",
        high=f"{high:.2f}",
    )


def calibration_spread_warning(
    name: str, summaries: Sequence[Mapping[str, float]], lang: str = "en"
) -> str | None:
    """A loud warning when the peak calibration met its target but the run's mean index leaves the target's range.

    The calibration aims at the target at the central traffic parameters; a run reports the mean over
    replications that each draw their own (:func:`format_peak_calibration`). Only for a named target with a
    range (``peak_target_low``/``_high``, two decimals as printed); an unmet calibration has its own warning
    (:func:`calibration_warning`). In ``lang`` (key ``warn_calibration_spread``).
    """
    spread = _index_spread(summaries)
    if spread is None or any("peak_target_low" not in s or s.get("peak_reached") != 1.0 for s in summaries):
        return None
    s = summaries[0]
    mean, low, high = spread
    if s["peak_target_low"] <= round(mean, 2) <= s["peak_target_high"]:
        return None
    return text(
        "warn_calibration_spread",
        lang,
        name=name,
        central=f"{s['peak_congestion_index']:.2f}",
        target=f"{s['peak_target']:.2f}",
        n=len(summaries),
        ci=f"{mean:.2f}",
        ci_low=f"{low:.2f}",
        ci_high=f"{high:.2f}",
        low=f"{s['peak_target_low']:.2f}",
        high=f"{s['peak_target_high']:.2f}",
    )


def calibration_warnings(name: str, summaries: Sequence[Mapping[str, float]], lang: str = "en") -> list[str]:
    """The peak calibration's loud warnings: an unmet calibration, a run's mean index outside the target's range."""
    found = (calibration_warning(name, summaries, lang), calibration_spread_warning(name, summaries, lang))
    return [w for w in found if w is not None]


def run_warnings(name: str, summaries: Sequence[Mapping[str, float]], lang: str = "en") -> list[str]:
    """Every loud warning on a run: the terminal, the written summaries and the report show these.

    Gridlock, an unmet peak calibration, a run's mean congestion index outside its target's range. In ``lang`` (``en``, ``ru``, ``kk``); the report and ``compare --lang`` pass theirs.
    """
    gridlock = arrival_warning(name, summaries, lang)
    return ([] if gridlock is None else [gridlock]) + calibration_warnings(name, summaries, lang)


def format_summary(run: RunResult) -> str:
    """A short text summary: casualties per year with 95% intervals, and KSI avoided for a variant.

    An interval is printed only when it is :attr:`~vision_zero.core.intervals.Interval.reliable` (as in the
    comparison's tables and report), and the note about a cut at 0 only when a printed interval was cut.
    """
    job = run.job
    lines = [
        f"{job.name}: {run.n} replication(s), seed {job.seed}, {run.run_dir}",
        f"  network: {job.network.label}",
    ]
    if job.network.schematic:
        lines.append("  SCHEMATIC: results on the built-in schematic network are not findings about Almaty")
    traffic = format_traffic(run.summaries)
    if traffic is not None:
        lines.append(f"  {traffic}")
    lines.extend(f"  {w}" for w in run_warnings(job.name, run.summaries))
    lines.append("  casualties per year, mean [95% interval]:")
    cut = False
    for key, label in _HEADLINE:
        # a count cannot be negative: a t-interval reaching below 0 is cut at 0
        count = interval(run.values(key)).non_negative()
        cut = cut or count.shown_cut
        lines.append(f"    {label:<8} {_fmt_interval(count)}")
    if cut:
        lines.append("    (an interval reaching below 0 is cut at 0: casualties cannot be negative)")
    if run.baseline is not None:
        lines.append(
            f"    KSI avoided vs {run.baseline.job.name} (paired, common random numbers): "
            f"{_fmt_interval(interval(run.differences('ksi')))}"
        )
    gap_line = format_route_choice(run)
    if gap_line:
        lines.append(gap_line)
    peak_line = format_peak_calibration(run.summaries)
    if peak_line:
        lines.append(f"  {peak_line}")
    if run.stop_reason != "replications":
        lines.append(f"  {precision_line(run.extra['precision'], job.name, paired=job.baseline is not None)}")
    return "\n".join(lines)
