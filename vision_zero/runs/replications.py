"""The replication loop: run folders, manifest, resume, common random numbers, stopping at a target precision.

A :class:`ScenarioJob` says what to run: a picklable *payload* (the prepared scenario) and a module-level *task*
``task(payload, replication, baseline_raw) -> ReplicationResult``. :func:`run_job` runs replications of it on an
:class:`~vision_zero.runs.parallel.Executor`, writes each one atomically into the run folder as it finishes and skips
the ones already there (resume), so rerunning an interrupted command finishes the work and gives the same
results as an uninterrupted run.

Common random numbers: the task derives all randomness from ``(seed, replication)`` through
:func:`vision_zero.core.seeding.replication_rngs`; this module only hands out indices. A variant's replication *i* is
calibrated with the baseline's replication *i* (``baseline_raw``: that replication's injuries table, raw column
``per_year_raw``), so a variant's run also makes sure the baseline's replications exist, running or resuming
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
the interval of its KSI is used. :func:`rounds_to_precision` is the one stopping rule; :func:`run_job` applies it
to one scenario, :func:`run_comparison` to every variant of a comparison at once (rounds of pairs).

Run folder: ``<out>/<scenario>/<run-id>/`` (layout in :mod:`vision_zero.runs.results`); the run-id is a hash of the
resolved scenario, the seed, the network fingerprint and the code fingerprint, so the same command with the
same build finds the same folder, and a changed model never reuses old results.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import heapq
import json
import math
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import pandas as pd

from vision_zero.core.errors import ConfigError, DataError, ScenarioError, VisionZeroError
from vision_zero.core.files import make_process_folder, sweep_stale_process_folders
from vision_zero.core.formatting import precision_line
from vision_zero.core.i18n import text
from vision_zero.core.intervals import (
    MIN_REPLICATIONS_FOR_CI,
    Interval,
    Precision,
    interval,
    mean_interval,
    precision,
)
from vision_zero.core.process import release_free_memory
from vision_zero.core.version import __version__
from vision_zero.network.road_network import RoadNetwork, load_network, network_fingerprint
from vision_zero.program.scenario import Scenario, load_scenario
from vision_zero.runs.parallel import Executor
from vision_zero.runs.pipeline import (
    AppliedScenario,
    PreparedScenario,
    apply_scenario,
    prepare,
    run_replication,
)
from vision_zero.runs.results import (
    LINK_EVENTS_FILE,
    ReplicationResult,
    atomic_write_text,
    lists_file,
    read_held_routes,
    read_link_times,
    read_replication,
    read_replication_summary,
    replication_dir,
    safe_file_name,
    scan_replications,
    write_replication,
)

if TYPE_CHECKING:
    from vision_zero.traffic.routing import HeldRoutes

__all__ = [
    "MIN_REPLICATIONS_FOR_CI",
    "RUN_SUMMARY_FILE",
    "DeferredPayload",
    "NetworkInfo",
    "Precision",
    "RunResult",
    "ScenarioJob",
    "arrival_warning",
    "calibration_spread_warning",
    "calibration_warning",
    "calibration_warnings",
    "check_stopping_options",
    "format_peak_calibration",
    "format_summary",
    "format_traffic",
    "may_share_traffic",
    "mean_interval",
    "rounds_to_precision",
    "run_comparison",
    "run_id",
    "run_job",
    "run_scenario",
    "run_warnings",
    "scenario_job",
    "scenario_run_dir",
    "scenario_view",
    "traffic_store_dir",
    "write_run_summary",
]

TRAFFIC_STORE_PREFIX = ".traffic-"  # result scans skip folders starting with a dot

#: Summary keys printed by :func:`format_summary`: (key, label).
_HEADLINE: tuple[tuple[str, str], ...] = (("fatal", "deaths"), ("serious", "serious"), ("slight", "slight"))

#: ``task(payload, replication, baseline_raw) -> ReplicationResult``; must be a module-level function.
ReplicationTask = Callable[[Any, int, "pd.DataFrame | None"], ReplicationResult]


@dataclass(frozen=True)
class NetworkInfo:
    """What the manifest says about the network a scenario ran on."""

    source: str
    fingerprint: str
    schematic: bool
    label: str


class DeferredPayload:
    """A payload built on first use: a run whose replications are all on disk never builds it.

    ``make`` is called at most once; :meth:`get` returns its value. Pickling ships the built value.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make: Callable[[], Any] | None = make
        self._value: Any = None

    @property
    def ready(self) -> bool:
        """Whether the payload has been built."""
        return self._make is None

    def get(self) -> Any:
        """The payload (built now if it was not yet)."""
        if self._make is not None:
            self._value = self._make()
            self._make = None
        return self._value

    def __getstate__(self) -> dict[str, Any]:
        return {"_make": None, "_value": self.get()}


