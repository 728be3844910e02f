"""Evidence: 30 km/h zones, lower arterial limits and speed cameras, end to end against the published studies.

Real pipeline (prepare / run_replication) on the SCHEMATIC network, 2 paired replications. The casualty effects
are measured per vehicle-km on the treated streets (their sites: links, the junctions at their ends, the
crossings their vehicles pass); the traffic effects (diversion to other streets) depend on route choice and
elastic demand, which the traffic issues build: those rows are expected failures until that work lands, with
the measured numbers in the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from evidence_fixtures import (
    Pairs,
    Sites,
    casualties,
    changed_links,
    near_centre,
    paired_change,
    run_pairs,
    veh_km,
    write_scenarios,
)

from vision_zero.core.parameters import load_parameters

KSI = ("fatal", "serious")
ZONE_M = 1000.0
CENTRE = "near = { lon = 76.93, lat = 43.24, radius_m = 1000 }"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    files = write_scenarios(
        tmp_path_factory.mktemp("area"),
        {
            "centre30": (
                '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 30\nenforcement = "camera"\n'
                f'where = {{ highway = ["primary", "secondary", "tertiary"], {CENTRE} }}\n'
                '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 30\nenforcement = "calming"\n'
                f'where = {{ highway = ["residential", "living_street"], {CENTRE} }}\n'
            ),
            "section": '[[interventions]]\ntype = "speed_camera"\nmode = "section"\nwhere = { highway = "primary" }\n',
            "fixed": '[[interventions]]\ntype = "speed_camera"\nmode = "fixed"\nwhere = { highway = "primary" }\n',
        },
    )
    return run_pairs(files)


def change_per_veh_km(runs: Pairs, variant: str, severities: tuple[str, ...] = KSI) -> tuple[float, float]:
    """(casualty change per veh-km, veh-km change) on the streets the variant changed."""
    mask = changed_links(runs.network("base"), runs.network(variant))
    assert mask.sum() > 20
    sites = Sites.of_links(runs.network("base"), mask)
    links = np.flatnonzero(mask)
    rate_b = [casualties(r, sites, severities=severities) / veh_km(r, links) for r in runs.results["base"]]
    rate_v = [casualties(r, sites, severities=severities) / veh_km(r, links) for r in runs.results[variant]]
    vkm_b = [veh_km(r, links) for r in runs.results["base"]]
    vkm_v = [veh_km(r, links) for r in runs.results[variant]]
    return paired_change(rate_b, rate_v), paired_change(vkm_b, vkm_v)


def cmf_range(name: str) -> tuple[float, float]:
    p = load_parameters()[name]
    assert p.low is not None and p.high is not None and p.source
    return p.low - 1.0, p.high - 1.0


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="measured -7.8% KSI per veh-km (Høye 2015: KSI -49..-54%, injury crashes -12..-22%): the mean speed "
    "falls 10% (Ragnøy 2011, checked), and the power model on link mean speeds with Elvik's urban exponents (KSI "
    "about 1.5) cannot turn that into -49%; needs a risk model over the speed distribution's tail",
)
def test_section_control_ksi_per_veh_km(small: Pairs) -> None:
    """Høye 2015 (Accid. Anal. Prev. 74:169, EB before-after, 14 Norwegian sites): KSI -49% at section control
    sites (risk.cmf.section_control.ksi 0.40-0.65, i.e. -35% to -60%)."""
    change, _ = change_per_veh_km(small, "section")
    low, high = cmf_range("risk.cmf.section_control.ksi")
    assert low <= change <= high, f"{change:+.1%}"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="measured -6.9% KSI per veh-km (Wilson: -11..-44%): mean speed x0.93 (Wilson's later update -7%) "
    "through the power model on link mean speeds is too weak; the tail (share over the limit -52%) does not "
    "reach the risk model, which reads mean speeds",
)
def test_fixed_cameras_ksi_per_veh_km(small: Pairs) -> None:
    """Wilson et al. 2010 (Cochrane review): KSI -11% to -44% near fixed speed-camera sites (SCIENCE.md §3)."""
    change, _ = change_per_veh_km(small, "fixed")
    low, high = cmf_range("risk.cmf.speed_camera.ksi")
    assert low <= change <= high, f"{change:+.1%}"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="depends on route choice and elastic demand (traffic issues): measured -28% (section control) and "
    "-12% (fixed) of the treated primary streets' veh-km diverted on the small schematic network",
)
@pytest.mark.parametrize("variant", ["section", "fixed"])
def test_cameras_keep_their_traffic(small: Pairs, variant: str) -> None:
    """Høye 2015: volumes at section-control sites unchanged; Høye 2014 meta-analysis: crash migration by
    re-routing 'may occur in some cases' but is not common. Here: treated streets keep at least 90% of their
    veh-km."""
    _, vkm = change_per_veh_km(small, variant)
    assert vkm >= -0.10, f"{vkm:+.1%}"


def zone_sites(runs: Pairs, inner_m: float, outer_m: float) -> tuple[Sites, np.ndarray]:
    net = runs.network("base")
    mask = (
        near_centre(net, outer_m) & ~near_centre(net, inner_m) if inner_m > 0 else near_centre(net, outer_m)
    )
    return Sites.of_links(net, mask), np.flatnonzero(mask)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="borderline and traffic-dependent: measured -49.4% (main at 08:00 UTC; -4x% inside the interval on the "
    "07:40 main) against -36.0..-47.8%; part of the fall is traffic leaving the zone (fixed demand and route "
    "choice, traffic issues), which Grundy's zones did not show",
)
def test_centre_30_inside(small: Pairs) -> None:
    """Grundy et al. 2009 (BMJ 339:b4469; London 20 mph zones, 1986-2006): casualties inside the zones -41.9%
    (95% CI -36.0% to -47.8%), all severities (SCIENCE.md §11). Casualties per year on the zone's streets."""
    sites, _ = zone_sites(small, 0.0, ZONE_M)
    base = [casualties(r, sites) for r in small.results["base"]]
    var = [casualties(r, sites) for r in small.results["centre30"]]
    change = paired_change(base, var)
    low, high = cmf_range("risk.cmf.zone_20mph.inside")
    assert low <= change <= high, f"{change:+.1%}"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="depends on route choice and elastic demand (traffic issues): traffic leaving the zone raises "
    "casualties in the ring around it instead of the -8% Grundy found",
)
def test_centre_30_adjacent(small: Pairs) -> None:
    """Grundy et al. 2009: no casualty migration; casualties in adjacent areas -8.0% (95% CI -4.4% to -11.5%).
    Adjacent here: the 1 km ring around the zone."""
    sites, _ = zone_sites(small, ZONE_M, 2.0 * ZONE_M)
    base = [casualties(r, sites) for r in small.results["base"]]
    var = [casualties(r, sites) for r in small.results["centre30"]]
    change = paired_change(base, var)
    low, high = cmf_range("risk.cmf.zone_20mph.adjacent")
    assert low <= change <= high, f"{change:+.1%}"


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    # the 80 km/h expressways (al-Farabi, VOAD) lie only in the district-sized schematic extent
    files = write_scenarios(
        tmp_path_factory.mktemp("arterials"),
        {
            "limit60": (
                '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 60\nenforcement = "police"\n'
                'where = { name = ["al-Farabi Avenue", "Eastern Ring Road (VOAD)"], speed_limit_kph = 80 }\n'
            )
        },
        scale="district",
        demand=0.1,
        duration_s=600,
    )
    return run_pairs(files, replications=1)  # one pair: the district network is the suite's longest run


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,
    reason="measured -0.3% injury casualties per veh-km (veh-km -0.1%) on one district pair, against -25..-35%: "
    "the police speed response (0.3 of the limit change, SCIENCE.md §4, derived) should give about -6 km/h and "
    "about -8%; the cause of the near-zero change is not traced yet (link speeds are running speeds, so not "
    "signal delay); "
    "Elvik 2013 also notes that not all of Oslo's reduction can be attributed to the limits",
)
def test_arterials_80_to_60_injuries_per_veh_km(district: Pairs) -> None:
    """Elvik 2013 (Safety Science 55:10, Oslo environmental speed limits 80 -> 60 km/h on arterials, four
    before-after designs): injury accidents -25 to -35% (risk.cmf.speed_limit_80_60.injury). Injury casualties
    per veh-km on the treated arterials (occupants and pedestrians, all severities)."""
    change, vkm = change_per_veh_km(district, "limit60", severities=("fatal", "serious", "slight"))
    print(f"arterials 80->60: injuries per veh-km {change:+.1%}, veh-km {vkm:+.1%}")
    low, high = cmf_range("risk.cmf.speed_limit_80_60.injury")
    assert low <= change <= high, f"{change:+.1%}"
