"""Paired comparison of scenarios: injuries avoided, travel time, money, with intervals.

Replication *i* of every scenario uses the same random streams (common random numbers), so a variant is
compared with the baseline pair by pair: ``d_i = variant_i - baseline_i``. Every headline figure of a program
comes from those per-pair values by one method, Student's t with ``n - 1`` degrees of freedom, so one program
cannot read "certain" in one column and "uncertain" in another:

* ``low``/``high`` — the 95% confidence interval of the mean: ``mean ± t(0.975, n-1) · sd / sqrt(n)``
  (:func:`vision_zero.core.intervals.mean_interval`). It says how well the replications pin down the expected
  value. KSI avoided, deaths avoided, NPV and BCR are each such an interval of a per-pair value (the pair's
  difference, or its NPV/BCR, which are linear in the pair's differences for a fixed cost).
  For a quantity that cannot be negative (one scenario's casualties, vehicle-hours, vehicle-km) the interval is
  cut at 0 (with few replications the symmetric t-interval can reach below 0, which no count can); the cut is
  flagged (``Interval.truncated``) and the tables say so. Differences keep their signed intervals.
* percent change — the ratio of the means, ``100 · mean(d) / mean(baseline)``, with Fieller's interval for a
  ratio of two means of paired values (Fieller 1954): every ``θ`` with ``|mean(d) − θ·mean(b)| ≤ t · se(d − θ·b)``.
  At ``θ = 0`` that is the t-test of ``d`` itself, so the percent interval excludes 0 exactly when the absolute
  interval does. It is unbounded (reported as no interval) when the baseline's own mean is not told apart from 0.
  (The mean of per-pair percentages, used before, is a different quantity with its own spread: with two pairs it
  could include 0 while the absolute interval excluded it.)
* ``prob_reduces_ksi`` — the probability that the variant's expected KSI is below the baseline's, from the same
  t distribution: ``P(T < −mean/se)`` with ``n − 1`` degrees of freedom (the posterior of the mean under a flat
  prior). It is above 97.5% exactly when the KSI interval lies below 0. The share of pairs with fewer KSI, a
  descriptive count in steps of 1/n, is kept as ``share_pairs_fewer_ksi``.
* ``p_low``/``p_high`` — the 2.5th and 97.5th percentiles (linear interpolation) of the values of single
  parameter draws. Replications also draw the uncertain evidence (parameters), so this spread carries the
  evidence uncertainty, which does not shrink as replications are added. Read it as the uncertainty range.
  A pipeline replication evaluates its traffic at ``[simulation] risk_draws`` = M joint draws and its value is
  their mean (:mod:`vision_zero.runs.risk_draws`); the spread of those means would shrink with M, so where the
  replications carry each draw's totals (:attr:`~vision_zero.runs.results.ReplicationResult.risk_draws`,
  ``risk_draws.parquet``) the range of a casualty metric (``fatal``, ``serious``, ``slight``, ``ksi``, per road
  user) is taken over all n × M draw values: one scenario's values of every draw of every replication; for a
  variant, pair i's difference at draw j (variant and baseline at the same draw j, which share the parameter
  values), its percent change ``100 · d_ij / baseline_ij`` at that draw, and the money that follows from the
  draw's casualties (annual safety benefit, its present value, NPV, BCR, the safety BCR, with pair i's
  travel-time cost, which is the same at every draw). Draws 0 … m − 1 are used, m the fewest draws any of the
  replications has (a variant may run fewer draws than its baseline). Vehicle-hours, vehicle-km, trips and the
  travel-time cost do not vary across risk draws (the traffic is simulated once per replication, the inner
  draws keep its inputs), so their range is over the per-replication values (for a percent change, the
  per-pair percentages). With M = 1, or runs without per-draw totals, every range is over the per-replication
  values, as before.
* reliability — an interval from fewer than
  :data:`~vision_zero.core.intervals.MIN_REPLICATIONS_FOR_CI` pairs is not reliable (``Interval.reliable``, the
  one rule every output asks, the run summary's too):
  with 2 pairs the spread has 1 degree of freedom, and the 95% range of the true sd runs from 0.45 to 32 times the
  observed one (:func:`~vision_zero.appraisal.paired_stats.sd_range`), so two pairs that happen to agree give a narrow interval that means nothing.
  The outputs then print the mean with "no reliable interval" and the verdict "not distinguishable yet".

Economics (SCIENCE.md §6) per pair, all money in ``Economics.currency``:

* annual safety benefit ``B_i = Σ_s (baseline_s,i − variant_s,i) · value_s`` over severities s (fatal: VSL;
  serious: ``serious_share · VSL``; slight: ``slight_share · VSL``);
* annual travel-time cost ``T_i = (variant veh_h − baseline veh_h)_i · value_of_time`` (positive = time added);
* annuity factor ``A = Σ_{t=1..H} (1 + r)^−t`` over the horizon H at discount rate r;
* intervention cost ``C = Σ capital + A · Σ annual`` (capital in year 0, running costs in years 1..H);
* ``NPV_i = A·B_i − A·T_i − C`` and ``BCR_i = (A·B_i − A·T_i) / C``: present value of benefits over present
  value of costs, where travel time added is a disbenefit inside the benefits and travel time saved a benefit —
  the convention of HM Treasury's Green Book and the DfT's TAG (time changes are user benefits or disbenefits
  in the PVB; the BCR is negative when the disbenefits outweigh the safety benefit), which World Bank transport
  appraisals follow. BCR is NaN when C = 0.
* ``bcr_safety = A·B / C``: the safety benefit alone over the cost, as iRAP's Safer Roads Investment Plans
  report it (no travel time).
* cost per KSI avoided ``C / (H · mean KSI avoided per year)``: the cost of the program over the undiscounted
  KSI it avoids over the horizon (iRAP's "cost per FSI saved"); NaN when the mean avoided is not above 0.

Distinguishable: a variant's KSI difference is told apart from noise when its 95% interval is reliable and
excludes 0. Otherwise :func:`replications_needed` says how many paired replications the observed mean and spread
would need (``t(0.975, n−1) · sd / sqrt(n) < |mean|``), and the outputs say "not distinguishable yet" instead of a
probability or a rank. Beside it, the replications a decision needs: the interval of KSI avoided within
± ``appraisal.ksi_precision_pct`` (20%) of its mean (``replications_needed(..., relative=0.2)``).

References
----------
Fieller, E. C. (1954). Some problems in interval estimation. Journal of the Royal Statistical Society B 16(2),
175–185. McMahon, K. & Dahdah, S. (2008). The True Cost of Road Crashes: Valuing life and the impact of road crashes.
iRAP. AASHTO (2010). Highway Safety Manual, Part B, chapter 7 (economic appraisal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vision_zero.appraisal.economics import Economics, InterventionCost
from vision_zero.appraisal.paired_stats import prob_mean_below_zero, ratio_interval, ratio_pairs
from vision_zero.core.errors import DataError
from vision_zero.core.intervals import (
    FloatArray,
    Interval,
    Precision,
    interval,
    percentile_range,
    replications_needed,
)
from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.risk.crash_model import ROAD_USERS, SEVERITIES
from vision_zero.runs.results import ReplicationResult
from vision_zero.runs.risk_draws import draw_totals

__all__ = [
    "INJURY_METRICS",
    "Comparison",
    "ScenarioRuns",
    "ScenarioSummary",
    "VariantComparison",
    "compare",
    "paired_replications",
    "summarise",
]

#: Headline injury metrics, in table order; per road user ``<severity>_<road user>`` and ``ksi_<road user>``.
INJURY_METRICS: tuple[str, ...] = ("fatal", "serious", "slight", "ksi")
#: Metrics whose decrease is good (the variant "avoids" them).
_TRAFFIC_METRICS: tuple[str, ...] = ("veh_h", "veh_km")
#: Simulated car trips and the elastic-demand response against the baseline (counts, not annualised).
_DEMAND_METRICS: tuple[str, ...] = ("trips", "trips_evaporated", "trips_added")


@dataclass(frozen=True)
class ScenarioRuns:
    """The replications of one scenario, ready to compare.

    Attributes
    ----------
    name
        Scenario name.
    replications
        One result per replication index.
    schematic
        True if the runs used the built-in schematic network.
    costs
        The scenario's intervention costs (empty for a baseline or when unknown).
    economics
        The scenario's ``[economics]`` overrides (empty: the shipped defaults).
    network_source
        The network the runs used (for the maps), or ``""``.
    run_dir
        Folder the runs were read from, if any.
    """

    name: str
    replications: Sequence[ReplicationResult]
    schematic: bool = False
    costs: Sequence[InterventionCost] = ()
    economics: Mapping[str, Any] = field(default_factory=dict)
    network_source: str = ""
    run_dir: Path | None = None

    def by_index(self) -> dict[int, ReplicationResult]:
        """Replications keyed by their index."""
        return {r.replication: r for r in self.replications}

    def values(self, key: str, indices: Sequence[int]) -> FloatArray:
        """Summary value ``key`` of the given replications [per year]; 0 when a replication lacks the key."""
        reps = self.by_index()
        return np.array([reps[i].summary.get(key, 0.0) for i in indices], dtype=float)


def _metric_keys() -> list[str]:
    keys = list(INJURY_METRICS)
    for ru in ROAD_USERS:
        keys += [f"{s}_{ru}" for s in (*SEVERITIES, "ksi")]
    return keys


def _summary_value(rep: ReplicationResult, key: str) -> float:
    s = rep.summary
    if key in s:
        return float(s[key])
    if key == "ksi":
        return float(s.get("fatal", 0.0) + s.get("serious", 0.0))
    if key.startswith("ksi_"):
        ru = key[4:]
        return float(s.get(f"fatal_{ru}", 0.0) + s.get(f"serious_{ru}", 0.0))
    return 0.0


def _draw_totals(reps: Sequence[ReplicationResult]) -> list[pd.DataFrame]:
    """Each replication's casualty totals per risk draw (:func:`~vision_zero.runs.risk_draws.draw_totals`).

    Empty when any of them has no per-draw totals (a run from before nested draws, or a hand-built result).
    """
    if any(r.risk_draws is None or r.risk_draws.empty for r in reps):
        return []
    return [draw_totals(r.risk_draws) for r in reps if r.risk_draws is not None]


def _common_draws(*groups: Sequence[pd.DataFrame]) -> int:
    """The draws every replication of ``groups`` has (draws 0 … m − 1); 0 when a group has no per-draw totals."""
    if any(not g for g in groups):
        return 0
    return min(len(t) for g in groups for t in g)


def _at_draws(totals: Sequence[pd.DataFrame], key: str, m: int) -> FloatArray:
    """Summary key ``key`` at draws 0 … m − 1 of each replication: rows replications, columns draws [per year]."""
    return np.stack([t[key].to_numpy(np.float64)[:m] for t in totals])


def _with_range(iv: Interval, values: FloatArray) -> Interval:
    """``iv`` with its uncertainty range (``p_low``/``p_high``) taken over ``values`` (every draw, pooled)."""
    p_low, p_high = percentile_range(values)
    return replace(iv, p_low=p_low, p_high=p_high)


def _safety_benefit(diff: Mapping[str, FloatArray], economics: Economics) -> FloatArray:
    """The annual safety benefit ``−Σ_s diff_s · value_s`` over severities (per pair, or per pair and draw)."""
    benefit = np.zeros_like(diff[SEVERITIES[0]], dtype=np.float64)
    for sev in SEVERITIES:
        benefit -= diff[sev] * economics.injury_value(sev)
    return benefit


def _ratio_values(numerator: FloatArray, denominator: FloatArray, scale: float = 100.0) -> FloatArray:
    """``scale · numerator / denominator`` where both are finite and the denominator is above 0 (as for pairs)."""
    x, y = ratio_pairs(numerator, denominator)
    return np.asarray(scale * x / y, dtype=np.float64)


@dataclass(frozen=True)
class ScenarioSummary:
    """Per-scenario means and intervals [per year].

    Attributes
    ----------
    name
        Scenario name.
    metrics
        Metric -> interval over replications: ``fatal``, ``serious``, ``slight``, ``ksi``, per road user
        (``ksi_pedestrian`` …), ``veh_h``, ``veh_km``.
    schematic
        True if on the schematic network.
    """

    name: str
    metrics: Mapping[str, Interval]
    schematic: bool

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: ``scenario, metric, mean, low, high, p_low, p_high, n, low_truncated``."""
        rows = [
            {"scenario": self.name, "metric": k, **_iv(v), "low_truncated": v.truncated}
            for k, v in self.metrics.items()
        ]
        return pd.DataFrame(rows)

    @property
    def truncated(self) -> bool:
        """True if any headline interval (deaths, serious, KSI) is shown and was cut at 0 (:attr:`Interval.shown_cut`)."""
        return any(self.metrics[k].shown_cut for k in ("fatal", "serious", "ksi") if k in self.metrics)


