"""Evidence: a uniform change of driven speeds moves every casualty cell as the power model says.

Real pipeline (prepare / run_replication) on the SCHEMATIC small network, 2 paired replications; the variants
multiply every link's desired speeds by 0.9 and 0.8 (``mean_speed_factor``), nothing else.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from evidence_fixtures import REPLICATIONS, write_scenarios

from vision_zero.program.scenario import load_scenario
from vision_zero.runs.pipeline import prepare, run_replication

CELLS = [f"{s}_{u}" for u in ("pedestrian", "occupant") for s in ("fatal", "serious", "slight")]


@pytest.fixture(scope="module")
def uniform(tmp_path_factory: pytest.TempPathFactory) -> dict[float, dict[str, float]]:
    files = write_scenarios(tmp_path_factory.mktemp("uniform"), {})
    base = prepare(load_scenario(files["base"]))
    baselines = [run_replication(base, r) for r in range(REPLICATIONS)]
    totals: dict[float, dict[str, float]] = {}
    for factor in (1.0, 0.9, 0.8):
        links = base.network.links.copy()
        links["mean_speed_factor"] = factor
        network = base.network.with_tables(links=links)
        prepared = dataclasses.replace(base, applied=dataclasses.replace(base.applied, network=network))
        sums: dict[str, float] = {}
        for r, b in enumerate(baselines):
            res = b if factor == 1.0 else run_replication(prepared, r, baseline_raw=b.injuries)
            for k in [*CELLS, "fatal", "serious", "slight", "ksi", "veh_km", "ksi_pedestrian"]:
                sums[k] = sums.get(k, 0.0) + res.summary[k]
        totals[factor] = sums
    return totals


def exponent(totals: dict[float, dict[str, float]], key: str, factor: float) -> float:
    """Implied power-model exponent ``ln(N1/N0) / ln(V1/V0)``."""
    return float(np.log(totals[factor][key] / totals[1.0][key]) / np.log(factor))


#: (total, lowest and highest implied exponent, source) for a uniform change of every driven speed. The small
#: schematic network has no motorway or trunk links, so Elvik's urban exponents for casualties apply throughout
#: (risk.power_model.exponent.*: killed 3.0, seriously injured 2.0, slightly injured 1.1; Elvik 2009, TØI report
#: 1034/2009, via Cameron & Elvik 2010 table 8); the crossing chain adds the pedestrians' own speed-severity relation.
NETWORK_EXPONENTS = [
    pytest.param(
        "fatal",
        2.0,
        4.5,
        "killed: Elvik's urban 3.0 (range 2-4 in risk.toml) to Nilsson's classic 4",
        id="deaths",
    ),
    pytest.param(
        "ksi",
        1.2,
        3.0,
        "killed or seriously injured: Elvik's urban seriously injured 2.0 (0.8-3.2) to Nilsson's classic 3 for "
        "fatal + serious crashes (Cameron & Elvik 2010)",
        id="ksi",
    ),
    pytest.param(
        "all",
        0.8,
        2.0,
        "all injured: Elvik's urban slightly injured 1.1 (0.9-1.3) and all injured road users 1.4 to Nilsson's "
        "classic 2 for injury crashes",
        id="all_casualties",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("factor", [0.9, 0.8])
@pytest.mark.parametrize(("total", "low", "high", "source"), NETWORK_EXPONENTS)
def test_network_exponents_near_elvik(
    uniform: dict[float, dict[str, float]], factor: float, total: str, low: float, high: float, source: str
) -> None:
    """Nilsson's power model as re-estimated by Elvik 2009 (SCIENCE.md §1): the network's implied exponent for each
    casualty total lies in the published range (``source``), with the same traffic."""
    totals = {f: {**t, "all": t["fatal"] + t["serious"] + t["slight"]} for f, t in uniform.items()}
    assert low <= exponent(totals, total, factor) <= high, source
    assert uniform[factor]["veh_km"] == pytest.approx(uniform[1.0]["veh_km"], rel=0.02)  # same traffic


_SLIGHT_PEDESTRIAN_GAP = (
    "measured +5.3% (x0.9) and +3.9% (x0.8) (before turning and from-rest vehicles: +11.5% / +14.9%; with them "
    "and without pedestrians crossing against the red: +2.0% / falling): on the arterial and collector crossings, "
    "where the schematic city's pedestrians cross, vehicles run at about 70 km/h, so a speed cut still turns "
    "deaths and serious injuries into slight ones faster than it removes collisions; the low-speed exposure of "
    "local streets is not modelled"
)
#: Cells known not to fall yet, with the measured change and why (an expected failure each).
CELL_GAPS: dict[tuple[str, float], str] = {
    ("slight_pedestrian", f): _SLIGHT_PEDESTRIAN_GAP for f in (0.9, 0.8)
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cell", "factor"),
    [
        pytest.param(
            cell,
            factor,
            id=f"{cell}-{factor}",
            marks=[pytest.mark.xfail(strict=False, reason=CELL_GAPS[cell, factor])]
            if (cell, factor) in CELL_GAPS
            else [],
        )
        for cell in CELLS
        for factor in (0.9, 0.8)
    ],
)
def test_every_severity_and_road_user_cell_falls(
    uniform: dict[float, dict[str, float]], factor: float, cell: str
) -> None:
    """Every severity x road-user cell falls when all speeds fall (Nilsson 2004; Elvik 2009: every exponent > 0)."""
    print(f"{cell} x{factor}: {uniform[factor][cell] / uniform[1.0][cell] - 1:+.1%}")  # shown with -rA
    assert uniform[factor][cell] < uniform[1.0][cell]


@pytest.mark.slow
def test_pedestrian_ksi_exponent_at_least_the_occupants(uniform: dict[float, dict[str, float]]) -> None:
    """Pedestrians' KSI fall at least as steeply as the network's: impact-speed risk is steeper than crash risk
    (Rosén & Sander 2009: death risk x2 from 40 to 50 km/h impact speed; SCIENCE.md §2)."""
    assert exponent(uniform, "ksi_pedestrian", 0.8) >= exponent(uniform, "ksi", 0.8)
