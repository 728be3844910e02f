"""Comparison charts (matplotlib): KSI per scenario, the safety/travel-time trade-off, speeds, tornado.

Every chart carries a title, axis units, the scenario names, an evidence line and — on the schematic network —
"SCHEMATIC network — not real geometry". Text comes from :mod:`vision_zero.core.i18n` (``lang``). Files are written
atomically; the format follows the suffix (``.png`` or ``.svg``).

Tornado (:func:`tornado_frame`): the risk stage re-run on each replication's stored traffic with one parameter at a
time at the low and the high end of its 95% range
(:attr:`~vision_zero.appraisal.compare.VariantComparison.sensitivity`, computed by
:func:`vision_zero.runs.sensitivity.risk_sensitivity`); never empty when the replications kept their traffic.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vision_zero.appraisal.compare import Comparison, ScenarioRuns, VariantComparison
from vision_zero.core.i18n import ntext, text
from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI, Interval
from vision_zero.core.parameters import ParameterSet
from vision_zero.runs.results import atomic_write_bytes, safe_file_name
from vision_zero.traffic.simulation import SPEED_BIN_KPH

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "all_charts",
    "changed_links",
    "figure",
    "finish",
    "ksi_by_scenario",
    "save",
    "speed_distributions",
    "tornado",
    "tornado_frame",
    "tradeoff",
]

_WIDTH_IN = 9.0


def figure(height_in: float = 5.0) -> tuple[Figure, Axes]:
    """A new figure and axes of the house size (no pyplot global state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH_IN, height_in), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def finish(
    fig: Figure, ax: Axes, *, title: str, schematic: bool, lang: str, source: str = "", note: str = ""
) -> None:
    """Add the title, the evidence line, an optional note and the schematic warning; lay the figure out."""
    import textwrap

    ax.set_title("\n".join(textwrap.wrap(title, 95)) or title, fontsize=11)
    lines = [text("evidence", lang, source=source or text("evidence_default", lang))]
    if note:
        lines.extend(note.splitlines())
    if schematic:
        lines.append(text("schematic", lang))
    n = len(lines)
    step = 0.2 / fig.get_figheight()  # one footer line [figure fraction]
    fig.subplots_adjust(left=0.11, right=0.97, top=0.88, bottom=0.6 / fig.get_figheight() + step * (n + 0.5))
    for k, line in enumerate(lines):
        is_warning = schematic and k == n - 1
        fig.text(
            0.01,
            0.3 * step + step * (n - 1 - k),
            line,
            fontsize=9 if is_warning else 7.5,
            color="#b00020" if is_warning else "#444444",
            weight="bold" if is_warning else "normal",
        )


