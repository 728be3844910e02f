"""The compiled event loop's state (``vision_zero/traffic/_loop_state.py``): its event heap, its gate slots.

The kernel keeps its own event heap; these tests show that its order is SimPy's, and that the compiled dedupe of
movements behind the gate slots gives numpy's unique pairs.
"""

from __future__ import annotations

import functools

import numpy as np
import simpy

from vision_zero.traffic import _loop
from vision_zero.traffic import _loop_state as state
from vision_zero.traffic.simulation import TrafficSettings


def _empty_state(n_links: int = 4) -> state.State:
    ones = np.ones(n_links)
    lk = _loop.Links(ones, ones, ones, ones, ones, ones, ones, ones, ones)
    rl = np.arange(8, dtype=np.int32) % n_links
    nl = np.full(8, -1, dtype=np.int32)
    z = np.zeros(8)
    ptr = np.array([0, 8])
    loop = _loop.EventLoop(lk, TrafficSettings.from_parameters(), rl, nl, z, nl + 2, ptr[:1], ptr[1:])
    return loop.state


def test_the_kernels_event_order_is_simpys() -> None:
    # events of one priority at random times with many ties: SimPy runs them by (time, scheduling order)
    rng = np.random.default_rng(3)
    times = rng.integers(0, 20, 60).astype(np.float64) / 4.0
    env = simpy.Environment()
    seen: list[int] = []
    for i, t in enumerate(times):
        ev = env.timeout(float(t))
        ev.callbacks.append(functools.partial(lambda i, _e: seen.append(i), i))
    env.run()
    st = _empty_state()
    for i, t in enumerate(times):
        state.push(st, float(t), 0, i, float(t), 0)
    popped = []
    while st.cnt[state.HSIZE]:
        popped.append(int(st.hi[0, state.HARG]))
        state.pop(st)
    assert popped == seen


def test_gate_slots_distinct_movements_are_numpys_unique_pairs() -> None:
    # the compiled dedupe of (next link, link) pairs gives np.unique's sorted keys, also when a link has more next
    # links than its first list capacity and when no position has a next link
    rng = np.random.default_rng(5)
    a = rng.integers(0, 300, 900).astype(np.int32)
    b = rng.integers(0, 300, 900).astype(np.int32)
    m = rng.integers(0, 900, 20_000)
    cases = [
        (a[m], np.where(rng.random(20_000) < 0.1, -1, b[m]).astype(np.int32), 300),
        (np.zeros(3000, np.int32), (np.arange(3000) % 997).astype(np.int32), 1000),
        (np.arange(5, dtype=np.int32), np.full(5, -1, np.int32), 5),
    ]
    for rl, nl, n_links in cases:
        has = nl >= 0
        expected = np.unique(nl[has].astype(np.int64) * n_links + rl[has])
        assert np.array_equal(state._distinct_pairs(rl, nl, n_links), expected)
