"""The compiled event loop (``vision_zero/traffic/_loop_kernel.py``) and how it shares SimPy's clock.

The kernel keeps its own event heap in SimPy's order (``test_loop_state.py``) and is run by a SimPy process up to
each next SimPy event (``vision_zero/traffic/_loop.py``). These tests show that SimPy processes running between
the kernel's slices see every link event before their time done and leave the results unchanged. Bit equality with
the interpreted SimPy loop it replaced is ``test_golden.py``'s hash (kept unchanged by the switch).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import simpy

from vision_zero.core.parameters import load_parameters
from vision_zero.core.seeding import replication_rngs
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic import _loop, _network_loading, demand, simulation
from vision_zero.traffic import _loop_kernel as kernel
from vision_zero.traffic.periods import Period


def _trips(network: RoadNetwork) -> tuple[pd.DataFrame, tuple[Period, ...]]:
    params = load_parameters()
    periods = tuple(p for p in demand.default_periods(params) if p.name == "am_peak")
    rngs = replication_rngs(11, 0)
    daily = 3.0 * demand.default_daily_trips(network, params)
    trips = demand.generate_trips(network, rng=rngs.demand, periods=periods, daily_trips=daily, params=params)
    return trips, periods


def test_simpy_processes_between_kernel_slices_see_the_links_up_to_their_time_and_change_nothing(
    tiny_network: RoadNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips, periods = _trips(tiny_network)

    def run() -> simulation.VehicleTraffic:
        r = replication_rngs(11, 0)
        return simulation.simulate_vehicles(
            tiny_network, trips, rng=r.drivers, routing_rng=r.routing, periods=periods, reroute_passes=0
        )

    alone = run()
    loops: list[_loop.EventLoop] = []
    ticks: list[tuple[float, int]] = []  # (SimPy time, exits the kernel had made when the process ran)

    class Watched(_loop.EventLoop):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            loops.append(self)

    def ticker(env: simpy.Environment) -> Generator[simpy.Event, None, None]:
        while True:  # a process-style part of the model: wakes every 37 s of simulated time
            yield env.timeout(37.0)
            ticks.append((env.now, int(np.isfinite(kernel.times(loops[-1].plan)[2]).sum())))

    class Ticking(simpy.Environment):
        def __init__(self) -> None:
            super().__init__()
            self.process(ticker(self))

    monkeypatch.setattr(_network_loading, "EventLoop", Watched)
    monkeypatch.setattr(simpy, "Environment", Ticking)
    shared = run()
    for name in ("ent", "ee", "ex"):
        np.testing.assert_array_equal(getattr(shared.times, name), getattr(alone.times, name))
    np.testing.assert_array_equal(shared.times.stuck_moves, alone.times.stuck_moves)
    # when the process ran at time T, the kernel had made exactly the exits before T (and none after)
    ex = alone.times.ex[np.isfinite(alone.times.ex)]
    assert len(ticks) == 194  # every 37 s up to the period's end (7,200 s with the drain)
    for t, made in ticks:
        assert int((ex < t).sum()) <= made <= int((ex <= t).sum())


#: per kernel module, the other modules whose functions and constants its cached functions compile in (numba sees
#: a change in the module's own file)
_COMPILED_IN = {
    "_loop_gates": ("_loop_state", "_junction_capacity"),
    "_loop_kernel": ("_loop_gates", "_loop_state", "_junction_capacity"),
}


def _loaded_index(index: Path, source: Path) -> bool:
    """Whether numba would load this cache index: it was written for the source file as it is now."""
    with index.open("rb") as f:
        pickle.load(f)  # numba's version
        stamp, _ = pickle.loads(f.read())
    st = source.stat()  # numba's stamp: the source's sha256 (0.68), before its (mtime, size)
    return bool(stamp == hashlib.sha256(source.read_bytes()).digest() or stamp == (st.st_mtime, st.st_size))


def test_no_cached_kernel_is_older_than_a_module_it_compiles_in() -> None:
    # numba checks a cached function's own file only: a cached advance() compiled before a change in _loop_gates.py
    # runs the old rules (numba's "Notes on Caching"; _loop_kernel's docstring). A fresh checkout has no caches.
    folder = Path(kernel.__file__).parent
    stale = []
    for module, sources in _COMPILED_IN.items():
        newest = max((folder / f"{name}.py").stat().st_mtime for name in sources)
        for index in (folder / "__pycache__").glob(f"{module}.*.nbi"):
            if _loaded_index(index, folder / f"{module}.py") and index.stat().st_mtime < newest:
                stale.append(index.name)
    assert not stale, f"numba caches older than a kernel module they compile in; delete them: {sorted(stale)}"
