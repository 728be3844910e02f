"""A scenario's simulated periods and the demand on its un-intervened network, shared by the steps that need them.

:func:`base_demand` (the trip distribution and the default daily trips, cached by content) and the periods a
scenario simulates are read by both :mod:`~vision_zero.runs.peak_calibration` and
:func:`vision_zero.runs.preparation.prepare`; :func:`distribution_key` and :func:`central_values_key` (the
parameters' central values) key their caches.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from vision_zero.core.caching import BoundedCache
from vision_zero.core.errors import ScenarioError
from vision_zero.core.parameters import ParameterSet
from vision_zero.network.road_network import RoadNetwork, network_fingerprint
from vision_zero.program.scenario import Scenario
from vision_zero.traffic.periods import Period
from vision_zero.traffic.trip_distribution import TripDistribution

__all__ = [
    "base_demand",
    "central_values_key",
    "distribution_key",
    "simulated_periods",
]


def simulated_periods(
    scenario: Scenario, params: ParameterSet, names: list[str] | None = None
) -> tuple[Period, ...]:
    """The periods a scenario's replications simulate (:attr:`PreparedScenario.periods`, without preparing).

    ``names`` (default ``[simulation] periods``) with ``duration_s`` applied.
    """
    from vision_zero.traffic.demand import default_periods

    sim = scenario.simulation
    periods = default_periods(params)
    wanted = sim.periods if names is None else names
    if wanted is not None:
        known = {p.name: p for p in periods}
        for i, name in enumerate(wanted):
            if name not in known:
                raise ScenarioError(
                    str(scenario.path), f"simulation.periods[{i}]", f"one of {list(known)}", name
                )
        periods = tuple(known[n] for n in wanted)
    if sim.duration_s is not None:  # same hourly rate over a shorter (or longer) simulated time
        d = sim.duration_s
        periods = tuple(
            replace(p, duration_s=d, demand_share=p.demand_share * d / p.duration_s) for p in periods
        )
    return periods


#: :func:`base_demand` per network content and parameters: 8 networks' trip distributions (each a few zone arrays:
#: kilobytes to a megabyte).
_DEMAND_CACHE: BoundedCache[tuple[object, ...], tuple[TripDistribution, float]] = BoundedCache(8)


def central_values_key(params: ParameterSet) -> tuple[tuple[str, float], ...]:
    """The parameters' central values, sorted by name: what the demand model and the calibration read of them."""
    return tuple(sorted(params.central().items()))


def base_demand(
    base: RoadNetwork, params: ParameterSet, mean_trip_length_km: float | None = None
) -> tuple[TripDistribution, float]:
    """The trip distribution of the un-intervened network and its default daily trips, as :func:`prepare` uses them.

    :func:`vision_zero.traffic.trip_distribution.trip_distribution` (or, with ``[demand] mean_trip_length_km``,
    :func:`~vision_zero.traffic.trip_distribution.calibrate_to_trip_length`) and
    :func:`~vision_zero.traffic.demand.default_daily_trips` of ``base``. Both are deterministic for a network and
    parameters, and a baseline and its variants share the un-intervened network, so the result is cached within a
    process, keyed by the network's content (:func:`~vision_zero.network.road_network.network_fingerprint` of its
    tables and its ``area_share``), every parameter's central value and the trip-length target: a network edited
    in place of its source, or another parameter file, computes its own. The cached objects are shared: read
    them, never change them.
    """
    from vision_zero.traffic import demand, trip_distribution

    key = (network_fingerprint(base), base.area_share, central_values_key(params), mean_trip_length_km)

    def compute() -> tuple[TripDistribution, float]:
        if mean_trip_length_km is not None:
            dist = trip_distribution.calibrate_to_trip_length(
                base,
                mean_trip_length_km,
                params,
                commute_share=demand.commute_share_of_day(demand.default_periods(params), params),
            )
        else:
            dist = trip_distribution.trip_distribution(base, params)
        return dist, demand.default_daily_trips(base, params, distribution=dist)

    return _DEMAND_CACHE.get_or_compute(key, compute)


def distribution_key(distribution: TripDistribution) -> str:
    """A hash of a trip distribution's zones, weights and deterrence (everything its draws read)."""
    h = hashlib.sha256()
    for name in ("zone_node", "home", "job", "origin_ok", "destination_ok", "external", "x_km", "y_km"):
        a = np.ascontiguousarray(getattr(distribution, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    h.update(repr((float(distribution.decay_per_km), float(distribution.through_share))).encode())
    return h.hexdigest()
