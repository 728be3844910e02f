from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from _scenarios import write_scenarios

from vision_zero.appraisal.sweep import grid, parse_key_path, parse_vary, set_path, variant_name, write_sweep
from vision_zero.cli import main
from vision_zero.core.errors import ConfigError


def test_key_paths() -> None:
    assert parse_key_path("interventions[0].limit_kph") == ("interventions", 0, "limit_kph")
    assert parse_key_path("simulation.platoon_size") == ("simulation", "platoon_size")
    assert parse_key_path("interventions[1].where.name[2]") == ("interventions", 1, "where", "name", 2)
    for bad in ("", "[0].x", "a..b", "a[x]", "a.[0]", "a b", "a[0]b"):
        with pytest.raises(ConfigError, match="--vary"):
            parse_key_path(bad)


def test_parse_vary_values() -> None:
    v = parse_vary("interventions[0].limit_kph=30,40,50")
    assert v.key == "interventions[0].limit_kph"
    assert v.values == (30, 40, 50)
    assert v.short == "limit_kph"
    assert parse_vary("demand.scale=0.5,1.5").values == (0.5, 1.5)
    assert parse_vary("interventions[0].enforcement=camera,police").values == ("camera", "police")
    assert parse_vary("x.flag=true,false").values == (True, False)
    with pytest.raises(ConfigError, match="expected KEY=V1,V2"):
        parse_vary("interventions[0].limit_kph")
    with pytest.raises(ConfigError, match="comma-separated list of values"):
        parse_vary("interventions[0].limit_kph=30,,50")
    with pytest.raises(ConfigError, match="distinct values"):
        parse_vary("interventions[0].limit_kph=30,30")


def test_set_path_checks_structure() -> None:
    doc = {"simulation": {"seed": 1}, "interventions": [{"type": "speed_limit", "limit_kph": 30}]}
    out = set_path(doc, ("interventions", 0, "limit_kph"), 40)
    assert out["interventions"][0]["limit_kph"] == 40
    assert doc["interventions"][0]["limit_kph"] == 30  # the original is untouched
    with pytest.raises(ConfigError, match=r"--vary interventions\[3\]\.limit_kph: expected an index below 1"):
        set_path(doc, ("interventions", 3, "limit_kph"), 40)
    with pytest.raises(ConfigError, match=r"--vary simulaton\.seed: simulaton does not exist \(keys there: "):
        set_path(doc, ("simulaton", "seed"), 2)
    with pytest.raises(ConfigError, match="is not a list"):
        set_path(doc, ("simulation", 0), 2)
    with pytest.raises(ConfigError, match="is not a table"):
        set_path(doc, ("simulation", "seed", "x"), 2)


def test_grid_and_names() -> None:
    a = parse_vary("interventions[0].limit_kph=30,40")
    b = parse_vary("interventions[0].enforcement=signs,camera")
    combos = grid([a, b])
    assert combos == [
        {a.key: 30, b.key: "signs"},
        {a.key: 30, b.key: "camera"},
        {a.key: 40, b.key: "signs"},
        {a.key: 40, b.key: "camera"},
    ]
    assert variant_name("centre-30", combos[1], [a, b]) == "centre-30.limit_kph-30.enforcement-camera"
    c = parse_vary("interventions[1].limit_kph=20")
    # same last key twice: the full path names them apart
    assert (
        variant_name("x", {a.key: 30, c.key: 20}, [a, c])
        == "x.interventions-0-limit_kph-30.interventions-1-limit_kph-20"
    )
    with pytest.raises(ConfigError, match="each key at most once"):
        grid([a, a])


def test_write_sweep_csv_and_png(tmp_path: Path) -> None:
    a = parse_vary("interventions[0].limit_kph=30,40,50")
    rows = []
    for limit, avoided, delay in ((30, 12.0, 900.0), (40, 7.0, 400.0), (50, 2.0, 50.0)):
        rows.append(
            {
                a.key: limit,
                "ksi_avoided": avoided,
                "ksi_avoided_lo": avoided - 1,
                "ksi_avoided_hi": avoided + 1,
                "veh_h_added": delay,
                "veh_h_added_lo": delay - 10,
                "veh_h_added_hi": delay + 10,
            }
        )
    res = write_sweep(tmp_path, rows, [a], title="t", schematic=True)
    back = pd.read_csv(res.csv_path)
    assert list(back[a.key]) == [30, 40, 50]
    assert list(back["ksi_avoided"]) == [12.0, 7.0, 2.0]
    assert res.png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the command, on the real pipeline (tiny schematic network) -------------------------------------------------


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_scenarios(tmp_path_factory.mktemp("scenarios"))


