"""Running replications (runs.replications): paired runs on an executor, resumed, stopped at a precision, damage
run again."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _replication_task import OBSERVED, toy_job, truncate

from vision_zero.core.errors import ConfigError
from vision_zero.core.intervals import mean_interval
from vision_zero.runs.parallel import SerialExecutor
from vision_zero.runs.replications import run_comparison, run_job
from vision_zero.runs.results import completed_replications, replication_dir
from vision_zero.runs.run_summary import format_summary


def test_run_comparison_stops_each_variant_like_run_job(tmp_path: Path) -> None:
    # two variants of one baseline: 40 km/h on three links (a clear effect) and 60 km/h (no change at all: every
    # pair's KSI difference is 0, so its interval includes 0 and no number of pairs reaches the target)
    strong, same = toy_job(), toy_job(limit_kph=60.0, name="unchanged")
    assert strong.baseline is not None
    kwargs = {"executor": SerialExecutor(), "target_ci_pct": 15.0, "max_replications": 60, "progress": False}
    runs = run_comparison(strong.baseline, [strong, same], out_dir=tmp_path / "a", **kwargs)  # type: ignore[arg-type]
    alone = run_job(toy_job(), out_dir=tmp_path / "b", **kwargs)  # type: ignore[arg-type]
    base, s, u = runs
    assert s.stop_reason == "target-ci" and s.n == alone.n > 3  # the same rule as run --target-ci
    assert s.summaries == alone.summaries
    assert u.stop_reason == "out-of-reach" and u.n == 3
    assert base.n == s.n  # the baseline has as many replications as its longest variant
    assert u.baseline is not None and u.baseline.n == 3  # pairs: the same indices
    assert "not told apart from 0" in format_summary(u)
    # again in the same folder: everything is reused (no replication written again), the same stop
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "a").rglob("summary.json")}
    assert len(stamps) == 2 * s.n + 3
    again = run_comparison(strong.baseline, [strong, same], out_dir=tmp_path / "a", **kwargs)  # type: ignore[arg-type]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "a").rglob("summary.json")} == stamps
    assert [(r.n, r.stop_reason, r.summaries) for r in again] == [
        (r.n, r.stop_reason, r.summaries) for r in runs
    ]


class _Recording(SerialExecutor):
    """A serial executor that records, per run of tasks, which (scenario, replication) it was given, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[list[tuple[str, int]]] = []

    def run_tasks(self, fn: Any, take: Any) -> Iterator[tuple[int, Any]]:
        ran: list[tuple[str, int]] = []
        self.runs.append(ran)

        def logged() -> Any:
            task = take()
            if task is not None:
                ran.append((task[0].payload.name, task[1][0]))
            return task

        return super().run_tasks(fn, logged)


def test_every_scenarios_replications_go_to_the_executor_together(tmp_path: Path) -> None:
    # one run of tasks for the whole comparison (not one per scenario), so that the workers stay busy across
    # scenarios: the baseline's replications first (the variants pair with them), then each variant's
    strong, same = toy_job(), toy_job(limit_kph=60.0, name="unchanged")
    assert strong.baseline is not None
    ex = _Recording()
    run_comparison(
        strong.baseline, [strong, same], out_dir=tmp_path / "a", executor=ex, replications=2, progress=False
    )
    assert ex.runs == [
        [("baseline", 0), ("baseline", 1), ("variant", 0), ("variant", 1), ("unchanged", 0), ("unchanged", 1)]
    ]
    # with a target: one run per round, holding every running variant's new pairs and the baseline's they need
    ex = _Recording()
    runs = run_comparison(
        strong.baseline,
        [strong, same],
        out_dir=tmp_path / "b",
        executor=ex,
        target_ci_pct=15.0,
        max_replications=60,
        progress=False,
    )
    assert ex.runs[0] == [("baseline", i) for i in range(3)] + [
        (v, i) for v in ("variant", "unchanged") for i in range(3)
    ]
    start = 3
    for ran in ex.runs[1:]:  # unchanged is out of reach after round 1; variant's later rounds: its new pairs
        end = start + len(ran) // 2
        assert ran == [("baseline", i) for i in range(start, end)] + [
            ("variant", i) for i in range(start, end)
        ]
        start = end
    assert start == runs[1].n > 3
    assert sum(len(r) for r in ex.runs) == 2 * runs[1].n + runs[2].n


