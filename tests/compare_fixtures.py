"""Small hand-built inputs for the compare/charts/maps/report/gis tests (known answers, no simulation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from vision_zero.appraisal.compare import ScenarioRuns
from vision_zero.appraisal.economics import Economics, InterventionCost
from vision_zero.network.road_network import RoadNetwork, network_from_tables
from vision_zero.runs.results import ReplicationResult


def square_network(*, schematic: bool = True) -> RoadNetwork:
    """Four nodes on a 500 m square, two-way links (8 directed links), one crossing on link 0 and one at node 2."""
    lon0, lat0, d = 76.9, 43.25, 0.005
    nodes = pd.DataFrame(
        {
            "osmid": np.arange(100, 104, dtype=np.int64),
            "lon": [lon0, lon0 + d, lon0 + d, lon0],
            "lat": [lat0, lat0, lat0 + d, lat0 + d],
            "x_m": [0.0, 500.0, 500.0, 0.0],
            "y_m": [0.0, 0.0, 500.0, 500.0],
            "highway": ["", "traffic_signals", "crossing", ""],
            "signalised": [False, True, False, False],
            "crossing": ["", "", "marked", ""],
        }
    )
    pairs = [(0, 1), (1, 2), (2, 3), (3, 0)]
    links = pd.DataFrame(pairs + [(v, u) for u, v in pairs], columns=["u", "v"]).assign(
        osm_way="1",
        name=["South St", "East Ave", "North St", "West Ave"] * 2,
        highway=["primary", "secondary", "residential", "tertiary"] * 2,
        length_m=500.0,
        lanes=1,
        speed_limit_kph=[60.0, 60.0, 40.0, 50.0] * 2,
        capacity_vph=1800.0,
        storage_veh=60.0,
    )
    crossings = pd.DataFrame(
        {
            "node": [-1, 2],
            "link": [0, -1],
            "offset_m": [250.0, np.nan],
            "crossing_type": ["marked", "unmarked"],
            "lanes_crossed": [2, 2],
            "osmid": [-1, 102],
        }
    )
    return network_from_tables(nodes, links, crossings=crossings, source="test:square", schematic=schematic)


def replication(
    scenario: str,
    i: int,
    *,
    fatal: float,
    serious: float,
    slight: float,
    veh_h: float = 1000.0,
    seed: int = 7,
    parameters: dict[str, float] | None = None,
    link_speed_kph: float = 50.0,
) -> ReplicationResult:
    """One replication with the given totals; pedestrians get 40% of each severity, spread over sites."""
    summary = {"fatal": fatal, "serious": serious, "slight": slight, "ksi": fatal + serious}
    for ru, share in (("pedestrian", 0.4), ("occupant", 0.6)):
        summary[f"fatal_{ru}"] = fatal * share
        summary[f"serious_{ru}"] = serious * share
        summary[f"slight_{ru}"] = slight * share
        summary[f"ksi_{ru}"] = (fatal + serious) * share
    summary.update({"veh_h": veh_h, "veh_km": veh_h * 40.0, "schematic": 1.0})
    rows = []
    # occupants on links 0..7 evenly; pedestrians: half at crossing 0 (along link 0), half at junction 2
    for sev, tot in (("fatal", fatal), ("serious", serious), ("slight", slight)):
        for link in range(8):
            rows.append(("link", link, "occupant", sev, tot * 0.6 / 8))
        rows.append(("crossing", 0, "pedestrian", sev, tot * 0.2))
        rows.append(("junction", 2, "pedestrian", sev, tot * 0.2))
    injuries = pd.DataFrame(rows, columns=["site_type", "site", "road_user", "severity", "per_year"])
    injuries["per_year_raw"] = injuries["per_year"]
    link_traffic = pd.DataFrame(
        {
            "link": np.arange(8),
            "veh_km_per_year": veh_h * 40.0 / 8,
            "veh_h_per_year": veh_h / 8,
            "mean_speed_kph": link_speed_kph,
            "p85_speed_kph": link_speed_kph + 8.0,
            "share_over_limit": 0.2,
        }
    )
    bins = np.arange(20.0, 80.0, 5.0)
    counts = np.round(1000 * np.exp(-0.5 * ((bins - link_speed_kph) / 8.0) ** 2))
    speed_hist = pd.DataFrame(
        [(link, b, c) for link in range(8) for b, c in zip(bins, counts, strict=True)],
        columns=["link", "bin_lo_kph", "count"],
    )
    return ReplicationResult(
        scenario=scenario,
        replication=i,
        seed=seed,
        summary=summary,
        injuries=injuries,
        link_traffic=link_traffic,
        speed_hist=speed_hist,
        parameters=parameters or {"risk.x": 1.0 + 0.1 * i},
    )


def runs(
    name: str,
    totals: Sequence[tuple[float, float, float]],
    *,
    veh_h: Sequence[float] | None = None,
    costs: Sequence[InterventionCost] = (),
    link_speed_kph: float = 50.0,
    parameters: Sequence[dict[str, float]] | None = None,
) -> ScenarioRuns:
    """A scenario's runs from per-replication (fatal, serious, slight) totals."""
    reps = [
        replication(
            name,
            i,
            fatal=f,
            serious=s,
            slight=sl,
            veh_h=1000.0 if veh_h is None else veh_h[i],
            link_speed_kph=link_speed_kph,
            parameters=None if parameters is None else parameters[i],
        )
        for i, (f, s, sl) in enumerate(totals)
    ]
    return ScenarioRuns(
        name=name, replications=reps, schematic=True, costs=costs, network_source="test:square"
    )


#: Round money values (VSL 1,000 USD, 2 years at 5%) for the by-hand appraisal tests.
ECON = Economics(
    currency="USD",
    vsl=1000.0,
    serious_injury_value=250.0,
    slight_injury_value=10.0,
    value_of_time=2.0,
    discount_rate=0.05,
    horizon_years=2,
)

#: A baseline's per-replication (fatal, serious, slight) totals: four replications.
BASE = [(2.0, 10.0, 100.0), (3.0, 12.0, 110.0), (1.0, 9.0, 95.0), (2.5, 11.0, 104.0)]
