import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from compare_fixtures import runs

from vision_zero.appraisal.compare import compare
from vision_zero.appraisal.compare_text import format_table
from vision_zero.appraisal.economics import Economics, InterventionCost, annuity_factor
from vision_zero.core.errors import ConfigError, DataError
from vision_zero.core.intervals import interval
from vision_zero.core.parameters import load_parameters
from vision_zero.outputs.write import write_tables

ECON = Economics(
    currency="USD",
    vsl=1000.0,
    serious_injury_value=250.0,
    slight_injury_value=10.0,
    value_of_time=2.0,
    discount_rate=0.05,
    horizon_years=2,
)

BASE = [(2.0, 10.0, 100.0), (3.0, 12.0, 110.0), (1.0, 9.0, 95.0), (2.5, 11.0, 104.0)]


def test_interval_known_answer() -> None:
    iv = interval([1.0, 2.0, 3.0])
    # mean 2, sd 1, se 1/sqrt(3), t(0.975, 2) = 4.302652729911275
    half = 4.302652729911275 / math.sqrt(3)
    assert iv.mean == pytest.approx(2.0)
    assert iv.low == pytest.approx(2.0 - half)
    assert iv.high == pytest.approx(2.0 + half)
    assert (iv.p_low, iv.p_high) == pytest.approx((1.05, 2.95))
    assert iv.n == 3


def test_interval_single_value_has_no_ci() -> None:
    iv = interval([4.0])
    assert iv.mean == 4.0 and math.isnan(iv.low) and iv.n == 1


def test_annuity_factor_by_hand() -> None:
    assert annuity_factor(discount_rate=0.05, horizon_years=2) == pytest.approx(1 / 1.05 + 1 / 1.05**2)
    assert annuity_factor(discount_rate=0.0, horizon_years=20) == pytest.approx(20.0)
    with pytest.raises(ConfigError, match="horizon_years"):
        annuity_factor(discount_rate=0.05, horizon_years=-1)


def test_identical_scenarios_difference_contains_zero_and_is_narrow() -> None:
    base = runs("baseline", BASE)
    same = runs("same", BASE)
    c = compare(base, [same], economics=ECON)
    d = c.variants[0].difference["ksi"]
    assert d.contains(0.0)
    assert d.half_width == pytest.approx(0.0, abs=1e-12)
    # the scenario's own interval is wide: pairing is what makes the difference narrow
    assert c.baseline.metrics["ksi"].half_width > 1.0
    assert c.variants[0].prob_reduces_ksi == 0.0
    assert c.variants[0].npv.mean == pytest.approx(0.0)


def test_common_noise_cancels_in_pairs() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 3, size=10)
    base = runs("baseline", [(2.0, 20.0 + e, 100.0) for e in noise])
    var = runs("variant", [(2.0, 18.0 + e + 0.01 * k, 100.0) for k, e in enumerate(noise)])
    v = compare(base, [var], economics=ECON).variants[0]
    assert v.difference["serious"].contains(-2.0 + 0.045)
    assert v.difference["serious"].half_width < 0.05
    assert v.ksi_avoided.mean == pytest.approx(2.0 - 0.045)
    assert v.prob_reduces_ksi == 1.0


def test_cost_only_variant_leaves_benefit_unchanged() -> None:
    base = runs("baseline", BASE)
    cheap = runs("cheap", BASE, costs=[InterventionCost("paint", capital=100.0)])
    dear = runs("dear", BASE, costs=[InterventionCost("paint", capital=5000.0, annual=10.0)])
    c = compare(base, [cheap, dear], economics=ECON)
    for v in c.variants:
        assert v.safety_benefit_pv.mean == pytest.approx(0.0)
        assert v.safety_benefit_pv.half_width == pytest.approx(0.0)
        assert v.npv.mean == pytest.approx(-v.cost_pv)
    assert c.variants[1].cost_pv == pytest.approx(5000.0 + 10.0 * (1 / 1.05 + 1 / 1.05**2))