def _iv(v: Interval, prefix: str = "") -> dict[str, float]:
    return {
        f"{prefix}mean": v.mean,
        f"{prefix}low": v.low,
        f"{prefix}high": v.high,
        f"{prefix}p_low": v.p_low,
        f"{prefix}p_high": v.p_high,
        "n": v.n,
    }


def _shown(prefix: str, iv: Interval) -> dict[str, float]:
    """``{prefix: mean, prefix_low, prefix_high}`` with the bounds only where the interval is reliable."""
    low, high = iv.shown_bounds
    return {prefix: iv.mean, f"{prefix}_low": low, f"{prefix}_high": high}


def summarise(runs: ScenarioRuns) -> ScenarioSummary:
    """Means and intervals of one scenario's replications (every metric is a count or total: cut at 0).

    A casualty metric's uncertainty range is over every risk draw of every replication where they have more than
    one (module docstring).
    """
    metrics = {
        key: interval([_summary_value(r, key) for r in runs.replications]).non_negative()
        for key in (*_metric_keys(), *_TRAFFIC_METRICS, *_DEMAND_METRICS)
    }
    totals = _draw_totals(runs.replications)
    m = _common_draws(totals)
    if m > 1:
        for key in _metric_keys():
            metrics[key] = _with_range(metrics[key], _at_draws(totals, key, m))
    return ScenarioSummary(runs.name, metrics, runs.schematic)


