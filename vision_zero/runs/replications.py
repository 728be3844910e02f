"""The replication loop: run folders, manifest, resume, common random numbers, stopping at a target precision.

A :class:`~vision_zero.runs.jobs.ScenarioJob` says what to run: a picklable *payload* (the prepared scenario) and
a module-level *task* ``task(payload, replication, baseline_raw) -> ReplicationResult``. :func:`run_job` runs
replications of it on an :class:`~vision_zero.runs.parallel.Executor`, writes each one atomically into the run folder
as it finishes and skips the ones already there (resume), so rerunning an interrupted command finishes the work and
gives the same results as an uninterrupted run.

Common random numbers: the task derives all randomness from ``(seed, replication)`` through
:func:`vision_zero.core.seeding.replication_rngs`; this module only hands out indices. A variant's replication *i* is
calibrated with the baseline's replication *i* (``baseline_raw``: that replication's injuries table, raw column
``per_year_raw``; for the pipeline's task, the keyword ``baseline_draws``: its calibration factors per risk draw,
``risk_draws.parquet``), so a variant's run also makes sure the baseline's replications exist, running or resuming
them in the baseline's own run folder. Its drivers also start from the routes of the baseline's replication *i*
(``routes.parquet`` in the baseline's replication folder, passed as the keyword ``baseline_routes`` to a task that
shares traffic: :func:`vision_zero.runs.pipeline.run_replication`). Every replication a run needs, of every
scenario, goes to the executor in one :meth:`~vision_zero.runs.parallel.Executor.run_tasks`: a variant's
replication *i* starts as soon as the baseline's replication *i* is written, so the workers are not left idle
between scenarios (the tasks of a comparison's round are not run scenario after scenario).

Stopping: a fixed number of replications, or ``target_ci_pct``: keep adding replications until the 95% interval
of the paired KSI difference (baseline minus variant, per year) is narrower than ``target_ci_pct`` percent of its
mean, or ``max_replications`` is reached, or the target is out of reach (the interval still includes 0 and the
observed mean and spread say more than ``max_replications`` pairs would be needed). For a baseline on its own,
the interval of its KSI is used. :func:`vision_zero.runs.stopping.rounds_to_precision` is the one stopping rule;
:func:`run_job` applies it to one scenario, :func:`run_comparison` to every variant of a comparison at once (rounds
of pairs).

Run folder: ``<out>/<scenario>/<run-id>/`` (:mod:`vision_zero.runs.run_folders`; files laid out in
:mod:`vision_zero.runs.results`); the run-id is a hash of the scenario's content (its files by their content, not
their paths), the seed, the network fingerprint and the code fingerprint, so the same command with the same build
finds the same folder wherever the scenario lies, and a changed model or input file never reuses old results. After each run its ``replications.csv`` and ``run_summary.json``
(:mod:`vision_zero.runs.run_summary`) are rewritten.
"""

from __future__ import annotations

import contextlib
import heapq
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import pandas as pd

from vision_zero.core.errors import ConfigError
from vision_zero.core.files import make_process_folder, sweep_stale_process_folders
from vision_zero.core.intervals import Precision
from vision_zero.core.process import release_free_memory
from vision_zero.runs.jobs import ReplicationTask, RunResult, ScenarioJob, scenario_job, scenario_view
from vision_zero.runs.parallel import Executor
from vision_zero.runs.results import (
    LINK_EVENTS_FILE,
    ReplicationResult,
    atomic_write_text,
    lists_file,
    read_held_routes,
    read_link_times,
    read_replication_summary,
    read_risk_draws,
    replication_dir,
    scan_replications,
    write_replication,
)
from vision_zero.runs.run_folders import prepare_run_dir, scenario_run_dir
from vision_zero.runs.run_summary import run_warnings, write_run_summary
from vision_zero.runs.stopping import check_stopping_options, rounds_to_precision

if TYPE_CHECKING:
    from vision_zero.traffic.routing import HeldRoutes

__all__ = [
    "may_share_traffic",
    "run_comparison",
    "run_job",
    "run_scenario",
    "traffic_store_dir",
]

TRAFFIC_STORE_PREFIX = ".traffic-"  # result scans skip folders starting with a dot


