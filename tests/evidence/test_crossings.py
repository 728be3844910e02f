"""Evidence: crossing measures change pedestrian casualties at the treated crossings as the studies found.

Real pipeline (prepare / run_replication) on the SCHEMATIC small network, 2 paired replications; each variant
upgrades the marked crossings of the main streets (primary, secondary, tertiary). Compared: calibrated pedestrian
casualties (all severities, as the crash-modification factors count crashes) at the upgraded crossings.

One table (:data:`CASES`): each row names the variant, the crash-modification factor in risk.toml whose 95% range is
the evidence interval, and the study it comes from; one test checks every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
from evidence_fixtures import (
    Pairs,
    Sites,
    casualties,
    cmf_interval,
    evidence_param,
    paired_change,
    run_variants,
)

from vision_zero.core.parameters import load_parameters
from vision_zero.risk.crossing_passages import crossing_casualties_by_movement
from vision_zero.runs.scenario_demand import simulated_periods
from vision_zero.runs.sensitivity import stored_record
from vision_zero.traffic.pedestrians import crossings_at_junctions

MAIN = '["primary", "secondary", "tertiary"]'


def upgrade(crossing_type: str) -> str:
    return (
        f'[[interventions]]\ntype = "crossing"\naction = "upgrade"\ncrossing_type = "{crossing_type}"\n'
        f'where = {{ highway = {MAIN} }}\nexisting = {{ types = ["marked"] }}\n'
    )


@dataclass(frozen=True)
class Case:
    """A crossing upgrade and the evidence it must reproduce."""

    crossing_type: str
    cmf: str  # risk.toml parameter whose low-high range is the evidence interval (CMF - 1 = change)
    study: str
    known_gap: str = ""  # why the model misses the interval (an expected failure), with the measured change


CASES: tuple[Case, ...] = (
    Case(
        "refuge_island",
        "risk.cmf.refuge_island.pedestrian",
        "FHWA Proven Safety Countermeasures / STEP: refuge islands -32% to -56% pedestrian crashes (SCIENCE.md "
        "section 3). Mechanism: two-stage crossing halves the exposure of a marked crossing (the marked multilane "
        "x2 is kept: dropping it too counted the multiple-threat cut twice, -73%).",
    ),
    Case(
        "raised",
        "risk.cmf.raised_crosswalk.pedestrian",
        "FHWA STEP: raised crosswalks -45% pedestrian crashes (SCIENCE.md section 3). Mechanism: each crossing's "
        "approach speeds scaled so that their 85th percentile is the 22 ft table's design speed (FHWA PEDSAFE "
        "25-30 mph; Falamarzi & Rahmat 2014 measured 85th percentiles); yielding and severity follow the speed. "
        "Capping every vehicle at the design speed instead gave -24.2% (an expected failure until 2026-11-30).",
    ),
    Case(
        "phb",
        "risk.cmf.phb.pedestrian",
        "FHWA STEP: pedestrian hybrid beacons -55% pedestrian crashes (SCIENCE.md section 3; CMF range 0.33-0.60). "
        "Mechanism: 96% of drivers yield (TRR 2586), through the non-yielding elasticity fitted to this pair.",
    ),
    Case(
        "signalised",
        "risk.cmf.signalised_crossing.pedestrian",
        "Signalised pedestrian crossing: Hunt 1998 (review of Zebra-to-Pelican conversions in Great Britain): "
        "-60% in a Department of the Environment sample, no clear benefit in later studies (CMF range 0.40-1.00); "
        "Gårder 1989 (Accid. Anal. Prev. 21:435, conflict study): signalising a junction about halves pedestrian risk. "
        "Mechanism: through traffic meets the pedestrians on their green only when it runs the red, and the 10.6% "
        "who cross against their red (Araya-Porras et al. 2022) on its green; turning vehicles cross the walk phase "
        "at turning speed and yield as at an uncontrolled crossing.",
    ),
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    return run_variants(
        tmp_path_factory,
        "crossings",
        {
            **{case.crossing_type: upgrade(case.crossing_type) for case in CASES},
            "new_crossings": (
                '[[interventions]]\ntype = "crossing"\naction = "add"\ncrossing_type = "marked"\nevery_m = 150\n'
                'where = { highway = "primary" }\n'
            ),
        },
    )


def pedestrian_change(runs: Pairs, variant: str) -> float:
    """Change of calibrated pedestrian casualties (all severities, pairs pooled) at the crossings ``variant`` changed."""
    treated = Sites.of_crossings(runs.prepared[variant].touched.crossings)
    assert len(treated.crossings) > 10
    base = [casualties(r, treated, road_user="pedestrian") for r in runs.results["base"]]
    var = [casualties(r, treated, road_user="pedestrian") for r in runs.results[variant]]
    return paired_change(base, var)


@pytest.mark.slow
@pytest.mark.parametrize("case", [evidence_param(c, id=c.crossing_type, xfail=c.known_gap) for c in CASES])
def test_crossing_upgrade_within_the_evidence_interval(runs: Pairs, case: Case) -> None:
    """Each row of :data:`CASES`: the modelled change lies in the CMF's range (its study in ``case.study``)."""
    low, high = cmf_interval(case.cmf)
    change = pedestrian_change(runs, case.crossing_type)
    print(f"{case.crossing_type}: {change:+.1%} (evidence {low:+.0%}..{high:+.0%})")  # shown with -rA
    assert low <= change <= high, f"{case.crossing_type}: {change:+.1%} outside {low:+.0%}..{high:+.0%}"


