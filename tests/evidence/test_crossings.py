"""Evidence: crossing measures change pedestrian casualties at the treated crossings as the studies found.

Real pipeline (prepare / run_replication) on the SCHEMATIC small network, 2 paired replications; each variant
upgrades the marked crossings of the main streets (primary, secondary, tertiary). Compared: calibrated pedestrian
casualties (all severities, as the crash-modification factors count crashes) at the upgraded crossings.
"""

from __future__ import annotations

import numpy as np
import pytest
from evidence_fixtures import Pairs, Sites, casualties, paired_change, run_pairs, write_scenarios

from vision_zero.core.parameters import load_parameters

MAIN = '["primary", "secondary", "tertiary"]'


def upgrade(crossing_type: str) -> str:
    return (
        f'[[interventions]]\ntype = "crossing"\naction = "upgrade"\ncrossing_type = "{crossing_type}"\n'
        f'where = {{ highway = {MAIN} }}\nexisting = {{ types = ["marked"] }}\n'
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    files = write_scenarios(
        tmp_path_factory.mktemp("crossings"),
        {
            "refuge_island": upgrade("refuge_island"),
            "raised": upgrade("raised"),
            "signalised": upgrade("signalised"),
            "new_crossings": (
                '[[interventions]]\ntype = "crossing"\naction = "add"\ncrossing_type = "marked"\nevery_m = 150\n'
                'where = { highway = "primary" }\n'
            ),
        },
    )
    return run_pairs(files)


def cmf_range(name: str) -> tuple[float, float]:
    """The 95% range of a crash-modification factor in risk.toml (with its source)."""
    p = load_parameters()[name]
    assert p.low is not None and p.high is not None and p.source
    return p.low, p.high


def pedestrian_change(runs: Pairs, variant: str) -> float:
    base_types = runs.network("base").crossings["crossing_type"].astype(str)
    new_types = runs.network(variant).crossings["crossing_type"].astype(str)
    treated = Sites.of_crossings(np.flatnonzero((base_types != new_types).to_numpy()))
    assert len(treated.crossings) > 10
    base = [casualties(r, treated, road_user="pedestrian") for r in runs.results["base"]]
    var = [casualties(r, treated, road_user="pedestrian") for r in runs.results[variant]]
    return paired_change(base, var)


@pytest.mark.slow
def test_refuge_islands(runs: Pairs) -> None:
    """FHWA Proven Safety Countermeasures / STEP: refuge islands -32% to -56% pedestrian crashes (SCIENCE.md §3;
    risk.cmf.refuge_island.pedestrian 0.44-0.68). The island halves the exposure of a marked crossing; it no
    longer also drops the marked multilane x2 (that counted the multiple-threat cut twice: -73%)."""
    low, high = cmf_range("risk.cmf.refuge_island.pedestrian")
    change = pedestrian_change(runs, "refuge_island")
    assert low - 1 <= change <= high - 1, f"{change:+.1%}"


@pytest.mark.slow
def test_raised_crossings(runs: Pairs) -> None:
    """FHWA STEP: raised crosswalks -45% pedestrian crashes (SCIENCE.md §3; risk.cmf.raised_crosswalk.pedestrian
    0.40-0.75). Mechanism: approach speeds capped at the 22 ft table's design speed (FHWA PEDSAFE 25-30 mph)."""
    low, high = cmf_range("risk.cmf.raised_crosswalk.pedestrian")
    change = pedestrian_change(runs, "raised")
    assert low - 1 <= change <= high - 1, f"{change:+.1%}"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="measured -84.6% (small schematic, 2 pairs): the signal mechanism sees only red-light violators (yielding 96%); the "
    "turning-vehicle conflicts on the walk phase that keep real signalised crossings near -10..-15% are not "
    "modelled yet (and the -10..-15% CMF itself is unchecked)",
)
def test_signalised_crossing(runs: Pairs) -> None:
    """Signalised pedestrian crossing: about -10 to -15% pedestrian crashes (SCIENCE.md §3, unchecked;
    risk.cmf.signalised_crossing.pedestrian 0.80-0.95)."""
    low, high = cmf_range("risk.cmf.signalised_crossing.pedestrian")
    change = pedestrian_change(runs, "signalised")
    assert low - 1 <= change <= high - 1, f"{change:+.1%}"


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
