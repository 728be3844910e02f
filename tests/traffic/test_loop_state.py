"""The compiled event loop's state (``vision_zero/traffic/_loop_state.py``): its event heap, its position records.

The kernel keeps its own event heap; these tests show that its order is SimPy's, and that the one compiled pass
over the route positions writes their records and counts (the gate slots' distinct movements among them) as
numpy would.
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
    ptr = np.array([0, 8])
    loop = _loop.EventLoop(
        lk, TrafficSettings.from_parameters(), rl, np.zeros(8), np.array([2]), ptr[:1], ptr[1:]
    )
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


def test_positions_records_and_counts_are_numpys() -> None:
    # one pass writes each record (next link and platoon derived from the vehicle's route) and counts per link its
    # positions, its route starts and the routes' distinct (next link, link) pairs: what numpy's repeat, bincount
    # and unique give, also when a link has more next links than its first list capacity, when no position has a
    # next link and with vehicles that have no route
    rng = np.random.default_rng(5)
    a = rng.integers(0, 300, 900).astype(np.int32)
    m = rng.integers(0, 900, 20_000)
    cases = [
        (a[m], rng.integers(0, 8, 4000), 300),
        ((np.arange(3000) % 997).astype(np.int32), np.full(1500, 2), 1000),
        (np.arange(5, dtype=np.int32), np.ones(5, np.int64), 5),
        (np.arange(5, dtype=np.int32), np.array([0, 5, 0]), 5),
    ]
    for rl, n, n_links in cases:
        rl = rl[: n.sum()]
        ptr = np.concatenate([[0], np.cumsum(n)])
        size = rng.integers(1, 4, len(n)).astype(np.int32)
        fft = rng.random(len(rl))
        pf, pi, routed = state.positions(rl, ptr[:-1], ptr[1:], fft, size, n_links)
        nl = np.full(len(rl), -1, dtype=np.int32)
        nl[:-1] = rl[1:]
        nl[ptr[1:][n > 0] - 1] = -1
        has = nl >= 0
        np.testing.assert_array_equal(pi[:, state.RL], rl)
        np.testing.assert_array_equal(pi[:, state.NL], nl)
        np.testing.assert_array_equal(pi[:, state.PSZ], np.repeat(size, n))
        np.testing.assert_array_equal(pi[:, state.HELD], 0)
        np.testing.assert_array_equal(pf[:, state.FFT], fft)
        assert np.isnan(pf[:, [state.ENT, state.EE, state.EX]]).all()
        np.testing.assert_array_equal(routed.on_link, np.bincount(rl, minlength=n_links))
        np.testing.assert_array_equal(routed.starts, np.bincount(rl[ptr[:-1][n > 0]], minlength=n_links))
        np.testing.assert_array_equal(routed.pairs, np.unique(nl[has].astype(np.int64) * n_links + rl[has]))
