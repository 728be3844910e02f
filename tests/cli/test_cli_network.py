import re
import subprocess
import sys
from pathlib import Path

import pytest
from paths import FIXTURES, SHARED_OSM

from vision_zero.cli import main
from vision_zero.network.road_network import RoadNetwork, load_network, network_fingerprint

MIDWAY = FIXTURES / "midway_crossing.osm"
needs_shared = pytest.mark.skipif(not (SHARED_OSM / "munich-small.osm.bz2").is_file(), reason="no shared OSM")


def test_info_on_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", "info", str(MIDWAY)]) == 0
    out = capsys.readouterr().out
    assert "Real OpenStreetMap network" in out
    assert "nodes:        7" in out
    assert "links:        13" in out
    assert "signals:      1" in out
    assert "crossings:    2 (marked 1, refuge_island 1)" in out
    assert "living_street" in out
    assert "20 km/h" in out and "60 km/h" in out
    assert "speed_limit_kph   15.4%" in out  # 2 of 13 links defaulted


@needs_shared
@pytest.mark.parametrize(("name", "signals"), [("west-oakland", 4), ("munich-small", 0)])
def test_info_on_shared_extracts(name: str, signals: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", "info", str(SHARED_OSM / f"{name}.osm.bz2")]) == 0
    out = capsys.readouterr().out
    assert f"signals:      {signals} signalised nodes" in out
    assert "km by speed limit:" in out
    if name == "munich-small":
        assert "30 km/h" in out


def test_build_then_info_from_graphml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "nets" / "fx.graphml"
    assert main(["network", "build", str(MIDWAY), "-o", str(out_file)]) == 0
    assert out_file.is_file()
    assert "7 nodes, 13 links" in capsys.readouterr().out
    assert network_fingerprint(load_network(out_file)) == network_fingerprint(load_network(MIDWAY))
    assert main(["network", "info", str(out_file)]) == 0
    assert "crossings:    2" in capsys.readouterr().out


def test_build_default_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", "build", str(MIDWAY), "--cache-dir", str(tmp_path)]) == 0
    assert (tmp_path / "midway-crossing.graphml").is_file()


def test_plot_writes_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "map.png"
    assert main(["network", "plot", str(MIDWAY), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["map.png"]


def test_schematic_info_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", "info", "schematic:almaty?scale=tiny"]) == 0
    out = capsys.readouterr().out
    assert "SCHEMATIC — not real geometry" in out
    assert re.search(
        r"cut: +a part of the schematic city: \d+ boundary nodes", out
    )  # a preset is cut from it
    png = tmp_path / "s.png"
    assert main(["network", "plot", "schematic:almaty?scale=tiny", "-o", str(png)]) == 0
    assert png.is_file()


def test_plot_title_says_schematic(tmp_path: Path, tiny_network: RoadNetwork) -> None:
    import matplotlib

    from vision_zero.outputs.plot import plot_network

    net = tiny_network
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep text as text in the SVG
        svg = plot_network(net, tmp_path / "s.svg", title="Almaty").read_text("utf-8")
    assert "SCHEMATIC — not real geometry: Almaty" in svg


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["network", "info", "missing/nowhere.osm"], "network file not found"),
        (["network", "info", "schematic:paris"], "unknown schematic city"),
        (["network", "plot", str(MIDWAY), "-o", "map.bmp"], "expected a file ending in one of"),
    ],
)
def test_errors_are_one_line_exit_2(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err
    assert err.count("\n") == 1 and err.startswith("vision-zero: error: ")
    assert "Traceback" not in err


def test_corrupt_osm_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.osm.bz2"
    bad.write_bytes(b"not bz2 at all")
    assert main(["network", "info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.osm.bz2: not a readable OSM file" in err and err.count("\n") == 1


def test_unknown_file_type_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "roads.csv"
    odd.write_text("a,b\n")
    assert main(["network", "build", str(odd)]) == 2
    assert "unknown network file type" in capsys.readouterr().err


@pytest.mark.parametrize("sub", ["build", "info", "plot"])
def test_help_has_example(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["network", sub, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "Example: vision-zero network " + sub in out


def test_real_subprocess_missing_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vision_zero", "network", "info", str(tmp_path / "none.osm.bz2")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("none.osm.bz2: network file not found")
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr
