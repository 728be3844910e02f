"""Traffic-engine benchmark: vision_zero against SUMO (meso/micro) and UXsim on the same network and demand.

Run by hand, not in CI (peers: ``pip install -r benchmarks/requirements.txt``)::

    /work/venv/bin/python benchmarks/bench_traffic.py --trips 10000 50000 --case all
    /work/venv/bin/python benchmarks/bench_traffic.py --trips 200 --grid 5        # smoke test, seconds
    /work/venv/bin/python benchmarks/bench_traffic.py --case city --network networks/helsinki-centre.osm.pbf \
        --demand-factor 0.5221 --seeds 1 2 3      # real geometry at the Helsinki baseline's calibrated demand

Every tool runs in its own child process; CPU seconds (user + system) and peak memory (``ru_maxrss``) come
from ``os.wait4`` on that child (the rusage of one child, including anything it spawned and reaped). SUMO's
child is the ``sumo`` binary itself; UXsim's and vision_zero's child is this script in ``--worker`` mode (so
their CPU includes interpreter start-up and imports; the ``sim_cpu_s`` column is the simulation call alone).

Vehicle-km is counted the same way for every tool: link entries x the link's length in the shared network
table (DESIGN.md "Performance": UXsim's own distance under-counts with platoons). Mean travel time is over
completed trips, from the *scheduled* departure to arrival (SUMO: ``duration + departDelay``). Link-flow
agreement is the Pearson correlation of link entries, links matched by (from node, to node).

SUMO runs on routes computed once per case by ``duarouter`` (its CPU is reported in the note, not in SUMO's
CPU); vision_zero and UXsim route inside their run. ``vision_zero-r0`` is vision_zero without the re-routing
pass (fixed free-flow routes, like SUMO's). ``sumo-meso-jc-dua`` is SUMO meso with junction control on the routes of
SUMO's own iterative dynamic user assignment (``tools/assign/duaIterate.py`` of the eclipse-sumo wheel,
``--dua-steps`` iterations; ``--dua-from DIR`` reads an earlier run's last finished iteration): the reference for
a congested case, where free-flow routes jam SUMO. See benchmarks/README.md "Traffic engine" for results and fairness.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import itertools
import json
import math
import os
import pickle
import platform
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out"
LINK_LENGTH_M = 200.0
GRID_SPEED_KPH = 50.0
GRID_LANES = 2
HOUR_S = 3600.0
#: Fixed-time signal plan used on the grid by SUMO (netgenerate default for a 4-arm junction) and mirrored in
#: UXsim: 90 s cycle, two phases of 42 s green + 3 s amber.
SIGNAL_CYCLE_S = 90.0
UXSIM_CHUNK_S = 300.0
SUMO_TOOLS = ("sumo-meso", "sumo-meso-jc", "sumo-micro", "sumo-meso-jc-vzroutes", "sumo-meso-jc-dua")
#: SUMO meso-jc driving vision_zero's own final routes (written by a separate vision_zero run, not timed): link
#: flows then differ only by the engines, not by route choice or how equal-cost routes are tied
VZ_ROUTES_TOOL = "sumo-meso-jc-vzroutes"
#: SUMO meso-jc on routes from SUMO's own iterative dynamic user assignment (``duaIterate.py``: duarouter and meso
#: with junction control alternating, Gawron's route choice over each trip's alternatives, edge times aggregated per
#: 900 s), a reference that spreads a congested demand over the network as vision_zero's equilibrium does; the
#: assignment's CPU goes in the note, the timed run is one more meso-jc run on the last iteration's routes
DUA_TOOL = "sumo-meso-jc-dua"
#: duaIterate's iterations (``--dua-steps``); the mean trip of every iteration's simulation is in the row's note
DUA_STEPS: list[int] = [10]
#: ``--dua-from DIR``: the row of the last iteration a duaIterate run in DIR completed (on the same case: same
#: scale, trips and seed), read from that iteration's own simulation outputs (no CPU figures), instead of running
#: the assignment and a timed meso-jc run again
DUA_FROM: list[Path] = []
PY_TOOLS = ("vision_zero", "vision_zero-r0", "uxsim5", "uxsim1", "uxsim-cpp1")
ALL_TOOLS = (
    "vision_zero",
    "vision_zero-r0",
    "vision_zero-gap",
    "vision_zero-nogap",
    "vision_zero-kc",
    "sumo-meso",
    "sumo-meso-jc",
    "sumo-micro",
    VZ_ROUTES_TOOL,
    DUA_TOOL,
    "uxsim5",
    "uxsim1",
    "uxsim-cpp1",
)
DEFAULT_TOOLS = (
    "vision_zero",
    "vision_zero-r0",
    "sumo-meso",
    "sumo-meso-jc",
    "sumo-micro",
    "uxsim5",
    "uxsim-cpp1",
)
#: UXsim keeps per-time-step arrays per link and all-pairs routes: above this many links it is skipped (memory).
UXSIM_MAX_LINKS = 5000


# --------------------------------------------------------------------------------------------------------------
# Shared case: network + trips, written once per case to a work directory
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One benchmark case on disk: the shared network and trip tables plus the SUMO files."""

    name: str
    workdir: Path
    nodes: pd.DataFrame  # node (int), sumo_id (str), x_m, y_m, signalised (bool)
    links: pd.DataFrame  # link (int), u, v (node ids), length_m, lanes, speed_kph, sumo_edge (str)
    trips: pd.DataFrame  # trip, origin, destination (node ids), depart_s
    horizon_s: float
    notes: list[str] = field(default_factory=list)
    routing_cpu_s: float = math.nan  # duarouter's CPU for SUMO's routes (not in SUMO's rows)
    unrouted: int = (
        0  # trips duarouter found no route for (left out of SUMO's routes; counted as not arrived)
    )
    dua_cpu_s: float = math.nan  # duaIterate's CPU (all its children; not in the dua row's CPU)
    dua_note: str = ""  # duaIterate's iterations and each one's mean trip


def sumo_home() -> Path:
    """SUMO_HOME of the eclipse-sumo wheel (``sumo`` package)."""
    import sumo

    return Path(sumo.SUMO_HOME)


def sumo_bin(name: str) -> str:
    """Path of a SUMO binary from the wheel, falling back to PATH."""
    path = sumo_home() / "bin" / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"SUMO binary {name!r} not found: pip install -r benchmarks/requirements.txt")
    return found


def _run_quiet(cmd: list[str]) -> None:
    env = dict(os.environ, SUMO_HOME=str(sumo_home()))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")


