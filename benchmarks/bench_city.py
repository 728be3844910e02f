"""Phase-timed replication of the schematic city (or district): CPU seconds per phase and peak memory.

One replication of the AM peak (or any periods) at the default demand with the default (converged) route choice,
through the same public functions a scenario run calls (:func:`vision_zero.traffic.demand.generate_trips`,
:func:`vision_zero.traffic.simulation.simulate_vehicles`, :func:`~vision_zero.traffic.simulation.record_of`,
:func:`vision_zero.risk.crash_model.estimate`). The phases inside ``simulate_vehicles`` are timed by wrapping
its helpers (no timing code in the package):

* **network**: building the schematic network (not part of a replication: cached by a run);
* **demand**: trip distribution (zones, gravity model; cached per scenario by a run) and the trips;
* **routing**: shortest-route trees (:meth:`vision_zero.traffic.routing.Router.shortest`), the turn graph;
* **loop**: the event loop (``_simulate_once``: per-position arrays and :func:`vision_zero.traffic._loop.run_period`);
* **route bookkeeping**: the rest of the equilibrium (slice costs, route costs, gap, route swaps, log);
* **record**: :func:`record_of` (link statistics, speeds, crossings, pedestrians);
* **risk**: :func:`vision_zero.risk.crash_model.estimate`.

Every run also prints (and ``--json`` keeps) the route-choice log per simulation (phase, relative gap, share of
trips outside their indifference band, mean trip, arrived share), the stop reasons, the simulations run and the
risk stage's KSI raw (fatal + serious per year, uncalibrated), and a SHA-256 of each of the replication's output tables (the trips,
link statistics, crossing passages, speed histogram and route-choice log of its :class:`~vision_zero.traffic.
_record.TrafficRecord`, and the risk stage's injuries): equal digests of two runs of the same case mean the same outputs bit for bit, the check
of a speed-up that is not meant to change the model.

CPU seconds are the process's own (``time.process_time``); peak memory is ``ru_maxrss``. The machine's
``/proc/loadavg`` is printed before and after: say it with any number you quote. ``--memory`` also prints each
phase's peak resident memory (Linux: the kernel's high-water mark ``VmHWM``, reset through
``/proc/self/clear_refs`` at every phase boundary, so a phase's peak is the largest RSS while it was the innermost
running phase) and the RSS when its last call ended (what it left alive).

    nice python benchmarks/bench_city.py                     # full city (schematic:almaty), AM peak
    nice python benchmarks/bench_city.py --scale district    # 0.19 of the area
    nice python benchmarks/bench_city.py --scale small --periods am_peak inter_peak
    nice python benchmarks/bench_city.py --periods am_peak inter_peak pm_peak night --memory
    nice python benchmarks/bench_city.py --set traffic.route_choice.gap_sample_origins=0   # every origin
    nice python benchmarks/bench_city.py --scale small --seed 0 --replications 0 1 2 3 --demand-factor 1.3 \
        --reroute-passes 3 8                                  # the route-choice policy, per setting

``--demand-factor F`` scales the network's default daily trips as the peak calibration does (``F`` = its
factor) and every run also prints the AM peak's congestion index (:func:`vision_zero.traffic.demand.
congestion_index` at central parameters, what the calibration measures). With several ``--replications`` or
``--reroute-passes`` values, one process runs every combination (a fresh clock per run) and ends with a table per
setting: the last relative gap (mean and standard error over the replications; each run's sampled gap carries its
own standard error), the congestion index, the share arrived and the CPU-s (routing, loop, replication).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vision_zero.core.parameters import load_parameters
from vision_zero.core.seeding import replication_rngs
from vision_zero.network.road_network import load_network
from vision_zero.risk import crash_model
from vision_zero.traffic import _network_loading, demand, pedestrians, routing, simulation, trip_distribution

PHASES = ("network", "demand", "routing", "loop", "route bookkeeping", "record", "risk")


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (0 where there is none: not Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process's RSS (``VmHWM``; Linux >= 4.0)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class Clock:
    """CPU seconds per phase; nested phases are charged to the innermost one only.

    With ``memory``, also each phase's peak RSS (the largest while it was the innermost phase) and the RSS when
    its last call ended [MiB].
    """

    def __init__(self, memory: bool = False) -> None:
        self.cpu_s = dict.fromkeys(PHASES, 0.0)
        self.calls = dict.fromkeys(PHASES, 0)
        self.peak_mib = dict.fromkeys(PHASES, 0.0)
        self.end_mib = dict.fromkeys(PHASES, 0.0)
        self.memory = memory
        self._stack: list[tuple[str, float]] = []
        if memory:
            _reset_peak_rss()

    def _charge_peak(self, name: str) -> None:
        """Charge the RSS high-water mark since the last boundary to ``name``, and start a new one."""
        if self.memory:
            self.peak_mib[name] = max(self.peak_mib[name], _status_kib("VmHWM") / 1024)
            _reset_peak_rss()

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        now = time.process_time()
        if self._stack:  # pause the outer phase
            outer, since = self._stack[-1]
            self.cpu_s[outer] += now - since
            self._charge_peak(outer)
        self._stack.append((name, now))
        try:
            yield
        finally:
            end = time.process_time()
            _, since = self._stack.pop()
            self.cpu_s[name] += end - since
            self.calls[name] += 1
            self._charge_peak(name)
            if self.memory:
                self.end_mib[name] = _status_kib("VmRSS") / 1024
            if self._stack:
                outer, _ = self._stack[-1]
                self._stack[-1] = (outer, end)

    @contextlib.contextmanager
    def wrap(self, owner: Any, attr: str, name: str) -> Iterator[None]:
        """Charge every call of ``owner.attr`` to phase ``name`` while the context lasts (then restore it)."""
        fn: Callable[..., Any] = owner.__dict__[attr]

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)

        setattr(owner, attr, timed)
        try:
            yield
        finally:
            setattr(owner, attr, fn)


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def run(
    scale: str,
    periods_wanted: list[str],
    seed: int,
    replication: int,
    memory: bool = False,
    reroute_passes: int | None = None,
    overrides: dict[str, float] | None = None,
    demand_factor: float | None = None,
) -> dict[str, Any]:
    clock = Clock(memory)
    # the event loop runs inside _simulate_once; everything else simulate_vehicles does is bookkeeping
    with (
        clock.wrap(_network_loading, "_simulate_once", "loop"),
        clock.wrap(routing.Router, "shortest", "routing"),
        clock.wrap(routing.Router, "__init__", "routing"),
    ):
        return _run(clock, scale, periods_wanted, seed, replication, reroute_passes, overrides, demand_factor)


def _run(
    clock: Clock,
    scale: str,
    periods_wanted: list[str],
    seed: int,
    replication: int,
    reroute_passes: int | None,
    overrides: dict[str, float] | None,
    demand_factor: float | None,
) -> dict[str, Any]:
    start_load = loadavg()
    wall0 = time.perf_counter()
    source = "schematic:almaty" if scale == "city" else f"schematic:almaty?scale={scale}"
    with clock.phase("network"):
        network = load_network(source)
    params = load_parameters()
    periods = tuple(p for p in demand.default_periods(params) if p.name in periods_wanted)
    if not periods:
        raise SystemExit(
            f"--periods: expected names among {[p.name for p in demand.default_periods(params)]}"
        )
    rngs = replication_rngs(seed, replication)
    draw = params.central()
    for name, value in (overrides or {}).items():
        if name not in draw:
            raise SystemExit(f"--set: expected a parameter name of the shipped files (got {name!r})")
        draw[name] = value
    with clock.phase("demand"):
        dist = trip_distribution.trip_distribution(network, params)
        daily = None
        if demand_factor is not None:  # as the peak calibration scales it (runs.pipeline.peak_simulation)
            daily = demand.default_daily_trips(network, params, distribution=dist) * demand_factor
        trips = demand.generate_trips(
            network, rng=rngs.demand, periods=periods, daily_trips=daily, params=params, distribution=dist
        )
        peds = pedestrians.pedestrian_demand(network, periods=periods, params=params)
    settings = simulation.TrafficSettings.from_values(draw)
    route_settings = routing.RouteChoiceSettings.from_values(draw)
    with clock.phase("route bookkeeping"):
        vehicles = simulation.simulate_vehicles(
            network,
            trips,
            rng=rngs.drivers,
            routing_rng=rngs.routing,
            periods=periods,
            settings=settings,
            route_settings=route_settings,
            reroute_passes=reroute_passes,
        )
    with clock.phase("record"):
        record = simulation.record_of(network, trips, peds, periods, vehicles)
    with clock.phase("risk"):
        est = crash_model.estimate(network, record, parameters=draw)
    wall = time.perf_counter() - wall0
    index = demand.congestion_index(network, record.trips, settings)
    positions = len(vehicles.routes.links)
    rc = record.route_choice
    entries = int(np.isfinite(vehicles.times.ent).sum())
    total = sum(clock.cpu_s.values())
    return {
        "case": source,
        "seed": seed,
        "replication": replication,
        "demand_factor": demand_factor,
        "reroute_passes": reroute_passes,
        "periods": [p.name for p in periods],
        "links": len(network.links),
        "nodes": len(network.nodes),
        "trips": len(trips),
        "simulations": len(rc),
        "simulations_run": int(vehicles.simulations),
        "phase": [str(x) for x in rc["phase"]],
        "outside_band": [round(float(x), 4) for x in rc["outside_band"]],
        "mean_trip_s": [round(float(x), 1) for x in rc["mean_trip_s"]],
        "arrived_by_row": [round(float(x), 5) for x in rc["arrived_share"]],
        "stop_reasons": [str(x) for x in rc["stop_reason"] if x],
        "relative_gap": [round(float(g), 4) for g in rc["relative_gap"]],
        "relative_gap_se": [round(float(g), 4) for g in rc["relative_gap_se"]],
        "trees": [int(t) for t in rc["trees"]],
        "stop_reason": str(rc["stop_reason"].iloc[-1]) if len(rc) else None,
        "arrived_share": round(float(record.trips["completed"].mean()), 4) if len(record.trips) else None,
        "congestion_index": round(index, 4),
        "route_positions_last": positions,
        "link_entries_last": entries,
        "cpu_s": {k: round(v, 2) for k, v in clock.cpu_s.items()},
        "calls": clock.calls,
        "peak_mib": {k: round(v, 1) for k, v in clock.peak_mib.items()} if clock.memory else None,
        "end_mib": {k: round(v, 1) for k, v in clock.end_mib.items()} if clock.memory else None,
        "cpu_s_total": round(total, 2),
        "cpu_s_replication": round(total - clock.cpu_s["network"], 2),
        "wall_s": round(wall, 2),
        # clear_refs also resets the high-water mark ru_maxrss reads: with --memory, the phases' largest
        "peak_rss_mib": round(
            max(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                _status_kib("VmHWM") / 1024,
                *clock.peak_mib.values(),
            ),
            1,
        ),
        "deaths_raw": round(float(est.injuries["per_year"].sum()), 4) if "per_year" in est.injuries else None,
        "ksi_raw": round(est.totals()["ksi"], 4),
        # the replication's outputs, hashed: two runs of the same case agree bit for bit where these are equal
        # (the route-choice log without its ``trees`` column: a count of the work, not a result)
        "outputs_sha256": {
            name: _digest(getattr(record, name)) for name in ("trips", "link_stats", "passages", "speed_hist")
        }
        | {"route_choice": _digest(rc.drop(columns="trees"))}
        | {"injuries": _digest(est.injuries)},
        "loadavg_start": start_load,
        "loadavg_end": loadavg(),
    }


def _digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's column names and values (row order included; floats by their bits)."""
    h = hashlib.sha256(repr(list(frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def print_run(out: dict[str, Any]) -> None:
    """One run's phases, gap, index and load."""
    sims = max(1, out["simulations"])
    loop_us = 1e6 * out["cpu_s"]["loop"] / max(1, out["link_entries_last"] * sims)
    print(
        f"{out['case']} {out['periods']} seed {out['seed']} replication {out['replication']}, demand "
        f"x{out['demand_factor'] or 1.0}, reroute passes {out['reroute_passes'] or 'default'}: "
        f"{out['links']:,} links, {out['trips']:,} trips, "
        f"{out['simulations']} simulations (relative gap {out['relative_gap']}, standard error "
        f"{out['relative_gap_se']}; trees grown after each simulation {out['trees']})"
    )
    print(
        f"simulations run {out['simulations_run']} ({out['simulations']} log rows), stops {out['stop_reasons']}; "
        f"per row phase / gap / outside band / mean trip s / arrived: "
        + "; ".join(
            f"{ph[0]} {g} {o} {t} {a}"
            for ph, g, o, t, a in zip(
                out["phase"],
                out["relative_gap"],
                out["outside_band"],
                out["mean_trip_s"],
                out["arrived_by_row"],
                strict=True,
            )
        )
    )
    print(f"KSI raw {out['ksi_raw']}")
    mem = out["peak_mib"] is not None
    head = f"{'peak MiB':>10}{'end MiB':>9}" if mem else ""
    print(f"{'phase':<20}{'CPU s':>9}{'calls':>7}{head}")
    for k in PHASES:
        tail = f"{out['peak_mib'][k]:>10.0f}{out['end_mib'][k]:>9.0f}" if mem else ""
        print(f"{k:<20}{out['cpu_s'][k]:>9.2f}{out['calls'][k]:>7}{tail}")
    print(f"{'replication':<20}{out['cpu_s_replication']:>9.2f}   (all but network)")
    print(
        f"loop per link entry ~{loop_us:.2f} us ({out['link_entries_last']:,} entries in the last simulation)"
    )
    print(
        f"wall {out['wall_s']:.1f} s, peak RSS {out['peak_rss_mib']:.0f} MiB, arrived {out['arrived_share']}, "
        f"congestion index {out['congestion_index']}"
    )
    digests = ", ".join(f"{k} {v[:12]}" for k, v in out["outputs_sha256"].items())
    print(f"outputs (SHA-256): {digests}")
    print(f"loadavg start: {out['loadavg_start']} | end: {out['loadavg_end']}", flush=True)


def _mean_se(values: list[float]) -> str:
    """Mean +- standard error over the replications (the mean alone for one)."""
    a = np.asarray(values, dtype=float)
    if a.size < 2:
        return f"{a.mean():.3f}"
    return f"{a.mean():.3f} +- {a.std(ddof=1) / np.sqrt(a.size):.3f}"


def print_settings(runs: list[dict[str, Any]]) -> None:
    """Per re-routing setting, over the replications: last gap, index, arrived, simulations, CPU-s, load."""
    print(
        "\nper setting (mean +- standard error over the replications; last gap: each run's sampled estimate):"
    )
    print(
        "| reroute passes | reps | simulations run | last gap | outside band | mean trip s | index | arrived | KSI raw "
        "| CPU-s routing / loop / replication | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for passes in dict.fromkeys(r["reroute_passes"] for r in runs):
        rs = [r for r in runs if r["reroute_passes"] == passes]
        cpu = {k: _mean_se([r["cpu_s"][k] for r in rs]) for k in ("routing", "loop")}
        print(
            f"| {passes if passes is not None else 'default'} | {len(rs)} | "
            f"{'/'.join(str(r['simulations_run']) for r in rs)} | {_mean_se([r['relative_gap'][-1] for r in rs])} | "
            f"{_mean_se([100 * r['outside_band'][-1] for r in rs])}% | {_mean_se([r['mean_trip_s'][-1] for r in rs])} | "
            f"{_mean_se([r['congestion_index'] for r in rs])} | "
            f"{_mean_se([100 * r['arrived_share'] for r in rs])}% | {_mean_se([r['ksi_raw'] for r in rs])} | "
            f"{cpu['routing']} / {cpu['loop']} / "
            f"{_mean_se([r['cpu_s_replication'] for r in rs])} | "
            f"{rs[0]['loadavg_start'].split()[0]}-{rs[-1]['loadavg_end'].split()[0]} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="city", help="city, district, small, tiny (schematic:almaty presets)")
    ap.add_argument("--periods", nargs="+", default=["am_peak"])
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument(
        "--replication", "--replications", type=int, nargs="+", default=[0], help="one run per replication"
    )
    ap.add_argument(
        "--json", type=Path, default=None, help="also write the result (a list with several runs)"
    )
    ap.add_argument(
        "--memory", action="store_true", help="also each phase's peak RSS and its RSS at the end (Linux)"
    )
    ap.add_argument(
        "--reroute-passes",
        type=int,
        nargs="+",
        default=[None],
        help="at most this many re-routing iterations (default: the parameters'; 0: free-flow routes only); "
        "several values: one run per value",
    )
    ap.add_argument(
        "--demand-factor",
        type=float,
        default=None,
        help="the default daily trips x this, as the peak calibration scales them (default: the default demand)",
    )
    ap.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="override central parameter values, e.g. traffic.route_choice.gap_sample_origins=0",
    )
    args = ap.parse_args()
    overrides = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set: expected NAME=VALUE (got {item!r})")
        overrides[name] = float(value)
    if overrides:
        print(f"overrides: {overrides}")
    runs = []
    for passes in args.reroute_passes:
        for rep in args.replication:
            out = run(
                args.scale, args.periods, args.seed, rep, args.memory, passes, overrides, args.demand_factor
            )
            print_run(out)
            runs.append(out)
    if len(runs) > 1:
        print_settings(runs)
    if args.json:
        args.json.write_text(json.dumps(runs[0] if len(runs) == 1 else runs, indent=2))


if __name__ == "__main__":
    main()
