"""The README's two commands are the ones CI runs."""

import re

from paths import ROOT


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_opens_with_main_and_test_commands() -> None:
    main_cmd, test_cmd = _commands()
    assert "vision-zero" in main_cmd and "pip install" in main_cmd
    assert "pytest" in test_cmd and "pip install" in test_cmd


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert _commands()[1] in ci.splitlines()


def test_readme_examples_write_only_into_ignored_folders() -> None:
    """An example's output file goes under results/ or networks/ (git-ignored), never into the repository root."""
    text = (ROOT / "README.md").read_text("utf-8")
    outputs = re.findall(r"(?:\s-o|--out)\s+(\S+)", text)
    assert outputs
    for path in outputs:
        assert path.startswith(("results/", "networks/")), path
