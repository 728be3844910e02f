import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from paths import BAD_SCENARIOS, ROOT

from vision_zero.cli import main
from vision_zero.core.errors import ScenarioError
from vision_zero.program.interventions import SpeedCamera, SpeedLimit
from vision_zero.program.scenario import _merge, load_scenario, parse_override

SCENARIOS = ROOT / "scenarios"
BAD = BAD_SCENARIOS

TINY = 'source = "schematic:almaty?scale=tiny&seed=0"'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


@pytest.fixture()
def chain(tmp_path: Path) -> Path:
    write(
        tmp_path / "base.toml",
        f"""name = "base"
description = "base"
[network]
{TINY}
[simulation]
replications = 4
seed = 7
[economics]
vsl = 500000
discount_rate = 0.05
[[interventions]]
type = "speed_camera"
where = {{ highway = "primary" }}
""",
    )
    write(
        tmp_path / "mid.toml",
        """name = "mid"
description = "mid"
extends = "base.toml"
[simulation]
seed = 8
[economics]
vsl = 900000
[[interventions]]
type = "speed_limit"
limit_kph = 40
where = { name = "Abay Avenue" }
""",
    )
    return write(
        tmp_path / "top.toml",
        """name = "top"
description = "top"
extends = "mid.toml"
[[interventions]]
type = "speed_limit"
limit_kph = 30
enforcement = "calming"
where = { highway = "residential" }
""",
    )


def test_extends_merges_tables_replaces_values_and_appends_interventions(chain: Path):
    s = load_scenario(chain)
    assert s.name == "top" and s.description == "top"  # never inherited
    assert s.simulation.replications == 4 and s.simulation.seed == 8  # table merged key by key
    assert s.economics.vsl == 900000 and s.economics.discount_rate == 0.05
    kinds = [type(iv) for iv in s.interventions]
    assert kinds == [SpeedCamera, SpeedLimit, SpeedLimit]  # parent's first
    assert [getattr(iv, "limit_kph", None) for iv in s.interventions] == [None, 40, 30]
    assert [p.name for p in s.chain] == ["base.toml", "mid.toml", "top.toml"]
    assert s.baseline_path == chain.parent / "base.toml" and not s.is_baseline
    assert load_scenario(chain.parent / "base.toml").is_baseline


def test_resolved_toml_is_valid_toml_with_everything(chain: Path):
    s = load_scenario(chain)
    doc = tomllib.loads(s.resolved_toml())
    assert doc["name"] == "top"
    assert doc["simulation"]["seed"] == 8 and doc["simulation"]["replications"] == 4
    assert [iv["type"] for iv in doc["interventions"]] == ["speed_camera", "speed_limit", "speed_limit"]
    assert doc["interventions"][2]["enforcement"] == "calming"
    assert doc["interventions"][0]["mode"] == "fixed"  # defaults filled in


def test_content_toml_names_files_by_their_digest_not_their_path(tmp_path: Path):
    import hashlib

    od = write(tmp_path / "od.csv", "origin,destination,period,trips\n0,2,am_peak,5\n")
    zone = write(
        tmp_path / "zone.geojson", '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 1], [0, 0]]]}'
    )
    path = write(
        tmp_path / "s.toml",
        f"""name = "s"
description = "s"
[network]
{TINY}
[demand]
od_file = "od.csv"
[[interventions]]
type = "speed_limit"
limit_kph = 30
where = {{ polygon = "zone.geojson" }}
""",
    )
    s = load_scenario(path, overrides={"simulation.seed": 9})
    assert str(od) in s.resolved_toml() and str(tmp_path) in s.resolved_toml()  # the text a user reads
    text = s.content_toml()
    assert str(tmp_path) not in text and "# " not in text  # no path, no comment
    doc = tomllib.loads(text)
    assert doc["demand"]["od_file"] == "sha256:" + hashlib.sha256(od.read_bytes()).hexdigest()
    assert (
        doc["interventions"][0]["where"]["polygon"]
        == "sha256:" + hashlib.sha256(zone.read_bytes()).hexdigest()
    )
    assert doc["baseline"] == "self" and doc["simulation"]["seed"] == 9  # the override is in the values
    assert doc["network"]["source"] == "schematic:almaty?scale=tiny&seed=0"  # not a file: kept