@dataclass(frozen=True)
class VariantComparison:
    """One variant against the baseline, pair by pair.

    Attributes
    ----------
    variant, baseline
        Scenario names.
    pairs
        Replication indices compared (present in both).
    difference
        Metric -> interval of ``variant − baseline`` [per year] (negative injuries = fewer).
    percent_change
        Metric -> ``100 · mean(variant − baseline) / mean(baseline)`` with Fieller's interval
        (:func:`~vision_zero.appraisal.paired_stats.ratio_interval`) [%]: it excludes 0 exactly when the
        difference's interval does.
    prob_reduces_ksi
        Probability that the mean KSI difference is negative, from the same Student t distribution as the
        interval (above 97.5% exactly when the KSI interval lies below 0); NaN with fewer than two pairs.
    share_pairs_fewer_ksi
        Share of pairs with fewer KSI in the variant (descriptive, in steps of 1/n; not a probability).
    travel_time_cost
        Interval of the annual money value of the vehicle-hours added [currency/year].
    safety_benefit_pv, travel_time_cost_pv
        Intervals of the discounted safety benefit and travel-time cost over the horizon [currency].
    cost_pv
        Discounted intervention cost [currency] (deterministic).
    npv, bcr
        Intervals of the net present value [currency] and benefit–cost ratio [-] (travel time inside the
        benefits, HM Treasury / DfT TAG convention).
    bcr_safety
        Interval of the safety benefit alone over the cost (iRAP's convention) [-].
    precision_pct
        The precision a decision needs: the KSI avoided interval within ± this percentage of its mean
        (``appraisal.ksi_precision_pct``); see :attr:`replications_for_precision`.
    costs
        The intervention costs counted.
    economics
        The money values used.
    per_pair
        One row per pair with the paired values behind every interval and each pair's parameter draw.
    sensitivity
        KSI avoided per year with each risk-stage parameter at the low and high end of its range, the risk stage
        re-run on the stored traffic (:func:`vision_zero.runs.sensitivity.risk_sensitivity`; the tornado chart),
        or None when not computed.
    target
        For a comparison run to a target precision (``compare --target-ci``): where this variant's pairs stopped
        (:class:`~vision_zero.core.intervals.Precision`: reached, stopped at the maximum, or out of reach),
        else None (:func:`~vision_zero.appraisal.compare_text.target_lines` says it).
    """

    variant: str
    baseline: str
    pairs: tuple[int, ...]
    difference: Mapping[str, Interval]
    percent_change: Mapping[str, Interval]
    prob_reduces_ksi: float
    share_pairs_fewer_ksi: float
    travel_time_cost: Interval
    safety_benefit_pv: Interval
    travel_time_cost_pv: Interval
    cost_pv: float
    npv: Interval
    bcr: Interval
    costs: tuple[InterventionCost, ...]
    economics: Economics
    per_pair: pd.DataFrame
    bcr_safety: Interval = field(default_factory=lambda: interval([]))
    precision_pct: float = float("nan")
    sensitivity: pd.DataFrame | None = None
    target: Precision | None = None

    @property
    def ksi_avoided(self) -> Interval:
        """KSI avoided per year (baseline − variant)."""
        return self.difference["ksi"].negated()

    @property
    def distinguishable(self) -> bool:
        """Whether the 95% interval of the KSI difference is reliable and excludes 0 (told apart from noise)."""
        return self.difference["ksi"].excludes_zero

    @property
    def replications_needed(self) -> int:
        """Paired replications the observed KSI difference needs to be told apart from 0 (:func:`replications_needed`)."""
        return replications_needed(self.per_pair["diff_ksi"].to_numpy(dtype=float))

    @property
    def replications_for_precision(self) -> int:
        """Paired replications for the KSI avoided interval within ± :attr:`precision_pct` of its mean.

        From the observed mean and pair variance (:func:`replications_needed` with ``relative``); the cap
        (100,000) when the mean is 0 or fewer than two pairs were run, or when no target is set.
        """
        if not (self.precision_pct > 0.0):
            return replications_needed([])
        return replications_needed(
            self.per_pair["diff_ksi"].to_numpy(dtype=float), relative=self.precision_pct / 100.0
        )

    @property
    def cost_per_ksi_avoided(self) -> float:
        """Intervention cost PV over the KSI avoided in the horizon (undiscounted) [currency]; NaN if none avoided."""
        avoided = self.ksi_avoided.mean * self.economics.horizon_years
        return self.cost_pv / avoided if avoided > 0 and self.cost_pv > 0 else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """One row per metric with the difference and percent-change intervals."""
        rows: list[dict[str, Any]] = []
        for key, d in self.difference.items():
            pc = self.percent_change.get(key)
            row: dict[str, Any] = {"variant": self.variant, "baseline": self.baseline, "metric": key}
            row.update(_iv(d, "diff_"))
            # the headline's sign: casualties/time avoided = baseline − variant (positive = fewer)
            row.update({k: v for k, v in _iv(d.negated(), "avoided_").items() if k != "n"})
            if pc is not None:
                row.update({k: v for k, v in _iv(pc, "pct_").items() if k != "n"})
            rows.append(row)
        money = {
            "travel_time_cost_per_year": self.travel_time_cost,
            "safety_benefit_pv": self.safety_benefit_pv,
            "travel_time_cost_pv": self.travel_time_cost_pv,
            "npv": self.npv,
            "bcr": self.bcr,
            "bcr_safety": self.bcr_safety,
        }
        for key, iv in money.items():
            rows.append(
                {"variant": self.variant, "baseline": self.baseline, "metric": key, **_iv(iv, "diff_")}
            )
        c = self.cost_pv
        rows.append(
            {"variant": self.variant, "baseline": self.baseline, "metric": "cost_pv"}
            | {k: c for k in ("diff_mean", "diff_low", "diff_high", "diff_p_low", "diff_p_high")}
            | {"n": len(self.pairs)}
        )
        for key, val in (
            ("prob_reduces_ksi", self.prob_reduces_ksi),
            ("share_pairs_fewer_ksi", self.share_pairs_fewer_ksi),
            ("cost_per_ksi_avoided", self.cost_per_ksi_avoided),
            ("ksi_distinguishable", float(self.distinguishable)),
            ("ksi_interval_reliable", float(self.difference["ksi"].reliable)),
            ("replications_needed", float(self.replications_needed)),
            ("ksi_precision_pct", self.precision_pct),
            ("replications_for_precision", float(self.replications_for_precision)),
        ):
            rows.append(
                {"variant": self.variant, "baseline": self.baseline, "metric": key, "diff_mean": val}
                | {"n": len(self.pairs)}
            )
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class Comparison:
    """A baseline and its variants, compared.

    Attributes
    ----------
    baseline
        Summary of the baseline.
    scenarios
        Summaries of the baseline and every variant, baseline first.
    variants
        One comparison per variant, in the order given.
    schematic
        True if any run used the schematic network: every output then says so.
    network_source
        The network the runs used.
    """

    baseline: ScenarioSummary
    scenarios: tuple[ScenarioSummary, ...]
    variants: tuple[VariantComparison, ...]
    schematic: bool
    network_source: str = ""

    @property
    def currency(self) -> str:
        """The currency of the money values ("" without variants)."""
        return self.variants[0].economics.currency if self.variants else ""

    @property
    def precision_pct(self) -> float:
        """The precision a decision needs, ± this percentage of KSI avoided (``nan`` without variants).

        The variants' :attr:`VariantComparison.precision_pct` (one ``appraisal.ksi_precision_pct`` for all).
        """
        return self.variants[0].precision_pct if self.variants else float("nan")

    def to_frame(self) -> pd.DataFrame:
        """Long table of every variant's differences (see :meth:`VariantComparison.to_frame`)."""
        return pd.concat([v.to_frame() for v in self.variants], ignore_index=True)

    def scenarios_frame(self) -> pd.DataFrame:
        """Long table of every scenario's means and intervals."""
        return pd.concat([s.to_frame() for s in self.scenarios], ignore_index=True)

    def headline_frame(self) -> pd.DataFrame:
        """One row per variant: the numbers a committee reads (deaths and serious injuries avoided, money).

        As in the printed table, an interval that is not :attr:`~Interval.reliable` (fewer than 3 pairs) has no
        bounds here (empty cells): ``interval_reliable`` says so. The long ``comparison.csv`` keeps every raw
        statistic with its ``n`` for analysis.
        """
        rows = []
        for v in self.variants:
            ksi = v.ksi_avoided
            row: dict[str, object] = {"variant": v.variant}
            for prefix, iv in (
                ("deaths_avoided", v.difference["fatal"].negated()),
                ("serious_avoided", v.difference["serious"].negated()),
                ("ksi_avoided", ksi),
            ):
                row |= _shown(prefix, iv)
            row |= {
                "ksi_change_pct": v.percent_change["ksi"].mean,
                "prob_reduces_ksi": v.prob_reduces_ksi,
                "veh_h_added": v.difference["veh_h"].mean,
                "cost_pv": v.cost_pv,
            }
            row |= _shown("npv", v.npv) | _shown("bcr", v.bcr)
            row |= {
                "bcr_safety": v.bcr_safety.mean,
                "cost_per_ksi_avoided": v.cost_per_ksi_avoided,
                "distinguishable": v.distinguishable,
                "interval_reliable": ksi.reliable,
                "replications_needed": v.replications_needed,
                "replications_for_precision": v.replications_for_precision,
                "n": len(v.pairs),
            }
            if v.target is not None:  # compare --target-ci: where the variant's pairs stopped and why
                row |= {"target_ci_pct": v.target.target_ci_pct, "target_stop": v.target.stop_reason}
            rows.append(row)
        return pd.DataFrame(rows)


