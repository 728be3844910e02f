"""The HTML report: self-contained, in the order a committee reads, complete in en/ru/kk, and checked in a real
headless Chromium (Debian's package, no download) at 800 and 1280 px.

One module-scoped set of outputs (baseline, three programs — one with a clear effect, one within noise, and a
package of the two — on the square test network) is written in English, Russian and Kazakh into the same folder.
"""

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from compare_fixtures import runs, square_network

from vision_zero.appraisal.compare import compare
from vision_zero.appraisal.compare_text import format_probability
from vision_zero.appraisal.economics import Economics, InterventionCost
from vision_zero.appraisal.study import CompareInputs, ContentItem, program_content
from vision_zero.core.i18n import LANGUAGES, catalogue, ntext, plural_catalogue, text
from vision_zero.core.parameters import load_parameters
from vision_zero.outputs.report import ReportInputs, content_counts, render_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ECON = Economics("USD", 1_033_900.0, 258_475.0, 10_339.0, 3.1, 0.06, 20)
N = 6
HUMPS = InterventionCost("humps A", capital=2e6, annual=1e5, lifetime_years=10, source="test")
ISLANDS = InterventionCost("islands B", capital=3e5, lifetime_years=20, source="test")
LONG_NAME = "centre-30-with-a-rather-long-scenario-name"
#: The baseline's peak calibration (the keys vision_zero.runs.pipeline.summarise writes) and each replication's index.
PEAK_MET = {
    "peak_target": 1.35,
    "peak_target_low": 1.2,
    "peak_target_high": 1.5,
    "peak_congestion_index": 1.38,
    "peak_factor": 0.489,
    "peak_factor_low": 0.25,
    "peak_factor_high": 4.0,
    "peak_completed_share": 0.99,
    "peak_steps": 5.0,
    "peak_reached": 1.0,
}
PEAK_INDEX = (1.25, 1.54, 1.36, 1.53, 1.30, 1.40)  # mean 1.40 (1.25-1.54)


def _peak_line(
    lang: str,
    *,
    central: str = "1.38",
    target: str = "",
    factor: str = "0.489",
    mean: str = "1.40",
    low: str = "1.25",
    high: str = "1.54",
) -> str:
    """The report's calibration line as the catalogue words it (first letter capitalised, after the name)."""
    target = target or text("peak_target_range", lang, target="1.35", low="1.20", high="1.50")
    line = text(
        "peak_calibration", lang, central=central, target=target, factor=factor, mean=mean, low=low, high=high
    )
    return f"baseline — {line[:1].upper()}{line[1:]}"


