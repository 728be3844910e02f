from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _replication_task import OBSERVED, PEAK_AT_BOUND, toy_job

from vision_zero.core.errors import ConfigError, DataError
from vision_zero.core.formatting import precision_line
from vision_zero.core.intervals import _precision_reached, mean_interval, replications_needed
from vision_zero.core.version import __version__
from vision_zero.runs.parallel import SerialExecutor
from vision_zero.runs.replications import run_comparison, run_job
from vision_zero.runs.results import completed_replications, read_replication, replication_dir
from vision_zero.runs.run_folders import run_id, scenario_run_dir
from vision_zero.runs.run_summary import format_summary
from vision_zero.runs.stopping import _next_total, rounds_to_precision
from vision_zero.traffic.simulation import STOP_REASONS


def test_mean_interval_by_hand() -> None:
    # [1, 2, 3]: mean 2, sd 1, t(0.975, 2) = 4.302653; half width 4.302653 / sqrt(3) = 2.484138
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert lo == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert hi == pytest.approx(2.0 + 2.484138, abs=1e-6)
    m1, lo1, hi1 = mean_interval([5.0])
    assert m1 == 5.0 and math.isnan(lo1) and math.isnan(hi1)


def test_precision_rule_by_hand() -> None:
    # [9, 10, 11]: width 2 * 2.484138 = 4.968 = 49.7 % of the mean 10
    reached, pct = _precision_reached(np.array([9.0, 10.0, 11.0]), 50.0)
    assert reached and pct == pytest.approx(49.68276, rel=1e-5)
    assert not _precision_reached(np.array([9.0, 10.0, 11.0]), 49.0)[0]
    assert not _precision_reached(np.array([10.0, 10.0]), 50.0)[0]  # fewer than 3: never
    assert not _precision_reached(np.array([-1.0, 0.0, 1.0]), 50.0)[0]  # zero mean: never


def test_next_total_is_the_pairs_needed_at_least_one_more_at_most_double() -> None:
    assert _next_total(4, 8, maximum=100) == 8
    assert _next_total(10, 13, maximum=100) == 13
    assert _next_total(10, 10, maximum=100) == 11  # at least one more
    assert _next_total(3, 12, maximum=100) == 6  # at most double
    assert _next_total(10, 40, maximum=15) == 15  # capped
    # the package's first three pairs at full demand (benchmarks/README.md, "Pairs needed at full demand"): the
    # t estimate asks for 5 (t(0.975, 4) 2.776 x sd 9.66 / sqrt(5) = 12.0 < 20% of 68.5 = 13.7; at 4 pairs
    # 3.182 x 9.66 / 2 = 15.4 is not), where the square-root law on the width asked for 8 and got 6
    first = np.array([79.64, 62.27, 63.65])
    assert _precision_reached(first, 40.0)[0] is False
    assert replications_needed(first, relative=0.2) == 5
    assert _next_total(3, replications_needed(first, relative=0.2), maximum=200) == 5