def test_npv_and_bcr_by_hand() -> None:
    base = runs("baseline", [(2.0, 10.0, 100.0)] * 3, veh_h=[1000.0] * 3)
    var = runs(
        "variant",
        [(1.0, 8.0, 90.0)] * 3,
        veh_h=[1050.0] * 3,
        costs=[InterventionCost("humps", capital=1000.0, annual=100.0)],
    )
    v = compare(base, [var], economics=ECON).variants[0]
    a = 1 / 1.05 + 1 / 1.05**2  # 1.8594104308
    benefit = 1 * 1000.0 + 2 * 250.0 + 10 * 10.0  # 1600 per year
    tt = 50.0 * 2.0  # 100 per year
    cost = 1000.0 + 100.0 * a
    assert v.travel_time_cost.mean == pytest.approx(tt)
    assert v.safety_benefit_pv.mean == pytest.approx(a * benefit)
    assert v.cost_pv == pytest.approx(cost)
    assert v.npv.mean == pytest.approx(a * (benefit - tt) - cost)  # 1603.17...
    assert v.npv.mean == pytest.approx(1603.1746, rel=1e-6)
    assert v.bcr.mean == pytest.approx(a * (benefit - tt) / cost)
    assert v.percent_change["ksi"].mean == pytest.approx(-25.0)
    assert v.difference["ksi_pedestrian"].mean == pytest.approx(-3 * 0.4)


def test_zero_cost_gives_nan_bcr() -> None:
    v = compare(runs("b", BASE), [runs("v", BASE)], economics=ECON).variants[0]
    assert math.isnan(v.bcr.mean)


def test_probability_of_reduction_comes_from_the_t_distribution_of_the_interval() -> None:
    base = runs("baseline", [(1.0, 10.0, 50.0)] * 4)
    var = runs("variant", [(1.0, 9.0, 50.0), (1.0, 8.0, 50.0), (1.0, 11.0, 50.0), (1.0, 9.5, 50.0)])
    v = compare(base, [var], economics=ECON).variants[0]
    # d = -1, -2, +1, -0.5: mean -0.625, sd 1.25, se 0.625, T = 1 with 3 degrees of freedom:
    # F(1) = 1/2 + (1/pi) * ((1/sqrt 3) / (1 + 1/3) + atan(1/sqrt 3)) = 0.80450
    assert v.prob_reduces_ksi == pytest.approx(0.5 + ((1 / math.sqrt(3)) / (4 / 3) + math.pi / 6) / math.pi)
    assert v.share_pairs_fewer_ksi == pytest.approx(0.75)  # 3 of 4 pairs: descriptive, kept beside it
    assert not v.distinguishable and v.difference["ksi"].contains(0.0)


def test_three_pairs_by_hand_every_headline_figure_from_the_same_t_distribution() -> None:
    """KSI avoided, its probability and its percent change: one per-pair quantity, t with 2 degrees of freedom."""
    from vision_zero.appraisal.compare_text import format_probability, probability_text

    t2 = 4.302652729911275  # t(0.975, 2)
    base = runs("baseline", [(0.0, 40.0, 0.0), (0.0, 50.0, 0.0), (0.0, 60.0, 0.0)])
    var = runs("variant", [(0.0, 37.0, 0.0), (0.0, 46.0, 0.0), (0.0, 55.0, 0.0)])  # d = -3, -4, -5
    v = compare(base, [var], economics=ECON).variants[0]
    half = t2 * 1.0 / math.sqrt(3)  # sd 1
    ksi = v.ksi_avoided
    assert (ksi.mean, ksi.low, ksi.high) == pytest.approx((4.0, 4.0 - half, 4.0 + half))
    assert ksi.reliable and v.distinguishable and ksi.low > 0
    # P(mean difference < 0), T = 4 / (1/sqrt 3) with 2 df: F(t) = 1/2 + t / (2 sqrt(2 + t^2)) = 0.98990
    t = 4.0 * math.sqrt(3)
    assert v.prob_reduces_ksi == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)))
    assert probability_text(v) == "99%" == format_probability(v.prob_reduces_ksi)
    # percent: -4 / 50 = -8%; Fieller's bounds are where the t-test of d - theta * b is exactly at t(0.975, 2)
    pct = v.percent_change["ksi"]
    assert pct.mean == pytest.approx(-8.0)
    d, b = np.array([-3.0, -4.0, -5.0]), np.array([40.0, 50.0, 60.0])
    for bound in (pct.low, pct.high):
        z = d - bound / 100.0 * b
        assert abs(z.mean()) == pytest.approx(t2 * z.std(ddof=1) / math.sqrt(3))
    assert pct.low < -8.0 < pct.high < 0.0  # excludes 0 like the KSI interval