@dataclass(frozen=True)
class _Bundle:
    """Task and prepared scenario, shipped once per worker (an object, so Dask does not rebuild it per task)."""

    task: ReplicationTask
    payload: Any
    traffic_store: Path | None = None
    #: the task takes traffic_store, baseline_routes and baseline_link_stats (ScenarioJob.shares_traffic)
    shares_traffic: bool = False
    #: pass ``link_events=True`` to the task (it keeps every vehicle's link entries and exits)
    link_events: bool = False


#: One replication's task: its index, and its baseline's injuries, routes, link times and risk draws (None: none
#: kept).
_Item = tuple[int, "pd.DataFrame | None", "HeldRoutes | None", "pd.DataFrame | None", "pd.DataFrame | None"]


def _call_task(bundle: _Bundle, item: _Item) -> ReplicationResult:
    """Executor entry point: ``bundle`` is shipped once per worker, ``item`` with each task.

    ``item``: the replication, its baseline's injuries, its baseline's routes, link times and risk draws
    (passed as the keywords ``baseline_routes`` / ``baseline_link_stats`` / ``baseline_draws`` when the baseline
    kept them: only the pipeline's task keeps and takes them).
    """
    replication, baseline_raw, baseline_routes, baseline_link_stats, baseline_draws = item
    extra: dict[str, Any] = {}
    if baseline_draws is not None and bundle.shares_traffic:
        extra["baseline_draws"] = baseline_draws
    if bundle.traffic_store is not None:
        extra["traffic_store"] = bundle.traffic_store
    if baseline_routes is not None and bundle.shares_traffic:
        extra["baseline_routes"] = baseline_routes
    if baseline_link_stats is not None and bundle.shares_traffic:
        extra["baseline_link_stats"] = baseline_link_stats
    if bundle.link_events:
        extra["link_events"] = True
    if extra:
        task: Any = bundle.task
        result: ReplicationResult = task(bundle.payload, replication, baseline_raw, **extra)
        return result
    return bundle.task(bundle.payload, replication, baseline_raw)


class _Progress:
    """One tqdm bar per scenario (silent when stderr is not a terminal, or when disabled)."""

    def __init__(self, enabled: bool, stream: TextIO | None) -> None:
        self.enabled = enabled
        self.stream = stream
        self.bars: dict[str, Any] = {}

    def bar(self, name: str, total: int, done: int) -> Any:
        from tqdm import tqdm

        bar = self.bars.get(name)
        if bar is None:
            bar = tqdm(
                total=total,
                initial=done,
                desc=name,
                unit="rep",
                file=self.stream or sys.stderr,
                disable=None if self.enabled else True,
                dynamic_ncols=True,
                leave=True,
            )
            self.bars[name] = bar
        elif total > bar.total:
            bar.total = total
            bar.refresh()
        return bar

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