def test_errors_point_at_the_file_that_wrote_the_value(chain: Path):
    text = (chain.parent / "mid.toml").read_text().replace("limit_kph = 40", "limit_kph = -5")
    write(chain.parent / "mid.toml", text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(chain)
    assert err.value.path.endswith("mid.toml")
    assert err.value.key == "interventions[0].limit_kph"  # its index in mid.toml, not in the resolved list
    assert "greater than 0" in str(err.value) and err.value.given == -5


def test_relative_paths_resolve_against_the_declaring_file(tmp_path: Path):
    write(tmp_path / "sub" / "my-params.toml", "")
    write(
        tmp_path / "sub" / "base.toml",
        f'name = "b"\ndescription = "b"\n[network]\n{TINY}\n[risk]\nparameters = "my-params.toml"\n',
    )
    top = write(tmp_path / "top.toml", 'name = "t"\ndescription = "t"\nextends = "sub/base.toml"\n')
    s = load_scenario(top)
    assert s.risk.parameters == (tmp_path / "sub" / "my-params.toml").resolve()


def test_overrides_replace_values_before_validation(chain: Path):
    s = load_scenario(
        chain,
        overrides=dict(
            parse_override(x)
            for x in ["simulation.replications=1", "interventions[1].limit_kph=50", "demand.scale=0.5"]
        ),
    )
    assert s.simulation.replications == 1 and s.demand.scale == 0.5
    assert s.interventions[1].limit_kph == 50  # type: ignore[attr-defined]
    with pytest.raises(
        ScenarioError, match=r"--set: interventions\[1\]\.limit_kph: expected less than or equal"
    ):
        load_scenario(chain, overrides={"interventions[1].limit_kph": 500})
    with pytest.raises(ScenarioError, match="existing list item"):
        load_scenario(chain, overrides={"interventions[9].limit_kph": 50})


def test_parse_override_reads_toml_literals():
    assert parse_override("a.b=3") == ("a.b", 3)
    assert parse_override('x=["am_peak"]') == ("x", ["am_peak"])
    assert parse_override("x=schematic:almaty?scale=tiny") == ("x", "schematic:almaty?scale=tiny")
    with pytest.raises(ScenarioError):
        parse_override("no-equals-sign")


def test_depth_limit(tmp_path: Path):
    write(tmp_path / "s0.toml", f'name = "s0"\ndescription = "d"\n[network]\n{TINY}\n')
    for i in range(1, 20):
        write(tmp_path / f"s{i}.toml", f'name = "s{i}"\ndescription = "d"\nextends = "s{i - 1}.toml"\n')
    assert load_scenario(tmp_path / "s10.toml").chain[0].name == "s0.toml"
    with pytest.raises(ScenarioError, match="chain of at most"):
        load_scenario(tmp_path / "s19.toml")


def test_every_example_scenario_loads():
    files = sorted(SCENARIOS.glob("*.toml"))
    names = {load_scenario(f).name for f in files}
    assert names == {
        "baseline",
        "arterials-80-to-60",
        "centre-30",
        "crossings-upgrade",
        "arterial-cameras",
        "vision-zero-package",
    }
    for f in files:
        s = load_scenario(f)
        assert "SCHEMATIC" in s.description and s.network.source.startswith("schematic:almaty")
        assert s.baseline_path == SCENARIOS / "baseline.toml"
    package = load_scenario(SCENARIOS / "vision-zero-package.toml")
    assert [p.name for p in package.chain] == [
        "baseline.toml",
        "arterials-80-to-60.toml",
        "vision-zero-package.toml",
    ]


def test_real_scenarios_parse_and_say_how_to_build_the_network():
    files = sorted((SCENARIOS / "real").glob("*.toml"))
    assert len(files) == 6
    for f in files:
        network_file = ROOT / "networks" / "almaty-kazakhstan.graphml"
        if network_file.exists():
            assert load_scenario(f).network.source == str(network_file)
        else:
            with pytest.raises(ScenarioError, match='network build "Almaty, Kazakhstan"'):
                load_scenario(f)
        overridden = load_scenario(f, overrides={"network.source": "schematic:almaty?scale=tiny"})
        assert "real" in overridden.description.lower() or "OpenStreetMap" in overridden.description


#: Each broken file: the key path and a fragment of what the message must say.
BROKEN: dict[str, tuple[str, str]] = {
    "wrong_key.toml": ("simulation.replicatons", "expected one of the known keys ['periods'"),
    "wrong_type.toml": ("simulation.replications", "expected a valid integer"),
    "bad_value.toml": ("interventions[2].limit_kph", "expected less than or equal to 130 (got 300)"),
    "bad_extends.toml": (
        "extends",
        "expected an existing scenario file (relative to this file) (got 'no-such",
    ),
    "cycle_a.toml": ("extends", "cycle: cycle_a.toml -> cycle_b.toml -> cycle_a.toml"),
    "cycle_b.toml": ("extends", "cycle: cycle_b.toml -> cycle_a.toml -> cycle_b.toml"),
    "missing_geojson.toml": ("interventions[0].where.polygon", "expected an existing GeoJSON file"),
    "selector_nothing.toml": ("interventions[0].where.name", "close matches: ['Abay Avenue'"),
    "unknown_intervention.toml": (
        "interventions[0].type",
        "expected one of ['crossing', 'road_diet', 'roundabout'",
    ),
    "missing_network.toml": ("network", "expected a value (this key is required)"),
    "not_toml.toml": ("", "expected valid TOML"),
    "crossing_add_no_spacing.toml": ("interventions[0].every_m", "required with action = 'add'"),
    "unknown_period.toml": (
        "simulation.periods[1]",
        "expected one of ['am_peak', 'inter_peak', 'pm_peak', 'night']",
    ),
    "missing_network_file.toml": ("network.source", 'network build "Almaty, Kazakhstan"'),
    "road_diet_no_lanes.toml": (
        "interventions[0].lanes",
        "expected fewer lanes than the selected links have",
    ),
    "no_trips.toml": ("demand.scale", "expected a demand with at least one trip in a simulated period"),
}


def test_every_broken_file_is_listed():
    assert {p.name for p in BAD.glob("*.toml")} - {"base.ok.toml"} == set(BROKEN)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_scenario_gives_one_precise_line_and_exit_2(name: str, capsys: pytest.CaptureFixture[str]):
    key, fragment = BROKEN[name]
    code = main(["validate", str(BAD / name)])
    out = capsys.readouterr()
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    line = lines[0]
    assert line.startswith("vision-zero: error: ") and "Traceback" not in out.err
    assert ".toml: " in line  # the file
    if key:
        assert f": {key}: " in line
    assert fragment in line


def test_validate_and_show_on_a_good_file(capsys: pytest.CaptureFixture[str]):
    assert main(["validate", str(BAD / "base.ok.toml")]) == 0
    assert "ok: " in capsys.readouterr().out
    assert main(["scenario", "show", str(BAD / "base.ok.toml"), "--set", "simulation.seed=3"]) == 0
    out = capsys.readouterr().out
    doc = tomllib.loads(out)  # the comment lines keep it valid TOML
    assert doc["simulation"]["seed"] == 3
    assert "SCHEMATIC" in out and "vsl = " in out


def test_another_currency_needs_its_own_money_values(chain: Path):
    with pytest.raises(ScenarioError, match=r"economics\.value_of_time: expected a value in KZT"):
        load_scenario(chain, overrides={"economics.currency": "KZT", "economics.vsl": 5.0e8})
    with pytest.raises(ScenarioError) as err:
        load_scenario(
            chain,
            overrides={"economics.currency": "KZT", "economics.vsl": 5e8, "economics.value_of_time": 1500},
        )
    assert err.value.path.endswith("base.toml") and err.value.key == "interventions[0].cost.unit_cost"
    ov = {"economics.currency": "KZT", "economics.vsl": 5e8, "economics.value_of_time": 1500}
    for i in range(3):
        ov[f"interventions[{i}].cost.unit_cost"] = 1.0e6
    assert load_scenario(chain, overrides=ov).economics.currency == "KZT"


def test_economics_values_reach_the_appraisal(chain: Path):
    from vision_zero.appraisal.economics import Economics

    s = load_scenario(
        chain, overrides={"economics.slight_injury_vsl_share": 0.02, "economics.horizon_years": 25}
    )
    econ = Economics.from_parameters().with_overrides(s.economics.overrides())
    assert econ.vsl == 900000 and econ.discount_rate == 0.05 and econ.horizon_years == 25
    assert econ.slight_injury_value == pytest.approx(0.02 * 900000)


_leaf = st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2))
_table = st.recursive(
    st.dictionaries(st.sampled_from("abc"), _leaf, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from("abc"), st.one_of(_leaf, inner), max_size=3),
    max_leaves=8,
)
_doc = st.fixed_dictionaries(
    {"interventions": st.lists(st.dictionaries(st.just("type"), st.text(max_size=2)), max_size=2)},
    optional={"x": _table, "y": _leaf},
)