def test_absolute_and_relative_intervals_agree_on_excluding_zero() -> None:
    """The centre-30 case of session 6: the baseline varies a lot between pairs, the difference hardly.

    The mean of per-pair percentages (the old percent change) has an interval that contains 0 while KSI avoided
    excludes it; Fieller's interval of the ratio of means excludes 0 exactly when KSI avoided does.
    """
    from vision_zero.appraisal.paired_stats import ratio_interval
    from vision_zero.core.intervals import interval

    b = np.array([30.0, 62.0, 46.0])  # its own interval excludes 0 (46 ± 39.7): the ratio is bounded
    d = np.array([-1.0, -0.6, -0.8])
    base = runs("baseline", [(0.0, x, 0.0) for x in b])
    var = runs("centre-30", [(0.0, x + e, 0.0) for x, e in zip(b, d, strict=True)])
    v = compare(base, [var], economics=ECON).variants[0]
    assert v.ksi_avoided.excludes_zero and v.ksi_avoided.low > 0
    assert interval(100.0 * d / b).contains(0.0)  # the old quantity would have said "uncertain"
    pct = v.percent_change["ksi"]
    assert pct.reliable and pct.excludes_zero and pct.high < 0.0
    assert pct.mean == pytest.approx(100.0 * d.mean() / b.mean())
    # and over many random cases, each side of the line: the two agree every time
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(3, 8))
        bb = rng.uniform(20.0, 80.0, n)
        dd = rng.normal(rng.normal(0.0, 1.0), rng.uniform(0.1, 2.0), n)
        abs_iv, rel_iv = interval(dd), ratio_interval(dd, bb)
        if rel_iv.reliable:
            assert abs_iv.excludes_zero == rel_iv.excludes_zero


def test_one_pair_asks_for_the_least_reliable_count_not_the_cap() -> None:
    """One pair shows no spread (replications_needed answers its cap): the verdict asks for at least 2 more pairs
    (3 in all, the minimum for a reliable interval), not "+99,999" (a full-demand run with -n 1 printed that)."""
    from vision_zero.appraisal.compare_text import more_pairs, probability_text
    from vision_zero.core.intervals import NEEDED_CAP

    base = runs("baseline", [(2.0, 18.0, 100.0)])
    var = runs("centre-30", [(2.0, 17.24, 100.0)], costs=[InterventionCost("x", 10.0)])
    v = compare(base, [var], economics=ECON).variants[0]
    assert v.replications_needed == NEEDED_CAP and not v.distinguishable
    assert probability_text(v) == "not yet (+≥ 2 reps)"
    assert more_pairs(NEEDED_CAP, 1) == (2, "≥ 2")
    assert more_pairs(5, 2) == (3, "3") and more_pairs(2, 2) == (
        1,
        "1",
    )  # from the observed spread, at least 1


def test_two_pairs_give_no_reliable_interval_nor_probability() -> None:
    """One degree of freedom: two pairs that happen to agree must not read as a certain reduction."""
    from vision_zero.appraisal.compare_text import probability_text
    from vision_zero.core.intervals import replications_needed

    base = runs("baseline", [(2.0, 18.0, 100.0), (6.0, 66.0, 300.0)])
    var = runs("centre-30", [(2.0, 17.24, 100.0), (6.0, 65.17, 300.0)], costs=[InterventionCost("x", 10.0)])
    c = compare(base, [var], economics=ECON)
    v = c.variants[0]
    # the t-interval itself excludes 0 (0.35 to 1.24) and both pairs have fewer KSI ...
    assert v.ksi_avoided.low > 0 and v.share_pairs_fewer_ksi == 1.0
    # ... but from 2 values it is not reliable: nothing is stated
    assert not v.ksi_avoided.reliable and not v.distinguishable
    assert not v.percent_change["ksi"].reliable and not v.bcr.reliable
    assert replications_needed(v.per_pair["diff_ksi"].to_numpy()) == 3  # at least the minimum
    assert probability_text(v) == "not yet (+1 rep)"
    table = format_table(c)
    assert "0.8 (no reliable CI)" in table and "0.4 to 1.2" not in table
    assert "With 2 paired replications no interval is shown" in table and "0.45 to 32 times" in table
    # the baseline's t-interval of deaths reaches below 0, but no interval is shown: no note about a cut at 0
    assert c.baseline.metrics["fatal"].truncated and "cut" not in table and "lower end" not in table


