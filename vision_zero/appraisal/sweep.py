"""Sweeps: run a grid of variants of one scenario against its baseline and draw the response.

``vision-zero sweep centre-30.toml --vary interventions[0].limit_kph=30,40,50`` derives one scenario per
combination of the varied values (the scenario with those keys set, named ``centre-30@limit_kph=30`` …), runs
each against the baseline with common random numbers, and writes ``sweep.csv`` and ``sweep.png``: KSI avoided
per year and vehicle-hours of travel time added per year against the varied values, with 95% intervals computed
as the comparison computes them (:func:`sweep_statistics`: none from fewer than 3 pairs), and prints the table
(:func:`format_sweep`).

Key paths use the scenario's own notation: ``section.key``, ``list[index]``, e.g. ``interventions[2].limit_kph``
or ``simulation.platoon_size``. Each path is checked against the scenario (the list index exists, the key is
valid where it points) before anything runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from vision_zero.core.errors import ConfigError
from vision_zero.core.intervals import Interval
from vision_zero.runs.results import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.parallel import Executor

__all__ = [
    "SweepPlan",
    "SweepResult",
    "Vary",
    "grid",
    "parse_key_path",
    "parse_vary",
    "plan_sweep",
    "response_frame",
    "run_sweep",
    "set_path",
    "variant_name",
]

PathPart = str | int
_KEY = r"[A-Za-z_][A-Za-z0-9_\-]*"
_PART = re.compile(rf"(?:\.?({_KEY}))|(?:\[(\d+)\])")


@dataclass(frozen=True)
class Vary:
    """One ``--vary KEY=V1,V2,…`` option."""

    key: str
    path: tuple[PathPart, ...]
    values: tuple[Any, ...]

    @property
    def short(self) -> str:
        """The last key of the path (``limit_kph``), for names and axis labels."""
        names = [p for p in self.path if isinstance(p, str)]
        return names[-1] if names else self.key


def parse_key_path(key: str) -> tuple[PathPart, ...]:
    """``"interventions[0].limit_kph"`` → ``("interventions", 0, "limit_kph")``.

    Raises
    ------
    ConfigError
        If the text is not a key path.
    """
    parts: list[PathPart] = []
    pos = 0
    text = key.strip()
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None or m.end() == pos or (pos == 0 and text.startswith(("[", "."))):
            raise ConfigError(
                f"--vary {key!r}: expected a key path such as interventions[0].limit_kph "
                f"(cannot read it at character {pos + 1}: {text[pos:]!r})"
            )
        if pos > 0 and m.group(1) is not None and text[pos] != ".":
            raise ConfigError(f"--vary {key!r}: expected '.' before {m.group(1)!r}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts:
        raise ConfigError("--vary: expected a key path such as interventions[0].limit_kph (got an empty key)")
    return tuple(parts)


def _parse_value(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return t[1:-1]
    return t


def parse_vary(text: str) -> Vary:
    """Parse ``KEY=V1,V2,…`` (numbers, ``true``/``false`` or text).

    Raises
    ------
    ConfigError
        If there is no ``=``, no values, a repeated value, or the key is not a key path.
    """
    if "=" not in text:
        raise ConfigError(
            f"--vary {text!r}: expected KEY=V1,V2,… such as interventions[0].limit_kph=30,40,50"
        )
    key, _, values_txt = text.partition("=")
    path = parse_key_path(key)
    raw = [v for v in values_txt.split(",")]
    if not values_txt.strip() or any(not v.strip() for v in raw):
        raise ConfigError(
            f"--vary {text!r}: expected a comma-separated list of values after '=' (got {values_txt!r})"
        )
    values = tuple(_parse_value(v) for v in raw)
    if len(set(map(repr, values))) != len(values):
        raise ConfigError(f"--vary {key.strip()}: expected distinct values (got {values_txt!r})")
    return Vary(key=key.strip(), path=path, values=values)


def _fmt_path(path: Sequence[PathPart]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def set_path(
    data: Mapping[str, Any], path: Sequence[PathPart], value: Any, *, origin: str = "--vary"
) -> dict[str, Any]:
    """A deep copy of ``data`` with the value at ``path`` replaced by ``value``.

    Every list index and every section on the way must exist; the last key may be new (the scenario's
    validation then says whether it is allowed there).

    Raises
    ------
    ConfigError
        Naming the key path, what was expected there and what was found.
    """
    out = copy.deepcopy(dict(data))
    node: Any = out
    for i, part in enumerate(path):
        last = i == len(path) - 1
        where = _fmt_path(path[: i + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(
                    f"{origin} {_fmt_path(path)}: {_fmt_path(path[:i])} is not a list (got {node!r})"
                )
            if part >= len(node):
                raise ConfigError(
                    f"{origin} {_fmt_path(path)}: expected an index below {len(node)} "
                    f"({_fmt_path(path[:i])} has {len(node)} entries; got {part})"
                )
        else:
            if not isinstance(node, dict):
                raise ConfigError(
                    f"{origin} {_fmt_path(path)}: {_fmt_path(path[:i])} is not a table (got {node!r})"
                )
            if not last and part not in node:
                keys = ", ".join(sorted(node)) or "none"
                raise ConfigError(f"{origin} {_fmt_path(path)}: {where} does not exist (keys there: {keys})")
        if last:
            node[part] = value
        else:
            node = node[part]
    return out


def grid(varies: Sequence[Vary]) -> list[dict[str, Any]]:
    """Every combination of the varied values, as ``{key: value}``, first key varying slowest."""
    keys = [v.key for v in varies]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"--vary: each key at most once (got {', '.join(keys)})")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v.values for v in varies))]


def sweep_id(scenario_text: str, varies: Sequence[Vary], seed: int) -> str:
    """Deterministic folder name of a sweep."""
    spec = json.dumps([[v.key, list(v.values)] for v in varies]) + scenario_text + str(seed)
    return "sweep-" + hashlib.sha256(spec.encode("utf-8")).hexdigest()[:12]


# --- the response -------------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """A finished sweep: one row per variant in :attr:`table`, written to ``sweep.csv`` and ``sweep.png``."""

    folder: Path
    table: pd.DataFrame
    csv_path: Path
    png_path: Path
    schematic: bool


def response_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The sweep table from one mapping per variant (varied values first, then the statistics)."""
    return pd.DataFrame(list(rows))


