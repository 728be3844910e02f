"""End to end on real geometry: the Helsinki baseline (shipped .osm.pbf, clipped at its box) through the CLI.

One replication of every period of ``scenarios/helsinki/baseline.toml`` as it is shipped: loading the PBF,
Finland's defaults, demand with external zones at the cut edges, the simulation, the risk model and the results
folder. The demand must flow (the baseline's share of trips that arrive), and the results must say Helsinki's
real network, not the schematic city.
"""

import json
from pathlib import Path

import pytest
from paths import SCENARIOS

from vision_zero.cli import main

pytestmark = pytest.mark.slow  # ~40 s alone on two cores, ~2 min under load

BASELINE = SCENARIOS / "helsinki" / "baseline.toml"


def test_helsinki_baseline_one_replication(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["run", str(BASELINE), "--replications", "1", "--workers", "1", "--out", str(tmp_path), "-q"])
        == 0
    )
    out = capsys.readouterr().out
    assert "helsinki-centre.osm.pbf" in out and "SCHEMATIC" not in out
    (summary_file,) = tmp_path.glob("helsinki-baseline/*/replications/rep-0000/summary.json")
    s = json.loads(summary_file.read_text())["summary"]
    assert s["schematic"] == 0.0
    assert s["trips"] > 1000
    assert s["trips_completed"] / s["trips"] >= 0.95  # the documented demand flows (scenarios/helsinki/)
    assert s["veh_km"] > 0 and 0 < s["ksi"] < 1000
    manifest = json.loads(next(summary_file.parents[2].glob("manifest.json")).read_text())
    assert "helsinki-centre.osm.pbf" in json.dumps(manifest)
    # the peak calibration ("europe": 1.35, 1.2-1.5) is met within its own stated precision and says how sure it is
    assert s["peak_reached"] == 1.0 and s["peak_target"] == 1.35
    assert s["peak_congestion_index_se"] > 0 and 2 <= s["peak_replications"] <= 4
    tolerance = 0.03 * s["peak_target"] + 1.96 * s["peak_congestion_index_se"]
    assert abs(s["peak_congestion_index"] - s["peak_target"]) <= tolerance
    assert s["share_arrived"] >= 0.98  # of routed trips (the acceptance level)
    # and the written warnings are the right ones: no gridlock, no unmet calibration; the spread warning exactly
    # when this replication's own index (its own parameter draw) leaves the target's range
    written = json.loads((summary_file.parents[2] / "run_summary.json").read_text())
    outside = not s["peak_target_low"] <= round(s["congestion_index"], 2) <= s["peak_target_high"]
    assert len(written["warnings"]) == int(outside), (written["warnings"], s["congestion_index"])
    assert all("outside the target's range" in w for w in written["warnings"])
    assert written["warnings"] == json.loads(summary_file.read_text())["warnings"]
