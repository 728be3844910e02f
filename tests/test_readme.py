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


def test_readme_commands_name_existing_subcommands_and_options() -> None:
    """Each ``vision-zero …`` the README shows (code blocks and inline) uses commands and options the CLI has."""
    import argparse

    from vision_zero.cli import build_parser

    text = (ROOT / "README.md").read_text("utf-8")
    uses = re.findall(r"vision-zero((?: [a-z]+)+)([^\n`#]*)", text)
    assert uses
    wrong = []
    for words, rest in uses:
        parser = build_parser()
        path = []
        for word in words.split():
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if not subs or word not in subs[0].choices:
                break
            parser = subs[0].choices[word]
            path.append(word)
        if not path:
            wrong.append(f"vision-zero{words}: no such command")
            continue
        options = {s for a in parser._actions for s in a.option_strings}
        wrong += [
            f"vision-zero {' '.join(path)} {o}"
            for o in re.findall(r"(?<!\S)--?[a-z][\w-]*", rest)
            if o not in options
        ]
    assert wrong == []