def _programs() -> tuple[Any, list[CompareInputs]]:
    rng = np.random.default_rng(0)
    p = load_parameters()
    name = next(
        n for n in p.parameters if p[n].low is not None and p[n].high is not None and p[n].high > p[n].low
    )
    lo, hi = p[name].low, p[name].high
    assert lo is not None and hi is not None
    draws = [{name: float(x)} for x in rng.uniform(lo, hi, N)]
    base_tot = [(6.0 + e, 90.0 + 10 * e, 500.0) for e in rng.normal(0, 1, N)]
    noise = np.array([3.0, -3.0, 2.0, -2.5, 1.5, -0.5])  # mean 0.083, sd 2.5: within noise
    clear = [(f * 0.8, s * 0.8, sl) for f, s, sl in base_tot]
    noisy = [(f, s + e, sl) for (f, s, sl), e in zip(base_tot, noise, strict=True)]
    both = [(f * 0.8, s * 0.8 + e, sl) for (f, s, sl), e in zip(base_tot, noise, strict=True)]
    base = runs("baseline", base_tot, parameters=draws)
    for r, ci in zip(base.replications, PEAK_INDEX, strict=True):  # met at central parameters, mean in range
        r.summary.update(PEAK_MET, congestion_index=ci)
    v1 = runs(LONG_NAME, clear, veh_h=[1200.0] * N, costs=[HUMPS], link_speed_kph=40.0, parameters=draws)
    v2 = runs("crossings", noisy, costs=[ISLANDS], parameters=draws)
    pkg = runs(
        "package", both, veh_h=[1200.0] * N, costs=[HUMPS, ISLANDS], link_speed_kph=40.0, parameters=draws
    )
    c = compare(base, [v1, v2, pkg], economics=ECON)
    net = square_network()
    slower = net.with_tables(links=net.links.assign(speed_limit_kph=[30.0, 60.0, 30.0, 50.0] * 2))
    limit = ContentItem("centre 30", "speed_limit", "30|calming", 1.0, "km", 1.0)
    cams = ContentItem("cameras on the avenue", "speed_camera", "fixed", 2.0, "camera site", 1.0)
    islands = ContentItem(
        "islands on primary roads", "crossing", "refuge_island|upgrade", 3.0, "crossing", 0.5
    )
    inputs = [
        CompareInputs(base, net, description="Today's network, no program."),
        CompareInputs(
            v1,
            slower,
            description="A 30 km/h zone in the centre.",
            descriptions={"en": "A 30 km/h zone in the centre.", "ru": "Зона 30 км/ч в центре."},
            content=(limit, cams),
        ),
        CompareInputs(v2, net, description="Islands for pedestrians on primary roads.", content=(islands,)),
        CompareInputs(pkg, slower, description="Both together.", content=(limit, cams, islands)),
    ]
    return c, inputs


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Outputs of one comparison written in en, ru and kk into the same folder (en first).

    Every text drawn in a chart or map (titles, axes, tick labels, legends, footnotes) is recorded per language
    under ``figure_text:<lang>``.
    """
    import matplotlib.figure
    import matplotlib.text

    from vision_zero.outputs.write import write_outputs

    out = tmp_path_factory.mktemp("outputs")
    c, inputs = _programs()
    result: dict[str, Any] = {"dir": out, "comparison": c, "inputs": inputs}
    original = matplotlib.figure.Figure.savefig
    seen: list[str] = []

    def record(fig: matplotlib.figure.Figure, *args: Any, **kwargs: Any) -> Any:
        seen.extend(t.get_text() for t in fig.findobj(matplotlib.text.Text))
        return original(fig, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(matplotlib.figure.Figure, "savefig", record)
        for lang in LANGUAGES:
            seen.clear()
            result[lang] = write_outputs(c, inputs, out, lang=lang)
            result[f"figure_text:{lang}"] = "\n".join(seen)
            if lang == "en":
                result["en_bytes"] = (out / "report.html").read_bytes()
    return result


def _visible_text(html: str, *, sources: bool = True) -> str:
    """The text a reader sees: tags, the style sheet and inline images removed, entities decoded.

    ``sources=False`` leaves out the citation cells (class ``src``: sources as the parameters files give them).
    """
    import html as h

    body = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    if not sources:
        body = re.sub(r'<td class="l src">.*?</td>', " ", body, flags=re.S)
    body = re.sub(r'src="data:[^"]*"', "", body)
    body = re.sub(r"<[^>]+>", " ", body)
    return h.unescape(body)


def _english_fragments(lang: str) -> list[str]:
    """Pieces of every English phrase of the catalogue that ``lang`` translates differently (≥ 2 words)."""
    out = []
    phrases = [(en, (catalogue(lang)[key],)) for key, en in catalogue("en").items()]
    for key, forms in plural_catalogue("en").items():  # phrases with a count: each English form
        phrases += [(en, plural_catalogue(lang)[key]) for en in forms]
    for en, translated in phrases:
        if en in translated:
            continue
        for piece in re.split(r"\{[^}]*\}", en):
            piece = piece.strip(" :;,.()—–-\n")
            if len(piece.split()) >= 2 and len(piece) >= 10:
                out.append(piece)
    return out


def test_languages_go_to_their_own_folder_and_never_overwrite_english(outputs: dict[str, Any]) -> None:
    out: Path = outputs["dir"]
    assert (out / "report.html").read_bytes() == outputs["en_bytes"]  # ru and kk did not overwrite it
    for lang in ("ru", "kk"):
        report = outputs[lang]["report"]
        assert report == out / lang / "report.html"
        assert f'lang="{lang}"' in report.read_text("utf-8")
        assert (out / lang / "ksi_by_scenario.png").exists() and (out / lang / "links.gpkg").exists()
        assert not (out / lang / "comparison.csv").exists()  # tables have no text: one copy, in the folder
    assert 'lang="en"' in (out / "report.html").read_text("utf-8")


def test_report_is_self_contained(outputs: dict[str, Any]) -> None:
    html = outputs["en"]["report"].read_text("utf-8")
    for ref in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert ref.startswith(("data:", "#")), ref
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html
    assert "SCHEMATIC network — not real geometry" in html
    assert "economics.vsl" in html and "iRAP" in html  # parameter sources table
    # ksi, trade-off, speeds + tornado per program; KSI map per scenario, difference map per program, networks
    assert html.count("data:image/png;base64,") == 2 + 2 * 3 + 4 + 3 + 4


def test_report_reads_in_committee_order_with_contents(outputs: dict[str, Any]) -> None:
    html = outputs["en"]["report"].read_text("utf-8")
    order = [
        "<nav>",
        'id="s-summary"',
        "What the totals cover",
        "What each program is",
        "Results per program",
        "Ranking by net present value",
        "What to fund first",
        'id="s-evidence"',
        "<img",
        'id="s-method"',
        "Benefit–cost ratio: present value of benefits",
        'id="s-sources"',
    ]
    positions = [html.index(marker) for marker in order]
    assert positions == sorted(positions), dict(zip(order, positions, strict=True))
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert f'id="{anchor}"' in html, anchor


def test_summary_names_each_program_coverage_and_verdicts(outputs: dict[str, Any]) -> None:
    html = outputs["en"]["report"].read_text("utf-8")
    summary = _visible_text(html[html.index('id="s-summary"') : html.index('id="s-evidence"')])
    assert "6 paired replications" in summary and "of the city's vehicle-km" in summary
    assert (
        "A 30 km/h zone in the centre." in summary and "Islands for pedestrians on primary roads." in summary
    )
    assert "2 fixed camera sites" in summary and "1.0 km at 30 km/h" in summary
    assert "3 crossings upgraded to refuge islands" in summary
    c = outputs["comparison"]
    clear, noisy, _ = c.variants
    assert clear.distinguishable and not noisy.distinguishable
    more = noisy.replications_needed - N
    assert more > 0 and f"not distinguishable yet — {more:,} replications more needed" in summary
    assert f"fewer KSI (P: {format_probability(clear.prob_reduces_ksi)})" in summary
    # the paired replications a decision-grade ±20% interval on KSI avoided needs, per program
    assert "reps for ±20%" in summary and "--target-ci 40" in summary
    assert re.search(r"fewer KSI \(P: [^)]*\)\s+" + f"{clear.replications_for_precision:,}", summary)
    # the package against each of its parts
    assert re.search(r"package\s+" + LONG_NAME, summary) and re.search(r"package\s+crossings", summary)
    assert "cost per KSI avoided" in summary and "BCR safety only" in summary


def test_descriptions_in_the_reports_language_or_the_default_with_a_note(outputs: dict[str, Any]) -> None:
    ru = _visible_text(outputs["ru"]["report"].read_text("utf-8"))
    kk = _visible_text(outputs["kk"]["report"].read_text("utf-8"))
    assert "Зона 30 км/ч в центре." in ru and "A 30 km/h zone in the centre." not in ru
    # no Russian text for the islands program, none in Kazakh at all: the English one, said so
    assert f"Islands for pedestrians on primary roads. {text('description_fallback', 'ru')}" in ru
    assert f"A 30 km/h zone in the centre. {text('description_fallback', 'kk')}" in kk
    en = _visible_text(outputs["en"]["report"].read_text("utf-8"))
    assert text("description_fallback", "en") not in en


def test_quick_look_label_with_two_replications() -> None:
    base = runs("b", [(1.0, 2.0, 3.0), (1.2, 2.5, 3.0)])
    var = runs("v", [(1.1, 1.8, 3.0), (1.0, 2.9, 3.0)], costs=[HUMPS])  # KSI -0.1, +0.2
    c = compare(base, [var], economics=ECON)
    html = render_report(c, ReportInputs())
    assert "Quick look: with 2 paired replications" in html and "not distinguishable yet" in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_two_replications_that_agree_print_no_confident_interval(lang: str) -> None:
    """Session 6's centre-30: two pairs 0.76 and 0.83 KSI avoided gave "0.8 (0.3 … 1.2)" and "P = 100%"."""
    base = runs("baseline", [(2.0, 38.2, 100.0), (3.0, 48.6, 120.0)])
    var = runs("centre-30", [(2.0, 37.44, 100.0), (3.0, 47.77, 120.0)], costs=[HUMPS])
    c = compare(base, [var], economics=ECON)
    v = c.variants[0]
    assert v.ksi_avoided.low > 0 and v.share_pairs_fewer_ksi == 1.0  # the bare t-interval would exclude 0
    html = render_report(c, ReportInputs(), lang=lang)
    body = _visible_text(html)
    summary = _visible_text(html[html.index('id="s-summary"') : html.index('id="s-evidence"')])
    assert f"0.8 ({text('ci_unreliable', lang)})" in summary
    assert "0.4 … 1.2" not in body and "100%" not in body
    assert ntext("unreliable_note", 2, lang, df=1, sd_low="0.45", sd_high="32", minimum=3) in summary
    assert ntext("verdict_not_yet", 1, lang, more="1") in summary
    assert text("verdict_fewer", lang, prob="").split("(")[0] not in summary


