"""Pedestrians crossing away from the mapped crossings: beside them and on the streets no crossing serves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from risk_fixtures import PERIOD, junction, link_record, one_road, record, star

from vision_zero.core.parameters import load_parameters
from vision_zero.network.road_network import RoadNetwork
from vision_zero.risk.away_from_crossings import injuries_away_from_crossings, injuries_on_streets
from vision_zero.risk.crossing_passages import (
    crossing_injuries,
    crossing_leg_weight,
)
from vision_zero.traffic.pedestrians import pedestrian_demand, street_pedestrian_demand
from vision_zero.traffic.simulation import TrafficRecord

P = load_parameters().central()


# --- away from crossings ----------------------------------------------------------------------------------
def test_away_from_crossings_scales_with_share() -> None:
    net = one_road(crossing_type="marked")
    rec = record(net, speed_kph=50.0, peds_per_hour=200)
    base = injuries_away_from_crossings(net, rec, parameters=P)
    assert set(base["site"]) == {0, 1} and (base["site_type"] == "link").all()
    p2 = dict(P)
    p2["risk.pedestrian.share_away_from_crossings"] = 0.2
    more = injuries_away_from_crossings(net, rec, parameters=p2)
    expected = (0.2 / 0.8) / (0.11 / 0.89)
    assert more["per_year_raw"].sum() / base["per_year_raw"].sum() == pytest.approx(expected)
    faster = injuries_away_from_crossings(net, record(net, speed_kph=60.0, peds_per_hour=200), parameters=P)
    fatal = lambda df: df.loc[df.severity == "fatal", "per_year_raw"].sum()  # noqa: E731
    assert fatal(faster) > fatal(base)


# --- streets between mapped crossings --------------------------------------------------------------------
def _residential_star() -> RoadNetwork:
    net = star(signalised=False)
    return net.with_tables(links=net.links.assign(highway="residential"))


def _street_totals(net: RoadNetwork, rec: TrafficRecord, parameters: dict[str, float] = P) -> pd.Series:
    return injuries_on_streets(net, rec, parameters=parameters).groupby("severity")["per_year_raw"].sum()


def test_local_streets_without_a_crossing_get_crossing_pedestrians_from_the_demand_model() -> None:
    """Pedestrians cross a residential street at its junction end (the star's centre; the arms' outer ends are dead
    ends, no crossing point): casualties on every arm, in proportion to the demand model's local rate and flow."""
    net = _residential_star()
    rec = link_record(net, [300.0] * len(net.links), speed_kph=40.0)
    base = injuries_on_streets(net, rec, parameters=P)
    assert set(base["site"]) == set(range(len(net.links))) and (base["site_type"] == "link").all()
    assert (base["road_user"] == "pedestrian").all() and (base["per_year_raw"] > 0).all()
    doubled = dict(P)
    doubled["demand.pedestrians_per_hour.local"] = 2.0 * P["demand.pedestrians_per_hour.local"]
    ratio = _street_totals(net, rec, doubled) / _street_totals(net, rec)
    assert ratio.to_numpy() == pytest.approx(2.0)
    busier = _street_totals(net, link_record(net, [600.0] * len(net.links), speed_kph=40.0))
    assert (busier / _street_totals(net, rec)).to_numpy() == pytest.approx(2.0)


def test_local_street_deaths_are_a_small_share_at_30_kph_and_rise_with_speed() -> None:
    """Severity of the unmarked crossing chain on a local street: about 1% deaths at 30 km/h (Rosén & Sander's
    curve through reaction and braking), several times more at 60 km/h."""
    net = _residential_star()
    share = {}
    for v in (30.0, 60.0):
        t = _street_totals(net, link_record(net, [300.0] * len(net.links), speed_kph=v))
        share[v] = t["fatal"] / t.sum()
    assert share[30.0] < 0.02 and share[60.0] > 4.0 * share[30.0]


def test_streets_served_by_a_crossing_or_arterials_get_no_street_crossings() -> None:
    """A street with a mapped crossing has its pedestrians there (crossing_injuries, injuries_away_from_crossings);
    arterials are crossed at their mapped crossings only."""
    road = one_road()
    road = road.with_tables(links=road.links.assign(highway="residential"))
    assert injuries_on_streets(road, record(road), parameters=P).empty
    arterial = star(signalised=False)
    assert injuries_on_streets(arterial, link_record(arterial, [300.0] * 8), parameters=P).empty


