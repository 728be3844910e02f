"""The risk stage re-run alone on each replication's stored traffic: the tornado is never empty (issue 15).

Real pipeline on the SCHEMATIC tiny network, 2 paired replications (too few for the old regression method): a
baseline, a 30 km/h speed-limit variant with camera enforcement (bound speed responses: traffic inputs) and a
refuge-island upgrade (CMFs at the crossings).
"""

from __future__ import annotations

import dataclasses
import json
import math
import weakref
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _scenarios import write_scenarios

from vision_zero.appraisal.study import compare_scenarios, scenario_traffic
from vision_zero.core.parameters import load_parameters
from vision_zero.outputs.charts import tornado, tornado_frame
from vision_zero.risk.crash_model import calibration_factors
from vision_zero.runs import sensitivity
from vision_zero.runs.jobs import scenario_job, scenario_view
from vision_zero.runs.parallel import LocalPoolExecutor, default_workers, make_executor
from vision_zero.runs.pipeline import calibration_targets
from vision_zero.runs.results import TRAFFIC_TABLES, replication_dir, replication_problem
from vision_zero.runs.risk_draws import totals_of_draw
from vision_zero.runs.sensitivity import (
    RiskRerun,
    ScenarioTraffic,
    _ksi,
    _pair_sums,
    _raw_frame,
    _sensitivity_task,
    _SensitivityJob,
    rerun_ksi,
    risk_sensitivity,
)

CROSSINGS = """\
name = "islands"
description = "SCHEMATIC tiny network: refuge islands on the main roads"
extends = "base.toml"

[[interventions]]
type = "crossing"
crossing_type = "refuge_island"
action = "upgrade"
where = { highway = ["primary", "secondary"] }
"""


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sensitivity")
    base, slow = write_scenarios(folder)
    islands = folder / "islands.toml"
    islands.write_text(CROSSINGS, "utf-8")
    comparison, inputs = compare_scenarios(base, [slow, islands], results_dir=folder / "res", progress=False)
    views = [scenario_view(scenario_job(p)) for p in (base, slow, islands)]
    traffic = [scenario_traffic(v, i.runs) for v, i in zip(views, inputs, strict=True)]
    return {"comparison": comparison, "inputs": inputs, "traffic": traffic, "dir": folder}


@pytest.mark.slow
def test_risk_only_rerun_at_the_draws_reproduces_every_replications_ksi(compared: dict[str, Any]) -> None:
    base, *variants = compared["traffic"]
    for i in (0, 1):
        ksi = rerun_ksi(base, variants, i)
        assert set(ksi) == {"base", "slow", "islands"}
        for inp in compared["inputs"]:
            rep = next(r for r in inp.runs.replications if r.replication == i)
            own = totals_of_draw(rep.risk_draws, 0)[
                "ksi"
            ]  # at the own draw (the summary: mean over the draws)
            assert ksi[inp.runs.name] == pytest.approx(own, rel=1e-12), (inp.runs.name, i)
    # moving one parameter moves the re-run: the central serious-injury exponent is not replication 0's draw
    moved = rerun_ksi(base, variants, 0, {"risk.power_model.exponent.serious": 2.1})
    assert moved["slow"] != pytest.approx(rerun_ksi(base, variants, 0)["slow"], rel=1e-9)


@pytest.mark.slow
def test_two_replications_give_a_tornado_with_the_parameters_ranges(
    compared: dict[str, Any], tmp_path: Path
) -> None:
    comparison = compared["comparison"]
    params = load_parameters()
    bound = {b.parameter for t in compared["traffic"] for b in t.applied.bindings}
    assert bound, "the camera enforcement binds speed responses (traffic inputs)"
    bound |= {"traffic.desired_speed.cv"}  # the occupant model reads it too, but it is a traffic input
    for v in comparison.variants:
        assert len(v.pairs) == 2
        frame = tornado_frame(v, params)
        assert len(frame) >= 10, v.variant
        for row in frame.itertuples():
            p = params[row.parameter]
            assert (row.low, row.high, row.value) == (p.low, p.high, p.value)
            assert row.parameter not in bound  # traffic inputs would need a new simulation
            assert row.parameter.startswith(("risk.", "calibration."))
            assert math.isfinite(row.at_low) and math.isfinite(row.at_high)
        sens = v.sensitivity
        assert sens is not None
        # the re-runs are centred on the mean KSI avoided at the own draws (draw 0 of each replication's risk draws;
        # the headline is the mean over all its draws, and tornado_frame places the re-runs' changes at it)
        runs = {i.runs.name: i.runs for i in compared["inputs"]}
        own = [
            totals_of_draw(b.risk_draws, 0)["ksi"] - totals_of_draw(r.risk_draws, 0)["ksi"]
            for b, r in zip(runs["base"].replications, runs[v.variant].replications, strict=True)
        ]
        assert sens["at_draw"].iloc[0] == pytest.approx(sum(own) / len(own), rel=1e-9, abs=1e-15)
        assert frame["swing"].iloc[0] > 0
        svg = tornado(v, params, tmp_path / f"tornado_{v.variant}.svg", schematic=True).read_text("utf-8")
        assert frame["parameter"].iloc[0] in svg and "SCHEMATIC" in svg
    slow = next(v for v in comparison.variants if v.variant == "slow").sensitivity
    assert slow is not None
    row = slow.set_index("parameter").loc["risk.power_model.exponent.serious"]
    # Elvik's power model: a larger exponent makes the same speed cut avoid more serious injuries
    assert row["at_high"] > row["at_draw"] > row["at_low"]
    islands = next(v for v in comparison.variants if v.variant == "islands").sensitivity
    assert islands is not None
    assert islands["parameter"].str.startswith("risk.pedestrian.").any()