class _Runner:
    """Runs jobs on one executor, sharing baseline folders and progress bars between them."""

    def __init__(
        self,
        out_dir: Path,
        executor: Executor,
        progress: _Progress,
        traffic_store: Path | None = None,
        link_events: Sequence[ScenarioJob] = (),
    ) -> None:
        self.out_dir = Path(out_dir)
        self.traffic_store = traffic_store
        #: the jobs whose replications keep their link events (not a baseline run only as its variant's partner)
        self.link_events = tuple(link_events)
        self.executor = executor
        self.progress = progress
        self.prepared: set[Path] = set()
        self.bundles: dict[int, tuple[ScenarioJob, _Bundle]] = {}
        self.verified: dict[Path, set[int]] = {}  # replications checked whole or written by this runner

    def bundle(self, job: ScenarioJob) -> _Bundle:
        """One bundle per job, so executors recognise a payload they have already shipped."""
        hit = self.bundles.get(id(job))
        if hit is None or hit[0] is not job:
            store = self.traffic_store if job.shares_traffic else None
            events = self.keeps_link_events(job)
            hit = (job, _Bundle(job.task, job.prepared(), store, job.shares_traffic, events))
            self.bundles[id(job)] = hit
        return hit[1]

    def keeps_link_events(self, job: ScenarioJob) -> bool:
        """Whether ``job``'s replications write ``link_events.parquet``."""
        return any(job is j for j in self.link_events)

    def run_dir(self, job: ScenarioJob) -> Path:
        run_dir = scenario_run_dir(self.out_dir, job)
        if run_dir not in self.prepared:
            prepare_run_dir(job, run_dir)
            self.prepared.add(run_dir)
        return run_dir

    def ensure(self, wanted: Sequence[tuple[ScenarioJob, int]]) -> list[int]:
        """Make replications 0 … n-1 of every ``(job, n)`` exist, and the baseline's a variant's pair with.

        Every missing replication of every job runs on the executor together, so the workers stay busy across
        scenarios: a variant's replication starts once the baseline replication it pairs with is written (it
        reads that one's injuries, routes and link times), the others at once; baselines' first, then each job's
        in ``wanted``'s order, lowest index first. Returns, per ``(job, n)``, how many of its replications
        0 … n-1 were already on disk (resumed).
        """
        plans = self._plans(wanted)
        order = sorted(plans.values(), key=lambda plan: _depth(plan.job))  # stable: wanted's order within
        queue = [(plan, i) for plan in order for i in plan.missing]
        unfinished = {plan.run_dir: set(plan.missing) for plan in order}
        # the queue's tasks by position: those that may start (a baseline's, or a variant's whose baseline
        # replication is on disk) in a heap, the others waiting under the baseline replication they read; take()
        # starts the first that may start in the queue's order, and a written replication frees its waiters
        ready: list[int] = []
        waiting: dict[tuple[Path, int], list[int]] = {}
        readers: Counter[tuple[Path, int]] = Counter()  # queued tasks per baseline replication they read
        for pos, (plan, i) in enumerate(queue):
            if plan.base_dir is None or i not in unfinished.get(plan.base_dir, ()):
                ready.append(pos)  # ascending, so a heap already
            else:
                waiting.setdefault((plan.base_dir, i), []).append(pos)
            if plan.base_dir is not None:
                readers[(plan.base_dir, i)] += 1
        taken: list[tuple[_Plan, int]] = []
        # a baseline replication's injuries, routes and link times, read once for all the variant tasks that pair
        # with it (~160 MB at full demand on the district): the tasks in flight share one copy, not one each
        items: dict[tuple[Path, int], _Item] = {}

        def take() -> tuple[_Bundle, _Item] | None:
            if not ready:
                return None
            plan, i = queue[heapq.heappop(ready)]
            taken.append((plan, i))
            if plan.base_dir is None:
                return self.bundle(plan.job), _item(None, i)
            key = (plan.base_dir, i)
            item = items.get(key) or _item(plan.base_dir, i)  # read lazily: only when a task of it may start
            readers[key] -= 1
            if readers[key]:
                items[key] = item
            else:  # its last task: the executor's reference is the only one left
                items.pop(key, None)
            return self.bundle(plan.job), item

        for pos, result in self.executor.run_tasks(_call_task, take):
            plan, i = taken[pos]
            _check_result(plan.job, result)
            write_replication(plan.run_dir, result, warnings=run_warnings(plan.job.name, [result.summary]))
            self.verified[plan.run_dir].add(result.replication)
            unfinished[plan.run_dir].discard(i)
            for waiter in waiting.pop((plan.run_dir, i), ()):
                heapq.heappush(ready, waiter)
            plan.bar.update(1)
            release_free_memory()  # what the replications written before this one left in the allocators
        return [n - sum(i < n for i in plans[self.run_dir(job)].missing) for job, n in wanted]

    def _plans(self, wanted: Sequence[tuple[ScenarioJob, int]]) -> dict[Path, _Plan]:
        """Per run folder, what :meth:`ensure` runs: ``wanted``, and the baselines' replications the variants need."""
        need: dict[Path, tuple[ScenarioJob, int]] = {}

        def want(job: ScenarioJob, n: int) -> Path:
            run_dir = self.run_dir(job)
            first, most = need.get(run_dir, (job, 0))  # the first job of a folder runs it (same content)
            need[run_dir] = (first, max(most, n))
            return run_dir

        for job, n in wanted:
            want(job, n)
        plans: dict[Path, _Plan] = {}
        for depth in range(max(_depth(job) for job, _n in need.values()), -1, -1):
            # variants before their baselines: a variant's missing replications are its baseline's to have
            for run_dir, (job, n) in list(need.items()):
                if _depth(job) == depth:
                    missing = self._missing(job, run_dir, n)
                    base_dir = None
                    if job.baseline is not None and missing:
                        base_dir = want(job.baseline, max(missing) + 1)
                    bar = self.progress.bar(job.name, n, n - len(missing))
                    plans[run_dir] = _Plan(job, run_dir, n, missing, base_dir, bar)
        return {run_dir: plans[run_dir] for run_dir in need}

    def _missing(self, job: ScenarioJob, run_dir: Path, n: int) -> list[int]:
        """Which of ``job``'s replications 0 … n-1 have to run (not on disk, damaged, or lacking link events)."""
        verified = self.verified.setdefault(run_dir, set())
        complete, damaged = scan_replications(run_dir, trusted=verified)
        verified.update(complete)
        for i, problem in sorted(damaged.items()):
            if i < n:
                print(
                    f"vision-zero: {job.name}: replication {i} is damaged ({problem}); running it again",
                    file=sys.stderr,
                )
        done = set(complete)
        if self.keeps_link_events(job):  # a replication run without --link-events is run again to write them
            lacking = sorted(
                i for i in done if i < n and not lists_file(replication_dir(run_dir, i), LINK_EVENTS_FILE)
            )
            if lacking:
                print(
                    f"vision-zero: {job.name}: replication(s) {', '.join(map(str, lacking))} have no "
                    f"{LINK_EVENTS_FILE}; running them again to write it (same results)",
                    file=sys.stderr,
                )
                done.difference_update(lacking)
        return [i for i in range(n) if i not in done]

    def load(self, job: ScenarioJob, n: int) -> list[dict[str, float]]:
        run_dir = self.run_dir(job)
        return [read_replication_summary(replication_dir(run_dir, i)) for i in range(n)]

    def summaries(self, job: ScenarioJob, key: str, n: int) -> np.ndarray:
        run_dir = self.run_dir(job)
        return np.array(
            [read_replication_summary(replication_dir(run_dir, i))[key] for i in range(n)], dtype=float
        )


