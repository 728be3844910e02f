"""A scenario's demand on its un-intervened network (runs.scenario_demand): its cache is keyed by content: same
inputs, same result; an edited input, a miss."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from _scenarios import TINY
from traffic_fixtures import half_primary_capacity

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.network.road_network import load_network
from vision_zero.runs import scenario_demand
from vision_zero.traffic import demand, trip_distribution


def _same_distribution(a: trip_distribution.TripDistribution, b: trip_distribution.TripDistribution) -> None:
    assert scenario_demand.distribution_key(a) == scenario_demand.distribution_key(b)
    for name in ("zone_node", "home", "job", "origin_ok", "destination_ok", "external", "x_km", "y_km"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.decay_per_km, a.through_share) == (b.decay_per_km, b.through_share)


def test_the_base_demand_is_the_same_with_and_without_the_cache(tiny, counted):
    params = load_parameters()
    dist, daily = scenario_demand.base_demand(tiny, params)
    again = scenario_demand.base_demand(load_network(TINY), params)  # another object, the same content
    assert counted["distribution"] == 1 and again[0] is dist and again[1] == daily
    _same_distribution(dist, trip_distribution.trip_distribution(tiny, params))
    assert daily == demand.default_daily_trips(tiny, params) > 0
    # with a trip-length target: the calibrated distribution, as computed directly
    cal, cal_daily = scenario_demand.base_demand(tiny, params, 3.0)
    commute = demand.commute_share_of_day(demand.default_periods(params), params)
    direct = trip_distribution.calibrate_to_trip_length(tiny, 3.0, params, commute_share=commute)
    _same_distribution(cal, direct)
    assert cal_daily == demand.default_daily_trips(tiny, params, distribution=direct)
    assert cal.decay_per_km != dist.decay_per_km


def test_an_edited_network_or_other_parameters_miss_the_base_demand_cache(tiny, counted):
    params = load_parameters()
    dist, _ = scenario_demand.base_demand(tiny, params)
    n = counted["distribution"]
    # same source name, other capacities
    slower, _ = scenario_demand.base_demand(half_primary_capacity(tiny), params)
    assert counted["distribution"] == n + 1
    key = scenario_demand.distribution_key
    assert key(slower) != key(dist)  # external zones' weights
    decay = params["demand.distance_decay_per_km"]
    steeper = params.with_overrides(ParameterSet({decay.name: replace(decay, value=decay.value * 2)}))
    other, _ = scenario_demand.base_demand(tiny, steeper)
    assert counted["distribution"] == n + 2 and other.decay_per_km == 2 * dist.decay_per_km
    scenario_demand.base_demand(tiny, params)  # the first is still there
    assert counted["distribution"] == n + 2
