"""Nested parameter draws (issue 16): each replication's risk stage at M joint draws on its own traffic.

Real pipeline on the SCHEMATIC tiny network (``tests/_scenarios.py``: base.toml seed 3, 5% demand, a 30 km/h camera
variant and a variant without interventions).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _scenarios import write_scenarios

from vision_zero.core.errors import ConfigError, ScenarioError
from vision_zero.core.seeding import replication_rngs
from vision_zero.program.interventions import apply_bindings
from vision_zero.program.scenario import load_scenario
from vision_zero.risk import crash_model as risk
from vision_zero.runs.pipeline import calibration_targets, run_replication
from vision_zero.runs.preparation import prepare
from vision_zero.runs.results import read_replication, read_risk_draws, replication_dir, write_replication
from vision_zero.runs.risk_draws import (
    RISK_DRAW_COLUMNS,
    RISK_DRAW_KEYS,
    draw_factors,
    inner_draws,
    mean_injuries,
    totals_of_draw,
    traffic_parameters,
)
from vision_zero.runs.sensitivity import stored_record

M = 4  # inner draws of these tests (the default, 8, only costs more)


def _digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[
        :16
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("risk_draws")
    base, slow = write_scenarios(folder)
    same = folder / "same.toml"
    same.write_text('name = "same"\ndescription = "d"\nextends = "base.toml"\n', "utf-8")
    out: dict[str, Any] = {"dir": folder}
    for m in (1, M):
        prepared = {
            name: prepare(load_scenario(path, overrides={"simulation.risk_draws": m}))
            for name, path in (("base", base), ("slow", slow), ("same", same))
        }
        b = run_replication(prepared["base"], 0)
        out[m] = {
            "prepared": prepared,
            "base": b,
            "slow": run_replication(prepared["slow"], 0, baseline_draws=b.risk_draws),
            "same": run_replication(prepared["same"], 0, baseline_draws=b.risk_draws),
        }
    return out


def test_risk_draws_is_a_validated_scenario_setting_in_the_run_id(tmp_path: Path) -> None:
    base, _slow = write_scenarios(tmp_path)
    assert load_scenario(base).simulation.risk_draws == 8
    with pytest.raises(ScenarioError, match=r"simulation\.risk_draws: expected greater than or equal to 1"):
        load_scenario(base, overrides={"simulation.risk_draws": 0})
    with pytest.raises(ScenarioError, match=r"simulation\.risk_draws"):
        load_scenario(base, overrides={"simulation.risk_draws": "many"})
    one, eight = (load_scenario(base, overrides={"simulation.risk_draws": m}).content_toml() for m in (1, 8))
    assert "risk_draws = 1" in one and one != eight  # it changes results: a run-id hashes it


def test_one_draw_is_the_replication_as_before(runs: dict[str, Any]) -> None:
    # golden: main 82a98d3 (before nested draws) gave these to the last bit (KSI per year, replication 0)
    b, slow = runs[1]["base"], runs[1]["slow"]
    assert b.summary["ksi"] == 0.022887997220249826
    assert slow.summary["ksi"] == 0.015677313783028408
    # and by hand: the risk stage once at the own draw on the replication's traffic, calibrated on itself
    p = runs[1]["prepared"]["base"]
    network = apply_bindings(p.network, p.bindings, b.parameters)
    record = stored_record(b.traffic, p.periods)
    est = risk.estimate(network, record, parameters=b.parameters, modifiers=p.modifiers)
    targets = calibration_targets(p.scenario, p.parameters, b.parameters, veh_km=b.summary["veh_km"])
    pd.testing.assert_frame_equal(b.injuries, risk.calibrate(est, targets).injuries, check_exact=True)
    assert b.risk_draws is not None and list(b.risk_draws.columns) == list(RISK_DRAW_COLUMNS)
    assert list(b.risk_draws["draw"]) == [0] * len(RISK_DRAW_KEYS)
    # a variant: as before but for its factors, now the baseline's own (kept) instead of read back from its
    # injuries table (calibrated / raw total per road user: the same to the last bit or two)
    before = run_replication(runs[1]["prepared"]["slow"], 0, baseline_raw=b.injuries)  # the old way
    pd.testing.assert_frame_equal(
        slow.injuries.drop(columns="per_year"), before.injuries.drop(columns="per_year"), check_exact=True
    )
    np.testing.assert_allclose(slow.injuries["per_year"], before.injuries["per_year"], rtol=1e-15, atol=0)
    assert slow.summary == {
        **before.summary,
        **{
            k: slow.summary[k]
            for k in slow.summary
            if "fatal" in k or "serious" in k or "slight" in k or "ksi" in k
        },
    }


def test_draw_zero_of_many_is_the_one_draw_replication(runs: dict[str, Any]) -> None:
    one, many = runs[1], runs[M]
    for name in ("base", "slow"):
        assert many[name].parameters == one[name].parameters  # parameters: the own draw
        pd.testing.assert_frame_equal(
            many[name].risk_draws[many[name].risk_draws["draw"] == 0].reset_index(drop=True),
            one[name].risk_draws,
            check_exact=True,
        )
        assert totals_of_draw(many[name].risk_draws, 0)["ksi"] == pytest.approx(
            one[name].summary["ksi"], rel=1e-14
        )
        assert sorted(set(many[name].risk_draws["draw"])) == list(range(M))


def test_inner_draws_keep_the_traffic_inputs_and_draw_the_rest_alike_in_every_scenario(
    runs: dict[str, Any],
) -> None:
    prepared = runs[M]["prepared"]
    draws = {}
    fixed = {}
    for name in ("base", "slow"):
        p = prepared[name]
        rngs = replication_rngs(p.scenario.simulation.seed, 0)
        own = p.parameters.draw(rngs.parameters)
        fixed[name] = traffic_parameters(p.parameters, p.bindings)
        draws[name] = inner_draws(p.parameters, own, rngs.parameters, M, fixed[name])
        assert draws[name][0] == own == runs[M][name].parameters
    assert fixed["slow"] > fixed["base"]  # the camera's bound speed responses
    assert {"traffic.desired_speed.cv", "demand.elasticity.travel_time"} <= fixed["base"]
    for name in ("base", "slow"):
        drawn = {n for n, q in prepared[name].parameters.items() if q.drawn}
        own = draws[name][0]
        for d in draws[name][1:]:
            assert all(d[n] == own[n] for n in fixed[name])
            moved = {n for n in drawn - fixed[name] if d[n] != own[n]}
            assert moved == drawn - fixed[name]  # every other drawn parameter drawn again
            assert "risk.power_model.exponent.serious" in moved
    common = (set(draws["base"][0]) & set(draws["slow"][0])) - fixed["slow"]
    for j in range(M):  # draw j has the same values in the baseline and the variant (common random numbers)
        assert all(draws["base"][j][n] == draws["slow"][j][n] for n in common)
    assert draws["base"][1] != draws["base"][2]


def test_a_variant_identical_to_its_baseline_avoids_exactly_nothing_at_every_draw(
    runs: dict[str, Any],
) -> None:
    b, same = runs[M]["base"].risk_draws, runs[M]["same"].risk_draws
    pd.testing.assert_frame_equal(same, b, check_exact=True)
    for j in range(M):
        assert totals_of_draw(b, j)["ksi"] - totals_of_draw(same, j)["ksi"] == 0.0
    assert runs[M]["base"].summary["ksi"] - runs[M]["same"].summary["ksi"] == 0.0


def test_a_variant_uses_its_baselines_factors_of_each_draw(runs: dict[str, Any]) -> None:
    b, slow = runs[M]["base"].risk_draws, runs[M]["slow"].risk_draws
    base_factors = draw_factors(b, M, where="test")
    factors = [f["fatal.pedestrian"] for f in base_factors]
    assert len(set(factors)) == M  # each draw calibrates to its own targets and raw totals
    pd.testing.assert_series_equal(slow["factor"], b["factor"], check_exact=True)  # exactly the baseline's
    for j in range(M):
        rows = slow[slow["draw"] == j].set_index("key")
        for key in RISK_DRAW_KEYS:
            assert rows.loc[key, "per_year"] == pytest.approx(
                rows.loc[key, "per_year_raw"] * base_factors[j][key], rel=1e-12
            )
    # the baseline calibrates each draw on itself: its deaths per draw are the city's of that draw, scaled
    p = runs[M]["prepared"]["base"]
    rngs = replication_rngs(p.scenario.simulation.seed, 0)
    own = p.parameters.draw(rngs.parameters)
    draws = inner_draws(p.parameters, own, rngs.parameters, M, traffic_parameters(p.parameters, p.bindings))
    veh_km = runs[M]["base"].summary["veh_km"]
    for j, d in enumerate(draws):
        target = calibration_targets(p.scenario, p.parameters, d, veh_km=veh_km)
        assert totals_of_draw(b, j)["fatal"] == pytest.approx(target.deaths_per_year, rel=1e-12)


def test_the_stored_table_and_totals_are_the_mean_over_the_draws(runs: dict[str, Any]) -> None:
    for name in ("base", "slow"):
        r = runs[M][name]
        per_draw = [totals_of_draw(r.risk_draws, j) for j in range(M)]
        for key in ("fatal", "serious", "slight", "ksi"):
            assert r.summary[key] == pytest.approx(np.mean([t[key] for t in per_draw]), rel=1e-12)
        raw = [totals_of_draw(r.risk_draws, j, "per_year_raw")["ksi"] for j in range(M)]
        ksi_rows = r.injuries["severity"].isin(["fatal", "serious"])
        assert r.injuries.loc[ksi_rows, "per_year_raw"].sum() == pytest.approx(np.mean(raw), rel=1e-12)
    # row by row: the mean of the draws' tables, rows aligned (a row missing in a draw counts 0)
    a = pd.DataFrame(
        {
            "site_type": ["link", "link"],
            "site": [1, 2],
            "road_user": ["occupant"] * 2,
            "severity": ["fatal"] * 2,
            "per_year_raw": [1.0, 2.0],
            "per_year": [2.0, 4.0],
        }
    )
    b = a.iloc[[1]].assign(per_year_raw=[4.0], per_year=[8.0]).reset_index(drop=True)
    mean = mean_injuries([a, b])
    assert list(mean["per_year_raw"]) == [0.5, 3.0] and list(mean["per_year"]) == [1.0, 6.0]
    assert mean_injuries([a, a.copy()]).equals(a)


def test_risk_draws_round_trip_through_the_replication_folder(runs: dict[str, Any]) -> None:
    r = runs[M]["slow"]
    folder = write_replication(runs["dir"] / "run", r)
    assert folder == replication_dir(runs["dir"] / "run", 0)
    back = read_risk_draws(folder)
    assert back is not None
    pd.testing.assert_frame_equal(back, r.risk_draws, check_exact=True)
    again = read_replication(folder)
    pd.testing.assert_frame_equal(again.risk_draws, r.risk_draws, check_exact=True)
    pd.testing.assert_frame_equal(again.injuries, r.injuries, check_exact=True)


def test_a_variant_whose_baseline_has_fewer_draws_is_an_error(runs: dict[str, Any]) -> None:
    slow = runs[M]["prepared"]["slow"]
    with pytest.raises(
        ConfigError, match=rf"slow replication 0: \[simulation\] risk_draws = {M}.* of 1 draw"
    ):
        run_replication(slow, 0, baseline_draws=runs[1]["base"].risk_draws)
    with pytest.raises(ConfigError, match=r"got only its injuries table"):
        run_replication(slow, 0, baseline_raw=runs[M]["base"].injuries)
    # a variant of one draw with a baseline of more: draw 0, the replication's own, is the same for any number
    fewer = run_replication(runs[1]["prepared"]["slow"], 0, baseline_draws=runs[M]["base"].risk_draws)
    assert fewer.summary == runs[1]["slow"].summary
    # but draws 1 ... are a Latin hypercube of M: a variant of 2 < M draws would pair other values with them
    with pytest.raises(ConfigError, match=rf"risk_draws = 2, .* of {M} draw\(s\); expected 2"):
        draw_factors(runs[M]["base"].risk_draws, 2, where="slow replication 0")


def test_inner_draws_are_a_latin_hypercube_with_the_own_draw(runs: dict[str, Any]) -> None:
    # every drawn parameter that is not a traffic input takes each of its M equal-probability strata exactly once
    # over the M draws, the own draw (draw 0) in its own stratum
    p = runs[M]["prepared"]["base"]
    rngs = replication_rngs(p.scenario.simulation.seed, 0)
    own = p.parameters.draw(rngs.parameters)
    fixed = traffic_parameters(p.parameters, p.bindings)
    draws = inner_draws(p.parameters, own, rngs.parameters, M, fixed)
    free = [n for n, q in p.parameters.items() if q.drawn and n not in fixed]
    assert len(free) > 20
    for name in free:
        q = p.parameters[name]
        strata = [min(int(q.cdf(d[name]) * M), M - 1) for d in draws]
        assert sorted(strata) == list(range(M)), name
    assert inner_draws(p.parameters, own, np.random.default_rng(1), 1, fixed) == [own]


def test_latin_hypercube_draws_average_a_parameter_far_closer_than_independent_ones() -> None:
    # the point of the design: the mean over M draws of an additive function (here one parameter) varies much
    # less across replications than with independent draws (Stein 1987); every draw keeps its distribution
    from vision_zero.core.parameters import load_parameters

    params = load_parameters()
    name = "risk.power_model.exponent.serious"
    lhs, independent, values = [], [], []
    for i in range(300):
        rng = np.random.default_rng(i)
        own = params.draw(rng)
        draws = inner_draws(params, own, rng, 8, set())
        lhs.append(np.mean([d[name] for d in draws]))
        independent.append(np.mean([params.draw(rng)[name] for _ in range(8)]))
        values += [d[name] for d in draws]
    assert np.var(lhs) < 0.05 * np.var(independent)
    q = params[name]
    assert np.mean(values) == pytest.approx(q.value, abs=3 * (q.high - q.low) / 3.92 / np.sqrt(2400))


def test_same_seed_same_draws(runs: dict[str, Any]) -> None:
    p = runs[M]["prepared"]["base"]
    again = run_replication(p, 0)
    assert _digest(again.injuries) == _digest(runs[M]["base"].injuries)
    pd.testing.assert_frame_equal(again.risk_draws, runs[M]["base"].risk_draws, check_exact=True)
    other = run_replication(p, 1)
    assert other.summary["ksi"] != runs[M]["base"].summary["ksi"]
