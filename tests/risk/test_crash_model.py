"""Vehicle-occupant model, the whole estimate, modifiers and calibration, on hand-built networks."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pytest
from risk_fixtures import PERIOD, link_record, one_road, record, star

from vision_zero.core.errors import ConfigError, DataError, ParameterError
from vision_zero.core.parameters import load_parameters
from vision_zero.core.units import km_to_miles
from vision_zero.network.road_network import CROSSING_TYPES, RoadNetwork
from vision_zero.risk import crash_model as risk
from vision_zero.risk import link_speed_effect, speed_models
from vision_zero.traffic.periods import annual_factor
from vision_zero.traffic.simulation import SPEED_BIN_KPH, TrafficRecord

PARAMS = load_parameters()
P = PARAMS.central()


def _sum(
    est: risk.CrashEstimate, *, site_type: str, user: str, severity: str, col: str = "per_year_raw"
) -> float:
    i = est.injuries
    m = (i.site_type == site_type) & (i.road_user == user) & (i.severity == severity)
    return float(i.loc[m, col].sum())


# --- SPFs -------------------------------------------------------------------------------------------------
def test_segment_spf_hand_example() -> None:
    # HSM eq. 12-10, two-lane undivided: exp(-15.22 + 1.68 ln 10000) * 1 mile
    assert float(risk.segment_spf(10_000, 1.0, a=-15.22, b=1.68)) == pytest.approx(
        math.exp(-15.22 + 1.68 * math.log(10_000))
    )
    assert float(risk.segment_spf(0.0, 1.0, a=-15.22, b=1.68)) == 0.0


def test_one_road_occupants_match_hand_calculation() -> None:
    net = one_road(lanes=1)
    rec = link_record(net, [600.0, 400.0], speed_kph=59.5)  # 59.5 = 50 limit + 9.5 offset: neutral speed
    est = risk.estimate(net, rec, parameters=P)
    days = 365.0
    aadt = np.array([600.0, 400.0]) * annual_factor(PERIOD) / days
    crashes = math.exp(-15.22 + 1.68 * math.log(aadt.sum())) * km_to_miles(1.0)
    for s in risk.SEVERITIES:
        expected = (
            crashes * P["risk.occupant.casualties_per_spf_crash"] * P[f"risk.occupant.severity_share.{s}"]
        )
        assert _sum(est, site_type="link", user="occupant", severity=s) == pytest.approx(expected)
        # link 0 carries 60% of the road's flow
        i = est.injuries
        row = i[(i.site_type == "link") & (i.site == 0) & (i.road_user == "occupant") & (i.severity == s)]
        assert float(row["per_year_raw"].iloc[0]) == pytest.approx(
            crashes
            * 0.6
            * P["risk.occupant.casualties_per_spf_crash"]
            * P[f"risk.occupant.severity_share.{s}"]
        )


def test_junction_matches_hand_calculation() -> None:
    net = star(arms=4, signalised=True)
    # incoming links are the even ids (arm -> centre)
    rec = link_record(net, [400, 300, 400, 300, 200, 100, 200, 100], speed_kph=59.5)
    est = risk.estimate(net, rec, parameters=P)
    q = np.array([400.0, 400.0, 200.0, 200.0]) * annual_factor(PERIOD) / 365.0
    crashes = math.exp(-10.99 + 1.07 * math.log(q[0] + q[1]) + 0.23 * math.log(q[2] + q[3]))
    for s in risk.SEVERITIES:
        expected = (
            crashes * P["risk.occupant.casualties_per_spf_crash"] * P[f"risk.occupant.severity_share.{s}"]
        )
        assert _sum(est, site_type="junction", user="occupant", severity=s) == pytest.approx(expected)
    # three arms, priority control: the 3ST coefficients
    net3 = star(arms=3, signalised=False)
    est3 = risk.estimate(net3, link_record(net3, [300.0] * 6, speed_kph=59.5), parameters=P)
    q3 = np.full(3, 300.0 * annual_factor(PERIOD) / 365.0)
    c3 = math.exp(-13.36 + 1.11 * math.log(2 * q3[0]) + 0.41 * math.log(q3[0]))
    assert _sum(est3, site_type="junction", user="occupant", severity="slight") == pytest.approx(
        c3 * P["risk.occupant.casualties_per_spf_crash"] * P["risk.occupant.severity_share.slight"]
    )


def test_spf_type_from_lanes() -> None:
    kinds = risk.segment_spf_type(one_road(lanes=2).links)
    assert list(kinds) == ["four_lane_undivided", "four_lane_undivided"]
    assert list(risk.segment_spf_type(one_road(lanes=1, two_way=False).links)) == ["two_lane_undivided"]
    divided = one_road(lanes=2).links.assign(divided=True)
    assert set(risk.segment_spf_type(divided)) == {"four_lane_divided"}
    assert set(risk.segment_spf_type(one_road(lanes=3).links)) == {"five_lane_twltl"}


# --- a uniform speed change through the whole pipeline ----------------------------------------------------
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_uniform_speed_change_moves_occupant_casualties_as_the_exponents_say(factor: float) -> None:
    net = star(arms=4)
    flows = [400, 300, 400, 300, 200, 100, 200, 100]
    base = risk.estimate(net, link_record(net, flows, speed_kph=55.0), parameters=P)
    new = risk.estimate(net, link_record(net, flows, speed_kph=55.0 * factor), parameters=P)
    for s in risk.SEVERITIES:
        p = P[f"risk.power_model.exponent.{s}"]
        for site_type in ("link", "junction"):
            ratio = _sum(new, site_type=site_type, user="occupant", severity=s) / _sum(
                base, site_type=site_type, user="occupant", severity=s
            )
            assert ratio == pytest.approx(factor**p)
    # fatal moves most: with Elvik's urban casualty exponents 3.0 / 2.0 / 1.1
    b, n = base.totals("per_year_raw"), new.totals("per_year_raw")
    assert (n["fatal"] / b["fatal"] - 1) * (factor - 1) > (n["slight"] / b["slight"] - 1) * (factor - 1) > 0


def _with_speeds(rec: TrafficRecord, speeds_kph: np.ndarray, link: int = 0) -> TrafficRecord:
    """``rec`` with link ``link``'s running speeds binned into its speed histogram (as the simulation records)."""
    bins = np.floor(speeds_kph / SPEED_BIN_KPH).astype(np.int64)
    lo, count = np.unique(bins, return_counts=True)
    hist = pd.DataFrame(
        {
            "period": PERIOD.name,
            "link": link,
            "bin_lo_kph": lo * SPEED_BIN_KPH,
            "count": count.astype(np.int64),
        }
    )
    stats = rec.link_stats.copy()
    stats.loc[stats["link"] == link, "mean_speed_kph"] = float(speeds_kph.mean())
    return dataclasses.replace(rec, link_stats=stats, speed_hist=hist)


