"""Sensitivity of KSI avoided to each risk-stage parameter: the risk stage re-run alone on the stored traffic.

Every replication keeps the tables of its traffic record that the risk stage reads
(:data:`vision_zero.runs.results.TRAFFIC_TABLES`). For each parameter the risk stage reads that has a 95% range
in the parameters files (and is not a traffic input: a parameter bound into the network by an intervention
changes what the vehicles did and would need a new simulation, and so does a parameter the traffic stage reads,
such as the spread of desired speeds that the occupant model also reads), this module sets it to the range's low and
high end — every other parameter keeping the replication's own draw — and re-runs, for the baseline and each
variant of every pair, exactly what :func:`vision_zero.runs.pipeline.run_replication` runs after the traffic:
the road-user models (:func:`~vision_zero.risk.crash_model.occupant_injuries`,
:func:`~vision_zero.risk.crossing_passages.crossing_injuries`,
:func:`~vision_zero.risk.away_from_crossings.injuries_away_from_crossings`), the interventions' crash-modification factors
(:func:`~vision_zero.risk.crash_model.apply_modifiers`), the baseline's calibration to the observed totals
(:func:`~vision_zero.runs.pipeline.calibration_targets`, :func:`~vision_zero.risk.crash_model.calibration_factors`)
and the variant's use of the baseline's factors. No traffic is simulated again.

The result per variant is the mean over the pairs of KSI avoided per year with the parameter at each end; at the
replications' own draws the re-run reproduces each replication's KSI at its own draw (draw 0 of its risk draws,
:attr:`~vision_zero.runs.results.ReplicationResult.risk_draws`; test), so ``at_draw`` is the mean at the own
draws. With ``[simulation] risk_draws`` above 1 the headline is the mean over each replication's risk draws
(:mod:`vision_zero.runs.risk_draws`), which the own draws' mean only estimates: the tornado moves one parameter
around the own draws, not around every inner draw, and the chart and the report place each end's change from
``at_draw`` at the headline (:func:`vision_zero.outputs.charts.tornado_frame`). This is a one-at-a-time
sensitivity (a tornado): it shows which evidence moves the answer and by how much, not a joint uncertainty
interval (the replications' draws give that).

Speed: each road-user model is re-run only when a parameter it reads changes (the keys it reads are recorded on
its first run), and the CMF factors only when a CMF parameter changes; the totals are summed per severity and
road user, which is all the calibration and KSI need. The crossing model, most of the cost at full demand (6.1 M
passages on the district), keeps the passages grouped and each group's impact means from its first run
(:class:`~vision_zero.risk.crossing_passages.CrossingPassages`), so a yielding parameter re-runs only the last steps,
and an impact table's parameter interpolates the new table at the kept speeds' places on its grid; a group whose
vehicles all reach the crossing at one speed (turning, or from the stop line) runs the chain once per lane count.
The pedestrians away from the crossings and on the streets keep their preparation (joined to the traffic:
:class:`~vision_zero.risk.away_from_crossings.KeptExposure`), the occupants their link statistics and each
severity's speed effect (:class:`~vision_zero.risk.crash_model.KeptLinkTraffic`). The numbers are the same to the last bit
(``benchmarks/bench_sensitivity.py --check``). Pairs are independent: each is one task of the executor that ran
the replications (:mod:`vision_zero.runs.parallel`), and their values are summed in pair order, so the tables are
the same whichever executor ran them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.parameters import ParameterReads, ParameterSet
from vision_zero.core.process import release_free_memory
from vision_zero.network.road_network import RoadNetwork
from vision_zero.program.interventions import apply_bindings
from vision_zero.risk.crash_model import (
    ROAD_USERS,
    SEVERITIES,
    apply_modifiers,
    calibration_factors,
    injury_parts,
)
from vision_zero.runs.parallel import Executor, SerialExecutor
from vision_zero.runs.pipeline import calibration_targets
from vision_zero.runs.preparation import AppliedScenario
from vision_zero.runs.results import TRAFFIC_TABLES, ReplicationResult, read_traffic_tables, replication_dir
from vision_zero.runs.risk_draws import traffic_parameters
from vision_zero.traffic.periods import Period
from vision_zero.traffic.simulation import TrafficRecord

__all__ = [
    "SENSITIVITY_COLUMNS",
    "RiskRerun",
    "ScenarioTraffic",
    "rerun_ksi",
    "risk_sensitivity",
    "stored_record",
]

#: Columns of each variant's sensitivity table.
SENSITIVITY_COLUMNS: tuple[str, ...] = (
    "parameter",
    "low",
    "high",
    "value",
    "at_low",
    "at_high",
    "at_draw",
    "swing",
    "pairs",
)
_KEYS: tuple[str, ...] = tuple(f"{s}.{u}" for s in SEVERITIES for u in ROAD_USERS)


def _by_key(codes: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Sums of ``values`` per key of :data:`_KEYS` (``codes`` index into it)."""
    return np.asarray(np.bincount(codes, weights=values, minlength=len(_KEYS)), dtype=np.float64)


