"""Process-wide settings that belong to a program's entry point, not to the library.

The ``vision-zero`` command run as a program (``main()`` without arguments, i.e. the console script or
``python -m vision_zero``) and benchmark workers declare the process theirs (:func:`own_process`); library calls,
tests and notebooks never do, so these settings never act inside someone else's process.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_heap", "own_process"]

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