@dataclass(frozen=True)
class _Plan:
    """One scenario's part of a :meth:`_Runner.ensure`: replications 0 … n-1 must exist, ``missing`` run."""

    job: ScenarioJob
    run_dir: Path
    n: int
    missing: list[int]
    #: the baseline's run folder, whose replication of the same index a variant's task reads (None: a baseline)
    base_dir: Path | None
    bar: Any


def _depth(job: ScenarioJob) -> int:
    """0 for a baseline, 1 for its variant (scenario files go no deeper)."""
    return 0 if job.baseline is None else 1 + _depth(job.baseline)


def _item(base_dir: Path | None, replication: int) -> _Item:
    """A task's item: the replication, and the injuries, routes, link times and risk draws of its baseline's."""
    if base_dir is None:
        return replication, None, None, None, None
    rep = replication_dir(base_dir, replication)
    injuries = pd.read_parquet(rep / "injuries.parquet")
    return replication, injuries, read_held_routes(rep), read_link_times(rep), read_risk_draws(rep)


def _check_result(job: ScenarioJob, result: ReplicationResult) -> None:
    if result.scenario != job.name or result.seed != job.seed:
        raise RuntimeError(
            f"task returned replication of {result.scenario!r} seed {result.seed}, expected {job.name!r} "
            f"seed {job.seed}"
        )


