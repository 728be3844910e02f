"""Replication folders on disk: written atomically, read back, damage named."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _replication_task import toy_job, truncate

from vision_zero.core.errors import DataError
from vision_zero.runs.parallel import SerialExecutor
from vision_zero.runs.replications import run_job
from vision_zero.runs.results import (
    ReplicationResult,
    atomic_write_text,
    completed_replications,
    read_held_routes,
    read_replication,
    replication_dir,
    replication_problem,
    write_replication,
)
from vision_zero.traffic.routing import HeldRoutes, RouteCosts, Routes


def _result(rep: int) -> ReplicationResult:
    inj = pd.DataFrame(
        {
            "site_type": ["link"],
            "site": [3],
            "road_user": ["pedestrian"],
            "severity": ["fatal"],
            "per_year": [0.5],
        }
    )
    traffic = pd.DataFrame({"link": [3], "veh_km_per_year": [1e6]})
    hist = pd.DataFrame({"link": [3], "bin_lo_kph": [50.0], "count": [10]})
    return ReplicationResult("base", rep, 42, {"fatal": 0.5, "ksi": 0.5}, inj, traffic, hist, {"a.b": 1.5})


def test_round_trip(tmp_path: Path) -> None:
    path = write_replication(tmp_path, _result(2))
    assert path.name == "rep-0002"
    back = read_replication(path)
    assert back.summary == {"fatal": 0.5, "ksi": 0.5}
    assert back.parameters == {"a.b": 1.5}
    pd.testing.assert_frame_equal(back.injuries, _result(2).injuries)


def test_a_baselines_routes_are_kept_listed_and_read_back(tmp_path: Path) -> None:
    assert read_held_routes(write_replication(tmp_path / "variant", _result(0))) is None
    routes = Routes(ptr=np.array([0, 2, 3]), links=np.array([3, 5, 2], dtype=np.int32))
    costs = RouteCosts(link_s=np.arange(12.0).reshape(2, 6) + 0.125, edge_extra_s=np.array([0.0, 1.5, 0.0]))
    held = HeldRoutes(key=np.array([0, 4]), routes=routes, row=np.array([1, 0]), costs=costs)
    path = write_replication(tmp_path / "base", dataclasses.replace(_result(0), routes=held))
    back = read_held_routes(path)
    assert back is not None and back.costs is not None and back.row is not None
    pd.testing.assert_frame_equal(back.to_frame(), held.to_frame())
    assert np.array_equal(back.costs.link_s, costs.link_s)
    assert np.array_equal(back.costs.edge_extra_s, costs.edge_extra_s)
    assert replication_problem(path) is None
    for name in ("routes.parquet", "route_costs.parquet"):  # both listed in files.json: damage is found
        good = (path / name).read_bytes()
        (path / name).write_bytes(b"damaged")
        assert replication_problem(path) is not None
        (path / name).write_bytes(good)
    # a baseline written by an older version kept each route's forgone saving instead of the costs
    old = pd.DataFrame({"driver": [0, 0, 4], "link": [3, 5, 2], "forgone_s": [0.0, 0.0, 7.5]})
    old.to_parquet(path / "routes.parquet", index=False)
    back = read_held_routes(path)
    assert back is not None and back.forgone_s is not None and back.forgone_s.tolist() == [0.0, 7.5]


def test_no_partial_folders_left(tmp_path: Path) -> None:
    write_replication(tmp_path, _result(0))
    write_replication(tmp_path, _result(0))
    names = sorted(p.name for p in (tmp_path / "replications").iterdir())
    assert names == ["rep-0000"]


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    f = tmp_path / "a" / "x.txt"
    atomic_write_text(f, "one")
    atomic_write_text(f, "two")
    assert f.read_text() == "two"
    assert [p.name for p in f.parent.iterdir()] == ["x.txt"]


def test_written_files_get_ordinary_permissions(tmp_path: Path) -> None:
    import os

    f = tmp_path / "x.txt"
    atomic_write_text(f, "x")
    mask = os.umask(0o022)
    os.umask(mask)
    assert f.stat().st_mode & 0o777 == 0o666 & ~mask
    rep = write_replication(tmp_path, _result(1))
    assert rep.stat().st_mode & 0o777 == 0o777 & ~mask


def test_files_list_has_sizes_and_sha256(tmp_path: Path) -> None:
    import hashlib
    import json

    from vision_zero.runs.results import REPLICATION_FILES, replication_problem

    path = write_replication(tmp_path, _result(0))
    files = json.loads((path / "files.json").read_text())["files"]
    assert sorted(files) == sorted(REPLICATION_FILES)
    for name, entry in files.items():
        data = (path / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert replication_problem(path) is None


def test_a_damaged_folder_is_replaced_by_an_atomic_exchange(tmp_path: Path) -> None:
    """The damaged folder's inode is swapped out in one step: the path exists at every moment."""
    from vision_zero.runs.results import exchange_paths, replication_problem

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    assert exchange_paths(a, b)  # Linux: renameat2(RENAME_EXCHANGE)
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
    path = write_replication(tmp_path, _result(0))
    (path / "summary.json").write_text("{}")
    assert replication_problem(path) is not None
    assert write_replication(tmp_path, _result(0)) == path
    assert replication_problem(path) is None and read_replication(path).summary == {"fatal": 0.5, "ksi": 0.5}
    assert sorted(p.name for p in (tmp_path / "replications").iterdir()) == ["rep-0000"]