def _key_codes(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Per row of an injuries frame, the position of its ``"<severity>.<road_user>"`` in :data:`_KEYS`.

    Through each column's distinct values (:func:`pandas.factorize`), not a joined string per row: a crossing
    part's frame has ~30 k rows of Arrow strings, and the tornado builds hundreds of them (#16).
    """
    sev, sev_values = pd.factorize(frame["severity"])
    user, user_values = pd.factorize(frame["road_user"])
    sev_pos = pd.Index(SEVERITIES).get_indexer(pd.Index(sev_values).astype(str))
    user_pos = pd.Index(ROAD_USERS).get_indexer(pd.Index(user_values).astype(str))
    if (sev < 0).any() or (user < 0).any() or (sev_pos < 0).any() or (user_pos < 0).any():
        missing = sorted(
            {str(v) for v, p in zip(sev_values, sev_pos, strict=True) if p < 0}
            | {str(v) for v, p in zip(user_values, user_pos, strict=True) if p < 0}
        )
        raise ValueError(
            f"injuries rows with a severity or road user not among {_KEYS} (or missing): {missing}"
        )
    codes: npt.NDArray[np.int64] = (sev_pos[sev] * len(ROAD_USERS) + user_pos[user]).astype(np.int64)
    return codes


@dataclass
class _Memo:
    """Results of one function of the parameters, keyed by the values of the parameters it read."""

    func: Callable[[Mapping[str, float]], object]
    reads: tuple[str, ...] | None = None  # None until the first call; () after a call that read everything
    everything: bool = False
    cache: dict[tuple[float, ...], object] = field(default_factory=dict)

    def key(self, values: Mapping[str, float]) -> tuple[float, ...]:
        names = sorted(values) if self.everything else (self.reads or ())
        return tuple(float(values[k]) for k in names)

    def __call__(self, values: Mapping[str, float]) -> object:
        if self.reads is None:
            rec = ParameterReads(values)
            out = self.func(rec)
            self.reads, self.everything = tuple(sorted(rec.read)), rec.everything
            self.cache[self.key(values)] = out
            return out
        k = self.key(values)
        if k not in self.cache:
            self.cache[k] = self.func(values)
        return self.cache[k]


def stored_record(tables: Mapping[str, pd.DataFrame], periods: tuple[Period, ...]) -> TrafficRecord:
    """A :class:`TrafficRecord` with the tables the risk stage reads (``trips`` empty) from a replication folder."""
    kept = {field_name: tables[name] for name, field_name in TRAFFIC_TABLES.items()}
    return TrafficRecord(
        periods=periods,
        link_stats=kept["link_stats"],
        passages=kept["passages"],
        pedestrian_demand=kept["pedestrian_demand"],
        speed_hist=kept["speed_hist"],
        trips=pd.DataFrame(),
    )


class RiskRerun:
    """The risk stage of one replication of one scenario on its stored traffic, for other parameter values.

    Parameters
    ----------
    network
        The scenario's network with its interventions and the replication's draw applied
        (:func:`vision_zero.program.interventions.apply_bindings`).
    record
        The replication's traffic record (:func:`stored_record`).
    modifiers
        The scenario's crash-modification-factor table.
    speed_model
        ``[risk] speed_model``.
    """

    def __init__(
        self, network: RoadNetwork, record: TrafficRecord, modifiers: pd.DataFrame, speed_model: str
    ) -> None:
        parts = injury_parts(network, record, speed_model=speed_model, reuse=True)
        self._parts = [_Memo(part) for part in parts]
        self._modifiers = modifiers
        self._factors: dict[int, _Memo] = {}
        self._layouts: dict[int, pd.DataFrame] = {}
        # per part result (by id: the memos keep every result alive): layout check, key codes, raw values
        self._frames: dict[int, tuple[bool, npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        self._sums: dict[tuple[int, int], npt.NDArray[np.float64]] = {}

    @property
    def reads(self) -> set[str]:
        """The parameters the risk stage read so far (after one call of :meth:`raw_totals`)."""
        out: set[str] = set()
        for memo in (*self._parts, *self._factors.values()):
            out |= set(memo.reads or ())
        return out

    @property
    def reads_everything(self) -> bool:
        """Whether a step iterated over all the parameters (then any of them may move its result)."""
        return any(memo.everything for memo in (*self._parts, *self._factors.values()))

    def may_move(self, name: str) -> bool:
        """Whether parameter ``name`` may change :meth:`raw_totals` (else they are those at the first call's values).

        After one call of :meth:`raw_totals`: every step is a memo keyed by the values of the parameters it read.
        """
        return self.reads_everything or name in self.reads

    def _part_totals(self, i: int, values: Mapping[str, float]) -> npt.NDArray[np.float64]:
        """Totals of part ``i`` per key of :data:`_KEYS` (CMFs applied); cached per result of the part."""
        frame = self._parts[i](values)
        assert isinstance(frame, pd.DataFrame)
        if id(frame) not in self._frames:
            layout = frame[["site_type", "site", "road_user", "severity"]]
            if i not in self._layouts:  # the CMF factor of each row: rows are set by network and traffic
                ones, modifiers = frame.assign(per_year_raw=1.0), self._modifiers
                self._layouts[i] = layout
                # (the function does not hold self: a re-run in no reference cycle is freed as soon as it is
                # dropped, not at the collector's next full pass; a pair's scenarios run one after another)
                self._factors[i] = _Memo(
                    lambda p: apply_modifiers(ones, modifiers, parameters=p)["per_year_raw"].to_numpy(float)
                )
            self._frames[id(frame)] = (
                layout.equals(self._layouts[i]),
                _key_codes(frame),
                np.asarray(frame["per_year_raw"], dtype=np.float64),
            )
        same, codes, raw = self._frames[id(frame)]
        if same:
            factor = self._factors[i](values)
            assert isinstance(factor, np.ndarray)
            key = (id(frame), id(factor))
            if key not in self._sums:
                self._sums[key] = _by_key(codes, raw * factor)
            return self._sums[key]
        # other rows than on the first run (not seen so far): the factors of these rows
        modified = apply_modifiers(frame, self._modifiers, parameters=values)["per_year_raw"]
        return _by_key(codes, modified.to_numpy(np.float64))

    def raw_totals(self, values: Mapping[str, float]) -> dict[str, float]:
        """Uncalibrated casualties per year (CMFs applied), keyed ``"<severity>.<road_user>"``."""
        total = sum((self._part_totals(i, values) for i in range(len(self._parts))), np.zeros(len(_KEYS)))
        return {k: float(v) for k, v in zip(_KEYS, total, strict=True)}


def _ksi(raw: Mapping[str, float], factors: Mapping[str, float]) -> float:
    return sum(raw[f"{s}.{u}"] * factors[f"{s}.{u}"] for s in ("fatal", "serious") for u in ROAD_USERS)


def _raw_frame(raw: Mapping[str, float]) -> pd.DataFrame:
    """Totals as the one-row-per-(severity, road user) injuries table :func:`calibration_factors` reads."""
    sev, user = zip(*(k.split(".") for k in raw), strict=True)
    return pd.DataFrame({"severity": sev, "road_user": user, "per_year_raw": list(raw.values())})


@dataclass(frozen=True)
class ScenarioTraffic:
    """What re-running one scenario's risk stage needs: its applied interventions, periods and replications.

    ``crash_records``: :attr:`vision_zero.runs.preparation.PreparedScenario.crash_records` of a baseline calibrated
    on crash records, else None.
    """

    applied: AppliedScenario
    periods: tuple[Period, ...]
    replications: Sequence[ReplicationResult]
    run_dir: Path
    crash_records: pd.DataFrame | None = None

    def rerun(self, replication: ReplicationResult) -> RiskRerun | None:
        """The :class:`RiskRerun` of one of its replications, or None if the folder kept no traffic tables."""
        tables = read_traffic_tables(replication_dir(self.run_dir, replication.replication))
        if tables is None:
            return None
        draw = dict(replication.parameters)
        network = apply_bindings(self.applied.network, self.applied.bindings, draw)
        record = stored_record(tables, self.periods)
        return RiskRerun(network, record, self.applied.modifiers, self.applied.scenario.risk.speed_model)

    @property
    def traffic_parameters(self) -> set[str]:
        """Traffic inputs, not varied here (they would change what the vehicles did: a new simulation).

        The parameters bound into the network by interventions and those the traffic stage reads (its settings
        from a draw, and every ``traffic.*`` and ``demand.*`` parameter): the one definition of
        :func:`vision_zero.runs.risk_draws.traffic_parameters`, which the replications' inner draws keep too.
        """
        return traffic_parameters(self.applied.parameters, self.applied.bindings)


@dataclass
class _Totals:
    """One scenario replication's uncalibrated totals (:meth:`RiskRerun.raw_totals`): at its draw and moved.

    ``moved``: keyed by (parameter, value), with that one parameter at that value (the others at the draw); a
    parameter the risk stage did not read gives the totals at the draw (:meth:`at`). ``reads``: the parameters
    the risk stage read (:attr:`RiskRerun.reads`).
    """

    at_draw: dict[str, float]
    moved: dict[tuple[str, float], dict[str, float]]
    reads: set[str]

    def at(self, name: str | None, value: float) -> dict[str, float]:
        """The totals with ``name`` at ``value`` (None: at the draw)."""
        return self.at_draw if name is None else self.moved.get((name, value), self.at_draw)


def _totals(
    traffic: ScenarioTraffic,
    replication: ReplicationResult,
    moves: Callable[[RiskRerun], Iterable[tuple[str, float]]],
) -> _Totals | None:
    """The :class:`_Totals` of one replication at its draw and with each ``(parameter, value)`` of ``moves``.

    ``moves`` is called after the run at the draw (so it may look at the parameters read). Only this
    replication's :class:`RiskRerun` is alive meanwhile, and it is dropped before the next scenario's is built:
    a re-run keeps its stored traffic and its grouped crossing passages (~0.4 GiB at full demand on the
    district), so a pair of six scenarios held at once took six times that. A re-run gives the same totals for a
    parameter it did not read as at the draw (its memos are keyed by the values read), so only those it read are
    computed: the numbers are those of every scenario's re-run alive together, to the last bit.
    None when the folder kept no traffic tables.
    """
    rerun = traffic.rerun(replication)
    if rerun is None:
        return None
    draw = dict(replication.parameters)
    at_draw = rerun.raw_totals(draw)
    moved = {}
    for name, value in moves(rerun):
        if rerun.may_move(name) and (name, value) not in moved:
            moved[(name, value)] = rerun.raw_totals({**draw, name: value})
    return _Totals(at_draw, moved, rerun.reads)


@dataclass
class _Pair:
    draw: dict[str, float]
    veh_km: float
    base: _Totals
    variants: dict[str, _Totals]


def _pair(
    baseline: ScenarioTraffic,
    variants: Sequence[ScenarioTraffic],
    base: ReplicationResult,
    reps: Sequence[ReplicationResult | None],
    moves: Callable[[RiskRerun], Iterable[tuple[str, float]]],
) -> _Pair | None:
    """One pair's totals, a scenario at a time (None when the baseline's or every variant's kept no traffic)."""
    base_totals = _totals(baseline, base, moves)
    if base_totals is None:
        return None
    pair_variants = {}
    for v, rep in zip(variants, reps, strict=True):
        release_free_memory()  # the last re-run's traffic tables, before the next one's are read
        totals = _totals(v, rep, moves) if rep is not None else None
        if totals is not None:
            pair_variants[v.applied.name] = totals
    if not pair_variants:
        return None
    return _Pair(dict(base.parameters), base.summary["veh_km"], base_totals, pair_variants)


def _factors(
    baseline: ScenarioTraffic, pair: _Pair, values: Mapping[str, float], name: str | None, value: float
) -> dict[str, float]:
    targets = calibration_targets(
        baseline.applied.scenario,
        baseline.applied.parameters,
        values,
        veh_km=pair.veh_km,
        crash_records=baseline.crash_records,
    )
    return calibration_factors(_raw_frame(pair.base.at(name, value)), targets)


def _calibration_reads(baseline: ScenarioTraffic, pair: _Pair) -> set[str]:
    rec = ParameterReads(pair.draw)
    calibration_targets(
        baseline.applied.scenario,
        baseline.applied.parameters,
        rec,
        veh_km=pair.veh_km,
        crash_records=baseline.crash_records,
    )
    return rec.read


def _ksi_by_scenario(
    baseline: ScenarioTraffic, pair: _Pair, name: str | None, value: float
) -> dict[str, float]:
    """Calibrated KSI per year of each scenario of a pair with ``name`` at ``value`` (None: the draws)."""
    moved = pair.draw if name is None else {**pair.draw, name: value}
    factors = _factors(baseline, pair, moved, name, value)
    out = {baseline.applied.name: _ksi(pair.base.at(name, value), factors)}
    for variant, totals in pair.variants.items():
        out[variant] = _ksi(totals.at(name, value), factors)
    return out


def _avoided(baseline: ScenarioTraffic, pair: _Pair, name: str | None, value: float) -> dict[str, float]:
    """KSI avoided per year by each variant of one pair with parameter ``name`` at ``value`` (None: the draws)."""
    ksi = _ksi_by_scenario(baseline, pair, name, value)
    return {v: ksi[baseline.applied.name] - ksi[v] for v in pair.variants}


def rerun_ksi(
    baseline: ScenarioTraffic,
    variants: Sequence[ScenarioTraffic],
    replication: int,
    changes: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """KSI per year of each scenario's replication ``replication``, the risk stage re-run on its stored traffic.

    ``changes``: parameter -> value replacing the replication's draw (at most one; None: the draw itself, which
    reproduces the replications' KSI at their own draw: draw 0 of their risk draws, the stored ``ksi`` when
    ``risk_draws`` = 1). Empty when the baseline's replication kept no traffic tables.
    """
    base = {r.replication: r for r in baseline.replications}
    reps = [{r.replication: r for r in v.replications}.get(replication) for v in variants]
    moved = tuple((changes or {}).items())
    if len(moved) > 1:
        raise ValueError(f"rerun_ksi: at most one parameter changed (got {len(moved)})")
    pair = _pair(baseline, variants, base[replication], reps, lambda _rerun: moved)
    if pair is None:
        return {}
    if not moved:
        return _ksi_by_scenario(baseline, pair, None, math.nan)
    ((name, value),) = moved
    return _ksi_by_scenario(baseline, pair, name, value)


@dataclass(frozen=True)
class _PairSums:
    """One pair's KSI avoided per year by variant: at the draws, and per (parameter, end) of ``names`` at least.

    ``names``: the parameters the pair's risk stage read (or those it was asked to move); ``at_end`` may hold
    more (:func:`_pair_sums`).
    """

    names: tuple[str, ...]
    at_draw: dict[str, float]
    at_end: dict[tuple[str, str], dict[str, float]]


@dataclass(frozen=True)
class _SensitivityJob:
    """The payload of the per-pair tasks (shipped once per worker by the executor)."""

    baseline: ScenarioTraffic
    variants: tuple[ScenarioTraffic, ...]
    parameters: ParameterSet
    excluded: frozenset[str]


def _light(traffic: ScenarioTraffic) -> ScenarioTraffic:
    """``traffic`` with its replications' tables left out: a pair reads a replication's index, draw and veh-km.

    The job is pickled and loaded by every worker of a process pool: with the injuries, link traffic and speed
    histograms of the decision run's 25 scenario replications it was 254 MiB (#16), 30 MiB without (the six
    scenarios' networks).
    """
    empty = pd.DataFrame()
    light = tuple(
        replace(
            r,
            injuries=empty,
            link_traffic=empty,
            speed_hist=empty,
            traffic=None,
            routes=None,
            link_events=None,
            risk_draws=None,
        )
        for r in traffic.replications
    )
    return replace(traffic, replications=light)


def _ranged(job: _SensitivityJob, read: set[str]) -> tuple[str, ...]:
    """Of ``read``, the parameters that have a 95% range and are not traffic inputs, sorted."""
    params = job.parameters
    return tuple(
        sorted(
            n
            for n in read - job.excluded
            if n in params
            and params[n].low is not None
            and params[n].high is not None
            and params[n].low != params[n].high
        )
    )


def _risk_names(job: _SensitivityJob, pair: _Pair) -> tuple[str, ...]:
    """The parameters the risk stage read on ``pair`` that have a 95% range and are not traffic inputs."""
    read = _calibration_reads(job.baseline, pair) | pair.base.reads
    for totals in pair.variants.values():
        read |= totals.reads
    return _ranged(job, read)


def _ends(job: _SensitivityJob, names: tuple[str, ...]) -> Iterator[tuple[str, float]]:
    """Each parameter of ``names`` at its low and high end, in the tornado's order."""
    for name in names:
        for end in ("low", "high"):
            yield name, float(getattr(job.parameters[name], end))


def _pair_sums(job: _SensitivityJob, index: int, names: tuple[str, ...] | None = None) -> _PairSums | None:
    """KSI avoided by each variant of pair ``index`` at the draws and with each parameter at its ends.

    ``names``: the parameters to move. Default: every parameter that has a 95% range and is not a traffic input
    (:func:`_ranged` of them all), and :attr:`_PairSums.names` those this pair's risk stage read
    (:func:`_risk_names`): then the sums hold the ends of whichever names the first pair read, and a pair that
    read fewer (one with fewer variants: a comparison's programs stop at different pair counts) needs no
    second run (#16: the caller re-ran three such pairs of the decision run in its own process, one after the
    other, ~80 CPU-s after the pool's). A parameter no step of the pair read moves none of its totals (each
    step is a memo keyed by the values it read, :meth:`RiskRerun.may_move`) nor its calibration, so its ends
    cost the calibration's and the KSI's sums only, and are the numbers a run asked for it gives. None when the
    pair kept no traffic tables.
    """
    base = {r.replication: r for r in job.baseline.replications}[index]
    reps = [{r.replication: r for r in v.replications}.get(index) for v in job.variants]

    def moves(rerun: RiskRerun) -> Iterator[tuple[str, float]]:
        # the names are known only once every scenario of the pair has run at its draw: each scenario moves
        # those of its own reads that may be among them (every ranged parameter if its risk stage read them all)
        if names is not None:
            return _ends(job, names)
        return _ends(job, _ranged(job, set(job.parameters) if rerun.reads_everything else rerun.reads))

    pair = _pair(job.baseline, job.variants, base, reps, moves)
    if pair is None:
        return None
    at_draw = _avoided(job.baseline, pair, None, math.nan)
    moved = _ranged(job, set(job.parameters)) if names is None else names
    at_end = {
        (name, end): _avoided(job.baseline, pair, name, float(getattr(job.parameters[name], end)))
        for name in moved
        for end in ("low", "high")
    }
    return _PairSums(_risk_names(job, pair) if names is None else names, at_draw, at_end)


def _sensitivity_task(job: _SensitivityJob, index: int) -> tuple[bool, _PairSums | None]:
    """One pair on a worker of the executor (module level: picklable by reference): ``(seen, sums)``.

    ``seen`` is False when this worker does not see one of the pair's replication folders (a Dask worker on
    another machine without the results folder): the caller then runs the pair itself, instead of the pair
    being taken for one that kept no traffic tables.
    """
    for scenario in (job.baseline, *job.variants):
        has = any(r.replication == index for r in scenario.replications)
        if has and not replication_dir(scenario.run_dir, index).is_dir():
            return False, None
    return True, _pair_sums(job, index)


def risk_sensitivity(
    baseline: ScenarioTraffic,
    variants: Sequence[ScenarioTraffic],
    parameters: ParameterSet,
    *,
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
) -> dict[str, pd.DataFrame]:
    """Per variant, KSI avoided per year with each risk-stage parameter at its low and high end (module docstring).

    Parameters
    ----------
    baseline, variants
        The scenarios of a comparison; pairs are the replication indices both have.
    parameters
        Where each parameter's 95% range (``low``, ``high``) and central ``value`` come from.
    progress
        Called with (pairs done, pairs) after each pair.
    executor
        Runs the pairs (one task per pair, as the replications: :class:`vision_zero.runs.parallel.Executor`);
        default: in this process. The result does not depend on it: every pair's values are summed in pair
        order, and the parameters moved are those the first pair's risk stage read (every pair's sums hold the
        ends of every parameter that may be among them, :func:`_pair_sums`; a pair handed back by a worker
        that does not see its folders runs here).

    Returns
    -------
    dict
        Variant name -> DataFrame with :data:`SENSITIVITY_COLUMNS` sorted by ``swing`` (largest first):
        ``at_low``/``at_high`` the mean over the pairs of KSI avoided per year with the parameter at ``low``/
        ``high``, ``at_draw`` the same at the replications' own draws (the headline mean when ``risk_draws`` = 1;
        else the mean at draw 0 of each replication's risk draws), ``swing`` =
        ``|at_high − at_low|``. Empty frames when no replication kept its traffic tables.
    """
    base_reps = {r.replication: r for r in baseline.replications}
    var_reps = [{r.replication: r for r in v.replications} for v in variants]
    indices = sorted(i for i in base_reps if any(i in reps for reps in var_reps))
    excluded = set().union(baseline.traffic_parameters, *(v.traffic_parameters for v in variants))
    job = _SensitivityJob(
        _light(baseline), tuple(_light(v) for v in variants), parameters, frozenset(excluded)
    )
    by_pair: dict[int, _PairSums | None] = {}
    for done, (pos, (seen, result)) in enumerate(
        (executor or SerialExecutor()).map_unordered(_sensitivity_task, job, indices), 1
    ):
        by_pair[indices[pos]] = result if seen else _pair_sums(job, indices[pos])
        if progress is not None:
            progress(done, len(indices))
    sums: dict[str, dict[tuple[str, str], float]] = {v.applied.name: {} for v in variants}
    counts: dict[str, int] = dict.fromkeys(sums, 0)
    names: tuple[str, ...] | None = None
    for i in indices:  # in pair order, as one process would sum them
        result = by_pair[i]
        if result is None:
            continue
        if names is None:
            names = result.names
        elif any((name, "low") not in result.at_end for name in names):  # not when it ran with the defaults
            result = _pair_sums(job, i, names)
            assert result is not None
        for variant, value in result.at_draw.items():
            sums[variant][("", "draw")] = sums[variant].get(("", "draw"), 0.0) + value
            counts[variant] += 1
        for name in names:
            for end in ("low", "high"):
                for variant, value in result.at_end[(name, end)].items():
                    sums[variant][(name, end)] = sums[variant].get((name, end), 0.0) + value
    out = {}
    for v in variants:
        name_v, n = v.applied.name, counts[v.applied.name]
        rows = []
        for name in names or []:
            if n == 0 or (name, "low") not in sums[name_v]:
                continue
            p = parameters[name]
            at_low, at_high = sums[name_v][(name, "low")] / n, sums[name_v][(name, "high")] / n
            rows.append(
                {
                    "parameter": name,
                    "low": p.low,
                    "high": p.high,
                    "value": p.value,
                    "at_low": at_low,
                    "at_high": at_high,
                    "at_draw": sums[name_v][("", "draw")] / n,
                    "swing": abs(at_high - at_low),
                    "pairs": n,
                }
            )
        frame = pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
        out[name_v] = frame.sort_values(["swing", "parameter"], ascending=[False, True], ignore_index=True)
    return out
