"""Evidence: a uniform change of driven speeds moves every casualty cell as the power model says.

Real pipeline (prepare / run_replication) on the SCHEMATIC small network, 2 paired replications; the variants
multiply every link's desired speeds by 0.9 and 0.8 (``mean_speed_factor``), nothing else.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from evidence_fixtures import (
    REPLICATIONS,
    at_central_values,
    evidence_param,
    shared_traffic_store,
    write_scenarios,
)

from vision_zero.core.parameters import load_parameters
from vision_zero.program.scenario import load_scenario
from vision_zero.runs.pipeline import run_replication
from vision_zero.runs.preparation import prepare

CELLS = [f"{s}_{u}" for u in ("pedestrian", "occupant") for s in ("fatal", "serious", "slight")]


def _uniform_totals(
    tmp_path_factory: pytest.TempPathFactory, *, central: bool
) -> dict[float, dict[str, float]]:
    """Totals over the replications at speed factors 1.0, 0.9 and 0.8; ``central``: at the central parameters."""
    files = write_scenarios(tmp_path_factory.mktemp("uniform"), {})
    base = prepare(load_scenario(files["base"]))
    if central:
        base = at_central_values(base)
    store = shared_traffic_store(tmp_path_factory)  # the baseline's traffic, simulated once in the session
    baselines = [run_replication(base, r, traffic_store=store) for r in range(REPLICATIONS)]
    totals: dict[float, dict[str, float]] = {}
    for factor in (1.0, 0.9, 0.8):
        links = base.network.links.copy()
        links["mean_speed_factor"] = factor
        network = base.network.with_tables(links=links)
        prepared = dataclasses.replace(base, applied=dataclasses.replace(base.applied, network=network))
        sums: dict[str, float] = {}
        for r, b in enumerate(baselines):
            res = b if factor == 1.0 else run_replication(prepared, r, baseline_draws=b.risk_draws)
            for k in [*CELLS, "fatal", "serious", "slight", "ksi", "veh_km", "ksi_pedestrian"]:
                sums[k] = sums.get(k, 0.0) + res.summary[k]
        totals[factor] = sums
    return totals


@pytest.fixture(scope="module")
def uniform(tmp_path_factory: pytest.TempPathFactory) -> dict[float, dict[str, float]]:
    return _uniform_totals(tmp_path_factory, central=False)


@pytest.fixture(scope="module")
def uniform_central(tmp_path_factory: pytest.TempPathFactory) -> dict[float, dict[str, float]]:
    """:func:`uniform` at the central parameter values (:func:`evidence_fixtures.at_central_values`)."""
    return _uniform_totals(tmp_path_factory, central=True)


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
    "+1.0% (x0.9) and +0.8% (x0.8) on main 9e3e8e9 (route choice max_iterations 3 -> 8; same run: 80 -> 60 -9.6%, Richards 34.2%, pedestrian share 15.0% unchanged); "
    "measured +0.8% (x0.9) and +0.5% (x0.8) on 2026-12-01 (small schematic network, demand 0.5, 2 pairs, drawn "
    "parameters, load ~12) after the record's 'stopped' became the event loop's held flag (a red, a give-way, a "
    "standing queue) and the lag spread was re-fitted (risk.pedestrian.critical_lag.sigma_log 0.87 -> 0.67); "
    "+1.5% / +2.4% with 'stopped' = waited more than 1 s, +4.9% / +6.9% before the pedestrians' lag acceptance; "
    "against Elvik's urban slight-injury exponent of about 1 (-10% / -20%). By movement (raw slight casualties, "
    "x0.8 against x1.0, in points of the total's +0.05%; pedev's measurement): vehicles leaving a stop line +2.2 "
    "(their passages grow by 8% as speeds fall, almost all at signals: the share stopped by the red rises from "
    "52.8% to 54.6% of the passages at signalised junction crossings and from 13.5% to 16.1% at signalised "
    "crossings on two-leg nodes; each carries about 7x a passing one's collisions), turning vehicles +0.15, "
    "through traffic at crossings -1.6, away from crossings -0.6, streets -0.1. Most pedestrian casualties come "
    "from vehicles turning at a node (capped at the turning speed, risk.pedestrian.turning_speed_kph) or leaving "
    "a stop line (sqrt(2 a d) from rest), 53% and 31% of the raw slight ones, whose speeds do not change with the "
    "desired speeds, against 9.8% turning or merging in police-reported crash typing (Stutts, Hunter & Pein "
    "1996; risk.pedestrian.evidence.crash_type_share.*); through traffic's conflicts (12%) fall steeply with "
    "speed. Needs: turning and starting speeds that respond to the speed regime (searched again 2026-12-01, "
    "none found: Fitzpatrick, Schneider & Park 2006 measured turning speeds by corner geometry; Fitzpatrick, Pratt "
    "& Avelar 2021's right-turn speed model has radius, leading headway, vehicle type, the preceding vehicle's "
    "manoeuvre and the signal indication as predictors, no approach speed or limit; a start from rest reaches "
    "sqrt(2 a d) whatever the limit; risk.pedestrian.turning_speed_kph, risk.pedestrian.start.run_up_m), the "
    "pedestrians' choice of gap in front of a queue leaving on green (from-rest conflicts keep uniform warning "
    "times; no source with a model found: Alhajyaseen et al. model the turning drivers' lags to pedestrians, Li "
    "2013 the pedestrians' waiting at a red), and the low-speed crash types the model lacks (backing 6.9%, not in "
    "roadway 8.6%)"
)
#: Cells known not to fall yet, with the measured change and why (an expected failure each).
CELL_GAPS: dict[tuple[str, float], str] = {
    ("slight_pedestrian", f): _SLIGHT_PEDESTRIAN_GAP for f in (0.9, 0.8)
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cell", "factor"),
    [
        evidence_param(cell, factor, id=f"{cell}-{factor}", xfail=CELL_GAPS.get((cell, factor)))
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
def test_pedestrian_ksi_exponent_at_least_the_occupants(
    uniform_central: dict[float, dict[str, float]],
) -> None:
    """Pedestrians' KSI fall at least as steeply as the network's: impact-speed risk is steeper than crash risk
    (Rosén & Sander 2009: death risk x2 from 40 to 50 km/h impact speed; SCIENCE.md §2).

    At the central parameter values: the claim is about the models' central relations. Over the parameters' ranges
    it need not hold draw by draw, and no source says it must: the occupants' serious-injury exponent (Elvik's
    2.0, range 0.8-3.2: the estimation uncertainty of an all-road-user figure) is drawn independently of the
    crossing chain, and a draw with a steep occupant exponent and a flat chain (turning speed, run-up, injury speed
    shift, braking) is a legitimate state of the uncertainty (session 18, 3 December 2026: over 128 draws of the
    small network's two replications pedestrians 1.84, network 1.98, pedestrians steeper in 49; exponent.serious
    alone explains 62% of the difference's variance, eight crossing-chain parameters 93% of the pedestrians').
    Here, with every draw central: pedestrians 2.08, network 2.05 at x0.8 (a thin margin: turning and starting
    speeds do not follow the speed regime, _SLIGHT_PEDESTRIAN_GAP).
    """
    totals = uniform_central
    assert exponent(totals, "ksi_pedestrian", 0.8) >= exponent(totals, "ksi", 0.8)


#: The calibration targets (calibration.toml, SCIENCE.md §7) the pedestrian mix is compared with.
_TARGET_NAMES = (
    "deaths_per_year",
    "casualties_per_year",
    "pedestrian_share_of_deaths",
    "pedestrian_share_of_injured",
)


def _pedestrian_targets(
    deaths: float, casualties: float, ped_deaths: float, ped_injured: float
) -> tuple[float, ...]:
    """Pedestrian deaths, pedestrian casualties and all casualties per year of the calibration targets."""
    killed = deaths * ped_deaths
    return killed, killed + (casualties - deaths) * ped_injured, casualties


def observed_pedestrian_mix() -> dict[str, tuple[float, float, float]]:
    """The calibration targets' pedestrian severity mix: central, lowest and highest value of two shares.

    ``"death_share"``: pedestrian deaths over pedestrian casualties; ``"casualty_share"``: pedestrian casualties
    over all casualties. From calibration.toml (SCIENCE.md §7): deaths x pedestrian share of deaths, plus the
    injured (casualties - deaths) x pedestrians' share of the injured; each range combines the parameters' 95%
    bounds in the direction that moves the share most. Death share central 1.5%; Great Britain's urban figures
    lie inside (Scotland's built-up roads 2004-08: 46 of 2,723 pedestrian casualties killed, 1.7%; Transport
    Scotland, Key reported road casualties 2011, table 3). Casualty share central 30%.
    """
    p = load_parameters()
    par = [p[f"calibration.almaty.{n}"] for n in _TARGET_NAMES]
    mid = [x.value for x in par]
    lo = [x.low if x.low is not None else x.value for x in par]
    hi = [x.high if x.high is not None else x.value for x in par]

    def death_share(d: float, c: float, pd_: float, pi: float) -> float:
        killed, ped, _ = _pedestrian_targets(d, c, pd_, pi)
        return killed / ped

    def casualty_share(d: float, c: float, pd_: float, pi: float) -> float:
        _, ped, allc = _pedestrian_targets(d, c, pd_, pi)
        return ped / allc

    return {
        "death_share": (
            death_share(*mid),
            death_share(lo[0], lo[1], lo[2], hi[3]),
            death_share(hi[0], hi[1], hi[2], lo[3]),
        ),
        "casualty_share": (
            casualty_share(*mid),
            casualty_share(lo[0], hi[1], lo[2], lo[3]),
            casualty_share(hi[0], lo[1], hi[2], hi[3]),
        ),
    }


@pytest.mark.slow
def test_pedestrian_deaths_share_of_pedestrian_casualties_as_observed(
    uniform: dict[float, dict[str, float]],
) -> None:
    """Calibrated on deaths with one factor per road user, the baseline's pedestrian severity mix is the chain's
    own: its deaths' share of pedestrian casualties lies in the observed range (issue: about 1.5%).

    2.3% (drawn parameters, seed 2019, replications 0-1; 2.1% at the central ones) on the small schematic network,
    2026-12-01 (2.5% before junction crossings took every leg's pedestrians, issue 13); 13.1% before the pedestrians' lag acceptance. Not an independent check: the lag acceptance's spread
    (risk.pedestrian.critical_lag.sigma_log) is fitted to this share (2.1%, between the calibration targets' 1.5%
    and Almaty police's 3.0%). The independent ones: Richards 2010's deaths at impact <= 30 mph
    (tests/evidence/test_impact_speeds.py), Roudsari et al.'s turning share and Abdulsattar et al.'s ratio at
    signals (tests/evidence/test_crossings.py)."""
    base = uniform[1.0]
    share = base["fatal_pedestrian"] / sum(base[f"{s}_pedestrian"] for s in ("fatal", "serious", "slight"))
    central, low, high = observed_pedestrian_mix()["death_share"]
    police = load_parameters()["risk.pedestrian.evidence.injured_per_death.almaty_police"].value
    print(
        f"pedestrian deaths {share:.1%} of pedestrian casualties (calibration targets {central:.1%}, "
        f"{low:.1%}..{high:.1%}; Almaty police {1 / (1 + police):.1%})"
    )
    assert low <= share <= high


_CASUALTY_SHARE_GAP = (
    "measured 15.0% (drawn parameters, seed 2019, replications 0-1; small schematic network, demand 0.5) on "
    "2026-12-01 after the record's 'stopped' became the event loop's held flag and the lag spread was re-fitted "
    "to the same death share (0.87 -> 0.67; deaths 2.5% of pedestrian casualties); 15.9% before (deaths 2.3%), "
    "15.2% before junction crossings took every leg's pedestrians, issue 13) against 30% (20-45%) in the calibration targets (3.3% before the pedestrians' lag acceptance, "
    "risk.pedestrian.critical_lag.*). The calibration pins each road user's deaths (one factor per road user, "
    "risk.crash_model.calibration_factors), so the share follows the chain's death share: 2.5% here (fitted to 2.1% "
    "at the central parameters, between the targets' 1.5% and Almaty police's 3.0%); fitted to 1.5% the share was "
    "20.3% (inside), but the PHB row fell to -39.1% (outside -40..-67%) and the pedestrians' KSI exponent below the "
    "occupants'. The targets' 30% is an assumption (calibration.almaty.pedestrian_share_of_injured); Almaty "
    "police's own pedestrian mix (3.0% deaths) implies about 15% of the injured"
)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=_CASUALTY_SHARE_GAP)
def test_pedestrian_share_of_all_casualties_as_in_the_calibration_targets(
    uniform: dict[float, dict[str, float]],
) -> None:
    """Calibrated (one factor per road user), the baseline's pedestrians are the calibration targets' share of all
    casualties: pedestrian deaths and injured from calibration.toml (SCIENCE.md §7), 30% (20-45%). Crossing
    programs' KSI avoided scale with it."""
    base = uniform[1.0]
    cells = {
        u: sum(base[f"{s}_{u}"] for s in ("fatal", "serious", "slight")) for u in ("pedestrian", "occupant")
    }
    share = cells["pedestrian"] / (cells["pedestrian"] + cells["occupant"])
    central, low, high = observed_pedestrian_mix()["casualty_share"]
    print(
        f"pedestrians {share:.1%} of all casualties (calibration targets {central:.1%}, {low:.1%}..{high:.1%})"
    )
    assert low <= share <= high
