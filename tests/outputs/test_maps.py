from pathlib import Path

import numpy as np
import pytest
from compare_fixtures import replication, square_network

from vision_zero.core.i18n import text
from vision_zero.outputs.maps import link_geometries, link_ksi_per_year, plot_ksi_map, street_values


def test_attribution_keeps_totals_and_shares_sites_by_hand() -> None:
    net = square_network()
    rep = replication("b", 0, fatal=1.0, serious=9.0, slight=50.0)
    ksi = link_ksi_per_year(net, [rep])
    assert ksi.sum() == pytest.approx(10.0)
    # occupants: 0.6 * 10 / 8 = 0.75 on every link; crossing 0 (2 KSI) shared by links 0 and 4;
    # junction 2 (2 KSI) shared by links ending at node 2: link 1 (1->2) and link 6 (3->2)
    expected = np.full(8, 0.75)
    expected[[0, 4]] += 1.0
    expected[[1, 6]] += 1.0
    assert ksi == pytest.approx(expected)


def test_attribution_averages_replications() -> None:
    net = square_network()
    reps = [replication("b", i, fatal=0.0, serious=s, slight=0.0) for i, s in enumerate([8.0, 16.0])]
    assert link_ksi_per_year(net, reps).sum() == pytest.approx(12.0)


def test_street_values_join_both_directions() -> None:
    net = square_network()
    per_link = np.arange(8, dtype=float)
    s = street_values(net, per_link).set_index("link")
    assert len(s) == 4
    assert s.loc[0, "value"] == pytest.approx(0 + 4)
    assert s.loc[0, "per_km"] == pytest.approx(4 / 0.5)


def test_geometries_from_node_coordinates() -> None:
    net = square_network()
    g = link_geometries(net)
    assert g[0].tolist() == [[76.9, 43.25], [76.905, 43.25]]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_maps_have_title_units_and_schematic_label(tmp_path: Path, lang: str) -> None:
    net = square_network()
    ksi = link_ksi_per_year(net, [replication("b", 0, fatal=1.0, serious=9.0, slight=50.0)])
    out = plot_ksi_map(
        net, ksi, tmp_path / "m.svg", title=text("map_title", lang, scenario="baseline"), lang=lang
    )
    svg = out.read_text("utf-8")
    for needle in ("baseline", text("map_unit", lang), text("schematic", lang), "test:square"):
        assert needle in svg, needle
    diff = plot_ksi_map(net, ksi - ksi[::-1], tmp_path / "d.png", title="diff", diverging=True, lang=lang)
    assert diff.stat().st_size > 1000
