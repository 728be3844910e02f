"""A small, genuine replication task for the engine's tests (independent of the full pipeline).

A handful of links with lengths, flows and speed limits; each replication draws traffic (flow and speed noise)
from the ``demand`` and ``drivers`` streams and a power-model exponent from the ``parameters`` stream, computes
expected injuries per link with Nilsson's power model against a reference rate, and calibrates like the real
pipeline: a baseline on itself, a variant with the baseline replication's raw totals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vision_zero.core.seeding import replication_rngs
from vision_zero.runs.jobs import NetworkInfo, ScenarioJob
from vision_zero.runs.results import ReplicationResult

SEVERITY_EXPONENT = {"fatal": 4.0, "serious": 3.0, "slight": 2.0}
OBSERVED = {"fatal": 2.0, "serious": 20.0, "slight": 80.0}


@dataclass(frozen=True)
class ToyPrepared:
    name: str
    seed: int
    length_m: tuple[float, ...]
    flow_vph: tuple[float, ...]
    limit_kph: tuple[float, ...]
    delay_s: float = 0.0


def toy_task(prep: ToyPrepared, replication: int, baseline_raw: pd.DataFrame | None) -> ReplicationResult:
    rngs = replication_rngs(prep.seed, replication)
    n = len(prep.length_m)
    length_km = np.asarray(prep.length_m) / 1000.0
    flow = np.asarray(prep.flow_vph) * rngs.demand.lognormal(0.0, 0.2, n)
    speed = np.asarray(prep.limit_kph) * rngs.drivers.normal(1.05, 0.05, n)
    scale = rngs.parameters.normal(1.0, 0.1)
    veh_km = flow * length_km * 8760.0
    rows = []
    for sev, exp in SEVERITY_EXPONENT.items():
        raw = 1e-7 * veh_km * (speed / 50.0) ** (exp * scale)
        for link in range(n):
            rows.append(("link", link, "occupant", sev, float(raw[link])))
    inj = pd.DataFrame(rows, columns=["site_type", "site", "road_user", "severity", "per_year_raw"])
    ref = inj if baseline_raw is None else baseline_raw
    factor = {s: OBSERVED[s] / ref.loc[ref.severity == s, "per_year_raw"].sum() for s in OBSERVED}
    inj["per_year"] = inj.per_year_raw * inj.severity.map(factor)
    tot = inj.groupby("severity").per_year.sum()
    summary = {s: float(tot[s]) for s in OBSERVED}
    summary["ksi"] = summary["fatal"] + summary["serious"]
    summary["veh_km"] = float(veh_km.sum())
    summary["veh_h"] = float((veh_km / speed).sum())
    summary["schematic"] = 1.0
    traffic = pd.DataFrame(
        {
            "link": np.arange(n),
            "veh_km_per_year": veh_km,
            "mean_speed_kph": speed,
            "p85_speed_kph": speed * 1.1,
        }
    )
    hist = pd.DataFrame({"link": np.arange(n), "bin_lo_kph": np.floor(speed / 5) * 5, "count": np.ones(n)})
    if prep.delay_s:
        time.sleep(prep.delay_s)
    return ReplicationResult(
        prep.name, replication, prep.seed, summary, inj, traffic, hist, {"power.scale": float(scale)}
    )


def toy_job(
    *,
    seed: int = 7,
    limit_kph: float = 40.0,
    replications: int = 4,
    delay_s: float = 0.0,
    name: str = "variant",
) -> ScenarioJob:
    """A baseline at 60 km/h and a variant with ``limit_kph`` on the first three links."""
    lengths = (400.0, 650.0, 300.0, 900.0, 500.0)
    flows = (900.0, 1200.0, 300.0, 600.0, 150.0)
    net = NetworkInfo(source="toy:5-links", fingerprint="toy0001", schematic=True, label="toy (SCHEMATIC)")
    base_prep = ToyPrepared("baseline", seed, lengths, flows, (60.0,) * 5, delay_s)
    base = ScenarioJob("baseline", "name = 'baseline'\n", seed, replications, base_prep, toy_task, net)
    limits = (limit_kph,) * 3 + (60.0, 60.0)
    var_prep = ToyPrepared(name, seed, lengths, flows, limits, delay_s)
    toml = f"name = '{name}'\nextends = 'baseline'\nlimit_kph = {limit_kph}\n"
    return ScenarioJob(name, toml, seed, replications, var_prep, toy_task, net, baseline=base)


class CallLog:
    """A payload that remembers the tasks that used it (a stand-in for a prepared scenario's identity).

    Every unpickled copy gets a new ``copy_id`` (the original keeps ``"original"``), so a test can count the
    copies an executor made: one per worker process if the payload is shipped once per worker.
    """

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.copy_id = "original"

    def __setstate__(self, state: dict[str, object]) -> None:
        import uuid

        self.__dict__.update(state)
        self.copy_id = uuid.uuid4().hex


def count_calls(payload: CallLog, item: int) -> tuple[int, int, str, int]:
    """Record ``item`` on the worker's copy of ``payload``; return (pid, item, copy id, calls seen by that copy).

    If the payload is shipped once per worker, a worker's tasks all see one copy, which accumulates calls
    (1, 2, 3 …); if it were shipped with every task, every task would see a copy of its own.
    """
    import os

    payload.calls.append(item)
    return os.getpid(), item, payload.copy_id, len(payload.calls)


def tagged(payload: str, item: int) -> tuple[str, int]:
    """Return ``(payload, item)``: which task ran."""
    return payload, item


def kill_self(payload: object, item: int) -> int:
    """Die with SIGKILL on item 1 (a worker crash, as from the out-of-memory killer)."""
    import os
    import signal

    if item == 1:
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGKILL)
    return item


#: The ``peak_*`` keys of a run whose calibration tried the default and then the upper SCIENCE.md §10 bound.
PEAK_AT_BOUND = {
    "peak_target": 1.7,
    "peak_congestion_index": 1.15,
    "peak_completed_share": 0.99,
    "peak_factor": 1.152,
    "peak_factor_low": 0.855,
    "peak_factor_high": 1.152,
    "peak_steps": 2.0,
    "peak_reached": 0.0,
}


def truncate(path: Path) -> None:
    """Cut a file to half its size: a replication file damaged in writing."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
