"""The nested-design benchmark's statistics: its pairs rule is the project's, its ANOVA splits known parts (#16)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from vision_zero.core.intervals import replications_needed
from vision_zero.core.parameters import Parameter, ParameterSet

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_nested.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_nested", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_nested"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("mean", "sd"), [(66.79, 8.61), (70.71, 20.61), (7.52, 1.36), (50.0, 3.0)])
def test_pairs_needed_is_replications_needed_for_that_mean_and_sd(
    bench: ModuleType, mean: float, sd: float
) -> None:
    values = [mean - sd, mean, mean + sd]  # SD (ddof=1) exactly sd
    assert bench.pairs_needed(mean, sd) == replications_needed(values, relative=0.2)


def test_anova_recovers_within_and_between_parts(bench: ModuleType) -> None:
    means, spread = [10.0, 14.0, 18.0], np.array([-3.0, -1.0, 1.0, 3.0])  # within var 20/3, means var 16
    rows = [
        {"pair": i, "draw": j, "avoided": m + d}
        for i, m in enumerate(means)
        for j, d in enumerate([0.0, *spread])  # draw 0 (the replication's own) is left out
    ]
    a = bench.anova(pd.DataFrame(rows))
    assert a["k"] == 4 and a["pairs"] == 3 and a["mean"] == pytest.approx(14.0)
    assert a["within_var"] == pytest.approx(20.0 / 3.0)
    assert a["traffic_var"] == pytest.approx(16.0 - 20.0 / 3.0 / 4.0)


def test_inner_draws_keep_the_fixed_parameters_and_redraw_the_others(bench: ModuleType) -> None:
    params = ParameterSet(
        {
            n: Parameter(
                name=n,
                value=1.0,
                low=0.5,
                high=1.5,
                distribution="normal",
                unit="",
                status="assumption",
                source="t",
            )
            for n in ("traffic.a", "risk.b", "risk.c")
        }
    )
    own = params.draw(np.random.default_rng(1))
    draws = bench.inner_draws(params, own, {"traffic.a"}, 5, seed=7, pair=0)
    assert draws[0] == own and len(draws) == 6
    assert all(d["traffic.a"] == own["traffic.a"] for d in draws)
    assert len({d["risk.b"] for d in draws}) == 6
    again = bench.inner_draws(params, own, {"traffic.a"}, 5, seed=7, pair=0)
    assert again == draws  # the same draws for the baseline and every variant of a pair
    assert bench.inner_draws(params, own, {"traffic.a"}, 5, seed=7, pair=1)[1] != draws[1]