def run_job(
    job: ScenarioJob,
    *,
    out_dir: Path,
    executor: Executor,
    replications: int | None = None,
    target_ci_pct: float | None = None,
    max_replications: int = 200,
    progress: bool = True,
    progress_stream: TextIO | None = None,
    on_batch: Callable[[RunResult], None] | None = None,
    traffic_store: Path | None = None,
    link_events: bool = False,
) -> RunResult:
    """Run (or resume) the replications of ``job``; see the module docstring.

    Parameters
    ----------
    job
        The scenario to run; a variant carries its baseline.
    out_dir
        The results folder (``results/``).
    executor
        Where the replications run.
    replications
        How many replications (default: the scenario's own). With ``target_ci_pct``: the minimum.
    target_ci_pct
        Stop when the 95% interval of the KSI difference against the baseline (of KSI, for a baseline) is
        narrower than this percentage of its mean.
    max_replications
        The most replications a target-precision run may use.
    progress
        Show a progress bar per scenario (only when stderr is a terminal).
    progress_stream
        Where the bars go (default stderr).
    on_batch
        Called after every batch of a target-precision run with the results so far (for logging).
    traffic_store
        A folder where baseline replications leave their vehicle traffic for variants with the same traffic
        inputs (see :func:`traffic_store_dir`); default: for a variant that may re-use its baseline's traffic
        (:func:`may_share_traffic`), a temporary one for this call.
    link_events
        Each replication of ``job`` (not of its baseline) also writes ``link_events.parquet``, every vehicle's
        link entries and exits (:attr:`vision_zero.runs.results.ReplicationResult.link_events`); a replication
        already on disk without it is run again (its other files come out identical). The job's task must take
        the keyword ``link_events`` (the pipeline's does).

    Returns
    -------
    RunResult
    """
    check_stopping_options(replications, target_ci_pct, max_replications)
    if link_events and not job.shares_traffic:
        raise ConfigError(
            f"--link-events: {job.name}'s replications do not run the traffic pipeline (expected a job of "
            "vision_zero.runs.jobs.scenario_job), so they have no link events to write"
        )
    bars = _Progress(progress, progress_stream)
    with contextlib.ExitStack() as stack:
        if traffic_store is None and may_share_traffic(job):
            traffic_store = stack.enter_context(traffic_store_dir(Path(out_dir)))
        runner = _Runner(Path(out_dir), executor, bars, traffic_store, (job,) if link_events else ())
        return _run(runner, job, bars, replications, target_ci_pct, max_replications, on_batch)


def may_share_traffic(job: ScenarioJob) -> bool:
    """Whether a variant's replications may re-use its baseline's vehicle traffic (decides whether to store it).

    True when the job's task shares traffic and its intervened network has the baseline's links and nodes
    (central parameter values; e.g. crossing upgrades). Each replication still checks its own inputs
    (:func:`vision_zero.runs.pipeline.traffic_key`), so this only saves storing traffic nobody will read.
    """
    if not job.shares_traffic or job.baseline is None:
        return False
    net, base = scenario_view(job).network, scenario_view(job.baseline).network
    return bool(net.links.equals(base.links) and net.nodes.equals(base.nodes))


@contextlib.contextmanager
def traffic_store_dir(out_dir: Path) -> Iterator[Path]:
    """A temporary folder under ``out_dir`` where a comparison's baseline replications leave their vehicle traffic.

    Removed on exit; its name starts with ``.traffic-`` so result scans skip it, and carries the process id so the
    next comparison in ``out_dir`` removes one left behind by a killed process.
    """
    sweep_stale_process_folders(out_dir, TRAFFIC_STORE_PREFIX)
    path = make_process_folder(out_dir, TRAFFIC_STORE_PREFIX)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run(
    runner: _Runner,
    job: ScenarioJob,
    bars: _Progress,
    replications: int | None,
    target_ci_pct: float | None,
    max_replications: int,
    on_batch: Callable[[RunResult], None] | None,
) -> RunResult:
    try:
        if target_ci_pct is None:
            n = replications if replications is not None else job.replications
            (resumed,) = runner.ensure([(job, n)])
            return _result(runner, job, n, resumed, "replications")
        first: list[int] = []  # how many replications the first round found on disk

        def ensure(totals: Mapping[int, int]) -> None:
            (done,) = runner.ensure([(job, totals[0])])
            if not first:
                first.append(done)

        def batch(totals: Mapping[int, int], checked: Mapping[int, Precision]) -> None:
            if on_batch is not None:
                on_batch(_result(runner, job, totals[0], first[0], "target-ci", precision=checked[0]))

        (where,) = rounds_to_precision(
            1,
            start=replications or 0,
            target_ci_pct=target_ci_pct,
            max_replications=max_replications,
            ensure=ensure,
            values=lambda _i, n: _precision_values(runner, job, n),
            on_round=batch,
        )
        return _result(runner, job, where.n, first[0], where.stop_reason, precision=where)
    finally:
        bars.close()


def _precision_values(runner: _Runner, job: ScenarioJob, n: int) -> np.ndarray:
    """What a target precision is about: a variant's KSI avoided per pair, a baseline's KSI per replication."""
    if job.baseline is None:
        return runner.summaries(job, "ksi", n)
    avoided: np.ndarray = runner.summaries(job.baseline, "ksi", n) - runner.summaries(job, "ksi", n)
    return avoided