def test_render_report_rejects_unknown_language() -> None:
    from vision_zero.core.errors import ConfigError

    c = compare(runs("b", [(1.0, 2.0, 3.0)] * 2), [runs("v", [(1.0, 2.0, 3.0)] * 2)], economics=ECON)
    with pytest.raises(ConfigError, match="--lang"):
        render_report(c, ReportInputs(), lang="de")


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_no_english_phrase_left_in_report_or_figures(outputs: dict[str, Any], lang: str) -> None:
    """Every text of the report and of every chart and map (titles, axes, legends, footnotes) is translated."""
    paths = outputs[lang]
    figures = outputs[f"figure_text:{lang}"]
    english = outputs["figure_text:en"]
    assert "KSI" in figures and text("ksi_axis", "en") in english  # the recorder sees the charts' text
    assert text("ksi_axis", lang) in figures and text("map_noise", lang) in figures
    report = _visible_text(paths["report"].read_text("utf-8"), sources=False)
    left = [f for f in _english_fragments(lang) if f in report or f in figures]
    assert left == [], "\n".join(left)
    # the GeoPackage's field aliases too
    import sqlite3

    con = sqlite3.connect(paths["gpkg"])
    titles = dict(con.execute("SELECT column_name, title FROM gpkg_data_columns WHERE table_name = 'links'"))
    con.close()
    assert titles["base_ksi"] == text("gpkg_base_ksi", lang) != text("gpkg_base_ksi", "en")
    assert titles["package_limit_kph"] == text("gpkg_v_limit_kph", lang, variant="package")


