"""Each intervention: its effect on the network, on the simulation, and on the risk model (toy network)."""

import math

import numpy as np
import pandas as pd
import pytest
from scenario_fixtures import link_id, node_id, toy_network

from vision_zero.core.errors import SelectorError
from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import kph_to_mps
from vision_zero.program.interventions import (
    INTERVENTIONS,
    ApplyContext,
    Crossing,
    RoadDiet,
    Roundabout,
    SpeedCamera,
    SpeedLimit,
    TrafficCalming,
    apply_bindings,
)
from vision_zero.risk import crash_model as risk
from vision_zero.traffic.demand import default_periods
from vision_zero.traffic.pedestrians import pedestrian_demand
from vision_zero.traffic.simulation import TrafficRecord, simulate

PARAMS = load_parameters()
CENTRAL = PARAMS.central()
CTX = ApplyContext(parameters=PARAMS, origin="test.toml", key="interventions[0]")
PERIODS = (default_periods(PARAMS)[0],)


@pytest.fixture(scope="module")
def net():
    return toy_network()


def simulate_toy(network) -> TrafficRecord:
    """300 trips in the AM peak, A<->G and E<->F, with fixed random streams (the same for every variant)."""
    a, g, e, f = (node_id(network, x) for x in "AGEF")
    n = 300
    rng = np.random.default_rng(1)
    trips = pd.DataFrame(
        {
            "trip": np.arange(n),
            "period": "am_peak",
            "origin": np.tile([a, g, e, f], n // 4),
            "destination": np.tile([g, a, f, e], n // 4),
            "depart_s": np.sort(rng.uniform(0, 3600, n)),
        }
    )
    peds = pedestrian_demand(network, periods=PERIODS, params=PARAMS)
    return simulate(
        network,
        trips,
        peds,
        rng=np.random.default_rng(2),
        periods=PERIODS,
    )


def mean_speed(record: TrafficRecord, links: list[int]) -> float:
    s = record.link_stats
    s = s[s["link"].isin(links)]
    return float(np.average(s["mean_speed_kph"], weights=s["entries"]))


def injuries(
    network, record, *, modifiers=None, site_type=None, sites=None, road_user=None, severity=None
) -> float:
    est = risk.estimate(network, record, parameters=CENTRAL, modifiers=modifiers)
    inj = est.injuries
    m = np.ones(len(inj), dtype=bool)
    if site_type is not None:
        m &= (inj["site_type"] == site_type).to_numpy()
    if sites is not None:
        m &= inj["site"].isin(sites).to_numpy()
    if road_user is not None:
        m &= (inj["road_user"] == road_user).to_numpy()
    if severity is not None:
        m &= inj["severity"].isin([severity] if isinstance(severity, str) else severity).to_numpy()
    return float(inj.loc[m, "per_year_raw"].sum())


@pytest.fixture(scope="module")
def base_record(net):
    return simulate_toy(net)


def abay_links(net) -> list[int]:
    return [int(i) for i in np.flatnonzero(net.links["name"] == "Abay Avenue")]


def farabi_links(net) -> list[int]:
    return [link_id(net, "D", "G"), link_id(net, "G", "D")]


def side_links(net) -> list[int]:
    return [int(i) for i in np.flatnonzero(net.links["name"] == "Side Street")]


def test_registry_names():
    assert set(INTERVENTIONS) == {
        "speed_limit",
        "speed_camera",
        "crossing",
        "traffic_calming",
        "road_diet",
        "roundabout",
    }
    for name, cls in INTERVENTIONS.items():
        assert cls.kind == name and cls.__doc__


# -------------------------------------------------------------------------------------------- speed limit


def test_speed_limit_changes_the_network(net):
    iv = SpeedLimit(type="speed_limit", limit_kph=30, enforcement="calming", where={"name": "Abay Avenue"})
    eff = iv.apply(net, CTX)
    links = eff.network.links
    abay = abay_links(net)
    assert (links.loc[abay, "speed_limit_kph"] == 30).all()
    assert (links.loc[abay, "reference_speed_kph"] == 60).all()  # the old limit is kept
    assert (
        links.loc[abay, "speed_response"] == PARAMS.value("interventions.speed_limit.speed_response.calming")
    ).all()
    assert (links.loc[abay, "design_speed_kph"] == 30).all()
    np.testing.assert_allclose(
        links.loc[abay, "free_flow_travel_time_s"], links.loc[abay, "length_m"] / kph_to_mps(30.0)
    )
    others = [i for i in range(len(links)) if i not in abay]
    assert (links.loc[others, "speed_limit_kph"] == net.links.loc[others, "speed_limit_kph"]).all()
    # cost: km of street (two-way counted once) x (signs + calming) per km
    km = (
        net.links.loc[
            [link_id(net, "A", "B"), link_id(net, "B", "C"), link_id(net, "C", "D")], "length_m"
        ].sum()
        / 1e3
    )
    assert eff.cost.quantity == pytest.approx(km)
    per_km = PARAMS.value("interventions.speed_limit.cost.unit_cost") + PARAMS.value(
        "interventions.speed_limit.cost.calming_unit_cost"
    )
    assert eff.cost.capital == pytest.approx(km * per_km)
    assert eff.selection.links == 6


def test_speed_limit_slows_traffic_by_enforcement_and_lowers_risk(net, base_record):
    abay = abay_links(net)
    speeds = {}
    for enforcement in ("signs", "camera", "calming"):
        iv = SpeedLimit(
            type="speed_limit", limit_kph=30, enforcement=enforcement, where={"name": "Abay Avenue"}
        )
        eff = iv.apply(net, CTX)
        rec = simulate_toy(eff.network)
        speeds[enforcement] = mean_speed(rec, abay)
        if enforcement == "calming":
            before = injuries(net, base_record, site_type="link", sites=abay, severity=["fatal", "serious"])
            after = injuries(eff.network, rec, site_type="link", sites=abay, severity=["fatal", "serious"])
            assert after < 0.8 * before
    base = mean_speed(base_record, abay)
    assert base > speeds["signs"] > speeds["camera"] > speeds["calming"]


def test_bindings_redraw_the_speed_response(net):
    iv = SpeedLimit(type="speed_limit", limit_kph=40, enforcement="signs", where={"name": "Side Street"})
    eff = iv.apply(net, CTX)
    (binding,) = eff.bindings
    assert binding.parameter == "interventions.speed_limit.speed_response.signs"
    drawn = apply_bindings(eff.network, eff.bindings, {binding.parameter: 0.17})
    side = side_links(net)
    assert (drawn.links.loc[side, "speed_response"] == 0.17).all()
    assert (drawn.links.drop(index=side)["speed_response"] == 1.0).all()
    assert (eff.network.links.loc[side, "speed_response"] == 0.1).all()  # the prepared network is not changed


# ------------------------------------------------------------------------------------------- speed camera


def test_speed_camera_slows_traffic_and_lowers_occupant_risk(net, base_record):
    eff = SpeedCamera(type="speed_camera", mode="fixed", where={"name": "al-Farabi Avenue"}).apply(net, CTX)
    far = farabi_links(net)
    links = eff.network.links
    assert (
        links.loc[far, "mean_speed_factor"]
        == PARAMS.value("interventions.speed_camera.fixed.mean_speed_factor")
    ).all()
    assert (
        links.loc[far, "over_limit_factor"]
        == PARAMS.value("interventions.speed_camera.fixed.over_limit_factor")
    ).all()
    assert (links.drop(index=far)["mean_speed_factor"] == 1.0).all()
    assert eff.cost.unit == "camera site" and eff.cost.quantity == 1  # 0.81 km: one site
    rec = simulate_toy(eff.network)
    assert mean_speed(rec, far) < mean_speed(base_record, far)
    before = injuries(net, base_record, site_type="link", sites=far, road_user="occupant", severity="fatal")
    after = injuries(eff.network, rec, site_type="link", sites=far, road_user="occupant", severity="fatal")
    assert 0 < after < before


def test_a_link_is_charged_and_slowed_for_one_camera_only(net):
    # the Vision Zero package's pattern: a camera-enforced 30 limit, then fixed cameras on the same avenue
    limit = SpeedLimit(type="speed_limit", limit_kph=30, enforcement="camera", where={"name": "Abay Avenue"})
    cams = SpeedCamera(type="speed_camera", mode="fixed", where={"name": ["Abay Avenue", "al-Farabi Avenue"]})
    alone = cams.apply(net, CTX)
    first = limit.apply(net, CTX)
    second = cams.apply(first.network, CTX)
    abay, far = abay_links(net), farabi_links(net)
    links = second.network.links
    assert links.loc[abay + far, "camera_enforced"].all()
    assert (
        links.loc[abay, "mean_speed_factor"] == 1.0
    ).all()  # Abay's camera effect is in its speed response
    assert (links.loc[far, "mean_speed_factor"] < 1.0).all()
    assert second.selection.links == len(far) and second.notes
    # by hand: the cameras alone cost ceil(Abay km + Farabi km) sites, after the limit only ceil(Farabi km)
    km = lambda ids: net.links.loc[ids, "length_m"].sum() / 2e3  # noqa: E731 (two-way: each street once)
    assert alone.cost.quantity == math.ceil(km(abay) + km(far))
    assert second.cost.quantity == math.ceil(km(far))
    # the other order: the limit after the cameras pays signs only, no second camera
    again = limit.apply(alone.network, CTX)
    signs = PARAMS.value("interventions.speed_limit.cost.unit_cost")
    assert again.cost.capital == pytest.approx(first.cost.quantity * signs)
    assert again.cost.annual == 0.0
    assert first.cost.capital == pytest.approx(
        first.cost.quantity * (signs + PARAMS.value("interventions.speed_camera.cost.fixed_unit_cost"))
    )


# ---------------------------------------------------------------------------------------------- crossings


def test_crossing_upgrade_to_raised_lowers_pedestrian_risk(net, base_record):
    iv = Crossing(
        type="crossing",
        action="upgrade",
        crossing_type="raised",
        where={"highway": "primary"},
        existing={"signalised": False},
    )
    eff = iv.apply(net, CTX)
    cr = eff.network.crossings
    assert cr.loc[1, "crossing_type"] == "raised"  # the zebra at C
    assert cr.loc[0, "crossing_type"] == "signalised" and cr.loc[2, "crossing_type"] == "unmarked"
    assert cr.loc[1, "design_speed_kph"] == PARAMS.value("risk.pedestrian.raised.design_speed_kph")
    assert eff.selection.crossings == 1 and eff.cost.capital == PARAMS.value(
        "interventions.crossing.cost.raised"
    )
    before = injuries(net, base_record, site_type="crossing", sites=[1], severity=["fatal", "serious"])
    after = injuries(eff.network, base_record, site_type="crossing", sites=[1], severity=["fatal", "serious"])
    assert 0 < after < 0.8 * before


def test_raised_crossings_apply_the_vehicle_cmf_to_occupants_at_their_sites(net, base_record):
    # upgrade the crossings Abay Avenue passes over: the signal crossing at junction B and the zebra at C
    eff = Crossing(
        type="crossing", action="upgrade", crossing_type="raised", where={"name": "Abay Avenue"}
    ).apply(net, CTX)
    assert list(eff.network.crossings["crossing_type"]) == ["raised", "raised", "unmarked"]
    b = node_id(net, "B")
    # links whose vehicles pass over B (all four ending at B) and over C (both ending at C); B is a junction
    # (4 legs), C is not (2 legs), so only B is a junction site
    into_b = [link_id(net, x, "B") for x in "ACEF"]
    into_c = [link_id(net, x, "C") for x in "BD"]
    mods = eff.modifiers
    assert set(mods["parameter"]) == {"risk.cmf.raised_crosswalk.vehicle"}
    assert set(mods["road_user"]) == {"occupant"} and set(mods["severity"]) == {"all"}
    assert sorted(mods.loc[mods["site_type"] == "link", "site"]) == sorted(into_b + into_c)
    assert list(mods.loc[mods["site_type"] == "junction", "site"]) == [b]
    cmf = PARAMS.value("risk.cmf.raised_crosswalk.vehicle")
    for site_type, sites in (("link", into_b + into_c), ("junction", [b])):
        without = injuries(eff.network, base_record, site_type=site_type, sites=sites, road_user="occupant")
        with_cmf = injuries(
            eff.network, base_record, modifiers=mods, site_type=site_type, sites=sites, road_user="occupant"
        )
        assert without > 0 and with_cmf == pytest.approx(cmf * without, rel=1e-12)
    # pedestrians (modelled through approach speed) and occupants elsewhere are untouched by the CMF
    for kw in ({"road_user": "pedestrian"}, {"site_type": "link", "sites": farabi_links(net)}):
        assert injuries(eff.network, base_record, modifiers=mods, **kw) == injuries(
            eff.network, base_record, **kw
        )
    # a site that already has a raised crossing gets the factor once, not again
    again = Crossing(type="crossing", action="upgrade", crossing_type="raised", where={"name": "Abay Avenue"})
    assert len(again.apply(eff.network, CTX).modifiers) == 0
    marked = Crossing(
        type="crossing", action="upgrade", crossing_type="marked", where={"name": "Abay Avenue"}
    )
    assert len(marked.apply(net, CTX).modifiers) == 0


def test_new_crossings_are_simulated_and_carry_risk(net):
    iv = Crossing(
        type="crossing",
        action="add",
        crossing_type="signalised",
        every_m=200,
        where={"name": "al-Farabi Avenue"},
    )
    eff = iv.apply(net, CTX)
    new_ids = list(range(len(net.crossings), len(eff.network.crossings)))
    assert len(new_ids) == 4 and eff.selection.crossings == 4
    assert set(
        eff.network.crossing_links.loc[eff.network.crossing_links["crossing"].isin(new_ids), "link"]
    ) == set(farabi_links(net))
    rec = simulate_toy(eff.network)
    assert set(new_ids) <= set(rec.passages["crossing"])  # vehicles pass over them
    assert injuries(eff.network, rec, site_type="crossing", sites=new_ids, road_user="pedestrian") > 0


def test_crossing_add_and_upgrade_keys_are_exclusive():
    with pytest.raises(ValueError, match="every_m"):
        Crossing(type="crossing", action="add", crossing_type="marked")
    with pytest.raises(ValueError, match="every_m"):
        Crossing(type="crossing", action="upgrade", crossing_type="marked", every_m=100)


# ---------------------------------------------------------------------------------------- traffic calming


def test_traffic_calming_caps_speeds_and_lowers_risk(net, base_record):
    eff = TrafficCalming(type="traffic_calming", design_speed_kph=20, where={"name": "Side Street"}).apply(
        net, CTX
    )
    side = side_links(net)
    assert (eff.network.links.loc[side, "design_speed_kph"] == 20).all()
    assert eff.network.links.drop(index=side)["design_speed_kph"].isna().all()
    km = 2 * net.links.loc[link_id(net, "E", "B"), "length_m"] / 1000
    assert eff.cost.quantity == math.ceil(km * 1000 / PARAMS.value("interventions.traffic_calming.spacing_m"))
    rec = simulate_toy(eff.network)
    assert mean_speed(rec, side) < mean_speed(base_record, side) - 10
    before = injuries(net, base_record, site_type="link", sites=side, severity=["fatal", "serious"])
    after = injuries(eff.network, rec, site_type="link", sites=side, severity=["fatal", "serious"])
    assert after < before


# ---------------------------------------------------------------------------------------------- road diet


def test_road_diet_halves_capacity_and_applies_its_cmf(net, base_record):
    eff = RoadDiet(type="road_diet", lanes=1, where={"name": "Abay Avenue"}).apply(net, CTX)
    abay = abay_links(net)
    links = eff.network.links
    assert (links.loc[abay, "lanes"] == 1).all()
    np.testing.assert_allclose(links.loc[abay, "capacity_vph"], net.links.loc[abay, "capacity_vph"] / 2)
    np.testing.assert_allclose(links.loc[abay, "storage_veh"], net.links.loc[abay, "storage_veh"] / 2)
    mods = eff.modifiers
    assert set(mods["parameter"]) == {"risk.cmf.road_diet.all"} and sorted(mods["site"]) == sorted(abay)
    assert set(mods["site_type"]) == {"link"}
    without = injuries(eff.network, base_record, site_type="link", sites=abay)
    with_cmf = injuries(eff.network, base_record, modifiers=mods, site_type="link", sites=abay)
    assert with_cmf == pytest.approx(PARAMS.value("risk.cmf.road_diet.all") * without)
    with pytest.raises(SelectorError, match="fewer lanes"):
        RoadDiet(type="road_diet", lanes=1, where={"name": "Side Street"}).apply(net, CTX)


# --------------------------------------------------------------------------------------------- roundabout


def test_roundabout_converts_the_junction_and_applies_its_cmfs(net, base_record):
    eff = Roundabout(type="roundabout", where={"name": "Abay Avenue"}).apply(net, CTX)
    b = node_id(net, "B")
    nodes = eff.network.nodes
    assert nodes.loc[b, "junction_control"] == "roundabout" and not nodes.loc[b, "signalised"]
    assert eff.selection.junctions == 1
    cr = eff.network.crossings
    assert cr.loc[0, "crossing_type"] == "marked"  # the signal crossing at B becomes a zebra on the approach
    assert cr.loc[0, "design_speed_kph"] == PARAMS.value("interventions.roundabout.entry_design_speed_kph")
    entering = np.flatnonzero(net.links["v"] == b)
    cap = (
        PARAMS.value("interventions.roundabout.entry_capacity_vph_per_lane")
        * net.links.loc[entering, "lanes"]
    )
    np.testing.assert_allclose(eff.network.links.loc[entering, "exit_capacity_vph"], cap)
    others = np.setdiff1d(np.arange(len(net.links)), entering)
    assert eff.network.links.loc[others, "exit_capacity_vph"].isna().all()
    mods = eff.modifiers
    for severity, param in (
        ("fatal", "risk.cmf.roundabout.fatal"),
        ("serious", "risk.cmf.roundabout.injury"),
    ):
        without = injuries(eff.network, base_record, site_type="junction", sites=[b], severity=severity)
        with_cmf = injuries(
            eff.network, base_record, modifiers=mods, site_type="junction", sites=[b], severity=severity
        )
        assert without > 0 and with_cmf == pytest.approx(PARAMS.value(param) * without)
    rec = simulate_toy(eff.network)  # the simulation runs with the converted junction
    assert int(rec.trips["completed"].sum()) == len(rec.trips)


def test_roundabout_entry_capacity_and_design_speed_follow_the_draw(net):
    """Two draws, two roundabouts: B's entering links (2, 2, 1, 1 lanes) get lanes x the drawn entry capacity,
    under the 1,000 veh/h cap one of them had before; B's crossing gets the drawn entry design speed."""
    b = node_id(net, "B")
    entering = np.flatnonzero(net.links["v"] == b)
    assert net.links.loc[entering, "lanes"].tolist() == [2, 2, 1, 1]
    links = net.links.copy()
    links["exit_capacity_vph"] = np.nan
    links.loc[entering[0], "exit_capacity_vph"] = 1000.0  # a lower cap from before: it stays
    before = net.with_tables(links=links)
    eff = Roundabout(type="roundabout", where={"name": "Abay Avenue"}).apply(before, CTX)
    cap = "interventions.roundabout.entry_capacity_vph_per_lane"
    speed = "interventions.roundabout.entry_design_speed_kph"
    assert {x.parameter for x in eff.bindings} == {cap, speed}
    low = apply_bindings(eff.network, eff.bindings, {cap: 700.0, speed: 25.0})
    high = apply_bindings(eff.network, eff.bindings, {cap: 1100.0, speed: 40.0})
    assert low.links.loc[entering, "exit_capacity_vph"].tolist() == [1000.0, 1400.0, 700.0, 700.0]
    assert high.links.loc[entering, "exit_capacity_vph"].tolist() == [1000.0, 2200.0, 1100.0, 1100.0]
    assert low.crossings.loc[0, "design_speed_kph"] == 25.0
    assert high.crossings.loc[0, "design_speed_kph"] == 40.0
    others = np.setdiff1d(np.arange(len(net.links)), entering)
    for drawn in (low, high):
        assert drawn.links.loc[others, "exit_capacity_vph"].isna().all()
        assert drawn.crossings.loc[1:, "design_speed_kph"].isna().all()  # crossings at other nodes
    central = apply_bindings(eff.network, eff.bindings, CENTRAL)  # the central draw: the applied network
    pd.testing.assert_frame_equal(central.links, eff.network.links)
    pd.testing.assert_frame_equal(central.crossings, eff.network.crossings)


def test_cost_override_from_the_scenario(net):
    iv = RoadDiet(
        type="road_diet",
        lanes=1,
        where={"name": "Abay Avenue"},
        cost={"unit_cost": 1000, "lifetime_years": 5},
    )
    cost = iv.apply(net, CTX).cost
    assert (
        cost.unit_cost == 1000
        and cost.lifetime_years == 5
        and cost.capital == pytest.approx(1000 * cost.quantity)
    )
    assert cost.source.startswith("scenario file")
