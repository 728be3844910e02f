"""Nested parameter draws: each replication's risk stage evaluated at M joint draws of the post-traffic parameters.

A replication draws every uncertain parameter once (its *own* draw, draw 0), simulates the traffic with it and runs
the risk stage. About 90% of the variance of one replication's KSI avoided comes from the parameters the risk stage
reads after the traffic (``benchmarks/README.md``, "Nested parameter draws"), so each replication evaluates its
traffic at ``[simulation] risk_draws`` = M joint draws: the own draw, then M − 1 draws (:func:`inner_draws`) in
which the traffic inputs (:func:`traffic_parameters`) keep their own values, since the vehicles drove with them, and
every other parameter is drawn again so that, with the own draw, the M form a Latin hypercube (each parameter takes
each of its M equal-probability strata once; McKay, Beckman and Conover 1979). Each draw still has the parameters'
own distributions, so the mean over the M is unbiased; it varies far less than the mean of M independent draws,
because the stratification removes the parameters' additive effects from its variance (Stein 1987). Measured on a
stored full-demand pair (``benchmarks/README.md``, "Latin hypercube inner draws"): the variance of a pair's value
over the inner draws fell ~10-fold against independent draws at M = 8. The replication's injuries table is the mean
over the M draws row by row (:func:`mean_injuries`), so its totals and its per-site tables agree; its ``parameters``
stay the own draw. The paired difference of two scenarios is then the mean over the M draws of each draw's
difference, and intervals stay Student t over the pairs (:mod:`vision_zero.core.intervals`): the inner draws only
shrink each pair's variance (SD² = traffic part + what of the post-traffic part the hypercube leaves, at most post-
traffic part / (M − 1) whatever the model, and no more than independent draws' part / M where the model is monotone
in each parameter: Owen, *Monte Carlo theory, methods and examples*, ch. 10, proposition 10.4, after Owen 1997;
McKay, Beckman and Conover 1979).

Common random numbers: the inner draws continue the replication's parameter stream
(:attr:`vision_zero.core.seeding.ReplicationRNG.parameters`) after the own draw, and each parameter is drawn from a
stream keyed by its name (:meth:`vision_zero.core.parameters.ParameterSet.draw`), so draw *j* of replication *i*
has the same values in the baseline and in every variant. A baseline calibrates each draw on itself (the city's
totals of that draw, scaled by its veh-km); a variant applies its baseline replication's factors *of the same
draw*, kept in the baseline's :func:`draws_table` (``risk_draws.parquet`` in its replication folder).

With M = 1 a replication is what it was before nested draws, to the last bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import ConfigError
from vision_zero.core.parameters import ParameterReads, ParameterSet, name_key
from vision_zero.program.interventions import Binding
from vision_zero.risk.crash_model import ROAD_USERS, SEVERITIES

__all__ = [
    "RISK_DRAW_COLUMNS",
    "RISK_DRAW_KEYS",
    "draw_factors",
    "draw_totals",
    "draws_table",
    "inner_draws",
    "mean_injuries",
    "totals_of_draw",
    "traffic_parameters",
]

#: Columns of a replication's table of risk draws (:func:`draws_table`).
RISK_DRAW_COLUMNS: tuple[str, ...] = ("draw", "key", "factor", "per_year_raw", "per_year")
#: Its keys, ``"<severity>.<road_user>"`` as calibration factors are keyed.
RISK_DRAW_KEYS: tuple[str, ...] = tuple(f"{s}.{u}" for s in SEVERITIES for u in ROAD_USERS)
_SITE_KEYS = ["site_type", "site", "road_user", "severity"]


def traffic_parameters(parameters: ParameterSet, bindings: Iterable[Binding]) -> set[str]:
    """The traffic inputs among ``parameters``: kept at a replication's own draw when its risk stage is re-run.

    The parameters bound into the network by interventions (``bindings``), those the traffic stage reads (its
    settings from a draw: :class:`~vision_zero.traffic.simulation.TrafficSettings`,
    :class:`~vision_zero.traffic.routing.RouteChoiceSettings`) and every ``traffic.*`` and ``demand.*`` parameter:
    changing one would change what the vehicles did, which needs a new simulation. The one definition the inner
    draws (:func:`inner_draws`), the tornado (:mod:`vision_zero.runs.sensitivity`) and ``benchmarks/bench_nested.py``
    use. A parameter only a variant binds is kept in the variant's inner draws alone; a baseline whose risk stage
    read it would draw it afresh (none does: bound parameters reach the risk stage only through the network).
    """
    from vision_zero.traffic.routing import RouteChoiceSettings
    from vision_zero.traffic.simulation import TrafficSettings

    read = ParameterReads({k: p.value for k, p in parameters.items()})
    TrafficSettings.from_values(read)
    RouteChoiceSettings.from_values(read)
    prefixed = {k for k in parameters if k.startswith(("traffic.", "demand."))}
    return {b.parameter for b in bindings} | read.read | prefixed


def inner_draws(
    parameters: ParameterSet,
    own: Mapping[str, float],
    rng: np.random.Generator,
    m: int,
    fixed: Iterable[str],
) -> list[Mapping[str, float]]:
    """``m`` joint draws: ``own`` (draw 0, itself), then ``m − 1`` that complete a Latin hypercube with it.

    ``fixed`` (:func:`traffic_parameters`) and the parameters that are not drawn keep ``own``'s values. Every other
    drawn parameter takes each of its ``m`` equal-probability strata once across the ``m`` draws (McKay, Beckman
    and Conover 1979, Technometrics 21(2):239-245): ``own``'s value lies in one stratum (:meth:`Parameter.cdf`);
    the other ``m − 1`` strata go to draws 1 … m−1 in a random order, each value uniform within its stratum
    (:meth:`Parameter.quantile`). Since ``own`` is itself a random draw, the ``m`` points are an ordinary Latin
    hypercube sample: each draw has the parameters' own distributions, independent of one another, so the mean
    over the ``m`` is unbiased, and its variance loses the parameters' additive (main) effects as ``m`` grows
    (Stein 1987, Technometrics 29(2):143-151) where independent draws would keep all of it / ``m``.

    ``rng`` is the replication's parameter stream after its own draw (the same in every scenario of replication
    *i*); as in :meth:`ParameterSet.draw` it gives one root integer and each parameter's order and positions come
    from a stream keyed by its name, so draw *j* of replication *i* has the same values in the baseline and in every
    variant that draws the same ``m`` (a variant and its baseline must: :func:`draw_factors`).
    """
    if m < 1:
        raise ValueError(f"inner_draws: m must be >= 1 (got {m})")
    kept = set(fixed) & set(parameters)  # (not ``in own``: a draw is read only for the values it gives)
    if m == 1:
        return [own]
    root = int(rng.integers(0, 2**63))
    common: dict[
        str, float
    ] = {}  # what every inner draw shares: the traffic inputs at own's, the fixed values
    free: list[str] = []
    for name in sorted(parameters):
        p = parameters[name]
        if name in kept:
            common[name] = own[name]
        elif p.drawn:
            free.append(name)
        else:
            common[name] = p.value
    out: list[dict[str, float]] = [dict(common) for _ in range(m - 1)]
    for name in free:
        p = parameters[name]
        stream = np.random.default_rng(np.random.SeedSequence(root, spawn_key=(name_key(name),)))
        at = min(int(p.cdf(own[name]) * m), m - 1)  # own's stratum
        others = stream.permutation([s for s in range(m) if s != at])
        jitter = stream.random(m - 1)
        for j in range(m - 1):
            u = (int(others[j]) + float(jitter[j])) / m
            out[j][name] = p.quantile(min(max(u, 1e-12), 1.0 - 1e-12))
    return [own, *out]


def _key_codes(injuries: pd.DataFrame) -> np.ndarray:
    keys = injuries["severity"].astype(str) + "." + injuries["road_user"].astype(str)
    return np.asarray(keys.map({k: i for i, k in enumerate(RISK_DRAW_KEYS)}), dtype=np.int64)


def draws_table(calibrated: Sequence[pd.DataFrame], factors: Sequence[Mapping[str, float]]) -> pd.DataFrame:
    """One row per draw and key of :data:`RISK_DRAW_KEYS` from each draw's calibrated injuries table and factors.

    ``factor``: the calibration factor applied to the key's rows in the draw (``factors``: a baseline's own, a
    variant's its baseline's), which a variant of this replication applies to its own draw of the same index, so a
    variant that changes nothing has exactly the baseline's casualties at every draw; ``per_year_raw``,
    ``per_year``: the draw's totals of the key.
    """
    frames = []
    for j, (injuries, applied) in enumerate(zip(calibrated, factors, strict=True)):
        codes = _key_codes(injuries)
        n = len(RISK_DRAW_KEYS)
        raw = np.bincount(codes, weights=injuries["per_year_raw"].to_numpy(np.float64), minlength=n)
        cal = np.bincount(codes, weights=injuries["per_year"].to_numpy(np.float64), minlength=n)
        frames.append(
            pd.DataFrame(
                {
                    "draw": np.full(n, j, dtype=np.int64),
                    "key": list(RISK_DRAW_KEYS),
                    "factor": [float(applied[k]) for k in RISK_DRAW_KEYS],
                    "per_year_raw": raw,
                    "per_year": cal,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[list(RISK_DRAW_COLUMNS)]


def draw_factors(table: pd.DataFrame, m: int, *, where: str) -> list[dict[str, float]]:
    """The calibration factors of draws 0 … m−1 of a baseline replication's :func:`draws_table`.

    ``where`` names the variant and replication in the error.

    Raises
    ------
    ConfigError
        The baseline replication has fewer than ``m`` draws (it ran with a smaller ``risk_draws``), or more
        while ``m`` > 1 (its draws 1 … are a Latin hypercube of its own number: :func:`inner_draws`).
    """
    have = int(table["draw"].max()) + 1 if len(table) else 0
    if have < m or (m > 1 and have != m):
        raise ConfigError(
            f"{where}: [simulation] risk_draws = {m}, but its baseline's replication has the calibration factors "
            f"of {have} draw(s); expected {m} (or a variant with 1: draw 0, the replication's own, is the same "
            "for any number; the others are a Latin hypercube of that many draws): run both with the same "
            "risk_draws (the variant's extends the baseline's unless it sets its own)"
        )
    out = []
    for j in range(m):
        rows = table[table["draw"] == j]
        factors = dict(zip(rows["key"].astype(str), rows["factor"].astype(float), strict=True))
        missing = sorted(set(RISK_DRAW_KEYS) - set(factors))
        if missing:
            raise ConfigError(
                f"{where}: the baseline's risk draw {j} has no calibration factor for {missing}"
            )
        out.append(factors)
    return out


def totals_of_draw(table: pd.DataFrame, draw: int, column: str = "per_year") -> dict[str, float]:
    """Totals of draw ``draw`` of a :func:`draws_table`: per key, per severity and ``"ksi"`` (for checks)."""
    rows = table[table["draw"] == draw]
    by_key = dict(zip(rows["key"].astype(str), rows[column].astype(float), strict=True))
    out = {s: sum(by_key[f"{s}.{u}"] for u in ROAD_USERS) for s in SEVERITIES}
    out.update(by_key)
    out["ksi"] = out["fatal"] + out["serious"]
    return out


def draw_totals(table: pd.DataFrame) -> pd.DataFrame:
    """The casualty totals of every draw of a :func:`draws_table`, keyed as the replication's summary keys them.

    One row per draw (in draw order), columns ``<severity>``, ``<severity>_<road user>``, ``ksi`` and
    ``ksi_<road user>`` [per year, calibrated: ``per_year``]: the replication's summary value of each key is their
    mean over the draws (up to rounding). What the comparison's uncertainty range is taken over
    (:mod:`vision_zero.appraisal.compare`).
    """
    wide = table.pivot(index="draw", columns="key", values="per_year").sort_index()
    out: dict[str, npt.NDArray[np.float64]] = {}
    for s in SEVERITIES:
        for u in ROAD_USERS:
            out[f"{s}_{u}"] = wide[f"{s}.{u}"].to_numpy(np.float64)
        out[s] = np.sum([out[f"{s}_{u}"] for u in ROAD_USERS], axis=0)
    out["ksi"] = out["fatal"] + out["serious"]
    for u in ROAD_USERS:
        out[f"ksi_{u}"] = out[f"fatal_{u}"] + out[f"serious_{u}"]
    return pd.DataFrame(out, index=wide.index)


def mean_injuries(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The mean of calibrated injuries tables row by row (``per_year_raw`` and ``per_year``; a missing row is 0).

    One table is returned as it is. Tables with the same rows (the rows are set by the network and the traffic)
    are summed in draw order and divided by their number; otherwise the rows are aligned on site, road user and
    severity (sorted, as :func:`vision_zero.risk.crash_model.estimate` sorts them).
    """
    if len(tables) == 1:
        return tables[0]
    first, m = tables[0], float(len(tables))
    layout = first[_SITE_KEYS]
    if all(len(t) == len(first) and t[_SITE_KEYS].equals(layout) for t in tables[1:]):
        out = first.copy()
        for col in ("per_year_raw", "per_year"):
            total = first[col].to_numpy(np.float64).copy()
            for t in tables[1:]:
                total += t[col].to_numpy(np.float64)
            out[col] = total / m
        return out
    stacked = pd.concat([t[[*_SITE_KEYS, "per_year_raw", "per_year"]] for t in tables], ignore_index=True)
    summed = stacked.groupby(_SITE_KEYS, sort=True)[["per_year_raw", "per_year"]].sum().reset_index()
    for col in ("per_year_raw", "per_year"):
        summed[col] = summed[col].to_numpy(np.float64) / m
    return summed[list(first.columns)]
