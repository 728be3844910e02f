"""Run folders (vision_zero.runs.run_folders): their layout and manifest, a folder of another run refused, stale
temporaries removed; and run-ids (``run_id``): what the content of a scenario is, not where its files are.

A scenario folder with every kind of file a scenario can name (a network file, an OD table, pedestrian counts,
crash records, a parameters file, a polygon) is made twice, in two places: both copies get one run-id and the
second reuses the first's replications; editing one file's content, or one value, gives a new run-id.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from _replication_task import ToyPrepared, toy_job, toy_task

from vision_zero.core.errors import DataError
from vision_zero.core.version import __version__
from vision_zero.runs.jobs import ScenarioJob, scenario_job
from vision_zero.runs.parallel import SerialExecutor
from vision_zero.runs.replications import run_job
from vision_zero.runs.results import (
    ReplicationResult,
    completed_replications,
)
from vision_zero.runs.run_folders import run_id, scenario_run_dir

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

BASE = """\
name = "base"
description = "tiny test network with every kind of input file"

[network]
source = "square.graphml"

[demand]
od_file = "od.csv"
pedestrian_file = "peds.csv"

[simulation]
replications = 2
seed = 3

[calibration]
crash_records = "crashes.csv"

[risk]
parameters = "params.toml"
"""

SLOW = """\
name = "slow"
description = "30 km/h inside the zone"
extends = "base.toml"

[[interventions]]
type = "speed_limit"
limit_kph = 30
where = { polygon = "zone.geojson" }
"""

OWN = """\
name = "own"
description = "its own settings, compared against base.toml (baseline, not extends)"
baseline = "base.toml"

