import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _scenarios import TINY, scenario_file

from vision_zero.core.errors import ScenarioError
from vision_zero.program.scenario import load_scenario
from vision_zero.risk.crash_model import CalibrationTargets
from vision_zero.runs import pipeline
from vision_zero.runs.pipeline import annual_link_traffic, run_replication
from vision_zero.runs.preparation import prepare
from vision_zero.runs.risk_draws import totals_of_draw
from vision_zero.traffic.periods import Period


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pipeline")
    base = scenario_file(tmp, "base")
    same = scenario_file(tmp, "same", extends="base.toml")
    slow = scenario_file(
        tmp,
        "slow",
        '[[interventions]]\ntype = "speed_limit"\nlimit_kph = 30\nenforcement = "calming"\nwhere = { highway = "primary" }\n',
        extends="base.toml",
    )
    return {"base": base, "same": same, "slow": slow}


@pytest.fixture(scope="module")
def prepared(files):
    return {k: prepare(load_scenario(p)) for k, p in files.items()}


@pytest.fixture(scope="module")
def base_result(prepared):
    return run_replication(prepared["base"], 0)


def test_prepared_scenario_exposes_the_run_settings_and_pickles(prepared, files):
    p = prepared["slow"]
    assert p.name == "slow" and not p.is_baseline and p.baseline_path == files["base"]
    assert prepared["base"].is_baseline
    assert p.seed == 11 and p.replications == 3
    assert "SCHEMATIC" in p.network.label
    assert [a.type for a in p.interventions] == ["speed_limit"] and p.interventions[0].selection.links > 0
    back = pickle.loads(pickle.dumps(p))
    assert back.name == p.name and back.network.links.equals(p.network.links)


def test_short_periods_keep_the_hourly_rate(prepared):
    (per,) = prepared["base"].periods
    assert per.name == "am_peak" and per.duration_s == 600
    full = prepared["base"].parameters.value("demand.share_per_hour.peak")
    assert per.demand_share == pytest.approx(full * 600 / 3600)


def test_same_replication_same_result_other_replication_differs(prepared, base_result):
    again = run_replication(prepared["base"], 0)
    assert again.summary == base_result.summary
    pd.testing.assert_frame_equal(again.injuries, base_result.injuries)
    other = run_replication(prepared["base"], 1)
    assert other.summary != base_result.summary


def test_baseline_is_calibrated_to_the_scaled_targets(prepared, base_result):
    # the city's deaths scaled by the replication's simulated share of the city's veh-km (SCIENCE.md §11: the
    # baseline's deaths per veh-km are Almaty's at every network size)
    # (at the replication's own draw: draw 0 of its risk draws; the summary is the mean over them)
    s = base_result.summary
    own = totals_of_draw(base_result.risk_draws, 0)
    city = CalibrationTargets.almaty(base_result.parameters)
    targets = city.scaled(s["veh_km"] / base_result.parameters["calibration.almaty.veh_km_per_year"])
    assert own["fatal"] == pytest.approx(targets.deaths_per_year)
    assert own["fatal"] / s["veh_km"] * 1e9 == pytest.approx(city.deaths_per_year / 5.78)
    assert own["fatal.pedestrian"] == pytest.approx(
        targets.deaths_per_year * targets.pedestrian_share_of_deaths
    )
    assert own["serious"] > own["fatal"] and own["slight"] > own["serious"]  # the models' own severity mix
    assert s["serious"] > s["fatal"] and s["slight"] > s["serious"]
    assert s["schematic"] == 1.0
    assert s["trips"] == s["trips_completed"] + s["trips_en_route"] + s["trips_unrouted"]


def test_a_variant_without_interventions_equals_its_baseline(prepared, base_result):
    same = run_replication(prepared["same"], 0, baseline_draws=base_result.risk_draws)
    assert same.scenario == "same"
    assert same.summary == pytest.approx(base_result.summary)


def test_a_variant_uses_the_baseline_factors(prepared, base_result):
    slow = run_replication(prepared["slow"], 0, baseline_draws=base_result.risk_draws)
    # 30 km/h on the primary streets: more time per trip (per trip: some trips evaporate, elastic demand)
    assert (
        slow.summary["veh_h"] / slow.summary["trips"]
        > base_result.summary["veh_h"] / base_result.summary["trips"]
    )
    # each risk draw with the baseline's factors of that draw (the tables are means over the draws)
    pd.testing.assert_series_equal(
        slow.risk_draws["factor"], base_result.risk_draws["factor"], check_exact=True
    )
    assert slow.summary["ksi"] < base_result.summary["ksi"]


