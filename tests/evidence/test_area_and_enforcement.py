"""Evidence: 30 km/h zones, lower arterial limits and speed cameras, end to end against the published studies.

Real pipeline (prepare / run_replication) on the SCHEMATIC network, paired replications at the central parameter
values (the model's central effect against each study's interval). One table of cases, each
with the study, the interval it found (the range of a parameter in risk.toml, with its source) and how the model's
effect is measured:

- casualty effects per vehicle-km on the treated streets: the links the interventions touched
  (``PreparedScenario.touched``), the junctions at their ends and the crossings their vehicles pass;
- area effects: casualties per year inside a zone or in the ring around it;
- traffic effects: the treated streets' vehicle-km;
- speed effects: the treated streets' mean running speed [km/h].

A variant's drivers start from the paired baseline replication's routes and leave them only for a saving beyond
their indifference band (boundedly rational route switching, ``traffic.route_choice.indifference_band_*``), as
a comparison runs them. Cases that fail for a traced cause are expected failures with the measured numbers in the
reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from evidence_fixtures import (
    Pairs,
    Sites,
    casualties,
    cmf_interval,
    evidence_param,
    near_centre,
    paired_change,
    run_variants,
    touched_links,
    veh_km,
)
from risk_fixtures import one_road

from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import mph_to_kph
from vision_zero.risk.crash_model import speed_effect
from vision_zero.traffic.simulation import TrafficSettings, desired_speed_kph

KSI = ("fatal", "serious")
INJURIES = ("fatal", "serious", "slight")
ZONE_M = 1000.0
CENTRE = "near = { lon = 76.93, lat = 43.24, radius_m = 1000 }"
EXPRESSWAYS = 'where = { name = ["al-Farabi Avenue", "Eastern Ring Road (VOAD)"], speed_limit_kph = 80 }\n'


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    return run_variants(
        tmp_path_factory,
        "area",
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
        central_parameters=True,
    )


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    # the 80 km/h expressways (al-Farabi, VOAD) lie only in the district-sized schematic extent; one pair: the
    # district network is the suite's longest run
    return run_variants(
        tmp_path_factory,
        "arterials",
        {
            "limit60": '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 60\nenforcement = "police"\n'
            + EXPRESSWAYS,
            "section80": '[[interventions]]\ntype = "speed_camera"\nmode = "section"\n' + EXPRESSWAYS,
            "fixed80": '[[interventions]]\ntype = "speed_camera"\nmode = "fixed"\n' + EXPRESSWAYS,
        },
        scale="district",
        demand=0.1,
        duration_s=600,
        replications=1,
        central_parameters=True,
    )


def per_veh_km(severities: tuple[str, ...]) -> Callable[[Pairs, str], float]:
    """Casualties of ``severities`` per veh-km on the streets the variant touched, paired change."""

    def measure(runs: Pairs, variant: str) -> float:
        mask = touched_links(runs, variant)
        assert mask.sum() > 20
        sites = Sites.of_links(runs.network("base"), mask)
        links = np.flatnonzero(mask)

        def rate(name: str) -> list[float]:
            return [
                casualties(r, sites, severities=severities) / veh_km(r, links) for r in runs.results[name]
            ]

        return paired_change(rate("base"), rate(variant))

    return measure


def in_ring(inner_m: float, outer_m: float) -> Callable[[Pairs, str], float]:
    """Casualties per year (all severities) on the links within ``outer_m`` of the centre and beyond ``inner_m``."""

    def measure(runs: Pairs, variant: str) -> float:
        net = runs.network("base")
        mask = near_centre(net, outer_m)
        if inner_m > 0:
            mask &= ~near_centre(net, inner_m)
        sites = Sites.of_links(net, mask)
        return paired_change(
            [casualties(r, sites) for r in runs.results["base"]],
            [casualties(r, sites) for r in runs.results[variant]],
        )

    return measure


def treated_veh_km(runs: Pairs, variant: str) -> float:
    """Paired change of the veh-km on the streets the variant touched."""
    links = np.flatnonzero(touched_links(runs, variant))
    return paired_change(
        [veh_km(r, links) for r in runs.results["base"]], [veh_km(r, links) for r in runs.results[variant]]
    )


def mean_speed_change_kph(runs: Pairs, variant: str) -> float:
    """Change of the veh-km-weighted mean running speed on the streets the variant touched [km/h], pairs pooled."""
    links = np.flatnonzero(touched_links(runs, variant))

    def mean_speed(name: str) -> float:
        speed = vkm = 0.0
        for r in runs.results[name]:
            lt = r.link_traffic
            m = lt[lt["link"].isin(links) & lt["mean_speed_kph"].notna()]
            speed += float((m["mean_speed_kph"] * m["veh_km_per_year"]).sum())
            vkm += float(m["veh_km_per_year"].sum())
        return speed / vkm

    return mean_speed(variant) - mean_speed("base")


def speed_response_interval(enforcement: str, limit_change_kph: float) -> Callable[[], tuple[float, float]]:
    """The mean-speed change a limit change gives with the range of its speed response (interventions.toml)."""

    def interval() -> tuple[float, float]:
        p = load_parameters()[f"interventions.speed_limit.speed_response.{enforcement}"]
        assert p.low is not None and p.high is not None and p.source
        return p.high * limit_change_kph, p.low * limit_change_kph

    return interval


@dataclass(frozen=True)
class Case:
    """One row of the evidence table: a variant, how its effect is measured, and the interval it must fall in."""

    fixture: str
    variant: str
    measure: Callable[[Pairs, str], float]
    interval: Callable[[], tuple[float, float]]
    study: str


def cmf(name: str) -> Callable[[], tuple[float, float]]:
    return lambda: cmf_interval(name)


def at_least(low: float) -> Callable[[], tuple[float, float]]:
    return lambda: (low, float("inf"))


def case(
    fixture: str,
    variant: str,
    measure: Callable[[Pairs, str], float],
    interval: Callable[[], tuple[float, float]],
    study: str,
    *,
    id: str,
    xfail: str | None = None,
) -> Any:
    """One row of :data:`CASES` (a pytest parameter; ``xfail``: the traced reason it still fails)."""
    return evidence_param(Case(fixture, variant, measure, interval, study), id=id, xfail=xfail)


CASES = [
    case(
        "district",
        "section80",
        per_veh_km(KSI),
        cmf("risk.cmf.section_control.ksi"),
        "Høye 2015 (Accid. Anal. Prev. 74:169; EB before-after, 14 Norwegian sites, mostly 80 km/h roads): "
        "KSI -49% (-35..-60%) at section-control sites; here section control on the 80 km/h expressways, with the "
        "measured speed response of 80 km/h section-control sites (Ragnøy 2011, Vienna's Kaisermühlen tunnel: mean "
        "-10% / -16%; Montella et al. 2015: -84% of drivers more than 20 km/h over the limit)",
        id="section_control_80kph_ksi_per_veh_km",
    ),
    case(
        "district",
        "fixed80",
        per_veh_km(KSI),
        cmf("risk.cmf.speed_camera.ksi"),
        "Wilson et al. 2010 (Cochrane review): KSI -11% to -44% near fixed speed-camera sites (SCIENCE.md §3); "
        "here fixed cameras on the 80 km/h expressways, where little traffic can leave",
        id="fixed_cameras_80kph_ksi_per_veh_km",
    ),
    case(
        "small",
        "fixed",
        per_veh_km(KSI),
        cmf("risk.cmf.speed_camera.ksi"),
        "Wilson et al. 2010 (Cochrane review): KSI -11% to -44% near fixed speed-camera sites (SCIENCE.md §3); "
        "here fixed cameras on the urban primaries",
        id="fixed_cameras_ksi_per_veh_km",
    ),
    case(
        "district",
        "limit60",
        per_veh_km(INJURIES),
        cmf("risk.cmf.speed_limit_80_60.injury"),
        "Elvik 2013 (Safety Science 55:10; Oslo environmental limits 80 -> 60 km/h on arterials, four "
        "before-after designs): injury accidents -25..-35%",
        id="arterials_80_to_60_injuries_per_veh_km",
        xfail="measured -10.2% injuries per veh-km at the central parameters (2026-11-30, main 993b37b; unchanged on "
        "071a3b7, after f103d9b; district schematic, 1 pair, load ~10; the same on 498f96b): the driven mean falls "
        "89.4 -> 83.4 km/h (-6.0 km/h, -6.7%; Oslo -5.8 km/h, Folgerø, Harding & Westby 2019: the next row), veh-km "
        "-0.7%, and the casualties fall exactly as Elvik 2009's freeway exponents give for that speed: slight -9.5% "
        "(0.933^1.4: -9.3%), serious -21.1% (^3.5: -21.7%), killed -26.6% (^4.6: -27.5%); slight are 88% of the "
        "casualties. The spread scales with the mean (sd = cv x mean), so the per-vehicle power model equals the "
        "mean's. A -25% from a 6.7% fall in mean speed needs an exponent of about 4.2 for all injuries. Over limit "
        "reductions alone Musicant, Bar-Gera & Schechtman 2016 fitted 2.81 (SD 0.65) on the mean-speed ratio, twice "
        "Elvik's slight-injury exponent (which is fitted over all speed changes): -17.7% at -6.7%, closer but still "
        "short; their limit-ratio model gives Oslo's -30% (test_oslos_effect_is_what_limit_reductions_typically_did). "
        "So a lower limit cuts crashes more than its mean-speed change says through Elvik's exponents; what else it "
        "changes (the fast tail, dispersion) is not modelled, and no source found says by how much. Elvik 2013: not "
        "all of Oslo's reduction can be attributed to the limits. (The -0.3% of an earlier session was a measuring "
        "error: every link counted as treated.)",
    ),
    case(
        "district",
        "limit60",
        mean_speed_change_kph,
        speed_response_interval("police", -20.0),
        "Folgerø, Harding & Westby 2019 (NHH SAM 17/2019): Oslo's 80 -> 60 km/h limits cut travel speed by "
        "5.8 km/h; interventions.speed_limit.speed_response.police 0.2-0.4 of the limit change (SCIENCE.md §4)",
        id="arterials_80_to_60_mean_speed",
    ),
    case(
        "small",
        "centre30",
        in_ring(0.0, ZONE_M),
        cmf("risk.cmf.zone_20mph.inside"),
        "Grundy et al. 2009 (BMJ 339:b4469; London 20 mph zones 1986-2006): casualties inside the zones "
        "-41.9% (95% CI -36.0..-47.8%), all severities (SCIENCE.md §11)",
        id="centre_30_inside",
        xfail="measured -23.1% at the central parameters (-32.9% with Kimber & Coombe's priority-junction capacities, traffic.give_way.gap_acceptance = 2, a511f3c, load ~3; off again by default since) (2026-11-30, main 993b37b, unchanged on 071a3b7, with calming's "
        "design speed as the calmed street's 85th percentile; -21.8% with the cap at the mean; small schematic, 2 "
        "pairs, load ~10). Where (diagnosed on 9fd7293): 82% of the zone's casualties are vehicle occupants at "
        "junctions and 15% on main-street links, nearly all on the primaries (75% of the zone's veh-km), where the "
        "camera-enforced 30 km/h limit (speed response 0.4) takes the mean from 69.4 to 57.4 km/h (-17%): occupants "
        "there -22%. The calmed residential streets go 59.8 -> 29.9 km/h and their casualties -58%, but they carry "
        "0.5% of the zone's casualties (10% of its veh-km). Pedestrians are 3% of the zone's casualties (-12%, slight "
        "+2%), because calibrated pedestrian injuries are 3% of all injuries against the 30% of "
        "calibration.almaty.pedestrian_share_of_injured (the pedestrian severity mix). Grundy's zones were "
        "residential streets with physical calming, driven 25 -> 16 mph (Webster & Mackie 1996): the power model at "
        "those speeds gives -41.2% (test_the_power_model_at_the_zones_measured_speeds_gives_grundys_effect), so the "
        "program's speeds on its camera-enforced main streets, not the risk chain, hold the gap. Tried, not kept (no "
        "source for either on a main street at 30 km/h): the fixed camera's compliance (Wilson 2010) on top of the "
        "police response at the new limit, -54.2% inside and ring +3.2% (primaries 44.8 km/h, veh-km -31%); calming "
        "on every street, -80.1% inside and ring +10.4% (primaries 30 km/h, veh-km -70%)",
    ),
    case(
        "small",
        "centre30",
        in_ring(ZONE_M, 2.0 * ZONE_M),
        cmf("risk.cmf.zone_20mph.adjacent"),
        "Grundy et al. 2009: no casualty migration; casualties in adjacent areas -8.0% (95% CI -4.4..-11.5%); "
        "adjacent here: the 1 km ring around the zone",
        id="centre_30_adjacent",
        xfail="measured -2.4% (+0.5% with Kimber & Coombe's capacities, gap_acceptance = 2, a511f3c, load ~3) (central parameters, 2026-11-30, main 993b37b, unchanged on 071a3b7, with calming's "
        "85th-percentile design speed, which slows the zone's residential streets a little more; -3.0% with the cap "
        "at the mean; +6.9% before drivers kept their baseline routes within their indifference band, -4.3% with a "
        "240 s band): the right sign, no migration, but short of Grundy's -8% (-4.4..-11.5). The ring's casualties "
        "are 96% occupants, three quarters of them at junctions (-3%, diagnosed on 9fd7293); every variant that slows "
        "the zone more sends more of its traffic through the ring (the fixed camera's compliance at the new limit: "
        "+3.2%; calming on every street: +10.4%), where Grundy saw none. The traffic that leaves a slowed zone "
        "(evaporation rather than rerouting: Cairns et al.) is the demand response's and route choice's, not this "
        "row's mechanism",
    ),
    case(
        "small",
        "section",
        lambda runs, variant: treated_veh_km(runs, variant),
        at_least(-0.10),
        "Høye 2015: volumes at section-control sites unchanged; Høye 2014 (Accid. Anal. Prev. 73:200): crash "
        "migration by re-routing 'may occur in some cases' but is not common. Treated streets keep >= 90% of "
        "their veh-km",
        id="section_control_keeps_its_traffic",
    ),
    case(
        "small",
        "fixed",
        lambda runs, variant: treated_veh_km(runs, variant),
        at_least(-0.10),
        "Høye 2014 meta-analysis: re-routing around speed cameras is not common. Treated streets keep >= 90% "
        "of their veh-km",
        id="fixed_cameras_keep_their_traffic",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_effect_within_the_published_interval(case: Case, request: pytest.FixtureRequest) -> None:
    """The modelled effect of each case falls inside the interval of its study (``Case.study``)."""
    runs: Pairs = request.getfixturevalue(case.fixture)
    change = case.measure(runs, case.variant)
    low, high = case.interval()
    print(f"{case.variant}: {change:+.3g} (evidence {low:+.3g} .. {high:+.3g}; {case.study})")
    assert low <= change <= high, f"{change:+.3g} outside {low:+.3g} .. {high:+.3g} ({case.study})"


def test_the_power_model_at_the_zones_measured_speeds_gives_grundys_effect() -> None:
    """The risk model's power model (Elvik 2009's urban exponents per severity), applied to the mean speeds UK 20 mph
    zones reached (Webster & Mackie 1996, TRL 215: 25 -> 16 mph with physical calming) and weighted by the severity
    mix of British urban casualties (Reported Road Casualties GB 2013, built-up roads), falls inside Grundy et al.
    2009's interval for casualties inside London's zones (-36.0..-47.8%).

    So the speed-to-casualty chain reproduces the study at the study's speeds; where the centre-30 row misses, the
    modelled speeds (or the casualty mix) differ from the zones', not the power model. Fast: no pipeline.
    """
    params = load_parameters()
    central = params.central()
    before = mph_to_kph(params.value("risk.evidence.zone_20mph.mean_speed_before_mph"))
    after = mph_to_kph(params.value("risk.evidence.zone_20mph.mean_speed_after_mph"))
    mix = {s: params.value(f"risk.evidence.gb_built_up_2013.{s}") for s in INJURIES}
    after_casualties = sum(
        n * float(speed_effect(after, before, s, parameters=central, speed_model="power"))
        for s, n in mix.items()
    )
    change = after_casualties / sum(mix.values()) - 1.0
    low, high = cmf_interval("risk.cmf.zone_20mph.inside")
    print(
        f"power model at {before:.1f} -> {after:.1f} km/h: {change:+.3f} (Grundy {low:+.3f} .. {high:+.3f})"
    )
    assert low <= change <= high


def test_a_street_calmed_like_a_uk_20_mph_zone_is_driven_near_the_zones_measured_mean() -> None:
    """A 30 mph street made a 20 mph zone with physical calming (speed response ``calming``, design speed the new
    limit) is driven at a mean below the 20 mph design speed and nearer to the zones' measured 16 mph (Webster &
    Mackie 1996, TRL 215; the speeds at which the power model gives Grundy's effect, test above) than to it: the
    design speed is the street's 85th percentile (``traffic._model.DESIGN_SPEED_QUANTILE``), not its mean (a cap
    at the mean gave 20 mph). Fast: no pipeline."""
    params = load_parameters()
    settings = TrafficSettings.from_parameters(params)
    limit_kph, before_kph = mph_to_kph(20.0), mph_to_kph(30.0)
    links = one_road(limit_kph=limit_kph).links.assign(
        reference_speed_kph=before_kph,
        speed_response=params.value("interventions.speed_limit.speed_response.calming"),
        design_speed_kph=limit_kph,
    )
    z = np.random.default_rng(0).standard_normal(100_000)
    mean_mph = float(
        desired_speed_kph(links, np.zeros(z.size, dtype=np.int64), z, settings).mean()
    ) / mph_to_kph(1.0)
    measured = params.value("risk.evidence.zone_20mph.mean_speed_after_mph")
    print(f"calmed 20 mph zone: mean {mean_mph:.1f} mph (Webster & Mackie {measured:g} mph)")
    # below the design speed, and nearer the measured mean than the design speed (a cap at the mean gives 20 mph)
    assert measured <= mean_mph < 20.0 and mean_mph - measured < 20.0 - mean_mph


def test_oslos_effect_is_what_limit_reductions_typically_did() -> None:
    """Musicant, Bar-Gera & Schechtman 2016 (108 limit-change results of Elvik et al.'s 2004 database): for
    reductions, accidents followed the limit ratio with exponent 1.24. At Oslo's 80 -> 60 km/h that is inside Elvik
    2013's -25..-35%: the 80 -> 60 row's interval is what limit reductions typically did, not an outlier to widen
    (its expected failure says where the model falls short). Fast: no pipeline."""
    params = load_parameters()
    by_limit = (60.0 / 80.0) ** params.value("risk.evidence.limit_reduction.exponent_limit") - 1.0
    low, high = cmf_interval("risk.cmf.speed_limit_80_60.injury")
    print(
        f"Musicant et al.'s limit-ratio model at 80 -> 60 km/h: {by_limit:+.3f} (Elvik 2013 {low:+.2f}..{high:+.2f})"
    )
    assert low <= by_limit <= high


@pytest.mark.parametrize("enforcement", ["police", "camera"])
def test_the_speed_response_gives_the_meta_analysis_mean_speed_ratio(enforcement: str) -> None:
    """Musicant, Bar-Gera & Schechtman 2016 (108 limit-change results): limit reductions to 0.82 of the old limit
    left mean driving speed at 0.93 of its old value (between-study SD 0.04). A 90 km/h road lowered to 0.82 x 90
    with the speed response of police or camera enforcement lands within one SD of it; signs alone (0.1) would not.
    Fast: no pipeline."""
    params = load_parameters()
    settings = TrafficSettings.from_parameters(params)
    before = 90.0
    ratio = params.value("risk.evidence.limit_reduction.limit_ratio")
    road = one_road(limit_kph=before).links
    lowered = road.assign(
        reference_speed_kph=before,
        speed_limit_kph=ratio * before,
        speed_response=params.value(f"interventions.speed_limit.speed_response.{enforcement}"),
    )
    z = np.random.default_rng(0).standard_normal(50_000)
    idx = np.zeros(z.size, dtype=np.int64)
    speed_ratio = float(
        desired_speed_kph(lowered, idx, z, settings).mean() / desired_speed_kph(road, idx, z, settings).mean()
    )
    measured = params.value("risk.evidence.limit_reduction.mean_speed_ratio")
    sd = params.value("risk.evidence.limit_reduction.mean_speed_ratio_sd")
    print(f"{enforcement}: mean speed x{speed_ratio:.3f} (Musicant et al. x{measured:g}, SD {sd:g})")
    assert abs(speed_ratio - measured) <= sd