def _with_passages(net: RoadNetwork, flows_vph: list[float], speed_kph: float) -> TrafficRecord:
    """``link_record`` plus each vehicle entering the centre node as a passage of its crossing at ``speed_kph``
    (neither stopped nor turning: the street model's running speed), and the demand model's pedestrians."""
    rec = link_record(net, flows_vph, speed_kph=speed_kph)
    into = np.flatnonzero(net.links["v"].to_numpy() == 0)
    rng = np.random.default_rng(3)
    link = np.repeat(into, [int(flows_vph[i]) for i in into])
    passages = pd.DataFrame(
        {
            "period": PERIOD.name,
            "crossing": 0,
            "t_s": np.sort(rng.uniform(0.0, PERIOD.duration_s, len(link))),
            "speed_kph": speed_kph,
            "link": link,
            "stopped": False,
            "turning": False,
        }
    )
    peds = pedestrian_demand(net, periods=(PERIOD,), params=load_parameters())
    return dataclasses.replace(rec, passages=passages, pedestrian_demand=peds)


@pytest.mark.parametrize("arms", [3, 4])
def test_a_crossing_mapped_at_a_junction_moves_its_streets_pedestrians_and_meets_the_same_vehicles(
    arms: int,
) -> None:
    """Hand case (issue 13): one junction of ``arms`` residential streets, known flows, the demand model's local rate.

    Unmapped, each street is crossed at its junction end by ``lambda = local x land use`` pedestrians an hour
    (:func:`street_pedestrian_demand`), each meeting the vehicles entering and leaving the junction by that street:
    ``sum_legs lambda (in + out) = 2 lambda F`` meetings per hour-window (``F``: vehicles through the junction).
    That is what is physically right: a pedestrian crossing at a junction crosses one leg. Mapped as one crossing
    on the junction node, the crossing gets every leg's pedestrians (``arms x lambda``) and each vehicle through
    it crosses two legs' crosswalks, meeting ``2 / arms`` of them (:func:`crossing_leg_weight`): again
    ``2 lambda F``. So the pedestrians and their casualties (at the crossing, away from it, and on the streets)
    are the same whether the junction's crossing is mapped or not. Before this accounting the crossing took
    ``lambda`` once per junction and met each pedestrian with every vehicle (``lambda F``, half the meetings at
    four legs) and lost the streets' own: mapping a crossing lost 53% of the junction's pedestrian casualties."""
    # unequal legs, in and out differing on each leg; as many vehicles leave the junction as enter it
    flows_in = [100.0, 200.0, 300.0, 400.0][:arms]
    flows_out = flows_in[::-1]
    plain, mapped = junction(arms, ""), junction(arms, "unmarked")
    link_flows = [
        flows_out[int(v) - 1] if u == 0 else flows_in[int(u) - 1]
        for u, v in plain.links[["u", "v"]].to_numpy()
    ]
    speed = 40.0
    assert crossing_leg_weight(mapped).tolist() == [pytest.approx(2.0 / arms)]

    # pedestrians: the junction's crossing takes the sum of its streets' junction-end pedestrians
    streets = street_pedestrian_demand(plain, periods=(PERIOD,), params=load_parameters())
    per_street = streets["peds_per_h"].sum() / 2.0  # one row per direction; both directions are one street
    at_crossing = pedestrian_demand(mapped, periods=(PERIOD,), params=load_parameters())["peds_per_h"].sum()
    assert at_crossing == pytest.approx(per_street) and per_street > 0
    assert (
        street_pedestrian_demand(mapped, periods=(PERIOD,), params=load_parameters())["peds_per_h"].sum() == 0
    )

    unmapped = _street_totals(plain, link_record(plain, link_flows, speed_kph=speed))
    rec = _with_passages(mapped, link_flows, speed)
    parts = [
        crossing_injuries(mapped, rec, parameters=P),
        injuries_away_from_crossings(mapped, rec, parameters=P),
        injuries_on_streets(mapped, rec, parameters=P),
    ]
    with_crossing = pd.concat(parts).groupby("severity")["per_year_raw"].sum()
    assert with_crossing.reindex(unmapped.index).to_numpy() == pytest.approx(unmapped.to_numpy(), rel=1e-9)


