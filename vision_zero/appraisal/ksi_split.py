"""Where the KSI change happens: on the links a variant changed ("touched") and elsewhere (e.g. diversion).

A network-wide total can hide the program's effect: KSI may fall on the streets the program changed while
traffic diverted onto other streets raises KSI there. :func:`ksi_split` splits the KSI avoided per year
(baseline − variant, killed or seriously injured) into the part on the touched links and the part elsewhere,
pair by pair (replication *i* of the variant against replication *i* of the baseline, common random numbers),
each with the 95% interval of :func:`vision_zero.core.intervals.interval`.

Casualties are placed on links by :func:`vision_zero.appraisal.attribution.link_ksi_per_year` (crossing and junction casualties
shared among their links), each scenario on its own network (the links are the same; crossings may differ).
Per pair ``touched_i + elsewhere_i = total_i`` exactly, where ``total_i`` is the attributed KSI difference; it
equals the summary KSI difference whenever every casualty has a site on the network (the usual case).

The percentile range (``p_low``/``p_high``) of each part is over the pairs' values, each the mean over its
replication's risk draws (:mod:`vision_zero.runs.risk_draws`): casualties per site are kept as that mean only, not
per draw, so with more than one risk draw this range is narrower than one draw's spread, unlike the comparison's
range of the total KSI avoided (over every draw, :mod:`vision_zero.appraisal.compare`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.appraisal.attribution import link_ksi_per_year
from vision_zero.appraisal.compare import ScenarioRuns, paired_replications
from vision_zero.appraisal.compare_text import format_interval
from vision_zero.core.formatting import aligned_columns, format_number, replications_text
from vision_zero.core.intervals import Interval, interval, replications_needed
from vision_zero.network.road_network import RoadNetwork

__all__ = ["PARTS", "KsiSplit", "format_split", "ksi_split", "split_frame"]

FloatArray = npt.NDArray[np.float64]

#: The parts of the split, in table order.
PARTS: tuple[str, ...] = ("touched", "elsewhere", "total")


@dataclass(frozen=True)
class KsiSplit:
    """KSI avoided per year by one variant, on the touched links and elsewhere.

    Attributes
    ----------
    variant, baseline
        Scenario names.
    touched_links
        Ids of the links the variant changed.
    n_links
        Number of links in the network.
    touched, elsewhere, total
        Intervals of KSI avoided per year (baseline − variant; positive = fewer KSI) on the touched links, on
        the other links, and on all links; per pair ``touched + elsewhere = total``.
    per_pair
        One row per pair: ``replication, touched, elsewhere, total`` [KSI avoided per year].
    precision_pct
        The precision a decision needs (``appraisal.ksi_precision_pct``, as
        :attr:`~vision_zero.appraisal.compare.VariantComparison.precision_pct`): each part's
        ``replications_for_precision`` is the paired replications for its interval within ± this percentage of its
        mean; NaN when not given.
    """

    variant: str
    baseline: str
    touched_links: tuple[int, ...]
    n_links: int
    touched: Interval
    elsewhere: Interval
    total: Interval
    per_pair: pd.DataFrame
    precision_pct: float = float("nan")

    def part(self, name: str) -> Interval:
        """The interval of part ``name`` (one of :data:`PARTS`)."""
        return {"touched": self.touched, "elsewhere": self.elsewhere, "total": self.total}[name]

    def replications_for_precision(self, name: str) -> int:
        """Paired replications for part ``name``'s interval within ± :attr:`precision_pct` of its mean.

        :func:`~vision_zero.core.intervals.replications_needed` on the part's per-pair values, as the comparison
        computes it for the total; its cap (100,000) without a target, with fewer than two pairs or a mean of 0.
        """
        if not (self.precision_pct > 0.0):
            return replications_needed([])
        values = self.per_pair[name].to_numpy(dtype=float)
        return replications_needed(values, relative=self.precision_pct / 100.0)

    def to_frame(self) -> pd.DataFrame:
        """One row per part: ``variant, baseline, part, mean, low, high, p_low, p_high, n, links`` and reliability.

        ``reliable`` (:attr:`~vision_zero.core.intervals.Interval.reliable`: ``low``/``high`` are shown),
        ``distinguishable`` (reliable and excluding 0), ``replications_needed`` (pairs to tell the part's mean
        from 0), ``ksi_precision_pct`` and ``replications_for_precision`` (:meth:`replications_for_precision`):
        the fields the comparison's tables give the total.
        """
        n_touched = len(self.touched_links)
        links = {"touched": n_touched, "elsewhere": self.n_links - n_touched, "total": self.n_links}
        rows = []
        for p in PARTS:
            iv = self.part(p)
            rows.append(
                {
                    "variant": self.variant,
                    "baseline": self.baseline,
                    "part": p,
                    "mean": iv.mean,
                    "low": iv.low,
                    "high": iv.high,
                    "p_low": iv.p_low,
                    "p_high": iv.p_high,
                    "n": iv.n,
                    "links": links[p],
                    "reliable": iv.reliable,
                    "distinguishable": iv.excludes_zero,
                    "replications_needed": replications_needed(self.per_pair[p].to_numpy(dtype=float)),
                    "ksi_precision_pct": self.precision_pct,
                    "replications_for_precision": self.replications_for_precision(p),
                }
            )
        return pd.DataFrame(rows)


def ksi_split(
    baseline: ScenarioRuns,
    variant: ScenarioRuns,
    *,
    baseline_network: RoadNetwork,
    variant_network: RoadNetwork,
    touched: Sequence[int] | npt.NDArray[np.int64],
    precision_pct: float = float("nan"),
) -> KsiSplit:
    """Split the KSI avoided per year into the touched links and elsewhere, pair by pair.

    Parameters
    ----------
    baseline, variant
        The scenarios' replications (paired by replication index, as in :func:`vision_zero.appraisal.compare.compare`).
    baseline_network, variant_network
        Each scenario's network (interventions applied); both must have the same links.
    touched
        Ids of the links the variant changed: the links of every site its interventions touched
        (:meth:`vision_zero.program.touched.Touched.site_links`).
    precision_pct
        The precision a decision needs, in percent of the mean (``appraisal.ksi_precision_pct``; the comparison's
        :attr:`~vision_zero.appraisal.compare.VariantComparison.precision_pct`).

    Raises
    ------
    DataError
        If the scenarios share no replication index or the seeds of a pair differ.
    ValueError
        If the networks' link counts differ or a touched id is not a link.
    """
    m = len(baseline_network.links)
    if len(variant_network.links) != m:
        raise ValueError(
            f"ksi_split: baseline {baseline.name!r} has {m} links, variant {variant.name!r} has "
            f"{len(variant_network.links)}; the split needs the same links"
        )
    ids = np.unique(np.asarray(touched, dtype=np.int64))
    if len(ids) and (ids[0] < 0 or ids[-1] >= m):
        raise ValueError(f"ksi_split: touched link ids must lie in 0..{m - 1} (got {ids.tolist()})")
    mask = np.zeros(m, dtype=bool)
    mask[ids] = True
    idx = paired_replications(baseline, variant)
    b, v = baseline.by_index(), variant.by_index()
    on, off = np.zeros(len(idx)), np.zeros(len(idx))
    for k, i in enumerate(idx):
        avoided = link_ksi_per_year(baseline_network, [b[i]]) - link_ksi_per_year(variant_network, [v[i]])
        on[k] = float(avoided[mask].sum())
        off[k] = float(avoided[~mask].sum())
    total = on + off
    per_pair = pd.DataFrame({"replication": list(idx), "touched": on, "elsewhere": off, "total": total})
    return KsiSplit(
        variant=variant.name,
        baseline=baseline.name,
        touched_links=tuple(int(x) for x in ids),
        n_links=m,
        touched=interval(on),
        elsewhere=interval(off),
        total=interval(total),
        per_pair=per_pair,
        precision_pct=precision_pct,
    )


def split_frame(splits: Sequence[KsiSplit]) -> pd.DataFrame:
    """Every split's :meth:`KsiSplit.to_frame`, stacked (empty frame with the columns if none)."""
    if not splits:
        cols = [
            "variant",
            "baseline",
            "part",
            "mean",
            "low",
            "high",
            "p_low",
            "p_high",
            "n",
            "links",
            "reliable",
            "distinguishable",
            "replications_needed",
            "ksi_precision_pct",
            "replications_for_precision",
        ]
        return pd.DataFrame(columns=cols)
    return pd.concat([s.to_frame() for s in splits], ignore_index=True)