class _NewestFirst(_Recording):
    """Two tasks in flight, the newest finishing first: a variant's task waits on the baseline's it pairs with."""

    def _run(self, fn: Any, take: Any) -> Iterator[tuple[int, Any]]:
        running: list[Any] = []
        while True:
            while len(running) < 2 and (task := take()) is not None:
                running.append(task)
            if not running:
                return
            position, payload, item = running.pop()
            yield position, fn(payload, item)


def test_a_variants_task_starts_once_its_baselines_is_written(tmp_path: Path) -> None:
    # by hand: queue B0 B1 B2 V0 V1 V2 U0 U1 U2 (baseline, variant, unchanged); B0 and B1 start, B1 ends, B2
    # starts (first ready in the queue), B2 ends; V0 waits on B0, so V1, then V2, U1, U2 (each ends at once); then
    # nothing may start until B0 ends: V0, U0
    strong, same = toy_job(), toy_job(limit_kph=60.0, name="unchanged")
    assert strong.baseline is not None
    ex = _NewestFirst()
    runs = run_comparison(
        strong.baseline, [strong, same], out_dir=tmp_path / "a", executor=ex, replications=3, progress=False
    )
    b, v, u = "baseline", "variant", "unchanged"
    assert ex.runs == [[(b, 0), (b, 1), (b, 2), (v, 1), (v, 2), (u, 1), (u, 2), (v, 0), (u, 0)]]
    # the results do not depend on the order the tasks ran in
    serial = run_comparison(
        strong.baseline,
        [strong, same],
        out_dir=tmp_path / "b",
        executor=SerialExecutor(),
        replications=3,
        progress=False,
    )
    assert [r.summaries for r in runs] == [r.summaries for r in serial]