def read_sumo_net(net_xml: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Junctions and (non-internal) edges of a SUMO .net.xml as plain tables."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for _, el in ET.iterparse(net_xml, events=("end",)):
        if el.tag == "junction" and el.get("type") != "internal":
            nodes.append(
                {
                    "sumo_id": el.get("id"),
                    "x_m": float(el.get("x", "nan")),
                    "y_m": float(el.get("y", "nan")),
                    "sumo_type": el.get("type"),
                }
            )
        elif el.tag == "edge" and el.get("function") is None:
            lanes = el.findall("lane")
            edges.append(
                {
                    "sumo_edge": el.get("id"),
                    "sumo_from": el.get("from"),
                    "sumo_to": el.get("to"),
                    "lanes": len(lanes),
                    "speed_kph": float(lanes[0].get("speed", "nan")) * 3.6,
                    "sumo_length_m": float(lanes[0].get("length", "nan")),
                }
            )
            el.clear()
    return pd.DataFrame(nodes), pd.DataFrame(edges)


def random_trips(n_nodes: int, n_trips: int, *, rng: np.random.Generator, duration_s: float) -> pd.DataFrame:
    """Uniform random origins and destinations (never equal), departures uniform over ``duration_s``."""
    origin = rng.integers(0, n_nodes, size=n_trips)
    shift = rng.integers(1, n_nodes, size=n_trips)
    destination = (origin + shift) % n_nodes
    depart_s = np.sort(rng.uniform(0.0, duration_s, size=n_trips))
    return pd.DataFrame(
        {"trip": np.arange(n_trips), "origin": origin, "destination": destination, "depart_s": depart_s}
    )


def build_grid_case(workdir: Path, *, n: int, n_trips: int, seed: int, horizon_s: float) -> Case:
    """An n x n grid of 200 m two-lane 50 km/h links from ``netgenerate``, signals at every 3+ arm junction."""
    workdir.mkdir(parents=True, exist_ok=True)
    net_xml = workdir / "net.net.xml"
    _run_quiet(
        [
            sumo_bin("netgenerate"),
            "--grid",
            "--grid.number",
            str(n),
            "--grid.length",
            str(LINK_LENGTH_M),
            "--default.lanenumber",
            str(GRID_LANES),
            "--default.speed",
            f"{GRID_SPEED_KPH / 3.6:.4f}",
            "--default-junction-type",
            "traffic_light",
            "--tls.cycle.time",
            f"{SIGNAL_CYCLE_S:g}",
            "--seed",
            str(seed),
            "-o",
            str(net_xml),
        ]
    )
    sumo_nodes, sumo_edges = read_sumo_net(net_xml)
    nodes = sumo_nodes.reset_index(drop=True)
    nodes.insert(0, "node", np.arange(len(nodes)))
    index = dict(zip(nodes["sumo_id"], nodes["node"], strict=True))
    links = sumo_edges.reset_index(drop=True)
    links.insert(0, "link", np.arange(len(links)))
    links["u"] = links["sumo_from"].map(index).astype(int)
    links["v"] = links["sumo_to"].map(index).astype(int)
    links["length_m"] = LINK_LENGTH_M
    legs = pd.concat([links["u"], links["v"]]).value_counts() // 2
    # corners (2 arms) get a one-phase all-green "signal" from netgenerate: treat them as unsignalised
    nodes["signalised"] = nodes["node"].map(legs).fillna(0).to_numpy() >= 3
    trips = random_trips(len(nodes), n_trips, rng=np.random.default_rng(seed), duration_s=HOUR_S)
    case = Case(
        name=f"grid{n}x{n}",
        workdir=workdir,
        nodes=nodes,
        links=links,
        trips=trips,
        horizon_s=horizon_s,
        notes=[f"netgenerate grid {n}x{n}, 200 m, 2 lanes, 50 km/h, fixed-time signals at 3+ arm junctions"],
    )
    write_case(case)
    return case


def network_case_name(source: str, scale: str) -> str:
    """The city case's name: ``city-<scale>`` on the schematic city, else ``city-<file stem or source>``."""
    if source.startswith("schematic:"):
        return f"city-{scale}" if source == f"schematic:almaty?scale={scale}" else "city-" + _slug(source)
    name = Path(source).name
    for suffix in (".osm.pbf", ".osm.bz2", ".osm.xml", ".osm", ".pbf", ".graphml", ".xml"):
        if name.endswith(suffix):
            return "city-" + _slug(name.removesuffix(suffix))
    return "city-" + _slug(name)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "network"


def network_checks(net: Any, trips: pd.DataFrame) -> dict[str, float]:
    """What the SUMO export must carry over from a vision_zero network (a real extract's pitfalls), as counts.

    Node pairs with two or more links (OSM has parallel ways; the export keeps each as its own SUMO edge), one-way
    and two-way links, links under 10 m / 20 m (SUMO is given the loader's length; netconvert would otherwise
    recompute it from the straight line between the nodes), signalised nodes and how many arms they have, boundary
    nodes (where a clipped extract cut a road) and the trips that start or end at one.
    """
    links, nodes = net.links, net.nodes
    u, v = links["u"].to_numpy(int), links["v"].to_numpy(int)
    pairs = pd.Series(1, index=pd.MultiIndex.from_arrays([u, v])).groupby(level=[0, 1]).size()
    xy = nodes[["x_m", "y_m"]].to_numpy(float)
    straight = np.hypot(*(xy[v] - xy[u]).T)
    length = links["length_m"].to_numpy(float)
    arms = np.zeros(len(nodes), dtype=int)
    for a, b in {(min(x, y), max(x, y)) for x, y in zip(u.tolist(), v.tolist(), strict=True)}:
        arms[a] += 1
        arms[b] += 1
    signal = nodes["signalised"].to_numpy(bool)
    boundary = nodes["boundary"].to_numpy(bool) if "boundary" in nodes else np.zeros(len(nodes), bool)
    o, d = trips["origin"].to_numpy(int), trips["destination"].to_numpy(int)
    return {
        "links": float(len(links)),
        "nodes": float(len(nodes)),
        "parallel_pairs": float((pairs > 1).sum()),
        "self_loops": float((u == v).sum()),
        "oneway_links": float(links["oneway"].to_numpy(bool).sum()) if "oneway" in links else math.nan,
        "links_under_10m": float((length < 10.0).sum()),
        "links_under_20m": float((length < 20.0).sum()),
        "length_over_straight": float(length.sum() / max(straight.sum(), 1e-9)),
        "signals": float(signal.sum()),
        "signals_2_arms": float((signal & (arms <= 2)).sum()),
        "boundary_nodes": float(boundary.sum()),
        "trips": float(len(trips)),
        "trips_at_boundary": float((boundary[o] | boundary[d]).sum()),
    }


def build_city_case(
    workdir: Path,
    *,
    scale: str,
    seed: int,
    horizon_s: float,
    n_trips: int | None,
    network: str | None = None,
    demand_factor: float | None = None,
    name: str | None = None,
    sumo_speeds: str = "limit",
) -> Case:
    """A vision_zero network with its AM-peak demand, exported to SUMO via plain XML and netconvert.

    ``network``: any source vision_zero loads (an OSM extract, a GraphML file, a schematic source); default the
    schematic Almaty at ``scale``. ``demand_factor``: the AM peak of that many times the network's default daily
    trips (a scenario's calibrated factor); ``n_trips`` instead rescales it to that many trips. The trips'
    free-flow times under vision_zero's reference (:func:`vision_zero.traffic.demand.free_flow_link_cost_s`) go to
    ``free_flow.csv``, for the congestion index of every tool. ``sumo_speeds``: the SUMO edges' speed, ``"limit"``
    (the posted limit, as always) or ``"desired"`` (vision_zero's mean free running speed on the link, length /
    :func:`vision_zero.traffic._model.expected_running_time_s`: its drivers' desired speeds, above the limit), so
    that both tools' drivers run equally fast on an empty link.
    """
    from vision_zero import network as vz_network
    from vision_zero.traffic import demand
    from vision_zero.traffic._model import PRIORITY_RANK

    workdir.mkdir(parents=True, exist_ok=True)
    source = network if network is not None else f"schematic:almaty?scale={scale}"
    net = vz_network.load_network(source)
    daily = None
    if demand_factor is not None and n_trips is None:
        daily = demand.default_daily_trips(net) * demand_factor
    vz_trips = vz_demand_trips(net, seed=seed, n_trips=n_trips, daily_trips=daily)
    with (workdir / "vz_network.pkl").open("wb") as fh:
        pickle.dump(net, fh)
    with (workdir / "vz_trips.pkl").open("wb") as fh:
        pickle.dump(vz_trips, fh)
    free_flow = demand.od_travel_time_s(
        net,
        vz_trips["origin"].to_numpy(np.int64),
        vz_trips["destination"].to_numpy(np.int64),
        demand.free_flow_link_cost_s(net),
    )
    pd.DataFrame({"trip": vz_trips["trip"].to_numpy(int), "free_flow_s": free_flow}).to_csv(
        workdir / "free_flow.csv", index=False
    )

    nodes = pd.DataFrame(
        {
            "node": np.arange(len(net.nodes)),
            "sumo_id": [f"n{i}" for i in range(len(net.nodes))],
            "x_m": net.nodes["x_m"].to_numpy(float),
            "y_m": net.nodes["y_m"].to_numpy(float),
            "signalised": net.nodes["signalised"].to_numpy(bool),
        }
    )
    links = pd.DataFrame(
        {
            "link": np.arange(len(net.links)),
            "u": net.links["u"].to_numpy(int),
            "v": net.links["v"].to_numpy(int),
            "length_m": net.links["length_m"].to_numpy(float),
            "lanes": np.maximum(net.links["lanes"].to_numpy(int), 1),
            "speed_kph": _sumo_speeds_kph(net, sumo_speeds),
            "sumo_edge": [f"l{i}" for i in range(len(net.links))],
            # vision_zero's road-class order at a junction, as SUMO's edge priority: both tools then make the same
            # road the major one at a priority junction (without it netconvert ranks by speed and lanes, and all
            # 1-lane 60 km/h classes tie, so geometry picks the major road)
            "priority": net.links["highway"].astype(str).map(PRIORITY_RANK).fillna(0).to_numpy(int),
        }
    )
    write_plain_xml_and_convert(workdir, nodes, links)
    trips = common_trips_from_vz(vz_trips)
    checks = network_checks(net, vz_trips)
    (workdir / "network_checks.json").write_text(json.dumps(checks, indent=1))
    demand_note = "vision_zero default demand, AM peak"
    if sumo_speeds == "desired":
        demand_note += "; SUMO edge speeds = vision_zero's mean desired running speeds"
    if demand_factor is not None:
        demand_note = f"vision_zero demand x{demand_factor:g} of the default, AM peak"
    case = Case(
        name=name or network_case_name(source, scale),
        workdir=workdir,
        nodes=nodes,
        links=links,
        trips=trips,
        horizon_s=horizon_s,
        notes=[
            f"{net.label}; {demand_note}",
            "checks: " + ", ".join(f"{k} {v:g}" for k, v in checks.items()),
        ],
    )
    write_case(case)
    return case


def _sumo_speeds_kph(net: Any, sumo_speeds: str) -> np.ndarray:
    """The SUMO edges' speeds [km/h]: the posted limits, or vision_zero's mean free running speeds (``desired``)."""
    limit = net.links["speed_limit_kph"].to_numpy(float)
    if sumo_speeds == "limit":
        return limit
    if sumo_speeds != "desired":
        raise ValueError(f"sumo_speeds: 'limit' or 'desired' (got {sumo_speeds!r})")
    from vision_zero.traffic._model import expected_running_time_s
    from vision_zero.traffic.simulation import TrafficSettings

    running_s = expected_running_time_s(net.links, TrafficSettings.from_parameters())
    length = net.links["length_m"].to_numpy(float)
    return np.where(running_s > 0, 3.6 * length / np.maximum(running_s, 1e-9), limit)


def write_plain_xml_and_convert(workdir: Path, nodes: pd.DataFrame, links: pd.DataFrame) -> None:
    """Export the shared tables as SUMO plain XML (.nod/.edg) and build the .net.xml with netconvert."""
    nod = ['<nodes xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">']
    for row in nodes.itertuples(index=False):
        kind = "traffic_light" if row.signalised else "priority"
        nod.append(f'  <node id="{row.sumo_id}" x="{row.x_m:.2f}" y="{row.y_m:.2f}" type="{kind}"/>')
    nod.append("</nodes>")
    sumo_ids = nodes["sumo_id"].to_numpy()
    edg = ['<edges xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">']
    has_priority = "priority" in links.columns
    for row in links.itertuples(index=False):
        prio = f' priority="{int(row.priority)}"' if has_priority else ""
        edg.append(
            f'  <edge id="{row.sumo_edge}" from="{sumo_ids[row.u]}" to="{sumo_ids[row.v]}" '
            f'numLanes="{int(row.lanes)}" speed="{row.speed_kph / 3.6:.4f}" length="{row.length_m:.2f}"{prio}/>'
        )
    edg.append("</edges>")
    (workdir / "net.nod.xml").write_text("\n".join(nod) + "\n")
    (workdir / "net.edg.xml").write_text("\n".join(edg) + "\n")
    _run_quiet(
        [
            sumo_bin("netconvert"),
            "--node-files",
            str(workdir / "net.nod.xml"),
            "--edge-files",
            str(workdir / "net.edg.xml"),
            "--tls.cycle.time",
            f"{SIGNAL_CYCLE_S:g}",
            "--offset.disable-normalization",
            "--no-internal-links",
            "--no-warnings",
            "-o",
            str(workdir / "net.net.xml"),
        ]
    )


def write_case(case: Case) -> None:
    """Write the shared tables and the SUMO trip / edge-data files.

    SUMO's signal plan is converted here, once, into the node column ``signal_offset_s`` that vision_zero reads
    (:func:`sumo_signal_offsets`), as the network itself is converted here from SUMO's ``.net.xml``
    (:func:`read_sumo_net`): input conversion, outside every tool's measured process.
    """
    if "signal_offset_s" not in case.nodes and (case.workdir / "net.net.xml").exists():
        case.nodes["signal_offset_s"] = sumo_signal_offsets(case)
    case.nodes.to_csv(case.workdir / "nodes.csv", index=False)
    case.links.to_csv(case.workdir / "links.csv", index=False)
    case.trips.to_csv(case.workdir / "trips.csv", index=False)
    sumo_ids = case.nodes["sumo_id"].to_numpy()
    lines = ["<routes>"]
    for row in case.trips.itertuples(index=False):
        lines.append(
            f'  <trip id="{row.trip}" depart="{row.depart_s:.2f}" '
            f'fromJunction="{sumo_ids[row.origin]}" toJunction="{sumo_ids[row.destination]}"/>'
        )
    lines.append("</routes>")
    (case.workdir / "trips.rou.xml").write_text("\n".join(lines) + "\n")
    meta = {
        "name": case.name,
        "horizon_s": case.horizon_s,
        "notes": case.notes,
    }
    (case.workdir / "case.json").write_text(json.dumps(meta, indent=1))


def ensure_sumo_routes(case: Case) -> None:
    """Route SUMO's trips once per case with duarouter (A*, free-flow, junction to junction), measured apart.

    A trip with no route in SUMO's network (a real extract has OD pairs that one-way streets and cut edges leave
    unconnected; vision_zero leaves the same trips unrouted) is left out of the routes (``--ignore-errors``) and
    counted in :attr:`Case.unrouted`: it stays in SUMO's trip count as not arrived, as in vision_zero's.
    """
    if not math.isnan(case.routing_cpu_s):
        return
    # SUMO gets its routes from duarouter (free-flow shortest paths, junction to junction), measured apart
    cpu_s, _, _, code = run_child(
        [
            sumo_bin("duarouter"),
            "-n",
            str(case.workdir / "net.net.xml"),
            "-r",
            str(case.workdir / "trips.rou.xml"),
            "--junction-taz",
            "--routing-algorithm",
            "astar",
            "--ignore-errors",
            "--no-warnings",
            "--no-step-log",
            "-o",
            str(case.workdir / "routes.rou.xml"),
        ],
        log=case.workdir / "duarouter.log",
    )
    if code != 0:
        raise SystemExit(f"duarouter failed; see {case.workdir / 'duarouter.log'}")
    case.routing_cpu_s = cpu_s
    routed = sum(
        1 for _, el in ET.iterparse(case.workdir / "routes.rou.xml", events=("end",)) if el.tag == "vehicle"
    )
    case.unrouted = len(case.trips) - routed


def _dua_dir(case: Case) -> Path:
    return DUA_FROM[0] if DUA_FROM else case.workdir / "dua"


def dua_routes(case: Case) -> Path:
    """The route file of duaIterate's last iteration (``<dua dir>/NNN/trips_NNN.rou.xml.gz``)."""
    last = DUA_STEPS[0] - 1
    return _dua_dir(case) / f"{last:03d}" / f"trips_{last:03d}.rou.xml.gz"


def _dua_finished(dua_dir: Path, step: int) -> bool:
    """Whether duaIterate's simulation of iteration ``step`` has finished (its tripinfo file is closed)."""
    path = dua_dir / f"{step:03d}" / f"tripinfo_{step:03d}.xml"
    if not path.exists():
        return False
    with path.open("rb") as fh:
        fh.seek(max(path.stat().st_size - 64, 0))
        return b"</tripinfos>" in fh.read()


def _dua_mean_trips_s(dua_dir: Path) -> list[float]:
    """Mean trip [s] (duration + departDelay, as :func:`read_sumo_results`) of each duaIterate simulation."""
    means: list[float] = []
    for step in range(DUA_STEPS[0]):
        total, count = 0.0, 0
        path = dua_dir / f"{step:03d}" / f"tripinfo_{step:03d}.xml"
        if not _dua_finished(dua_dir, step):
            break
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag == "tripinfo":
                total += float(el.get("duration", "nan")) + float(el.get("departDelay", "0"))
                count += 1
                el.clear()
        means.append(total / count if count else math.nan)
    return means


def ensure_dua_routes(case: Case, *, seed: int) -> bool:
    """SUMO's own iterative assignment, once per case: ``duaIterate.py`` with meso and junction control.

    Every iteration routes with duarouter on the previous simulation's edge times (900 s intervals, A*, Gawron's
    route choice over each trip's alternatives, SUMO's defaults a = 0.5, beta = 0.9) and simulates with
    ``sumo --mesosim --meso-junction-control``; :data:`DUA_STEPS` iterations. Its CPU (all children) and each
    iteration's mean trip go into the row's note; False (and a message) if it failed.
    """
    if not math.isnan(case.dua_cpu_s) or case.dua_note:
        return True
    dua_dir = _dua_dir(case)
    if DUA_FROM:  # an earlier run's iterations: the last one whose simulation finished
        done = 0
        while _dua_finished(dua_dir, done):
            done += 1
        if done == 0:
            print(f"  {DUA_TOOL}: no finished duaIterate iteration in {dua_dir}", file=sys.stderr)
            return False
        DUA_STEPS[0] = done
        means = "/".join(f"{m:.0f}" for m in _dua_mean_trips_s(dua_dir))
        case.dua_note = (
            f"duaIterate {done} iterations (run apart, in {dua_dir}), mean trip by iteration {means} s"
        )
        return True
    dua_dir.mkdir(exist_ok=True)
    script = sumo_home() / "tools" / "assign" / "duaIterate.py"
    cmd = [
        sys.executable,
        str(script),
        "-n",
        str(case.workdir / "net.net.xml"),
        "-t",
        str(case.workdir / "trips.rou.xml"),
        "-l",
        str(DUA_STEPS[0]),
        "-b",
        "0",
        "-e",
        f"{case.horizon_s:g}",
        "--mesosim",
        "--meso-junctioncontrol",
        "--routing-algorithm",
        "astar",
        "--continue-on-unbuild",  # duarouter --ignore-errors: trips with no route left out (ensure_sumo_routes)
        "--disable-warnings",
        "duarouter--junction-taz",
        "true",
        "sumo--seed",
        str(seed),
    ]
    cpu_s, _, wall_s, code = run_child(cmd, log=dua_dir / "log.txt", cwd=dua_dir)
    if code != 0 or not dua_routes(case).exists():
        print(f"  {DUA_TOOL}: duaIterate FAILED (exit {code}); see {dua_dir}", file=sys.stderr)
        return False
    case.dua_cpu_s = cpu_s
    means = "/".join(f"{m:.0f}" for m in _dua_mean_trips_s(dua_dir))
    case.dua_note = (
        f"duaIterate {DUA_STEPS[0]} iterations ({wall_s:.0f} s wall), mean trip by iteration {means} s"
    )
    return True


def load_case(workdir: Path) -> Case:
    """Read a case written by :func:`write_case` (used by the worker processes)."""
    meta = json.loads((workdir / "case.json").read_text())
    return Case(
        name=meta["name"],
        workdir=workdir,
        nodes=pd.read_csv(workdir / "nodes.csv", dtype={"sumo_id": str}),
        links=pd.read_csv(workdir / "links.csv", dtype={"sumo_edge": str}),
        trips=pd.read_csv(workdir / "trips.csv"),
        horizon_s=float(meta["horizon_s"]),
        notes=list(meta["notes"]),
    )


# --------------------------------------------------------------------------------------------------------------
# vision_zero side (API of vision_zero.traffic.simulation / demand / network)
# --------------------------------------------------------------------------------------------------------------


def vz_demand_trips(
    net: Any, *, seed: int, n_trips: int | None, daily_trips: float | None = None
) -> pd.DataFrame:
    """vision_zero's default AM-peak trips on ``net`` (rescaled to ``n_trips``, or of ``daily_trips`` a day)."""
    from vision_zero.traffic import demand

    am = tuple(p for p in demand.default_periods() if p.name == "am_peak")
    daily = daily_trips if n_trips is None else n_trips / am[0].demand_share
    trips: pd.DataFrame = demand.generate_trips(
        net, rng=np.random.default_rng(seed), periods=am, daily_trips=daily
    )
    return trips


def common_trips_from_vz(vz_trips: pd.DataFrame) -> pd.DataFrame:
    """The shared (trip, origin, destination, depart_s) table from vision_zero's trip table."""
    return vz_trips[["trip", "origin", "destination", "depart_s"]].reset_index(drop=True)


def vz_network_from_tables(case: Case) -> Any:
    """A vision_zero RoadNetwork of the case's grid, through the osmnx-graph loader (``network_from_graph``).

    The grid is placed near Almaty (UTM 43N) so that the loader's projection gives back the same metres; links
    are two-way ``secondary`` streets tagged ``lanes=4`` (2 per direction), ``maxspeed=50``, ``length=200``;
    signalised junctions carry ``highway=traffic_signals``. Capacity and storage come from vision_zero's own
    defaults for that road class.
    """
    import networkx as nx
    from pyproj import Transformer

    from vision_zero.network.road_network import network_from_graph

    to_lonlat = Transformer.from_crs(32643, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(
        case.nodes["x_m"].to_numpy() + 630_000.0, case.nodes["y_m"].to_numpy() + 4_790_000.0
    )
    graph: nx.MultiDiGraph[Any] = nx.MultiDiGraph(crs="EPSG:4326")
    for i, row in enumerate(case.nodes.itertuples(index=False)):
        attrs: dict[str, Any] = {"x": float(lon[i]), "y": float(lat[i])}
        if row.signalised:
            attrs["highway"] = "traffic_signals"
        graph.add_node(int(row.node), **attrs)
    seen: set[tuple[int, int]] = set()
    for row in case.links.itertuples(index=False):
        graph.add_edge(
            int(row.u),
            int(row.v),
            osmid=int(row.link),
            highway="secondary",
            length=float(row.length_m),
            lanes=str(2 * int(row.lanes)),
            maxspeed=f"{row.speed_kph:.0f}",
            oneway=False,
            reversed=(int(row.v), int(row.u)) in seen,
        )
        seen.add((int(row.u), int(row.v)))
    return network_from_graph(graph, source=f"benchmark {case.name}", schematic=True)


def vz_network_from_case_tables(case: Case) -> Any:
    """The network of :func:`vz_network_from_tables`, built without a graph (``network_from_osm_tables``).

    What the vision_zero worker builds: the same OSM-style nodes and tags as :func:`vz_network_from_tables` puts on
    its graph, given to the loader's graph-free entry point, which runs the loader's own steps (country, tag
    normalisation, link order, projection, checks). The same tables and attributes bit for bit
    (``tests/test_bench_traffic.py``), without the osmnx-style graph, which the worker never uses: a grid run then
    imports no networkx and builds no graph (#16: ~0.2 CPU-s of a 10k-trip run's ~3).
    """
    from pyproj import Transformer

    from vision_zero.network.road_network import network_from_osm_tables

    to_lonlat = Transformer.from_crs(32643, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(
        case.nodes["x_m"].to_numpy() + 630_000.0, case.nodes["y_m"].to_numpy() + 4_790_000.0
    )
    signalised = case.nodes["signalised"].to_numpy(bool).tolist()
    nodes = pd.DataFrame(
        {
            "osmid": case.nodes["node"].to_numpy(np.int64),
            "lon": np.asarray(lon, dtype=np.float64),
            "lat": np.asarray(lat, dtype=np.float64),
            "highway": pd.Series(["traffic_signals" if s else None for s in signalised], dtype=object),
        }
    )
    u, v = case.links["u"].to_numpy(np.int64).tolist(), case.links["v"].to_numpy(np.int64).tolist()
    seen: set[tuple[int, int]] = set()
    reverse: list[bool] = []
    for pair in zip(u, v, strict=True):
        reverse.append((pair[1], pair[0]) in seen)
        seen.add(pair)
    links = pd.DataFrame(
        {
            "osm_u": u,
            "osm_v": v,
            "osmid": case.links["link"].to_numpy(np.int64),
            "highway": "secondary",
            "length": case.links["length_m"].to_numpy(np.float64),
            "lanes": [str(2 * int(n)) for n in case.links["lanes"]],
            "maxspeed": [f"{x:.0f}" for x in case.links["speed_kph"]],
            "oneway": False,
            "reversed": reverse,
        }
    )
    return network_from_osm_tables(
        nodes, links, source=f"benchmark {case.name}", schematic=True, graph_attrs={"crs": "EPSG:4326"}
    )


def sumo_signal_offsets(case: Case) -> np.ndarray:
    """Per case node, when SUMO's plan starts an east-west green [s in the cycle] (NaN: no signal there).

    SUMO's plan (netgenerate / netconvert: offset 0 at every signal, i.e. all signals switch together) is given
    to vision_zero as the node column ``signal_offset_s`` (the start of its east-west phase), so that both tools
    run the same signal coordination; vision_zero's own default (pseudo-random offsets, uncoordinated) differs
    from netgenerate's and made trips on the grid ~20% slower under load than in SUMO with the same plan.

    A signal with no east-west approach (on real geometry half the signals: a crossing or an approach signal on a
    north-south street) has only vision_zero's phase 1, which turns green one lost time
    (``traffic.signal.lost_time_per_phase_s``) after the node's offset: its offset is SUMO's north-south green
    start less that lost time, so its green starts when SUMO's does. (Before, such a node was left NaN and ran
    vision_zero's pseudo-random offset against SUMO's simultaneous plan: 157 of the 304 signals of the Helsinki
    extract.)
    """
    from vision_zero.traffic.simulation import TrafficSettings

    lost_s = TrafficSettings.from_parameters().lost_time_per_phase_s
    net_xml = case.workdir / "net.net.xml"
    node_xy = case.nodes[["x_m", "y_m"]].to_numpy(float)
    d_xy = np.abs(node_xy[case.links["v"].to_numpy(int)] - node_xy[case.links["u"].to_numpy(int)])
    east_west = dict(
        zip(case.links["sumo_edge"].astype(str), (d_xy[:, 0] >= d_xy[:, 1]).tolist(), strict=True)
    )
    ew_index: dict[str, set[int]] = {}
    ns_index: dict[str, set[int]] = {}
    plans: dict[str, tuple[float, list[tuple[float, str]]]] = {}
    for _, el in ET.iterparse(net_xml, events=("end",)):
        if el.tag == "connection":
            tl = el.get("tl")
            if tl:
                group = ew_index if east_west.get(el.get("from", ""), False) else ns_index
                group.setdefault(tl, set()).add(int(el.get("linkIndex", "-1")))
        elif el.tag == "tlLogic":
            phases = [(float(ph.get("duration", "0")), ph.get("state", "")) for ph in el.findall("phase")]
            plans[el.get("id", "")] = (float(el.get("offset", "0")), phases)
            el.clear()
    out = np.full(len(case.nodes), np.nan)
    index = dict(zip(case.nodes["sumo_id"].astype(str), case.nodes["node"].to_numpy(int), strict=True))
    signalised = case.nodes["signalised"].to_numpy(bool)
    for tl, (offset, phases) in plans.items():
        if tl not in index or not signalised[index[tl]]:
            continue
        ew = ew_index.get(tl, set())
        ns = ns_index.get(tl, set()) if not ew else set()
        start = 0.0
        for duration, state in phases:
            if any(state[i] == "G" for i in ew if 0 <= i < len(state)):
                out[index[tl]] = offset + start
                break
            if any(state[i] == "G" for i in ns if 0 <= i < len(state)):
                cycle = sum(d for d, _ in phases)
                out[index[tl]] = (offset + start - lost_s) % cycle if cycle > 0 else offset + start - lost_s
                break
            start += duration
    return out


def _signal_offsets(case: Case) -> np.ndarray:
    """The case's node column ``signal_offset_s`` (written by :func:`write_case`; older cases: converted now)."""
    if "signal_offset_s" in case.nodes:
        return case.nodes["signal_offset_s"].to_numpy(float)
    return sumo_signal_offsets(case)


def _vz_inputs(case: Case, *, seed: int) -> tuple[Any, pd.DataFrame, tuple[Any, ...]]:
    """Network, trips and periods for vision_zero in this case (with SUMO's signal offsets)."""
    from vision_zero.traffic.periods import Period

    if (case.workdir / "vz_network.pkl").exists():
        with (case.workdir / "vz_network.pkl").open("rb") as fh:
            net = pickle.load(fh)
        net.nodes["signal_offset_s"] = _signal_offsets(case)
        with (case.workdir / "vz_trips.pkl").open("rb") as fh:
            trips: pd.DataFrame = pickle.load(fh)
        periods = tuple(dict.fromkeys(trips["period"]))
        from vision_zero.traffic.demand import default_periods

        known = {p.name: p for p in default_periods()}
        return net, trips, tuple(known[name] for name in periods)
    net = vz_network_from_case_tables(case)
    net.nodes["signal_offset_s"] = _signal_offsets(case)
    period = Period(name="bench", start_h=8.0, duration_s=HOUR_S, demand_share=1.0, annual_hours=1.0)
    trips = case.trips.copy()
    trips.insert(1, "period", period.name)
    return net, trips, (period,)


def run_vision_zero(
    case: Case,
    *,
    seed: int,
    reroute_passes: int | None,
    profile_to: Path | None,
    gap_acceptance: str | None = None,
    routes_to: Path | None = None,
) -> dict[str, Any]:
    """Worker body for vision_zero: simulate, return link entries per case link and trip statistics.

    ``gap_acceptance``: force the give-way rule at priority junctions (``traffic.give_way.gap_acceptance``:
    "off", "hcm" or "kimber_coombe"; None: the shipped default).
    ``routes_to``: also write every trip's final route as a SUMO route file there (from the link events).
    """

    from vision_zero.traffic.simulation import TrafficSettings, simulate

    t0 = time.process_time()
    net, trips, periods = _vz_inputs(case, seed=seed)
    t1 = time.process_time()
    kwargs: dict[str, Any] = {
        "rng": np.random.default_rng(seed),
        "periods": periods,
        "reroute_passes": reroute_passes,
        "drain_s": case.horizon_s - HOUR_S,
    }
    if routes_to is not None:
        kwargs["link_events"] = True
    if ROUTE_CHOICE:
        from vision_zero.traffic.routing import RouteChoiceSettings

        kwargs["route_settings"] = replace(RouteChoiceSettings.from_parameters(), **ROUTE_CHOICE[0])
    if gap_acceptance is not None:
        kwargs["settings"] = replace(TrafficSettings.from_parameters(), give_way_rule=gap_acceptance)
    if profile_to is not None:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        record = prof.runcall(simulate, net, trips, None, **kwargs)
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        profile_to.write_text(buf.getvalue())
    else:
        record = simulate(net, trips, None, **kwargs)
    t2 = time.process_time()
    per_link = record.link_stats.groupby("link")[["entries", "veh_h"]].sum()
    vz_entries = np.zeros(len(net.links))
    vz_entries[per_link.index.to_numpy(int)] = per_link["entries"].to_numpy(float)
    vz_veh_h = np.zeros(len(net.links))
    vz_veh_h[per_link.index.to_numpy(int)] = per_link["veh_h"].to_numpy(float)
    vz_u, vz_v = net.links["u"].to_numpy(int), net.links["v"].to_numpy(int)
    case_u, case_v = case.links["u"].to_numpy(int), case.links["v"].to_numpy(int)
    if len(vz_u) == len(case_u) and (vz_u == case_u).all() and (vz_v == case_v).all():
        entries, veh_h = vz_entries, vz_veh_h
    else:  # the grid: one link per node pair, matched by pair

        def by_pair(values: np.ndarray) -> np.ndarray:
            pairs = (
                pd.Series(values, index=pd.MultiIndex.from_arrays([vz_u, vz_v])).groupby(level=[0, 1]).sum()
            )
            return pairs.reindex(pd.MultiIndex.from_arrays([case_u, case_v])).fillna(0.0).to_numpy(float)

        entries, veh_h = by_pair(vz_entries), by_pair(vz_veh_h)
    with np.errstate(invalid="ignore", divide="ignore"):
        link_time = np.where(entries > 0, veh_h * 3600.0 / entries, np.nan)  # mean time on the link [s]
    if routes_to is not None and record.link_events is not None:
        write_vz_routes(case, net, record.link_events, routes_to)
    done = record.trips["completed"].to_numpy(bool)
    tt = record.trips["travel_time_s"].to_numpy(float)[done]
    rc = record.route_choice
    passes = "default" if reroute_passes is None else str(reroute_passes)
    note = f"reroute_passes={passes}"
    if len(rc):
        gaps = "/".join(f"{g:.3f}" for g in rc["relative_gap"])
        note += f"; relative gap by iteration {gaps}; {rc['turns_per_trip'].iloc[-1]:.1f} turns/trip"
        note += f"; stopped: {rc['stop_reason'].iloc[-1]}"
        if "trees" in rc:
            note += "; trees by iteration " + "/".join(f"{t:.0f}" for t in rc["trees"])
    if ROUTE_CHOICE:
        note += "; route choice " + " ".join(f"{k}={v}" for k, v in ROUTE_CHOICE[0].items())
    return {
        "entries": entries.tolist(),
        "link_time_s": link_time.tolist(),
        "trip_ids": record.trips["trip"].to_numpy(int)[done].tolist(),
        "trip_tt_s": tt.tolist(),
        "completed": int(done.sum()),
        "trips": len(record.trips),
        "mean_travel_time_s": float(np.mean(tt)) if tt.size else math.nan,
        "sim_cpu_s": t2 - t1,
        "build_cpu_s": t1 - t0,
        "note": note,
        "relative_gap": float(rc["relative_gap"].iloc[-1]) if len(rc) else math.nan,
        "turns_per_trip": float(rc["turns_per_trip"].iloc[-1]) if len(rc) else math.nan,
    }


# --------------------------------------------------------------------------------------------------------------
# UXsim side
# --------------------------------------------------------------------------------------------------------------


def run_uxsim(case: Case, *, seed: int, platoon: int, cpp: bool) -> dict[str, Any]:
    """Worker body for UXsim: one platoon object per ``platoon`` trips (every ``platoon``-th trip of the list)."""
    import uxsim

    t0 = time.process_time()
    world = uxsim.World(
        name="",
        deltan=platoon,
        tmax=case.horizon_s,
        print_mode=0,
        save_mode=0,
        show_mode=0,
        random_seed=seed,
        vehicle_logging_timestep_interval=-1,
        cpp=cpp,
    )
    half_green = SIGNAL_CYCLE_S / 2.0
    for row in case.nodes.itertuples(index=False):
        signal = [half_green, half_green] if row.signalised else [0]
        world.addNode(str(row.node), row.x_m, row.y_m, signal=signal)
    xy = case.nodes[["x_m", "y_m"]].to_numpy(float)
    link_objs = []
    for row in case.links.itertuples(index=False):
        dx, dy = xy[row.v] - xy[row.u]
        group = 0 if abs(dy) >= abs(dx) else 1  # north-south approaches green in phase 0, east-west in 1
        link_objs.append(
            world.addLink(
                str(row.link),
                str(row.u),
                str(row.v),
                length=float(row.length_m),
                free_flow_speed=float(row.speed_kph) / 3.6,
                number_of_lanes=int(row.lanes),
                signal_group=[group],
            )
        )
    sample = case.trips.iloc[::platoon]
    for row in sample.itertuples(index=False):
        world.addVehicle(str(row.origin), str(row.destination), float(row.depart_s))
    t1 = time.process_time()
    # run in chunks and stop once every vehicle has arrived (as SUMO and vision_zero do), not at tmax
    while world.check_simulation_ongoing():
        world.exec_simulation(duration_t2=UXSIM_CHUNK_S)
        if not world.VEHICLES_LIVING:
            break
    t2 = time.process_time()
    entries = np.array([float(np.max(link.cum_arrival)) for link in link_objs])
    tt = []
    completed = 0
    for veh in world.VEHICLES.values():
        if veh.state == "end":
            completed += 1
            tt.append(float(veh.travel_time))
    return {
        "entries": entries.tolist(),
        "completed": completed * platoon,
        "trips": len(sample) * platoon,
        "mean_travel_time_s": float(np.mean(tt)) if tt else math.nan,
        "sim_cpu_s": t2 - t0,
        "build_cpu_s": t1 - t0,
    }


def write_vz_routes(case: Case, net: Any, events: pd.DataFrame, path: Path) -> None:
    """Each trip's route as vision_zero drove it (its link events in order), as a SUMO route file on the case's edges."""
    vz_u, vz_v = net.links["u"].to_numpy(int), net.links["v"].to_numpy(int)
    case_u, case_v = case.links["u"].to_numpy(int), case.links["v"].to_numpy(int)
    edges = case.links["sumo_edge"].to_numpy(str)
    if len(vz_u) == len(case_u) and (vz_u == case_u).all() and (vz_v == case_v).all():
        edge_of = edges
    else:  # the grid: one link per node pair
        by_pair = dict(zip(zip(case_u.tolist(), case_v.tolist(), strict=True), edges.tolist(), strict=True))
        edge_of = np.array([by_pair[(u, v)] for u, v in zip(vz_u.tolist(), vz_v.tolist(), strict=True)])
    depart = case.trips.set_index("trip")["depart_s"]
    # movements SUMO's network has (netconvert drops some U-turns vision_zero allows): routes using others are
    # left out and counted (SUMO would refuse the whole file)
    allowed = {
        (el.get("from"), el.get("to"))
        for _, el in ET.iterparse(case.workdir / "net.net.xml", events=("end",))
        if el.tag == "connection"
    }
    lines = ["<routes>"]
    skipped = 0
    for trip, group in sorted(events.groupby("vehicle", sort=False), key=lambda g: (depart[g[0]], g[0])):
        route = edge_of[group["link"].to_numpy(int)].tolist()
        if any((a, b) not in allowed for a, b in itertools.pairwise(route)):
            skipped += 1
            continue
        lines.append(
            f'  <vehicle id="{trip}" depart="{depart[trip]:.2f}"><route edges="{" ".join(route)}"/></vehicle>'
        )
    lines.append("</routes>")
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".skipped").write_text(f"{skipped}\n")


# --------------------------------------------------------------------------------------------------------------
# SUMO side (the child process is the sumo binary itself)
# --------------------------------------------------------------------------------------------------------------


def sumo_command(case: Case, tool: str, rundir: Path, *, seed: int) -> list[str]:
    """The sumo command line for one SUMO variant."""
    routes = case.workdir / "routes.rou.xml"
    if tool == VZ_ROUTES_TOOL:
        routes = case.workdir / "vz_routes.rou.xml"
    elif tool == DUA_TOOL:
        routes = dua_routes(case)
    (rundir / "edgedata.add.xml").write_text(
        '<additional>\n  <edgeData id="ed" file="edgedata.xml" excludeEmpty="true"/>\n</additional>\n'
    )
    cmd = [
        sumo_bin("sumo"),
        "-n",
        str(case.workdir / "net.net.xml"),
        "-r",
        str(routes),
        "--additional-files",
        str(rundir / "edgedata.add.xml"),
        "--tripinfo-output",
        str(rundir / "tripinfo.xml"),
        "--statistic-output",
        str(rundir / "stats.xml"),
        "--end",
        f"{case.horizon_s:g}",
        "--seed",
        str(seed),
        "--no-step-log",
        "--no-warnings",
        "--duration-log.disable",
    ]
    if tool == "sumo-meso":
        cmd += ["--mesosim"]
    elif tool in ("sumo-meso-jc", VZ_ROUTES_TOOL, DUA_TOOL):
        cmd += ["--mesosim", "--meso-junction-control", "true"]
    return cmd


def read_sumo_results(case: Case, rundir: Path, *, dua_step: int | None = None) -> dict[str, Any]:
    """Link entries, completed trips and mean travel time from SUMO's edgeData / tripinfo outputs.

    ``dua_step``: from the outputs of duaIterate's simulation of that iteration in ``rundir`` (its edge dump per
    900 s, tripinfo, and the teleports of its summary's last step) instead.
    """
    edge_index = dict(zip(case.links["sumo_edge"], case.links["link"], strict=True))
    entries = np.zeros(len(case.links))
    time_sum = np.zeros(len(case.links))  # edgeData's traveltime x vehicles, to average over intervals
    edgedata, tripinfo = rundir / "edgedata.xml", rundir / "tripinfo.xml"
    if dua_step is not None:
        step_dir = rundir / f"{dua_step:03d}"
        edgedata, tripinfo = step_dir / "dump_900.xml.gz", step_dir / f"tripinfo_{dua_step:03d}.xml"
    with gzip.open(edgedata) if edgedata.suffix == ".gz" else edgedata.open("rb") as edge_fh:
        edge_events = list(ET.iterparse(edge_fh, events=("end",)))
    for _, el in edge_events:
        if el.tag == "edge":
            link = edge_index.get(el.get("id", ""))
            if link is not None:
                n = float(el.get("entered", 0)) + float(el.get("departed", 0))
                entries[link] += n
                time_sum[link] += n * float(el.get("traveltime", "nan"))
        elif el.tag == "interval":
            el.clear()
    tt: list[float] = []
    ids: list[str] = []
    for _, el in ET.iterparse(tripinfo, events=("end",)):
        if el.tag == "tripinfo":
            tt.append(float(el.get("duration", "nan")) + float(el.get("departDelay", "0")))
            ids.append(el.get("id", ""))
            el.clear()
    teleports = 0
    with contextlib.suppress(FileNotFoundError, ET.ParseError):
        root = ET.parse(rundir / "stats.xml").getroot()
        tel = root.find("teleports")
        if tel is not None:
            teleports = int(tel.get("total", 0))
    if dua_step is not None:
        last_step = None
        for _, el in ET.iterparse(
            rundir / f"{dua_step:03d}" / f"summary_{dua_step:03d}.xml", events=("end",)
        ):
            if el.tag == "step":
                last_step = el.get("teleports", "0")
                el.clear()
        teleports = int(last_step or 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        link_time = np.where(entries > 0, time_sum / entries, np.nan)
    return {
        "entries": entries.tolist(),
        "link_time_s": link_time.tolist(),
        "trip_ids": [int(i) for i in ids if i.isdigit()] if all(i.isdigit() for i in ids) else [],
        "trip_tt_s": tt if all(i.isdigit() for i in ids) else [],
        "completed": len(tt),
        "trips": len(case.trips),
        "mean_travel_time_s": float(np.mean(tt)) if tt else math.nan,
        "teleports": teleports,
    }


# --------------------------------------------------------------------------------------------------------------
# Running children and measuring them
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the result table."""

    case: str
    trips: int
    tool: str
    completed: int
    veh_km: float
    cpu_s: float
    sim_cpu_s: float
    wall_s: float
    veh_km_per_cpu_s: float
    peak_mem_mib: float
    mean_travel_time_s: float
    speed_vs_vz: float = math.nan
    tt_vs_vz: float = math.nan
    flow_r_vs_vz: float = math.nan
    note: str = ""
    #: sum of the arrived trips' times / sum of their free-flow times under vision_zero's reference
    #: (:func:`congestion_index`; city cases only)
    congestion_index: float = math.nan
    #: ``--sumo-bare``: a SUMO tool's CPU s for the same command without its outputs, run right after it
    cpu_s_no_output: float = math.nan
    #: the 1-minute load average when the tool's child started
    load_1min: float = math.nan


#: ``--before-tree DIR``: the tool ``vision_zero-before`` runs vision_zero imported from DIR (e.g. a work tree of
#: main before a change), with this script's case and measures, in the same run as the others
BEFORE_TREE: list[Path] = []
#: ``--sumo-bare``: time every SUMO run a second time without its outputs (edgeData, tripinfo, statistics)
SUMO_BARE: list[bool] = []
#: vision_zero with the give-way rule at priority junctions forced (traffic.give_way.gap_acceptance): HCM gap
#: acceptance, off, Kimber & Coombe's linear capacities
GAP_TOOLS: dict[str, str] = {
    "vision_zero-gap": "hcm",
    "vision_zero-nogap": "off",
    "vision_zero-kc": "kimber_coombe",
}


def run_child(
    cmd: list[str], *, log: Path, pythonpath: Path | None = None, cwd: Path | None = None
) -> tuple[float, float, float, int]:
    """Run ``cmd`` as a child; (cpu_s user+sys, peak RSS MiB, wall s, exit status) from its own rusage."""
    env = dict(os.environ, SUMO_HOME=str(sumo_home()), MPLBACKEND="Agg")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    with log.open("w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, wall, proc.returncode


def bare_sumo_command(cmd: list[str]) -> list[str]:
    """``cmd`` without its output options (edgeData's additional file, tripinfo, statistics): SUMO's own run alone."""
    outputs = ("--additional-files", "--tripinfo-output", "--statistic-output")
    bare: list[str] = []
    skip = False
    for arg in cmd:
        if skip:
            skip = False
        elif arg in outputs:
            skip = True
        else:
            bare.append(arg)
    return bare


def _prepared_sumo_command(case: Case, tool: str, rundir: Path, *, seed: int) -> list[str] | None:
    """The routes a SUMO tool needs (duarouter's, or duaIterate's), then its command line; None if that failed."""
    if tool == DUA_TOOL:
        if not ensure_dua_routes(case, seed=seed):
            return None
    elif tool != VZ_ROUTES_TOOL:
        ensure_sumo_routes(case)
    return sumo_command(case, tool, rundir, seed=seed)


def ensure_bytecode(tool: str, tree: Path | None) -> None:
    """Write the vision_zero package's bytecode (``.pyc``) before a timed child imports it, as ``pip install`` does.

    Untimed, like SUMO's binary being built. Without it, a machine with ``PYTHONDONTWRITEBYTECODE`` set (this
    project's shared one) or a fresh source tree compiles the package's ~30 modules from source in every child:
    ~0.1-0.3 CPU-s charged to vision_zero that an installed package never pays (#16). ``tree``: the directory
    holding the package the child imports (None: the one this process imports).
    """
    import compileall
    import importlib.util

    if not tool.startswith("vision_zero"):
        return
    if tree is None:
        spec = importlib.util.find_spec("vision_zero")
        if spec is None or spec.origin is None:
            return
        package = Path(spec.origin).parent
    else:
        package = tree / "vision_zero"
    compileall.compile_dir(package, quiet=1)


def _row_note(case: Case, tool: str, res: dict[str, Any]) -> str:
    """A row's note: the tool's own, what its routes were and what they cost, SUMO's teleports."""
    note = str(res.get("note", ""))
    if tool == VZ_ROUTES_TOOL:
        skipped = (case.workdir / "vz_routes.rou.skipped").read_text().strip()
        note = f"on vision_zero's final routes ({skipped} left out: a movement SUMO's network lacks) " + note
    elif tool == DUA_TOOL:
        cpu = "" if math.isnan(case.dua_cpu_s) else f"; +{case.dua_cpu_s:.1f} CPU s duaIterate (not counted)"
        note = f"{case.dua_note}{cpu} " + note
    elif tool in SUMO_TOOLS:
        note = f"+{case.routing_cpu_s:.1f} CPU s duarouter (not counted) " + note
        if case.unrouted:
            note = f"{case.unrouted} trips without a route in SUMO; " + note
    if res.get("teleports"):
        note = f"{res['teleports']} teleports " + note
    return note


def measure(case: Case, tool: str, *, seed: int, profile: bool) -> tuple[Row, np.ndarray, np.ndarray] | None:
    """Run one tool on one case in a child process; its table row, link entries and mean link times [s]."""
    rundir = case.workdir / tool
    rundir.mkdir(exist_ok=True)
    if tool == VZ_ROUTES_TOOL and not (case.workdir / "vz_routes.rou.xml").exists():
        routes_cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "vz-routes"]
        routes_cmd += ["--workdir", str(case.workdir), "--seed", str(seed)]
        if run_child(routes_cmd, log=rundir / "routes-log.txt")[3] != 0:
            print(f"  {tool}: vision_zero's routes FAILED; see {rundir / 'routes-log.txt'}", file=sys.stderr)
            return None
    if tool in SUMO_TOOLS:
        sumo_cmd = _prepared_sumo_command(case, tool, rundir, seed=seed)
        if sumo_cmd is None:
            return None
        cmd = sumo_cmd
    else:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            tool,
            "--workdir",
            str(case.workdir),
        ]
        cmd += ["--seed", str(seed)] + (["--profile"] if profile else [])
        if ROUTE_CHOICE and tool.startswith("vision_zero"):
            cmd += ["--route-choice", *(f"{k}={v}" for k, v in ROUTE_CHOICE[0].items())]
    before = BEFORE_TREE[0] if tool == "vision_zero-before" and BEFORE_TREE else None
    ensure_bytecode(tool, before)
    load = math.nan
    if tool == DUA_TOOL and DUA_FROM:  # the earlier run's last finished simulation: nothing to time
        cpu_s = mem_mib = wall_s = math.nan
        code = 0
    else:
        load = os.getloadavg()[0]
        cpu_s, mem_mib, wall_s, code = run_child(cmd, log=rundir / "log.txt", pythonpath=before)
    bare_cpu_s = math.nan
    if code == 0 and SUMO_BARE and tool in SUMO_TOOLS and not (tool == DUA_TOOL and DUA_FROM):
        bare_cpu_s, _, _, bare_code = run_child(bare_sumo_command(cmd), log=rundir / "log-no-output.txt")
        if bare_code != 0:
            bare_cpu_s = math.nan
    if code != 0:
        tail = (rundir / "log.txt").read_text()[-1500:]
        print(f"  {tool}: FAILED (exit {code}); log tail:\n{tail}", file=sys.stderr)
        return None
    if tool == DUA_TOOL and DUA_FROM:
        res = read_sumo_results(case, DUA_FROM[0], dua_step=DUA_STEPS[0] - 1)
        res["sim_cpu_s"] = cpu_s
    elif tool in SUMO_TOOLS:
        res = read_sumo_results(case, rundir)
        res["sim_cpu_s"] = cpu_s
    else:
        res = json.loads((rundir / "result.json").read_text())
    entries = np.asarray(res["entries"], dtype=float)
    veh_km = float(entries @ case.links["length_m"].to_numpy(float)) / 1000.0
    note = _row_note(case, tool, res)
    row = Row(
        case=case.name,
        trips=int(res["trips"]),
        tool=tool,
        completed=int(res["completed"]),
        veh_km=veh_km,
        cpu_s=cpu_s,
        sim_cpu_s=float(res["sim_cpu_s"]),
        wall_s=wall_s,
        veh_km_per_cpu_s=veh_km / cpu_s if cpu_s > 0 else math.nan,
        peak_mem_mib=mem_mib,
        mean_travel_time_s=float(res["mean_travel_time_s"]),
        note=note.strip(),
        congestion_index=congestion_index(case, res.get("trip_ids", []), res.get("trip_tt_s", [])),
        cpu_s_no_output=bare_cpu_s,
        load_1min=load,
    )
    if not math.isnan(bare_cpu_s):
        row.note = f"{bare_cpu_s:.2f} CPU s without output; " + row.note
    link_time = np.asarray(res.get("link_time_s", np.full(len(entries), np.nan)), dtype=float)
    return row, entries, link_time


def congestion_index(case: Case, trip_ids: list[int], trip_tt_s: list[float]) -> float:
    """vision_zero's congestion index of one tool's arrived trips: their summed time / their free-flow time.

    The free-flow time of every trip is vision_zero's reference (its fastest route at
    :func:`vision_zero.traffic.demand.free_flow_link_cost_s`, written to ``free_flow.csv`` by
    :func:`build_city_case`), the same denominator for every tool, as
    :func:`vision_zero.traffic.demand.congestion_index` computes it. NaN without that file or per-trip times.
    """
    path = case.workdir / "free_flow.csv"
    if not path.exists() or not trip_ids:
        return math.nan
    free = pd.read_csv(path).set_index("trip")["free_flow_s"]
    ff = free.reindex(trip_ids).to_numpy(float)
    tt = np.asarray(trip_tt_s, dtype=float)
    ok = np.isfinite(ff) & np.isfinite(tt)
    return float(tt[ok].sum() / ff[ok].sum()) if ff[ok].sum() > 0 else math.nan


def pair_flows(case: Case, entries: np.ndarray) -> pd.Series:
    """Link entries summed per (from node, to node) pair."""
    frame = pd.DataFrame({"u": case.links["u"], "v": case.links["v"], "entries": entries})
    return frame.groupby(["u", "v"])["entries"].sum()


#: Links entered by fewer vehicles than this in a tool are left out of the link-time correlations.
MIN_ENTRIES_FOR_TIME = 10


def pair_times(case: Case, entries: np.ndarray, link_time: np.ndarray) -> pd.Series:
    """Mean link time [s] per (from, to) node pair, weighted by entries (NaN where nobody entered)."""
    frame = pd.DataFrame({"u": case.links["u"], "v": case.links["v"], "n": entries})
    frame["nt"] = np.where(entries > 0, entries * np.nan_to_num(link_time), 0.0)
    sums = frame.groupby(["u", "v"])[["n", "nt"]].sum()
    return (sums["nt"] / sums["n"].where(sums["n"] > 0)).rename(None)


def write_flows(case: Case, flows: dict[str, pd.Series], times: dict[str, pd.Series]) -> None:
    """Every tool's link entries and mean link times per (from, to) node pair (``flows.csv``, ``link_times.csv``).

    Prints the correlations pair by pair: of link entries (where the traffic goes), and of mean link times over the
    links with at least :data:`MIN_ENTRIES_FOR_TIME` entries in both tools (where the delay lands; with equal
    routes, as ``sumo-meso-jc-vzroutes``, entries agree by construction and only the times tell the engines apart).
    """
    if not flows:
        return
    table = pd.concat(flows, axis=1).fillna(0.0)
    table.to_csv(case.workdir / "flows.csv")
    print(f"  {case.name}: link-flow r between tools\n{table.corr().round(3).to_string()}", file=sys.stderr)
    link_times = pd.concat(times, axis=1).where(table >= MIN_ENTRIES_FOR_TIME)
    link_times.to_csv(case.workdir / "link_times.csv")
    corr = link_times.corr(min_periods=MIN_ENTRIES_FOR_TIME).round(3).to_string()
    print(
        f"  {case.name}: mean link time r between tools (links with >= 10 entries)\n{corr}", file=sys.stderr
    )


def compare(rows: list[Row], flows: dict[str, pd.Series]) -> None:
    """Fill in the ratios and agreement against vision_zero (same case and run)."""
    ref = next((r for r in rows if r.tool == "vision_zero"), None)
    if ref is None:
        return
    ref_flow = flows["vision_zero"]
    for row in rows:
        row.speed_vs_vz = row.veh_km_per_cpu_s / ref.veh_km_per_cpu_s
        row.tt_vs_vz = row.mean_travel_time_s / ref.mean_travel_time_s
        both = pd.concat([ref_flow, flows[row.tool]], axis=1).fillna(0.0).to_numpy(float)
        if both[:, 0].std() > 0 and both[:, 1].std() > 0:
            row.flow_r_vs_vz = float(np.corrcoef(both[:, 0], both[:, 1])[0, 1])


def format_table(rows: list[Row]) -> str:
    """A markdown table of the rows."""
    head = (
        "| case | trips | tool | completed | veh-km | CPU s | sim CPU s | veh-km/CPU-s | peak MiB | "
        "mean TT s | cong. index | speed ÷ vz | TT ÷ vz | flow r vs vz | note |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        lines.append(
            f"| {r.case} | {r.trips} | {r.tool} | {r.completed} | {r.veh_km:,.0f} | {r.cpu_s:.1f} | "
            f"{r.sim_cpu_s:.1f} | {r.veh_km_per_cpu_s:,.0f} | {r.peak_mem_mib:,.0f} | {r.mean_travel_time_s:.0f} | "
            f"{r.congestion_index:.2f} | {r.speed_vs_vz:.2f} | {r.tt_vs_vz:.2f} | {r.flow_r_vs_vz:.3f} | {r.note} |"
        )
    return "\n".join(lines)


def machine_note() -> str:
    """CPU model, core count and the 1-minute load at the time of the call."""
    model = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return f"{model}, {os.cpu_count()} cores, load(1 min) {load:.2f}"


def git_note() -> str:
    """The commit of this work tree and whether vision_zero/ has uncommitted changes."""

    def git(*args: str) -> str:
        res = subprocess.run(["git", *args], capture_output=True, text=True, cwd=HERE, check=False)
        return res.stdout.strip()

    dirty = (
        " + uncommitted changes in vision_zero/"
        if git("status", "--porcelain", "--untracked-files=no", "--", "../vision_zero")
        else ""
    )
    return f"commit {git('rev-parse', '--short', 'HEAD') or '?'}{dirty}"


# --------------------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------------------


def _freeze_heap() -> None:
    """What the ``vision-zero`` command does after its start-up and before it exits (``core.process.freeze_heap``).

    Nothing with an older tree that lacks it (``vision_zero-before``), so that a before/after run compares the
    trees as their own command would run them.
    """
    try:
        from vision_zero.core.process import freeze_heap, own_process
    except ImportError:
        return
    own_process()
    freeze_heap()


def worker(tool: str, workdir: Path, *, seed: int, profile: bool) -> None:
    """Child-process body for the Python tools: run, write ``<workdir>/<tool>/result.json``.

    A vision_zero worker runs as the ``vision-zero`` command would: its start-up (imports) done, it freezes the
    heap (:func:`_freeze_heap`), and again before it exits; the process being the program's own, the simulation
    sets numba up without SciPy (``core.process.set_up_numba``; a tree older than it: as numba does).
    """
    case = load_case(workdir)
    rundir = workdir / tool
    vz = tool.startswith("vision_zero") or tool == "vz-routes"
    if vz:
        import vision_zero.traffic.simulation  # noqa: F401  (start-up, before the heap is frozen)

        _freeze_heap()
    if tool == "vz-routes":  # vision_zero's final routes for the SUMO run on them (not a table row)
        run_vision_zero(
            case, seed=seed, reroute_passes=None, profile_to=None, routes_to=workdir / "vz_routes.rou.xml"
        )
        return
    if tool.startswith("vision_zero"):
        plain = ("vision_zero", "vision_zero-before", *GAP_TOOLS)
        passes = None if tool in plain else int(tool.removeprefix("vision_zero-r"))
        res = run_vision_zero(
            case,
            seed=seed,
            reroute_passes=passes,
            profile_to=rundir / "profile.txt" if profile else None,
            gap_acceptance=GAP_TOOLS.get(tool),
        )
    elif tool.startswith("uxsim"):
        cpp = tool.startswith("uxsim-cpp")
        platoon = int(tool.removeprefix("uxsim-cpp" if cpp else "uxsim"))
        res = run_uxsim(case, seed=seed, platoon=platoon, cpp=cpp)
    else:
        raise SystemExit(f"unknown worker tool {tool!r}")
    (rundir / "result.json").write_text(json.dumps(res))
    if vz:
        _freeze_heap()


def _tool(name: str) -> str:
    if name in ALL_TOOLS or name == "vision_zero-before" or re.fullmatch(r"vision_zero-r\d+", name):
        return name
    raise argparse.ArgumentTypeError(
        f"unknown tool {name!r}: one of {', '.join(ALL_TOOLS)} or vision_zero-rN"
    )


def seed_table(rows: list[Row], reference: str = "sumo-meso-jc") -> str:
    """Per trips level and tool over seeds: mean trip time, its spread, the ratio to ``reference``, flow r."""
    df = pd.DataFrame([asdict(r) for r in rows])
    if df.empty:
        return ""
    out = [
        f"| trips | tool | seeds | mean TT s | TT min-max s | spread ±% | TT ÷ {reference} | "
        "flow r vs vz | veh-km/CPU-s | speed ÷ {reference} |".replace("{reference}", reference),
        "|" + "---|" * 10,
    ]
    for (n, tool), g in df.groupby(["trips", "tool"], sort=True):
        ref = df[(df["trips"] == n) & (df["tool"] == reference)]
        tt = g["mean_travel_time_s"]
        spread = 100 * (tt.max() - tt.min()) / 2 / tt.mean()
        ratio = tt.mean() / ref["mean_travel_time_s"].mean() if len(ref) else math.nan
        speed = g["veh_km_per_cpu_s"].mean()
        sp_ratio = speed / ref["veh_km_per_cpu_s"].mean() if len(ref) else math.nan
        out.append(
            f"| {n} | {tool} | {len(g)} | {tt.mean():.0f} | {tt.min():.0f}-{tt.max():.0f} | {spread:.1f} | "
            f"{ratio:.2f} | {g['flow_r_vs_vz'].mean():.3f} | {speed:,.0f} | {sp_ratio:.2f} |"
        )
    return "\n".join(out)


def _grid_case_dir(case: str, trips: int) -> str | None:
    """The work directory name :func:`main` gives the grid case ``case`` (``grid20x20`` or ``grid20x20-s3``)."""
    m = re.fullmatch(r"grid(\d+)x\d+(?:-s(\d+))?", case)
    if m is None:
        return None
    return f"grid{m.group(1)}_{trips}" + (f"_s{m.group(2)}" if m.group(2) else "")


def merge_runs(dirs: list[Path], out: Path) -> str:
    """One table from earlier runs' ``results.csv`` and each grid case's ``flows.csv``, matched by (case, trips).

    For runs of different tools on the same cases (a case is the same for the same grid, trips and seed: the trips,
    SUMO's network and duarouter's routes are deterministic), e.g. SUMO at every level and seed in one run and
    vision_zero in a later one: the ratios to vision_zero and the link-flow correlations are computed again across
    the runs, and the seed tables against SUMO meso-jc (and plain SUMO meso, when present) are added. A tool in more
    than one run: the later directory's row is kept. Each row's CPU figures stay those of the run that measured
    it (the sources and their loads are listed in the output).
    """
    kept: dict[tuple[str, int, str], Row] = {}
    flows: dict[tuple[str, int], dict[str, pd.Series]] = {}
    sources: list[str] = []
    for run in dirs:
        meta = json.loads((run / "results.json").read_text())["meta"]
        sources.append(f"- {run.name}: `{meta['command']}`; {meta['vision_zero']}; end: {meta['machine']}")
        frame = pd.read_csv(
            run / "results.csv", dtype={"note": str}, keep_default_na=False, na_values=["nan"]
        )
        for col in frame.columns.difference(
            ["case", "tool", "note"]
        ):  # an empty cell (congestion_index): NaN
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        for rec in frame.to_dict("records"):
            row = Row(**{f.name: rec[f.name] for f in fields(Row)})
            row.trips, row.completed, row.note = int(row.trips), int(row.completed), str(row.note)
            row.speed_vs_vz = row.tt_vs_vz = row.flow_r_vs_vz = math.nan
            sub = _grid_case_dir(row.case, row.trips)
            if sub is None:
                print(f"  {run.name}: {row.case} is not a grid case; left out", file=sys.stderr)
                continue
            table = pd.read_csv(run / sub / "flows.csv", index_col=[0, 1])
            kept[(row.case, row.trips, row.tool)] = row
            flows.setdefault((row.case, row.trips), {})[row.tool] = table[row.tool]
    rows: list[Row] = []
    for key, case_flows in flows.items():
        case_rows = [r for (c, n, _), r in kept.items() if (c, n) == key]
        compare(case_rows, case_flows)
        rows.extend(case_rows)
    text = format_table(rows)
    tools = {r.tool for r in rows}
    for reference in ("sumo-meso-jc", "sumo-meso"):
        if reference in tools:
            text += f"\n\nOver seeds, against {reference}:\n\n" + seed_table(rows, reference)
    out.mkdir(parents=True, exist_ok=True)
    head = "Merged from:\n\n" + "\n".join(sources)
    pd.DataFrame([asdict(r) for r in rows]).to_csv(
        out / "results.csv", index=False, quoting=csv.QUOTE_MINIMAL
    )
    (out / "results.md").write_text(f"{head}\n\n{text}\n")
    return f"{head}\n\n{text}"


#: RouteChoiceSettings fields changed by ``--route-choice`` (one dict, or empty: the shipped parameters)
ROUTE_CHOICE: list[dict[str, float | int]] = []


def _route_choice_fields(items: list[str]) -> dict[str, float | int]:
    """``FIELD=VALUE`` strings as RouteChoiceSettings fields (ints where the field is an int)."""
    from dataclasses import fields

    from vision_zero.traffic.routing import RouteChoiceSettings

    kinds = {f.name: f.type for f in fields(RouteChoiceSettings)}
    out: dict[str, float | int] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in kinds or not value:
            raise SystemExit(
                f"--route-choice: expected FIELD=VALUE with FIELD among {sorted(kinds)} (got {item!r})"
            )
        out[name] = int(value) if kinds[name] in (int, "int") else float(value)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--trips", type=int, nargs="+", default=[10_000], help="trip counts for the grid case")
    p.add_argument("--case", choices=("grid", "city", "all"), default="grid")
    p.add_argument("--grid", type=int, default=20, help="grid size n (n x n junctions); default 20")
    p.add_argument(
        "--tools",
        nargs="+",
        type=_tool,
        default=list(DEFAULT_TOOLS),
        help="uxsimN = UXsim (Python) with platoons of N; uxsim-cppN = its C++ engine; vision_zero = its default "
        "route choice, vision_zero-rN = at most N re-routing iterations",
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="run every grid case (and the city case, named <case>-s<seed>) once per seed (trips and drivers) and "
        "add a table of the spread over seeds",
    )
    p.add_argument(
        "--city-trips", type=int, default=None, help="rescale the city's default demand to this many trips"
    )
    p.add_argument(
        "--city-scale", default="city", help="schematic:almaty scale preset or area fraction (default: city)"
    )
    p.add_argument(
        "--network",
        default=None,
        metavar="SOURCE",
        help="the city case on this network instead of the schematic city: any source vision_zero loads (an OSM "
        "extract such as networks/helsinki-centre.osm.pbf, a GraphML file, a schematic source)",
    )
    p.add_argument(
        "--demand-factor",
        type=float,
        default=None,
        help="the city case's AM peak at this factor x the network's default daily trips (a scenario's "
        "calibrated factor; --city-trips overrides it)",
    )
    p.add_argument(
        "--sumo-speeds",
        choices=("limit", "desired"),
        default="limit",
        help="the city case's SUMO edge speeds: the posted limits (default) or vision_zero's mean desired running "
        "speeds (its drivers run above the limit; the case is then named <case>-vzspeeds)",
    )
    p.add_argument(
        "--before-tree",
        type=Path,
        default=None,
        help="the tool vision_zero-before imports vision_zero from this directory (e.g. a work tree of main)",
    )
    p.add_argument(
        "--dua-steps",
        type=int,
        default=DUA_STEPS[0],
        help=f"iterations of SUMO's own assignment (duaIterate.py) for the tool {DUA_TOOL} (default {DUA_STEPS[0]})",
    )
    p.add_argument(
        "--dua-from",
        type=Path,
        default=None,
        help=f"the tool {DUA_TOOL} takes the last finished iteration of a duaIterate run in this directory (the "
        "same case) instead of running the assignment",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--horizon-s", type=float, default=3 * HOUR_S, help="simulated time (trips depart in 1 h)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--profile", action="store_true", help="cProfile vision_zero (writes <tool>/profile.txt)")
    p.add_argument(
        "--sumo-bare",
        action="store_true",
        help="run every SUMO tool a second time right after, without its outputs (edgeData, tripinfo, "
        "statistics), and give that CPU in the row (cpu_s_no_output) and its note",
    )
    p.add_argument(
        "--route-choice",
        nargs="+",
        default=None,
        metavar="FIELD=VALUE",
        help="vision_zero's route choice with these RouteChoiceSettings fields changed, e.g. slice_s=1800 "
        "gap_sample_origins=500 max_iterations=4 (default: the shipped parameters)",
    )
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        metavar="RUN_DIR",
        help="run nothing: merge earlier runs' grid rows and link flows by (case, trips) into one table (e.g. "
        "SUMO and vision_zero run apart on the same cases); written to --out/<stamp>-merged",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.sumo_bare:
        SUMO_BARE.append(True)
    if args.route_choice:
        ROUTE_CHOICE.append(_route_choice_fields(args.route_choice))
    DUA_STEPS[0] = args.dua_steps
    if args.dua_from is not None:
        DUA_FROM.append(args.dua_from.resolve())
    return args


def build_city_cases(args: argparse.Namespace, out: Path, seeds: list[int]) -> list[tuple[Case, int]]:
    """The city case on ``--network`` (default the schematic city at ``--city-scale``): one, or one per seed."""
    source = args.network or f"schematic:almaty?scale={args.city_scale}"
    city_name = network_case_name(source, args.city_scale)
    if args.sumo_speeds != "limit":
        city_name += "-vzspeeds"
    cases: list[tuple[Case, int]] = []
    for seed in seeds if args.seeds else [args.seed]:  # per seed: its own trips and drivers
        name = city_name + (f"-s{seed}" if args.seeds else "")
        city = build_city_case(
            out / name,
            scale=args.city_scale,
            seed=seed,
            horizon_s=args.horizon_s,
            n_trips=args.city_trips,
            network=args.network,
            demand_factor=args.demand_factor,
            name=name,
            sumo_speeds=args.sumo_speeds,
        )
        cases.append((city, seed))
    return cases


def _worker_or_merge(args: argparse.Namespace) -> int:
    """The two modes that build no case: a tool's child process (``--worker``) and ``--merge``."""
    if args.worker:
        worker(args.worker, args.workdir, seed=args.seed, profile=args.profile)
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        print(merge_runs([d.resolve() for d in args.merge], args.out / f"{stamp}-merged"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Build the cases, run every tool in its own child process, print and save the table."""
    args = parse_args(argv)
    if args.worker or args.merge:
        return _worker_or_merge(args)
    if args.before_tree is not None:
        BEFORE_TREE.append(args.before_tree.resolve())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / stamp
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_traffic.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"# {command}\n# {stamp}  {machine_note()}  {git_note()}")
    cases: list[tuple[Case, int]] = []
    seeds = args.seeds or [args.seed]
    if args.case in ("grid", "all"):
        for seed in seeds:
            for n_trips in args.trips:
                n = args.grid
                name = f"grid{n}_{n_trips}" + (f"_s{seed}" if args.seeds else "")
                case = build_grid_case(out / name, n=n, n_trips=n_trips, seed=seed, horizon_s=args.horizon_s)
                if args.seeds:
                    case.name += f"-s{seed}"
                cases.append((case, seed))
    rows: list[Row] = []
    city_error = ""
    if args.case in ("city", "all"):
        try:
            cases += build_city_cases(args, out, seeds)
        except (NotImplementedError, AttributeError, ImportError) as exc:
            city_error = f"city case skipped: {exc}"
            print(city_error, file=sys.stderr)
    for case, case_seed in cases:
        case_rows: list[Row] = []
        flows: dict[str, pd.Series] = {}
        times: dict[str, pd.Series] = {}
        for tool in args.tools:
            if tool.startswith("uxsim") and len(case.links) > UXSIM_MAX_LINKS:
                print(
                    f"  {case.name}: {tool} skipped ({len(case.links)} links > {UXSIM_MAX_LINKS})",
                    file=sys.stderr,
                )
                continue
            print(f"  {case.name} {len(case.trips)} trips: {tool} ...", file=sys.stderr, flush=True)
            result = measure(case, tool, seed=case_seed, profile=args.profile)
            if result is None:
                continue
            row, entries, link_time = result
            case_rows.append(row)
            flows[tool] = pair_flows(case, entries)
            times[tool] = pair_times(case, entries, link_time)
        compare(case_rows, flows)
        rows.extend(case_rows)
        write_flows(case, flows, times)
        partial = format_table(rows) + ("\n\n" + seed_table(rows) if args.seeds else "")
        (out / "partial.md").write_text(f"`{command}`\n\n{machine_note()}; {git_note()}\n\n{partial}\n")
    table = format_table(rows)
    if args.seeds:
        table += "\n\nOver seeds " + ", ".join(map(str, seeds)) + ":\n\n" + seed_table(rows)
    table += f"\n\nload at the end: {machine_note()}"
    print(table)
    pd.DataFrame([asdict(r) for r in rows]).to_csv(
        out / "results.csv", index=False, quoting=csv.QUOTE_MINIMAL
    )
    meta = {
        "command": command,
        "utc": stamp,
        "machine": machine_note(),
        "vision_zero": git_note(),
        "city": city_error,
    }
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=1))
    (out / "results.md").write_text(f"`{command}`\n\n{meta['machine']}; {meta['vision_zero']}\n\n{table}\n")
    print(f"# written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