def test_replications_for_a_precision_by_hand() -> None:
    from vision_zero.core.intervals import replications_needed

    x = [9.0, 10.0, 11.0]  # mean 10, sd 1
    assert replications_needed(x) == 3  # excludes 0 already (4.30 / sqrt 3 = 2.48 < 10)
    # ±20%: half-width < 2: n = 3 gives 2.48, n = 4 gives t(0.975, 3) / 2 = 1.59
    assert replications_needed(x, relative=0.2) == 4
    # ±10%: half-width < 1: n = 6 gives 2.571 / 2.449 = 1.05, n = 7 gives 2.447 / 2.646 = 0.92
    assert replications_needed(x, relative=0.1) == 7
    with pytest.raises(ValueError, match="relative"):
        replications_needed(x, relative=0.0)


def test_the_comparison_states_the_replications_for_the_decision_precision() -> None:
    p = load_parameters()["appraisal.ksi_precision_pct"]
    assert p.value == 20.0 and p.unit == "%" and "#16" in p.source
    base = runs("baseline", [(0.0, 40.0, 0.0), (0.0, 50.0, 0.0), (0.0, 60.0, 0.0)])
    var = runs("variant", [(0.0, 31.0, 0.0), (0.0, 40.0, 0.0), (0.0, 49.0, 0.0)])  # d = -9, -10, -11
    c = compare(base, [var], economics=ECON)
    v = c.variants[0]
    assert v.precision_pct == 20.0 and v.replications_for_precision == 4
    assert c.headline_frame().iloc[0]["replications_for_precision"] == 4
    table = format_table(c)
    assert "reps for ±20%" in table and "--target-ci 40" in table


def test_pairs_need_common_indices_and_seeds() -> None:
    base = runs("baseline", BASE)
    var = runs("variant", BASE)
    shifted = type(var)(
        name="variant",
        replications=[
            r.__class__(**{**r.__dict__, "replication": r.replication + 10}) for r in var.replications
        ],
    )
    with pytest.raises(DataError, match="no replication index in common"):
        compare(base, [shifted], economics=ECON)
    reseeded = type(var)(
        name="variant", replications=[r.__class__(**{**r.__dict__, "seed": 99}) for r in var.replications]
    )
    with pytest.raises(DataError, match="common random numbers"):
        compare(base, [reseeded], economics=ECON)


def test_economics_defaults_come_from_the_parameters_file() -> None:
    e = Economics.from_parameters()
    p = load_parameters()
    assert e.vsl == pytest.approx(
        p.value("economics.vsl_gdp_multiple") * p.value("economics.gdp_per_capita"), rel=1e-3
    )
    assert e.serious_injury_value == pytest.approx(0.25 * e.vsl)
    assert "iRAP" in e.sources["serious_injury_value"]


def test_economics_overrides() -> None:
    e = ECON.with_overrides(
        {"vsl": 2000.0, "value_of_time": 1.0, "discount_rate": 0.0, "horizon_years": 10, "currency": "KZT"}
    )
    assert e.serious_injury_value == pytest.approx(500.0)  # keeps its share of the VSL
    assert e.annuity == pytest.approx(10.0)
    assert e.currency == "KZT"
    with pytest.raises(ConfigError, match=r"unknown keys.*vls"):
        ECON.with_overrides({"vls": 1.0}, origin="scenarios/x.toml")
    with pytest.raises(ConfigError, match=r"also set economics\.vsl, economics\.value_of_time in KZT"):
        ECON.with_overrides({"currency": "KZT"}, origin="scenarios/x.toml")
    with pytest.raises(ConfigError, match=r"economics\.vsl: expected a number"):
        ECON.with_overrides({"vsl": "lots"})


