"""``vision-zero validate``: every mistake of a file, blamed on the right file, each shared mistake once, warnings."""

from pathlib import Path

import pytest
from _scenarios import BASE
from paths import SCENARIOS

from vision_zero.cli import main


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, "utf-8")
    return path


def test_validate_lists_every_mistake_of_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _write(tmp_path, "base.toml", BASE)
    bad = _write(
        tmp_path,
        "bad.toml",
        'name = "bad"\ndescription = "two mistakes and a bad intervention"\nextends = "base.toml"\n'
        'colour = "red"\n[simulation]\nreplications = "many"\n'
        '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 500\n',
    )
    assert main(["validate", "--schema-only", str(base), str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3, err
    assert any("bad.toml: colour: expected one of the known keys" in line for line in err)
    assert any("simulation.replications" in line and "'many'" in line for line in err)
    assert any("interventions[0].limit_kph" in line for line in err)
    assert all(line.startswith("vision-zero: error: ") for line in err)


def test_missing_description_is_blamed_on_the_file_that_lacks_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "base.toml", BASE)
    child = _write(tmp_path, "child.toml", 'name = "child"\nextends = "base.toml"\n')
    assert main(["validate", "--schema-only", str(child)]) == 2
    err = capsys.readouterr().err
    assert f"{child.resolve()}: description: expected a value" in err and "base.toml: description" not in err


def test_the_same_mistake_in_several_files_is_printed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _write(
        tmp_path, "base.toml", BASE.replace("schematic:almaty?scale=tiny&seed=0", "networks/missing.graphml")
    )
    kids = [
        _write(tmp_path, f"v{i}.toml", f'name = "v{i}"\ndescription = "v"\nextends = "base.toml"\n')
        for i in range(3)
    ]
    assert main(["validate", str(base), *map(str, kids)]) == 2
    err = capsys.readouterr().err.splitlines()
    errors = [line for line in err if line.startswith("vision-zero: error: ")]
    assert len(errors) == 1 and "missing.graphml" in errors[0], err
    assert any("the same error for 4 files" in line for line in err)


def test_a_limit_equal_to_the_old_one_is_warned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vision_zero.network.road_network import load_network

    net = load_network("schematic:almaty?scale=tiny&seed=0")
    primary = net.links[net.links["highway"] == "primary"]
    limit = float(primary["speed_limit_kph"].iloc[0])
    same = primary["speed_limit_kph"] == limit
    _write(tmp_path, "base.toml", BASE)
    v = _write(
        tmp_path,
        "same.toml",
        f'name = "same"\ndescription = "no change"\nextends = "base.toml"\n[[interventions]]\n'
        f'type = "speed_limit"\nlimit_kph = {limit:g}\nwhere = {{ highway = ["primary"] }}\n',
    )
    assert main(["validate", str(v)]) == 0  # a warning, not an error
    err = capsys.readouterr().err
    share = "all" if same.all() else f"{int(same.sum())} of the {len(primary)}"
    assert f"vision-zero: warning: {v}: interventions[0]" in err
    assert f"{share} selected links already have a {limit:g} km/h limit: no change there" in err


def test_validate_checks_without_calibrating_the_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Helsinki baseline asks for a calibrated peak (up to 8 simulations): validating only checks the file.
    import vision_zero.runs.preparation as preparation

    def calibrating(*args: object, **kwargs: object) -> None:
        raise AssertionError("validate ran the peak calibration")

    monkeypatch.setattr(preparation, "calibrate_peak", calibrating)
    assert main(["validate", str(SCENARIOS / "helsinki" / "baseline.toml")]) == 0


def test_a_limit_above_the_old_one_is_warned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # living streets (20 km/h in Kazakhstan) inside a 30 km/h zone: the new limit raises theirs
    from vision_zero.network.road_network import load_network

    net = load_network("schematic:almaty?scale=tiny&seed=0")
    living = net.links[net.links["highway"] == "living_street"]
    assert len(living) and (living["speed_limit_kph"] < 30).all()
    _write(tmp_path, "base.toml", BASE)
    v = _write(
        tmp_path,
        "up.toml",
        'name = "up"\ndescription = "30 km/h zone"\nextends = "base.toml"\n[[interventions]]\n'
        'type = "speed_limit"\nlimit_kph = 30\nwhere = { highway = ["living_street"] }\n',
    )
    assert main(["validate", str(v)]) == 0  # a warning, not an error
    err = capsys.readouterr().err
    lowest = float(living["speed_limit_kph"].min())
    assert (
        f"all selected links have a lower limit (from {lowest:g} km/h): this raises it there to 30 km/h"
        in err
    )
