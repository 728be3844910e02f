from pathlib import Path

import numpy as np
import pyogrio
import pytest
from compare_fixtures import square_network

from vision_zero.outputs.gis import column_prefix, write_links_gpkg


def test_gpkg_round_trip(tmp_path: Path) -> None:
    net = square_network()
    base = np.linspace(1.0, 8.0, 8)
    var = base * 0.5
    path = write_links_gpkg(net, base, {"centre-30": var, "30 zones": base}, tmp_path / "links.gpkg")
    layers = pyogrio.list_layers(path)
    assert [layer[0] for layer in layers] == ["links"]
    gdf = pyogrio.read_dataframe(path, layer="links")
    assert len(gdf) == 8
    assert gdf.crs.to_epsg() == 4326
    assert gdf.geometry.iloc[0].geom_type == "LineString"
    assert list(gdf.geometry.iloc[0].coords) == [(76.9, 43.25), (76.905, 43.25)]
    assert gdf["base_ksi"].to_numpy() == pytest.approx(base)
    assert gdf["centre_30_diff"].to_numpy() == pytest.approx(var - base)
    assert gdf["centre_30_ksi_km"].to_numpy() == pytest.approx(var / 0.5)
    assert gdf["s_30_zones_diff"].to_numpy() == pytest.approx(0.0)
    assert gdf["schematic"].all()
    assert not list(tmp_path.glob(".*"))


def test_column_prefix() -> None:
    assert column_prefix("Centre 30!") == "centre_30"
    assert column_prefix("30-zones") == "s_30_zones"
