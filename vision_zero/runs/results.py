"""Result data and its on-disk layout.

Layout of one run (DESIGN.md "Result layout")::

    results/<scenario>/<run-id>/
        scenario.toml          the resolved scenario (extends applied)
        manifest.json          package version and code fingerprint, seed, network source/fingerprint, schematic
                               flag, created
        replications/rep-0000/ one folder per finished replication, written atomically (tmp folder + rename)
            summary.json       headline numbers (see ReplicationResult.summary)
            injuries.parquet   CrashEstimate.injuries
            link_traffic.parquet  annualised per-link traffic
            speed_hist.parquet sparse speed histogram (period, link, bin_lo_kph, count)
            parameters.json    the parameter draw of this replication
        replications.csv       headline numbers of every replication (written by vision_zero.runs.replications)
        summary.parquet / summary.csv, charts, report.html, links.gpkg (written by compare/report)

A replication folder exists only when complete, so a rerun skips the ones present (resume).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "ReplicationResult",
    "atomic_write_bytes",
    "atomic_write_text",
    "completed_replications",
    "read_replication",
    "read_replication_summary",
    "replication_dir",
    "write_replication",
]

_TABLES = ("injuries", "link_traffic", "speed_hist")


@functools.cache
def _umask() -> int:
    """The process umask, read once on first use (os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@dataclass(frozen=True)
class ReplicationResult:
    """Everything one replication of one scenario produced, annualised.

    Attributes
    ----------
    scenario
        Scenario name.
    replication
        Replication index (0-based); replication i of every scenario shares random streams (CRN).
    seed
        The run's base seed.
    summary
        Headline numbers [per year]: ``fatal``, ``serious``, ``slight``, ``ksi`` and the same per road user as
        ``fatal_pedestrian`` …; ``veh_km``, ``veh_h`` [per year]; ``trips``, ``trips_completed``,
        ``trips_en_route`` (simulated, not annualised); ``schematic`` (1.0 or 0.0).
    injuries
        :attr:`vision_zero.risk.crash_model.CrashEstimate.injuries`.
    link_traffic
        One row per link: ``link``, ``veh_km_per_year``, ``veh_h_per_year``, ``mean_speed_kph``,
        ``p85_speed_kph``, ``share_over_limit`` (flow-weighted over periods).
    speed_hist
        :attr:`vision_zero.traffic.simulation.TrafficRecord.speed_hist` summed over periods and annualised counts.
    parameters
        The parameter draw used (name -> value).
    """

    scenario: str
    replication: int
    seed: int
    summary: dict[str, float]
    injuries: pd.DataFrame
    link_traffic: pd.DataFrame
    speed_hist: pd.DataFrame
    parameters: dict[str, float]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def replication_dir(run_dir: Path, replication: int) -> Path:
    """The folder of replication ``replication`` inside a run folder."""
    return run_dir / "replications" / f"rep-{replication:04d}"


def write_replication(run_dir: Path, result: ReplicationResult) -> Path:
    """Write one replication atomically: build it in a temporary folder, then rename it into place."""
    final = replication_dir(run_dir, result.replication)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        meta: dict[str, Any] = {
            "scenario": result.scenario,
            "replication": result.replication,
            "seed": result.seed,
            "summary": result.summary,
        }
        (tmp / "summary.json").write_text(json.dumps(meta, indent=2, sort_keys=True), "utf-8")
        (tmp / "parameters.json").write_text(json.dumps(result.parameters, indent=2, sort_keys=True), "utf-8")
        for name in _TABLES:
            frame: pd.DataFrame = getattr(result, name)
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        if final.exists():  # an identical rerun: replace
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process (a second run of the same folder) put the same replication in place between the
            # check and the rename. Replications are deterministic, so its copy is as good as ours.
            if not (final / "summary.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_replication(path: Path) -> ReplicationResult:
    """Read a replication folder written by :func:`write_replication`."""
    meta = json.loads((path / "summary.json").read_text("utf-8"))
    params = json.loads((path / "parameters.json").read_text("utf-8"))
    tables = {name: pd.read_parquet(path / f"{name}.parquet") for name in _TABLES}
    return ReplicationResult(
        scenario=meta["scenario"],
        replication=int(meta["replication"]),
        seed=int(meta["seed"]),
        summary={k: float(v) for k, v in meta["summary"].items()},
        parameters={k: float(v) for k, v in params.items()},
        **tables,
    )


def completed_replications(run_dir: Path) -> list[int]:
    """Indices of the replications finished in ``run_dir`` (complete folders only), sorted.

    Hidden temporary folders left by an interrupted write (``.rep-0003.xxxx``) are not counted.
    """
    root = run_dir / "replications"
    if not root.is_dir():
        return []
    done = []
    for entry in root.iterdir():
        name = entry.name
        if name.startswith("rep-") and name[4:].isdigit() and (entry / "summary.json").is_file():
            done.append(int(name[4:]))
    return sorted(done)


def read_replication_summary(path: Path) -> dict[str, float]:
    """Only the headline numbers of a replication folder (fast: no tables are read)."""
    meta = json.loads((path / "summary.json").read_text("utf-8"))
    return {k: float(v) for k, v in meta["summary"].items()}
