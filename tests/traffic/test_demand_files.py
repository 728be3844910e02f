from __future__ import annotations

from pathlib import Path

import pytest
from traffic_fixtures import crossing_network, grid

from vision_zero.core.errors import DataError, InputFileNotFoundError
from vision_zero.traffic import demand_files, pedestrians


def test_read_od_csv_node_ids_and_lat_lon(tmp_path: Path) -> None:
    net = grid(3)
    f = tmp_path / "od.csv"
    f.write_text("origin,destination,period,trips\n0,8,am_peak,2.5\n4,2,night,1\n")
    od = demand_files.read_od_csv(f, net)
    assert od["origin"].tolist() == [0, 4] and od["trips"].tolist() == [2.5, 1.0]
    nodes = net.nodes
    g = tmp_path / "od_ll.csv"
    g.write_text(
        "origin_lat,origin_lon,destination_lat,destination_lon,period,trips\n"
        f"{nodes.lat[0] + 1e-5},{nodes.lon[0]},{nodes.lat[8]},{nodes.lon[8] - 1e-5},am_peak,3\n"
    )
    od2 = demand_files.read_od_csv(g, net)
    assert od2["origin"].tolist() == [0] and od2["destination"].tolist() == [8]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("origin,destination,trips\n0,1,2\n", "missing column 'period'"),
        (
            "origin,destination,period,trips\n0,1,am_peak,x\n",
            r"row 2, column 'trips': expected a finite number \(got 'x'\)",
        ),
        (
            "origin,destination,period,trips\n0,99,am_peak,1\n",
            r"row 2, column 'destination': expected a node id 0\.\.8",
        ),
        (
            "origin,destination,period,trips\n0,1,am_peak,-1\n",
            "expected a number of trips from 0 to 1,000,000",
        ),
        ("a,b,period,trips\n0,1,am_peak,1\n", "expected columns origin/destination"),
        (
            "origin_lat,origin_lon,destination_lat,destination_lon,period,trips\n10,10,10,10,am_peak,1\n",
            "row 2: origin .* m from the nearest network node",
        ),
    ],
)
def test_read_od_csv_errors_name_file_row_and_column(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=match) as err:
        demand_files.read_od_csv(f, grid(3))
    assert str(f) in str(err.value)


def test_read_od_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nope\.csv"):
        demand_files.read_od_csv(tmp_path / "nope.csv", grid(3))


def test_pedestrian_csv_overrides_matching_rows(tmp_path: Path) -> None:
    net = crossing_network()
    peds = pedestrians.pedestrian_demand(net)
    f = tmp_path / "peds.csv"
    f.write_text("crossing,period,peds_per_h\n1,am_peak,500\n")
    out = demand_files.read_pedestrian_csv(f, peds, n_crossings=2)
    assert len(out) == len(peds)
    got = out.set_index(["crossing", "period"])["peds_per_h"]
    assert got[(1, "am_peak")] == 500
    assert got[(0, "am_peak")] == peds.set_index(["crossing", "period"])["peds_per_h"][(0, "am_peak")]
    f.write_text("crossing,period,peds_per_h\n7,am_peak,500\n")
    with pytest.raises(DataError, match=r"row 2, column 'crossing': expected a crossing id 0\.\.1 \(got 7\)"):
        demand_files.read_pedestrian_csv(f, peds, n_crossings=2)
    f.write_text("crossing,period,peds_per_h\n1,evening,500\n")
    with pytest.raises(DataError, match="'evening'"):
        demand_files.read_pedestrian_csv(f, peds, n_crossings=2)
