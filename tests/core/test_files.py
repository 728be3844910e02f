"""Atomic writes and per-process scratch folders (vision_zero.core.files)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vision_zero.core.files import (
    atomic_path,
    atomic_write_text,
    make_process_folder,
    pid_alive,
    sweep_stale_process_folders,
)


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(proc.stdout)
    assert not pid_alive(pid)
    return pid


def test_atomic_write_gives_the_permissions_open_would(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a.txt", "x")
    with open(tmp_path / "b.txt", "w") as fh:
        fh.write("x")
    mode = stat.S_IMODE((tmp_path / "a.txt").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) != 0o600


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.gpkg"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target, suffix=".gpkg") as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.gpkg"]


def test_atomic_path_for_writers_that_create_the_file(tmp_path: Path) -> None:
    target = tmp_path / "links.gpkg"
    with atomic_path(target, suffix=".gpkg", create=False) as tmp:
        assert not tmp.exists() and tmp.suffix == ".gpkg" and tmp.parent == tmp_path
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_sweep_removes_only_folders_of_dead_processes(tmp_path: Path) -> None:
    mine = make_process_folder(tmp_path, ".traffic-")
    stale = tmp_path / f".traffic-{_dead_pid()}-abc"
    stale.mkdir()
    other = tmp_path / ".traffic-notapid"
    other.mkdir()
    assert sweep_stale_process_folders(tmp_path, ".traffic-") == [stale]
    assert mine.is_dir() and other.is_dir() and not stale.exists()
