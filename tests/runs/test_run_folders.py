"""Run-ids (vision_zero.runs.run_folders.run_id): what the content of a scenario is, not where its files are.

A scenario folder with every kind of file a scenario can name (a network file, an OD table, pedestrian counts,
crash records, a parameters file, a polygon) is made twice, in two places: both copies get one run-id and the
second reuses the first's replications; editing one file's content, or one value, gives a new run-id.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _replication_task import ToyPrepared, toy_task

from vision_zero.runs.jobs import ScenarioJob, scenario_job
from vision_zero.runs.parallel import SerialExecutor
from vision_zero.runs.replications import run_job
from vision_zero.runs.results import ReplicationResult
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