def _link_effect(net: RoadNetwork, rec: TrafficRecord, severity: str) -> float:
    return _sum(risk.estimate(net, rec, parameters=P), site_type="link", user="occupant", severity=severity)


def test_power_model_over_the_speed_distribution() -> None:
    """Drivers at their reference distribution are neutral; cutting the excess over the limit lowers casualties
    more than the power of the mean ratio (the fast drivers weigh more under a power > 1); a uniform change of
    every speed moves them exactly as the power of the mean ratio."""
    net = one_road(two_way=False)
    rec = link_record(net, [500])
    v0 = 50.0 + P["risk.reference_speed.offset_kph"]
    z = np.random.default_rng(1).standard_normal(200_000)
    speeds = v0 * (1.0 + P["traffic.desired_speed.cv"] * z)
    mean_only = _link_effect(net, link_record(net, [500], speed_kph=v0), "fatal")
    assert _link_effect(net, _with_speeds(rec, speeds), "fatal") == pytest.approx(mean_only, rel=0.01)
    limit = 50.0
    cut = np.where(speeds > limit, limit + 0.3 * (speeds - limit), speeds)
    for s in risk.SEVERITIES:
        p = P[f"risk.power_model.exponent.{s}"]
        ratio = _link_effect(net, _with_speeds(rec, cut), s) / _link_effect(net, _with_speeds(rec, speeds), s)
        if (
            p >= 2.0
        ):  # fatal, serious: the tail weighs more; slight (1.1) is near-linear, the mean's power within binning
            assert ratio < (cut.mean() / speeds.mean()) ** p
        else:
            assert ratio == pytest.approx((cut.mean() / speeds.mean()) ** p, rel=0.01)
        uniform = _link_effect(net, _with_speeds(rec, 0.9 * speeds), s) / _link_effect(
            net, _with_speeds(rec, speeds), s
        )
        assert uniform == pytest.approx(0.9**p, rel=0.01)