def paired_replications(baseline: ScenarioRuns, variant: ScenarioRuns) -> tuple[int, ...]:
    """Replication indices both runs have (common random numbers), checking they share the seed."""
    b, v = baseline.by_index(), variant.by_index()
    common = sorted(set(b) & set(v))
    if not common:
        raise DataError(
            f"scenario {variant.name!r}: no replication index in common with baseline {baseline.name!r} "
            f"(baseline has {sorted(b)}, variant has {sorted(v)}); run both with the same replications"
        )
    for i in common:
        if b[i].seed != v[i].seed:
            raise DataError(
                f"scenario {variant.name!r}, replication {i}: seed {v[i].seed} differs from the baseline's "
                f"{b[i].seed}; paired comparison needs common random numbers (run both with the same --seed)"
            )
    return tuple(common)


def _compare_one(
    baseline: ScenarioRuns, variant: ScenarioRuns, economics: Economics, precision_pct: float
) -> VariantComparison:
    idx = paired_replications(baseline, variant)
    b, v = baseline.by_index(), variant.by_index()
    diff: dict[str, Interval] = {}
    pct: dict[str, Interval] = {}
    per_pair: dict[str, Any] = {"replication": list(idx)}
    for key in (*_metric_keys(), *_TRAFFIC_METRICS, *_DEMAND_METRICS):
        bv = np.array([_summary_value(b[i], key) for i in idx])
        vv = np.array([_summary_value(v[i], key) for i in idx])
        d = vv - bv
        per_pair[f"baseline_{key}"] = bv
        per_pair[f"variant_{key}"] = vv
        per_pair[f"diff_{key}"] = d
        diff[key] = interval(d)
        pct[key] = ratio_interval(d, bv)
    d_ksi = np.asarray(per_pair["diff_ksi"], dtype=float)
    share_fewer = float(np.mean(d_ksi < 0))
    prob = prob_mean_below_zero(d_ksi)
    benefit = _safety_benefit(
        {sev: np.asarray(per_pair[f"diff_{sev}"], dtype=float) for sev in SEVERITIES}, economics
    )
    tt_cost = np.asarray(per_pair["diff_veh_h"], dtype=float) * economics.value_of_time
    a = economics.annuity
    costs = tuple(variant.costs)
    cost_pv = float(sum(c.present_value(economics) for c in costs))
    npv = a * benefit - a * tt_cost - cost_pv
    bcr = (a * benefit - a * tt_cost) / cost_pv if cost_pv > 0 else np.full(len(idx), np.nan)
    bcr_safety = a * benefit / cost_pv if cost_pv > 0 else np.full(len(idx), np.nan)
    money = {
        "safety_benefit_pv": interval(a * benefit),
        "npv": interval(npv),
        "bcr": interval(bcr),
        "bcr_safety": interval(bcr_safety),
    }
    # the uncertainty range over every draw: pair i at draw j, variant and baseline at the same draw j
    b_draws = _draw_totals([b[i] for i in idx])
    v_draws = _draw_totals([v[i] for i in idx])
    m = _common_draws(b_draws, v_draws)
    if m > 1:
        d_by_draw: dict[str, FloatArray] = {}
        for key in _metric_keys():
            bj = _at_draws(b_draws, key, m)
            dj = _at_draws(v_draws, key, m) - bj
            d_by_draw[key] = dj
            diff[key] = _with_range(diff[key], dj)
            pct[key] = _with_range(pct[key], _ratio_values(dj, bj))
        benefit_j = _safety_benefit(d_by_draw, economics)
        net_j = a * benefit_j - a * tt_cost[:, None]  # the pair's travel time is the same at every draw
        money["safety_benefit_pv"] = _with_range(money["safety_benefit_pv"], a * benefit_j)
        money["npv"] = _with_range(money["npv"], net_j - cost_pv)
        if cost_pv > 0:
            money["bcr"] = _with_range(money["bcr"], net_j / cost_pv)
            money["bcr_safety"] = _with_range(money["bcr_safety"], a * benefit_j / cost_pv)
    per_pair.update(
        {
            "safety_benefit_per_year": benefit,
            "travel_time_cost_per_year": tt_cost,
            "npv": npv,
            "bcr": bcr,
        }
    )
    # the drawn parameters of the variant's replications (same draw as the baseline under CRN)
    frame = pd.DataFrame(per_pair)
    params = pd.DataFrame([v[i].parameters for i in idx]).add_prefix("param:")
    frame = pd.concat([frame, params.reset_index(drop=True)], axis=1)
    return VariantComparison(
        variant=variant.name,
        baseline=baseline.name,
        pairs=idx,
        difference=diff,
        percent_change=pct,
        prob_reduces_ksi=prob,
        share_pairs_fewer_ksi=share_fewer,
        travel_time_cost=interval(tt_cost),
        safety_benefit_pv=money["safety_benefit_pv"],
        travel_time_cost_pv=interval(a * tt_cost),
        cost_pv=cost_pv,
        npv=money["npv"],
        bcr=money["bcr"],
        costs=costs,
        economics=economics,
        per_pair=frame,
        bcr_safety=money["bcr_safety"],
        precision_pct=precision_pct,
    )


