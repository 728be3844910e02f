"""Process-wide settings that belong to a program's entry point, not to the library.

The ``vision-zero`` command run as a program (``main()`` without arguments, i.e. the console script or
``python -m vision_zero``) and benchmark workers declare the process theirs (:func:`own_process`); library calls,
tests and notebooks never do, so these settings never act inside someone else's process.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import sys
from collections.abc import Callable

__all__ = ["freeze_heap", "own_process", "release_free_memory", "set_up_numba"]

_OWNED: list[bool] = [False]


def own_process() -> None:
    """Declare this Python process a program's own (its entry point calls it once): :func:`freeze_heap` then acts."""
    _OWNED[0] = True


def freeze_heap() -> None:
    """Exempt every object alive now from the cyclic garbage collector's later passes (:func:`gc.freeze`).

    Only in a process declared the program's own (:func:`own_process`); elsewhere nothing. The entry point calls
    it once its start-up is done (the imports of numpy, pandas, numba and the package: ~150,000 container objects
    that live until the process exits) and again just before it exits. The collector's full passes during the
    run, and the ones at interpreter shutdown, then skip those objects instead of walking all of them each time
    (#16: on the 20x20 grid at 10,000 trips, ``benchmarks/bench_traffic.py``, ~0.5 CPU-s of a run's ~2.5). Only
    *when* cyclic garbage is freed changes, so results do not: an object frozen here that later becomes
    unreachable inside a reference cycle is freed with the process.
    """
    if _OWNED[0]:
        gc.freeze()


def set_up_numba() -> None:
    """Set up numba's CPU target now, without the SciPy import that its set-up makes only to probe for BLAS.

    Only in a process declared the program's own (:func:`own_process`), and only once; elsewhere nothing (numba
    then sets itself up at its first compiled call, as always). The simulation calls it before its first kernel.
    Numba's set-up imports its implementation modules; one of them, ``numba.np.arraymath``, imports
    ``scipy.linalg.cython_blas`` at import time only to learn whether BLAS exists (``_check_blas``), which
    decides whether ``np.convolve`` and ``np.correlate`` in a kernel compiled later use BLAS's dot product or a
    loop. Importing ``scipy.linalg`` cost ~0.1-0.2 CPU-s (its Fortran libraries, and SciPy's array-API layer
    touching numpy's lazy ``f2py`` and ``testing``), ~7% of a 10,000-trip grid run, where nothing else imports
    it (#16). So while numba sets up, ``scipy.linalg`` is hidden if nothing has imported it yet, and restored
    at once. No kernel here names ``np.convolve`` or ``np.correlate`` (``tests/core/test_process.py``), so every
    kernel compiles to the same code either way; numba's linear algebra (``np.dot`` …) imports SciPy itself
    when a kernel using it is compiled.
    """
    if not _OWNED[0] or "numba.np.arraymath" in sys.modules:
        return
    from numba.core.registry import cpu_target

    hide = "scipy.linalg" not in sys.modules
    if hide:
        sys.modules["scipy.linalg"] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        cpu_target.target_context.refresh()
    finally:
        if hide:
            del sys.modules["scipy.linalg"]


def release_free_memory() -> None:
    """Give the memory that freed objects left in the allocators back to the operating system.

    Only in a process declared the program's own (:func:`own_process`; pool workers are); elsewhere nothing.
    Arrow's memory pool (pandas reads parquet through it) keeps the pages of freed buffers for its own later use,
    and glibc's heap keeps freed blocks below its top: neither is of use to the other, nor to other processes.
    Measured on a full-demand district replication's traffic tables (6 M crossing passages): read, pickled,
    unpickled and all freed, the process still held +336 MiB; after this +57 MiB (#16). Called between tasks of
    a pool worker, after each replication the parent writes, and between the scenarios of a tornado pair: the
    next one's peak no longer stands on the last one's leftovers. Results cannot change (no object is touched).
    """
    if not _OWNED[0]:
        return
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """Glibc's ``malloc_trim`` (None elsewhere: other C libraries have none, or give memory back themselves)."""
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError, AttributeError):
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
        return trim
    return None
