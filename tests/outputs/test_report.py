"""The HTML report: self-contained, and checked in a real headless Chromium (Debian's package, no download)."""

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from compare_fixtures import runs, square_network

from vision_zero.appraisal.compare import compare
from vision_zero.appraisal.economics import Economics, InterventionCost
from vision_zero.core.parameters import Parameter, ParameterSet, load_parameters
from vision_zero.outputs.charts import all_charts, tornado_frame
from vision_zero.outputs.maps import link_ksi_per_year, plot_ksi_map
from vision_zero.outputs.report import ReportInputs, render_report, write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ECON = Economics("USD", 1_033_900.0, 258_475.0, 10_339.0, 3.1, 0.06, 20)


def _report(tmp_path: Path, lang: str = "en") -> Path:
    rng = np.random.default_rng(0)
    draws = [{"risk.a": float(x)} for x in rng.uniform(0.5, 1.5, 6)]
    base_tot = [(60.0 + e, 900.0 + 10 * e, 5000.0) for e in rng.normal(0, 3, 6)]
    base = runs("baseline", base_tot, parameters=draws)
    var = runs(
        "centre-30-with-a-rather-long-scenario-name",
        [
            (f * (0.9 - 0.05 * d["risk.a"]), s * 0.9, sl)
            for (f, s, sl), d in zip(base_tot, draws, strict=True)
        ],
        veh_h=[1200.0] * 6,
        costs=[InterventionCost("speed humps", capital=2e6, annual=1e5, lifetime_years=10, source="test")],
        link_speed_kph=40.0,
        parameters=draws,
    )
    c = compare(base, [var], economics=ECON)
    params = ParameterSet(
        {"risk.a": Parameter("risk.a", 1.0, "1", "test source", "assumption", "uniform", 0.5, 1.5)}
    )
    charts = all_charts(c, [base, var], tmp_path, params=params, lang=lang)
    net = square_network()
    b_ksi = link_ksi_per_year(net, base.replications)
    v_ksi = link_ksi_per_year(net, var.replications)
    maps = {
        "baseline": plot_ksi_map(
            net, b_ksi, tmp_path / "map_base.png", title="KSI per km — baseline", lang=lang
        ),
        "diff": plot_ksi_map(
            net, v_ksi - b_ksi, tmp_path / "map_diff.png", title="diff", diverging=True, lang=lang
        ),
    }
    costs = pd.DataFrame(
        [
            {
                "intervention": "speed humps",
                "capital": 2e6,
                "annual": 1e5,
                "lifetime_years": 10.0,
                "present_value": c.variants[0].cost_pv,
                "source": "test",
            }
        ]
    )
    inputs = ReportInputs(
        charts=charts,
        maps=maps,
        parameters=load_parameters().to_frame(),
        network_label=net.label,
        costs={var.name: costs},
        tornado={var.name: tornado_frame(c.variants[0], params)},
    )
    return write_report(c, inputs, tmp_path / "report.html", lang=lang)


