"""``vision-zero run`` on the real pipeline (tiny schematic network), including resume after SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from _scenarios import write_scenarios

from vision_zero.cli import main
from vision_zero.network.road_network import load_network, network_fingerprint
from vision_zero.runs.results import (
    LINK_EVENTS_FILE,
    completed_replications,
    read_replication,
    replication_dir,
)


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_scenarios(tmp_path_factory.mktemp("scenarios"))


@pytest.fixture(scope="module")
def reference(scenarios: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run, in this process: 3 replications of base and slow."""
    out = tmp_path_factory.mktemp("reference")
    assert main(["run", str(scenarios[1]), "-n", "3", "--workers", "1", "--out", str(out), "-q"]) == 0
    return out


def _run_dir(out: Path, name: str) -> Path:
    (run_dir,) = (out / name).iterdir()
    return run_dir


def _same_results(a: Path, b: Path, n: int) -> None:
    for name in ("base", "slow"):
        da, db = _run_dir(a, name), _run_dir(b, name)
        assert da.name == db.name  # same run-id
        assert completed_replications(da) == completed_replications(db) == list(range(n))
        for i in range(n):
            ra, rb = read_replication(replication_dir(da, i)), read_replication(replication_dir(db, i))
            assert ra.summary == rb.summary
            pd.testing.assert_frame_equal(ra.injuries, rb.injuries)
            pd.testing.assert_frame_equal(ra.link_traffic, rb.link_traffic)


