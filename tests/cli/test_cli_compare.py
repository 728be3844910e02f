"""``vision-zero compare --target-ci / --max-replications`` on the real pipeline (tiny schematic network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _scenarios import write_scenarios

from vision_zero.cli import main
from vision_zero.core.intervals import mean_interval, replications_needed
from vision_zero.runs.results import LINK_EVENTS_FILE

#: A variant whose traffic is the baseline's but for 40 km/h signs on the tertiary streets: on the tiny network its
#: KSI avoided is a few thousandths of the baseline's, told apart from 0 only after many pairs.
_SIGNS = """\
name = "signs"
description = "SCHEMATIC tiny network: 40 km/h signs on the tertiary streets"
extends = "base.toml"

[[interventions]]
type = "speed_limit"
limit_kph = 40
enforcement = "signs"
where = { highway = ["tertiary"] }
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base, slow = write_scenarios(tmp_path_factory.mktemp("scenarios"))
    signs = base.parent / "signs.toml"
    signs.write_text(_SIGNS, "utf-8")
    return base, slow, signs


def _width_pct(values: np.ndarray) -> float:
    mean, lo, hi = mean_interval(values)
    return float(100 * (hi - lo) / abs(mean))


def _avoided(out: Path, variant: str) -> np.ndarray:
    pairs = pd.read_csv(out / "pairs.csv")
    rows = pairs[pairs.variant == variant].sort_values("replication")
    assert rows.replication.tolist() == list(range(len(rows)))  # pairs 0 … n-1: the baseline's indices
    return (rows.baseline_ksi - rows.variant_ksi).to_numpy(dtype=float)


def _stamps(results: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in results.rglob("summary.json")}


def test_target_ci_runs_rounds_of_pairs_until_each_variant_is_precise(
    files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, slow, signs = files
    results = tmp_path / "results"
    common = [str(base), str(slow), str(signs), "--workers", "1", "-q", "--results", str(results)]
    # --target-ci 100 (±50%), at most 6 pairs. Round 1: 3 pairs of both variants. slow's KSI avoided is then
    # wider than 100% of its mean, so round 2 has the pairs its mean and spread need by the t (replications_needed,
    # at most double): 4 here, where it is narrower than 100%. signs' interval includes 0 after 3 pairs and its
    # observed mean and spread need more than 6 pairs: out of reach, it stops at 3.
    assert (
        main(
            [
                "compare",
                *common,
                "--target-ci",
                "100",
                "--max-replications",
                "6",
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    slow_avoided, signs_avoided = _avoided(tmp_path / "a", "slow"), _avoided(tmp_path / "a", "signs")
    # by hand, from the pairs table:
    w3 = _width_pct(slow_avoided[:3])
    assert w3 >= 100 and replications_needed(slow_avoided[:3], relative=0.5) == 4
    assert len(slow_avoided) == 4 and _width_pct(slow_avoided) < 100
    assert len(signs_avoided) == 3
    _mean, lo, hi = mean_interval(signs_avoided)
    assert lo <= 0 <= hi and replications_needed(signs_avoided, relative=0.5) > 6
    assert "slow: ±50% reached after 4 pairs" in printed
    assert "signs: ±50% NOT reached: after 3 pairs its KSI avoided is not told apart from 0" in printed
    assert "more than --max-replications 6" in printed
    assert "reps for ±50%" in printed  # the column counts the pairs for the target asked
    headline = pd.read_csv(tmp_path / "a" / "headline.csv").set_index("variant")
    assert headline.loc["slow", "n"] == 4 and headline.loc["slow", "target_stop"] == "target-ci"
    assert headline.loc["signs", "n"] == 3 and headline.loc["signs", "target_stop"] == "out-of-reach"
    assert (headline.target_ci_pct == 100).all()
    html = (tmp_path / "a" / "report.html").read_text("utf-8")
    assert "slow: ±50% reached after 4 pairs" in html and "signs: ±50% NOT reached" in html
    # the baseline ran 4 replications, each variant its own pairs, nothing more
    for name, n in (("base", 4), ("slow", 4), ("signs", 3)):
        (run_dir,) = (results / name).iterdir()
        assert sorted(p.name for p in (run_dir / "replications").iterdir()) == [
            f"rep-{i:04d}" for i in range(n)
        ]

    # a tighter target in the same folder, capped at 4: every replication it needs is on disk (reused, none
    # written again); slow stops at the cap and the terminal and report say so, with the pairs it would need
    stamps = _stamps(results)
    assert (
        main(
            ["compare", *common, "--target-ci", "20", "--max-replications", "4", "--out", str(tmp_path / "b")]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert _stamps(results) == stamps
    needed = replications_needed(slow_avoided, relative=0.1)
    line = (
        f"slow: ±10% NOT reached after 4 pairs (--max-replications 4): interval width "
        f"{_width_pct(slow_avoided):.0f}% of the mean; pairs needed: {needed:,}."
    )
    assert line in printed
    assert line in (tmp_path / "b" / "report.html").read_text("utf-8")
    assert pd.read_csv(tmp_path / "b" / "headline.csv").set_index("variant").loc["slow", "target_stop"] == (
        "max-replications"
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--target-ci", "0", "argument --target-ci: expected a percentage > 0 and < 1000 (got '0')"),
        ("--target-ci", "-5", "argument --target-ci: expected a percentage > 0 and < 1000 (got '-5')"),
        ("--target-ci", "x", "argument --target-ci: expected a percentage such as 20 (got 'x')"),
        ("--max-replications", "0", "argument --max-replications: expected a whole number >= 1 (got '0')"),
    ],
)
def test_bad_target_options_exit_2_with_one_line(
    files: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    message: str,
) -> None:
    base, slow, _signs = files
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(base), str(slow), option, value, "--results", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing ran


def test_help_explains_the_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--target-ci 40 --max-replications 50" in text  # an example
    assert "40 means ±20%" in text and "includes 0" in text and "--max-replications" in text


def test_link_events_are_written_for_every_scenario(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    # compare --link-events: the baseline's and each variant's replications keep their link events (one runner
    # for the whole comparison); with --target-ci as well
    base, slow, _signs = files
    results = tmp_path / "results"
    args = [
        "compare",
        str(base),
        str(slow),
        "--workers",
        "1",
        "-q",
        "--results",
        str(results),
        "--link-events",
    ]
    assert main([*args, "--target-ci", "999", "--max-replications", "3", "--out", str(tmp_path / "out")]) == 0
    for name in ("base", "slow"):
        (run_dir,) = (results / name).iterdir()
        reps = sorted((run_dir / "replications").iterdir())
        assert len(reps) == 3 and all((rep / LINK_EVENTS_FILE).is_file() for rep in reps)