def test_freeway_links_take_the_rural_and_freeway_exponents() -> None:
    """Elvik 2009 / Cameron & Elvik 2010: motorway and trunk links take the 'rural roads and freeways' exponents."""
    for highway, key in (
        ("trunk", "risk.power_model.exponent.rural_freeway"),
        ("primary", "risk.power_model.exponent"),
    ):
        net = one_road(two_way=False)
        net = net.with_tables(links=net.links.assign(highway=highway))
        base = risk.estimate(net, link_record(net, [500], speed_kph=60.0), parameters=P)
        new = risk.estimate(net, link_record(net, [500], speed_kph=54.0), parameters=P)
        for s in risk.SEVERITIES:
            ratio = _sum(new, site_type="link", user="occupant", severity=s) / _sum(
                base, site_type="link", user="occupant", severity=s
            )
            assert ratio == pytest.approx(0.9 ** P[f"{key}.{s}"]), (highway, s)


def test_uniform_speed_change_exponential_model() -> None:
    net = one_road()
    base = risk.estimate(
        net, link_record(net, [500, 500], speed_kph=60.0), parameters=P, speed_model="exponential"
    )
    new = risk.estimate(
        net, link_record(net, [500, 500], speed_kph=55.0), parameters=P, speed_model="exponential"
    )
    for s in risk.SEVERITIES:
        ratio = _sum(new, site_type="link", user="occupant", severity=s) / _sum(
            base, site_type="link", user="occupant", severity=s
        )
        assert ratio == pytest.approx(math.exp(-5.0 * P[f"risk.exponential_model.beta.{s}"]))
    with pytest.raises(ConfigError, match="speed_model"):
        risk.estimate(net, link_record(net, [500, 500]), parameters=P, speed_model="cubic")


def test_whole_estimate_never_falls_as_speed_rises() -> None:
    net = one_road(crossing_type="marked", lanes=2, lanes_crossed=4)
    prev: dict[str, float] | None = None
    for v in (30.0, 40.0, 50.0, 60.0, 70.0):
        tot = risk.estimate(net, record(net, speed_kph=v, peds_per_hour=200), parameters=P).totals(
            "per_year_raw"
        )
        if prev is not None:
            assert tot["fatal"] >= prev["fatal"] and tot["ksi"] >= prev["ksi"]
        prev = tot


def test_reference_speed_column_is_the_neutral_point() -> None:
    net = one_road()
    links = net.links.assign(
        reference_speed_kph=60.0, speed_limit_kph=40.0
    )  # a new 40 limit, drivers used to 60
    net40 = net.with_tables(links=links)
    est = risk.estimate(net40, link_record(net40, [500, 500], speed_kph=69.5), parameters=P)
    neutral = risk.estimate(net, link_record(net, [500, 500], speed_kph=59.5), parameters=P)
    # at 69.5 km/h = 60 + 9.5 the speed effect is 1, the same as a 50-limit road at 59.5
    assert est.totals("per_year_raw")["fatal"] == pytest.approx(neutral.totals("per_year_raw")["fatal"])