def test_run_writes_folders_manifest_and_summary(
    scenarios: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, slow = scenarios
    out = tmp_path / "results"
    assert main(["run", str(base), str(slow), "-n", "2", "--workers", "1", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    for word in (
        "base: 2 replication(s)",
        "slow: 2 replication(s)",
        "SCHEMATIC",
        "deaths",
        "serious",
        "slight",
    ):
        assert word in text
    assert "KSI avoided vs base (paired, common random numbers)" in text
    run_dir = _run_dir(out, "slow")
    assert run_dir.name.startswith("seed3-")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    source = "schematic:almaty?scale=tiny&seed=0"
    assert manifest["network"]["source"] == source
    assert manifest["network"]["fingerprint"] == network_fingerprint(load_network(source))
    assert manifest["schematic"] is True and manifest["seed"] == 3 and manifest["baseline"] == "base"
    resolved = (run_dir / "scenario.toml").read_text()
    assert "limit_kph = 30" in resolved and 'source = "schematic:almaty' in resolved
    table = pd.read_csv(run_dir / "replications.csv")
    assert list(table["replication"]) == [0, 1]
    # the variant is calibrated with the same baseline replication: at every risk draw the factor it applied per
    # severity and road user is the baseline's of that draw (one factor per road user, the same for each of its
    # severities); with more than one draw the mean tables' calibrated / raw is not a factor of either
    b = read_replication(replication_dir(_run_dir(out, "base"), 1)).risk_draws
    v = read_replication(replication_dir(run_dir, 1)).risk_draws
    assert b is not None and v is not None and b["draw"].nunique() == 8  # the default [simulation] risk_draws
    factor_b = b.set_index(["draw", "key"])["factor"]
    factor_v = v.set_index(["draw", "key"])["factor"]
    assert len(factor_b) >= 8 * 4
    pd.testing.assert_series_equal(factor_v.loc[factor_b.index], factor_b)
    assert factor_b.groupby(level="draw").nunique().gt(1).all()  # factors differ between road users
    assert factor_b.groupby(level="key").nunique().gt(1).all()  # and between draws

    # the written run summary: what the terminal printed, no warning on a flowing run
    written = json.loads((run_dir / "run_summary.json").read_text("utf-8"))
    assert written["text"] in text and written["warnings"] == [] and written["replications"] == 2
    assert json.loads((replication_dir(run_dir, 0) / "summary.json").read_text("utf-8"))["warnings"] == []

    # rerun: same folders, nothing recomputed, same summary
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")}
    assert main(["run", str(base), str(slow), "-n", "2", "--workers", "1", "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().out == text
    assert {p: p.stat().st_mtime_ns for p in out.rglob("summary.json")} == stamps


def test_a_jammed_run_writes_the_warnings_its_terminal_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tiny schematic network at x5 demand after a peak calibration to Almaty's congestion that stops at its bound.

    The tiny network cannot reach Almaty's index within SCIENCE.md §10's totals (the calibration stops at the upper
    bound, x1.152), and five times that demand jams it (seed 11, after storage followed the drawn jam density:
    51% / 62% of trips arrive; at x4 it was 100% / 98%, too near the 95% threshold to be a jam). The run folder's ``run_summary.json`` carries the terminal's
    summary and both warnings, worded as printed (over the replications' means); each replication's
    ``summary.json`` carries the warnings on its own figures (the gridlock one only where its own trips jam).
    """
    from vision_zero.traffic.simulation import ARRIVAL_WARNING_SHARE

    scenario = tmp_path / "jammed.toml"
    scenario.write_text(
        'name = "jammed"\ndescription = "SCHEMATIC tiny network: x5 demand"\n'
        '[network]\nsource = "schematic:almaty?scale=tiny&seed=0"\n'
        '[simulation]\nperiods = ["am_peak"]\nduration_s = 600\nseed = 11\n'
        '[demand]\nscale = 5.0\ncongestion_index_target = "almaty"\n',
        "utf-8",
    )
    out = tmp_path / "results"
    assert main(["run", str(scenario), "-n", "2", "--workers", "1", "--out", str(out), "-q"]) == 0
    terminal = capsys.readouterr().out
    run_dir = _run_dir(out, "jammed")
    written = json.loads((run_dir / "run_summary.json").read_text("utf-8"))
    reps = [json.loads((replication_dir(run_dir, i) / "summary.json").read_text("utf-8")) for i in (0, 1)]
    shares = [r["summary"]["share_arrived"] for r in reps]
    assert sum(shares) / 2 < ARRIVAL_WARNING_SHARE and reps[0]["summary"]["peak_reached"] == 0.0
    warnings = written["warnings"]
    assert len(warnings) == 2 and written["text"] in terminal
    jam = f"WARNING: jammed: only {sum(shares) / 2:.0%} of trips arrived (threshold 95%)"
    calibration = (
        "WARNING: jammed: the AM peak's demand calibration stopped at the upper bound of its range (x1.152"
    )
    assert warnings[0].startswith(jam) and warnings[1].startswith(calibration)
    for warning in warnings:
        assert f"  {warning}\n" in terminal and warning in written["text"]
    assert "  route choice: relative gap " in written["text"]  # printed, so written
    for rep, share in zip(reps, shares, strict=True):
        jammed_here = share < ARRIVAL_WARNING_SHARE
        assert len(rep["warnings"]) == 1 + jammed_here and rep["warnings"][-1] == warnings[1]
        assert not jammed_here or rep["warnings"][0].startswith(f"WARNING: jammed: only {share:.0%} of trips")
    # compared with a variant, the terminal and report.html show the baseline's peak calibration (#12) from the
    # replications' summary.json, with its warning repeated under it in the report (the runs are reused)
    variant = tmp_path / "calmed.toml"
    variant.write_text(
        'name = "calmed"\ndescription = "SCHEMATIC tiny network: 30 km/h residential"\nextends = "jammed.toml"\n'
        '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 30\nenforcement = "calming"\n'
        'where = { highway = ["residential"] }\n',
        "utf-8",
    )
    report_dir = tmp_path / "compared"
    args = ["compare", str(scenario), str(variant), "-n", "2", "--workers", "1", "-q", "--results", str(out)]
    assert main([*args, "--out", str(report_dir)]) == 0
    printed = capsys.readouterr().out
    s0 = reps[0]["summary"]
    index = [r["summary"]["congestion_index"] for r in reps]
    se = s0["peak_congestion_index_se"]  # how sure the calibration is: its replications' standard error
    assert se > 0 and s0["peak_replications"] >= 2
    line = (
        f"peak calibration: congestion index {s0['peak_congestion_index']:.2f} ± {se:.2f} (standard error over "
        f"{s0['peak_replications']:.0f} replications) at central parameters (target {s0['peak_target']:.2f}"
    )
    spread = f"mean {sum(index) / 2:.2f} ({min(index):.2f}-{max(index):.2f})"
    assert f"jammed: {line}" in printed and spread in printed
    html = (report_dir / "report.html").read_text("utf-8").replace("&#x27;", "'")
    assert f"jammed — P{line[1:]}" in html and spread in html
    assert html.count(warnings[1]) == 2  # at the top and under the calibration line


def test_seed_option_gives_another_run(scenarios: tuple[Path, Path], tmp_path: Path) -> None:
    assert (
        main(
            [
                "run",
                str(scenarios[0]),
                "-n",
                "1",
                "--seed",
                "11",
                "--workers",
                "1",
                "--out",
                str(tmp_path),
                "-q",
            ]
        )
        == 0
    )
    assert _run_dir(tmp_path, "base").name.startswith("seed11-")


def test_target_ci_stops_at_the_maximum_or_the_target(
    scenarios: tuple[Path, Path], reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # reuses the reference's replications 0-2 (resume): starts at 3, the minimum, and may not go past 3
    args = ["run", str(scenarios[1]), "--target-ci", "50", "--max-replications", "3", "--workers", "1"]
    assert main([*args, "--out", str(reference), "-q"]) == 0
    text = capsys.readouterr().out
    assert "\n  slow: ±25% " in text  # the sentence compare prints too (core.formatting.precision_line)
    assert "slow: 3 replication(s)" in text


def test_user_mistakes_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "missing.toml"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vision-zero: error: ") and "missing.toml" in err and "\n" not in err
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\ndescription = "x"\n[network]\nsource = "schematic:almaty?scale=tiny"\n[simulation]\nreplication = 3\n'
    )
    assert main(["run", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "simulation.replication" in err and "bad.toml" in err
    with pytest.raises(SystemExit) as exc:
        main(["run", str(bad), "--workers", "0"])
    assert exc.value.code == 2
    assert "--workers: expected a whole number >= 1 (got '0')" in capsys.readouterr().err


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "vision-zero run scenarios/" in text and "--target-ci" in text and "--dask" in text


# --- resume after SIGKILL of a worker, for real -------------------------------------------------------------


def _pool_workers(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if (
            int(stat.rsplit(")", 1)[1].split()[1]) == pid
            and b"spawn_main" in cmd
            and b"resource_tracker" not in cmd
        ):
            kids.append(int(entry.name))
    return kids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_sigkill_a_worker_then_rerun_equals_uninterrupted(
    scenarios: tuple[Path, Path], reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    cmd = [
        sys.executable,
        "-m",
        "vision_zero",
        "run",
        str(scenarios[1]),
        "-n",
        "3",
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    base_dir = out / "base"
    while not (base_dir.is_dir() and any(completed_replications(d) for d in base_dir.iterdir())):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no replication finished"
        time.sleep(0.02)
    workers = _pool_workers(proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 1, err
    assert "a worker process of the local pool died" in err and "rerun the same command to resume" in err
    assert "Traceback" not in err
    done = completed_replications(_run_dir(out, "base"))
    assert 1 <= len(done) < 3
    assert not (out / "slow").exists() or completed_replications(_run_dir(out, "slow")) == []
    # the same command again (here in this process, one worker) finishes the work; results equal the
    # uninterrupted run's
    assert main(["run", str(scenarios[1]), "-n", "3", "--workers", "1", "--out", str(out), "-q"]) == 0
    _same_results(out, reference, 3)


# --- SIGKILL of the main process: no orphans, no stale payload folder, resume equals uninterrupted ----------


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid``."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_sigkill_of_the_main_process_leaves_no_worker_and_resume_equals_uninterrupted(
    scenarios: tuple[Path, Path], reference: Path, tmp_path: Path
) -> None:
    import tempfile

    from vision_zero.runs.parallel import PAYLOAD_PREFIX

    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "vision_zero", "run", str(scenarios[1]), "-n", "3", "--workers", "2"]
    proc = subprocess.Popen([*cmd, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    base_dir = out / "base"
    while not (base_dir.is_dir() and any(completed_replications(d) for d in base_dir.iterdir())):
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no replication finished"
        time.sleep(0.02)
    children = _children(proc.pid)  # the two pool workers and multiprocessing's resource tracker
    assert len(_pool_workers(proc.pid)) == 2
    payloads = list(Path(tempfile.gettempdir()).glob(f"{PAYLOAD_PREFIX}{proc.pid}-*"))
    assert len(payloads) == 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(5.0)
    assert [pid for pid in children if _alive(pid)] == [], "processes of the killed run are still alive"
    # the next run sweeps the killed run's payload folder and finishes the work: results equal the reference
    assert main(["run", str(scenarios[1]), "-n", "3", "--workers", "2", "--out", str(out), "-q"]) == 0
    assert not payloads[0].exists()
    _same_results(out, reference, 3)


def test_dask_address_is_tried_first_and_briefly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable scheduler fails in about 5 s, before any preparation (this scenario's OD file, read when
    preparing, is broken: its error must not be the one shown)."""
    from paths import TESTS

    start = time.monotonic()
    scenario = TESTS / "corpus" / "od" / "header_only.toml"
    code = main(["run", str(scenario), "--dask", "tcp://127.0.0.1:1", "--out", str(tmp_path), "-q"])
    err = capsys.readouterr().err
    assert code == 2  # a wrong address is the user's input: exit 2 like every bad input
    assert "cannot connect to the Dask scheduler at 'tcp://127.0.0.1:1'" in err and "after 5 s" in err
    assert "header_only.csv" not in err
    assert time.monotonic() - start < 30  # was 33 s plus preparing the network; the timeout itself is 5 s


# --- --link-events: every vehicle's link entries and exits as Parquet --------------------------------------------


def _files(rep: Path) -> dict[str, str]:
    """File name -> SHA-256 as the replication's files.json lists them."""
    return {n: f["sha256"] for n, f in json.loads((rep / "files.json").read_text())["files"].items()}


def test_link_events_are_written_and_change_no_other_file(
    scenarios: tuple[Path, Path], reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    args = ["run", str(scenarios[1]), "-n", "2", "--workers", "1", "--out", str(out), "-q", "--link-events"]
    assert main(args) == 0
    for i in range(2):
        ref = _files(replication_dir(_run_dir(reference, "slow"), i))
        rep = replication_dir(_run_dir(out, "slow"), i)
        got = _files(rep)
        # byte for byte the same files as the run without the option, plus the link events
        assert set(got) == {*ref, LINK_EVENTS_FILE}
        assert {n: h for n, h in got.items() if n != LINK_EVENTS_FILE} == ref
        # the baseline ran only as the variant's partner: no link events of its own
        assert LINK_EVENTS_FILE not in _files(replication_dir(_run_dir(out, "base"), i))
        events = pd.read_parquet(rep / LINK_EVENTS_FILE)
        assert list(events.columns) == [
            "period",
            "vehicle",
            "size_veh",
            "link",
            "enter_s",
            "run_end_s",
            "exit_s",
        ]
        assert len(events) > 100 and set(events["period"]) == {"am_peak"}
        done = events.dropna(subset=["exit_s"])
        assert (done["enter_s"] <= done["run_end_s"]).all() and (done["run_end_s"] <= done["exit_s"]).all()
        # every vehicle entering a link is one row: the entries of the traffic table the risk stage read
        stats = pd.read_parquet(rep / "traffic_link_stats.parquet").set_index(["period", "link"])["entries"]
        counted = events.groupby(["period", "link"])["size_veh"].sum()
        pd.testing.assert_series_equal(counted.sort_index(), stats.sort_index(), check_names=False)


def test_link_events_on_a_finished_run_rerun_its_replications_with_the_same_results(
    scenarios: tuple[Path, Path], reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    shutil.copytree(reference, out)
    run_dir = _run_dir(out, "slow")
    before = {i: _files(replication_dir(run_dir, i)) for i in range(3)}
    args = ["run", str(scenarios[1]), "-n", "1", "--workers", "1", "--out", str(out), "-q", "--link-events"]
    assert main(args) == 0
    assert "replication(s) 0 have no link_events.parquet; running them again" in capsys.readouterr().err
    after = _files(replication_dir(run_dir, 0))
    assert (
        LINK_EVENTS_FILE in after and {n: h for n, h in after.items() if n != LINK_EVENTS_FILE} == before[0]
    )
    assert all(_files(replication_dir(run_dir, i)) == before[i] for i in (1, 2))  # not asked for: untouched
    # a damaged link-event file makes the replication damaged: run again, the same file back
    events = replication_dir(run_dir, 0) / LINK_EVENTS_FILE
    events.write_bytes(events.read_bytes()[:100])
    assert main(args) == 0
    assert "replication 0 is damaged" in capsys.readouterr().err
    assert _files(replication_dir(run_dir, 0)) == after
    # without the option a run with link events is complete as it is
    assert main(args[:-1]) == 0
    assert _files(replication_dir(run_dir, 0)) == after


def test_link_events_option_mistakes_exit_2_with_one_line(
    scenarios: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", str(scenarios[0]), "--link-events=yes", "--out", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--link-events: ignored explicit argument 'yes'" in err
    for command in ("run", "compare"):  # the help says what it writes and how large it gets
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--link-events" in text and "MB per replication" in text
