from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import dask.config
import dask.utils
import pandas as pd
import pytest
from _replication_task import CallLog, count_calls, kill_self, tagged, toy_job
from _scenarios import write_scenarios

from vision_zero.core.errors import ConfigError
from vision_zero.runs.jobs import scenario_job
from vision_zero.runs.parallel import (
    DaskExecutor,
    Executor,
    ExecutorError,
    LocalPoolExecutor,
    SerialExecutor,
    make_executor,
)
from vision_zero.runs.replications import run_job
from vision_zero.runs.results import completed_replications

_AMM = "distributed.scheduler.active-memory-manager"


@pytest.fixture(scope="module")
def pool() -> Iterator[LocalPoolExecutor]:
    with LocalPoolExecutor(workers=2) as ex:
        yield ex


@pytest.fixture(scope="module")
def dask_local() -> Iterator[DaskExecutor]:
    # A real LocalCluster: 2 worker processes, 1 thread each.
    with DaskExecutor("local", workers=2) as ex:
        yield ex


def _shipped_once(ex: Executor, n_tasks: int, *, rounds: int = 1, pause_s: float = 0.0) -> None:
    """``rounds`` maps of ``n_tasks`` over one payload: exactly one copy of it in each worker process."""
    payload = CallLog()
    out: list[tuple[int, str, int]] = []
    for round_ in range(rounds):
        if round_:
            time.sleep(pause_s)
        done = list(ex.map_unordered(count_calls, payload, list(range(n_tasks))))
        assert sorted(pos for pos, _ in done) == list(range(n_tasks))
        assert sorted(item for _, (_, item, _, _) in done) == list(range(n_tasks))
        out += [(pid, copy, calls) for _, (pid, _, copy, calls) in done]
    copies_by_pid: dict[int, set[str]] = defaultdict(set)
    calls_by_copy: dict[str, list[int]] = defaultdict(list)
    for pid, copy, calls in out:
        copies_by_pid[pid].add(copy)
        calls_by_copy[copy].append(calls)
    # Every unpickled copy has its own id (CallLog.__setstate__): one per worker process, whatever the rounds;
    # shipped per task, there would be one per task. A copy's calls are 1, 2, …, k, gaps tolerated (a
    # scheduler may rerun a task whose result it lost).
    assert {pid: len(c) for pid, c in copies_by_pid.items()} == dict.fromkeys(copies_by_pid, 1), (
        f"{len(calls_by_copy)} payload copies in {len(copies_by_pid)} worker(s) for {rounds} x {n_tasks} tasks"
    )
    assert max(len(c) for c in calls_by_copy.values()) >= 2
    assert all(len(set(c)) == len(c) for c in calls_by_copy.values())


def test_serial_keeps_one_payload() -> None:
    _shipped_once(SerialExecutor(), 5)


@pytest.mark.slow
def test_pool_ships_payload_once_per_worker(pool: LocalPoolExecutor) -> None:
    _shipped_once(pool, 12)
    assert len(pool.worker_pids()) == 2


@pytest.mark.slow
def test_dask_by_scheduler_address(dask_local: DaskExecutor) -> None:
    address = dask_local.client.scheduler.address  # as a user would pass --dask tcp://host:port
    assert address.startswith("tcp://")
    with DaskExecutor(address) as remote:
        assert remote.workers == 2
        assert "tcp://" in remote.describe()
        _shipped_once(remote, 6)


def test_dask_ships_payload_once_per_worker(dask_local: DaskExecutor) -> None:
    assert dask_local.workers == 2
    # A pause longer than the Active Memory Manager's cycle between two maps over the same payload: with the
    # manager on (Dask's default), its ReduceReplicas policy drops one worker's replica while no task waits,
    # and that worker fetches a second copy in the next map (the CI flake "5 payload copies for 12 tasks").
    interval_s = dask.utils.parse_timedelta(dask.config.get(f"{_AMM}.interval"))
    assert not dask_local.client.amm.running()
    _shipped_once(dask_local, 12, rounds=2, pause_s=interval_s + 0.5)


@pytest.mark.slow
def test_same_results_on_every_executor_pipeline(
    tmp_path: Path, pool: LocalPoolExecutor, dask_local: DaskExecutor
) -> None:
    """The real pipeline (tiny schematic network): serial, process pool and Dask LocalCluster agree exactly."""
    _, slow = write_scenarios(tmp_path / "scenarios")
    job = scenario_job(slow)
    runs = {
        name: run_job(job, out_dir=tmp_path / name, executor=ex, replications=1, progress=False)
        for name, ex in (("serial", SerialExecutor()), ("pool", pool), ("dask", dask_local))
    }
    assert len({r.run_dir.relative_to(tmp_path / name) for name, r in runs.items()}) == 1  # same run-id
    ref = runs["serial"]
    assert ref.baseline is not None
    for name in ("pool", "dask"):
        other = runs[name]
        assert other.baseline is not None
        pairs = zip(other.baseline.results + other.results, ref.baseline.results + ref.results, strict=True)
        for a, b in pairs:
            assert (a.scenario, a.replication) == (b.scenario, b.replication)
            assert a.summary == b.summary
            assert a.parameters == b.parameters
            pd.testing.assert_frame_equal(a.injuries, b.injuries)
            pd.testing.assert_frame_equal(a.link_traffic, b.link_traffic)
            pd.testing.assert_frame_equal(a.speed_hist, b.speed_hist)


