"""The SimPy internals the event loop (``vision_zero/traffic/_loop.py``) relies on are still there.

The loop pushes its own events onto SimPy's heap, bypassing ``Environment.schedule``: it reads ``env._queue``,
``env._eid`` and ``env._now`` and writes heap entries ``(time, priority, event id, event)``; its events are
``_Call`` objects with only ``callbacks`` and a class-level ``_ok``. pyproject pins ``simpy>=4.1,<5``; if a SimPy
release changes any of this, these tests fail before the simulation silently does something else.
"""

from __future__ import annotations

import itertools
from heapq import heappush
from typing import Any

import simpy
import simpy.core
import simpy.events

from vision_zero.traffic._loop import _Call


def test_environment_has_the_private_fields_the_loop_reads() -> None:
    env = simpy.Environment(initial_time=5.0)
    assert env._queue == []
    assert isinstance(env._eid, itertools.count)
    assert env._now == 5.0 and env.now == 5.0


def test_schedule_pushes_time_priority_id_event_onto_the_heap() -> None:
    env = simpy.Environment()
    first, second = env.event(), env.event()
    env.schedule(first, simpy.events.NORMAL, 3.0)
    env.schedule(second, simpy.events.URGENT, 3.0)
    assert simpy.events.NORMAL == 1 and simpy.events.URGENT == 0  # the loop pushes priority 1
    entries = sorted(env._queue)
    assert [len(e) for e in entries] == [4, 4]
    (t0, p0, id0, ev0), (t1, p1, id1, ev1) = entries
    assert (t0, p0, ev0) == (3.0, 0, second) and (t1, p1, ev1) == (3.0, 1, first)
    assert isinstance(id0, int) and id1 < id0  # ids come from env._eid in scheduling order
    assert next(env._eid) == id0 + 1


def test_a_call_event_pushed_directly_runs_in_order_with_scheduled_events() -> None:
    env = simpy.Environment()
    seen: list[tuple[str, float]] = []

    def record(event: Any) -> None:
        seen.append((f"call{event.arg}", env.now))

    timeout = env.timeout(2.0)
    timeout.callbacks.append(lambda _e: seen.append(("timeout", env.now)))
    calls = (record,)
    queue = env._queue
    # the loop's push: now + delay, priority 1, next event id, the event
    heappush(queue, (env._now + 2.0, 1, next(env._eid), _Call(calls, 1, 2.0)))
    heappush(queue, (env._now + 1.0, 1, next(env._eid), _Call(calls, 2, 1.0)))
    env.run(until=10.0)
    # equal times run in the order pushed (the event id breaks the tie), SimPy's own events included
    assert seen == [("call2", 1.0), ("timeout", 2.0), ("call1", 2.0)]
    assert env.now == 10.0


def test_step_needs_only_callbacks_and_ok_of_an_event() -> None:
    env = simpy.Environment()
    hits: list[int] = []
    ev = _Call((lambda e: hits.append(e.arg),), 7, 0.0)
    heappush(env._queue, (0.0, 1, next(env._eid), ev))
    env.step()
    assert hits == [7]
    assert ev.callbacks is None  # step takes the callbacks away, so the loop re-arms an event before reuse
    assert _Call._ok is True and simpy.core.Environment.step is simpy.Environment.step