def test_safe_file_name_one_rule_for_run_folders_and_chart_files() -> None:
    from vision_zero.runs.results import safe_file_name

    assert safe_file_name("centre-30") == "centre-30"
    assert safe_file_name("centre 30") == "centre_30"
    assert (
        safe_file_name("centre-30@interventions[0].limit_kph=20") == "centre-30@interventions_0_.limit_kph=20"
    )
    assert safe_file_name("a / b\\c") == "a_b_c"
    assert safe_file_name("Центр 30") == "Центр_30"  # letters of any script stay (no two names become "_")
    assert safe_file_name("../..") == "scenario"


def test_a_reader_never_finds_a_replaced_replication_missing(tmp_path: Path) -> None:
    """While damaged copies are replaced 30 times, a reader polling the folder always finds it."""
    import threading

    path = write_replication(tmp_path, _result(0))
    missing = 0
    stop = threading.Event()

    def poll() -> None:
        nonlocal missing
        while not stop.is_set():
            if not (path / "injuries.parquet").exists():
                missing += 1

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for _ in range(30):
            (path / "summary.json").write_text("{}")  # damage it: the next write replaces the folder
            write_replication(tmp_path, _result(0))
    finally:
        stop.set()
        reader.join()
    assert missing == 0
    assert read_replication(path).summary == {"fatal": 0.5, "ksi": 0.5}


def test_concurrent_writer_of_the_same_replication_is_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one folder may finish the same replication; the second rename finds the first in place."""
    from vision_zero.runs import results

    res = run_job(toy_job(replications=1), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    one = res.read(0)
    real_replace = os.replace

    def racing_replace(src: str, dst: str) -> None:
        # the other process wins the race just before our rename
        if Path(dst).name == "rep-0000" and not Path(dst).exists():
            real_replace(src, dst)
            raise OSError(39, "Directory not empty")
        real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", racing_replace)
    out = results.write_replication(tmp_path / "other", one)
    assert completed_replications(tmp_path / "other") == [0]
    assert read_replication(out).summary == one.summary
    assert [p.name for p in (tmp_path / "other" / "replications").iterdir()] == ["rep-0000"]


def test_reading_a_damaged_replication_names_the_file(tmp_path: Path) -> None:
    res = run_job(toy_job(replications=1), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    folder = replication_dir(res.run_dir, 0)
    truncate(folder / "injuries.parquet")
    with pytest.raises(DataError, match=r"injuries\.parquet: expected a replication table"):
        read_replication(folder)
    truncate(folder / "summary.json")
    with pytest.raises(DataError, match=r"summary\.json: expected a replication file"):
        read_replication(folder)


def test_traffic_tables_read_their_periods_as_the_strings_categories(tmp_path: Path) -> None:
    """``read_traffic_tables`` decodes a ``period`` column from the file's dictionary (#16): the frame is, to the
    codes and the categories' dtype, what reading the strings and ``astype("category")`` gives, with unused
    dictionary values dropped, a missing period kept missing, an empty table's column and a table without one."""
    from vision_zero.runs.results import TRAFFIC_TABLES, read_traffic_tables

    periods = pd.Series(["pm_peak", "am_peak", None, "night", "am_peak"], dtype="str")
    frames = {
        "traffic_link_stats": pd.DataFrame({"period": periods, "link": np.arange(5, dtype=np.int64)}),
        "crossing_passages": pd.DataFrame(
            {"period": periods.iloc[[0, 1, 4]].reset_index(drop=True), "speed_kph": [30.0, 40.0, 50.0]}
        ),
        "crossing_pedestrian_demand": pd.DataFrame(
            {"crossing": pd.Series([], dtype=np.int64), "period": pd.Series([], dtype=object)}
        ),
        "traffic_speed_hist": pd.DataFrame({"link": [1, 2], "count": [3, 4]}),
    }
    for name, frame in frames.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    got = read_traffic_tables(tmp_path)
    assert got is not None and set(got) == set(TRAFFIC_TABLES)
    for name in TRAFFIC_TABLES:
        want = pd.read_parquet(tmp_path / f"{name}.parquet")
        if "period" in want:
            want["period"] = want["period"].astype("category")
            assert got[name]["period"].dtype == want["period"].dtype
            assert got[name]["period"].cat.categories.dtype == want["period"].cat.categories.dtype
        pd.testing.assert_frame_equal(got[name], want, check_exact=True)