def test_table_and_files(tmp_path: Path) -> None:
    base = runs("baseline", BASE)
    var = runs(
        "centre-30", [(f * 0.8, s * 0.8, sl) for f, s, sl in BASE], costs=[InterventionCost("x", 10.0)]
    )
    c = compare(base, [var], economics=ECON)
    text = format_table(c, label="SCHEMATIC network (not real geometry): test:square")
    table_lines = text.splitlines()[:4]
    assert len({len(line.rstrip()) for line in table_lines[:2]}) == 1
    assert "centre-30" in text and "baseline" in text and "SCHEMATIC" in text
    paths = write_tables(c, tmp_path)
    frame = pd.read_parquet(tmp_path / "comparison.parquet")
    assert set(frame["metric"]) >= {"ksi", "fatal", "npv", "bcr", "ksi_pedestrian", "prob_reduces_ksi"}
    ksi = frame[frame.metric == "ksi"].iloc[0]
    assert ksi["diff_mean"] == pytest.approx(-0.2 * np.mean([f + s for f, s, _ in BASE]))
    # comparison.csv says "avoided" with headline.csv's sign (baseline − variant), beside the signed difference
    headline = pd.read_csv(paths["headline"]).iloc[0]
    assert ksi["avoided_mean"] == pytest.approx(-ksi["diff_mean"]) == pytest.approx(headline["ksi_avoided"])
    assert (ksi["avoided_low"], ksi["avoided_high"]) == pytest.approx((-ksi["diff_high"], -ksi["diff_low"]))
    assert (headline["ksi_avoided_low"], headline["ksi_avoided_high"]) == pytest.approx(
        (ksi["avoided_low"], ksi["avoided_high"])
    )
    assert pd.read_csv(paths["headline"])["schematic"].all()
    assert not list(tmp_path.glob(".*tmp"))


def test_headline_csv_has_no_bounds_where_no_interval_is_printed(tmp_path: Path) -> None:
    # 2 pairs: the table prints "mean (no reliable CI)"; headline.csv must not hold the raw 2-pair t-interval
    base = runs("baseline", BASE[:2])
    var = runs("slow", [(f * 0.8, s * 0.8, sl) for f, s, sl in BASE[:2]], costs=[InterventionCost("x", 10.0)])
    headline = pd.read_csv(write_tables(compare(base, [var], economics=ECON), tmp_path)["headline"]).iloc[0]
    assert not headline["interval_reliable"]
    assert headline["ksi_avoided"] == pytest.approx(0.2 * np.mean([f + s for f, s, _ in BASE[:2]]))
    for prefix in ("deaths_avoided", "serious_avoided", "ksi_avoided", "npv", "bcr"):
        assert math.isnan(headline[f"{prefix}_low"]) and math.isnan(headline[f"{prefix}_high"]), prefix
    # the long table keeps the raw statistic with its n, for analysis
    frame = pd.read_csv(tmp_path / "comparison.csv")
    ksi = frame[frame.metric == "ksi"].iloc[0]
    assert ksi["n"] == 2 and math.isfinite(ksi["diff_low"])


def test_renewals_within_the_horizon() -> None:
    econ = ECON.with_overrides({"horizon_years": 10, "discount_rate": 0.0})
    # lifetime 4 in a 10-year horizon: bought in year 0, renewed in years 4 and 8
    assert InterventionCost("paint", capital=100.0, annual=5.0, lifetime_years=4).present_value(
        econ
    ) == pytest.approx(300.0 + 50.0)
    assert InterventionCost("kerb", capital=100.0, lifetime_years=10).present_value(econ) == pytest.approx(
        100.0
    )