@pytest.mark.slow
def test_new_crossings_move_pedestrians_they_do_not_create_them(runs: Pairs) -> None:
    """A new crossing gathers pedestrians from the crossing points nearby (desire lines); the number of people who
    cross the street does not grow because a crossing is painted (Cairns-style 'no induced walking' is not what
    is tested: only that the model creates none)."""
    base, new = runs.prepared["base"].pedestrians, runs.prepared["new_crossings"].pedestrians
    n_base = len(runs.network("base").crossings)
    added = new[new["crossing"] >= n_base]
    assert len(runs.network("new_crossings").crossings) > n_base
    assert added["peds_per_h"].sum() > 0
    per_period = base.groupby("period")["peds_per_h"].sum()
    assert new.groupby("period")["peds_per_h"].sum().to_numpy() == pytest.approx(per_period.to_numpy())
    # the neighbours gave them up
    old = new[new["crossing"] < n_base].set_index(["crossing", "period"])["peds_per_h"]
    before = base.set_index(["crossing", "period"])["peds_per_h"].loc[old.index]
    assert (old <= before + 1e-9).all() and (old < before - 1e-9).any()
    assert set(added["crossing"]) <= set(runs.prepared["new_crossings"].touched.crossings.tolist())


def baseline_movements(runs: Pairs) -> pd.DataFrame:
    """The baseline's crossing collisions by crossing type, movement and whether the crossing sits on a junction node
    (``at_junction``, :func:`vision_zero.traffic.pedestrians.crossings_at_junctions`), replications pooled (central
    parameters)."""
    prepared = runs.prepared["base"]
    network = prepared.network
    periods = simulated_periods(prepared.scenario, prepared.parameters)
    central = prepared.parameters.central()
    frames = []
    for result in runs.results["base"]:
        assert result.traffic is not None
        record = stored_record(result.traffic, periods)
        frames.append(crossing_casualties_by_movement(network, record, parameters=central))
    out = pd.concat(frames, ignore_index=True)
    types = network.crossings["crossing_type"].astype(str).replace("", "unmarked")
    at_junction = pd.Series(crossings_at_junctions(network), index=network.crossings.index)
    return out.assign(
        crossing_type=types.reindex(out["crossing"]).to_numpy(),
        at_junction=at_junction.reindex(out["crossing"]).to_numpy(bool),
    )


def _range(name: str) -> tuple[float, float]:
    p = load_parameters()[name]
    assert p.low is not None and p.high is not None
    return p.low, p.high