def test_variant_is_calibrated_with_the_same_baseline_replication(tmp_path: Path) -> None:
    res = run_job(toy_job(replications=3), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    assert res.baseline is not None
    for base, var in zip(res.baseline.results, res.results, strict=True):
        assert base.replication == var.replication
        assert base.summary["fatal"] == pytest.approx(OBSERVED["fatal"])  # baseline calibrated on itself
        for sev in ("fatal", "serious"):
            b = base.injuries[base.injuries.severity == sev]
            v = var.injuries[var.injuries.severity == sev]
            factor_b = b.per_year.sum() / b.per_year_raw.sum()
            factor_v = v.per_year.sum() / v.per_year_raw.sum()
            assert factor_v == pytest.approx(factor_b)
    assert np.all(res.differences("ksi") > 0)  # lower limit, fewer KSI in every CRN pair


def test_resume_runs_only_the_missing_replications(tmp_path: Path) -> None:
    job = toy_job()
    first = run_job(job, out_dir=tmp_path / "a", executor=SerialExecutor(), replications=2, progress=False)
    assert first.resumed == 0
    stamp = (replication_dir(first.run_dir, 1) / "summary.json").stat().st_mtime_ns
    more = run_job(job, out_dir=tmp_path / "a", executor=SerialExecutor(), replications=5, progress=False)
    assert more.resumed == 2
    assert (replication_dir(first.run_dir, 1) / "summary.json").stat().st_mtime_ns == stamp  # not redone
    fresh = run_job(job, out_dir=tmp_path / "b", executor=SerialExecutor(), replications=5, progress=False)
    for r1, r2 in zip(more.results, fresh.results, strict=True):
        assert r1.summary == r2.summary
        pd.testing.assert_frame_equal(r1.injuries, r2.injuries)


def test_target_ci_stops_when_precise_enough(tmp_path: Path) -> None:
    job = toy_job()
    res = run_job(
        job,
        out_dir=tmp_path,
        executor=SerialExecutor(),
        target_ci_pct=15.0,
        max_replications=60,
        progress=False,
    )
    assert res.stop_reason == "target-ci"
    mean, lo, hi = mean_interval(res.differences("ksi"))
    assert 100 * (hi - lo) / mean < 15.0
    # it had to add replications: the first check (at 3) was not precise enough
    assert res.n > 3
    m3, lo3, hi3 = mean_interval(res.differences("ksi")[:3])
    assert 100 * (hi3 - lo3) / m3 >= 15.0
    assert f"  {job.name}: ±7.5% reached after {res.n} pairs (interval width" in format_summary(res)


def test_target_ci_gives_up_at_the_maximum(tmp_path: Path) -> None:
    res = run_job(
        toy_job(),
        out_dir=tmp_path,
        executor=SerialExecutor(),
        target_ci_pct=0.01,
        max_replications=5,
        progress=False,
    )
    assert res.n == 5
    assert res.stop_reason == "max-replications"
    assert "±0.005% NOT reached after 5 pairs (--max-replications 5)" in format_summary(res)


def test_target_ci_on_a_baseline_uses_its_ksi(tmp_path: Path) -> None:
    base = toy_job().baseline
    assert base is not None
    res = run_job(
        base,
        out_dir=tmp_path,
        executor=SerialExecutor(),
        target_ci_pct=1.0,
        max_replications=4,
        progress=False,
    )
    # the baseline is calibrated on itself: KSI is exactly the observed total in every replication (zero width)
    assert res.values("ksi") == pytest.approx([OBSERVED["fatal"] + OBSERVED["serious"]] * 3)
    assert res.stop_reason == "target-ci" and res.n == 3
    # its series is its own KSI per replication (no pairs): the sentence counts replications
    line = f"  {base.name}: ±0.5% reached after 3 replications (interval width 0% of the mean)."
    assert line in format_summary(res).splitlines()


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--replications: expected an integer >= 1"):
        run_job(toy_job(), out_dir=tmp_path, executor=SerialExecutor(), replications=0)
    with pytest.raises(ConfigError, match="--target-ci: expected a percentage > 0"):
        run_job(toy_job(), out_dir=tmp_path, executor=SerialExecutor(), target_ci_pct=-5)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    tty = _Terminal()
    run_job(toy_job(replications=2), out_dir=tmp_path / "a", executor=SerialExecutor(), progress_stream=tty)
    text = tty.getvalue()
    assert "baseline" in text and "variant" in text and "2/2" in text and "rep" in text
    pipe = io.StringIO()  # not a terminal: quiet
    run_job(toy_job(replications=2), out_dir=tmp_path / "b", executor=SerialExecutor(), progress_stream=pipe)
    assert pipe.getvalue() == ""


# --- damaged replications are found, named and run again ---------------------------------------------------


def _edit_fatal(path: Path) -> None:
    """Change the first digit of the deaths per year (same size: only the SHA-256 tells)."""
    text = path.read_text()
    at = text.index('"fatal": ') + len('"fatal": ')
    path.write_text(text[:at] + ("9" if text[at] != "9" else "8") + text[at + 1 :])
    assert json.loads(path.read_text())["summary"]["fatal"] != json.loads(text)["summary"]["fatal"]


@pytest.mark.parametrize(
    ("file", "damage", "said"),
    [
        ("injuries.parquet", truncate, "injuries.parquet has"),
        ("injuries.parquet", Path.unlink, "injuries.parquet is missing"),
        ("summary.json", _edit_fatal, "summary.json does not match its SHA-256"),
        ("summary.json", truncate, "summary.json has"),
        ("files.json", Path.unlink, "files.json is missing"),
        ("files.json", truncate, "files.json is unreadable"),
    ],
)
def test_a_damaged_replication_is_named_and_run_again(
    tmp_path: Path, file: str, damage: object, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    job = toy_job()
    first = run_job(job, out_dir=tmp_path, executor=SerialExecutor(), replications=3, progress=False)
    assert first.baseline is not None
    before = [r.summary for r in first.results]
    base_before = [r.summary for r in first.baseline.results]
    damage(replication_dir(first.baseline.run_dir, 1) / file)  # type: ignore[operator]
    damage(replication_dir(first.run_dir, 2) / file)  # type: ignore[operator]
    assert completed_replications(first.run_dir) == [0, 1]
    capsys.readouterr()
    again = run_job(job, out_dir=tmp_path, executor=SerialExecutor(), replications=3, progress=False)
    err = capsys.readouterr().err
    assert "variant: replication 2 is damaged" in err and "baseline: replication 1 is damaged" in err
    assert said in err and str(replication_dir(first.run_dir, 2)) in err
    assert again.resumed == 2
    assert [r.summary for r in again.results] == before  # equal to the uninterrupted run
    assert again.baseline is not None and [r.summary for r in again.baseline.results] == base_before
    assert completed_replications(again.run_dir) == [0, 1, 2]
    assert sorted(p.name for p in (again.run_dir / "replications").iterdir()) == [
        "rep-0000",
        "rep-0001",
        "rep-0002",
    ]