def test_no_negative_zero_in_tables() -> None:
    from vision_zero.core.formatting import format_number

    assert format_number(-0.01) == "0.0" and format_number(-0.2) == "-0.2"


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vision_zero.cli import main

    code = main(
        ["compare", str(tmp_path / "missing.toml"), str(tmp_path / "v.toml"), "--results", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "missing.toml" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["compare", "a.toml", "b.toml", "--lang", "de"])
    assert exc.value.code == 2


_TINY_BASE = """\
name = "base"
description = "SCHEMATIC tiny test network"

[network]
source = "schematic:almaty?scale=tiny&seed=0"

[simulation]
replications = 3
seed = 5
periods = ["am_peak"]
duration_s = 600.0

[demand]
scale = 0.2
"""

_TINY_SLOW = """\
name = "slow"
description = "SCHEMATIC tiny test network: 30 km/h everywhere with physical calming"
extends = "base.toml"

[[interventions]]
type = "speed_limit"
limit_kph = 30
enforcement = "calming"
"""


@pytest.mark.slow
def test_compare_command_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyogrio

    from vision_zero.appraisal import study
    from vision_zero.cli import main

    # the tornado's risk re-run reads the traffic the run folders store (runs.sensitivity.ScenarioTraffic.rerun):
    # the second (resumed) and third (--link-events) calls find the same folders and replications, so they take the
    # first call's tables instead of re-running it (some 85% of this test's time; tests/runs/test_sensitivity.py
    # checks the re-run itself); the first call runs it as the command does
    tornado: list[Any] = []
    real_sensitivity = study.risk_sensitivity

    def first_call_only(*args: Any, **kwargs: Any) -> Any:
        if not tornado:
            tornado.append(real_sensitivity(*args, **kwargs))
        return tornado[0]

    monkeypatch.setattr(study, "risk_sensitivity", first_call_only)

    (tmp_path / "base.toml").write_text(_TINY_BASE, "utf-8")
    (tmp_path / "slow.toml").write_text(_TINY_SLOW, "utf-8")
    args = [str(tmp_path / "base.toml"), str(tmp_path / "base.toml"), str(tmp_path / "slow.toml")]
    out = tmp_path / "out"
    code = main(
        ["compare", *args, "--results", str(tmp_path / "res"), "--out", str(out), "--workers", "1", "-q"]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "slow" in printed and "KSI avoided/yr" in printed and "SCHEMATIC" in printed
    headline = pd.read_csv(out / "headline.csv")
    assert list(headline["variant"]) == ["slow"]  # the baseline listed twice is compared once
    scen = pd.read_csv(out / "scenarios.csv").set_index(["scenario", "metric"])
    gdf = pyogrio.read_dataframe(out / "links.gpkg", layer="links")
    # the per-link attribution keeps totals: the links add up to each scenario's KSI per year
    assert gdf["base_ksi"].sum() == pytest.approx(scen.loc[("base", "ksi"), "mean"], rel=1e-6)
    assert gdf["slow_ksi"].sum() == pytest.approx(scen.loc[("slow", "ksi"), "mean"], rel=1e-6)
    assert gdf["slow_diff"].sum() == pytest.approx(-headline["ksi_avoided"].iloc[0], rel=1e-6, abs=1e-9)
    assert headline["cost_pv"].iloc[0] > 0  # the speed-limit intervention's cost reached the appraisal
    assert len(tornado) == 1 and not tornado[0]["slow"].empty and (out / "tornado_slow.png").exists()
    html = (out / "report.html").read_text("utf-8")
    assert "SCHEMATIC network" in html
    # the summary says what the program is: its description and its content in counts
    assert "30 km/h everywhere with physical calming" in html and "km at 30 km/h (with humps" in html
    # each variant's limits are in the GeoPackage, so the program can be seen in QGIS
    assert set(gdf["slow_limit_kph"]) == {30.0} and gdf["speed_limit_kph"].max() > 30.0
    tables = {
        n: (out / f"{n}.csv").read_text("utf-8") for n in ("comparison", "scenarios", "headline", "pairs")
    }
    tables["costs"] = (out / "costs.csv").read_text("utf-8")
    # a second call finds the runs instead of running them again (and prepares no scenario): same results
    before = sorted(p.stat().st_mtime_ns for p in (tmp_path / "res").rglob("summary.json"))
    assert (
        main(
            ["compare", *args, "--results", str(tmp_path / "res"), "--out", str(out), "--workers", "1", "-q"]
        )
        == 0
    )
    after = sorted(p.stat().st_mtime_ns for p in (tmp_path / "res").rglob("summary.json"))
    assert before == after and len(before) == 6
    for name, text in tables.items():
        assert (out / f"{name}.csv").read_text("utf-8") == text, name
    # --link-events: every scenario's replications run again to write their link events; the same comparison
    link_args = [
        "--results",
        str(tmp_path / "res"),
        "--out",
        str(out),
        "--workers",
        "1",
        "-q",
        "--link-events",
    ]
    assert main(["compare", *args, *link_args]) == 0
    events = sorted((tmp_path / "res").rglob("link_events.parquet"))
    assert len(events) == 6 and all(len(pd.read_parquet(e)) > 0 for e in events)
    for name, text in tables.items():
        assert (out / f"{name}.csv").read_text("utf-8") == text, name


def test_one_command_prepares_each_scenario_once_and_only_when_it_runs(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import ScenarioJob, scenario_job, scenario_view
    from vision_zero.runs.parallel import make_executor
    from vision_zero.runs.pipeline import AppliedScenario, PreparedScenario
    from vision_zero.runs.replications import run_job

    (tmp_path / "base.toml").write_text(_TINY_BASE, "utf-8")
    (tmp_path / "slow.toml").write_text(_TINY_SLOW, "utf-8")
    (tmp_path / "slow2.toml").write_text(_TINY_SLOW.replace('"slow"', '"slow2"'), "utf-8")
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


def test_scenario_intervals_of_counts_are_cut_at_zero_differences_are_not() -> None:
    from vision_zero.core.i18n import text
    from vision_zero.outputs.report import ReportInputs, render_report

    TRUNCATION_NOTE = text("truncated_note", "en")

    # deaths 0, 0, 5: mean 5/3, sd 5/sqrt(3), se 5/3, t(0.975, 2) = 4.302652729911275 -> low < 0 before the cut
    raw = interval([0.0, 0.0, 5.0])
    t = 4.302652729911275
    assert raw.low == pytest.approx(5 / 3 - t * 5 / 3) and raw.low < 0 and not raw.truncated
    cut = raw.non_negative()
    assert cut.low == 0.0 and cut.high == pytest.approx(5 / 3 + t * 5 / 3) and cut.truncated
    assert (cut.mean, cut.p_low, cut.p_high, cut.n) == (raw.mean, raw.p_low, raw.p_high, raw.n)
    assert interval([4.0, 5.0, 6.0]).non_negative() == interval([4.0, 5.0, 6.0])  # low 2.52: nothing to cut
    assert not interval([4.0]).non_negative().truncated  # no interval (NaN) is not cut

    base = runs("baseline", [(0.0, 10.0, 100.0), (0.0, 12.0, 110.0), (5.0, 11.0, 104.0)])
    var = runs("v", [(0.0, 10.0, 100.0), (0.0, 12.0, 110.0), (0.0, 11.0, 104.0)])
    c = compare(base, [var], economics=ECON)
    fatal = c.baseline.metrics["fatal"]
    assert fatal.low == 0.0 and fatal.truncated and c.baseline.truncated
    # the difference (variant - baseline: 0, 0, -5) keeps its signed interval: it reaches above 0
    d = c.variants[0].difference["fatal"]
    assert d.high == pytest.approx(-5 / 3 + t * 5 / 3) and d.high > 0 and not d.truncated
    avoided = c.variants[0].ksi_avoided
    assert avoided.low < 0
    frame = c.scenarios_frame().set_index(["scenario", "metric"])
    assert (
        frame.loc[("baseline", "fatal"), "low"] == 0.0 and frame.loc[("baseline", "fatal"), "low_truncated"]
    )
    assert not frame.loc[("baseline", "serious"), "low_truncated"]
    table = format_table(c)
    assert TRUNCATION_NOTE in table and "(0.0 to" in table and "(-" in table  # KSI avoided stays signed
    assert "lower end is shown as 0" in render_report(c, ReportInputs())
    # no cut, no note
    plain = compare(runs("baseline", BASE), [runs("v", BASE)], economics=ECON)
    assert not any(s.truncated for s in plain.scenarios)
    assert TRUNCATION_NOTE not in format_table(plain) and "shown as 0" not in render_report(
        plain, ReportInputs()
    )


def test_replications_needed_by_hand() -> None:
    from vision_zero.core.intervals import replications_needed

    # mean 2, sd sqrt(2): n = 4 gives t(0.975, 3) * sqrt(2) / 2 = 3.182 * 0.707 = 2.25 >= 2;
    # n = 5 gives t(0.975, 4) * sqrt(2) / sqrt(5) = 2.776 * 0.632 = 1.756 < 2
    assert replications_needed([1.0, 3.0]) == 5
    assert replications_needed([1.0, 3.0, 1.0, 3.0, 1.0, 3.0]) == 6  # already told apart: the count itself
    assert replications_needed([-1.0, 1.0]) == 100_000  # mean 0: no number of replications tells it apart
    assert replications_needed([2.0]) == 100_000


def test_distinguishable_ranking_and_increments_by_hand() -> None:
    from vision_zero.appraisal.ranking import increments, ranking

    base = runs("baseline", [(10.0, 100.0, 0.0), (12.0, 110.0, 0.0), (11.0, 90.0, 0.0)])
    a = runs(
        "a", [(10.0, 80.0, 0.0), (12.0, 90.0, 0.0), (11.0, 70.0, 0.0)], costs=[InterventionCost("x", 1e6)]
    )
    b = runs(
        "b", [(10.0, 101.0, 0.0), (12.0, 108.0, 0.0), (11.0, 91.0, 0.0)], costs=[InterventionCost("y", 1e5)]
    )
    ab = runs(
        "a+b",
        [(10.0, 81.0, 0.0), (12.0, 88.0, 0.0), (11.0, 71.0, 0.0)],
        costs=[InterventionCost("x", 1e6), InterventionCost("y", 1e5)],
    )
    c = compare(base, [a, b, ab], economics=ECON)
    va, vb, _ = c.variants
    assert va.distinguishable and not vb.distinguishable  # a: 20 fewer each time; b: -1, +2, -1
    assert va.cost_per_ksi_avoided == pytest.approx(1e6 / (20.0 * 2))  # cost PV / KSI avoided in 2 years
    assert vb.cost_per_ksi_avoided != vb.cost_per_ksi_avoided or vb.ksi_avoided.mean > 0
    assert va.bcr_safety.mean == pytest.approx(va.safety_benefit_pv.mean / 1e6)
    rank = ranking(c)
    # money values are tiny (VSL 1,000): NPV is about minus the cost, so the cheapest ranks first, clearly
    assert [r.variant for r in rank] == ["b", "a", "a+b"] and rank[-1].ahead_of_next is None
    assert rank[0].separated and rank[0].ahead_of_next is not None and rank[0].ahead_of_next.mean > 8e5
    inc = {(i.package, i.part): i for i in increments(c)}
    assert set(inc) == {("a+b", "a"), ("a+b", "b")}
    # a+b over a: KSI differences per pair (a − a+b) of variant − baseline: (−20 − −19, −22 − −24, −20 − −19)
    assert inc[("a+b", "a")].ksi_avoided.mean == pytest.approx(np.mean([-1.0, 2.0, -1.0]))
    assert inc[("a+b", "a")].cost_pv == pytest.approx(1e5)


def test_small_effects_are_printed_with_the_decimals_they_need() -> None:
    """A committee misread "KSI avoided 0.0 (0.0 to 0.0)" beside "P(fewer KSI) > 99%" (small schematic network)."""
    from compare_fixtures import runs

    from vision_zero.appraisal.compare_text import interval_digits
    from vision_zero.core.intervals import Interval
    from vision_zero.outputs.report import ReportInputs, render_report

    base = runs("baseline", [(0.05, 0.70, 3.0), (0.05, 0.65, 3.0), (0.05, 0.75, 3.0)])
    var = runs("crossings", [(0.05, 0.68, 3.0), (0.05, 0.63, 3.0), (0.05, 0.72, 3.0)])
    c = compare(base, [var])
    v = c.variants[0]
    assert v.distinguishable and 0.0 < v.ksi_avoided.low < 0.05  # pairs 0.02, 0.02, 0.03: excludes 0
    table = format_table(c)
    assert "0.02 (0.01 to 0.04)" in table and "0.0 (0.0 to 0.0)" not in table
    html = render_report(c, ReportInputs())
    assert "0.02 (0.01 … 0.04)" in html and "0.0 (0.0 … 0.0)" not in html
    # large figures keep their digits; a mean within noise is not printed as 0 either
    assert interval_digits(Interval(5.0, 0.0004, 9.9996, 0.0, 10.0, 5)) == 1
    assert interval_digits(Interval(0.004, -0.5, 0.5, 0.0, 0.0, 2)) == 3
    assert interval_digits(Interval(0.7, 0.3, 1.2, 0.0, 0.0, 3)) == 1
    # a summation residue (crossing-only variant, "elsewhere" 1e-12 KSI: seen in the README's main command as
    # "0.0000 (no reliable CI)") is printed as 0.0
    assert interval_digits(Interval(1e-12, math.nan, math.nan, 0.0, 0.0, 2)) == 1
    assert interval_digits(Interval(-3e-9, -1e-8, 1e-8, 0.0, 0.0, 3)) == 1