def save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` atomically (format from the suffix)."""
    buf = io.BytesIO()
    fmt = path.suffix.lstrip(".") or "png"
    fig.savefig(buf, format=fmt, metadata={"Software": "vision_zero"} if fmt == "png" else None)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _err(iv: Interval) -> tuple[float, float]:
    """Error-bar lengths below and above the mean; none for an interval that is not reliable (as in the tables)."""
    if not iv.reliable:
        return 0.0, 0.0
    return max(iv.mean - iv.low, 0.0), max(iv.high - iv.mean, 0.0)


def _ci_note(comparison: Comparison, lang: str) -> str:
    """What the bars are, or that there are none (fewer than ``MIN_REPLICATIONS_FOR_CI`` replications)."""
    n = comparison.baseline.metrics["ksi"].n
    if n < MIN_REPLICATIONS_FOR_CI:
        return ntext("ci_note_none", n, lang, minimum=MIN_REPLICATIONS_FOR_CI)
    return ntext("ci_note", n, lang)


def ksi_by_scenario(comparison: Comparison, path: Path, *, lang: str = "en", source: str = "") -> Path:
    """Bar chart of KSI per year per scenario (deaths shaded inside), with 95% interval bars."""
    fig, ax = figure()
    names = [s.name for s in comparison.scenarios]
    x = np.arange(len(names))
    ksi = [s.metrics["ksi"] for s in comparison.scenarios]
    fat = [s.metrics["fatal"] for s in comparison.scenarios]
    colors = ["#7f7f7f"] + ["#1f77b4"] * (len(names) - 1)
    yerr = np.array([_err(i) for i in ksi]).T
    ax.bar(x, [i.mean for i in ksi], color=colors, alpha=0.85)
    ax.bar(x, [i.mean for i in fat], color="#8b0000", width=0.5)
    from matplotlib.patches import Patch

    handles = [
        Patch(color="#7f7f7f", alpha=0.85, label=f"{text('ksi', lang)} — {text('baseline', lang)}"),
        Patch(color="#1f77b4", alpha=0.85, label=f"{text('ksi', lang)} — {text('variants', lang)}"),
        Patch(color="#8b0000", label=text("fatal", lang)),
    ]
    shown = np.array([i.reliable for i in ksi], dtype=bool)
    if shown.any():  # no bar (not even a cap at the mean) where there is no reliable interval
        means = np.array([i.mean for i in ksi])
        ax.errorbar(x[shown], means[shown], yerr=yerr[:, shown], fmt="none", ecolor="black", capsize=5)
    for xi, iv in zip(x, ksi, strict=True):
        ax.annotate(f"{iv.mean:,.1f}", (xi, iv.mean), textcoords="offset points", xytext=(8, 3), fontsize=8)
    labels = [
        f"{n}\n({text('baseline', lang)})" if k == 0 and n.lower() != text("baseline", lang).lower() else n
        for k, n in enumerate(names)
    ]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel(text("ksi_axis", lang))
    top = max([i.high if i.reliable else i.mean for i in ksi] + [1e-9])
    ax.set_ylim(0.0, 1.3 * top)  # room for the legend above the bars
    ax.legend(handles=handles, fontsize=8, loc="upper right", ncols=3)
    finish(
        fig,
        ax,
        title=text("ksi_title", lang),
        schematic=comparison.schematic,
        lang=lang,
        source=source,
        note=_ci_note(comparison, lang),
    )
    return save(fig, path)


def tradeoff(comparison: Comparison, path: Path, *, lang: str = "en", source: str = "") -> Path:
    """KSI avoided per year against vehicle-hours added per year, one point per variant with 95% intervals."""
    fig, ax = figure()
    for k, v in enumerate(comparison.variants):
        tt = v.difference["veh_h"]
        ka = v.ksi_avoided
        ax.errorbar(
            [tt.mean],
            [ka.mean],
            xerr=np.array([_err(tt)]).T if tt.reliable else None,  # no cap at the point without an interval
            yerr=np.array([_err(ka)]).T if ka.reliable else None,
            fmt="o",
            color=f"C{k % 10}",
            capsize=4,
            label=v.variant,
        )
    ax.axhline(0.0, color="#999999", lw=0.8)
    ax.axvline(0.0, color="#999999", lw=0.8)
    from matplotlib.ticker import StrMethodFormatter

    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(text("tradeoff_x", lang))
    ax.set_ylabel(text("tradeoff_y", lang))
    if comparison.variants:
        ax.legend(fontsize=8, loc="best")
    finish(
        fig,
        ax,
        title=text("tradeoff_title", lang, baseline=comparison.baseline.name),
        schematic=comparison.schematic,
        lang=lang,
        source=source,
        note=_ci_note(comparison, lang),
    )
    return save(fig, path)


def changed_links(
    baseline: ScenarioRuns, variant: ScenarioRuns, *, min_change_kph: float = 0.5
) -> np.ndarray:
    """Ids of the links whose mean simulated speed (mean over replications) changed by ``min_change_kph`` or more.

    An effect-based stand-in for the speed charts when the interventions' record of what they touched
    (:class:`vision_zero.program.touched.Touched`) is not at hand; it also catches links whose traffic rerouted.
    """

    def mean_speed(r: ScenarioRuns) -> pd.Series:
        t = pd.concat([rep.link_traffic[["link", "mean_speed_kph"]] for rep in r.replications])
        return t.groupby("link")["mean_speed_kph"].mean()

    d = (mean_speed(variant) - mean_speed(baseline)).abs().dropna()
    keep = d.to_numpy(dtype=float) >= min_change_kph
    return np.sort(d.index.to_numpy(dtype=np.int64)[keep])


def _hist(runs: ScenarioRuns, links: np.ndarray) -> pd.Series:
    h = pd.concat([r.speed_hist for r in runs.replications], ignore_index=True)
    h = h[h["link"].isin(links)]
    s = h.groupby("bin_lo_kph")["count"].sum().astype(float)
    s.index = np.round(s.index.to_numpy(dtype=float), 6)
    total = s.sum()
    return s / total * 100.0 if total > 0 else s


def speed_distributions(
    baseline: ScenarioRuns,
    variant: ScenarioRuns,
    links: np.ndarray,
    path: Path,
    *,
    lang: str = "en",
    schematic: bool = False,
) -> Path:
    """Speed distributions (share of vehicle passages per speed bin) before and after, on ``links``."""
    fig, ax = figure()
    links = np.asarray(links, dtype=np.int64)
    if links.size:
        for runs, color in ((baseline, "#7f7f7f"), (variant, "#1f77b4")):
            s = _hist(runs, links)
            if s.empty:
                continue
            lo = s.index.to_numpy(dtype=float)
            width = SPEED_BIN_KPH
            edges = np.arange(lo[0], lo[-1] + 1.5 * width, width)  # sparse histogram: fill empty bins with 0
            values = s.reindex(np.round(edges[:-1], 6), fill_value=0.0).to_numpy()
            if not np.isclose(values.sum(), s.sum()):  # bins not on one grid: draw them as given
                edges, values = np.append(lo, lo[-1] + width), s.to_numpy()
            centres = edges[:-1] + width / 2
            mean = float(np.average(centres, weights=values)) if values.sum() > 0 else float("nan")
            ax.stairs(
                values,
                edges,
                color=color,
                lw=2,
                label=text("speed_mean", lang, name=runs.name, mean=f"{mean:.1f}"),
            )
        ax.legend(fontsize=8)
        ax.set_xlabel(text("speed_x", lang))
        ax.set_ylabel(text("speed_y", lang))
    else:  # nothing to draw: a message, not an empty 0–1 axis
        ax.text(0.5, 0.5, text("speed_none", lang), ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    finish(
        fig,
        ax,
        title=ntext("speed_title", int(links.size), lang, baseline=baseline.name, variant=variant.name)
        if links.size
        else text("speed_title_none", lang, variant=variant.name),
        schematic=schematic,
        lang=lang,
        source=text("speed_source", lang),
    )
    return save(fig, path)


def tornado_frame(variant: VariantComparison, params: ParameterSet) -> pd.DataFrame:
    """Sensitivity of KSI avoided per year to each risk-stage parameter (see the module docstring).

    The re-runs move one parameter around each replication's own draw (draw 0 of its risk draws), whose mean
    over the pairs (the sensitivity's ``at_draw``) is not the headline when a replication is evaluated at more
    than one draw (``[simulation] risk_draws``: the headline is the mean over all of them). What a bar shows is
    the change the parameter's end made at the own draws, placed at the headline: ``at_low`` = headline +
    (re-run at low − ``at_draw``), and so for ``at_high``; with one draw per replication ``at_draw`` is the
    headline and the values are the re-runs' own. Drawn from the re-runs' values instead, a bar of a parameter
    that moves little would start at the headline and end on the far side of the own draws' mean: both ends
    of the parameter would seem to lower (or raise) KSI avoided.

    Returns
    -------
    DataFrame
        One row per parameter, sorted by swing: ``parameter``, ``unit`` (from ``params``), ``low``, ``high``,
        ``value`` (central), ``at_low``, ``at_high`` (KSI avoided per year with the parameter at low/high, as
        above), ``swing`` (``|at_high − at_low|``); empty when the sensitivity was not computed.
    """
    cols = ["parameter", "unit", "low", "high", "value", "at_low", "at_high", "swing"]
    sens = variant.sensitivity
    if sens is None or not len(sens):
        return pd.DataFrame(columns=cols)
    units = [params[n].unit if n in params else "" for n in sens["parameter"]]
    shift = variant.ksi_avoided.mean - sens["at_draw"]
    frame = sens.assign(unit=units, at_low=sens["at_low"] + shift, at_high=sens["at_high"] + shift)
    return pd.DataFrame(frame[cols]).reset_index(drop=True)


def tornado(
    variant: VariantComparison,
    params: ParameterSet,
    path: Path,
    *,
    lang: str = "en",
    schematic: bool = False,
    top: int = 10,
) -> Path:
    """Tornado chart of :func:`tornado_frame` (the ``top`` parameters with the largest swing)."""
    frame = tornado_frame(variant, params).head(top)
    fig, ax = figure(max(4.0, 1.6 + 0.42 * len(frame)))
    base = variant.ksi_avoided.mean  # the headline; the bars' ends are placed around it (tornado_frame)
    if len(frame):
        ypos = np.arange(len(frame))[::-1]
        for k, (y, lo, hi) in enumerate(zip(ypos, frame["at_low"], frame["at_high"], strict=True)):
            for end, color, key in ((lo, "#ff7f0e", "tornado_low"), (hi, "#1f77b4", "tornado_high")):
                label = text(key, lang) if k == 0 else None
                ax.barh(y, end - base, left=base, color=color, label=label)
        ax.set_yticks(ypos, [_short(n) for n in frame["parameter"]], fontsize=7)  # 58 characters fit at 0.4
        ax.axvline(base, color="black", lw=1)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_xlabel(textwrap_label(text("tornado_x", lang)))
    else:
        import textwrap

        ax.text(
            0.5,
            0.5,
            textwrap.fill(text("tornado_none", lang), 70),
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=10,
        )
        ax.set_axis_off()
    n = len(variant.pairs)
    finish(
        fig,
        ax,
        title=text("tornado_title", lang, variant=variant.variant),
        schematic=schematic,
        lang=lang,
        note=textwrap_label(ntext("tornado_method", n, lang), 130) if len(frame) else "",
    )
    if len(frame):
        fig.subplots_adjust(left=0.4)
        # the axes are narrow beside the parameter names: centre the title on the figure so it is never cut
        ax.set_title("")
        fig.suptitle(textwrap_label(text("tornado_title", lang, variant=variant.variant), 90), fontsize=11)
    return save(fig, path)


def textwrap_label(label: str, width: int = 80) -> str:
    """A long axis label broken into lines of at most ``width`` characters (so it is never cut)."""
    import textwrap

    return "\n".join(textwrap.wrap(label, width)) or label


def _short(name: str, width: int = 58) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def all_charts(
    comparison: Comparison,
    runs: Sequence[ScenarioRuns],
    out_dir: Path,
    *,
    params: ParameterSet,
    lang: str = "en",
    touched: dict[str, np.ndarray] | None = None,
) -> dict[str, Path]:
    """Write every chart of a comparison into ``out_dir``; returns chart key -> path.

    ``runs`` are the baseline's and the variants' runs, baseline first; ``touched`` maps a variant name to the
    links its interventions changed (default: :func:`changed_links` by simulated speed).
    """
    out: dict[str, Path] = {
        "ksi": ksi_by_scenario(comparison, out_dir / "ksi_by_scenario.png", lang=lang),
        "tradeoff": tradeoff(comparison, out_dir / "ksi_vs_travel_time.png", lang=lang),
    }
    base = runs[0]
    by_name = {r.name: r for r in runs}
    for v in comparison.variants:
        vr = by_name[v.variant]
        links = (touched or {}).get(v.variant)
        if links is None:
            links = changed_links(base, vr)
        out[f"speeds:{v.variant}"] = speed_distributions(
            base,
            vr,
            links,
            out_dir / f"speeds_{safe_file_name(v.variant)}.png",
            lang=lang,
            schematic=comparison.schematic,
        )
        out[f"tornado:{v.variant}"] = tornado(
            v,
            params,
            out_dir / f"tornado_{safe_file_name(v.variant)}.png",
            lang=lang,
            schematic=comparison.schematic,
        )
    return out