def test_text_columns_are_left_aligned(outputs: dict[str, Any]) -> None:
    html = outputs["en"]["report"].read_text("utf-8")
    assert '<td class="l">checked</td>' in html or '<td class="l">derived</td>' in html
    ru = outputs["ru"]["report"].read_text("utf-8")
    assert '<td class="l">проверено</td>' in ru or '<td class="l">выведено</td>' in ru


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
  if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible') bad.push('scroll ' + el.tagName);
}
return {W: W, scrollW: document.documentElement.scrollWidth, bad: bad.slice(0, 10)};
"""


@pytest.mark.parametrize("width", [800, 1280])
@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_report_renders_in_chromium(outputs: dict[str, Any], browser: object, lang: str, width: int) -> None:
    driver: Any = browser
    driver.set_window_size(width, 900)
    driver.get(outputs[lang]["report"].resolve().as_uri())
    # get() may hand back a page still "loading" on a busy machine (seen at load 3-5 on any of the six): wait for it
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert driver.title == text(
        "report_title", lang, variants=f"{LONG_NAME}, crossings, package", baseline="baseline"
    )
    images = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"
    )
    assert len(images) == 19
    for complete, natural_width, alt in images:
        assert complete and natural_width > 0, alt
    layout = driver.execute_script(_OVERFLOW_JS)
    assert layout["bad"] == [], layout
    assert layout["scrollW"] <= layout["W"], layout
    body = driver.find_element("tag name", "body").text
    assert text("schematic_long", lang) in body
    summary = driver.find_element("id", "s-summary").find_element("xpath", "following-sibling::div").text
    assert (
        ntext("coverage", N, lang, road_km="1", area_km2="0", share="", veh_km="0").split(":")[0] in summary
    )
    # #12: the baseline's peak calibration, in the reader's language, with what the congestion index is
    assert _peak_line(lang) in summary and text("peak_calibration_note", lang) in summary
    programs = driver.execute_script(
        "const h = document.getElementById('s-evidence'); let t = ''; let e = document.getElementById('s-summary');"
        "while (e && e !== h) { t += e.innerText + '\\n'; e = e.nextElementSibling; } return t;"
    )
    for program in (LONG_NAME, "crossings", "package"):
        assert program in programs
    assert ntext("content_cameras", 2, lang, km="1.0") in programs
    assert ntext("content_upgrade", 3, lang, type=text("ct_refuge_island", lang)) in programs
    if lang != "en":
        visible = driver.execute_script(
            "const c = document.body.cloneNode(true); c.querySelectorAll('td.src').forEach(e => e.remove());"
            "document.body.appendChild(c); c.style.position = 'absolute'; const t = c.innerText; c.remove(); return t;"
        )
        assert [f for f in _english_fragments(lang) if f in visible] == []
    shots = os.environ.get("VZ_REPORT_SHOTS")
    if shots and width == 1280 and lang in ("en", "ru"):
        Path(shots).mkdir(parents=True, exist_ok=True)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(Path(shots) / f"report-first-screen-{lang}.png"))


def test_costs_table_in_report_and_csv(outputs: dict[str, Any]) -> None:
    costs = pd.read_csv(outputs["dir"] / "costs.csv")
    assert set(costs["variant"]) == {LONG_NAME, "crossings", "package"}
    ru = outputs["ru"]["report"].read_text("utf-8")
    assert "срок службы [лет]" in ru and "приведённая стоимость" in ru


@pytest.mark.parametrize("lang", LANGUAGES)
def test_counts_name_every_kind_of_enforcement_and_measure(lang: str) -> None:
    items = (
        ContentItem("cameras", "speed_camera", "fixed", 3.0, "camera site", 2.4, 2.4),
        ContentItem("section", "speed_camera", "section", 7.5, "km", 7.5, 7.5),
        ContentItem("60 with cameras", "speed_limit", "60|camera", 4.2, "km", 4.2, 2.2),
        ContentItem("80 section", "speed_limit", "80|section_control", 3.0, "km", 3.0, 3.0),
        ContentItem("50 police", "speed_limit", "50|police", 5.0, "km", 5.0),
        ContentItem("30 calmed", "speed_limit", "30|calming", 1.5, "km", 1.5),
        ContentItem("humps", "traffic_calming", "", 21.0, "device", 2.0),
        ContentItem("islands", "crossing", "refuge_island|upgrade", 2.0, "crossing", 0.5),
        ContentItem("roundabouts", "roundabout", "", 1.0, "junction", 0.0),
        ContentItem("diet", "road_diet", "", 2.5, "km", 2.5),
    )
    counts = content_counts(items, lang)
    # 3 camera sites + one per km newly camera-enforced by the 60 km/h limit (2.2 km: 3 sites) = 6
    assert ntext("count_camera_sites", 6, lang, n="6") in counts
    assert text("count_section_km", lang, km="10.5") in counts  # 7.5 km + the 80 limit's 3.0 km
    assert text("count_police_km", lang, km="5.0") in counts
    assert text("count_calming_km", lang, km="1.5") in counts
    assert ntext("count_devices", 21, lang) in counts
    assert text("count_limit_km", lang, km="13.7") in counts
    assert f"{text('ct_refuge_island', lang)} (2)" in counts
    assert ntext("count_roundabouts", 1, lang) in counts
    assert text("count_road_diet_km", lang, km="2.5") in counts
    plain = content_counts(
        (ContentItem("islands", "crossing", "raised|upgrade", 1.0, "crossing", 0.1),), lang
    )
    assert ntext("count_camera_sites", 0, lang, n="0") in plain  # the common counts are always there
    assert (
        text("count_section_km", lang, km="0.0") not in plain
        and text("count_police_km", lang, km="0.0") not in plain
    )


def test_program_content_counts_a_camera_once() -> None:
    from vision_zero.program.scenario import load_scenario
    from vision_zero.runs.preparation import apply_scenario

    folder = Path(tempfile.mkdtemp(prefix="vz-content-"))
    try:
        (folder / "p.toml").write_text(
            'name = "p"\ndescription = "SCHEMATIC tiny: cameras twice"\n[network]\n'
            'source = "schematic:almaty?scale=tiny&seed=0"\n'
            '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 40\nenforcement = "camera"\n'
            'where = { highway = ["primary"] }\n'
            '[[interventions]]\ntype = "speed_camera"\nmode = "section"\nwhere = { highway = ["primary"] }\n',
            "utf-8",
        )
        limit, cams = program_content(apply_scenario(load_scenario(folder / "p.toml")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert limit.camera_km == pytest.approx(limit.road_km) and limit.camera_km > 0
    assert cams.camera_km == 0.0  # the same streets already have cameras: not counted (nor charged) twice


def test_report_warns_when_the_peak_calibration_stopped_at_a_bound(tmp_path: Path) -> None:
    # the same warnings as the terminal (vision_zero.runs.run_summary.run_warnings), at the top of the report
    from _replication_task import PEAK_AT_BOUND

    from vision_zero.outputs.write import write_outputs

    net = square_network()
    base = runs("baseline", [(2.0, 10.0, 100.0), (3.0, 12.0, 110.0)])
    for r in base.replications:
        r.summary.update(PEAK_AT_BOUND)
    var = runs("slow", [(1.0, 9.0, 90.0), (2.0, 11.0, 100.0)])
    c = compare(base, [var], economics=ECON)
    write_outputs(c, [CompareInputs(base, net), CompareInputs(var, net)], tmp_path)
    html = _visible_text((tmp_path / "report.html").read_text("utf-8"))
    warning = "WARNING: baseline: the AM peak's demand calibration stopped at the upper bound"
    assert warning in html
    assert "WARNING: slow" not in html
    # the peak calibration line (#12) needs each replication's index; with it the warning is repeated under it
    for r, ci in zip(base.replications, (1.10, 1.20), strict=True):
        r.summary["congestion_index"] = ci
    write_outputs(c, [CompareInputs(base, net), CompareInputs(var, net)], tmp_path)
    html = _visible_text((tmp_path / "report.html").read_text("utf-8"))
    line = _peak_line(
        "en", central="1.15", target="1.70", factor="1.152", mean="1.15", low="1.10", high="1.20"
    )
    assert line in html and html.count(warning) == 2
    assert html.index(line) < html.rindex(warning) < html.index(text("peak_calibration_note", "en"))