def test_a_pedestrian_only_variant_follows_its_baseline_replication_by_replication(
    files, prepared, base_result
):
    # The crossings-upgrade example gave KSI 25.68 and 25.68 in replications 0 and 1, suspected of reusing
    # one replication's calibration. By hand, per replication r and (severity, road user):
    # variant = target_r x raw_variant_r / raw_baseline_r, so occupants equal the baseline's exactly and the
    # variant's KSI moves with the baseline's targets from one replication to the next. (Refuge islands: raised
    # crossings also carry an occupant CMF, so they are no longer pedestrian-only.)
    body = (
        '[[interventions]]\ntype = "crossing"\naction = "upgrade"\ncrossing_type = "refuge_island"\n'
        'where = { highway = ["primary", "secondary", "tertiary", "residential"] }\n'
        'existing = { types = ["marked"] }\n'
    )
    raised = prepare(load_scenario(scenario_file(files["base"].parent, "raised", body, extends="base.toml")))
    ksi = []
    for r in (0, 1):
        b = base_result if r == 0 else run_replication(prepared["base"], r)
        v = run_replication(raised, r, baseline_draws=b.risk_draws)
        bd, vd = b.risk_draws, v.risk_draws  # per risk draw and (severity, road user)
        expected = bd["per_year"] * vd["per_year_raw"] / bd["per_year_raw"]
        pd.testing.assert_series_equal(vd["per_year"], expected, check_names=False, rtol=1e-12)
        assert v.summary["ksi_occupant"] == pytest.approx(b.summary["ksi_occupant"])
        assert v.summary["ksi_pedestrian"] < b.summary["ksi_pedestrian"]
        ksi.append((b.summary["ksi"], v.summary["ksi"]))
    assert ksi[0][0] != pytest.approx(ksi[1][0]) and ksi[0][1] != pytest.approx(ksi[1][1])


def test_calibration_section_overrides_the_targets(files):
    p = prepare(
        load_scenario(
            files["base"],
            overrides={"calibration.deaths_per_year": 10, "calibration.scale_to_network": False},
        )
    )
    assert p.network_share == 1.0
    r = run_replication(p, 0)
    assert r.summary["fatal"] == pytest.approx(10)


def test_annual_link_traffic_by_hand():
    class Net:
        links = pd.DataFrame({"u": [0, 1], "v": [1, 0]})

    periods = (Period("a", 8, 1800, 0.05, 340), Period("b", 12, 3600, 0.05, 680))  # factors 680 and 680
    stats = pd.DataFrame(
        {
            "period": ["a", "b", "a"],
            "link": [0, 0, 1],
            "entries": [10, 30, 5],
            "veh_km": [2.0, 6.0, 1.0],
            "veh_h": [0.1, 0.3, 0.05],
            "mean_speed_kph": [40.0, 20.0, 50.0],
            "p85_speed_kph": [50.0, 30.0, 60.0],
            "share_over_limit": [0.5, 0.1, 0.2],
        }
    )
    out = annual_link_traffic(Net(), stats, periods)  # type: ignore[arg-type]
    np.testing.assert_allclose(out["veh_km_per_year"], [680 * 8.0, 680 * 1.0])
    np.testing.assert_allclose(out["veh_h_per_year"], [680 * 0.4, 680 * 0.05])
    np.testing.assert_allclose(out["mean_speed_kph"], [(10 * 40 + 30 * 20) / 40, 50.0])
    np.testing.assert_allclose(out["share_over_limit"], [(10 * 0.5 + 30 * 0.1) / 40, 0.2])


