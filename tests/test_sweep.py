from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vision_zero.errors import ConfigError
from vision_zero.sweep import grid, parse_key_path, parse_vary, set_path, variant_name, write_sweep


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