def test_street_crossings_read_each_vehicles_speed_from_the_histogram() -> None:
    """The speed histogram spreads the link's vehicles over their running speeds: half at 20 and half at 60 km/h
    give the mean of the two single-speed results, not the result at the mean speed."""
    net = _residential_star()
    flows = [300.0] * len(net.links)

    def with_hist(speeds: list[float]) -> TrafficRecord:
        rec = link_record(net, flows, speed_kph=float(np.mean(speeds)))
        hist = pd.DataFrame(
            [
                {"period": "peak", "link": link, "bin_lo_kph": v - 2.5, "count": 150 * 2 // len(speeds)}
                for link in range(len(flows))
                for v in speeds
            ]
        )
        return dataclasses.replace(rec, speed_hist=hist)

    low, high, mixed = (_street_totals(net, with_hist(v)) for v in ([20.0], [60.0], [20.0, 60.0]))
    assert mixed.to_numpy() == pytest.approx(0.5 * (low + high).to_numpy())
    at_mean = _street_totals(net, link_record(net, flows, speed_kph=40.0))
    assert mixed["fatal"] > 1.5 * at_mean["fatal"]


def test_kept_exposure_gives_every_parameter_set_what_a_fresh_run_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tornado's re-runs (``KeptExposure``, :func:`vision_zero.risk.crash_model.injury_parts` with ``reuse``)
    prepare the pedestrians away from the crossings and on the streets once, joined to the traffic, and keep that
    with the parameters it read: parameter sets in turn give, bit for bit, what a fresh call gives; only the share
    crossing away from the crossings (beside them) and the demand model's rates (on the streets) prepare again."""
    from vision_zero.risk import away_from_crossings as away

    share = "risk.pedestrian.share_away_from_crossings"
    moves = [
        ({}, False, False),
        ({"risk.pedestrian.walking_speed_mps": 1.0}, False, False),
        ({"risk.pedestrian.lane_width_m": 3.0}, False, False),
        ({"risk.pedestrian.perception_reaction.median_s": 2.0}, False, False),
        ({"risk.pedestrian.critical_lag.median_s": 6.0}, False, False),
        ({"risk.pedestrian.nonyield_elasticity": 0.45}, False, False),
        ({share: 0.2}, True, False),
        ({"demand.pedestrians_per_hour.local": 2.0 * P["demand.pedestrians_per_hour.local"]}, False, True),
        ({}, False, False),
    ]
    road = one_road(crossing_type="marked")
    road_rec = record(road, speed_kph=50.0, peds_per_hour=200)
    star_net = _residential_star()
    star_rec = link_record(star_net, [300.0] * len(star_net.links), speed_kph=40.0)
    prepared: list[str] = []
    inner_away, inner_streets = away._away_rows, away._street_rows

    def counted(name: str, inner: object) -> object:
        def wrapper(*args: object) -> object:
            prepared.append(name)
            return inner(*args)  # type: ignore[operator]

        return wrapper

    monkeypatch.setattr(away, "_away_rows", counted("beside", inner_away))
    monkeypatch.setattr(away, "_street_rows", counted("streets", inner_streets))
    beside, streets = away.KeptExposure(road, road_rec), away.KeptExposure(star_net, star_rec)
    injuries_away_from_crossings(road, road_rec, parameters=P, exposure=beside)
    injuries_on_streets(star_net, star_rec, parameters=P, exposure=streets)
    for changes, again_beside, again_streets in moves:
        values = {**P, **changes}
        prepared.clear()
        got_beside = injuries_away_from_crossings(road, road_rec, parameters=values, exposure=beside)
        got_streets = injuries_on_streets(star_net, star_rec, parameters=values, exposure=streets)
        assert prepared == ["beside"] * again_beside + ["streets"] * again_streets, changes
        for got, fresh in (
            (got_beside, injuries_away_from_crossings(road, road_rec, parameters=values)),
            (got_streets, injuries_on_streets(star_net, star_rec, parameters=values)),
        ):
            assert len(fresh) and fresh["per_year_raw"].gt(0).all()
            pd.testing.assert_frame_equal(got, fresh, check_exact=True)
