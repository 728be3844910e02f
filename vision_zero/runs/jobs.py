"""What to run and what a run gave: :class:`ScenarioJob` (from a scenario file: :func:`scenario_job`) and :class:`RunResult`.

A :class:`ScenarioJob` says what to run: a picklable *payload* (the prepared scenario) and a module-level *task*
``task(payload, replication, baseline_raw) -> ReplicationResult``; :func:`vision_zero.runs.replications.run_job` runs
its replications and returns a :class:`RunResult`. :func:`scenario_job` makes the job of a scenario file (and of its
baseline, for a variant) whose task is the real pipeline (:func:`vision_zero.runs.pipeline.run_replication`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vision_zero.core.errors import ConfigError, ScenarioError, VisionZeroError
from vision_zero.network.road_network import RoadNetwork, load_network, network_fingerprint
from vision_zero.program.scenario import Scenario, load_scenario
from vision_zero.runs.pipeline import run_replication
from vision_zero.runs.preparation import AppliedScenario, PreparedScenario, apply_scenario, prepare
from vision_zero.runs.results import ReplicationResult, read_replication, replication_dir

if TYPE_CHECKING:
    from vision_zero.traffic.routing import HeldRoutes

__all__ = [
    "DeferredPayload",
    "NetworkInfo",
    "ReplicationTask",
    "RunResult",
    "ScenarioJob",
    "scenario_job",
    "scenario_view",
]

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
        The resolved scenario (``extends`` applied, paths absolute) as TOML text; written to ``scenario.toml``.
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
        (:func:`vision_zero.runs.pipeline.run_replication`); and the keywords ``baseline_routes``,
        ``baseline_link_stats`` and ``baseline_draws`` (the baseline replication's routes, link times and per-draw
        calibration factors, when its folder keeps them).
    content
        What the run-id hashes of the scenario: the resolved scenario without file paths, each file it names
        replaced by a digest of its content (:meth:`vision_zero.program.scenario.Scenario.content_toml`);
        ``None``: ``scenario_toml`` (a job not made from a scenario file, whose text names no files).
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
    content: str | None = None

    @property
    def is_baseline(self) -> bool:
        """True when the scenario is its own baseline (calibrated on itself)."""
        return self.baseline is None

    def prepared(self) -> Any:
        """The payload, built now if it is a :class:`DeferredPayload` not built yet."""
        return self.payload.get() if isinstance(self.payload, DeferredPayload) else self.payload


@dataclass
class RunResult:
    """The replications of one scenario, as run (or resumed) by :func:`~vision_zero.runs.replications.run_job`.

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
    baseline_draws: pd.DataFrame | None = None,
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
        baseline_draws=baseline_draws,
    )


def _is_scenario_setting(key: str) -> bool:
    """Overrides of settings apply to a variant's baseline too (CRN pairs must share demand, periods …)."""
    return not key.startswith(("interventions", "name", "description", "extends", "baseline"))


class _PreparedLater(DeferredPayload):
    """A scenario prepared (:func:`vision_zero.runs.preparation.prepare`) on first use; :meth:`applied` is cheaper."""

    def __init__(self, scenario: Scenario, network: RoadNetwork) -> None:
        super().__init__(self._prepare)
        self._scenario = scenario
        self._network = network
        self._applied: AppliedScenario | None = None

    def applied(self) -> AppliedScenario:
        """The scenario's interventions applied (:func:`~vision_zero.runs.preparation.apply_scenario`), once."""
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
    to the network (:class:`vision_zero.runs.preparation.AppliedScenario`), which costs no demand or routing.
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
        content=scenario.content_toml(),
    )
    made[key] = job
    return job
