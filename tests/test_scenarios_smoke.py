"""Every example scenario validates and runs (reduced: one replication of a short AM peak at light demand).

The examples: the six on the schematic network (scenarios/*.toml) and the three on the real OpenStreetMap network
of central Helsinki (scenarios/helsinki/*.toml, from the shipped networks/helsinki-centre.osm.pbf).

The reduction is the documented override mechanism (``vision_zero.program.scenario.SMOKE_OVERRIDES``; on the command
line ``--set simulation.replications=1 --set 'simulation.periods=["am_peak"]' ...``). The network stays the one
each file names, so every selector is checked against the network it was written for.
"""

import math
from pathlib import Path

import pytest
from paths import SCENARIOS

from vision_zero.cli import main
from vision_zero.network.road_network import load_network
from vision_zero.program.scenario import SMOKE_OVERRIDES, load_scenario
from vision_zero.runs.pipeline import run_replication
from vision_zero.runs.preparation import prepare

pytestmark = pytest.mark.slow  # every example scenario on its own network (~1 min)

SCHEMATIC_FILES = sorted(SCENARIOS.glob("*.toml"))
HELSINKI_FILES = sorted((SCENARIOS / "helsinki").glob("*.toml"))
FILES = SCHEMATIC_FILES + HELSINKI_FILES


@pytest.fixture(scope="module")
def results():
    networks: dict[str, object] = {}
    out = {}
    for path in sorted(FILES, key=lambda f: f.name != "baseline.toml"):  # each set's baseline first
        scenario = load_scenario(path, overrides=SMOKE_OVERRIDES)
        key = scenario.network.cache_key
        if key not in networks:
            networks[key] = load_network(scenario.network.source, country=scenario.network.country)
        prepared = prepare(scenario, network=networks[key])  # type: ignore[arg-type]
        draws = None if prepared.is_baseline else out[prepared.baseline_path].risk_draws
        out[path] = run_replication(prepared, 0, baseline_draws=draws)
    return out


def test_there_are_six_schematic_and_three_helsinki_examples():
    assert len(SCHEMATIC_FILES) == 6
    assert [f.name for f in HELSINKI_FILES] == ["baseline.toml", "crossings.toml", "streets-30.toml"]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_example_runs(path: Path, results):
    r = results[path]
    s = r.summary
    assert r.scenario == load_scenario(path).name and r.replication == 0
    assert s["schematic"] == (0.0 if path in HELSINKI_FILES else 1.0)
    assert s["trips"] > 0
    assert s["trips_completed"] + s["trips_en_route"] + s["trips_unrouted"] == s["trips"]
    assert s["share_arrived"] == pytest.approx(s["trips_completed"] / s["trips_routed"])
    assert s["stuck_moves"] >= 0
    assert s["veh_km"] > 0
    for key in ("fatal", "serious", "slight", "ksi"):
        assert math.isfinite(s[key]) and s[key] > 0
    assert (r.injuries["per_year"] >= 0).all()


@pytest.mark.parametrize("files", [SCHEMATIC_FILES, HELSINKI_FILES], ids=["schematic", "helsinki"])
def test_variants_share_the_baseline_calibration(results, files):
    """Calibration factors come from the baseline's replication: equal factors in every scenario of a set.

    Per risk draw (``risk_draws.parquet``: the injuries table is the mean over the draws, each with its factors).
    """
    tables = [results[f].risk_draws for f in sorted(files, key=lambda f: f.name != "baseline.toml")]
    for table in tables[1:]:
        assert table[["draw", "key", "factor"]].equals(tables[0][["draw", "key", "factor"]])


def test_validate_command_accepts_every_example(capsys: pytest.CaptureFixture[str]):
    assert main(["validate", *map(str, FILES)]) == 0
    assert capsys.readouterr().out.count("ok: ") == len(FILES)