def test_sweep_command_writes_csv_and_png(
    scenarios: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "sweep",
        str(scenarios[1]),
        "--vary",
        "interventions[0].limit_kph=30,50",
        "-n",
        "2",
        "--workers",
        "1",
    ]
    # the scenario itself (30 km/h) ran before: the sweep's 30 km/h point is that scenario and reuses its run
    run = ["run", str(scenarios[1]), "-n", "2", "--workers", "1", "--out", str(tmp_path), "-q"]
    assert main(run) == 0
    (run_dir,) = [d for d in (tmp_path / "slow").iterdir() if not d.name.startswith("sweep-")]
    before = sorted(p.stat().st_mtime_ns for p in run_dir.rglob("summary.json"))
    assert main([*args, "--out", str(tmp_path), "-q"]) == 0
    text = capsys.readouterr().out
    assert "SCHEMATIC" in text
    (folder,) = (tmp_path / "slow").glob("sweep-*")
    table = pd.read_csv(folder / "sweep.csv")
    assert list(table["interventions[0].limit_kph"]) == [30, 50]
    assert list(table["scenario"]) == ["slow", "slow.limit_kph-50"]
    assert [d for d in (tmp_path / "slow").iterdir() if not d.name.startswith("sweep-")] == [run_dir]
    assert sorted(p.stat().st_mtime_ns for p in run_dir.rglob("summary.json")) == before and len(before) == 2
    # casualty bounds are cut at 0 as in compare; whether each point is told apart from noise is said
    for key in ("fatal", "serious", "slight", "ksi"):
        assert (table[f"{key}_per_year_lo"] >= 0).all()
    assert table["distinguishable"].dtype == bool and (table["replications_needed"] >= 2).all()
    assert list(table["replications"]) == [2, 2]
    assert table["schematic"].all()
    for col in ("ksi_avoided", "ksi_avoided_lo", "ksi_avoided_hi", "veh_h_added", "fatal_per_year"):
        assert table[col].notna().all()
    # a lower limit adds travel time (paired, same trips)
    assert table.loc[0, "veh_h_added"] > table.loc[1, "veh_h_added"]
    assert (folder / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    # each variant is a run of its own, against the shared baseline
    assert (tmp_path / "slow.limit_kph-50").is_dir() and len(list((tmp_path / "base").iterdir())) == 1


def test_sweep_help_examples_plan_and_network_help_lists_every_scale(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shlex

    from paths import ROOT

    from vision_zero.appraisal.sweep import parse_vary, plan_sweep
    from vision_zero.cli.sweep import _EPILOG
    from vision_zero.network.schematic import SCALE_PRESETS

    examples = _EPILOG.replace("\\\n", " ").splitlines()[1:]
    assert len(examples) == 2
    for line in examples:
        argv = shlex.split(line)[2:]
        varies = [parse_vary(argv[i + 1]) for i, a in enumerate(argv) if a == "--vary"]
        plan = plan_sweep(ROOT / argv[0], varies)  # every key path and value is checked here
        assert plan.variants
    with pytest.raises(SystemExit):
        main(["network", "info", "--help"])
    out = capsys.readouterr().out.replace("\n", " ")
    for preset in SCALE_PRESETS:
        assert preset in out


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        ("interventions[3].limit_kph=30", r"--vary interventions\[3\]\.limit_kph: expected an index below 1"),
        (
            "interventions[0].limt_kph=30",
            r"--vary interventions\[0\]\.limt_kph=30: .*slow\.toml: interventions\[0\]\.limt_kph: expected one of the known keys .*limit_kph.* \(got 'limt_kph'\)",
        ),
        (
            "interventions[0].limit_kph=fast",
            r"--vary interventions\[0\]\.limit_kph='fast': .*interventions\[0\]\.limit_kph",
        ),
        ("simulaton.seed=1,2", r"--vary simulaton\.seed: simulaton does not exist"),
        ("interventions[0].limit_kph", r"--vary 'interventions\[0\]\.limit_kph': expected KEY=V1,V2"),
    ],
)
def test_sweep_key_mistakes_exit_2(
    scenarios: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], vary: str, message: str
) -> None:
    assert (
        main(
            ["sweep", str(scenarios[1]), "--vary", vary, "-n", "1", "--workers", "1", "--out", str(tmp_path)]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("vision-zero: error: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_sweep_of_a_baseline_is_refused(
    scenarios: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sweep", str(scenarios[0]), "--vary", "demand.scale=0.1,0.2", "--out", str(tmp_path)]) == 2
    assert "expected a scenario that extends a baseline" in capsys.readouterr().err
