"""The mesoscopic SimPy traffic simulation (see DESIGN.md "Traffic").

Contract: :func:`simulate` returns a :class:`TrafficRecord`; the risk model and the reports read only that.

The model (a link transmission model, Yperman 2007, in event form: the point/spatial queue that Newell's
simplified kinematic wave theory gives a link with a triangular fundamental diagram, like SUMO meso's
queue-and-headway segments; drivers keep their own desired speeds):

* One SimPy :class:`~simpy.Environment` per replication, clock in seconds. Periods run one after another in it,
  each in its own window (departures in ``[0, duration_s)``, then up to ``drain_s`` for trips to finish).
* A vehicle (or platoon) enters a link and runs it at its own desired speed (:func:`desired_speed_kph`): no
  congested-speed rule slows entrants, so an over-saturated link holds a queue and discharges at capacity
  instead of losing throughput. It then waits at the link's end (FIFO) until it can leave.
* The head of a link leaves at the earliest time that is (a) after its running time (plus, with
  ``traffic.route_choice.give_way_in_simulation``, the give-way delay on a minor approach,
  :func:`give_way_delay_s`), (b) one outflow headway after the previous exit (the link's flow capacity, see
  :func:`~vision_zero.traffic._loop.flow_capacity_vph`; at a signal its lanes' saturation flow; on a give-way
  approach of a real junction its give-way capacity, :func:`give_way_capacity_vph`; never at a bend), (c) within
  a green of its approach at a signalised node (fixed-time two-phase plans), (d) one inflow headway of the next
  link after the previous entry into it (inflow capped by the next link's capacity) and (e) when the next link
  has room: Newell's storage, where room freed at a link's end reaches its start one backward-wave travel time
  later. Otherwise it waits where it is (the queue stays on the upstream link and spills back link by link);
  the links and origin queues waiting to enter a link are served by capacity-proportional fair queueing
  (``merge_priority`` weights them; see :mod:`vision_zero.traffic._loop`; a trip that waited at its origin
  counts the wait in its first link's travel time, so route choice sees it, not in its running speed). Each
  movement that gives way at a priority junction (from a minor approach; a left turn from the major road)
  discharges at its capacity with its own simulated conflicting flows
  (:func:`~vision_zero.traffic._model.give_way_movements`): with ``traffic.give_way.gap_acceptance`` 2, Kimber and Coombe (1980)'s empirical linear
  capacities (UK regressions at saturated minor approaches, e.g. ``D (627 + 14 W_cr - Y (0.364 q_ac + 0.144 q_ab +
  0.229 q_ca + 0.520 q_cb))`` pcu/h for the movement crossing both major streams, ``Y = 1 - 0.0345 W``;
  :func:`~vision_zero.traffic._model.kimber_coombe_capacity_vph`), floored at one vehicle per
  ``traffic.stuck_time_s``; with 1, HCM eq. 17-3's gap-acceptance capacity (Exhibits 17-4/17-5), which falls to
  almost nothing at the conflicting flows of multi-lane primaries (14 veh/h for a minor through movement at
  3,000 veh/h). The default is still 0, "off" (``3600 / traffic.give_way.follow_up_headway_s`` per lane whatever the
  major flow; why, in the parameter's note: Kimber and Coombe's rule is not yet checked against the calibrated
  baselines), which lets route choice use priority
  junctions SUMO's junction model jams: SUMO meso-jc driving vision_zero's own district routes takes 1,290 s with
  469 teleports on "off"'s routes and 1,187 s with 338 on Kimber and Coombe's (benchmarks/README.md). The first vehicle
  waiting for room that does not appear for ``traffic.stuck_time_s`` (SUMO's time-to-teleport) enters anyway, so
  circular queues cannot freeze the network; such stuck moves are counted (:attr:`TrafficRecord.stuck_moves`).
* One event per link exit (which is the next link's entry), plus one per departure, plus one per entry that had
  to wait at a link's entry, handled by a compiled kernel over typed arrays in SimPy's event order; SimPy keeps
  the clock and runs the kernel up to each next SimPy event (see :mod:`vision_zero.traffic._loop`). All
  statistics are computed afterwards with numpy from per-traversal times (:attr:`TrafficRecord.link_events`
  makes them public).

Route choice (:mod:`vision_zero.traffic._route_choice`, which documents it): a time-sliced dynamic user equilibrium
(:mod:`vision_zero.traffic.routing`), then the band phase (:mod:`vision_zero.traffic._band_phase`), run by
:func:`simulate_vehicles` around the simulations. The module holds the public face: :func:`simulate`, the record
hand-off (:func:`record_of`) and :func:`expected_link_cost_s`, and re-exports what the other stages read of the
simulation; its parts: the trips as vehicles (:mod:`vision_zero.traffic._vehicles`), one simulation of given routes
(:mod:`vision_zero.traffic._network_loading`), the event loop (:mod:`vision_zero.traffic._loop`), the model's
numbers (:mod:`vision_zero.traffic._model`) and the record (:mod:`vision_zero.traffic._record`).

References
----------
Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL Supplementary
Report 582, Crowthorne (equations as reproduced in Rogers, M., Highway Engineering, ch. 5, eqs. 5.1-5.3).
Krajzewicz, D. et al., SUMO documentation: Definition of Vehicles, Vehicle Types, and Routes, junction model
parameters (``jmTimegapMinor`` default 1 s, ``impatience``); Simulation/Meso, Junction Model
(``--meso-junction-control``: the microsim junction model without internal links).
Webster, F. V. (1958). Traffic signal settings. Road Research Technical Paper 39, HMSO.
Newell, G. F. (1993). A simplified theory of kinematic waves in highway traffic. Transp. Res. B 27(4), 281-303.
Yperman, I. (2007). The link transmission model for dynamic network loading. PhD thesis, KU Leuven.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError
from vision_zero.core.units import S_PER_HOUR
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._model import (
    DESIGN_SPEED_QUANTILE,
    HcmUrbanStreet,
    TrafficSettings,
    desired_speed_kph,
    expected_running_time_s,
    free_flow_speed_kph,
    give_way_approach,
    give_way_capacity_vph,
    give_way_delay_s,
    signal_plans,
)
from vision_zero.traffic._record import (
    ARRIVAL_WARNING_SHARE,
    HANDOVER,
    SPEED_BIN_KPH,
    STOP_REASONS,
    TrafficRecord,
    build_record,
    traffic_summary,
)
from vision_zero.traffic._route_choice import VehicleTraffic, simulate_vehicles
from vision_zero.traffic._vehicles import driver_draws
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import RouteChoiceSettings

__all__ = [
    "ARRIVAL_WARNING_SHARE",
    "DESIGN_SPEED_QUANTILE",
    "HANDOVER",
    "RECORD_CROSSING_COLUMNS",
    "RECORD_CROSSING_LINK_COLUMNS",
    "SPEED_BIN_KPH",
    "STOP_REASONS",
    "HcmUrbanStreet",
    "TrafficRecord",
    "TrafficSettings",
    "VehicleTraffic",
    "desired_speed_kph",
    "driver_draws",
    "expected_link_cost_s",
    "free_flow_speed_kph",
    "give_way_approach",
    "give_way_capacity_vph",
    "give_way_delay_s",
    "record_of",
    "simulate",
    "simulate_vehicles",
    "traffic_summary",
]

FloatArray = npt.NDArray[np.float64]


def simulate(
    network: RoadNetwork,
    trips: pd.DataFrame,
    pedestrians: pd.DataFrame | None,
    *,
    rng: np.random.Generator,
    periods: tuple[Period, ...],
    platoon_size: int = 1,
    reroute_passes: int | None = None,
    routing_rng: np.random.Generator | None = None,
    settings: TrafficSettings | None = None,
    route_settings: RouteChoiceSettings | None = None,
    drain_s: float = S_PER_HOUR,
    link_events: bool = False,
) -> TrafficRecord:
    """Simulate one replication of the trips on the network; return what it observed.

    Parameters
    ----------
    network
        The road network (optional link columns of interventions are honoured, see :mod:`vision_zero.network.road_network`).
    trips
        Trips table (:mod:`vision_zero.traffic.demand`): ``trip``, ``period``, ``origin``, ``destination``, ``depart_s``.
    pedestrians
        Pedestrian demand (``crossing``, ``period``, ``peds_per_h``) or None for no pedestrians.
    rng
        Drivers' stream: one standard-normal desired-speed draw per trip, in trip order (common random numbers:
        scenarios with the same trips give each driver the same relative speed). Nothing else is drawn from it.
    periods
        The periods the trips belong to, simulated in this order.
    platoon_size
        Trips with the same origin, destination and period travel as platoons of up to this many vehicles
        (one event per platoon and link; a platoon takes ``size`` storage and ``size`` discharge headways).
        Useful only when many trips share an OD pair (zone-based demand); 1 = single vehicles.
    reroute_passes
        At most this many re-routing iterations after the first simulation (0 = free-flow routes only); default
        ``route_settings.max_iterations``. Fewer are run when the relative gap reaches its target.
    routing_rng
        Stream for route choice (which trips switch in an iteration; perception groups and errors when the probit
        sensitivity option is on); its use per iteration depends only on the number of vehicles and links, so
        scenarios on the same links share it. Default: a child spawned from ``rng`` (not consuming it), as in
        :func:`simulate_vehicles`. The pipeline always passes its own (:func:`vision_zero.core.seeding.replication_rngs`).
    settings
        Model numbers (default :meth:`TrafficSettings.from_parameters`).
    route_settings
        Equilibrium numbers (default :meth:`RouteChoiceSettings.from_parameters`).
    drain_s
        After the last departure of a period, time given to trips to finish [s]; later ones stay en route.
    link_events
        Also return every vehicle's link entries and exits (:attr:`TrafficRecord.link_events`), e.g. to draw
        time-space diagrams or to check the engine against a peer's cumulative curves.
    """
    if platoon_size < 1 or (reroute_passes is not None and reroute_passes < 0):
        raise DataError(
            f"simulate: expected platoon_size >= 1 and reroute_passes >= 0 "
            f"(got {platoon_size}, {reroute_passes})"
        )
    vehicles = simulate_vehicles(
        network,
        trips,
        rng=rng,
        periods=periods,
        platoon_size=platoon_size,
        reroute_passes=reroute_passes,
        routing_rng=routing_rng,
        settings=settings,
        route_settings=route_settings,
        drain_s=drain_s,
    )
    return record_of(network, trips, pedestrians, periods, vehicles, link_events=link_events)


#: The columns of a network's crossings (and of its crossing links) that :func:`record_of` reads: where each
#: crossing lies (its link, or its node, and its offset along the link), not its type or control. A network
#: whose crossings differ only in other columns (an upgrade) gives the same record for the same vehicle traffic
#: and pedestrians (:func:`vision_zero.runs.pipeline.record_key`; test).
RECORD_CROSSING_COLUMNS: tuple[str, ...] = ("node", "link", "offset_m")
RECORD_CROSSING_LINK_COLUMNS: tuple[str, ...] = ("crossing", "link")


def record_of(
    network: RoadNetwork,
    trips: pd.DataFrame,
    pedestrians: pd.DataFrame | None,
    periods: tuple[Period, ...],
    vehicles: VehicleTraffic,
    *,
    link_events: bool = False,
) -> TrafficRecord:
    """The :class:`TrafficRecord` of :func:`simulate_vehicles`' traffic on ``network`` (its crossings) with pedestrians.

    ``network`` must have the links the traffic ran on; its crossings and ``pedestrians`` may differ from the
    network the traffic was simulated on (e.g. a crossing upgrade re-uses its baseline's traffic).
    ``link_events``: as in :func:`simulate`.
    """
    veh, times = vehicles.veh, vehicles.times
    record = build_record(
        network,
        trips,
        pedestrians,
        periods,
        veh.trip_vehicle,
        veh.period,
        veh.depart_s,
        veh.size,
        vehicles.routes,
        times.ent,
        times.ee,
        times.ex,
        vehicles.windows,
        vehicles.close,
        network.links["length_m"].to_numpy(dtype=np.float64),
        times.fft,
        times.stuck_moves,
        veh.first_trip,
        times.held,
        link_events,
    )
    return dataclasses.replace(record, route_choice=vehicles.route_choice)


def expected_link_cost_s(network: RoadNetwork, settings: TrafficSettings | None = None) -> FloatArray:
    """Drivers' expected time on each link before any simulation [s]: route choice's first costs in :func:`simulate`.

    The mean desired-speed running time, Webster's uniform signal delay and the give-way delay at priority
    junctions. Elastic demand (:func:`vision_zero.traffic.demand.elastic_trips`) compares a variant's OD times
    under these costs with its baseline's.
    """
    st = TrafficSettings.from_parameters() if settings is None else settings
    sig = signal_plans(network, st)
    out: FloatArray = (
        expected_running_time_s(network.links, st) + sig.uniform_delay_s() + give_way_delay_s(network, st)
    )
    return out