[network]
source = "square.graphml"
"""

FILES = {
    "od.csv": "origin,destination,period,trips\n0,2,am_peak,5\n",
    "peds.csv": "crossing,period,peds_per_h\n0,am_peak,5\n",
    "crashes.csv": "lat,lon,date,severity,road_user\n43.238,76.946,2023-05-01,fatal,pedestrian\n",
    "params.toml": '[risk.power_model.exponent.fatal]\nvalue = 4.0\nunit = "1"\nsource = "x"\nstatus = "assumption"\n',
    "zone.geojson": '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}\n',
    "base.toml": BASE,
    "slow.toml": SLOW,
    "own.toml": OWN,
}


def scenario_folder(root: Path) -> Path:
    """``root`` with the two scenarios and every file they name (relative paths, as a user writes them)."""
    root.mkdir(parents=True)
    shutil.copy(CORPUS / "square.graphml", root / "square.graphml")
    for name, text in FILES.items():
        (root / name).write_text(text, "utf-8")
    return root


def job_of(path: Path) -> ScenarioJob:
    return scenario_job(path, lazy=True)  # lazy: the files are only named, never read into a model


RUNS: list[int] = []


def counting_task(
    prep: ToyPrepared, replication: int, baseline_raw: pd.DataFrame | None
) -> ReplicationResult:
    """The toy replication, counted (a re-run replication shows up in :data:`RUNS`)."""
    RUNS.append(replication)
    return toy_task(prep, replication, baseline_raw)


def toy(job: ScenarioJob) -> ScenarioJob:
    """``job`` with its identity (scenario, seed, network) but a cheap counted task instead of the pipeline."""
    prep = ToyPrepared(job.name, job.seed, (400.0, 650.0), (900.0, 1200.0), (60.0, 50.0))
    return dataclasses.replace(job, payload=prep, task=counting_task, shares_traffic=False)


def test_the_same_scenario_in_another_folder_has_the_same_run_id(tmp_path: Path) -> None:
    a, b = scenario_folder(tmp_path / "a"), scenario_folder(tmp_path / "elsewhere" / "b")
    ja, jb = job_of(a / "slow.toml"), job_of(b / "slow.toml")
    assert str(a) in ja.scenario_toml and str(b) in jb.scenario_toml  # the written scenario keeps its paths
    assert run_id(ja) == run_id(jb)
    assert ja.baseline is not None and jb.baseline is not None
    assert run_id(ja.baseline) == run_id(jb.baseline)


def test_a_copied_scenario_reuses_the_replications_already_run(tmp_path: Path) -> None:
    a, b = scenario_folder(tmp_path / "a"), scenario_folder(tmp_path / "b")
    out = tmp_path / "results"
    RUNS.clear()
    first = run_job(toy(job_of(a / "base.toml")), out_dir=out, executor=SerialExecutor(), progress=False)
    assert (first.resumed, RUNS) == (0, [0, 1])
    files = sorted((first.run_dir / "replications").rglob("*"))
    mtimes = [p.stat().st_mtime_ns for p in files]
    second = run_job(toy(job_of(b / "base.toml")), out_dir=out, executor=SerialExecutor(), progress=False)
    assert second.run_dir == first.run_dir
    assert (second.resumed, RUNS) == (2, [0, 1])  # nothing ran again
    assert [p.stat().st_mtime_ns for p in files] == mtimes
    assert second.summaries == first.summaries
    # the folder's scenario.toml is the one written when it was made (the first copy's paths)
    assert str(a / "od.csv") in (first.run_dir / "scenario.toml").read_text("utf-8")


@pytest.mark.parametrize("name", ["od.csv", "peds.csv", "crashes.csv", "params.toml", "square.graphml"])
def test_editing_a_file_the_scenario_names_gives_a_new_run_id(tmp_path: Path, name: str) -> None:
    folder = scenario_folder(tmp_path / "s")
    before = run_id(job_of(folder / "base.toml"))
    path = folder / name
    if name == "square.graphml":  # Abay Avenue's first link from 60 to 50 km/h
        path.write_text(
            path.read_text("utf-8").replace('<data key="d11">60</data>', '<data key="d11">50</data>', 1)
        )
    else:
        path.write_text(path.read_text("utf-8").replace("5", "6").replace("4.0", "3.0"), "utf-8")
    assert run_id(job_of(folder / "base.toml")) != before


def test_editing_the_polygon_or_the_baseline_gives_a_variant_a_new_run_id(tmp_path: Path) -> None:
    folder = scenario_folder(tmp_path / "s")
    before = run_id(job_of(folder / "slow.toml"))
    (folder / "zone.geojson").write_text(FILES["zone.geojson"].replace("[1, 1]", "[2, 2]"), "utf-8")
    assert run_id(job_of(folder / "slow.toml")) != before
    # own.toml names base.toml as its baseline without inheriting from it: none of base's values is in own's
    # resolved scenario, yet own is calibrated on base's replications, so a change of base changes own's id
    own = run_id(job_of(folder / "own.toml"))
    (folder / "base.toml").write_text(BASE.replace("seed = 3", "seed = 3\nplatoon_size = 2"), "utf-8")
    assert run_id(job_of(folder / "own.toml")) != own


def test_changing_a_scenario_value_gives_a_new_run_id(tmp_path: Path) -> None:
    folder = scenario_folder(tmp_path / "s")
    before = run_id(job_of(folder / "slow.toml"))
    (folder / "slow.toml").write_text(SLOW.replace("limit_kph = 30", "limit_kph = 40"), "utf-8")
    assert run_id(job_of(folder / "slow.toml")) != before
    assert run_id(scenario_job(folder / "slow.toml", seed=4, lazy=True)) != before
    assert scenario_run_dir(tmp_path, job_of(folder / "base.toml")).parent == tmp_path / "base"


def test_rewording_the_description_or_changing_the_money_values_keeps_the_run_id(tmp_path: Path) -> None:
    # no replication reads them (the comparison reads both from the scenario file): nothing to simulate again
    folder = scenario_folder(tmp_path / "s")
    base, slow = run_id(job_of(folder / "base.toml")), run_id(job_of(folder / "slow.toml"))
    (folder / "base.toml").write_text(
        BASE.replace(
            'description = "tiny test network with every kind of input file"', 'description = "reworded"'
        )
        + "\n[economics]\ndiscount_rate = 0.07\nhorizon_years = 10\n",
        "utf-8",
    )
    (folder / "slow.toml").write_text(SLOW.replace("30 km/h inside the zone", "a zone"), "utf-8")
    assert job_of(folder / "base.toml").scenario_toml != FILES["base.toml"]  # the scenario did change
    assert "reworded" in job_of(folder / "base.toml").scenario_toml
    assert run_id(job_of(folder / "base.toml")) == base
    assert run_id(job_of(folder / "slow.toml")) == slow  # its baseline's content is in its id: unchanged too
    # a value a replication reads still gives a new id
    (folder / "base.toml").write_text(BASE.replace("seed = 3", "seed = 3\nplatoon_size = 2"), "utf-8")
    assert run_id(job_of(folder / "base.toml")) != base


def test_run_folder_layout_and_manifest(tmp_path: Path) -> None:
    job = toy_job(replications=2)
    res = run_job(job, out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    assert res.run_dir == tmp_path / "variant" / run_id(job)
    assert res.run_dir.name.startswith("seed7-")
    assert (res.run_dir / "scenario.toml").read_text() == job.scenario_toml
    manifest = json.loads((res.run_dir / "manifest.json").read_text())
    assert manifest["version"] == __version__
    assert len(manifest["code_fingerprint"]) == 16
    assert manifest["seed"] == 7
    assert manifest["schematic"] is True
    assert manifest["network"]["fingerprint"] == "toy0001"
    assert manifest["network"]["source"] == "toy:5-links"
    assert manifest["baseline"] == "baseline"
    assert "created" in manifest
    assert completed_replications(res.run_dir) == [0, 1]
    # the baseline ran in its own folder
    assert res.baseline is not None
    assert res.baseline.run_dir == scenario_run_dir(tmp_path, job.baseline)  # type: ignore[arg-type]
    assert completed_replications(res.baseline.run_dir) == [0, 1]
    # the run folder holds what the layout (vision_zero.runs.results' docstring) lists, and nothing else
    from vision_zero.runs import results

    assert sorted(p.name for p in res.run_dir.iterdir()) == sorted(results.RUN_FOLDER_ENTRIES)
    # a baseline run only for its variant's pairs: its replications, no summary of its own yet
    assert {p.name for p in res.baseline.run_dir.iterdir()} == {
        "scenario.toml",
        "manifest.json",
        "replications",
    }
    layout = (results.__doc__ or "").split("::")[1].split("Nothing else")[0]
    for name in results.RUN_FOLDER_ENTRIES:
        assert f"    {name}" in layout
    assert "summary.parquet" not in layout and "report.html" not in layout  # written by compare, elsewhere


def test_run_id_is_deterministic() -> None:
    assert run_id(toy_job()) == run_id(toy_job())
    assert run_id(toy_job(seed=8)) != run_id(toy_job())
    assert run_id(toy_job(limit_kph=30)) != run_id(toy_job())


def test_a_changed_model_gets_a_new_run_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    import vision_zero.runs.run_folders as run_folders

    before = run_id(toy_job())
    monkeypatch.setattr(run_folders, "code_fingerprint", lambda: "another-build")
    assert run_id(toy_job()) != before


def test_folder_of_another_run_is_refused(tmp_path: Path) -> None:
    job = toy_job(replications=1)
    res = run_job(job, out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    manifest = res.run_dir / "manifest.json"
    data = json.loads(manifest.read_text())
    data["network"]["fingerprint"] = "other"
    manifest.write_text(json.dumps(data))
    with pytest.raises(DataError, match="belongs to a different run"):
        run_job(job, out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    data["network"]["fingerprint"] = "toy0001"
    data["version"] = "0.0.1"
    manifest.write_text(json.dumps(data))
    with pytest.raises(DataError, match="resuming would mix replications of two versions"):
        run_job(job, out_dir=tmp_path, executor=SerialExecutor(), progress=False)


def test_stale_partial_folders_are_removed(tmp_path: Path) -> None:
    job = toy_job(replications=1)
    res = run_job(job, out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    stale = res.run_dir / "replications" / ".rep-0001.crashed"
    fresh = res.run_dir / "replications" / ".rep-0002.writing"
    stale.mkdir()
    fresh.mkdir()
    old = time.time() - 3600
    os.utime(stale, (old, old))
    run_job(job, out_dir=tmp_path, executor=SerialExecutor(), replications=2, progress=False)
    assert not stale.exists()
    assert fresh.exists()  # may belong to a run in progress
    assert completed_replications(res.run_dir) == [0, 1]