def compare(
    baseline: ScenarioRuns,
    variants: Sequence[ScenarioRuns],
    *,
    economics: Economics | None = None,
    parameters: ParameterSet | None = None,
    precision_pct: float | None = None,
) -> Comparison:
    """Compare each variant with the baseline, replication by replication.

    Parameters
    ----------
    baseline
        The baseline's replications.
    variants
        Each variant's replications; replication i is paired with the baseline's replication i.
    economics
        Money values; by default those of ``parameters`` with the baseline's ``[economics]`` overrides, then
        each variant's own overrides on top.
    parameters
        Where the default money values (``economics.*``) and the precision a decision needs
        (``appraisal.ksi_precision_pct``) come from; the shipped parameters if omitted.
    precision_pct
        The precision a decision needs (± percent of the mean KSI avoided) instead of
        ``appraisal.ksi_precision_pct``: half of ``compare --target-ci``.

    Raises
    ------
    DataError
        If a variant shares no replication index with the baseline, or the seeds of a pair differ.
    """
    params = parameters if parameters is not None else load_parameters()
    base_econ = economics or Economics.from_parameters(params).with_overrides(
        baseline.economics, origin=f"scenario {baseline.name!r}"
    )
    if precision_pct is None:
        precision_pct = params.value("appraisal.ksi_precision_pct")
    comps = tuple(
        _compare_one(
            baseline,
            v,
            base_econ.with_overrides(v.economics, origin=f"scenario {v.name!r}")
            if v.economics
            else base_econ,
            precision_pct,
        )
        for v in variants
    )
    sums = tuple(summarise(r) for r in (baseline, *variants))
    schematic = any(r.schematic for r in (baseline, *variants))
    return Comparison(sums[0], sums, comps, schematic, baseline.network_source)
