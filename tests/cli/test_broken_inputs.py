"""The broken-input corpus (``tests/corpus``) through the command line: exit 2, one line naming the file.

Every case is one broken input (a scenario, an OD or pedestrian CSV, a selector polygon, a GraphML network, a
parameters file, or a command-line argument) listed in ``tests/corpus/cases.json`` with the file its message must
name. Cases run in this process (``vision_zero.cli.main``): an uncaught exception would fail the test with its
traceback, so "no traceback" is checked twice (nothing raised, none printed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from paths import TESTS

from vision_zero.cli import main
from vision_zero.core.errors import MAX_MESSAGE_CHARS

CORPUS = TESTS / "corpus"
CASES = json.loads((CORPUS / "cases.json").read_text("utf-8"))


def test_the_corpus_is_large_and_every_file_is_used() -> None:
    assert len(CASES) >= 60
    assert len({c["id"] for c in CASES}) == len(CASES)
    used = " ".join(" ".join(c["argv"]) + " " + c["named"] for c in CASES)
    for path in CORPUS.rglob("*"):
        if (
            path.is_file()
            and path.suffix in (".csv", ".graphml", ".geojson")
            and path.name != "square.graphml"
        ):
            assert path.name in used or path.stem in used, f"{path} is in no case"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_broken_input_exits_2_with_one_line_naming_the_file(
    case: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    (tmp_path / "a-folder").mkdir()
    argv = [str(a).format(corpus=CORPUS, tmp=tmp_path) for a in case["argv"]]  # type: ignore[attr-defined]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (case["what"], err)
    # validate lists every mistake of the file, one line each; every other command prints the first only
    assert len(lines) == 1 or (argv[0] == "validate" and len(lines) > 1), err
    assert str(case["named"]) in lines[0], lines[0]
    for line in lines:
        assert line.startswith("vision-zero: error: "), line
        assert len(line) <= len("vision-zero: error: ") + MAX_MESSAGE_CHARS + 30
    assert "Traceback" not in err + out


def test_a_byte_order_mark_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid scenario and OD file saved with a UTF-8 BOM (as Windows editors do) validate like without it."""
    shutil.copy(CORPUS / "square.graphml", tmp_path / "square.graphml")
    scenario = (CORPUS / "od" / "ok.toml").read_text("utf-8").replace("../square.graphml", "square.graphml")
    (tmp_path / "ok.toml").write_bytes(b"\xef\xbb\xbf" + scenario.encode())
    (tmp_path / "ok.csv").write_bytes(b"\xef\xbb\xbf" + (CORPUS / "od" / "ok.csv").read_bytes())
    assert main(["validate", str(tmp_path / "ok.toml")]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.startswith("ok: ")
