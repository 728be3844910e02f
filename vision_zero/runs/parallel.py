"""Executors: run many independent tasks on local cores or on a Dask cluster, behind one interface.

Every executor runs ``fn(payload, item)`` for each item and yields ``(position, result)`` pairs as the tasks
finish: over one payload (:meth:`Executor.map_unordered`), or over tasks of several payloads that start only when
their inputs exist (:meth:`Executor.run_tasks`: a comparison's variant replications after the baseline replications
they pair with, so every scenario's replications share the workers). The *payload* (a prepared scenario: the network with its interventions, the parameters …) is large and
the same for every task, so it is shipped once per worker, not once per task:

- :class:`SerialExecutor` runs in this process (no shipping at all);
- :class:`LocalPoolExecutor` is a process pool (``spawn`` start method, safe on every platform). The payload is
  pickled once to a temporary file; each worker process loads it on its first task and keeps it in a small
  cache keyed by the payload's content hash, so later tasks (and later scenarios) reuse the same pool;
- :class:`DaskExecutor` uses Dask distributed: ``"local"`` starts a ``LocalCluster`` (one single-threaded
  worker process per core), anything else is the address of a running scheduler (``tcp://host:8786``). The
  payload is scattered once with ``broadcast=True`` and tasks receive the worker's copy. Broadcast replicas
  and Dask's Active Memory Manager do not mix (``Client.replicate``'s documentation): its default policy,
  ``ReduceReplicas``, drops every replica but one whenever no task is waiting on the other workers (it runs
  every 2 s), and the next task there fetches the payload again from a peer: a second copy in that worker,
  and the transfer. The LocalCluster is therefore started with the Active Memory Manager off; a remote
  scheduler's is left as its owner configured it, and :meth:`DaskExecutor.describe` says when it is on.

Results never depend on the executor: a task's randomness must come only from its item (the replication
index, through :func:`vision_zero.core.seeding.replication_rngs`).

Importing this module starts nothing; pools and clusters are created by the constructors and released by
:meth:`Executor.close` (or a ``with`` block).

No orphans: a pool worker watches its parent and exits within :data:`PARENT_CHECK_S` seconds once the parent is
gone (killed with SIGKILL, which runs no clean-up); then the multiprocessing resource tracker, whose pipe the
workers held, ends too. The payload folder (``vision-zero-payloads-<pid>-…`` in the temporary directory) is
deleted by :meth:`Executor.close`; one left by a killed process is swept by the next pool that starts
(:func:`sweep_stale_payload_folders`). More local workers than the CPUs available are not started: the number
is capped and :meth:`Executor.describe` says so.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import pickle
import re
import shutil
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from vision_zero.core.errors import ConfigError, VisionZeroError
from vision_zero.core.files import make_process_folder, sweep_stale_process_folders
from vision_zero.core.process import own_process, release_free_memory

__all__ = [
    "PAYLOAD_PREFIX",
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "LocalPoolExecutor",
    "SchedulerUnreachableError",
    "SerialExecutor",
    "default_workers",
    "make_executor",
    "sweep_stale_payload_folders",
]

P = TypeVar("P")
I = TypeVar("I")  # noqa: E741
T = TypeVar("T")

#: How many distinct payloads a worker process keeps loaded (a run has a baseline and a variant or two).
_WORKER_CACHE_SIZE = 3
#: How often a pool worker checks that its parent process is still alive [s].
PARENT_CHECK_S = 0.5
#: Name prefix of the payload folders in the temporary directory; the owner's process id follows.
PAYLOAD_PREFIX = "vision-zero-payloads-"
#: How long a Dask scheduler address is given to answer [s] (the answer is immediate on a reachable one).
DASK_CONNECT_TIMEOUT_S = 5.0
#: Dask's configuration key that starts the scheduler's Active Memory Manager (off in our LocalCluster).
_AMM_START = "distributed.scheduler.active-memory-manager.start"


class ExecutorError(VisionZeroError, RuntimeError):
    """The executor failed (a worker process died, the cluster is unreachable …); finished work is kept."""

    exit_code = 1


class SchedulerUnreachableError(ExecutorError):
    """``--dask ADDR`` names no scheduler that answers: the user's argument, so exit 2 like other bad input."""

    exit_code = 2


def default_workers() -> int:
    """The number of CPU cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def payload_token(payload: object) -> tuple[str, bytes]:
    """Pickle ``payload`` and return (content hash, pickled bytes)."""
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(data).hexdigest()[:20], data


class _Shipped:
    """Payloads already shipped by one executor, by identity (so a payload is pickled once, not per call)."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[object, str, Any]] = {}

    def get(self, payload: object) -> tuple[str, Any] | None:
        hit = self._by_id.get(id(payload))
        if hit is None or hit[0] is not payload:
            return None
        return hit[1], hit[2]

    def put(self, payload: object, token: str, handle: Any) -> None:
        self._by_id[id(payload)] = (payload, token, handle)

    def clear(self) -> None:
        self._by_id.clear()