@pytest.mark.slow
def test_replications_keep_their_traffic_tables_checked_like_the_others(compared: dict[str, Any]) -> None:
    run_dir = compared["inputs"][0].runs.run_dir
    folder = replication_dir(run_dir, 1)
    listed = json.loads((folder / "files.json").read_text("utf-8"))["files"]
    for name in TRAFFIC_TABLES:
        assert f"{name}.parquet" in listed
    assert replication_problem(folder) is None
    table = folder / "crossing_passages.parquet"
    data = table.read_bytes()
    try:
        table.write_bytes(data[:-10])
        assert "crossing_passages.parquet" in str(replication_problem(folder))
    finally:
        table.write_bytes(data)


@pytest.mark.slow
def test_tornado_over_the_pool_equals_the_serial_one(compared: dict[str, Any]) -> None:
    """compare_scenarios ran the pairs as tasks of its real process pool: the same tables, to the last bit."""
    with make_executor() as default:  # what compare_scenarios ran on: a local process pool on >= 2 cores
        assert isinstance(default, LocalPoolExecutor) or default_workers() < 2
    base, *variants = compared["traffic"]
    seen: list[tuple[int, int]] = []
    serial = risk_sensitivity(
        base, variants, compared["inputs"][0].parameters, progress=lambda *a: seen.append(a)
    )
    assert seen == [(1, 2), (2, 2)]
    assert set(serial) == {"slow", "islands"} and all(len(t) >= 10 for t in serial.values())
    for v in compared["comparison"].variants:
        assert v.sensitivity is not None
        pd.testing.assert_frame_equal(v.sensitivity, serial[v.variant], check_exact=True)


@pytest.mark.slow
def test_a_worker_without_the_run_folders_hands_the_pair_back(
    compared: dict[str, Any], tmp_path: Path
) -> None:
    """A Dask worker on another machine sees no results folder: the pair is run by the caller, not dropped."""
    base, *variants = compared["traffic"]
    elsewhere = dataclasses.replace(variants[0], run_dir=tmp_path / "not-on-this-worker")
    job = _SensitivityJob(base, (elsewhere, *variants[1:]), compared["inputs"][0].parameters, frozenset())
    assert _sensitivity_task(job, 0) == (False, None)


def _avoided_all_alive(
    job: _SensitivityJob, index: int, names: tuple[str, ...]
) -> dict[Any, dict[str, float]]:
    """KSI avoided as before 2 Dec 2026: every scenario's RiskRerun alive together, each asked every value."""
    base_rep = next(r for r in job.baseline.replications if r.replication == index)
    draw = dict(base_rep.parameters)
    base = job.baseline.rerun(base_rep)
    assert base is not None
    variants = {}
    for v in job.variants:
        rep = next(r for r in v.replications if r.replication == index)
        rerun = v.rerun(rep)
        assert rerun is not None
        variants[v.applied.name] = (dict(rep.parameters), rerun)
    out = {}
    ends = [(n, float(getattr(job.parameters[n], e))) for n in names for e in ("low", "high")]
    for name, value in [(None, math.nan), *ends]:
        moved = draw if name is None else {**draw, name: value}
        targets = calibration_targets(
            job.baseline.applied.scenario,
            job.baseline.applied.parameters,
            moved,
            veh_km=base_rep.summary["veh_km"],
        )
        factors = calibration_factors(_raw_frame(base.raw_totals(moved)), targets)
        base_ksi = _ksi(base.raw_totals(moved), factors)
        out["draw" if name is None else (name, value)] = {
            v: base_ksi - _ksi(rerun.raw_totals(d if name is None else {**d, name: value}), factors)
            for v, (d, rerun) in variants.items()
        }
    return out