_TURNING_SHARE_GAP = (
    "59.4% on main 9e3e8e9 (route choice max_iterations 3 -> 8); "
    "59.3% of the collisions at crossings on junction nodes on the small schematic network (central parameters, 2 "
    "replications, 2026-12-01, load ~12, after the record's 'stopped' became the event loop's held flag and the lag "
    "spread was re-fitted to the same death share, risk.pedestrian.critical_lag.sigma_log 0.87 -> 0.67; 51.5% "
    "before, with 'stopped' = waited more than 1 s at the link's end; 48.3% of every crossing's collisions, the "
    "denominator used until then, which counted the 64 crossings on two-leg nodes as intersections too): 11 points "
    "above the interval. At junction crossings the collisions split 59.3% turning, 30.0% leaving the stop line "
    "(99% of them at signals, where the red stops the through traffic; 39.9% before the held flag, 87% at signals) "
    "and 10.7% passing at the running speed, against Roudsari's 48% straight: the vehicles starting from rest and "
    "the turning vehicles keep uniform warning times while through traffic's are weighted by the pedestrians' lag "
    "acceptance (risk.pedestrian.critical_lag.*); pedestrian volumes by street class are assumptions "
    "(demand.pedestrians_per_hour.*). No source found (searched 2026-12-01) for how pedestrians choose their gap "
    "in front of a turning vehicle or a queue leaving on green: Alhajyaseen et al. (signalised crosswalks in "
    "Japan) model the turning drivers' lags and gaps to pedestrians, Li 2013 (Transportation Research Part B "
    "51:17) the pedestrians' waiting at a red, neither the pedestrians' lag to such a vehicle; so those conflicts "
    "keep uniform warning times"
)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=_TURNING_SHARE_GAP)
def test_turning_vehicles_share_of_collisions_at_intersections(runs: Pairs) -> None:
    """Roudsari et al. 2006 (NHTSA PCDS, 255 collisions at intersections): 42% turning (32% right, 10% left);
    range: the binomial 95% interval (risk.pedestrian.evidence.turning_share_at_intersections).

    Counted as Roudsari counts: the collisions at crossings on junction nodes (three or more legs), the model's
    intersections; a crossing along a road or on a two-leg node is not one. 59.3% on the small schematic network
    (central parameters, 2 replications, 2026-12-01; 51.5% before the record's 'stopped' became the event loop's
    held flag). Over every crossing's collisions, the denominator used until
    then: 48.3% (44.5% before junction crossings took every leg's pedestrians, 22.1% before the pedestrians' lag
    acceptance, risk.pedestrian.critical_lag.*, made conflicts with through traffic at short warning times rarer,
    and before the turning drivers who do not look were taken at every junction)."""
    moves = baseline_movements(runs)
    junction = moves[moves["at_junction"]]  # Roudsari's denominator: collisions at intersections
    share = junction.loc[junction["movement"] == "turning", "collision"].sum() / junction["collision"].sum()
    low, high = _range("risk.pedestrian.evidence.turning_share_at_intersections")
    print(
        f"turning vehicles: {share:.1%} of the collisions at junction crossings (evidence {low:.0%}..{high:.0%})"
    )
    assert low <= share <= high


@pytest.mark.slow
def test_turning_at_signals_more_hazardous_to_pedestrians_than_going_straight(runs: Pairs) -> None:
    """Abdulsattar et al. 1996 (TRR 1553): turning movements at signalised intersections three to six times as
    hazardous to pedestrians as through movements (risk.pedestrian.evidence.turning_hazard_ratio_signalised).

    3.50 on the small schematic network (central parameters, 2 replications, 2026-12-01; 3.26 before junction
    crossings took every leg's pedestrians, 1.91 before the pedestrians' lag acceptance: through traffic meets fewer
    pedestrians at short warning times), near the range's lower end."""
    moves = baseline_movements(runs)
    signal = moves[moves["crossing_type"] == "signalised"]
    turning = signal[signal["movement"] == "turning"][["collision", "passages"]].sum()
    straight = signal[signal["movement"] != "turning"][["collision", "passages"]].sum()
    ratio = (turning["collision"] / turning["passages"]) / (straight["collision"] / straight["passages"])
    low, high = _range("risk.pedestrian.evidence.turning_hazard_ratio_signalised")
    print(
        f"turning / straight collisions per vehicle at signals: {ratio:.2f} (evidence {low:.0f}..{high:.0f})"
    )
    assert low <= ratio <= high
