"""Scenario jobs: each scenario prepared once per command, and only when one of its replications runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from _scenarios import TINY_BASE, TINY_SLOW


def test_one_command_prepares_each_scenario_once_and_only_when_it_runs(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import ScenarioJob, scenario_job, scenario_view
    from vision_zero.runs.parallel import make_executor
    from vision_zero.runs.preparation import AppliedScenario, PreparedScenario
    from vision_zero.runs.replications import run_job

    (tmp_path / "base.toml").write_text(TINY_BASE, "utf-8")
    (tmp_path / "slow.toml").write_text(TINY_SLOW, "utf-8")
    (tmp_path / "slow2.toml").write_text(TINY_SLOW.replace('"slow"', '"slow2"'), "utf-8")
    networks: dict[str, Any] = {}
    jobs: dict[tuple[str, ...], ScenarioJob] = {}

    def make(name: str) -> ScenarioJob:
        return scenario_job(tmp_path / name, networks=networks, jobs=jobs, lazy=True)

    base, slow, slow2 = make("base.toml"), make("slow.toml"), make("slow2.toml")
    assert slow.baseline is base and slow2.baseline is base
    assert len(networks) == 1 and len(jobs) == 3
    assert make("slow.toml") is slow
    assert not base.payload.ready and not slow.payload.ready
    with make_executor(workers=1) as ex:
        run_job(slow, out_dir=tmp_path / "res", executor=ex, replications=1, progress=False)
    assert base.payload.ready and slow.payload.ready
    prepared = slow.prepared()
    assert isinstance(prepared, PreparedScenario) and scenario_view(slow) is prepared.applied
    # a new command: everything is on disk, nothing is prepared; the view has what the outputs need
    networks.clear()
    jobs.clear()
    base2, again = make("base.toml"), make("slow.toml")
    with make_executor(workers=1) as ex:
        run = run_job(again, out_dir=tmp_path / "res", executor=ex, replications=1, progress=False)
    assert run.resumed == 1
    assert not again.payload.ready and not base2.payload.ready
    view = scenario_view(again)
    assert isinstance(view, AppliedScenario)
    full = scenario_view(slow)
    pd.testing.assert_frame_equal(view.network.links, full.network.links)
    assert view.costs == full.costs and view.name == "slow"
