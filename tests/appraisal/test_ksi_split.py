"""KSI avoided on the links a variant changed vs elsewhere: hand cases with known answers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from compare_fixtures import replication, runs, square_network

from vision_zero.appraisal.compare import ScenarioRuns, compare
from vision_zero.appraisal.economics import Economics
from vision_zero.appraisal.ksi_split import KsiSplit, format_split, ksi_split, split_frame
from vision_zero.core.intervals import interval
from vision_zero.outputs.report import ReportInputs, render_report
from vision_zero.outputs.write import write_tables
from vision_zero.runs.results import ReplicationResult

ECON = Economics("USD", 1_033_900.0, 258_475.0, 10_339.0, 3.1, 0.06, 20)

# square_network: links 0..3 = (0,1),(1,2),(2,3),(3,0), links 4..7 their reverses; crossing 0 lies on links 0 and
# 4 (shared half/half); junction 2 is the end of links 1 (1->2) and 6 (3->2) (shared half/half).


def _rep(scenario: str, i: int, sites: list[tuple[str, int, str, float]]) -> ReplicationResult:
    """A replication whose injuries are exactly ``sites`` (site_type, site, severity, per_year)."""
    base = replication(scenario, i, fatal=0.0, serious=0.0, slight=0.0)
    inj = pd.DataFrame(
        [(t, s, "pedestrian" if t != "link" else "occupant", sev, x) for t, s, sev, x in sites],
        columns=["site_type", "site", "road_user", "severity", "per_year"],
    )
    inj["per_year_raw"] = inj["per_year"]
    summary = dict(base.summary)
    for sev in ("fatal", "serious", "slight"):
        summary[sev] = float(inj.loc[inj["severity"] == sev, "per_year"].sum())
    summary["ksi"] = summary["fatal"] + summary["serious"]
    for ru in ("pedestrian", "occupant"):
        for sev in ("fatal", "serious", "slight"):
            summary[f"{sev}_{ru}"] = float(
                inj.loc[(inj["severity"] == sev) & (inj["road_user"] == ru), "per_year"].sum()
            )
        summary[f"ksi_{ru}"] = summary[f"fatal_{ru}"] + summary[f"serious_{ru}"]
    return ReplicationResult(
        scenario=scenario,
        replication=i,
        seed=base.seed,
        summary=summary,
        injuries=inj,
        link_traffic=base.link_traffic,
        speed_hist=base.speed_hist,
        parameters=base.parameters,
    )


def _scenarios(n: int = 4) -> tuple[ScenarioRuns, ScenarioRuns]:
    """Baseline and variant where, with touched = {0, 4}, KSI avoided is 3 + 0.5 i there and -2 elsewhere."""
    base, var = [], []
    for i in range(n):
        base.append(
            _rep(
                "baseline",
                i,
                [
                    ("link", 0, "fatal", 2.0 + 0.5 * i),
                    ("link", 2, "serious", 1.0),
                    ("crossing", 0, "serious", 4.0),  # links 0 and 4: touched
                    ("junction", 2, "serious", 2.0),  # links 1 and 6: elsewhere
                    ("link", 3, "slight", 9.0),  # not KSI
                ],
            )
        )
        var.append(
            _rep(
                "centre-30",
                i,
                [
                    ("link", 0, "fatal", 1.0),
                    ("link", 2, "serious", 3.0 + 0.25 * i),  # diverted traffic
                    ("crossing", 0, "serious", 2.0),
                    ("junction", 2, "serious", 2.0),
                    ("link", 3, "slight", 20.0),
                ],
            )
        )
    return (
        ScenarioRuns("baseline", base, schematic=True, network_source="test:square"),
        ScenarioRuns("centre-30", var, schematic=True, network_source="test:square"),
    )


def _split(touched: list[int]) -> tuple[KsiSplit, ScenarioRuns, ScenarioRuns]:
    b, v = _scenarios()
    net = square_network()
    return ksi_split(b, v, baseline_network=net, variant_network=net, touched=touched), b, v


def test_split_on_a_hand_case() -> None:
    s, _, _ = _split([0, 4])
    i = np.arange(4)
    touched = 3.0 + 0.5 * i  # (2 + 0.5 i + 4) - (1 + 2)
    elsewhere = -2.0 - 0.25 * i  # (1 + 2) - (3 + 0.25 i + 2)
    np.testing.assert_allclose(s.per_pair["touched"], touched)
    np.testing.assert_allclose(s.per_pair["elsewhere"], elsewhere)
    assert s.touched == interval(touched)
    assert s.elsewhere == interval(elsewhere)
    assert s.touched.mean == pytest.approx(3.75) and s.elsewhere.mean == pytest.approx(-2.375)
    assert s.touched_links == (0, 4) and s.n_links == 8


def test_parts_add_up_to_the_total_ksi_avoided() -> None:
    s, b, v = _split([0, 4])
    c = compare(b, [v], economics=ECON)
    total = -c.variants[0].per_pair["diff_ksi"].to_numpy()
    np.testing.assert_allclose(s.per_pair["touched"] + s.per_pair["elsewhere"], total, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.per_pair["total"], total, rtol=0, atol=1e-12)
    assert s.total.mean == pytest.approx(c.variants[0].ksi_avoided.mean)
    assert s.total.low == pytest.approx(c.variants[0].ksi_avoided.low)


def test_a_crossing_between_touched_and_untouched_links_is_shared() -> None:
    s, _, _ = _split([0])  # crossing 0 counts half on link 0 (touched), half on link 4
    i = np.arange(4)
    np.testing.assert_allclose(s.per_pair["touched"], (2.0 + 0.5 * i + 2.0) - (1.0 + 1.0))
    np.testing.assert_allclose(s.per_pair["elsewhere"], (1.0 + 2.0 + 2.0) - (3.0 + 0.25 * i + 1.0 + 2.0))


def test_nothing_touched_puts_everything_elsewhere() -> None:
    s, _, _ = _split([])
    np.testing.assert_allclose(s.per_pair["touched"], 0.0)
    np.testing.assert_allclose(s.per_pair["elsewhere"], s.per_pair["total"])


def test_bad_inputs_are_refused() -> None:
    b, v = _scenarios()
    net = square_network()
    with pytest.raises(ValueError, match=r"0\.\.7"):
        ksi_split(b, v, baseline_network=net, variant_network=net, touched=[8])
    fewer = net.with_tables(links=net.links.iloc[:4])
    with pytest.raises(ValueError, match="same links"):
        ksi_split(b, v, baseline_network=net, variant_network=fewer, touched=[0])


def test_frame_tables_and_report(tmp_path: Path) -> None:
    s, b, v = _split([0, 4])
    f = split_frame([s])
    assert list(f["part"]) == ["touched", "elsewhere", "total"]
    assert list(f["links"]) == [2, 6, 8]
    assert f["mean"].iloc[0] + f["mean"].iloc[1] == pytest.approx(f["mean"].iloc[2])
    assert len(split_frame([])) == 0 and "part" in split_frame([]).columns
    c = compare(b, [v], economics=ECON)
    paths = write_tables(c, tmp_path, splits=[s])
    csv = pd.read_csv(paths["ksi_split"])
    assert csv["mean"].tolist() == pytest.approx([3.75, -2.375, 1.375])
    assert "ksi_split" not in write_tables(c, tmp_path / "none")
    block = format_split(csv).splitlines()
    assert "where the change happens" in block[0]
    assert block[3].split()[:2] == ["centre-30", "3.8"] and "[2 links]" in block[3]
    assert format_split(split_frame([])) == ""
    html = render_report(c, ReportInputs(ksi_split=[s]))
    assert "where the change happens" in html and "e.g. traffic diverted" in html
    assert "on the streets changed" in html and "elsewhere" in html
    assert "3.8 (" in html and "-2.4 (" in html
    assert "where the change happens" not in render_report(c, ReportInputs())
    ru = render_report(c, ReportInputs(ksi_split=[s]), lang="ru")
    kk = render_report(c, ReportInputs(ksi_split=[s]), lang="kk")
    assert "на изменённых улицах" in ru and "өзгертілген көшелерде" in kk


@pytest.mark.parametrize("n", [2, 4])
def test_each_part_gets_the_comparisons_reliability_and_replications_for_precision(n: int) -> None:
    """As the comparison's tables: no interval from 2 pairs, and the pairs for ± 20% on each part's mean."""
    from vision_zero.appraisal.compare_text import unreliable_note
    from vision_zero.core.intervals import replications_needed

    b, v = _scenarios(n)
    net = square_network()
    s = ksi_split(b, v, baseline_network=net, variant_network=net, touched=[0, 4], precision_pct=20.0)
    c = compare(b, [v], economics=ECON)
    assert c.variants[0].precision_pct == 20.0  # the shipped appraisal.ksi_precision_pct
    f = split_frame([s]).set_index("part")
    for p in ("touched", "elsewhere", "total"):
        want = replications_needed(s.per_pair[p].to_numpy(), relative=0.2)
        assert f.loc[p, "replications_for_precision"] == want == s.replications_for_precision(p)
        assert f.loc[p, "reliable"] == (n >= 3) and f.loc[p, "ksi_precision_pct"] == 20.0
    assert f.loc["total", "replications_for_precision"] == c.variants[0].replications_for_precision
    assert f.loc["touched", "distinguishable"] == (n >= 3)  # 3.75 ± 0.82 with 4 pairs
    block = format_split(f.reset_index())
    html = render_report(c, ReportInputs(ksi_split=[s]))
    assert "reps for ±20% on the streets changed" in block and "reps for ±20% on the streets changed" in html
    need = str(s.replications_for_precision("touched"))
    assert block.splitlines()[3].split()[-1] == need and f"<td>{need}</td></tr>" in html
    if n == 2:
        assert "3.2 (no reliable CI)" in block and unreliable_note(2) in html
    else:
        assert "no reliable CI" not in block


def test_write_outputs_writes_the_split(tmp_path: Path) -> None:
    from vision_zero.appraisal.study import CompareInputs
    from vision_zero.outputs.write import write_outputs
    from vision_zero.program.touched import Touched

    net = square_network()
    base_tot = [(2.0, 10.0, 100.0), (3.0, 12.0, 110.0), (1.0, 9.0, 95.0)]
    base = runs("baseline", base_tot)
    var = runs("slow", [(f * 0.8, s * 0.8, sl) for f, s, sl in base_tot], link_speed_kph=40.0)
    # South St (links 0 and 4) gets a lower limit: those are the touched links
    slower = net.with_tables(
        links=net.links.assign(speed_limit_kph=[30.0, 60.0, 40.0, 50.0, 30.0, 60.0, 40.0, 50.0])
    )
    c = compare(base, [var], economics=ECON)
    touched = Touched.of(links=[0, 4])  # what the speed-limit intervention reports
    write_outputs(c, [CompareInputs(base, net), CompareInputs(var, slower, touched=touched)], tmp_path)
    f = pd.read_csv(tmp_path / "ksi_split.csv").set_index("part")
    assert f.loc["touched", "links"] == 2
    # every site scales by 0.8: KSI avoided is 20% of the baseline's KSI on each link; links 0 and 4 carry
    # 0.6/8 each of the occupants' KSI and the whole of crossing 0's 20%
    ksi = np.array([f_ + s_ for f_, s_, _ in base_tot])
    assert f.loc["touched", "mean"] == pytest.approx(0.2 * ksi.mean() * (2 * 0.6 / 8 + 0.2))
    assert f.loc["total", "mean"] == pytest.approx(c.variants[0].ksi_avoided.mean)
    html = (tmp_path / "report.html").read_text("utf-8")
    assert "where the change happens" in html


@pytest.mark.slow
def test_crossings_upgrade_is_attributed_to_the_upgraded_sites() -> None:
    """The example crossings-upgrade (reduced): its KSI avoided lies at the upgraded crossings, not 'elsewhere'.

    The crossings record what they touched (the upgraded crossings); their links and junctions are the touched
    part of the split. (Diffing the link tables found 0 changed links: an upgrade changes only the crossings.)
    """
    from paths import SCENARIOS

    from vision_zero.program.scenario import SMOKE_OVERRIDES, load_scenario
    from vision_zero.runs.pipeline import run_replication
    from vision_zero.runs.preparation import load_base_network, prepare

    overrides = {**SMOKE_OVERRIDES, "simulation.replications": 2}
    base_sc = load_scenario(SCENARIOS / "baseline.toml", overrides=overrides)
    var_sc = load_scenario(SCENARIOS / "crossings-upgrade.toml", overrides=overrides)
    network = load_base_network(base_sc)
    base_p, var_p = prepare(base_sc, network=network), prepare(var_sc, network=network)
    upgraded = sum(a.selection.crossings for a in var_p.interventions)
    assert upgraded > 0 and len(var_p.touched.crossings) == upgraded
    assert len(var_p.touched.links) == 0 and not base_p.touched
    site_links = var_p.touched.site_links(var_p.network)
    crossing_links = var_p.network.crossing_links
    on_upgraded = crossing_links["crossing"].isin(var_p.touched.crossings)
    assert set(crossing_links.loc[on_upgraded, "link"]) <= set(site_links.tolist())
    b = [run_replication(base_p, r) for r in range(2)]
    v = [run_replication(var_p, r, baseline_draws=b[r].risk_draws) for r in range(2)]
    split = ksi_split(
        ScenarioRuns("baseline", b, schematic=True),
        ScenarioRuns("crossings-upgrade", v, schematic=True),
        baseline_network=base_p.network,
        variant_network=var_p.network,
        touched=site_links,
    )
    assert split.total.mean > 0
    assert split.touched.mean > 0.8 * split.total.mean  # the effect is at the upgraded sites
    assert abs(split.elsewhere.mean) < 0.2 * split.total.mean