def test_rounds_stop_each_series_at_its_precision_by_hand() -> None:
    # three series against a 50% full width, at most 8:
    #   0: [9, 10, 11]: width 2 * 4.302653 * 1 / sqrt(3) = 4.968 = 49.7% of 10 -> reached in round 1 (3)
    #   1: [8, 12, 10 | 10, 10]: at 3 sd 2, width 99.4% -> the pairs needed for ±25% of 10 by the t: 4 gives
    #      t(0.975, 3) 3.182 * 2 / 2 = 3.18, 5 gives 2.776 * 2 / sqrt(5) = 2.48 < 2.5 -> next total 5; at 5 sd
    #      sqrt(8/4) = 1.414, half width 2.776 * 1.414 / sqrt(5) = 1.756 -> 35.1%: reached
    #   2: [-1, 1, -1]: mean -1/3, interval includes 0, needs far more than 8 -> out of reach in round 1
    data = [
        [9.0, 10.0, 11.0, 10.0, 10.0, 10.0, 10.0, 10.0],
        [8.0, 12.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0],
        [-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0],
    ]
    rounds: list[tuple[list[int], int]] = []
    where = rounds_to_precision(
        3,
        start=0,
        target_ci_pct=50.0,
        max_replications=8,
        ensure=lambda running, n: rounds.append((list(running), n)),
        values=lambda i, n: np.array(data[i][:n]),
    )
    assert rounds == [([0, 1, 2], 3), ([1], 5)]
    assert [(w.n, w.stop_reason) for w in where] == [(3, "target-ci"), (5, "target-ci"), (3, "out-of-reach")]
    assert where[0].width_pct == pytest.approx(49.68276, rel=1e-5)
    assert where[1].width_pct == pytest.approx(200 * 2.776445 * math.sqrt(2) / math.sqrt(5) / 10, rel=1e-5)
    assert where[2].needed > 8
    # the cap: at most 4, series 1 is not reached at 4 ([8, 12, 10, 10]: width 2 * 3.182 * 1.633 / 2 = 52.0%)
    rounds.clear()
    capped = rounds_to_precision(
        2,
        start=3,
        target_ci_pct=50.0,
        max_replications=4,
        ensure=lambda running, n: rounds.append((list(running), n)),
        values=lambda i, n: np.array(data[i][:n]),
    )
    assert rounds == [([0, 1], 3), ([1], 4)]
    assert capped[1].n == 4 and capped[1].stop_reason == "max-replications"
    assert capped[1].width_pct == pytest.approx(200 * 3.182446 * math.sqrt(8 / 3) / 2 / 10, rel=1e-5)
    assert capped[1].needed == 5  # the interval excludes 0, so it was not out of reach, just capped
    assert precision_line(capped[1], "s1") == (
        "s1: ±25% NOT reached after 4 pairs (--max-replications 4): interval width 52% of the mean; pairs needed: 5."
    )


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


