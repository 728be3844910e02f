"""Run folders: ``<out>/<scenario>/<run-id>/``, the run-id, the manifest, and what an interrupted run left behind.

The run-id is a hash of the scenario's content, the seed, the network fingerprint and the code fingerprint (and, for
a variant, of its baseline's), so the same command with the same build finds the same folder, wherever the scenario
and its files lie, and a changed model or a changed input file never reuses old results; what no replication
reads (the description, the money values: :data:`vision_zero.program.scenario.NOT_IN_RUN_CONTENT`) is not in it.
The files in a run folder are laid out in :mod:`vision_zero.runs.results`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from vision_zero.core.errors import DataError
from vision_zero.core.version import __version__
from vision_zero.runs.jobs import ScenarioJob
from vision_zero.runs.results import atomic_write_text, safe_file_name

__all__ = ["code_fingerprint", "prepare_run_dir", "run_id", "scenario_run_dir"]


def run_id(job: ScenarioJob) -> str:
    """Deterministic id of a run: ``seed<seed>-`` and 12 hex digits of :func:`_content_digest`.

    The scenario enters by its content (:attr:`~vision_zero.runs.jobs.ScenarioJob.content`: no paths, each file
    it names by a digest of its bytes), so a scenario copied with its files to another folder or checkout finds
    the replications already run, and an input file edited under the same path does not. The code fingerprint is
    part of the id so that results computed by an older build of the model are never resumed into, or silently
    reused by, a newer one: a changed model gets a new run folder.

    History: until 2026-12-02 the id hashed the resolved scenario's text with its absolute paths (folders made
    before then get a new id once).
    """
    return f"seed{job.seed}-{_content_digest(job)[:12]}"


def _content_digest(job: ScenarioJob) -> str:
    """sha256 of the scenario's content, the seed, the network and code fingerprints, and the baseline's digest.

    A variant is calibrated on its baseline's replications (and compared with them), so its digest includes its
    baseline's: a variant naming a baseline it does not extend changes with that baseline's content.
    """
    h = hashlib.sha256()
    content = job.scenario_toml if job.content is None else job.content
    parts = [content, str(job.seed), job.network.fingerprint, code_fingerprint()]
    if job.baseline is not None:
        parts += ["baseline", _content_digest(job.baseline)]
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def scenario_run_dir(out_dir: Path, job: ScenarioJob) -> Path:
    """``<out_dir>/<scenario>/<run-id>``."""
    return Path(out_dir) / safe_file_name(job.name) / run_id(job)


@functools.cache
def code_fingerprint() -> str:
    """Hash of the package's source and data files: tells apart two builds that share a version number."""
    root = Path(__file__).resolve().parents[1]  # the vision_zero package
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".toml", ".csv", ".json"):
            h.update(path.relative_to(root).as_posix().encode("utf-8"))
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _manifest(job: ScenarioJob, run_dir: Path) -> dict[str, Any]:
    return {
        "scenario": job.name,
        "run_id": run_dir.name,
        "package": "vision-zero",
        "version": __version__,
        "code_fingerprint": code_fingerprint(),
        "seed": job.seed,
        "network": {
            "source": job.network.source,
            "fingerprint": job.network.fingerprint,
            "schematic": job.network.schematic,
            "label": job.network.label,
        },
        "schematic": job.network.schematic,
        "baseline": None if job.baseline is None else job.baseline.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def prepare_run_dir(job: ScenarioJob, run_dir: Path) -> None:
    """Create the run folder with its scenario and manifest, or check an existing one belongs to this job."""
    manifest_path = run_dir / "manifest.json"
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{manifest_path}: expected a JSON manifest ({exc})") from exc
        if (
            old.get("seed") != job.seed
            or old.get("network", {}).get("fingerprint") != job.network.fingerprint
        ):
            raise DataError(
                f"{manifest_path}: this folder belongs to a different run (seed {old.get('seed')}, network "
                f"{old.get('network', {}).get('fingerprint')}); expected seed {job.seed}, network "
                f"{job.network.fingerprint}. Remove the folder or choose another --out"
            )
        if old.get("version") != __version__:
            raise DataError(
                f"{manifest_path}: version: expected a run folder written by vision-zero {__version__} (got "
                f"{old.get('version')}); resuming would mix replications of two versions. Remove the folder or "
                "choose another --out"
            )
    else:
        atomic_write_text(run_dir / "scenario.toml", job.scenario_toml)
        atomic_write_text(manifest_path, json.dumps(_manifest(job, run_dir), indent=2, sort_keys=True) + "\n")
    _remove_stale_temporaries(run_dir)


def _remove_stale_temporaries(run_dir: Path, *, older_than_s: float = 600.0) -> None:
    """Delete half-written replication folders an interrupted run left behind (hidden ``.rep-…``)."""
    root = run_dir / "replications"
    if not root.is_dir():
        return
    now = time.time()
    for entry in root.iterdir():
        if entry.name.startswith(".rep-") and now - entry.stat().st_mtime > older_than_s:
            shutil.rmtree(entry, ignore_errors=True)