def _leaves(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, (*prefix, k))
        else:
            yield (*prefix, k), v


def _get(d, path):
    for k in path:
        d = d[k]
    return d


@given(_doc, _doc)
def test_merge_rule(parent, child):
    merged = _merge(parent, child)
    assert merged["interventions"] == parent["interventions"] + child["interventions"]
    for path, value in _leaves({k: v for k, v in child.items() if k != "interventions"}):
        assert _get(merged, path) == value  # the child's values win
    for path, value in _leaves({k: v for k, v in parent.items() if k != "interventions"}):
        try:
            in_child = _get(child, path)
        except (KeyError, TypeError):
            # not overridden unless the child replaced an enclosing table by a plain value
            prefixes = [path[:i] for i in range(1, len(path))]
            replaced = any(
                not isinstance(_safe(child, p), dict) and _safe(child, p) is not _MISSING for p in prefixes
            )
            if not replaced:
                assert _get(merged, path) == value
        else:
            assert _get(merged, path) == in_child


_MISSING = object()


def _safe(d, path):
    try:
        return _get(d, path)
    except (KeyError, TypeError):
        return _MISSING


def test_description_per_language_with_the_english_default(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.toml",
        f'name = "d"\ndescription.en = "Islands"\ndescription.ru = "Островки"\n[network]\n{TINY}\n',
    )
    s = load_scenario(path)
    assert s.description == "Islands" and dict(s.descriptions) == {"en": "Islands", "ru": "Островки"}
    assert s.description_in("ru") == ("Островки", True)
    assert s.description_in("kk") == ("Islands", False)  # the default, and the caller says so
    plain = load_scenario(
        write(tmp_path / "p.toml", f'name = "p"\ndescription = "Plain"\n[network]\n{TINY}\n')
    )
    assert plain.description_in("en") == ("Plain", True) and plain.description_in("ru") == ("Plain", False)
    assert 'ru = "Островки"' in s.resolved_toml()


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ('description.en = "x"\ndescription.de = "y"', "description.de", "a language of the reports"),
        ('description.en = "x"\ndescription.ru = ""', "description.ru", "a non-empty text"),
        ('description.ru = "x"', "description.en", "the English description"),
        ('description.en = "x"\ndescription.kk = 3', "description.kk", "a non-empty text"),
    ],
)
def test_description_table_mistakes_name_file_key_and_expected(
    tmp_path: Path, table: str, key: str, expected: str
) -> None:
    path = write(tmp_path / "bad.toml", f'name = "bad"\n{table}\n[network]\n{TINY}\n')
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    message = str(exc.value)
    assert "bad.toml" in message and key in message and expected in message


def test_example_scenarios_describe_themselves_in_every_report_language() -> None:
    from vision_zero.core.i18n import LANGUAGES

    for path in sorted(SCENARIOS.glob("*.toml")):
        s = load_scenario(path)
        assert set(s.descriptions) == set(LANGUAGES), path.name
        assert "СХЕМАТИЧЕСКАЯ" in s.descriptions["ru"] and "СХЕМАЛЫҚ" in s.descriptions["kk"], path.name