def test_summary_text_is_labelled_schematic(tmp_path: Path) -> None:
    res = run_job(toy_job(replications=2), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    text = format_summary(res)
    assert "SCHEMATIC" in text
    for word in ("deaths", "serious", "slight", "KSI avoided vs baseline"):
        assert word in text
    # 2 replications: the mean, and no interval (1 degree of freedom), as in the compare table and report
    avoided = next(line for line in text.splitlines() if "KSI avoided vs baseline" in line)
    assert "2 replications: no reliable interval, it needs 3" in avoided and "[" not in avoided


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


def test_summary_cuts_count_intervals_at_zero(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import RunResult

    job = toy_job(replications=3)
    base = job.baseline or job
    sums = [{"fatal": f, "serious": 10.0, "slight": 20.0 + f, "ksi": 10.0 + f} for f in (0.0, 0.0, 5.0)]
    text = format_summary(RunResult(base, tmp_path, sums))
    deaths = next(line for line in text.splitlines() if "deaths" in line)
    # mean 5/3, t-interval 5/3 ± 4.3027 x 5/3 reaches below 0: cut at 0, the upper end kept
    assert "1.67  [0.00, 8.84]" in deaths
    assert "cut at 0" in text
    plain = [{"fatal": f, "serious": 10.0, "slight": 20.0, "ksi": 10.0 + f} for f in (4.0, 5.0, 6.0)]
    assert "cut at 0" not in format_summary(RunResult(base, tmp_path, plain))
    # 2 replications: no interval is printed, so nothing was cut (the t-interval of 0, 5 would reach below 0)
    two = format_summary(RunResult(base, tmp_path, sums[1:]))
    assert "2.50  (2 replications: no reliable interval, it needs 3)" in two
    assert "cut at 0" not in two


# --- damaged replications are found, named and run again ---------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edit_fatal(path: Path) -> None:
    """Change the first digit of the deaths per year (same size: only the SHA-256 tells)."""
    text = path.read_text()
    at = text.index('"fatal": ') + len('"fatal": ')
    path.write_text(text[:at] + ("9" if text[at] != "9" else "8") + text[at + 1 :])
    assert json.loads(path.read_text())["summary"]["fatal"] != json.loads(text)["summary"]["fatal"]


@pytest.mark.parametrize(
    ("file", "damage", "said"),
    [
        ("injuries.parquet", _truncate, "injuries.parquet has"),
        ("injuries.parquet", Path.unlink, "injuries.parquet is missing"),
        ("summary.json", _edit_fatal, "summary.json does not match its SHA-256"),
        ("summary.json", _truncate, "summary.json has"),
        ("files.json", Path.unlink, "files.json is missing"),
        ("files.json", _truncate, "files.json is unreadable"),
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


def test_reading_a_damaged_replication_names_the_file(tmp_path: Path) -> None:
    res = run_job(toy_job(replications=1), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    folder = replication_dir(res.run_dir, 0)
    _truncate(folder / "injuries.parquet")
    with pytest.raises(DataError, match=r"injuries\.parquet: expected a replication table"):
        read_replication(folder)
    _truncate(folder / "summary.json")
    with pytest.raises(DataError, match=r"summary\.json: expected a replication file"):
        read_replication(folder)


def test_summary_states_the_relative_gap_of_route_choice(tmp_path: Path) -> None:
    res = run_job(toy_job(), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    assert "route choice" not in format_summary(res)  # the toy task's summaries carry no gap (older results)
    res.summaries = [
        {**s, "route_relative_gap": g, "route_iterations": k}
        for s, g, k in zip(res.summaries, [0.02, 0.04, 0.06], [1.0, 2.0, 2.0], strict=False)
    ]
    res.summaries = res.summaries[:3]
    assert "route choice: relative gap 4.0% (replications 2.0-6.0%) after 1-2 re-routing iteration(s)" in (
        format_summary(res)
    )
    res.summaries = [
        {**s, "route_outside_band": b} for s, b in zip(res.summaries, [0.0, 0.01, 0.02], strict=True)
    ]
    assert "re-routing iteration(s), 1.0% of trips outside their indifference band" in format_summary(res)
    assert "stopped" not in format_summary(res)  # results without the stop reason (older runs)
    stops = [("gap_target", 1.0), ("cap", 8.0), ("cap", 8.0)]
    res.summaries = [
        {**s, "route_iterations": k} | {f"route_stop_{r}": float(r == why) for r in STOP_REASONS}
        for s, (why, k) in zip(res.summaries, stops, strict=True)
    ]
    assert (
        "; stopped by the gap target in 1, at the cap of 8 re-routing iterations in 2 of 3 replication(s): "
        "NOT converged there (gap 4.0-6.0%)"
    ) in format_summary(res)
    res.summaries = [s | {"route_stop_cap": 0.0, "route_stop_plateau": 1.0} for s in res.summaries[1:]]
    assert "; stopped on a plateau of the gap in 2 of 2 replication(s)\n" in format_summary(res) + "\n"


def test_summary_states_traffic_and_warns_loudly_under_gridlock(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.run_summary import arrival_warning

    base = toy_job(replications=2).baseline or toy_job(replications=2)
    traffic = {"trips_en_route": 30.0, "congestion_index": 1.8, "stuck_moves": 4.0}
    flowing = [
        {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.97, **traffic}
    ] * 2
    text = format_summary(RunResult(base, tmp_path, flowing))
    assert "97.0% of routed trips arrived, 30 still en route" in text
    assert "congestion index (peak travel time / free-flow) 1.80; stuck moves 4" in text
    assert "WARNING" not in text and arrival_warning("x", flowing) is None
    jammed = [{**flowing[0], "share_arrived": s} for s in (0.5, 0.6)]
    text = format_summary(RunResult(base, tmp_path, jammed))
    assert f"WARNING: {base.name}: only 55% of trips arrived (threshold 95%)" in text
    # summaries written before the traffic summary existed: no line, no warning
    assert "traffic:" not in format_summary(
        RunResult(base, tmp_path, [{"fatal": 1.0, "serious": 2.0, "slight": 3.0}] * 2)
    )


def test_summary_warns_loudly_when_the_peak_calibration_stops_short_of_its_target(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.run_summary import calibration_warning, run_warnings

    base = toy_job(replications=2).baseline or toy_job(replications=2)
    flowing = {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.99}
    stopped = [{**flowing, **PEAK_AT_BOUND}] * 2
    text = format_summary(RunResult(base, tmp_path, stopped))
    assert (
        f"WARNING: {base.name}: the AM peak's demand calibration stopped at the upper bound of its range "
        "(x1.152 the default daily trips; range x0.855-1.152) with a congestion index of 1.15 against the "
        "target 1.70, 99% of peak trips arriving: the peak is less congested than the target"
    ) in text
    low = [
        {**s, "peak_factor": 0.855, "peak_congestion_index": 2.4, "peak_completed_share": 0.9}
        for s in stopped
    ]
    lower = calibration_warning("x", low) or ""
    assert "stopped at the lower bound" in lower and "more congested than the target" in lower
    assert "route choice" not in lower  # summaries without the route gap: nothing said about it
    # ... and why, when the calibration's route choice has not converged (the full schematic city: 1.91 at the
    # lower bound with the default re-routing passes, 1.63 with 8): said with the calibration's own gap at its
    # step, the same in every replication's summary, so one replication's warning (its summary.json) is the run's
    # whatever that replication's own route gap; not once it has converged
    unconverged_reps = [
        {**s, "peak_route_relative_gap": 0.25, "route_relative_gap": g}
        for s, g in zip(low, (0.04, 0.46), strict=True)
    ]
    unconverged = calibration_warning("x", unconverged_reps)
    assert unconverged is not None and unconverged.startswith(lower)
    assert "route choice ends at a relative gap of 25%" in unconverged and "reroute_passes" in unconverged
    assert all(calibration_warning("x", [s]) == unconverged for s in unconverged_reps)
    assert all(run_warnings("x", [s]) == run_warnings("x", unconverged_reps) for s in unconverged_reps)
    for lang in ("ru", "kk"):
        assert "25%" in (
            calibration_warning("x", [{**s, "peak_route_relative_gap": 0.25} for s in low], lang) or ""
        )
    assert calibration_warning("x", [{**s, "peak_route_relative_gap": 0.04} for s in low]) == lower
    # the replications' own route gaps are not the calibration's: nothing said about them
    assert calibration_warning("x", [{**s, "route_relative_gap": 0.25} for s in low]) == lower
    upper = [
        {**s, "peak_route_relative_gap": 0.25} for s in stopped
    ]  # at the upper bound more delay would not help
    assert "route choice" not in (calibration_warning("x", upper) or "")
    # not at a bound: out of steps
    inner = [{**s, "peak_factor": 1.0, "peak_steps": 8.0, "peak_factor_high": 4.0} for s in stopped]
    assert "did not meet its target within 8 simulations: best x1.000" in (
        calibration_warning("x", inner) or ""
    )
    # met, or no calibration: no warning; gridlock and an unmet calibration both listed, gridlock first
    assert calibration_warning("x", [{**s, "peak_reached": 1.0} for s in stopped]) is None
    assert calibration_warning("x", [flowing] * 2) is None and run_warnings("x", [flowing] * 2) == []
    both = run_warnings("x", [{**s, "share_arrived": 0.5} for s in stopped])
    assert len(both) == 2 and "only 50% of trips arrived" in both[0] and "calibration" in both[1]


def test_summary_holds_the_calibrated_index_against_the_runs_drawn_replications(tmp_path: Path) -> None:
    # the calibration meets its target at central parameters; each replication draws its own, and the run
    # reports their mean: the summary shows both, and warns when the mean leaves a named target's range
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.run_summary import calibration_spread_warning, run_warnings

    base = toy_job(replications=2).baseline or toy_job(replications=2)
    met = {
        **PEAK_AT_BOUND,
        "peak_target": 1.35,
        "peak_congestion_index": 1.38,
        "peak_factor": 0.489,
        "peak_reached": 1.0,
        "peak_target_low": 1.2,
        "peak_target_high": 1.5,
    }
    flowing = {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.99, **met}
    inside = [{**flowing, "congestion_index": ci} for ci in (1.25, 1.54, 1.36, 1.53)]
    text = format_summary(RunResult(base, tmp_path, inside))
    assert (
        "  peak calibration: congestion index 1.38 at central parameters (target 1.35, range 1.20-1.50; x0.489 "
        "the default daily trips); this run's replications, each with its own parameter draw: mean 1.42 "
        "(1.25-1.54)"
    ) in text
    assert "WARNING" not in text and calibration_spread_warning("x", inside) is None
    # with the calibration's standard error (summaries since 9d98daa): how sure it is, in every language
    sure = [{**s, "peak_congestion_index_se": 0.071, "peak_replications": 4.0} for s in inside]
    assert "congestion index 1.38 ± 0.07 (standard error over 4 replications) at central parameters" in (
        format_summary(RunResult(base, tmp_path, sure))
    )
    from vision_zero.runs.run_summary import format_peak_calibration

    assert all("1.38 ± 0.07" in format_peak_calibration(sure, lang) for lang in ("ru", "kk"))
    above = [{**s, "congestion_index": ci} for s, ci in zip(inside, (2.62, 1.48, 1.56, 1.60), strict=True)]
    (warning,) = run_warnings("x", above)
    assert warning == calibration_spread_warning("x", above)
    assert warning.startswith(
        "WARNING: x: the AM peak's demand calibration met its target at the central traffic parameters "
        "(congestion index 1.38 against 1.35), but this run's 4 replications, each with its own draw of those "
        "parameters, give a mean index of 1.81 (1.48-2.62), outside the target's range 1.20-1.50"
    )
    assert "1.81 (1.48-2.62)" in (run_warnings("x", above, "ru")[0] + run_warnings("x", above, "kk")[0])
    # a numeric target (no range), an unmet calibration (its own warning) or no calibration: no such warning
    numeric = [{k: v for k, v in s.items() if not k.startswith("peak_target_")} for s in above]
    assert (
        calibration_spread_warning("x", numeric) is None
        and "range" not in format_summary(RunResult(base, tmp_path, numeric)).split("peak calibration")[1]
    )
    assert calibration_spread_warning("x", [{**s, "peak_reached": 0.0} for s in above]) is None
    bare = [{"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "congestion_index": 3.0}] * 2
    assert calibration_spread_warning("x", bare) is None
    assert "peak calibration" not in format_summary(RunResult(base, tmp_path, bare))


def test_run_warnings_in_the_reports_language() -> None:
    # a Russian or Kazakh report warns in its own language (the i18n catalogue), with the same figures
    from vision_zero.runs.run_summary import run_warnings

    stopped = {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.5, **PEAK_AT_BOUND}
    en, ru, kk = (run_warnings("x", [stopped] * 2, lang) for lang in ("en", "ru", "kk"))
    assert en == run_warnings("x", [stopped] * 2)  # English by default
    assert ru[0].startswith("ПРЕДУПРЕЖДЕНИЕ: x: доехали лишь 50% поездок (порог 95%)")
    assert "верхней границе" in ru[1] and "x1.152" in ru[1] and "1.15 при цели 1.70" in ru[1]
    assert kk[0].startswith("ЕСКЕРТУ: x: сапарлардың тек 50% жетті (шегі 95%)")
    assert "жоғарғы шегінде" in kk[1] and "x1.152" in kk[1] and "мақсат 1.70" in kk[1]
    low = {**stopped, "peak_factor": 0.855, "peak_congestion_index": 2.4}
    assert "нижней границе" in run_warnings("x", [low], "ru")[1]
    inner = {**stopped, "peak_factor": 1.0, "peak_steps": 8.0, "peak_factor_high": 4.0}
    assert "число симуляций: 8" in run_warnings("x", [inner], "ru")[1]