def draw_response(
    table: pd.DataFrame, varies: Sequence[Vary], path: Path, *, title: str, schematic: bool
) -> None:
    """Draw KSI avoided and travel time added against the first varied key (one line per other combination)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key = varies[0].key
    others = [v.key for v in varies[1:]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = (
        ("ksi_avoided", "KSI avoided per year"),
        ("veh_h_added", "travel time added [vehicle-hours per year]"),
    )
    groups: list[tuple[str, pd.DataFrame]]
    if others:
        groups = [
            (
                ", ".join(
                    f"{k}={val}"
                    for k, val in zip(others, key if isinstance(key, tuple) else (key,), strict=True)
                ),
                g,
            )
            for key, g in table.groupby(others if len(others) > 1 else others[0], sort=False)
        ]
    else:
        groups = [("", table)]
    numeric_x = pd.api.types.is_numeric_dtype(table[x_key])
    for ax, (col, label) in zip(axes, panels, strict=True):
        for name, g in groups:
            xs = g[x_key] if numeric_x else g[x_key].astype(str)
            # bars only where the interval is reliable (NaN bounds otherwise: sweep_statistics)
            lo = (g[col] - g[f"{col}_lo"]).fillna(0).clip(lower=0)
            hi = (g[f"{col}_hi"] - g[col]).fillna(0).clip(lower=0)
            bars = g[f"{col}_lo"].notna().any()
            ax.errorbar(
                xs, g[col], yerr=[lo, hi] if bars else None, marker="o", capsize=3, label=name or None
            )
            if col == "ksi_avoided" and "distinguishable" in g.columns:
                noisy = ~g["distinguishable"].astype(bool).to_numpy()
                if (
                    noisy.any()
                ):  # within noise: hollow markers, so a flat or reversed curve is not read as a finding
                    ax.plot(
                        xs[noisy],
                        g[col][noisy],
                        "o",
                        mfc="white",
                        mec="0.3",
                        label="within noise (95% interval contains 0)",
                    )
        if numeric_x:
            ax.set_xticks(sorted(table[x_key].unique()))
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.set_xlabel(varies[0].key)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=8)
    suptitle = title + (
        "\nSCHEMATIC network: not real geometry, not a finding about Almaty" if schematic else ""
    )
    fig.suptitle(suptitle, fontsize=10)
    fig.text(0.01, 0.01, _interval_caption(table), fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _interval_caption(table: pd.DataFrame) -> str:
    """What the chart's bars are, or that there are none (no reliable interval: fewer than 3 pairs)."""
    from vision_zero.core.i18n import ntext
    from vision_zero.core.intervals import MIN_REPLICATIONS_FOR_CI

    if "ksi_interval_reliable" in table.columns and not table["ksi_interval_reliable"].astype(bool).any():
        n = int(table["replications"].min()) if "replications" in table.columns else 0
        return "means over paired replications (common random numbers); " + ntext(
            "ci_note_none", n, "en", minimum=MIN_REPLICATIONS_FOR_CI
        )
    return "means with 95% intervals over paired replications (common random numbers)"