# --- modifiers --------------------------------------------------------------------------------------------
def _mods(rows: list[tuple[str, int, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(risk.MODIFIER_COLUMNS))


def test_modifiers_multiply_matching_rows() -> None:
    net = one_road()
    rec = record(net, speed_kph=50.0)
    base = risk.estimate(net, rec, parameters=P)
    mods = _mods(
        [
            ("link", 0, "all", "all", "risk.cmf.road_diet.all"),
            ("link", -1, "occupant", "ksi", "risk.cmf.speed_humps.ksi"),
        ]
    )
    new = risk.estimate(net, rec, parameters=P, modifiers=mods)
    b, n = (
        base.injuries.set_index(["site_type", "site", "road_user", "severity"]),
        new.injuries.set_index(["site_type", "site", "road_user", "severity"]),
    )
    ratio = (n["per_year_raw"] / b["per_year_raw"]).fillna(1.0)
    assert ratio[("link", 0, "occupant", "fatal")] == pytest.approx(0.71 * 0.69)
    assert ratio[("link", 0, "occupant", "slight")] == pytest.approx(0.71)
    assert ratio[("link", 0, "pedestrian", "slight")] == pytest.approx(0.71)
    assert ratio[("link", 1, "occupant", "serious")] == pytest.approx(0.69)
    assert ratio[("link", 1, "pedestrian", "serious")] == pytest.approx(1.0)
    assert ratio[("crossing", 0, "pedestrian", "fatal")] == pytest.approx(1.0)


def test_modifier_errors_name_the_problem() -> None:
    net = one_road()
    rec = record(net)
    with pytest.raises(ParameterError, match=r"risk\.cmf\.nonexistent"):
        risk.estimate(
            net, rec, parameters=P, modifiers=_mods([("link", 0, "all", "all", "risk.cmf.nonexistent")])
        )
    with pytest.raises(ConfigError, match="severity"):
        risk.estimate(
            net, rec, parameters=P, modifiers=_mods([("link", 0, "all", "grave", "risk.cmf.road_diet.all")])
        )
    with pytest.raises(ConfigError, match="missing"):
        risk.estimate(net, rec, parameters=P, modifiers=pd.DataFrame({"site": [0]}))


# --- calibration ------------------------------------------------------------------------------------------
def test_calibrated_baseline_reproduces_observed_deaths_with_one_factor_per_road_user() -> None:
    net = one_road(crossing_type="marked")
    est = risk.estimate(net, record(net, speed_kph=55.0), parameters=P)
    targets = risk.CalibrationTargets.almaty()
    assert targets.deaths_per_year == 75.0
    assert targets.serious_per_year + targets.slight_per_year == pytest.approx(7475.0 - 75.0)
    cal = risk.calibrate(est, targets)
    tot, f = cal.totals(), cal.calibration
    assert tot["fatal"] == pytest.approx(75.0)
    assert tot["fatal.pedestrian"] / tot["fatal"] == pytest.approx(0.45)
    assert set(f) == {f"{s}.{u}" for s in risk.SEVERITIES for u in risk.ROAD_USERS}
    for u in risk.ROAD_USERS:  # one factor per road user: the severity mix is the model's own
        assert f[f"serious.{u}"] == f[f"fatal.{u}"] == f[f"slight.{u}"]
        raw = est.totals("per_year_raw")
        assert tot[f"serious.{u}"] / tot[f"fatal.{u}"] == pytest.approx(
            raw[f"serious.{u}"] / raw[f"fatal.{u}"]
        )
    # raw values untouched; the factors can be read back from the calibrated table (variants reuse them)
    assert cal.totals("per_year_raw") == est.totals("per_year_raw")
    assert risk.factors_of(cal.injuries) == pytest.approx(f)


def test_road_user_without_observed_deaths_is_calibrated_on_its_injuries() -> None:
    net = one_road(crossing_type="marked")
    est = risk.estimate(net, record(net, speed_kph=55.0), parameters=P)
    targets = dataclasses.replace(risk.CalibrationTargets.almaty(), pedestrian_share_of_deaths=0.0)
    tot = risk.calibrate(est, targets).totals()
    assert tot["fatal.occupant"] == pytest.approx(75.0)
    injured = tot["serious.pedestrian"] + tot["slight.pedestrian"]
    assert injured == pytest.approx((7475.0 - 75.0) * targets.pedestrian_share_of_injured)


def test_variant_keeps_baseline_factors() -> None:
    net = one_road(crossing_type="marked")
    base = risk.estimate(net, record(net, speed_kph=60.0), parameters=P)
    factors = risk.calibration_factors(base.injuries, risk.CalibrationTargets.almaty())
    variant = risk.estimate(net, record(net, speed_kph=50.0), parameters=P, calibration_factors=factors)
    cal_base = risk.apply_calibration(base, factors)
    for key in ("fatal.pedestrian", "fatal.occupant", "serious.occupant"):
        raw_ratio = variant.totals("per_year_raw")[key] / base.totals("per_year_raw")[key]
        assert variant.totals()[key] / cal_base.totals()[key] == pytest.approx(raw_ratio)
    assert variant.totals()["fatal"] < 75.0


def test_targets_scaled_by_network_share_of_vehicle_km() -> None:
    t = risk.CalibrationTargets.almaty().for_network(5.78e8, parameters=P)
    assert t.deaths_per_year == pytest.approx(7.5)
    assert t.pedestrian_share_of_deaths == 0.45
    assert "share" in t.source
    with pytest.raises(ConfigError):
        risk.CalibrationTargets(
            deaths_per_year=-1, serious_per_year=1, slight_per_year=1, pedestrian_share_of_deaths=0.5
        )


def test_calibration_without_pedestrians_is_a_clear_error() -> None:
    net = one_road()
    est = risk.estimate(net, link_record(net, [500, 500]), parameters=P)
    with pytest.raises(DataError, match=r"fatal\.pedestrian"):
        risk.calibration_factors(est.injuries, risk.CalibrationTargets.almaty())
    zero_ped = risk.CalibrationTargets(
        deaths_per_year=10,
        serious_per_year=100,
        slight_per_year=1000,
        pedestrian_share_of_deaths=0.0,
        pedestrian_share_of_injured=0.0,
    )
    assert risk.calibration_factors(est.injuries, zero_ped)["fatal.pedestrian"] == 1.0


# --- parameters -------------------------------------------------------------------------------------------
class _Recorder(Mapping[str, float]):
    def __init__(self, values: Mapping[str, float]) -> None:
        self.values, self.read = dict(values), set()

    def __getitem__(self, key: str) -> float:
        self.read.add(key)
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def test_every_parameter_the_code_reads_is_shipped() -> None:
    rec_p = _Recorder(P)
    for ctype in CROSSING_TYPES:
        for lanes in (2, 4):
            net = one_road(crossing_type=ctype, lanes=lanes // 2, lanes_crossed=lanes)
            risk.estimate(net, record(net, peds_per_hour=30), parameters=rec_p)
    for model in speed_models.SPEED_MODELS:
        for arms in (3, 4):
            for sig in (True, False):
                net = star(arms=arms, signalised=sig)
                risk.estimate(net, link_record(net, [100.0] * 2 * arms), parameters=rec_p, speed_model=model)
    for lanes in (1, 2, 3):
        net = one_road(lanes=lanes)
        risk.estimate(net, link_record(net, [100.0, 100.0]), parameters=rec_p)
    net = one_road(lanes=2)
    net = net.with_tables(links=net.links.assign(divided=True))
    risk.estimate(net, link_record(net, [100.0, 100.0]), parameters=rec_p)
    risk.CalibrationTargets.almaty(rec_p).for_network(1e8, parameters=rec_p)
    assert rec_p.read, "nothing was read"
    assert rec_p.read <= set(PARAMS), sorted(rec_p.read - set(PARAMS))
    # the segment types, junction types and both speed models were exercised
    read_a = {k for k in rec_p.read if k.endswith(".a")}
    for t in ("two_lane_undivided", "four_lane_undivided", "four_lane_divided", "five_lane_twltl"):
        assert f"risk.spf.segment.{t}.a" in read_a
    for t in ("signalised_3leg", "signalised_4leg", "priority_3leg", "priority_4leg"):
        assert f"risk.spf.junction.{t}.a" in read_a
    assert {"risk.power_model.exponent.fatal", "risk.exponential_model.beta.fatal"} <= rec_p.read


def test_shipped_risk_parameters_are_sourced_with_valid_ranges() -> None:
    risk_params = {k: p for k, p in PARAMS.items() if k.startswith(("risk.", "calibration."))}
    assert len(risk_params) > 80
    for name, p in risk_params.items():
        assert p.source and p.status in {"checked", "unchecked", "derived", "assumption"}, name
        if p.status == "assumption":
            assert p.note or "Assumption" in p.source, name


def test_draws_are_reproducible_and_vary() -> None:
    net = one_road()
    rec = record(net, speed_kph=55.0)
    a = risk.estimate(net, rec, parameters=PARAMS.draw(np.random.default_rng(3)))
    b = risk.estimate(net, rec, parameters=PARAMS.draw(np.random.default_rng(3)))
    c = risk.estimate(net, rec, parameters=PARAMS.draw(np.random.default_rng(4)))
    assert a.totals() == b.totals()
    assert a.totals() != c.totals()
    assert a.parameters == b.parameters


def test_no_traffic_no_casualties() -> None:
    net = one_road()
    rec = record(net, flow_vph=0.0, peds_per_hour=0.0)
    est = risk.estimate(net, rec, parameters=P)
    assert (est.injuries["per_year_raw"] == 0).all()
    assert set(est.injuries.columns) == set(risk.INJURY_COLUMNS)
    assert est.injuries.groupby(["site_type", "site", "road_user", "severity"]).size().max() == 1


def test_modifiers_multiply_each_matching_row_in_the_tables_order_bit_for_bit() -> None:
    """apply_modifiers finds each modifier row's rows by site type and site (a sort), not by comparing every row:
    the factors are those of the contract's masks (site -1 every site of the type, road user / severity ``"all"``,
    ``"ksi"`` fatal and serious), multiplied in the modifier table's order, to the last bit."""
    rng = np.random.default_rng(7)
    n = 3000
    injuries = pd.DataFrame(
        {
            "site_type": rng.choice(["link", "junction", "crossing"], n),
            "site": rng.integers(0, 40, n),
            "road_user": rng.choice(["occupant", "pedestrian"], n),
            "severity": rng.choice(["fatal", "serious", "slight"], n),
            "per_year_raw": rng.random(n),
        }
    )
    m = 300
    names = [f"cmf.{i}" for i in range(7)]
    modifiers = pd.DataFrame(
        {
            "site_type": rng.choice(["link", "junction", "crossing"], m),
            "site": np.where(rng.random(m) < 0.2, -1, rng.integers(0, 45, m)),
            "road_user": rng.choice(["occupant", "pedestrian", "all"], m),
            "severity": rng.choice(["fatal", "serious", "slight", "ksi", "all"], m),
            "parameter": rng.choice(names, m),
        }
    )
    values = {name: float(v) for name, v in zip(names, rng.uniform(0.3, 1.7, len(names)), strict=True)}
    factor = np.ones(n)
    st_, site = injuries["site_type"].to_numpy(), injuries["site"].to_numpy()
    user, sev = injuries["road_user"].to_numpy(), injuries["severity"].to_numpy()
    for row in modifiers.itertuples():
        mask = (st_ == row.site_type) & ((site == row.site) if row.site != -1 else True)
        mask &= (user == row.road_user) if row.road_user != "all" else True
        if row.severity == "ksi":
            mask &= np.isin(sev, ("fatal", "serious"))
        elif row.severity != "all":
            mask &= sev == row.severity
        factor[mask] *= values[row.parameter]
    got = risk.apply_modifiers(injuries, modifiers, parameters=values)
    expected = injuries["per_year_raw"].to_numpy() * factor
    assert np.array_equal(got["per_year_raw"].to_numpy(), expected)
    assert (factor != 1.0).mean() > 0.5  # most rows have a modifier


def test_kept_link_traffic_gives_every_parameter_set_what_a_fresh_run_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tornado's re-runs (``KeptLinkTraffic``, :func:`risk.injury_parts` with ``reuse``) prepare the record's
    link statistics and speed histograms once and keep each severity's speed effect with the parameters it read:
    parameter sets in turn give, bit for bit, what a fresh call gives (links and junctions); a severity share, a
    safety performance function or the casualties per crash compute no speed effect again, one severity's
    exponent only that severity's, the reference speed all three."""
    net = star(signalised=False)
    z = np.random.default_rng(2).standard_normal(5_000)
    rec = _with_speeds(link_record(net, [300.0] * len(net.links), speed_kph=45.0), 45.0 * (1.0 + 0.15 * z))
    computed: list[str] = []
    inner = link_speed_effect._speed_effect

    def counted(network: RoadNetwork, periods: object, s: str, *args: object) -> object:
        computed.append(s)
        return inner(network, periods, s, *args)  # type: ignore[arg-type]

    moves = [
        ({}, set()),
        ({"risk.occupant.severity_share.fatal": 0.008}, set()),
        ({"risk.occupant.casualties_per_spf_crash": 1.9}, set()),
        ({"risk.spf.junction.priority_4leg.a": P["risk.spf.junction.priority_4leg.a"] + 0.3}, set()),
        ({"risk.power_model.exponent.serious": 3.2}, {"serious"}),
        (
            {"risk.reference_speed.offset_kph": P["risk.reference_speed.offset_kph"] + 4.0},
            set(risk.SEVERITIES),
        ),
        ({}, set()),
    ]
    kept = risk.KeptLinkTraffic(net, rec, "power")
    risk.occupant_injuries(net, rec, parameters=P, kept=kept)
    monkeypatch.setattr(link_speed_effect, "_speed_effect", counted)
    for changes, again in moves:
        values = {**P, **changes}
        computed.clear()
        got = risk.occupant_injuries(net, rec, parameters=values, kept=kept)
        assert set(computed) == again, changes
        fresh = risk.occupant_injuries(net, rec, parameters=values)
        assert set(fresh["site_type"]) == {"link", "junction"} and fresh["per_year_raw"].gt(0).all()
        pd.testing.assert_frame_equal(got, fresh, check_exact=True)