@dataclass(frozen=True)
class ScenarioJob:
    """One scenario, ready to run.

    Attributes
    ----------
    name
        Scenario name (the folder under the output directory).
    scenario_toml
        The resolved scenario (``extends`` applied) as TOML text; written to ``scenario.toml``.
    seed
        Base seed of the run.
    replications
        The scenario's own number of replications (used when the caller gives none).
    payload
        Picklable prepared scenario handed to ``task`` (shipped once per worker), or a
        :class:`DeferredPayload` that builds it when a replication has to run.
    task
        Module-level function ``task(payload, replication, baseline_raw) -> ReplicationResult``.
    network
        Network source, fingerprint and schematic flag for the manifest.
    baseline
        The baseline's job for a variant, ``None`` for a baseline.
    shares_traffic
        ``task`` takes a keyword ``traffic_store`` (a folder): a baseline replication leaves its vehicle traffic
        there and a variant replication with the same traffic inputs re-uses it
        (:func:`vision_zero.runs.pipeline.run_replication`); and the keywords ``baseline_routes`` and
        ``baseline_link_stats`` (the baseline replication's routes and link times, when its folder keeps them).
    """

    name: str
    scenario_toml: str
    seed: int
    replications: int
    payload: Any
    task: ReplicationTask
    network: NetworkInfo
    baseline: ScenarioJob | None = None
    shares_traffic: bool = False

    @property
    def is_baseline(self) -> bool:
        """True when the scenario is its own baseline (calibrated on itself)."""
        return self.baseline is None

    def prepared(self) -> Any:
        """The payload, built now if it is a :class:`DeferredPayload` not built yet."""
        return self.payload.get() if isinstance(self.payload, DeferredPayload) else self.payload