def format_sweep(table: pd.DataFrame, varies: Sequence[Vary], *, lang: str = "en") -> str:
    """The sweep table for the terminal: one row per variant, as the comparison's table words its figures.

    KSI avoided per year and the KSI change [%] with their intervals ("mean (no reliable CI)" below 3 pairs:
    :func:`vision_zero.appraisal.compare_text.format_interval`), vehicle-hours added per year, whether the change is
    told apart from noise ("not yet (+N)" otherwise) and the paired replications for ± ``ksi_precision_pct``
    on KSI avoided; then the notes under the comparison's table.
    """
    from vision_zero.appraisal.compare_text import (
        format_interval,
        format_probability,
        more_pairs,
        precision_foot,
        unreliable_note,
    )
    from vision_zero.core.formatting import format_number, replications_text
    from vision_zero.core.i18n import ntext, text

    def iv(row: Mapping[Hashable, Any], prefix: str) -> Interval:
        lo, hi = float(row[f"{prefix}_lo"]), float(row[f"{prefix}_hi"])
        # NaN bounds: not reliable (sweep_statistics); an Interval with infinite bounds says so
        bounded = math.isfinite(lo) and math.isfinite(hi)
        return Interval(
            float(row[prefix]),
            lo if bounded else -math.inf,
            hi if bounded else math.inf,
            math.nan,
            math.nan,
            int(row["replications"]),
        )

    pct = float(table["ksi_precision_pct"].iloc[0]) if len(table) else math.nan
    header = [
        *(v.key for v in varies),
        text("col_ksi_avoided", lang),
        text("col_ksi_change", lang),
        text("col_prob", lang),
        text("col_reps_precision", lang, pct=format_number(pct, 0)),
        text("col_veh_h", lang),
    ]
    rows = [header]
    for rec in table.to_dict("records"):
        n = int(rec["replications"])
        if rec["distinguishable"]:
            verdict = format_probability(float(rec["prob_reduces_ksi"]))
        else:
            more, shown = more_pairs(int(rec["replications_needed"]), n)
            verdict = ntext("not_yet_short", more, lang, more=shown)
        need = int(rec["replications_for_precision"])
        rows.append(
            [
                *(str(rec[v.key]) for v in varies),
                format_interval(iv(rec, "ksi_avoided"), lang=lang),
                format_interval(iv(rec, "ksi_change_pct"), lang=lang),
                verdict,
                replications_text(need, n, float(rec["ksi_avoided"])),
                format_number(float(rec["veh_h_added"]), 0),
            ]
        )
    widths = [max(len(r[j]) for r in rows) for j in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n = int(table["replications"].min()) if len(table) else 0
    foot = [unreliable_note(n, lang)] if unreliable_note(n, lang) else []
    if len(table) and not table["distinguishable"].all():
        foot.append(text("not_yet_foot", lang))
    foot.append(precision_foot(pct, lang))
    return "\n".join([*lines, *foot])


def write_sweep(
    folder: Path, rows: Sequence[Mapping[str, Any]], varies: Sequence[Vary], *, title: str, schematic: bool
) -> SweepResult:
    """Write ``sweep.csv`` and ``sweep.png`` into ``folder``."""
    table = response_frame(rows)
    csv_path = folder / "sweep.csv"
    png_path = folder / "sweep.png"
    atomic_write_text(csv_path, table.to_csv(index=False))
    draw_response(table, varies, png_path, title=title, schematic=schematic)
    return SweepResult(folder, table, csv_path, png_path, schematic)


def _name_part(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).strip("-") or "x"


def variant_name(base: str, combo: Mapping[str, Any], varies: Sequence[Vary]) -> str:
    """``centre-30.limit_kph-30`` (the last key of each path; the full path when two would clash).

    Scenario names allow letters, digits, ``.``, ``_`` and ``-`` only, so other characters become ``-``.
    """
    shorts = [v.short for v in varies]
    labels = shorts
    if len(set(shorts)) != len(shorts):
        labels = [_name_part(v.key.replace("[", "-").replace("]", "").replace(".", "-")) for v in varies]
    parts = [f"{lab}-{_name_part(combo[v.key])}" for lab, v in zip(labels, varies, strict=True)]
    return ".".join([base, *parts])[:100]


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: the scenario, the ``--vary`` options and one (name, overrides) per variant."""

    path: Path
    scenario: Any
    varies: tuple[Vary, ...]
    variants: tuple[tuple[str, dict[str, Any], dict[str, Any]], ...]
    overrides: dict[str, Any]
    seed: int | None


def _settings(resolved_toml: str) -> list[str]:
    """The lines of a resolved scenario that set something (its comments, e.g. the overrides line, dropped)."""
    return [line for line in resolved_toml.splitlines() if not line.lstrip().startswith("#")]


def plan_sweep(
    path: Path,
    varies: Sequence[Vary],
    *,
    overrides: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> SweepPlan:
    """Check a sweep before running anything: the scenario, every key path and every variant's values.

    Raises
    ------
    ConfigError
        A baseline given (nothing to compare against), a key path that does not exist in the scenario, or a
        value the scenario's schema rejects (the message names the ``--vary`` values and the scenario file).
    """
    from vision_zero.core.errors import ScenarioError
    from vision_zero.program.scenario import load_scenario

    if not varies:
        raise ConfigError("sweep: expected at least one --vary KEY=V1,V2,…")
    base_ov = dict(overrides or {})
    scenario = load_scenario(path, overrides=base_ov or None)
    if scenario.is_baseline:
        raise ConfigError(
            f"{scenario.path}: sweep: expected a scenario that extends a baseline (the responses are measured "
            "against the baseline), got a baseline"
        )
    for v in varies:  # structure first: list indices exist, sections exist
        set_path(scenario.document, v.path, v.values[0])
    variants = []
    for combo in grid(varies):
        name = variant_name(scenario.name, combo, varies)
        ov = {**base_ov, **combo, "name": name}
        try:
            point = load_scenario(path, overrides={**base_ov, **combo})
            if _settings(point.resolved_toml()) == _settings(scenario.resolved_toml()):
                # the point is the scenario itself: run it as such (same name, same run id), so a run of the
                # scenario that is already on disk is found and reused instead of run again
                name, ov = scenario.name, dict(base_ov)
            load_scenario(path, overrides=ov)
        except ScenarioError as exc:
            given = ", ".join(f"{k}={val!r}" for k, val in combo.items())
            where = str(scenario.path) if exc.path == "--set" else exc.path
            got = "" if exc.given is None else f" (got {exc.given!r})"
            raise ConfigError(f"--vary {given}: {where}: {exc.key}: expected {exc.expected}{got}") from None
        variants.append((name, combo, ov))
    return SweepPlan(Path(path), scenario, tuple(varies), tuple(variants), base_ov, seed)


def run_sweep(
    plan: SweepPlan,
    *,
    out_dir: Path,
    executor: Executor,
    replications: int | None = None,
    target_ci_pct: float | None = None,
    max_replications: int = 200,
    progress: bool = True,
    on_variant: Callable[[RunResult], None] | None = None,
) -> SweepResult:
    """Run every variant of ``plan`` against its baseline (common random numbers); write CSV and PNG.

    Parameters
    ----------
    plan
        From :func:`plan_sweep`.
    out_dir, executor, replications, target_ci_pct, max_replications, progress
        As for :func:`vision_zero.runs.replications.run_job` (``sweep --target-ci``: each variant's pairs until its
        KSI avoided is within ± half of ``target_ci_pct``). With ``target_ci_pct`` the table's
        replications-for-precision column counts the pairs for that target (as ``compare --target-ci`` does) and
        ``target_ci_pct`` and ``target_stop`` (the run's stop reason) are columns of ``sweep.csv``.
    on_variant
        Called with each variant's finished run (for printing).

    Raises
    ------
    ScenarioError
        A variant whose selectors match nothing (checked when the variant is prepared).
    """
    from vision_zero.core.parameters import load_parameters
    from vision_zero.runs.jobs import scenario_job
    from vision_zero.runs.replications import run_job

    if target_ci_pct is None:
        precision_pct = load_parameters().value("appraisal.ksi_precision_pct")
    else:  # the column counts the pairs for the target asked, as compare's does
        precision_pct = target_ci_pct / 2.0
    rows: list[dict[str, Any]] = []
    schematic = False
    networks: dict[str, Any] = {}
    for name, combo, ov in plan.variants:
        job = scenario_job(plan.path, seed=plan.seed, overrides=ov, networks=networks)
        run = run_job(
            job,
            out_dir=out_dir,
            executor=executor,
            replications=replications,
            target_ci_pct=target_ci_pct,
            max_replications=max_replications,
            progress=progress,
        )
        if on_variant is not None:
            on_variant(run)
        schematic = schematic or job.network.schematic
        row: dict[str, Any] = {**combo, "scenario": name, "replications": run.n, "run_dir": str(run.run_dir)}
        row.update(sweep_statistics(run, precision_pct))
        row["schematic"] = job.network.schematic
        if target_ci_pct is not None:  # where each variant's pairs stopped, and why
            row |= {"target_ci_pct": target_ci_pct, "target_stop": run.stop_reason}
        rows.append(row)
    scenario = plan.scenario
    seed = plan.seed if plan.seed is not None else scenario.simulation.seed
    folder = Path(out_dir) / scenario.name / sweep_id(scenario.resolved_toml(), plan.varies, seed)
    keys = ", ".join(v.key for v in plan.varies)
    counts = sorted({int(r["replications"]) for r in rows})
    reps = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    title = f"{scenario.name}: response to {keys} ({reps} replications per variant)"
    return write_sweep(folder, rows, plan.varies, title=title, schematic=schematic)


def sweep_statistics(run: RunResult, precision_pct: float) -> dict[str, Any]:
    """One sweep row's statistics of a variant's run against its baseline, as the comparison computes them.

    One method (:mod:`vision_zero.appraisal.compare`): the per-pair KSI avoided (baseline − variant, common random
    numbers), its Student-t interval and the probability of fewer KSI from the same t
    (:func:`~vision_zero.appraisal.paired_stats.prob_mean_below_zero`); the KSI change in percent of the baseline
    with Fieller's interval (:func:`~vision_zero.appraisal.paired_stats.ratio_interval`); vehicle-hours added;
    casualties per year cut at 0.
    An interval that is not :attr:`~vision_zero.core.intervals.Interval.reliable` (fewer than 3 pairs, or an
    unbounded ratio) is written as NaN bounds, so neither the table nor the chart shows it; ``ksi_interval_reliable``
    says which. ``distinguishable``: the reliable KSI interval excludes 0; ``replications_needed``: pairs to tell
    the mean from 0; ``replications_for_precision``: pairs for the KSI avoided interval within ± ``precision_pct``
    of its mean (``appraisal.ksi_precision_pct``).
    """
    from vision_zero.appraisal.paired_stats import prob_mean_below_zero, ratio_interval
    from vision_zero.core.intervals import interval, replications_needed

    if run.baseline is None:
        raise ValueError(f"{run.job.name} is a baseline: a sweep row needs a variant")
    avoided = run.differences("ksi")
    ksi = interval(avoided)
    row: dict[str, Any] = {}
    row.update(stat_columns("ksi_avoided", ksi))
    row["ksi_interval_reliable"] = ksi.reliable
    baseline_ksi = run.baseline.values("ksi")[: run.n]
    row.update(stat_columns("ksi_change_pct", ratio_interval(-avoided, baseline_ksi)))
    row.update(stat_columns("veh_h_added", interval(-run.differences("veh_h"))))
    row["distinguishable"] = ksi.excludes_zero
    row["prob_reduces_ksi"] = prob_mean_below_zero(-avoided)
    row["replications_needed"] = replications_needed(avoided)
    row["ksi_precision_pct"] = precision_pct
    row["replications_for_precision"] = replications_needed(avoided, relative=precision_pct / 100.0)
    for key in ("fatal", "serious", "slight", "ksi"):
        # casualties cannot be negative: cut at 0, as compare
        row.update(stat_columns(f"{key}_per_year", interval(run.values(key)).non_negative()))
    return row


def stat_columns(prefix: str, iv: Interval) -> dict[str, float]:
    """``{prefix: mean, prefix_lo: low, prefix_hi: high}``; the bounds NaN when ``iv`` is not reliable."""
    low, high = iv.shown_bounds
    return {prefix: iv.mean, f"{prefix}_lo": low, f"{prefix}_hi": high}
