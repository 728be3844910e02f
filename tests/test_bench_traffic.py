"""The traffic benchmark's grid network without a graph is the loader's network bit for bit (#16)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from paths import HELSINKI_PBF

from vision_zero.traffic.periods import Period
from vision_zero.traffic.simulation import simulate

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_traffic.py"


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_traffic", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_traffic"] = module
    spec.loader.exec_module(module)
    return module


def _grid_case(bench: object, tmp_path: Path, n: int = 4) -> object:
    """An n x n grid case as ``build_grid_case`` writes it (node ids not in row order, signals at 3+ arms)."""
    ids = np.arange(n * n)[::-1]  # node ids listed backwards: the order of nodes and of links must be kept
    xy = [(200.0 * (k % n), 200.0 * (k // n)) for k in range(n * n)]
    nodes = pd.DataFrame(
        {
            "node": ids,
            "sumo_id": [f"J{i}" for i in ids],
            "x_m": [p[0] for p in xy],
            "y_m": [p[1] for p in xy],
        }
    )
    rows = []
    for k in range(n * n):
        for dk in (1, n):
            j = k + dk
            if j >= n * n or (dk == 1 and j % n == 0):
                continue
            rows += [(ids[j], ids[k]), (ids[k], ids[j])]  # the back link first on some pairs
    links = pd.DataFrame(rows, columns=["u", "v"])
    links.insert(0, "link", np.arange(len(links)))
    links["length_m"] = 200.0
    links["lanes"] = 2
    links["speed_kph"] = 50.0
    links["sumo_edge"] = [f"E{i}" for i in range(len(links))]
    legs = pd.concat([links["u"], links["v"]]).value_counts() // 2
    nodes["signalised"] = nodes["node"].map(legs).fillna(0).to_numpy() >= 3
    trips = pd.DataFrame(
        {
            "trip": np.arange(60),
            "origin": np.resize(ids, 60),
            "destination": np.resize(ids[::-1], 60),
            "depart_s": np.linspace(0.0, 3000.0, 60),
        }
    )
    trips = trips[trips["origin"] != trips["destination"]].reset_index(drop=True)
    return bench.Case(  # type: ignore[attr-defined]
        name="grid4x4", workdir=tmp_path, nodes=nodes, links=links, trips=trips, horizon_s=7200.0
    )


@pytest.mark.slow
def test_the_grid_network_from_tables_is_the_loaders(tmp_path: Path) -> None:
    bench = _bench()
    case = _grid_case(bench, tmp_path)
    from_graph = bench.vz_network_from_tables(case)  # type: ignore[attr-defined]
    from_tables = bench.vz_network_from_case_tables(case)  # type: ignore[attr-defined]
    for name in ("nodes", "links", "crossings", "crossing_links"):
        assert_frame_equal(getattr(from_graph, name), getattr(from_tables, name), check_exact=True)
    for name in ("source", "schematic", "defaulted", "country", "country_source", "default_speed_kph"):
        assert getattr(from_graph, name) == getattr(from_tables, name), name
    assert from_tables.source_graph is None
    assert from_tables.graph.number_of_edges() == len(case.links)  # built when asked for
    # the same simulation on both (the worker's network is the tables one)
    period = Period(name="bench", start_h=8.0, duration_s=3600.0, demand_share=1.0, annual_hours=1.0)
    trips = case.trips.copy()
    trips.insert(1, "period", period.name)
    records = [
        simulate(net, trips, None, rng=np.random.default_rng(1), periods=(period,), reroute_passes=1)
        for net in (from_graph, from_tables)
    ]
    assert records[0].trips["completed"].all()
    assert_frame_equal(records[0].trips, records[1].trips, check_exact=True)


def test_two_links_between_one_pair_are_keyed_as_the_graph_keys_them(tmp_path: Path) -> None:
    bench = _bench()
    case = _grid_case(bench, tmp_path, n=2)
    case.links = pd.concat([case.links, case.links.iloc[:1]], ignore_index=True)  # type: ignore[attr-defined]
    from_graph = bench.vz_network_from_tables(case)  # type: ignore[attr-defined]
    from_tables = bench.vz_network_from_case_tables(case)  # type: ignore[attr-defined]
    for name in ("nodes", "links", "crossings", "crossing_links"):
        assert_frame_equal(getattr(from_graph, name), getattr(from_tables, name), check_exact=True)
    assert sorted(from_tables.links["key"].tolist()) == [0] * len(case.links.index[:-1]) + [1]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_city_case_on_a_real_extract_carries_its_network_to_sumo(tmp_path: Path) -> None:
    """``--network`` / ``--demand-factor``: the Helsinki extract exported link for link, the same trips routable."""
    pytest.importorskip("sumo")  # netconvert and duarouter of the eclipse-sumo wheel
    import xml.etree.ElementTree as ET

    from vision_zero.traffic import demand

    bench = _bench()
    args = bench.parse_args(  # type: ignore[attr-defined]
        ["--case", "city", "--network", str(HELSINKI_PBF), "--demand-factor", "0.05"]
    )
    (case, seed), *more = bench.build_city_cases(args, tmp_path, [args.seed])  # type: ignore[attr-defined]
    assert not more and seed == args.seed == 42
    assert case.name == "city-helsinki-centre"
    net = pd.read_pickle(case.workdir / "vz_network.pkl")
    am = next(p for p in demand.default_periods() if p.name == "am_peak")
    expected = demand.default_daily_trips(net) * 0.05 * am.demand_share
    assert abs(len(case.trips) - expected) <= 1
    # every vision_zero link is one SUMO edge between the same nodes, with the loader's length (not the straight
    # line netconvert would measure), one-way and two-way streets alike
    edges = {
        el.get("id"): (el.get("from"), el.get("to"), float(el.find("lane").get("length")))  # type: ignore[union-attr]
        for _, el in ET.iterparse(case.workdir / "net.net.xml")
        if el.tag == "edge" and el.get("function") is None
    }
    assert len(edges) == len(net.links)
    sumo_id = case.nodes["sumo_id"].to_numpy()
    for row in case.links.itertuples(index=False):
        frm, to, length = edges[row.sumo_edge]
        assert (frm, to) == (sumo_id[row.u], sumo_id[row.v])
        assert length == pytest.approx(row.length_m, abs=0.01)
    # OSM's signals are SUMO's traffic lights (a signal at a dead end controls nothing in either tool)
    lights = {el.get("id") for _, el in ET.iterparse(case.workdir / "net.net.xml") if el.tag == "tlLogic"}
    degree = pd.concat([case.links["u"], case.links["v"]]).value_counts()
    controlling = case.nodes[case.nodes["signalised"] & (case.nodes["node"].map(degree) > 1)]
    assert set(controlling["sumo_id"]) == lights
    # the clipped extract: trips from and to its cut edges, and the trips SUMO cannot route are exactly those
    # vision_zero cannot (NaN free-flow time), so both tools count the same trips as not arrived
    checks = json.loads((case.workdir / "network_checks.json").read_text())
    assert checks["boundary_nodes"] > 0 and checks["trips_at_boundary"] > 0.9 * len(case.trips)
    assert checks["links_under_10m"] > 0 and checks["oneway_links"] > 0
    bench.ensure_sumo_routes(case)  # type: ignore[attr-defined]
    free = pd.read_csv(case.workdir / "free_flow.csv")
    assert len(free) == len(case.trips)
    routed = {
        int(el.get("id", "-1"))
        for _, el in ET.iterparse(case.workdir / "routes.rou.xml")
        if el.tag == "vehicle"
    }
    assert routed == set(free.loc[free["free_flow_s"].notna(), "trip"].astype(int))
    assert case.unrouted == free["free_flow_s"].isna().sum()


def test_the_city_case_keeps_its_name_and_default_source() -> None:
    bench = _bench()
    name = bench.network_case_name  # type: ignore[attr-defined]
    assert name("schematic:almaty?scale=district", "district") == "city-district"
    assert name("schematic:almaty?scale=city", "city") == "city-city"
    assert name("networks/helsinki-centre.osm.pbf", "city") == "city-helsinki-centre"
    assert name("/data/kazakhstan latest.osm.bz2", "city") == "city-kazakhstan-latest"
    args = bench.parse_args(["--case", "city"])  # type: ignore[attr-defined]
    assert args.network is None and args.demand_factor is None and args.city_scale == "city"


def test_sumos_run_without_output_drops_only_its_outputs(tmp_path: Path) -> None:
    """``--sumo-bare``: the same SUMO command without edgeData, tripinfo and statistics (each option with its file)."""
    pytest.importorskip("sumo")  # the command names the eclipse-sumo wheel's binary
    bench = _bench()
    case = _grid_case(bench, tmp_path)
    rundir = tmp_path / "run"
    rundir.mkdir()
    cmd = bench.sumo_command(case, "sumo-meso", rundir, seed=1)  # type: ignore[attr-defined]
    bare = bench.bare_sumo_command(cmd)  # type: ignore[attr-defined]
    dropped = ("--additional-files", "--tripinfo-output", "--statistic-output")
    assert all(opt in cmd for opt in dropped)
    assert not any(opt in bare for opt in dropped) and not any(str(rundir) in arg for arg in bare)
    assert len(bare) == len(cmd) - 6 and [a for a in cmd if a in bare] == bare  # the rest, in order
    assert "--mesosim" in bare and bare[bare.index("--seed") + 1] == "1"
    assert bench.parse_args(["--sumo-bare"]).sumo_bare  # type: ignore[attr-defined]


def test_sumo_can_be_given_vision_zeros_desired_speeds() -> None:
    """``--sumo-speeds desired``: SUMO's edges run at vision_zero's mean free running speed, not the posted limit."""
    from vision_zero import network as vz_network
    from vision_zero.traffic._model import expected_running_time_s
    from vision_zero.traffic.simulation import TrafficSettings

    bench = _bench()
    net = vz_network.load_network("schematic:almaty?scale=tiny")
    limit = bench._sumo_speeds_kph(net, "limit")  # type: ignore[attr-defined]
    desired = bench._sumo_speeds_kph(net, "desired")  # type: ignore[attr-defined]
    assert np.array_equal(limit, net.links["speed_limit_kph"].to_numpy(float))
    running_s = expected_running_time_s(net.links, TrafficSettings.from_parameters())
    assert np.allclose(net.links["length_m"].to_numpy(float) / (desired / 3.6), running_s)
    assert (desired > limit).any()  # mean desired speeds above the limit (posted + offset on main roads)
    with pytest.raises(ValueError, match="limit' or 'desired"):
        bench._sumo_speeds_kph(net, "posted")  # type: ignore[attr-defined]


def test_a_north_south_signal_turns_green_when_sumos_does(tmp_path: Path) -> None:
    """A signal with only north-south approaches (a crossing on a N-S street) runs SUMO's timing in vision_zero.

    The bench gives vision_zero SUMO's offsets; such a node was left without one (vision_zero's pseudo-random
    offset against SUMO's simultaneous plan: half the signals of the Helsinki extract).
    """
    pytest.importorskip("sumo")  # netconvert
    from vision_zero.traffic._model import signal_plans
    from vision_zero.traffic.simulation import TrafficSettings

    bench = _bench()
    nodes = pd.DataFrame(
        {
            "node": [0, 1, 2],
            "sumo_id": ["a", "b", "c"],
            "x_m": [0.0, 0.0, 0.0],
            "y_m": [0.0, 150.0, 300.0],
            "signalised": [False, True, False],
        }
    )
    links = pd.DataFrame(
        {
            "link": [0, 1, 2, 3],
            "u": [0, 1, 1, 2],
            "v": [1, 0, 2, 1],
            "length_m": 150.0,
            "lanes": 1,
            "speed_kph": 50.0,
            "sumo_edge": ["e0", "e1", "e2", "e3"],
        }
    )
    bench.write_plain_xml_and_convert(tmp_path, nodes, links)  # type: ignore[attr-defined]
    trips = pd.DataFrame({"trip": [0], "origin": [0], "destination": [2], "depart_s": [0.0]})
    case = bench.Case(  # type: ignore[attr-defined]
        name="line", workdir=tmp_path, nodes=nodes, links=links, trips=trips, horizon_s=3600.0
    )
    offsets = bench.sumo_signal_offsets(case)  # type: ignore[attr-defined]
    assert np.isnan(offsets[[0, 2]]).all() and np.isfinite(offsets[1])
    import xml.etree.ElementTree as ET

    (logic,) = [el for _, el in ET.iterparse(tmp_path / "net.net.xml") if el.tag == "tlLogic"]
    phases = [(float(ph.get("duration", "0")), ph.get("state", "")) for ph in logic.findall("phase")]
    cycle = sum(d for d, _ in phases)
    green_from = float(logic.get("offset", "0"))
    for duration, state in phases:
        if "G" in state:
            break
        green_from += duration
    net = bench.vz_network_from_case_tables(case)  # type: ignore[attr-defined]
    net.nodes["signal_offset_s"] = offsets
    settings = TrafficSettings.from_parameters()
    assert settings.cycle_s == cycle  # both tools run the same 90 s cycle
    plans = signal_plans(net, settings)
    entering = np.flatnonzero(net.links["v"].to_numpy(int) == 1)
    assert len(entering) == 2
    lag = np.mod(plans.offset_s[entering] - green_from, cycle)
    assert np.allclose(np.minimum(lag, cycle - lag), 0.0, atol=1e-6)