@pytest.mark.slow
def test_a_pair_runs_one_scenario_at_a_time_with_the_same_numbers(
    compared: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pair's re-runs are built and freed one scenario at a time, and give the numbers of all of them alive at once.

    Each keeps its stored traffic and grouped crossing passages: the six of a full-demand district pair alive
    together took 5.4 GiB in the worker. Freed means without the cyclic collector (no reference cycle keeps one).
    """
    base, *variants = compared["traffic"]
    job = _SensitivityJob(base, tuple(variants), compared["inputs"][0].parameters, frozenset())
    alive: weakref.WeakSet[RiskRerun] = weakref.WeakSet()
    most = [0]
    built = ScenarioTraffic.rerun

    def rerun(self: ScenarioTraffic, replication: Any) -> RiskRerun | None:
        most[0] = max(most[0], len(alive) + 1)
        out = built(self, replication)
        if out is not None:
            alive.add(out)
        return out

    monkeypatch.setattr(ScenarioTraffic, "rerun", rerun)
    sums = _pair_sums(job, 0)
    assert sums is not None and most[0] == 1
    monkeypatch.undo()
    assert len(sums.names) >= 10
    want = _avoided_all_alive(job, 0, sums.names)
    assert sums.at_draw == want["draw"]
    for name in sums.names:
        for end in ("low", "high"):
            assert sums.at_end[(name, end)] == want[(name, float(getattr(job.parameters[name], end)))]


@pytest.mark.slow
def test_a_pair_that_read_fewer_parameters_is_not_run_again(
    compared: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pair's sums hold the ends of every parameter that has a range and is not a traffic input, read or not,
    each the number a run asked for it gives: so a pair that read fewer parameters than the first (the later
    pairs of a comparison whose programs stopped at fewer pairs have fewer variants) is not run again (#16: the
    caller re-ran three such pairs in its own process after the pool's, ~60-80 CPU-s one after the other on the
    six-program decision run).
    """
    base, *variants = compared["traffic"]
    params = compared["inputs"][0].parameters
    excluded = set().union(base.traffic_parameters, *(v.traffic_parameters for v in variants))
    job = _SensitivityJob(base, tuple(variants), params, frozenset(excluded))
    sums = _pair_sums(job, 1)
    assert sums is not None
    every = sensitivity._ranged(job, set(params))
    assert set(sums.names) < set(every)  # some are read by no step of the pair
    asked = _pair_sums(job, 1, every)
    assert asked is not None and asked.at_draw == sums.at_draw
    assert asked.at_end == sums.at_end and set(asked.at_end) == {
        (n, e) for n in every for e in ("low", "high")
    }
    # a pair that read one parameter fewer than the first: the same tables, and no pair run twice
    want = risk_sensitivity(base, variants, params)
    draw_1 = dict(next(r for r in base.replications if r.replication == 1).parameters)
    risk_names, pair_sums = sensitivity._risk_names, sensitivity._pair_sums
    calls: list[tuple[int, tuple[str, ...] | None]] = []

    def fewer(job: _SensitivityJob, pair: Any) -> tuple[str, ...]:
        return risk_names(job, pair)[1:] if pair.draw == draw_1 else risk_names(job, pair)

    def counted(job: _SensitivityJob, index: int, names: tuple[str, ...] | None = None) -> Any:
        calls.append((index, names))
        return pair_sums(job, index, names)

    monkeypatch.setattr(sensitivity, "_risk_names", fewer)
    monkeypatch.setattr(sensitivity, "_pair_sums", counted)
    got = risk_sensitivity(base, variants, params)
    assert calls == [(0, None), (1, None)]
    assert set(got) == set(want)
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, check_exact=True)


def test_key_codes_are_each_rows_severity_and_road_user() -> None:
    """A re-run sums each part's rows per ``"<severity>.<road_user>"`` (``_KEYS``); the codes come from the
    columns' distinct values (#16), the positions the joined strings have, whatever the columns' dtype; a row
    with another severity or road user is an error, not a row summed nowhere."""
    from vision_zero.runs.sensitivity import _KEYS, _key_codes

    frame = pd.DataFrame(
        {
            "severity": ["slight", "fatal", "serious", "fatal", "slight"],
            "road_user": ["occupant", "pedestrian", "occupant", "occupant", "pedestrian"],
        }
    )
    want = [_KEYS.index(f"{s}.{u}") for s, u in zip(frame["severity"], frame["road_user"], strict=True)]
    for f in (frame, frame.astype("category"), frame.astype(object)):
        assert _key_codes(f).tolist() == want
    with pytest.raises(ValueError, match="cyclist"):
        _key_codes(frame.assign(road_user=["cyclist", *frame["road_user"][1:]]))