def run_comparison(
    baseline: ScenarioJob,
    variants: Sequence[ScenarioJob],
    *,
    out_dir: Path,
    executor: Executor,
    replications: int | None = None,
    target_ci_pct: float | None = None,
    max_replications: int = 200,
    progress: bool = True,
    progress_stream: TextIO | None = None,
    traffic_store: Path | None = None,
    link_events: bool = False,
) -> list[RunResult]:
    """Run (or resume) a baseline and its variants pair by pair, all the scenarios' replications together.

    A variant's replication starts once the baseline's it pairs with is written (same index: common random
    numbers; it starts from that one's routes), the others at once, so the workers stay busy across scenarios.
    Without ``target_ci_pct``: ``replications`` each (default: the most any of the jobs asks for). With it: rounds
    of pairs (:func:`rounds_to_precision`, starting at ``replications``): every variant still running gets the
    pairs its own observed spread needs (its baseline's replications of the same indices too) and stops when its KSI
    avoided is within ``target_ci_pct`` (full width, percent of the mean) or out of reach; the baseline has as many
    replications as its longest variant. Each variant's :class:`RunResult` carries its :class:`~vision_zero.core.intervals.Precision` in
    ``extra["precision"]``; replications already in ``out_dir`` are reused. Returns the baseline's run, then the
    variants' in order.
    """
    check_stopping_options(replications, target_ci_pct, max_replications)
    jobs = [baseline, *variants]
    if link_events and not all(j.shares_traffic for j in jobs):
        raise ConfigError("--link-events: every scenario's replications must run the traffic pipeline")
    bars = _Progress(progress, progress_stream)
    runner = _Runner(Path(out_dir), executor, bars, traffic_store, jobs if link_events else ())
    try:
        if target_ci_pct is None:
            n = replications or max(j.replications for j in jobs)
            done = runner.ensure([(j, n) for j in jobs])
            return [_result(runner, j, n, d, "replications") for j, d in zip(jobs, done, strict=True)]
        resumed: dict[int, int] = {}

        def ensure(totals: Mapping[int, int]) -> None:
            # the compared baseline each round, as many as its longest running variant (a variant calibrated against
            # another scenario does not ensure it), and every running variant's own new pairs: all of the round's
            # replications on the executor together
            done = runner.ensure(
                [(baseline, max(totals.values())), *((variants[i], n) for i, n in totals.items())]
            )
            for k, d in zip([0, *(i + 1 for i in totals)], done, strict=True):
                resumed.setdefault(k, d)

        where = rounds_to_precision(
            len(variants),
            start=replications or 0,
            target_ci_pct=target_ci_pct,
            max_replications=max_replications,
            ensure=ensure,
            values=lambda i, n: _precision_values(runner, variants[i], n),
        )
        runs = [
            _result(runner, baseline, max((w.n for w in where), default=0), resumed.get(0, 0), "replications")
        ]
        for i, (job, w) in enumerate(zip(variants, where, strict=True)):
            runs.append(_result(runner, job, w.n, resumed.get(i + 1, 0), w.stop_reason, precision=w))
        return runs
    finally:
        bars.close()


def _result(
    runner: _Runner,
    job: ScenarioJob,
    n: int,
    resumed: int,
    reason: str,
    *,
    precision: Precision | None = None,
) -> RunResult:
    baseline = None
    if job.baseline is not None:
        baseline = RunResult(job.baseline, runner.run_dir(job.baseline), runner.load(job.baseline, n))
    extra: dict[str, Any] = {}
    if precision is not None:
        extra = {"ci_width_pct": precision.width_pct, "precision": precision}
    run = RunResult(job, runner.run_dir(job), runner.load(job, n), baseline, resumed, reason, extra)
    atomic_write_text(run.run_dir / "replications.csv", run.to_frame().to_csv(index=False))
    write_run_summary(run)
    return run


def run_scenario(
    path: Path | str,
    *,
    replications: int | None = None,
    out_dir: Path | str = Path("results"),
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> RunResult:
    """Run (or resume) one scenario file's replications on a local process pool: the notebook's ``run``.

    The same as ``vision-zero run PATH``; see :func:`run_job` for what is written and resumed.
    """
    from vision_zero.runs.parallel import make_executor

    job = scenario_job(path, seed=seed, overrides=overrides)
    with make_executor(workers=workers) as executor:
        return run_job(
            job, out_dir=Path(out_dir), executor=executor, replications=replications, progress=progress
        )
