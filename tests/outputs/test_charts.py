import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from compare_fixtures import runs

from vision_zero.appraisal.compare import compare
from vision_zero.appraisal.economics import Economics, InterventionCost
from vision_zero.core.i18n import ntext, text
from vision_zero.core.parameters import Parameter, ParameterSet
from vision_zero.outputs.charts import (
    changed_links,
    ksi_by_scenario,
    speed_distributions,
    tornado,
    tornado_frame,
    tradeoff,
)
from vision_zero.runs.sensitivity import SENSITIVITY_COLUMNS

ECON = Economics("USD", 1000.0, 250.0, 10.0, 2.0, 0.05, 10)
BASE = [(2.0, 10.0, 100.0), (3.0, 12.0, 110.0), (1.0, 9.0, 95.0), (2.5, 11.0, 104.0)]


def _comparison():  # type: ignore[no-untyped-def]
    base = runs("baseline", BASE)
    var = runs(
        "centre-30",
        [(f * 0.8, s * 0.8, sl) for f, s, sl in BASE],
        veh_h=[1100.0] * 4,
        costs=[InterventionCost("signs", 500.0)],
        link_speed_kph=40.0,
    )
    return base, var, compare(base, [var], economics=ECON)


def _svg_text(path: Path) -> str:
    return path.read_text("utf-8")


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_ksi_chart_has_title_units_names_and_schematic_label(tmp_path: Path, lang: str) -> None:
    _, _, c = _comparison()
    out = ksi_by_scenario(c, tmp_path / "ksi.svg", lang=lang)
    svg = _svg_text(out)
    for needle in ("centre-30", "baseline", text("schematic", lang), text("ksi_axis", lang)):
        # matplotlib writes text as <!-- comment --> plus glyphs; the comment holds the string
        assert needle in svg, needle
    png = ksi_by_scenario(c, tmp_path / "ksi.png", lang=lang)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_replications_draw_no_interval_bars(tmp_path: Path) -> None:
    """As in the tables: 2 replications give no reliable interval, so the charts draw no bars and say why."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    def bars(n: int) -> list[float]:
        base = runs("baseline", BASE[:n])
        var = runs("centre-30", [(f * 0.8, s * 0.8, sl) for f, s, sl in BASE[:n]])
        c = compare(base, [var], economics=ECON)
        seen: list[float] = []
        caps: list[object] = []
        original = Figure.savefig

        def record(fig: Figure, *args: object, **kwargs: object) -> object:
            for coll in fig.axes[0].collections:
                if isinstance(coll, LineCollection):
                    seen.extend(float(abs(seg[1][1] - seg[0][1])) for seg in coll.get_segments())
            # an error bar's caps: a zero-length bar still drew them, a dash on each bar read as a tight interval
            caps.extend(line for line in fig.axes[0].lines if line.get_marker() == "_")
            return original(fig, *args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Figure, "savefig", record)
            svg = ksi_by_scenario(c, tmp_path / f"ksi{n}.svg").read_text("utf-8")
        note = "no interval bars: 2 replications give no reliable interval (it needs 3)"
        assert (note in svg) == (n == 2)
        assert (caps == []) == (n == 2)
        return seen

    assert bars(2) == []
    assert max(bars(3)) > 1.0  # the baseline's KSI varies by about 2 between replications


def test_no_schematic_label_on_real_networks(tmp_path: Path) -> None:
    base, var, _ = _comparison()
    real = compare(
        type(base)(name=base.name, replications=base.replications, schematic=False),
        [type(var)(name=var.name, replications=var.replications, schematic=False)],
        economics=ECON,
    )
    svg = _svg_text(ksi_by_scenario(real, tmp_path / "k.svg"))
    assert text("schematic") not in svg


def test_tradeoff_chart(tmp_path: Path) -> None:
    _, _, c = _comparison()
    svg = _svg_text(tradeoff(c, tmp_path / "t.svg"))
    assert "vehicle-hours/year" in svg and "centre-30" in svg and "SCHEMATIC" in svg


def test_changed_links_by_speed() -> None:
    base, var, _ = _comparison()
    assert changed_links(base, var).tolist() == list(range(8))
    assert changed_links(base, base).tolist() == []


def test_speed_chart(tmp_path: Path) -> None:
    base, var, _ = _comparison()
    svg = _svg_text(speed_distributions(base, var, np.arange(8), tmp_path / "s.svg", schematic=True))
    assert "km/h" in svg and "SCHEMATIC" in svg and "centre-30" in svg
    empty = _svg_text(speed_distributions(base, var, np.array([], dtype=int), tmp_path / "e.svg"))
    assert "no link changed" in empty


def _params() -> ParameterSet:
    mk = lambda n, v, lo, hi: Parameter(n, v, "1", "test", "assumption", "uniform", lo, hi)  # noqa: E731
    return ParameterSet({p.name: p for p in (mk("risk.a", 1.0, 0.5, 1.5), mk("risk.b", 2.0, 1.0, 3.0))})


def _sensitivity(at: dict[str, tuple[float, float]], centre: float) -> pd.DataFrame:
    params = _params()
    rows = [
        {
            "parameter": n,
            "low": params[n].low,
            "high": params[n].high,
            "value": params[n].value,
            "at_low": lo,
            "at_high": hi,
            "at_draw": centre,
            "swing": abs(hi - lo),
            "pairs": 4,
        }
        for n, (lo, hi) in at.items()
    ]
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS)).sort_values("swing", ascending=False)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_tornado_draws_the_risk_only_reruns(tmp_path: Path, lang: str) -> None:
    _, _, c = _comparison()
    centre = c.variants[0].ksi_avoided.mean
    sens = _sensitivity({"risk.a": (centre - 0.5, centre + 1.0), "risk.b": (centre, centre)}, centre)
    v = dataclasses.replace(c.variants[0], sensitivity=sens)
    frame = tornado_frame(v, _params())
    assert list(frame["parameter"]) == ["risk.a", "risk.b"]
    assert frame.iloc[0][["low", "high", "unit"]].tolist() == [0.5, 1.5, "1"]
    assert frame.iloc[0]["swing"] == pytest.approx(1.5)
    svg = _svg_text(tornado(v, _params(), tmp_path / "tor.svg", schematic=True, lang=lang))
    assert "risk.a" in svg and text("schematic", lang) in svg
    assert ntext("tornado_method", 4, lang).split(";")[0][:40] in svg


def test_tornado_bars_are_the_changes_at_the_own_draws_placed_at_the_headline() -> None:
    # with several risk draws per replication the re-runs' centre (the own draws' mean, at_draw) is not the
    # headline (the mean over every draw): here 4 below it. A parameter whose ends move KSI avoided by -0.5 and
    # +1.0 around the own draws must show as headline - 0.5 and headline + 1.0, not as two values below the
    # headline (which would read as both ends lowering KSI avoided)
    _, _, c = _comparison()
    headline = c.variants[0].ksi_avoided.mean
    centre = headline - 4.0
    sens = _sensitivity({"risk.a": (centre - 0.5, centre + 1.0), "risk.b": (centre + 0.25, centre)}, centre)
    frame = tornado_frame(dataclasses.replace(c.variants[0], sensitivity=sens), _params()).set_index(
        "parameter"
    )
    assert frame.loc["risk.a", "at_low"] == pytest.approx(headline - 0.5, abs=1e-12)
    assert frame.loc["risk.a", "at_high"] == pytest.approx(headline + 1.0, abs=1e-12)
    assert frame.loc["risk.b", "at_low"] == pytest.approx(headline + 0.25, abs=1e-12)
    assert frame.loc["risk.b", "at_high"] == pytest.approx(headline, abs=1e-12)
    assert frame.loc["risk.a", "swing"] == pytest.approx(1.5)  # the swing is the same either way
    # at the headline itself (one draw per replication) the values are the re-runs' own
    own = _sensitivity({"risk.a": (headline - 0.5, headline + 1.0)}, headline)
    same = tornado_frame(dataclasses.replace(c.variants[0], sensitivity=own), _params())
    assert same["at_low"].tolist() == own["at_low"].tolist()
    assert same["at_high"].tolist() == own["at_high"].tolist()


def test_tornado_without_stored_traffic_says_so(tmp_path: Path) -> None:
    _, _, c = _comparison()
    assert c.variants[0].sensitivity is None
    assert tornado_frame(c.variants[0], _params()).empty
    svg = _svg_text(tornado(c.variants[0], _params(), tmp_path / "t.svg"))
    assert "rerun the comparison" in svg


def test_speed_chart_fills_empty_bins(tmp_path: Path) -> None:
    import pandas as pd

    base, var, _ = _comparison()
    sparse = pd.DataFrame({"link": [0, 0], "bin_lo_kph": [20.0, 40.0], "count": [10.0, 30.0]})
    reps = [r.__class__(**{**r.__dict__, "speed_hist": sparse}) for r in base.replications]
    b2 = type(base)(name="baseline", replications=reps, schematic=True)
    svg = _svg_text(speed_distributions(b2, var, np.array([0]), tmp_path / "s.svg"))
    # the mean of a 20-25 bin (25%) and a 40-45 bin (75%) is 22.5 * 0.25 + 42.5 * 0.75 = 37.5, not a gap-less 30
    assert "mean 37.5 km/h" in svg