@pytest.fixture(scope="module")
def report_en(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _report(tmp_path_factory.mktemp("report"))


def test_report_is_self_contained_and_says_what_matters(report_en: Path) -> None:
    html = report_en.read_text("utf-8")
    # no external resources: every src/href is inline data or an anchor
    for ref in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert ref.startswith(("data:", "#")), ref
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    assert "SCHEMATIC network — not real geometry" in html
    assert "deaths" in html and "serious injuries" in html and "benefit–cost ratio" in html
    assert "economics.vsl" in html and "iRAP" in html  # parameter sources table
    assert html.count("data:image/png;base64,") == 6  # ksi, trade-off, speeds, tornado, 2 maps


def test_report_in_russian(tmp_path: Path) -> None:
    html = _report(tmp_path, "ru").read_text("utf-8")
    assert 'lang="ru"' in html and "СХЕМАТИЧЕСКАЯ сеть" in html and "предотвращается" in html
    assert "ЧПС" in html and "погибшие/год" in html and "ставка дисконтирования" in html


def test_report_summary_comes_first(report_en: Path) -> None:
    html = report_en.read_text("utf-8")
    assert "Only" not in html  # 6 replications: no few-replications warning
    assert html.index("Summary") < html.index("<table") < html.index("<img")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "Debian chromium/chromium-driver not installed (/usr/bin/chromium); .ci/run installs them"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="vz-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_OVERFLOW_JS = """
const W = document.documentElement.clientWidth;
const bad = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width > 0 && (r.right > W + 1 || r.left < -1)) bad.push(el.tagName + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
}
return {W: W, scrollW: document.documentElement.scrollWidth, bad: bad.slice(0, 10)};
"""


@pytest.mark.parametrize("width", [1280, 820])
def test_report_renders_in_chromium(report_en: Path, browser: object, width: int) -> None:
    path = report_en
    driver = browser
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    driver.get(path.resolve().as_uri())  # type: ignore[attr-defined]
    state = driver.execute_script("return document.readyState")  # type: ignore[attr-defined]
    assert state == "complete"
    assert "appraisal" in driver.title  # type: ignore[attr-defined]
    images = driver.execute_script(  # type: ignore[attr-defined]
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
    )
    assert len(images) == 6
    for complete, natural_width, alt in images:
        assert complete and natural_width > 0, alt
    layout = driver.execute_script(_OVERFLOW_JS)  # type: ignore[attr-defined]
    assert layout["bad"] == [], layout
    assert layout["scrollW"] <= layout["W"], layout
    text = driver.find_element("tag name", "body").text  # type: ignore[attr-defined]
    assert "SCHEMATIC network" in text and "deaths" in text


def test_render_report_rejects_unknown_language(tmp_path: Path) -> None:
    from vision_zero.core.errors import ConfigError

    c = compare(runs("b", [(1.0, 2.0, 3.0)] * 2), [runs("v", [(1.0, 2.0, 3.0)] * 2)], economics=ECON)
    with pytest.raises(ConfigError, match="--lang"):
        render_report(c, ReportInputs(), lang="de")
    assert "Only 2 paired replications" in render_report(c, ReportInputs())


def test_write_outputs_writes_every_file(tmp_path: Path) -> None:
    from vision_zero.appraisal.study import CompareInputs
    from vision_zero.outputs.write import default_out_dir, write_outputs

    net = square_network()
    base_tot = [(2.0, 10.0, 100.0), (3.0, 12.0, 110.0), (1.0, 9.0, 95.0)]
    base = runs("baseline", base_tot)
    var = runs(
        "centre 30",
        [(f * 0.8, s * 0.8, sl) for f, s, sl in base_tot],
        link_speed_kph=40.0,
        costs=[InterventionCost("signs", capital=1000.0, lifetime_years=5)],
    )
    slower = net.with_tables(links=net.links.assign(speed_limit_kph=[30.0, 60.0, 40.0, 50.0] * 2))
    c = compare(base, [var], economics=ECON)
    paths = write_outputs(
        c, [CompareInputs(base, net), CompareInputs(var, slower)], tmp_path / "out", lang="kk"
    )
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert paths["report"].name == "report.html"
    for expected in (
        "report.html",
        "links.gpkg",
        "comparison.csv",
        "headline.parquet",
        "ksi_by_scenario.png",
        "ksi_vs_travel_time.png",
        "speeds_centre_30.png",
        "tornado_centre_30.png",
        "map_baseline.png",
        "map_centre_30.png",
        "map_diff_centre_30.png",
        "network_centre_30.png",
        "costs.csv",
    ):
        assert expected in names, expected
    costs = pd.read_csv(tmp_path / "out" / "costs.csv")
    assert costs["present_value"].iloc[0] == pytest.approx(1000.0 * (1 + 1.06**-5 + 1.06**-10 + 1.06**-15))
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert 'lang="kk"' in html and "СХЕМАЛЫҚ желі" in html
    assert default_out_dir(["baseline", "centre 30"]) == Path("results/compare-baseline-centre_30")
    many = default_out_dir(["baseline"] + [f"variant-number-{k}" for k in range(6)])
    assert many.name.startswith("compare-baseline-and-6-variants-") and len(many.name) < 50


def test_text_columns_are_left_aligned(report_en: Path) -> None:
    html = report_en.read_text("utf-8")
    assert '<td class="l">checked</td>' in html or '<td class="l">derived</td>' in html
