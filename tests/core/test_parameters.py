from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision_zero.core.errors import ParameterError
from vision_zero.core.parameters import Parameter, load_parameters

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


def _one(distribution: str, value: float, low: float, high: float) -> Parameter:
    return Parameter("p", value, "1", "test", "assumption", distribution, low, high)  # type: ignore[arg-type]


def test_quantile_and_cdf_by_hand() -> None:
    # uniform: linear; triangular (0, 1, 4): F(1) = 1/4 (the mode's share), F(x) = x^2/4 below it
    u = _one("uniform", 1.0, 0.0, 4.0)
    assert u.cdf(1.0) == 0.25 and u.quantile(0.25) == 1.0 and u.cdf(-1.0) == 0.0 and u.cdf(5.0) == 1.0
    t = _one("triangular", 1.0, 0.0, 4.0)
    assert t.cdf(1.0) == pytest.approx(0.25) and t.cdf(0.5) == pytest.approx(0.0625)
    assert t.quantile(0.25) == pytest.approx(1.0) and t.quantile(1 - 0.75 * 0.25) == pytest.approx(2.5)
    # normal and lognormal: the value is the median; the range's ends are the 2.5% and 97.5% quantiles
    n = _one("normal", 2.0, 1.0, 3.0)
    assert n.quantile(0.5) == pytest.approx(2.0) and n.quantile(0.025) == pytest.approx(1.0, rel=1e-6)
    g = _one("lognormal", 2.0, 1.0, 4.0)
    assert g.quantile(0.5) == pytest.approx(2.0) and g.quantile(0.975) == pytest.approx(4.0, rel=1e-6)
    assert g.cdf(0.0) == 0.0
    fixed = _one("fixed", 2.0, 1.0, 3.0)
    assert fixed.quantile(0.3) == 2.0
    with pytest.raises(ValueError, match="0 < u < 1"):
        n.quantile(1.0)


@settings(max_examples=200, deadline=None)
@given(
    dist=st.sampled_from(["normal", "lognormal", "uniform", "triangular"]),
    low=st.floats(0.1, 10.0),
    width=st.floats(0.01, 10.0),
    at=st.floats(0.0, 1.0),
    u=st.floats(0.001, 0.999),
)
def test_quantile_inverts_cdf(dist: str, low: float, width: float, at: float, u: float) -> None:
    high = low + width
    p = _one(dist, low + at * width, low, high)
    x = p.quantile(u)
    assert p.cdf(x) == pytest.approx(u, abs=1e-9)
    if dist in ("uniform", "triangular"):
        assert low <= x <= high
    assert p.quantile(min(u + 0.0005, 0.9995)) >= x  # increasing


def test_every_shipped_drawn_parameters_quantiles_are_its_draws() -> None:
    # the Latin hypercube draws through quantile(): its distribution must be draw()'s, parameter by parameter
    params = load_parameters()
    rng = np.random.default_rng(7)
    grid = (np.arange(4000) + 0.5) / 4000
    for name in params:
        p = params[name]
        if not p.drawn:
            continue
        drawn = np.sort([p.draw(rng) for _ in range(4000)])
        q = np.array([p.quantile(x) for x in grid])
        sd = float(drawn.std())
        assert abs(float(q.mean()) - float(drawn.mean())) < 5 * sd / np.sqrt(4000) + 1e-12, name
        assert abs(float(np.quantile(drawn, 0.9)) - p.quantile(0.9)) < 0.15 * sd + 1e-12, name