def test_crash_records_set_the_calibration_targets(files, tmp_path: Path):
    from vision_zero.risk.crash_records import targets_from_records

    rows = ["lat,lon,date,severity,road_user"]
    for i, (sev, user) in enumerate(
        [("fatal", "pedestrian"), ("fatal", "occupant"), ("serious", "pedestrian")]
        + [("slight", "occupant")] * 5
    ):
        rows.append(f"43.240,76.930,{2023 + i % 2}-0{1 + i % 9}-15,{sev},{user}")
    csv = tmp_path / "crashes.csv"
    csv.write_text("\n".join(rows) + "\n", "utf-8")
    p = prepare(load_scenario(files["base"], overrides={"calibration.crash_records": str(csv)}))
    assert p.crash_records is not None and len(p.crash_records) == 8 and "link" in p.crash_records
    assert p.network_share == 1.0  # the records are this network's own: no scaling
    targets = targets_from_records(p.crash_records)
    r = run_replication(p, 0)
    assert r.summary["fatal"] == pytest.approx(targets.deaths_per_year)
    assert r.summary["fatal_pedestrian"] == pytest.approx(targets.deaths_per_year / 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("lat,lon\n1,2\n", "utf-8")
    with pytest.raises(
        ScenarioError, match=r"calibration\.crash_records: expected a valid crash-record file"
    ):
        prepare(load_scenario(files["base"], overrides={"calibration.crash_records": str(bad)}))


def test_od_file_replaces_generated_trips(files, tmp_path: Path):
    od = tmp_path / "od.csv"
    od.write_text("origin,destination,period,trips\n0,5,am_peak,12\n5,0,am_peak,7.5\n", "utf-8")
    p = prepare(load_scenario(files["base"], overrides={"demand.od_file": str(od), "demand.scale": 2.0}))
    assert p.od is not None and p.od["trips"].sum() == pytest.approx(2 * 19.5)
    r = run_replication(p, 0)
    assert r.summary["trips"] in (38.0, 39.0, 40.0)  # 24 + 15 +- random rounding of the fraction
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("origin,destination,period,trips\n0,5,rush_hour,12\n", "utf-8")
    with pytest.raises(
        ScenarioError, match=r"demand\.od_file: expected rows of .* with periods among the simulated"
    ):
        prepare(load_scenario(files["base"], overrides={"demand.od_file": str(wrong)}))
    with pytest.raises(ScenarioError, match=r"demand\.daily_trips: expected no daily total with od_file"):
        load_scenario(files["base"], overrides={"demand.od_file": str(od), "demand.daily_trips": 100})


def test_elastic_demand_a_slower_variant_loses_trips_the_baseline_keeps_its_own(files, prepared, base_result):
    # 30 km/h on the primary streets: trips through them take longer, so some evaporate (elasticity < 0);
    # the baseline draws the same trips before the response (common random numbers)
    slow = run_replication(prepared["slow"], 0)
    b, s = base_result.summary, slow.summary
    assert b["trips_evaporated"] == 0 and b["trips_added"] == 0
    assert s["trips_evaporated"] > 0 and s["trips_added"] == 0
    assert s["trips"] == b["trips"] - s["trips_evaporated"]
    # at most what the steepest elasticity (-1) allows: calming the primary streets to 30 km/h (mean about
    # 0.87 x 30) at most about doubles a trip's time, so each OD pair keeps about half of its trips or more.
    # Measured 15 of 68 (22%) with seed 0's draws since the per-name parameter streams (under 20% before)
    assert s["trips_evaporated"] < 0.5 * b["trips"]
    # a fixed-demand variant keeps every trip
    fixed = prepare(
        load_scenario(
            scenario_file(
                files["base"].parent,
                "slow_fixed",
                '[demand]\ntravel_time_elasticity = 0\n[[interventions]]\ntype = "speed_limit"\nlimit_kph = 30\n'
                'enforcement = "calming"\nwhere = { highway = "primary" }\n',
                extends="base.toml",
            )
        )
    )
    f = run_replication(fixed, 0).summary
    assert f["trips"] == b["trips"] and f["trips_evaporated"] == 0


def test_elastic_demand_responds_to_the_paired_baselines_congested_times(
    prepared, base_result, tmp_path, monkeypatch
):
    # the paired baseline replication's link times (as its folder keeps them) set the times the variant's
    # trips compare: congested per period, plus the change the 30 km/h limit makes to each link's expected time
    from vision_zero.runs.pipeline import elastic_link_costs_s
    from vision_zero.runs.results import read_link_times, write_replication

    rep = write_replication(tmp_path, base_result)
    stats = read_link_times(rep)
    assert stats is not None and list(stats.columns) == ["link", "period", "veh_km", "veh_h"]
    p = prepared["slow"]
    before, after = elastic_link_costs_s(p, stats)
    assert isinstance(before, dict) and isinstance(after, dict) and set(before) == {"am_peak"}
    change = p.cost_s - p.reference_cost_s
    assert np.all(change >= 0) and change.max() > 0  # a lower limit only lengthens links
    assert after["am_peak"] == pytest.approx(before["am_peak"] + change)
    # on a used link the congested time is its simulated one (at least the running time, often more)
    used = stats.loc[stats["veh_km"] > 0, "link"].to_numpy()
    assert np.mean(before["am_peak"][used] > p.reference_cost_s[used]) > 0.3
    slow = run_replication(p, 0, baseline_link_stats=stats).summary
    free = run_replication(p, 0).summary
    assert (
        slow["trips_evaporated"] > 0
        and slow["trips"] == base_result.summary["trips"] - slow["trips_evaporated"]
    )
    # the congested times, not the free-flow ones, set the response: the expected evaporation over a sample of the
    # baseline's trips, sum(1 - (t1 / t0) ** e), differs between them. (Which is larger depends on the load: a
    # longer congested trip makes the same change relatively smaller, but at this tiny network's 5% demand some
    # simulated link times lie below the expected free-flow costs with their junction delays, and congestion can
    # move a trip's fastest route onto a treated street; since its sub-network demand enters at the cut edges,
    # 2026-11-30, the expectation is 66.9 congested against 64.2 free-flow per 400 trips, realised 12 and 11.)
    from vision_zero.core.parameters import load_parameters
    from vision_zero.traffic.demand import od_travel_time_s

    assert p.distribution is not None
    o, d = p.distribution.draw(np.random.default_rng(5), 400, "activity")
    e = load_parameters().value("demand.elasticity.travel_time")

    def expected(c0, c1):
        t0, t1 = od_travel_time_s(p.network, o, d, c0), od_travel_time_s(p.network, o, d, c1)
        ok = np.isfinite(t0) & np.isfinite(t1) & (t0 > 0)
        return float(np.sum(1 - (t1[ok] / t0[ok]) ** e))

    congested, free_flow = (
        expected(before["am_peak"], after["am_peak"]),
        expected(p.reference_cost_s, p.cost_s),
    )
    assert congested > 0 and free_flow > 0 and congested != pytest.approx(free_flow, rel=1e-3)
    assert free["trips_evaporated"] > 0
    assert run_replication(p, 0, baseline_link_stats=stats).summary == slow  # deterministic
    # the baseline's trip times are computed once per baseline replication and reused by every variant paired
    # with it (kept by content): a hit gives the same results bit for bit as computing them afresh
    from vision_zero.traffic import demand

    times = pipeline._REFERENCE_TIMES
    assert len(times) >= 1
    kept = dict(times)
    assert run_replication(p, 0, baseline_link_stats=stats).summary == slow  # a hit
    assert dict(times).keys() == kept.keys() and all(times[k] is kept[k] for k in kept)
    times.clear()
    assert run_replication(p, 0, baseline_link_stats=stats).summary == slow and len(times) == 1
    # with a traffic store (a comparison's) another process reads them there: no search, the same results
    store = tmp_path / "store"
    times.clear()
    assert run_replication(p, 0, baseline_link_stats=stats, traffic_store=store).summary == slow
    assert len(list(store.glob("*.reference_times.pickle"))) == 1
    times.clear()  # as in another process
    searched: list[object] = []
    trip_times_s = demand.trip_times_s
    with monkeypatch.context() as m:
        m.setattr(demand, "trip_times_s", lambda *a, **k: searched.append(a) or trip_times_s(*a, **k))
        assert run_replication(p, 0, baseline_link_stats=stats, traffic_store=store).summary == slow
    assert len(searched) == 1  # the variant's own times only: the baseline's were read from the store
    # a variant that changes no link's cost (elastic too) searches no route for it: every trip's time ratio is
    # exactly 1, so nothing can evaporate; the same result as the elastic path run through
    same = prepared["same"]
    assert same.reference_cost_s is not None and pipeline._same_link_costs(same)
    assert not pipeline._same_link_costs(p)

    def no_search(*args, **kwargs):
        raise AssertionError("elastic demand searched")

    with monkeypatch.context() as m:
        m.setattr(demand, "elastic_trips", no_search)
        skipped = run_replication(same, 0, baseline_link_stats=stats)
    with monkeypatch.context() as m:
        m.setattr(pipeline, "_same_link_costs", lambda prepared: False)
        through = run_replication(same, 0, baseline_link_stats=stats)
    assert skipped.summary == through.summary and skipped.summary["trips_evaporated"] == 0
    pd.testing.assert_frame_equal(skipped.injuries, through.injuries)
    assert elastic_link_costs_s(p, None) == (p.reference_cost_s, p.cost_s)  # without them: free-flow times


def test_congestion_target_by_name_reads_the_parameter_file(tmp_path):
    from vision_zero.program.scenario import DemandSection

    assert DemandSection(congestion_index_target="europe").congestion_index_target == "europe"
    bad = scenario_file(tmp_path, "bad_target")
    bad.write_text(bad.read_text("utf-8") + "congestion_index_target = 0.5\n", "utf-8")
    with pytest.raises(ScenarioError, match="congestion_index_target"):
        load_scenario(bad)


@pytest.mark.slow
def test_helsinki_baseline_arrives_within_the_european_congestion_range(tmp_path):
    """Real geometry: central Helsinki's AM peak, demand calibrated to the European congestion target."""
    from paths import HELSINKI_PBF

    from vision_zero.core.parameters import load_parameters

    f = tmp_path / "helsinki.toml"
    f.write_text(
        'name = "helsinki"\ndescription = "Helsinki centre (OSM): test"\n'
        f'[network]\nsource = "{HELSINKI_PBF}"\n'
        '[demand]\ncongestion_index_target = "europe"\n'
        '[simulation]\nperiods = ["am_peak"]\nduration_s = 1200\nreplications = 2\nseed = 3\n',
        "utf-8",
    )
    p = prepare(load_scenario(f))
    ci = load_parameters()["demand.congestion_index.europe"]
    assert p.peak is not None and p.peak.target == ci.value
    assert ci.low is not None and ci.high is not None
    # the calibration aims at the middle of the range (its own central-parameter replications, within 3%)
    assert p.peak.reached and abs(p.peak.congestion_index - 0.5 * (ci.low + ci.high)) <= 0.03 * ci.value
    assert p.distribution is not None and p.distribution.external.sum() > 0  # cut edges carry traffic
    # each replication draws its own traffic parameters (signal cycle, saturation flow, ...): at the calibrated
    # demand one replication's index ranges over 1.21-1.53 here (seed 3, replications 0-5, 20-minute peak), and
    # a low-capacity draw congests the Pitkasilta-Unioninkatu corridor (scenarios/helsinki/baseline.toml): the
    # mean of four, 1.34 at 9fd7293, not of two, is what must sit in the range (~1 CPU-s a replication)
    summaries = [run_replication(p, r).summary for r in range(4)]
    for s in summaries:
        assert s["trips_completed"] >= 0.98 * s["trips"], s
    assert ci.low <= np.mean([s["congestion_index"] for s in summaries]) <= ci.high, summaries


@pytest.mark.slow
def test_small_schematic_baseline_carries_its_part_of_the_citys_peak(tmp_path):
    """The small preset, cut from the schematic city, carries the AM peak its extent carries in the full city.

    Default demand (a clipped extract's: boundary traffic at its cut edges, Almaty's loading per km of main street):
    veh-km within 15% of what its extent carries in the full city's simulated AM peak (tests/traffic/test_demand.py)
    and congested at least as Almaty's range as the run reports it (two decimals; the area-share rule it replaces
    gave 1.13). Before the HCM free-flow speeds on local and collector streets (32a04b4) it was at the edge of
    gridlock (seed 0's replications 0-3: index 2.17 / 2.16 / 1.70 / 2.34, 84 / 99 / 100 / 85% arriving); with them
    residential traffic moves to the main roads and replications 0-1 give 1.4993 / 1.4997 with 100% arriving: at
    the range's lower edge. Four parameters drawn for Kimber & Coombe's give-way rule (f103d9b, the rule itself off
    by default) shift every later parameter draw, and the same replications then give 1.85 / 1.42: at default demand the
    small network sits at the lower edge of Almaty's range and two replications' draws decide which side. So the
    index is checked for a peak (at least a European city's, ``demand.congestion_index.europe``; the area-share rule
    it replaces gave 1.13) and no worse than Almaty's (``.almaty`` high); a calibrated baseline
    (congestion_index_target, tested on the whole city and on tiny) is what puts it inside Almaty's range. A run
    where under 95% arrive must say so.
    """
    from traffic_fixtures import CITY_AM_VEH_KM_INSIDE, SHARE_TOLERANCE

    from vision_zero.core.parameters import load_parameters
    from vision_zero.runs.run_summary import run_warnings
    from vision_zero.traffic.periods import annual_factor
    from vision_zero.traffic.simulation import ARRIVAL_WARNING_SHARE

    f = tmp_path / "small.toml"
    f.write_text(
        'name = "small"\ndescription = "SCHEMATIC small network: test"\n'
        '[network]\nsource = "schematic:almaty?scale=small&seed=0"\n'
        '[simulation]\nperiods = ["am_peak"]\nreplications = 2\nseed = 0\n',
        "utf-8",
    )
    p = prepare(load_scenario(f))
    assert p.distribution is not None and p.distribution.through_share > 0
    ci_almaty = load_parameters()["demand.congestion_index.almaty"]
    ci_europe = load_parameters()["demand.congestion_index.europe"]
    summaries = [run_replication(p, r).summary for r in (0, 1)]
    for s in summaries:
        am_veh_km = s["veh_km"] / annual_factor(p.periods[0])
        assert am_veh_km == pytest.approx(CITY_AM_VEH_KM_INSIDE["small"], rel=SHARE_TOLERANCE), s
        assert ci_europe.low <= round(s["congestion_index"], 2) <= ci_almaty.high, s
        warned = bool(run_warnings("small", [s]))
        assert warned == (s["share_arrived"] < ARRIVAL_WARNING_SHARE), s


CROSSINGS_ONLY = (
    '[[interventions]]\ntype = "crossing"\naction = "upgrade"\ncrossing_type = "raised"\n'
    'where = { highway = ["primary", "secondary", "tertiary", "residential"] }\n'
    'existing = { types = ["marked", "unmarked"] }\n'
    '[[interventions]]\ntype = "crossing"\naction = "add"\ncrossing_type = "refuge_island"\nevery_m = 200\n'
    'where = { highway = ["primary", "secondary"] }\n'
)


def _assert_same_result(a, b):
    assert a.summary == b.summary
    pd.testing.assert_frame_equal(a.injuries, b.injuries)
    pd.testing.assert_frame_equal(a.link_traffic, b.link_traffic)
    pd.testing.assert_frame_equal(a.speed_hist, b.speed_hist)


def test_a_crossing_only_variant_reuses_the_baseline_traffic_with_identical_results(
    files, prepared, base_result, tmp_path, monkeypatch
):
    # upgraded and new crossings (which take pedestrians from their neighbours) change no link: the variant
    # takes the baseline replication's vehicle traffic from the store and re-runs crossings, pedestrians and
    # risk only; every table equals a full run of the variant
    from vision_zero.traffic import simulation

    var = prepare(load_scenario(scenario_file(tmp_path, "cross", CROSSINGS_ONLY, extends=str(files["base"]))))
    assert var.network.crossings.shape != prepared["base"].network.crossings.shape  # new crossings
    store = tmp_path / "store"
    b = run_replication(prepared["base"], 0, traffic_store=store)
    _assert_same_result(b, base_result)  # storing changes nothing
    assert len(list(store.glob("*.pickle"))) == 2  # its vehicle traffic and its record
    full = run_replication(var, 0, baseline_draws=b.risk_draws)

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated again")

    with monkeypatch.context() as m:
        m.setattr(simulation, "simulate_vehicles", no_simulation)
        reused = run_replication(var, 0, baseline_draws=b.risk_draws, traffic_store=store)
    _assert_same_result(reused, full)
    # the crossings act (re-run, not copied): raised upgrades cap approach speeds, the added refuge islands take
    # the pedestrians who cross their street nearby; casualties are expected over the pedestrians' Poisson
    # arrivals (not one draw of them), so the program lowers pedestrian KSI in every replication (measured: -30%,
    # -33%, -30%; with drawn arrivals it was +6%, -58%, -71%)
    assert reused.summary["ksi_pedestrian"] < 0.9 * b.summary["ksi_pedestrian"]
    for rep in (1, 2):
        base_rep = run_replication(prepared["base"], rep)
        var_rep = run_replication(var, rep, baseline_draws=base_rep.risk_draws)
        assert var_rep.summary["ksi_pedestrian"] < 0.9 * base_rep.summary["ksi_pedestrian"], rep
    # a variant that changes links (30 km/h) misses the store and simulates its own traffic: same as a full run
    slow = run_replication(prepared["slow"], 0, baseline_draws=b.risk_draws, traffic_store=store)
    _assert_same_result(slow, run_replication(prepared["slow"], 0, baseline_draws=b.risk_draws))
    # variants store no traffic; an elastic one leaves its baseline's trip times for the other variants
    assert len(list(store.glob("*.reference_times.pickle"))) == 1
    assert len(list(store.glob("*.pickle"))) == 3


def test_a_crossing_upgrade_reuses_the_baseline_record_and_reruns_only_risk(
    files, prepared, tmp_path, monkeypatch
):
    # upgrades only (no crossing added or moved, the same pedestrians): the variant's record is its baseline
    # replication's (the crossings' places, not their types, decide the passages), so it takes the record and
    # the congestion index from the store: no simulation, no record, no route search; every table equals a full
    # run of the variant, and the upgrade still acts in the risk stage
    from vision_zero.traffic import demand, simulation

    upgrade = CROSSINGS_ONLY.split("[[interventions]]")[1]
    var = prepare(
        load_scenario(
            scenario_file(tmp_path, "up", "[[interventions]]" + upgrade, extends=str(files["base"]))
        )
    )
    base = prepared["base"]
    assert len(var.network.crossings) == len(base.network.crossings)  # none added
    assert not var.network.crossings.equals(base.network.crossings)  # types changed
    store = tmp_path / "store"
    b = run_replication(base, 0, traffic_store=store)
    full = run_replication(var, 0, baseline_draws=b.risk_draws)

    def not_again(*args, **kwargs):
        raise AssertionError("computed again")

    with monkeypatch.context() as m:
        for owner, name in (
            (simulation, "simulate_vehicles"),
            (simulation, "record_of"),
            (demand, "od_travel_time_s"),
        ):
            m.setattr(owner, name, not_again)
        m.setattr(pipeline, "_load_traffic", not_again)  # the record is enough: the vehicles are not read
        reused = run_replication(var, 0, baseline_draws=b.risk_draws, traffic_store=store)
    _assert_same_result(reused, full)
    assert reused.summary["congestion_index"] == b.summary["congestion_index"]
    assert (
        reused.summary["ksi_pedestrian"] < b.summary["ksi_pedestrian"]
    )  # raised crossings cap approach speeds
    # the key: the places of the crossings and the pedestrians, not the crossings' types
    key = "k"
    assert pipeline.record_key(key, var.network, var.pedestrians, link_events=False) == pipeline.record_key(
        key, base.network, base.pedestrians, link_events=False
    )
    moved = base.network.crossings.assign(node=base.network.crossings["node"] + 1)  # each at another node
    assert pipeline.record_key(
        key, replace(base.network, crossings=moved), base.pedestrians, link_events=False
    ) != (pipeline.record_key(key, base.network, base.pedestrians, link_events=False))
    assert pipeline.record_key(key, base.network, base.pedestrians, link_events=True) != (
        pipeline.record_key(key, base.network, base.pedestrians, link_events=False)
    )


def test_a_run_shares_traffic_through_a_temporary_store_it_removes(files, tmp_path):
    from vision_zero.runs.jobs import scenario_job
    from vision_zero.runs.parallel import SerialExecutor
    from vision_zero.runs.replications import may_share_traffic, run_job

    path = scenario_file(tmp_path, "cross", CROSSINGS_ONLY, extends=str(files["base"]))
    job = scenario_job(path, overrides={"simulation.replications": 1})
    assert job.shares_traffic and job.baseline is not None
    assert may_share_traffic(job) and not may_share_traffic(job.baseline)
    assert not may_share_traffic(scenario_job(files["slow"], lazy=True))  # 30 km/h: its links differ
    out = tmp_path / "out"
    stale = out / ".traffic-999999999-left-by-a-killed-run"  # no such process id
    stale.mkdir(parents=True)
    run = run_job(job, out_dir=out, executor=SerialExecutor(), progress=False)
    assert not list(out.glob(".traffic-*"))  # its own store removed, the stale one swept
    base = run_replication(job.baseline.prepared(), 0)
    direct = run_replication(job.prepared(), 0, baseline_draws=base.risk_draws)
    _assert_same_result(run.read(0), direct)


def test_a_variant_starts_from_its_baseline_routes_in_a_run_as_directly(files, tmp_path):
    # a comparison hands each variant replication its baseline replication's routes and link times (kept in the
    # baseline's folder); the variant's drivers start from them (boundedly rational switching), not from
    # free-flow routes, and its elastic demand responds to congested times
    from vision_zero.runs.jobs import scenario_job
    from vision_zero.runs.parallel import SerialExecutor
    from vision_zero.runs.replications import run_job

    job = scenario_job(files["slow"], overrides={"simulation.replications": 1})
    assert job.baseline is not None
    run = run_job(job, out_dir=tmp_path / "out", executor=SerialExecutor(), progress=False)
    base = run_replication(job.baseline.prepared(), 0)
    assert base.routes is not None and len(base.routes.key) > 0 and base.routes.costs is not None
    assert base.traffic is not None
    times = base.traffic["traffic_link_stats"]  # and its link times (elastic demand on congested times)
    warm = run_replication(
        job.prepared(),
        0,
        baseline_draws=base.risk_draws,
        baseline_routes=base.routes,
        baseline_link_stats=times,
    )
    assert warm.routes is None  # a variant keeps none
    _assert_same_result(run.read(0), warm)
    cold = run_replication(job.prepared(), 0, baseline_draws=base.risk_draws, baseline_link_stats=times)
    assert warm.summary["veh_km"] != cold.summary["veh_km"]
    assert warm.summary["route_outside_band"] >= 0.0


def test_the_summary_says_why_the_route_choice_stopped() -> None:
    from vision_zero.runs.pipeline import summarise

    injuries = pd.DataFrame({"severity": [], "road_user": [], "per_year": []})
    links = pd.DataFrame({"veh_km_per_year": [], "veh_h_per_year": []})
    log = pd.DataFrame(
        {
            "iteration": [0.0, 1.0, 2.0],
            "relative_gap": [0.5, 0.3, 0.27],
            "relative_gap_se": [0.0, 0.0, 0.0],
            "outside_band": [0.0, 0.0, 0.0],
            "stop_reason": ["", "", "cap"],
        }
    )
    summary = summarise(injuries, links, {}, schematic=True, route_choice=log)
    assert summary["route_iterations"] == 2.0 and summary["route_relative_gap"] == 0.27
    assert {k: v for k, v in summary.items() if k.startswith("route_stop_")} == {
        "route_stop_gap_target": 0.0,
        "route_stop_plateau": 0.0,
        "route_stop_band": 0.0,
        "route_stop_cap": 1.0,
    }
    older = summarise(injuries, links, {}, schematic=True, route_choice=log.drop(columns="stop_reason"))
    assert not any(k.startswith("route_stop_") for k in older)  # a log without the column: no keys


def test_a_null_program_run_as_a_pair_has_exactly_no_effect_where_the_baseline_stops_unconverged(tmp_path):
    # The tiny network at 3x its demand with 2 re-routing passes: the baseline's equilibrium stops at its cap far
    # from its target (gap ~0.5). It then goes on by its drivers' bands as a variant does (the band phase), so it
    # ends in the state a variant aims at; a variant that changes nothing, started from its routes, moves nobody:
    # the same traffic, the same casualties, zero effect. (Before the band phase the exact null program also had
    # no effect, each driver tolerating exactly the saving he had; the baseline, though, ended in the equilibrium
    # phase, and any real change, however small, re-opened its unfinished convergence: tests/traffic/test_route_choice.py)
    base_toml = tmp_path / "base.toml"
    base_toml.write_text(
        'name = "base"\ndescription = "d"\n[network]\nsource = "schematic:almaty?scale=tiny&seed=0"\n'
        '[simulation]\nperiods = ["am_peak"]\nreplications = 1\nseed = 11\nreroute_passes = 2\n'
        "[demand]\nscale = 3.0\n",
        "utf-8",
    )
    null = scenario_file(tmp_path, "null", "", extends="base.toml")
    base = run_replication(prepare(load_scenario(base_toml)), 0)
    # its equilibrium stopped at the cap of 2, unconverged; its band phase ran on from there
    assert base.summary["route_equilibrium_iterations"] == 2.0
    assert base.summary["route_equilibrium_relative_gap"] > 0.3
    assert base.summary["route_iterations"] > 2.0
    assert base.routes is not None and base.traffic is not None
    times = base.traffic["traffic_link_stats"][["link", "period", "veh_km", "veh_h"]]
    pair = run_replication(
        prepare(load_scenario(null)),
        0,
        baseline_draws=base.risk_draws,
        baseline_routes=base.routes,
        baseline_link_stats=times,
    )
    assert pair.summary["route_stop_band"] == 1.0 and pair.summary["route_iterations"] == 0.0  # nobody moved
    assert pair.summary["ksi"] == base.summary["ksi"]
    pd.testing.assert_frame_equal(pair.injuries, base.injuries)
    pd.testing.assert_frame_equal(pair.link_traffic, base.link_traffic)


def test_a_traffic_store_of_another_version_is_simulated_again(tmp_path: Path, monkeypatch):
    import pickle

    from vision_zero.traffic import simulation

    path = tmp_path / "base.toml"
    path.write_text(
        'name = "base"\ndescription = "SCHEMATIC network, tiny: store test"\n[network]\n'
        f'source = "{TINY}"\n[simulation]\nperiods = ["am_peak"]\nduration_s = 600\nseed = 11\n'
        "[demand]\nscale = 0.05\n",
        "utf-8",
    )
    prepared = prepare(load_scenario(path))
    store = tmp_path / "store"
    first = pipeline.run_replication(prepared, 0, traffic_store=store)
    (record_file,) = store.glob("*.record.pickle")  # the baseline's record, for crossing upgrades
    (file,) = set(store.glob("*.pickle")) - {record_file}
    version, vehicles = pickle.loads(file.read_bytes())
    assert version == pipeline.TRAFFIC_STORE_VERSION and isinstance(vehicles, simulation.VehicleTraffic)
    version, (record, index) = pickle.loads(record_file.read_bytes())
    assert version == pipeline.TRAFFIC_STORE_VERSION and isinstance(record, simulation.TrafficRecord)
    assert index == first.summary["congestion_index"]
    real = simulation.simulate_vehicles
    runs = []

    def simulate_vehicles(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(simulation, "simulate_vehicles", simulate_vehicles)
    assert pipeline.run_replication(prepared, 0, traffic_store=store).summary == first.summary
    assert runs == []  # the current version is read
    for old in (vehicles, (pipeline.TRAFFIC_STORE_VERSION - 1, vehicles)):  # unversioned; an older version
        file.write_bytes(pickle.dumps(old))
        again = pipeline.run_replication(prepared, 0, traffic_store=store)
        assert again.summary == first.summary and len(runs) == 1  # simulated again ...
        assert pickle.loads(file.read_bytes())[0] == pipeline.TRAFFIC_STORE_VERSION  # ... and stored anew
        runs.clear()