def format_split(frame: pd.DataFrame, *, lang: str = "en") -> str:
    """A short plain-text block of :func:`split_frame` for the terminal (one row per variant), in ``lang``."""
    from vision_zero.core.i18n import ntext, text

    if not len(frame):
        return ""
    pct = float(frame["ksi_precision_pct"].iloc[0]) if "ksi_precision_pct" in frame.columns else float("nan")
    header = [text("scenario", lang)] + [text(f"where_{p}", lang) for p in PARTS]
    header.append(text("col_reps_precision_touched", lang, pct=format_number(pct, 0)))
    rows = [header]
    by_variant: dict[str, dict[str, Mapping[Hashable, Any]]] = {}
    for rec in frame.to_dict("records"):
        by_variant.setdefault(str(rec["variant"]), {})[str(rec["part"])] = rec
    for variant, parts in by_variant.items():
        row = [variant]
        for p in PARTS:
            r = parts[p]
            f = {k: float(r[k]) for k in ("mean", "low", "high", "p_low", "p_high")}
            iv = Interval(f["mean"], f["low"], f["high"], f["p_low"], f["p_high"], int(r["n"]))
            cell = format_interval(iv, lang=lang)
            row.append(ntext("n_links", int(r["links"]), lang, cell=cell) if p == "touched" else cell)
        touched = parts["touched"]
        need = touched.get("replications_for_precision", replications_needed([]))
        row.append(replications_text(int(need), int(touched["n"]), float(touched["mean"])))
        rows.append(row)
    lines = aligned_columns(rows)
    title = text("where_terminal", lang)
    return "\n".join([title, *lines])