@pytest.mark.slow
def test_killed_worker_is_reported_and_pool_recovers(pool: LocalPoolExecutor) -> None:
    with pytest.raises(ExecutorError, match="rerun the same command to resume"):
        list(pool.map_unordered(kill_self, None, [0, 1, 2, 3]))
    # the executor replaces the broken pool on the next call
    assert sorted(r for _, r in pool.map_unordered(kill_self, None, [0, 2, 3])) == [0, 2, 3]


def test_task_error_propagates(pool: LocalPoolExecutor) -> None:
    with pytest.raises(AttributeError):
        list(pool.map_unordered(count_calls, None, [0]))  # type: ignore[arg-type]


def test_make_executor_choices() -> None:
    assert isinstance(make_executor(workers=1), SerialExecutor)
    ex = make_executor(workers=2)
    try:
        assert isinstance(ex, LocalPoolExecutor)
        assert ex.workers == 2
        assert ex.worker_pids() == []  # nothing started until the first task
    finally:
        ex.close()
    with pytest.raises(ConfigError, match="--workers: expected an integer >= 1"):
        make_executor(workers=0)


def test_malformed_scheduler_address_is_a_config_error() -> None:
    for bad in ("foo", "tcp://host", "http://host:8786"):
        with pytest.raises(ConfigError, match="--dask: expected 'local' or a scheduler address"):
            DaskExecutor(bad)


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(
        ExecutorError, match=r"cannot connect to the Dask scheduler at 'tcp://127\.0\.0\.1:9'"
    ):
        DaskExecutor("tcp://127.0.0.1:9", timeout_s=1.0)


def test_completed_replications_ignores_partial_folders(tmp_path: Path) -> None:
    run_dir = run_job(
        toy_job(replications=5), out_dir=tmp_path, executor=SerialExecutor(), progress=False
    ).run_dir
    (run_dir / "replications" / ".rep-0007.tmp123").mkdir()
    (run_dir / "replications" / "rep-0009").mkdir()  # no summary.json: not complete
    assert completed_replications(run_dir) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("kind", ["serial", "pool", "dask"])
def test_items_are_read_lazily(kind: str, pool: LocalPoolExecutor, dask_local: DaskExecutor) -> None:
    ex: Executor = {"serial": SerialExecutor(), "pool": pool, "dask": dask_local}[kind]
    pulled: list[int] = []

    def items() -> Iterator[int]:
        for i in [0, *range(2, 22)]:  # kill_self dies on item 1 only
            pulled.append(i)
            yield i

    results = ex.map_unordered(kill_self, None, items())
    first = next(results)
    assert len(pulled) <= ex.in_flight() + 1  # not the whole list up front
    rest = list(results)
    assert sorted(pos for pos, _ in [first, *rest]) == list(range(21))
    assert sorted(r for _, r in [first, *rest]) == [0, *range(2, 22)]


@pytest.mark.parametrize("kind", ["serial", "pool", "dask"])
def test_run_tasks_starts_a_task_once_the_result_it_waits_on_is_in(
    kind: str, pool: LocalPoolExecutor, dask_local: DaskExecutor
) -> None:
    # two payloads; b's task i may start only once a's task i has given its result (a variant's replication
    # after the baseline's it pairs with). While every a runs, take() has nothing to give: the executor must ask
    # again after each result instead of ending.
    ex: Executor = {"serial": SerialExecutor(), "pool": pool, "dask": dask_local}[kind]
    queue = [("a", i) for i in range(3)] + [("b", i) for i in range(3)]
    taken: list[tuple[str, int]] = []
    seen: list[tuple[str, int]] = []

    def take() -> tuple[str, int] | None:
        for k, (payload, i) in enumerate(queue):
            if payload == "a" or ("a", i) in seen:
                taken.append(queue.pop(k))
                return payload, i
        return None

    for pos, result in ex.run_tasks(tagged, take):
        assert result == taken[pos]  # positions in the order taken
        seen.append(result)
    assert sorted(seen) == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    assert all(seen.index(("a", i)) < seen.index(("b", i)) for i in range(3))


# --- process hygiene ------------------------------------------------------------------------------------------


def test_workers_are_capped_at_the_cpus_available() -> None:
    from vision_zero.runs.parallel import default_workers

    with make_executor(workers=1000) as ex:
        assert ex.workers == default_workers() < 1000
        assert f"--workers 1000 capped at the {default_workers()} CPU(s) available" in ex.describe()
    with make_executor(workers=1) as ex:
        assert "capped" not in ex.describe()


def test_stale_payload_folders_of_dead_processes_are_swept(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from vision_zero.runs.parallel import PAYLOAD_PREFIX, sweep_stale_payload_folders

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)  # that process has exited
    stale = tmp_path / f"{PAYLOAD_PREFIX}{dead_pid}-abc"
    live = tmp_path / f"{PAYLOAD_PREFIX}{os.getpid()}-abc"
    other = tmp_path / f"{PAYLOAD_PREFIX}xyz"  # not our naming: someone else's, left alone
    for folder in (stale, live, other):
        folder.mkdir()
        (folder / "p.pickle").write_bytes(b"x")
    assert sweep_stale_payload_folders(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


@pytest.mark.slow
def test_an_error_inside_the_pool_ends_the_workers_and_removes_the_payload_folder() -> None:
    import time

    ex = LocalPoolExecutor(workers=2)
    folder = ex._tmp
    with pytest.raises(RuntimeError, match="stop"), ex:
        assert sorted(r for _, r in ex.map_unordered(kill_self, None, [0, 2])) == [0, 2]
        pids = ex.worker_pids()
        assert len(pids) == 2 and folder.is_dir()
        raise RuntimeError("stop")
    assert not folder.exists()
    time.sleep(0.5)
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # gone
        assert state == "Z", f"worker {pid} still running"