class _Numbered:
    """A task source for :meth:`Executor.run_tasks`: ``take()`` numbered in the order its tasks are taken."""

    def __init__(self, take: Callable[[], tuple[Any, Any] | None]) -> None:
        self._take = take
        self._count = itertools.count()

    def __call__(self) -> tuple[int, Any, Any] | None:
        """The next task that may start as ``(position, payload, item)``, or ``None``."""
        task = self._take()
        if task is None:
            return None
        return next(self._count), task[0], task[1]


class Executor(ABC):
    """Runs ``fn(payload, item)`` for many items; see the module docstring."""

    #: Short name for messages and manifests ("serial", "pool", "dask").
    kind: str = ""

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many tasks can run at once."""

    def map_unordered(
        self, fn: Callable[[P, I], T], payload: P, items: Iterable[I]
    ) -> Iterator[tuple[int, T]]:
        """Run ``fn(payload, item)`` for every item; yield ``(position in items, result)`` as each finishes.

        ``items`` is consumed lazily: at most :meth:`in_flight` tasks are submitted at a time, so large
        per-task inputs (a baseline's injuries table) are read only when their task is about to run. If a task
        raises, the remaining tasks are cancelled and the exception propagates. ``fn`` must be a module-level
        function (picklable by reference). An empty ``items`` ships nothing (no payload, no pool).
        """
        source = iter(items)

        def take() -> tuple[P, I] | None:
            for item in source:
                return payload, item
            return None

        return self.run_tasks(fn, take)

    def run_tasks(
        self, fn: Callable[[Any, Any], T], take: Callable[[], tuple[Any, Any] | None]
    ) -> Iterator[tuple[int, T]]:
        """Run ``fn(payload, item)`` for the tasks ``take`` hands out; yield ``(position, result)`` as each finishes.

        ``take()`` returns the next task that may start, ``(payload, item)``, or ``None`` when none may start
        now: none is left, or the next ones wait on a result still running. It is asked whenever fewer
        than :meth:`in_flight` tasks run, and again after every result yielded (the caller's handling of a
        result may let tasks start: a variant's replication once the baseline's it pairs with is written). The
        run ends when no task runs and ``take()`` gives ``None``. A task's position is the order it was taken
        in (0, 1, …). Each payload is shipped once per worker, as in :meth:`map_unordered`, which is this with
        one payload; the same rules for errors and for ``fn``.
        """
        return self._run(fn, _Numbered(take))

    @abstractmethod
    def _run(self, fn: Callable[[Any, Any], T], take: _Numbered) -> Iterator[tuple[int, T]]:
        """:meth:`run_tasks`: the executor's own way of running them."""

    def in_flight(self) -> int:
        """How many tasks are submitted ahead (twice the workers: none idles while results are written)."""
        return 2 * self.workers

    def describe(self) -> str:
        """One line for the terminal, e.g. ``"local process pool, 2 workers"``."""
        return f"{self.kind}, {self.workers} worker(s)"

    @abstractmethod
    def close(self) -> None:
        """Release processes, clients and temporary files (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SerialExecutor(Executor):
    """Run every task in this process, in order (``--workers 1``)."""

    kind = "serial (this process)"

    def __init__(self, *, asked: int = 1) -> None:
        self._asked = asked  # workers asked for (more than 1 on a machine with one CPU)

    @property
    def workers(self) -> int:
        """Always 1."""
        return 1

    def describe(self) -> str:
        """See :meth:`Executor.describe`."""
        return f"serial, in this process{_capped_note(1, self._asked)}"

    def _run(self, fn: Callable[[Any, Any], T], take: _Numbered) -> Iterator[tuple[int, T]]:
        """In the order taken, in this process."""
        while (task := take()) is not None:
            position, payload, item = task
            yield position, fn(payload, item)

    def close(self) -> None:
        """Nothing to release."""


# --- local process pool ---------------------------------------------------------------------------------------

_worker_payloads: OrderedDict[str, Any] = OrderedDict()


def _pool_worker_init(parent_pid: int | None = None) -> None:
    """Process-pool initializer: single-threaded numeric libraries; exit when the parent process is gone.

    The worker is this package's process (:func:`vision_zero.core.process.own_process`): it gives freed memory
    back between tasks (:func:`~vision_zero.core.process.release_free_memory`).
    """
    own_process()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if parent_pid is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent_pid,), name="vision-zero-parent-watch", daemon=True
        ).start()


def _exit_with_parent(parent_pid: int) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent (the parent died: re-parented)."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def sweep_stale_payload_folders(tmp_dir: Path | None = None) -> list[Path]:
    """Delete payload folders whose process is gone (killed before it could clean up); return them.

    Only folders of this user named ``vision-zero-payloads-<pid>-…`` whose ``pid`` is no running process.
    """
    return sweep_stale_process_folders(
        Path(tempfile.gettempdir() if tmp_dir is None else tmp_dir), PAYLOAD_PREFIX
    )


def _load_payload(token: str, path: str) -> Any:
    """Return the payload ``token``, reading it from ``path`` the first time this worker needs it."""
    if token in _worker_payloads:
        _worker_payloads.move_to_end(token)
        return _worker_payloads[token]
    with open(path, "rb") as fh:
        payload = pickle.load(fh)
    _worker_payloads[token] = payload
    while len(_worker_payloads) > _WORKER_CACHE_SIZE:
        _worker_payloads.popitem(last=False)
    return payload


def _pool_call(fn: Callable[[Any, Any], Any], token: str, path: str, item: Any) -> Any:
    release_free_memory()  # what the last task left (its result is sent by now)
    return fn(_load_payload(token, path), item)


def _capped(workers: int) -> tuple[int, int]:
    """(workers to start, workers asked for): never more than the CPUs this process may use."""
    return min(workers, default_workers()), workers


def _capped_note(workers: int, asked: int) -> str:
    if asked <= workers:
        return ""
    return f" (--workers {asked} capped at the {workers} CPU(s) available)"


class LocalPoolExecutor(Executor):
    """A process pool on this machine (``spawn`` start method).

    Parameters
    ----------
    workers
        Number of worker processes; default: the cores available (:func:`default_workers`).
    """

    kind = "local process pool"

    def __init__(self, *, workers: int | None = None) -> None:
        n = default_workers() if workers is None else workers
        if n < 1:
            raise ConfigError(f"--workers: expected an integer >= 1 (got {n})")
        self._workers, self._asked = _capped(n)
        self._pool: ProcessPoolExecutor | None = None
        sweep_stale_payload_folders()
        self._tmp = make_process_folder(Path(tempfile.gettempdir()), PAYLOAD_PREFIX)
        self._shipped = _Shipped()

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        return self._workers

    def describe(self) -> str:
        """See :meth:`Executor.describe`."""
        return f"local process pool, {self._workers} worker(s){_capped_note(self._workers, self._asked)}"

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=get_context("spawn"),
                initializer=_pool_worker_init,
                initargs=(os.getpid(),),
            )
        return self._pool

    def _payload_file(self, payload: object) -> tuple[str, Path]:
        hit = self._shipped.get(payload)
        if hit is not None:
            return hit[0], Path(hit[1])
        token, data = payload_token(payload)
        path = self._tmp / f"{token}.pickle"
        if not path.exists():
            path.write_bytes(data)
        self._shipped.put(payload, token, str(path))
        return token, path

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's worker processes (empty before the first task)."""
        if self._pool is None:
            return []
        procs = getattr(self._pool, "_processes", None) or {}
        return sorted(int(pid) for pid in procs)

    def _run(self, fn: Callable[[Any, Any], T], take: _Numbered) -> Iterator[tuple[int, T]]:
        """On the pool; a dead worker raises :class:`ExecutorError`."""
        pending: dict[Future[T], int] = {}

        def fill() -> None:
            while len(pending) < self.in_flight() and (task := take()) is not None:
                pos, payload, item = task
                token, path = self._payload_file(payload)
                pending[self._ensure_pool().submit(_pool_call, fn, token, str(path), item)] = pos

        try:
            fill()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    pos = pending.pop(fut)
                    result = fut.result()
                    fill()  # the workers go on while the caller handles the result
                    yield pos, result
                    fill()  # and what the caller's handling let start
        except BrokenProcessPool as exc:
            self._discard_pool()
            raise ExecutorError(
                "a worker process of the local pool died (killed, or out of memory); the replications "
                "finished so far are saved: rerun the same command to resume"
            ) from exc
        finally:
            for fut in pending:
                fut.cancel()

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Shut the pool down and delete the payload files."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._shipped.clear()

    def abort(self) -> None:
        """Stop at once (an error, Ctrl-C, SIGTERM): end the workers without waiting for their tasks, clean up."""
        if self._pool is not None:
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                if proc.is_alive():
                    proc.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._shipped.clear()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# --- Dask distributed -----------------------------------------------------------------------------------------


class DaskExecutor(Executor):
    """Dask distributed: a new ``LocalCluster`` (``address="local"``) or a running scheduler.

    Parameters
    ----------
    address
        ``"local"`` or a scheduler address such as ``tcp://10.0.0.5:8786``.
    workers
        For ``"local"`` only: number of single-threaded worker processes (default: the cores available).
    timeout_s
        How long to wait for the scheduler [s].
    """

    kind = "dask"

    def __init__(
        self, address: str, *, workers: int | None = None, timeout_s: float = DASK_CONNECT_TIMEOUT_S
    ) -> None:
        import dask.config
        from distributed import Client, LocalCluster

        self.address = address
        self._cluster: Any = None
        self._client: Any = None
        self._asked = 0
        if address != "local" and not re.fullmatch(r"(tcp|tls|ucx|ws|wss)://[^\s/:]+:\d+/?", address):
            raise ConfigError(
                f"--dask: expected 'local' or a scheduler address such as tcp://10.0.0.5:8786 (got {address!r})"
            )
        try:
            if address == "local":
                n = default_workers() if workers is None else workers
                if n < 1:
                    raise ConfigError(f"--workers: expected an integer >= 1 (got {n})")
                n, self._asked = _capped(n)
                # The Active Memory Manager would drop the payload's broadcast replicas (module docstring).
                with dask.config.set({_AMM_START: False}):
                    self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=n,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                self._client = Client(self._cluster, timeout=timeout_s)  # type: ignore[no-untyped-call]
            else:
                self._client = Client(address, timeout=timeout_s)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            self.close()
            raise SchedulerUnreachableError(
                f"--dask: cannot connect to the Dask scheduler at {address!r} ({exc}); expected 'local' or "
                "the address of a running scheduler such as tcp://host:8786"
            ) from exc
        self._shipped = _Shipped()

    @property
    def client(self) -> Any:
        """The ``distributed.Client``."""
        return self._client

    @property
    def workers(self) -> int:
        """Total worker threads in the cluster."""
        info = self._client.scheduler_info()
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    def describe(self) -> str:
        """See :meth:`Executor.describe`."""
        where = "LocalCluster" if self.address == "local" else self.address
        note = _capped_note(self.workers, self._asked)
        if self.address != "local" and self._client.amm.running():
            note += (
                "; the scheduler's Active Memory Manager is on and may make workers fetch the scenario again "
                f"(start it with {_AMM_START}=false)"
            )
        return f"dask ({where}), {self.workers} worker thread(s){note}"

    def _scatter(self, payload: object) -> Any:
        hit = self._shipped.get(payload)
        if hit is None:
            remote = self._client.scatter(payload, broadcast=True, hash=False)
            self._shipped.put(payload, "", remote)
            return remote
        return hit[1]

    def _run(self, fn: Callable[[Any, Any], T], take: _Numbered) -> Iterator[tuple[int, T]]:
        """On the cluster; each payload is scattered once (``broadcast=True``)."""
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        position: dict[str, int] = {}
        live: dict[str, Any] = {}
        stream = as_completed()  # type: ignore[no-untyped-call]

        def fill() -> None:
            while len(live) < self.in_flight() and (task := take()) is not None:
                pos, payload, item = task
                fut = self._client.submit(fn, self._scatter(payload), item, pure=False)
                position[fut.key] = pos
                live[fut.key] = fut
                stream.add(fut)  # type: ignore[no-untyped-call]

        try:
            fill()
            for fut in stream:
                result = fut.result()
                live.pop(fut.key, None)
                fill()  # the workers go on while the caller handles the result
                yield position[fut.key], result
                fill()  # and what the caller's handling let start
        except KilledWorker as exc:
            raise ExecutorError(
                "Dask workers died repeatedly while running a replication; the replications finished so far "
                "are saved: rerun the same command to resume"
            ) from exc
        finally:
            if live and self._client is not None:
                self._client.cancel([f for f in live.values() if not f.done()])

    def close(self) -> None:
        """Close the client, and the LocalCluster if this executor started it."""
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(*, workers: int | None = None, dask: str | None = None) -> Executor:
    """The executor the command line asks for.

    Parameters
    ----------
    workers
        Local worker processes (default: the cores available); 1 runs in this process.
    dask
        ``None`` for local execution, ``"local"`` for a Dask LocalCluster, or a scheduler address.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: expected an integer >= 1 (got {workers})")
    sweep_stale_payload_folders()
    if dask is not None:
        return DaskExecutor(dask, workers=workers)
    n = default_workers() if workers is None else workers
    if n == 1:
        return SerialExecutor()
    if _capped(n)[0] == 1:
        return SerialExecutor(asked=n)
    return LocalPoolExecutor(workers=n)
