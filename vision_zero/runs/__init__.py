"""Stage 5 — runs.

A scenario prepared once (prepare, with its peak calibration), one replication end to end (pipeline),
replications with common random numbers, executors (process pool, Dask) and the result files.
"""

from vision_zero.runs.jobs import RunResult, ScenarioJob, scenario_job
from vision_zero.runs.parallel import Executor, make_executor
from vision_zero.runs.pipeline import run_replication
from vision_zero.runs.preparation import PreparedScenario, apply_scenario, prepare
from vision_zero.runs.replications import run_job, run_scenario
from vision_zero.runs.results import ReplicationResult, read_replication, write_replication

__all__ = [
    "Executor",
    "PreparedScenario",
    "ReplicationResult",
    "RunResult",
    "ScenarioJob",
    "apply_scenario",
    "make_executor",
    "prepare",
    "read_replication",
    "run_job",
    "run_replication",
    "run_scenario",
    "scenario_job",
    "write_replication",
]
