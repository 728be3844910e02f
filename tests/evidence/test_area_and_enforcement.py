"""Evidence: 30 km/h zones, lower arterial limits and speed cameras, end to end against the published studies.

Real pipeline (prepare / run_replication) on the SCHEMATIC network, paired replications at the central parameter
values (the model's central effect against each study's interval). One table of cases, each
with the study, the interval it found (the range of a parameter in risk.toml, with its source) and how the model's
effect is measured:

- casualty effects per vehicle-km on the treated streets: the links the interventions touched
  (``PreparedScenario.touched``), the junctions at their ends and the crossings their vehicles pass;
- area effects: casualties per year inside a zone or adjacent to it;
- traffic effects: the treated streets' vehicle-km;
- speed effects: the treated streets' mean running speed [km/h].

A variant's drivers start from the paired baseline replication's routes and leave them only for a saving beyond
their indifference band (boundedly rational route switching, ``traffic.route_choice.indifference_band_*``), as
a comparison runs them. Cases that fail for a traced cause are expected failures with the measured numbers in the
reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
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
from vision_zero.risk.speed_models import _expected_power_of_normal, power_model, speed_effect
from vision_zero.traffic.simulation import TrafficSettings, desired_speed_kph

KSI = ("fatal", "serious")
INJURIES = ("fatal", "serious", "slight")
ZONE_M = 1000.0
CENTRE = "near = { lon = 76.93, lat = 43.24, radius_m = 1000 }"
EXPRESSWAYS = 'where = { name = ["al-Farabi Avenue", "Eastern Ring Road (VOAD)"], speed_limit_kph = 80 }\n'


#: Grundy et al. 2009's program: 20 mph zones with physical calming on residential streets; main roads stay outside
#: them (their limit and traffic unchanged). The zone's streets on the schematic network: its residential classes.
ZONE_STREETS = ("residential", "unclassified")


def twenty_mph_zone_limit_kph() -> float:
    """The limit of Grundy's zones on the schematic network: 20 mph was 2/3 of London's 30 mph urban default, so 2/3
    of Kazakhstan's 60 km/h urban default (40 km/h), calmed. The power model depends on the speed ratio; a 30 km/h
    zone on 60 km/h streets would halve their speeds where London's zones took 25 to 16 mph (x0.64)."""
    p = load_parameters()
    ratio = p.value("risk.evidence.zone_20mph.limit_mph") / p.value("network.default_speed_kph.GB.urban")
    return ratio * p.value("network.default_speed_kph.KZ.urban")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Pairs:
    return run_variants(
        tmp_path_factory,
        "area",
        {
            "zones20mph": (
                f'[[interventions]]\ntype = "speed_limit"\nlimit_kph = {twenty_mph_zone_limit_kph():g}\n'
                f'enforcement = "calming"\nwhere = {{ highway = {json.dumps(list(ZONE_STREETS))}, {CENTRE} }}\n'
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


def zone_sites(runs: Pairs, variant: str) -> tuple[Sites, Sites]:
    """The sites inside the variant's zone and those adjacent to it.

    Inside: the zone's streets (the links the variant touched), the junctions where only zone streets meet and the
    crossings at those junctions or along zone streets. Adjacent: every other site within the zone's circle
    (``ZONE_M``): the main roads the zone leaves out, which cross and bound it, and the junctions where zone streets
    meet them, with their crossings (a crossing goes with its junction: a casualty there is on the main road).
    Grundy et al. 2009 (abstract read; the paper's definition of "adjacent areas" was not reachable) compare
    casualties on road segments inside the zones and in the areas adjacent to them.
    """
    net = runs.network("base")
    zone = touched_links(runs, variant)
    links = net.links
    ends = np.concatenate([links["u"].to_numpy(np.int64), links["v"].to_numpy(np.int64)])
    legs = pd.Series(np.concatenate([zone, zone])).groupby(ends).all()
    own = legs.index[legs.to_numpy()].to_numpy(np.int64)
    crossing = net.crossings
    at_link = crossing["link"].to_numpy(np.int64)
    on_zone = np.where(at_link >= 0, zone[np.maximum(at_link, 0)], np.isin(crossing["node"].to_numpy(), own))
    inside = Sites(
        frozenset(np.flatnonzero(zone).tolist()),
        frozenset(own.tolist()),
        frozenset(crossing.index[on_zone].tolist()),
    )
    area = Sites.of_links(net, near_centre(net, ZONE_M))
    adjacent = Sites(
        area.links - inside.links, area.junctions - inside.junctions, area.crossings - inside.crossings
    )
    return inside, adjacent


def in_zone(part: int) -> Callable[[Pairs, str], float]:
    """Paired change of the casualties per year (all severities) inside the zone (``part`` 0) or adjacent to it (1)."""

    def measure(runs: Pairs, variant: str) -> float:
        sites = zone_sites(runs, variant)[part]
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


def at_most(high: float) -> Callable[[], tuple[float, float]]:
    return lambda: (-float("inf"), high)


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
        xfail="measured -9.6% injuries per veh-km (2026-12-02 on main a8030a6, load ~4; -9.5..-10.2% over the changes "
        "since 2026-11-30; district schematic, 1 pair, central parameters). The dose is Oslo's: the driven "
        "mean falls 89.4 -> 83.4 km/h (-6.0 km/h, x0.933; Oslo -5.8 km/h, Folgerø, Harding & Westby 2019: the next "
        "row), veh-km -0.7%. The casualties fall as Elvik 2009's freeway exponents give at x0.933: slight -9.5% (^1.4: "
        "-9.3%), serious -21.1% (^3.5: -21.7%), killed -26.6% (^4.6: -27.5%); slight are 88% of them. -25..-35% at "
        "x0.933 needs one exponent of 4.2..6.2 for all injuries. Ruled out (fast tests): a narrower spread (-12.0% "
        "with none at all: test_no_narrowing_of_the_speed_spread_reaches_oslos_effect; Parker 1997 found 85th "
        "percentiles unchanged by limit changes, Garber & Gadiraju 1989 the variance least 5-10 mph under the design "
        "speed); Musicant, Bar-Gera & Schechtman 2016's mean-speed exponent over limit reductions, 2.81: -17.7% (their "
        "limit-ratio model gives -30%: test_oslos_effect_is_what_limit_reductions_typically_did). What the stored "
        "sources say (searched 2026-12-02): (1) Elvik 2013, Safety Science 55:10: only its abstract and first page are "
        "stored (vbn.aau.dk, safetylit.org, 9pdf.net): four designs, -25..-35%, and 'it cannot be claimed that the "
        "entire accident reduction was attributable to the environmental speed limits exclusively'; its speed data and "
        "any comparison with the power model are not readable, so whether Elvik found the power model under-predicting "
        "Oslo is unknown. (2) Elvik, Samferdsel 1/2013 (samferdsel.toi.no): the limit lacked a legal basis, so the "
        "police could not enforce it, yet it 'seems to affect both speed and accidents' (translated); traffic changed "
        "little. Aftenposten 2018-12: the police did not enforce it and the speed cameras there were switched off. "
        "Oslo's -5.8 km/h came without enforcement; the row takes the police response (0.3) as it gives that speed "
        "(signs alone, 0.1: -2 km/h). (3) Cameron & Elvik 2010, AAP 42:1908 (abstract, pubmed): the power for serious "
        "casualties is significantly lower on urban arterials than on rural highways, and lower there than on "
        "freeways, so urban exponents would widen the gap; their exponential model's betas are not in the abstract. "
        "(4) Elvik 2013, AAP 50:854 (abstract, SWOV cardweb): exponents as exponential functions of initial speed, a "
        "given relative change doing most at the highest initial speeds; no stored source gives the coefficients (the "
        "GRSF Speed Impact Tool page names Elvik's exponential model; the tool is not stored). So no published model "
        "with coefficients read gives Oslo's effect at Oslo's speed change: the row is a gap between Elvik's "
        "exponents, which the model applies, and Elvik's Oslo before-after.",
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
    # measured -47.1% (2026-12-01, after the pedestrians' lag acceptance and junction crossings taking every leg's
    # pedestrians); -47.5% (57e8fdb with crossings where only local streets meet; -47.7% without them, main
    # 3d730e3 and c47aa7e; small schematic, 2 pairs, central parameters, load ~10), at the interval's strong edge:
    # the zone's streets go 59.9 -> 34.8 km/h (x0.58; Webster & Mackie's zones x0.64, where the power model gives
    # -41.2%: test_the_power_model_at_the_zones_measured_speeds_gives_grundys_effect). The casualties inside are
    # occupants but for 2.2% pedestrians (test_twenty_mph_zones_count_the_pedestrians_inside: the zone's 15
    # crossings where only its streets meet and its streets; -24.1% when calmed; 0.9% since junction crossings take
    # every leg's pedestrians, before the lag acceptance; 0.5% before that, 1.3% and -44.5% before those crossings,
    # all on its streets: schematic.crossings.local_junction_share's note says why), so Grundy's largest fall
    # (pedestrians inside the zones, in children) weighs almost nothing here: network-wide the calibrated chain's
    # pedestrians are 15.9% of the casualties against 30% in the targets (test_speed_and_severity.py), fewest at
    # residential speeds. Measured before those crossings: a 30 km/h zone (x0.44) -63.8%; with Kimber & Coombe's
    # priority-junction capacities (option traffic.give_way.gap_acceptance = 2, off by default) -64.4%, the zone's
    # streets losing 22% of their veh-km.
    case(
        "small",
        "zones20mph",
        in_zone(0),
        cmf("risk.cmf.zone_20mph.inside"),
        "Grundy et al. 2009 (BMJ 339:b4469; London 20 mph zones 1986-2006): casualties inside the zones "
        "-41.9% (95% CI -36.0..-47.8%), all severities (SCIENCE.md §11); here their program: the residential "
        "streets within 1 km of the centre calmed to 2/3 of the urban default (twenty_mph_zone_limit_kph), main "
        "roads left out",
        id="twenty_mph_zones_inside",
    ),
    case(
        "small",
        "zones20mph",
        in_zone(1),
        cmf("risk.cmf.zone_20mph.adjacent"),
        "Grundy et al. 2009: casualties in areas adjacent to the zones -8.0% (95% CI -4.4..-11.5%); adjacent here: "
        "the rest of the zone's circle (the main roads it leaves out, the junctions where its streets meet them)",
        id="twenty_mph_zones_adjacent",
        xfail="measured -1.49% on 2026-12-01 on main 9e3e8e9 (route choice max_iterations 3 -> 8); -1.43% after the record's 'stopped' became the event loop's held flag and the lag spread was re-fitted (0.87 -> 0.67); -1.45% after junction crossings took every leg's pedestrians and each vehicle meets 2 / legs of them (issue 13, crossing_leg_weight); -1.47% after the pedestrians' lag acceptance "
        "(risk.pedestrian.critical_lag.*); "
        "-1.61% before it at the central parameters (2026-12-01, 57e8fdb with crossings where only local streets "
        "meet, -1.62% without them; -1.8% on 2026-11-30, main fd669a5 and c47aa7e; small schematic, 2 pairs, load "
        "~11): "
        "the right sign and no migration (next row), but short of Grundy's -8% (-4.4..-11.5). The adjacent "
        "sites fall only where the zone's streets meet the main roads (junctions -6.0%: the calmed approaches are "
        "slower); the main roads' own junctions and links -0.7% / -0.9%, their mean speed unchanged (68.3 km/h) "
        "and their veh-km -0.7%. The zone's streets keep their traffic (veh-km -1.1% at 59.9 -> 34.8 km/h): "
        "residential streets carry little through traffic, so little diverts. Nothing in the model lowers speeds "
        "or traffic beyond the calmed streets, which is what a fall in the adjacent areas needs (Grundy et al. "
        "name no mechanism in the abstract read). The same zone at 30 km/h: adjacent -2.4%, zone veh-km -4.1%. With Kimber & Coombe's capacities "
        "(gap_acceptance = 2, off by default; c47aa7e, load ~13): -4.4%, at the interval's edge, as the zone's "
        "streets lose 22% of their veh-km (inside -64.4%), ring 1-2 km +0.4%",
    ),
    case(
        "small",
        "zones20mph",
        in_zone(1),
        at_most(0.0),
        "Grundy et al. 2009: no evidence of casualty migration to areas adjacent to the zones: casualties there do "
        "not rise",
        id="twenty_mph_zones_no_casualty_migration",
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


@pytest.mark.slow
def test_twenty_mph_zones_count_the_pedestrians_inside(small: Pairs) -> None:
    """Grundy et al. 2009 count every casualty inside the zones, pedestrians (their largest fall, in children)
    included: the zone's inside sites hold crossings where only its streets meet (the schematic's crossings at
    local junctions, ``schematic.crossings.local_junction_share``), pedestrians are hurt there and on the zone's
    streets in the baseline, and calming the streets lowers their casualties. The pedestrians' share of the
    casualties inside is printed beside the occupants' (no source for it on residential streets was found)."""
    inside, _ = zone_sites(small, "zones20mph")
    crossings = small.network("base").crossings.loc[sorted(inside.crossings)]
    assert len(crossings) >= 5 and (crossings["node"] >= 0).all()

    def total(name: str, road_user: str) -> float:
        return sum(casualties(r, inside, road_user=road_user) for r in small.results[name])

    peds, occupants = total("base", "pedestrian"), total("base", "occupant")
    at_crossings = sum(
        casualties(r, Sites.of_crossings(inside.crossings), road_user="pedestrian")
        for r in small.results["base"]
    )
    change = total("zones20mph", "pedestrian") / peds - 1.0
    print(
        f"inside the zone: {len(crossings)} crossings; baseline pedestrians {peds:.4g} / yr ({at_crossings:.4g} at "
        f"crossings), {peds / (peds + occupants):.1%} of the casualties inside; calmed: pedestrians {change:+.1%}"
    )
    assert at_crossings > 0.0 and peds > at_crossings
    assert change < 0.0


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


def test_no_narrowing_of_the_speed_spread_reaches_oslos_effect() -> None:
    """What the 80 -> 60 row's expected failure says of the spread, computed: the risk chain applies Elvik 2009's
    freeway exponents to each vehicle's speed, drawn normal with sd = cv x mean, so a limit that also narrowed the
    spread would add ``1 / E[(1 + cv z) ** p]`` per severity. At the model's dose (police response on an 80 km/h
    road lowered to 60: mean x0.933, as Oslo's -5.8 km/h) and Almaty's severity mix (calibration.*), even a spread
    removed entirely (cv -> 0, the upper bound) leaves the injury change short of Elvik 2013's -25..-35%. So no
    change in dispersion closes the row's gap through the power model. Fast: no pipeline."""
    params = load_parameters()
    central = params.central()
    before = 80.0 + central["traffic.desired_speed.offset_kph"]
    ratio = (before + central["interventions.speed_limit.speed_response.police"] * (60.0 - 80.0)) / before
    deaths = central["calibration.almaty.deaths_per_year"]
    injured = central["calibration.almaty.casualties_per_year"] - deaths
    serious = central["calibration.serious_share_of_injured"] * injured
    mix = {"fatal": deaths, "serious": serious, "slight": injured - serious}
    total = sum(mix.values())
    exponent = np.array([central[f"risk.power_model.exponent.rural_freeway.{s}"] for s in mix])
    weight = np.array(list(mix.values())) / total
    by_mean = float((weight * power_model(ratio, exponent)).sum()) - 1.0
    no_spread = (
        float(
            (
                weight
                * power_model(ratio, exponent)
                / _expected_power_of_normal(exponent, central["traffic.desired_speed.cv"])
            ).sum()
        )
        - 1.0
    )
    low, high = cmf_interval("risk.cmf.speed_limit_80_60.injury")
    print(
        f"80 -> 60 km/h, mean x{ratio:.3f}: injuries {by_mean:+.3f} at the same spread, {no_spread:+.3f} with none "
        f"(Elvik 2013 {low:+.2f}..{high:+.2f})"
    )
    assert by_mean > no_spread > high


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