@dataclass
class RunResult:
    """The replications of one scenario, as run (or resumed) by :func:`run_job`.

    Only the headline numbers are held in memory (:attr:`summaries`); the tables of a replication are read
    from the run folder on demand (:meth:`read`, :attr:`results`), so a long run does not fill the memory.

    Attributes
    ----------
    job
        What was run.
    run_dir
        The run folder.
    summaries
        ``ReplicationResult.summary`` of replications 0 … n-1, in index order.
    baseline
        The baseline's run (same indices) for a variant, else ``None``.
    resumed
        How many replications were already on disk.
    stop_reason
        ``"replications"`` (the number asked for), ``"target-ci"`` (precision reached),
        ``"max-replications"`` (target not reached within the maximum) or ``"out-of-reach"`` (the change is not
        told apart from 0 and would need more than the maximum: :class:`~vision_zero.core.intervals.Precision`).
    extra
        For a target-precision run: ``ci_width_pct``, the final interval width in percent of the mean, and
        ``precision``, the :class:`~vision_zero.core.intervals.Precision` it stopped at.
    """

    job: ScenarioJob
    run_dir: Path
    summaries: list[dict[str, float]]
    baseline: RunResult | None = None
    resumed: int = 0
    stop_reason: str = "replications"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of replications."""
        return len(self.summaries)

    def read(self, replication: int) -> ReplicationResult:
        """Replication ``replication`` with its tables, read from the run folder."""
        return read_replication(replication_dir(self.run_dir, replication))

    @property
    def results(self) -> list[ReplicationResult]:
        """Every replication with its tables (reads them all from disk)."""
        return [self.read(i) for i in range(self.n)]

    def values(self, key: str) -> np.ndarray:
        """``summary[key]`` of every replication, in index order."""
        return np.array([s[key] for s in self.summaries], dtype=float)

    def differences(self, key: str) -> np.ndarray:
        """Paired baseline-minus-variant ``summary[key]`` per replication (CRN pairs); needs a baseline."""
        if self.baseline is None:
            raise ValueError(f"{self.job.name} is a baseline: no differences")
        diff: np.ndarray = self.baseline.values(key)[: self.n] - self.values(key)
        return diff

    def to_frame(self) -> pd.DataFrame:
        """One row per replication with its headline numbers."""
        return pd.DataFrame([{"replication": i, **s} for i, s in enumerate(self.summaries)])


# --- statistics -------------------------------------------------------------------------------------------------


def _next_total(n: int, rel_pct: float, target_ci_pct: float, *, maximum: int) -> int:
    """How many replications to have next: the square-root-law estimate, at least one more, at most double.

    Depends only on the results so far (not on the executor), so a target-precision run stops at the same
    number of replications wherever it runs.
    """
    if math.isfinite(rel_pct) and rel_pct > 0:
        needed = math.ceil(n * (rel_pct / target_ci_pct) ** 2)
    else:
        needed = 2 * n
    return min(maximum, min(max(needed, n + 1), 2 * n))


def check_stopping_options(
    replications: int | None, target_ci_pct: float | None, max_replications: int
) -> None:
    """Raise :class:`ConfigError` naming the option: ``--replications``, ``--target-ci``, ``--max-replications``."""
    if replications is not None and replications < 1:
        raise ConfigError(f"--replications: expected an integer >= 1 (got {replications})")
    if target_ci_pct is not None and not (0 < target_ci_pct < 1000):
        raise ConfigError(f"--target-ci: expected a percentage > 0 and < 1000 (got {target_ci_pct})")
    if max_replications < 1:
        raise ConfigError(f"--max-replications: expected an integer >= 1 (got {max_replications})")


def rounds_to_precision(
    series: int,
    *,
    start: int,
    target_ci_pct: float,
    max_replications: int,
    ensure: Callable[[Sequence[int], int], None],
    values: Callable[[int, int], np.ndarray],
    on_round: Callable[[int, Mapping[int, Precision]], None] | None = None,
) -> list[Precision]:
    """Add replications in rounds until each of ``series`` series is precise enough: the one stopping rule.

    Round 1 has ``max(MIN_REPLICATIONS_FOR_CI, start)`` replications (at most ``max_replications``); after each
    round every series still running is checked (:func:`precision`) and stops when it reached ``target_ci_pct``
    or is out of reach; the others go on together to the next total, the largest :func:`_next_total` among them
    (the square-root law, at least one more, at most double, at most ``max_replications``). Depends only on the
    values, so the same results stop at the same count on any executor.

    Parameters
    ----------
    series
        How many series (0 … series-1).
    ensure
        ``ensure(running, n)``: make replications 0 … n-1 of the series in ``running`` exist.
    values
        ``values(i, n)``: the n values of series i whose mean must be precise.
    on_round
        Called after each round with the total and the precision of every series checked in it.

    Returns
    -------
    list[Precision]
        Per series, where it stopped.
    """
    n = min(max(MIN_REPLICATIONS_FOR_CI, start), max_replications)
    running = list(range(series))
    status: dict[int, Precision] = {}
    while running:
        ensure(running, n)
        checked = {i: precision(values(i, n), target_ci_pct, max_replications) for i in running}
        status.update(checked)
        if on_round is not None:
            on_round(n, checked)
        running = [i for i in running if not (checked[i].reached or checked[i].out_of_reach)]
        if not running or n >= max_replications:
            break
        n = max(
            _next_total(n, checked[i].width_pct, target_ci_pct, maximum=max_replications) for i in running
        )
    return [status[i] for i in range(series)]


# --- run folders ----------------------------------------------------------------------------------------------


def run_id(job: ScenarioJob) -> str:
    """Deterministic id of a run: hash of the resolved scenario, the seed, the network and the code.

    The code fingerprint is part of the id so that results computed by an older build of the model are never
    resumed into, or silently reused by, a newer one: a changed model gets a new run folder.
    """
    h = hashlib.sha256()
    for part in (job.scenario_toml, str(job.seed), job.network.fingerprint, code_fingerprint()):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return f"seed{job.seed}-{h.hexdigest()[:12]}"


def scenario_run_dir(out_dir: Path, job: ScenarioJob) -> Path:
    """``<out_dir>/<scenario>/<run-id>``."""
    return Path(out_dir) / safe_file_name(job.name) / run_id(job)


@functools.cache
def code_fingerprint() -> str:
    """Hash of the package's source and data files: tells apart two builds that share a version number."""
    root = Path(__file__).resolve().parents[1]  # the vision_zero package
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".toml", ".csv", ".json"):
            h.update(path.relative_to(root).as_posix().encode("utf-8"))
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _manifest(job: ScenarioJob, run_dir: Path) -> dict[str, Any]:
    return {
        "scenario": job.name,
        "run_id": run_dir.name,
        "package": "vision-zero",
        "version": __version__,
        "code_fingerprint": code_fingerprint(),
        "seed": job.seed,
        "network": {
            "source": job.network.source,
            "fingerprint": job.network.fingerprint,
            "schematic": job.network.schematic,
            "label": job.network.label,
        },
        "schematic": job.network.schematic,
        "baseline": None if job.baseline is None else job.baseline.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _prepare_run_dir(job: ScenarioJob, run_dir: Path) -> None:
    """Create the run folder with its scenario and manifest, or check an existing one belongs to this job."""
    manifest_path = run_dir / "manifest.json"
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{manifest_path}: expected a JSON manifest ({exc})") from exc
        if (
            old.get("seed") != job.seed
            or old.get("network", {}).get("fingerprint") != job.network.fingerprint
        ):
            raise DataError(
                f"{manifest_path}: this folder belongs to a different run (seed {old.get('seed')}, network "
                f"{old.get('network', {}).get('fingerprint')}); expected seed {job.seed}, network "
                f"{job.network.fingerprint}. Remove the folder or choose another --out"
            )
        if old.get("version") != __version__:
            raise DataError(
                f"{manifest_path}: version: expected a run folder written by vision-zero {__version__} (got "
                f"{old.get('version')}); resuming would mix replications of two versions. Remove the folder or "
                "choose another --out"
            )
    else:
        atomic_write_text(run_dir / "scenario.toml", job.scenario_toml)
        atomic_write_text(manifest_path, json.dumps(_manifest(job, run_dir), indent=2, sort_keys=True) + "\n")
    _remove_stale_temporaries(run_dir)


def _remove_stale_temporaries(run_dir: Path, *, older_than_s: float = 600.0) -> None:
    """Delete half-written replication folders an interrupted run left behind (hidden ``.rep-…``)."""
    root = run_dir / "replications"
    if not root.is_dir():
        return
    now = time.time()
    for entry in root.iterdir():
        if entry.name.startswith(".rep-") and now - entry.stat().st_mtime > older_than_s:
            shutil.rmtree(entry, ignore_errors=True)


# --- the loop ---------------------------------------------------------------------------------------------------


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


#: One replication's task: its index, and its baseline's injuries, routes and link times (None: none kept).
_Item = tuple[int, "pd.DataFrame | None", "HeldRoutes | None", "pd.DataFrame | None"]


def _call_task(bundle: _Bundle, item: _Item) -> ReplicationResult:
    """Executor entry point: ``bundle`` is shipped once per worker, ``item`` with each task.

    ``item``: the replication, its baseline's injuries, its baseline's routes and its baseline's link times
    (passed as the keywords ``baseline_routes`` / ``baseline_link_stats`` when the baseline kept them: only the
    pipeline's task keeps and takes them).
    """
    replication, baseline_raw, baseline_routes, baseline_link_stats = item
    extra: dict[str, Any] = {}
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
            _prepare_run_dir(job, run_dir)
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
    """A task's item: the replication, and the injuries, routes and link times of its baseline's (a variant)."""
    if base_dir is None:
        return replication, None, None, None
    rep = replication_dir(base_dir, replication)
    return replication, pd.read_parquet(rep / "injuries.parquet"), read_held_routes(rep), read_link_times(rep)


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
            "vision_zero.runs.replications.scenario_job), so they have no link events to write"
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

        def ensure(_running: Sequence[int], n: int) -> None:
            (done,) = runner.ensure([(job, n)])
            if not first:
                first.append(done)

        def batch(n: int, checked: Mapping[int, Precision]) -> None:
            if on_batch is not None:
                on_batch(_result(runner, job, n, first[0], "target-ci", precision=checked[0]))

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
    round's pairs (its baseline's replications of the same indices too) and stops when its KSI
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

        def ensure(running: Sequence[int], n: int) -> None:
            # the compared baseline each round (a variant calibrated against another scenario does not ensure it),
            # and every running variant's new pairs: all of the round's replications on the executor together
            done = runner.ensure([(baseline, n), *((variants[i], n) for i in running)])
            for k, d in zip([0, *(i + 1 for i in running)], done, strict=True):
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


