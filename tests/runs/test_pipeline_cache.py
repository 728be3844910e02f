"""The pipeline's in-process caches are keyed by content: same inputs, same result; an edited input, a miss."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.network.road_network import RoadNetwork, load_network, network_fingerprint
from vision_zero.program.scenario import load_scenario
from vision_zero.runs import peak_calibration, pipeline, scenario_demand
from vision_zero.runs.preparation import prepare
from vision_zero.traffic import demand

TINY = "schematic:almaty?scale=tiny&seed=0"


@pytest.fixture(scope="module")
def tiny() -> RoadNetwork:
    return load_network(TINY)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Empty caches, and how often the trip distribution is computed."""
    monkeypatch.setattr(scenario_demand, "_DEMAND_CACHE", type(scenario_demand._DEMAND_CACHE)())
    monkeypatch.setattr(peak_calibration, "_PEAK_CACHE", {})
    calls = {"distribution": 0}
    real = demand.trip_distribution

    def trip_distribution(*args, **kwargs):
        calls["distribution"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(demand, "trip_distribution", trip_distribution)
    return calls


def _slower(network: RoadNetwork) -> RoadNetwork:
    """The same source's network with half the capacity on its primaries (an edit that keeps the name)."""
    links = network.links.copy()
    primary = links["highway"].astype(str).eq("primary").to_numpy()
    links.loc[primary, "capacity_vph"] = links.loc[primary, "capacity_vph"] * 0.5
    return network.with_tables(links=links)


def _same_distribution(a: demand.TripDistribution, b: demand.TripDistribution) -> None:
    assert scenario_demand.distribution_key(a) == scenario_demand.distribution_key(b)
    for name in ("zone_node", "home", "job", "origin_ok", "destination_ok", "external", "x_km", "y_km"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.decay_per_km, a.through_share) == (b.decay_per_km, b.through_share)


def test_the_base_demand_is_the_same_with_and_without_the_cache(tiny, counted):
    params = load_parameters()
    dist, daily = scenario_demand.base_demand(tiny, params)
    again = scenario_demand.base_demand(load_network(TINY), params)  # another object, the same content
    assert counted["distribution"] == 1 and again[0] is dist and again[1] == daily
    _same_distribution(dist, demand.trip_distribution(tiny, params))
    assert daily == demand.default_daily_trips(tiny, params) > 0
    # with a trip-length target: the calibrated distribution, as computed directly
    cal, cal_daily = scenario_demand.base_demand(tiny, params, 3.0)
    commute = demand.commute_share_of_day(demand.default_periods(params), params)
    direct = demand.calibrate_to_trip_length(tiny, 3.0, params, commute_share=commute)
    _same_distribution(cal, direct)
    assert cal_daily == demand.default_daily_trips(tiny, params, distribution=direct)
    assert cal.decay_per_km != dist.decay_per_km


def test_an_edited_network_or_other_parameters_miss_the_base_demand_cache(tiny, counted):
    params = load_parameters()
    dist, _ = scenario_demand.base_demand(tiny, params)
    n = counted["distribution"]
    slower, _ = scenario_demand.base_demand(_slower(tiny), params)  # same source name, other capacities
    assert counted["distribution"] == n + 1
    assert scenario_demand.distribution_key(slower) != scenario_demand.distribution_key(
        dist
    )  # external zones' weights
    decay = params["demand.distance_decay_per_km"]
    steeper = params.with_overrides(ParameterSet({decay.name: replace(decay, value=decay.value * 2)}))
    other, _ = scenario_demand.base_demand(tiny, steeper)
    assert counted["distribution"] == n + 2 and other.decay_per_km == 2 * dist.decay_per_km
    scenario_demand.base_demand(tiny, params)  # the first is still there
    assert counted["distribution"] == n + 2


def test_the_peak_calibration_cache_is_keyed_by_the_networks_content(
    tiny, counted, tmp_path: Path, monkeypatch
):
    # until 2026-12-01 the key was the network's source name and link count: a scenario that edited the network
    # (same name, same links) took another network's calibration
    path = tmp_path / "peak.toml"
    path.write_text(
        'name = "peak"\ndescription = "SCHEMATIC network, tiny: cache test"\n[network]\n'
        f'source = "{TINY}"\n[demand]\ndaily_trips = 60000\ncongestion_index_target = 1.3\n',
        "utf-8",
    )
    scenario = load_scenario(path)
    params = load_parameters()
    runs: list[str] = []

    def peak_simulation(scenario, base, params, distribution, daily_trips, *, seed=0, replication=0):
        runs.append(network_fingerprint(base))
        capacity = float(base.links["capacity_vph"].sum())
        return 1.0 + 0.5 * daily_trips / capacity, 1.0, 0.0  # a made-up index that falls with capacity

    monkeypatch.setattr(peak_calibration, "peak_simulation", peak_simulation)
    dist, daily = scenario_demand.base_demand(tiny, params)
    first = peak_calibration.calibrate_peak(scenario, tiny, params, dist, daily)
    n = len(runs)
    assert (
        n > 0 and peak_calibration.calibrate_peak(scenario, load_network(TINY), params, dist, daily) is first
    )
    assert len(runs) == n  # the same content: cached
    slower = _slower(tiny)
    edited = peak_calibration.calibrate_peak(scenario, slower, params, dist, daily)
    assert len(runs) > n and runs[-1] == network_fingerprint(slower) != runs[0]
    assert first.reached and edited.reached and edited.factor < first.factor
    m = len(runs)
    peak_calibration.calibrate_peak(scenario, tiny, params, dist.with_decay(2 * dist.decay_per_km), daily)
    assert len(runs) > m  # another trip distribution on the same network: calibrated anew


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
    (file,) = store.glob("*.pickle")
    version, vehicles = pickle.loads(file.read_bytes())
    assert version == pipeline.TRAFFIC_STORE_VERSION and isinstance(vehicles, simulation.VehicleTraffic)
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
