from pathlib import Path

import numpy as np
import pytest

from vision_zero.core.errors import ParameterError
from vision_zero.core.parameters import load_parameters

GOOD = """
[test.exponent]
value = 3.0
low = 2.0
high = 4.0
distribution = "normal"
unit = "1"
source = "a source"
status = "checked"

[test.cmf]
value = 0.6
low = 0.4
high = 0.9
distribution = "lognormal"
unit = "1"
source = "a source"
status = "unchecked"

[test.fixed]
value = 60
unit = "km/h"
source = "a source"
status = "assumption"
"""


def test_shipped_parameters_all_sourced() -> None:
    params = load_parameters()
    for p in params.values():
        assert p.source.strip() and p.status in {"checked", "unchecked", "derived", "assumption"}


def test_user_file_overrides_and_draws(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text(GOOD)
    params = load_parameters(f)
    assert params.value("test.exponent") == 3.0
    assert params.value("test.fixed") == 60.0
    rng = np.random.default_rng(0)
    draws = np.array([params["test.exponent"].draw(rng) for _ in range(4000)])
    assert draws.mean() == pytest.approx(3.0, abs=0.03)
    assert draws.std() == pytest.approx(2.0 / 3.92, rel=0.05)
    cmf = np.array([params["test.cmf"].draw(rng) for _ in range(4000)])
    assert (cmf > 0).all()
    assert np.median(cmf) == pytest.approx(0.6, rel=0.03)
    assert params["test.fixed"].draw(rng) == 60.0


def test_draw_is_reproducible(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text(GOOD)
    params = load_parameters(f)
    assert params.draw(np.random.default_rng(5)) == params.draw(np.random.default_rng(5))


def test_adding_a_parameter_moves_no_other_draw(tmp_path: Path) -> None:
    """Each parameter has its own stream keyed by its name: a new drawn parameter (sorting first) changes nothing else."""
    f = tmp_path / "p.toml"
    f.write_text(GOOD)
    g = tmp_path / "q.toml"
    g.write_text(
        GOOD.replace(
            "[test.exponent]",
            "[test.aaa_new]\nvalue = 1.0\nlow = 0.5\nhigh = 1.5\n"
            'distribution = "uniform"\nunit = "1"\nsource = "s"\nstatus = "assumption"\n\n[test.exponent]',
        )
    )
    before = load_parameters(f).draw(np.random.default_rng(5))
    after = load_parameters(g).draw(np.random.default_rng(5))
    assert "test.aaa_new" in after
    assert {k: after[k] for k in before} == before
    # and the draws are still draws: another root gives other values for every drawn parameter
    other = load_parameters(f).draw(np.random.default_rng(6))
    assert other["test.exponent"] != before["test.exponent"] and other["test.cmf"] != before["test.cmf"]
    assert other["test.fixed"] == before["test.fixed"] == 60.0


def test_parameters_drawn_together_are_independent(tmp_path: Path) -> None:
    """Two parameters with the same distribution draw different values (their streams differ by name)."""
    f = tmp_path / "p.toml"
    f.write_text(GOOD + GOOD.replace("[test.", "[twin."))
    params = load_parameters(f)
    pairs = np.array(
        [
            [d["test.exponent"], d["twin.exponent"]]
            for d in (params.draw(np.random.default_rng(s)) for s in range(400))
        ]
    )
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert abs(np.corrcoef(pairs.T)[0, 1]) < 0.2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[a.b]\nvalue = "x"\nunit="1"\nsource="s"\nstatus="checked"\n', "a.b.value: expected a number"),
        ("[a.b]\nvalue = 1\nunit='1'\nsource='s'\nstatus='guessed'\n", "a.b.status"),
        ("[a.b]\nvalue = 5\nlow = 1\nunit='1'\nsource='s'\nstatus='checked'\n", "both low and high"),
        (
            "[a.b]\nvalue = 9\nlow = 1\nhigh = 2\nunit='1'\nsource='s'\nstatus='checked'\n",
            "low <= value <= high",
        ),
        ("[a.b]\nvalue = 1\nunit='1'\nsource='s'\nstatus='checked'\ncolour='red'\n", "unknown keys"),
        ("[a.b]\nvalue = 1\nunit='1'\nstatus='checked'\n", "a.b.source"),
        ("not toml = = 3", "not valid TOML"),
    ],
)
def test_bad_files_get_precise_messages(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ParameterError, match=message) as info:
        load_parameters(f)
    assert str(f) in str(info.value)


def test_unknown_parameter_named() -> None:
    with pytest.raises(ParameterError, match=r"unknown parameter 'no\.such'"):
        load_parameters()["no.such"]


def test_membership_does_not_raise() -> None:
    params = load_parameters()
    assert "no.such.parameter" not in params
    name = next(iter(params))
    assert name in params


def test_parameter_reads_records_keys_read_and_whether_it_was_iterated() -> None:
    from vision_zero.core.parameters import ParameterReads
    from vision_zero.risk._parameters import RecordedReads

    reads = ParameterReads({"a": 1.0, "b": 2.0, "c": 3.0})
    assert reads["a"] == 1.0 and reads.get("b") == 2.0 and reads.get("z") is None
    assert reads.read == {"a", "b", "z"} and not reads.everything
    assert sorted(reads) == ["a", "b", "c"] and reads.everything
    assert reads.read == {"a", "b", "z"}  # iterating names no key
    recorded = RecordedReads({"a": 1.0, "b": 2.0})
    assert recorded["a"] == 1.0 and recorded.read == {"a"}
    assert len(recorded) == 2 and recorded.read == {"a", "b"} and recorded.everything  # every key, by name