# --- the terminal summary -----------------------------------------------------------------------------------------


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
        "band": "with every driver inside his indifference band",
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
    :class:`~vision_zero.runs.pipeline.PeakCalibration` (the same in every replication); None without them (no
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

    The calibration (:func:`vision_zero.runs.pipeline.calibrate_peak`) meets its target with the central traffic
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


# --- scenario files → jobs (the real pipeline) ----------------------------------------------------------------


def _pipeline_task(
    prepared: PreparedScenario,
    replication: int,
    baseline_raw: pd.DataFrame | None,
    *,
    traffic_store: Path | None = None,
    baseline_routes: HeldRoutes | None = None,
    baseline_link_stats: pd.DataFrame | None = None,
    link_events: bool = False,
) -> ReplicationResult:
    """The real replication task: :func:`vision_zero.runs.pipeline.run_replication`."""
    return run_replication(
        prepared,
        replication,
        baseline_raw=baseline_raw,
        traffic_store=traffic_store,
        baseline_routes=baseline_routes,
        baseline_link_stats=baseline_link_stats,
        link_events=link_events,
    )


def _is_scenario_setting(key: str) -> bool:
    """Overrides of settings apply to a variant's baseline too (CRN pairs must share demand, periods …)."""
    return not key.startswith(("interventions", "name", "description", "extends", "baseline"))


class _PreparedLater(DeferredPayload):
    """A scenario prepared (:func:`vision_zero.runs.pipeline.prepare`) on first use; :meth:`applied` is cheaper."""

    def __init__(self, scenario: Scenario, network: RoadNetwork) -> None:
        super().__init__(self._prepare)
        self._scenario = scenario
        self._network = network
        self._applied: AppliedScenario | None = None

    def applied(self) -> AppliedScenario:
        """The scenario's interventions applied (:func:`~vision_zero.runs.pipeline.apply_scenario`), once."""
        if self.ready:
            prepared: PreparedScenario = self.get()
            return prepared.applied
        if self._applied is None:
            self._applied = apply_scenario(self._scenario, network=self._network)
        return self._applied

    def _prepare(self) -> PreparedScenario:
        return prepare(self._scenario, network=self._network, applied=self._applied)


def scenario_view(job: ScenarioJob) -> AppliedScenario:
    """What the outputs need of a job's scenario: name, intervened network, costs, parameters, scenario.

    The prepared scenario when it is built (or the job was not lazy); otherwise only the interventions applied
    to the network (:class:`vision_zero.runs.pipeline.AppliedScenario`), which costs no demand or routing.
    """
    if isinstance(job.payload, _PreparedLater):
        return job.payload.applied()
    prepared = job.prepared()
    if not isinstance(prepared, PreparedScenario):
        raise TypeError(f"{job.name}: the job's payload is no prepared scenario ({type(prepared).__name__})")
    return prepared.applied


def scenario_job(
    path: Path | str,
    *,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    networks: dict[str, RoadNetwork] | None = None,
    jobs: dict[tuple[str, ...], ScenarioJob] | None = None,
    lazy: bool = False,
) -> ScenarioJob:
    """Load, validate and prepare a scenario file (and its baseline, for a variant) as a :class:`ScenarioJob`.

    Parameters
    ----------
    path
        The scenario file.
    seed
        Replaces the scenario's ``simulation.seed`` (its baseline runs with the same seed: CRN pairs).
    overrides
        Key path -> value (as :func:`vision_zero.program.scenario.load_scenario` takes them). Settings apply to the
        baseline as well; ``interventions…`` overrides only to this scenario.
    networks
        Networks already loaded, by source (filled as networks are loaded; share it between calls so that
        a baseline and its variants load their network once).
    jobs
        Jobs already made, keyed by resolved file, resolved scenario and seed (filled as jobs are made; share
        it between calls so that a baseline shared by several variants is prepared once).
    lazy
        Prepare the scenario only when a replication has to run (the payload is a :class:`DeferredPayload`;
        see :func:`scenario_view` for what is available without preparing).

    Raises
    ------
    ScenarioError
        From validation or from preparing the scenario (selectors that match nothing …). With ``lazy``,
        preparation errors other than the network's surface when the payload is built.
    """
    cache: dict[str, RoadNetwork] = {} if networks is None else networks
    made: dict[tuple[str, ...], ScenarioJob] = {} if jobs is None else jobs
    ov = dict(overrides or {})
    scenario = load_scenario(path, overrides=ov or None)
    if seed is not None and seed != scenario.simulation.seed:
        ov["simulation.seed"] = seed
        scenario = load_scenario(path, overrides=ov)
    key = (
        str(Path(path).resolve()),
        scenario.resolved_toml(),
        str(scenario.simulation.seed),
        "lazy" if lazy else "eager",
    )
    hit = made.get(key)
    if hit is not None:
        return hit
    source = scenario.network.cache_key
    if source not in cache:
        try:
            cache[source] = load_network(scenario.network.source, country=scenario.network.country)
        except VisionZeroError as exc:
            raise ScenarioError(str(scenario.path), "network.source", f"a loadable network ({exc})") from None
    base_network = cache[source]
    payload: _PreparedLater | PreparedScenario = (
        _PreparedLater(scenario, base_network) if lazy else prepare(scenario, network=base_network)
    )
    info = NetworkInfo(
        source=str(base_network.source),
        fingerprint=network_fingerprint(base_network),
        schematic=bool(base_network.schematic),
        label=str(base_network.label),
    )
    baseline = None
    if not scenario.is_baseline:
        base_ov = {k: v for k, v in ov.items() if _is_scenario_setting(k)}
        baseline = scenario_job(
            scenario.baseline_path,
            seed=scenario.simulation.seed,
            overrides=base_ov,
            networks=cache,
            jobs=made,
            lazy=lazy,
        )
        if not baseline.is_baseline:
            raise ConfigError(
                f"{scenario.path}: baseline: expected a baseline scenario (no extends or baseline key), got "
                f"{scenario.baseline_path}, which itself has a baseline"
            )
    job = ScenarioJob(
        name=scenario.name,
        scenario_toml=scenario.resolved_toml(),
        seed=scenario.simulation.seed,
        replications=scenario.simulation.replications,
        payload=payload,
        task=_pipeline_task,
        network=info,
        baseline=baseline,
        shares_traffic=True,
    )
    made[key] = job
    return job


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
