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

Route choice: a time-sliced dynamic user equilibrium (:mod:`vision_zero.traffic.routing`). Trips first take
their best routes under drivers' expected link times (:func:`expected_link_cost_s`). After each simulation the
link times are averaged per time slice of entry (``traffic.route_choice.slice_s``), each movement's (turn's)
mean extra time is added, and every trip's route is compared with the best route for its origin, destination and
departure slice (one shortest-path tree per origin and slice, ties broken toward fewer turns, then higher road
class). The relative gap (excess time over best time, summed over trips) is recorded per simulation in
``TrafficRecord.route_choice`` with the mean trip time and the share of trips arriving; if it is above
``traffic.route_choice.relative_gap_target``, fewer than ``traffic.route_choice.max_iterations`` re-routing
iterations have run and the route choice has not reached a plateau, trips move to their best route with
probability MSA step x their own relative gap (route swapping) and the trips are simulated again. A plateau
(:func:`~vision_zero.traffic.routing.gap_plateau`, ``traffic.route_choice.plateau_*``): in each of the last two
iterations the gap, the mean trip time and the arrived share each moved by less than its threshold, either way
(a network whose gap has a floor above the target, like the 20x20 grid at 10k trips; a gap that rises and falls,
or arrivals that swing, are not a plateau). The MSA step is ``(k+1)^-traffic.route_choice.msa_step_exponent``
(0.75 since 2026-12-02, 1 before). A baseline's equilibrium also hands over early once it stalls far from its
target (``handover``: its gap fell by less than ``traffic.route_choice.handover_gap_change`` of itself in the last
iteration, or rose, while above ``handover_min_gap`` with at least 95% of the trips arriving; benchmarks/README.md,
"Handing over to the band phase sooner"). Where this equilibrium stops (gap target, plateau, hand-over or the cap
of ``max_iterations``), a baseline goes on in the band phase below, from the routes it has, with nobody having
tolerated anything (a variant's rule, the band being the only difference from the equilibrium's: see "A fair
pair" below). Each row of the log says which phase decided after that simulation (``phase``, "equilibrium" or
"band"; the simulation where the equilibrium stopped has a row of each) and the last row of each phase why it
stopped (``stop_reason``: the gap target, a plateau, the hand-over, an empty indifference band, or the phase's cap of
``max_iterations``: not converged). The record of the last simulation is returned. With
``traffic.route_choice.gap_sample_origins`` (a number of origins; 500 by default, 0 = every origin), on a network
with more origins than that the trees after each simulation are grown only for a random sample of that many
origins: the gap is then their ratio estimate with its standard error
(``relative_gap_se``), and only their trips swap, at the step divided by the sampled share. An estimate at the
target before the last simulation is confirmed on every origin (the remaining origins' trees are grown before the
loop stops); the last simulation's gap, recorded, stays an estimate. Each driver's forgone saving (what a variant's
indifference band reads, :class:`~vision_zero.traffic.routing.HeldRoutes`) is not searched after the last
simulation: the routes keep the costs they were compared at, and a variant computes it for the drivers it needs.
The trees grown after each simulation are logged (``trees``). Probit perception errors (``traffic.route_choice.perception_cv``, 0 by default)
are a sensitivity option only. All route-choice randomness comes from the routing stream (common random
numbers).

A change to the network (a variant of a paired baseline) is not searched from free-flow routes again: its drivers
start on the routes they ended with in the baseline replication (``held_routes``; same trips, same drivers) and
leave them only when their best route saves more than their indifference band, ``max(0.2 x route time, 60 s)``
(Mahmassani and Jayakrishnan 1991's boundedly rational switching, ``traffic.route_choice.indifference_band_*``),
until nobody is outside his band (Mahmassani and Chang 1987's boundedly rational user equilibrium). On a network
with many near-equal routes the equilibrium from scratch sends a street's traffic away for a few percent of
travel time; studies of speed cameras and 20 mph zones find volumes unchanged and no migration. The share of
trips outside their band is logged with the gap. Of the drivers outside their band, each leaves his route with
probability the MSA step of the iteration (``msa_step``: 1/2, 1/3, ... with the default exponent; drawn from a
child of the routing stream), the route-flow averaging by which Batista, Zhao and Leclercq (2018) reach the
boundedly rational equilibrium with an LWR mesoscopic simulator; the loop stops when nobody is outside his band,
at a plateau (over the phase's own rows) or at the phase's cap (``max_iterations`` re-routing iterations).
Until 2026-12-02 every driver outside his band switched at once: on a congested network that flips whole streams
between routes (two routes of 600 veh/h for 1,200 trips: all 1,200 on one route, then all on the other, to the
cap) and at full demand it took the district's arterials-80-to-60 variant from 99.96% arriving to 70.7% (benchmarks/README.md, "Full-demand gridlock").

A fair pair (issue 13, since 2026-12-02): a baseline replication ends in the state its variants aim at. After
its equilibrium stops it takes the variants' rule from its own routes (its drivers' held routes, nothing tolerated,
the MSA step schedule restarted, the same cap of ``max_iterations``) until nobody is outside his band, a plateau
or the cap. The saving each driver then forgoes (``route_costs.parquet``, what a variant reads as tolerated) is
that of the baseline's final state, and a variant that changes nothing moves nobody. Before, at full demand the
district's baseline stopped at the cap unconverged (gap 0.14-0.15) and a variant, started from those routes,
went on converging (gap ~0.09): any change, however small, put the drivers beyond their band and their tolerated
saving moving, so a pair's difference held the variant's extra convergence as well as the program's effect
(benchmarks/README.md, "A fair pair"). No band phase without a band (``indifference_band_*`` both 0: drivers would
leave a route for any saving, all by the same step, which oscillates) or without re-routing (``max_iterations``
0).

A variant's band search asks of every driver only whether his best route costs less than his threshold (his route
time minus his band, :func:`~vision_zero.traffic.routing.band_limit_s`): a driver whose landmark lower bound
already lies beyond it stays without a tree (:meth:`~vision_zero.traffic.routing.Router.shortest`), each
origin's trees stop at the remaining drivers' thresholds (a driver whose best route lies beyond his stays,
whatever that route costs) and expand no link from which the landmark bounds put every remaining driver's
destination beyond his threshold, so the switchers are those of the full search, bit for bit. The sampled
origins' trees (``gap_sample_origins``) are grown in full only where a rule reads the gap, the band phase's
largest search cost otherwise: the plateau rule, once the mean trip and the arrived share of its window stopped
moving, the band stop and the phase's cap (its last row, the recorded gap, their estimate); a band-phase row whose
gap no rule read has it NaN in the log (``_band_gaps``; every decision and every gap grown the same bit for bit,
benchmarks/README.md "The band phase's gap only where a rule reads it"). Where a
baseline's equilibrium hands over, the band phase's search after that simulation takes the sampled origins'
best routes from the equilibrium's (the same costs; grown with their routes also at the equilibrium's cap) and
grows trees only for the other origins. What a
variant's route choice costs, and what was tried to cut it: benchmarks/README.md, "A variant's route choice".

References
----------
Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL Supplementary
Report 582, Crowthorne (equations as reproduced in Rogers, M., Highway Engineering, ch. 5, eqs. 5.1-5.3).
Krajzewicz, D. et al., SUMO documentation: Definition of Vehicles, Vehicle Types, and Routes, junction model
parameters (``jmTimegapMinor`` default 1 s, ``impatience``); Simulation/Meso, Junction Model
(``--meso-junction-control``: the microsim junction model without internal links).
Batista, S. F. A., Zhao, C.-L., Leclercq, L. (2018). Effects of users' bounded rationality on a traffic network
performance: a simulation study. Journal of Advanced Transportation 2018, 9876598 (Algorithm 1: satisficing
routes, MSA route-flow update, LWR mesoscopic loading).
Mahmassani, H. S., Chang, G.-L. (1987). On boundedly rational user equilibrium in transportation systems.
Transp. Sci. 21(2), 89-99.
Mahmassani, H. S., Jayakrishnan, R. (1991). System performance and user response under real-time information in
a congested traffic corridor. Transp. Res. A 25(5), 293-307.
Gawron, C. (1998). An iterative algorithm to determine the dynamic user equilibrium in a traffic simulation
model. Int. J. Modern Physics C 9(3), 393-407.
Daganzo, C. F., Sheffi, Y. (1977). On stochastic models of traffic assignment. Transp. Sci. 11(3), 253-274.
Sheffi, Y. (1985). Urban Transportation Networks. Prentice-Hall, ch. 11-12.
Webster, F. V. (1958). Traffic signal settings. Road Research Technical Paper 39, HMSO.
Newell, G. F. (1993). A simplified theory of kinematic waves in highway traffic. Transp. Res. B 27(4), 281-303.
Yperman, I. (2007). The link transmission model for dynamic network loading. PhD thesis, KU Leuven.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import simpy

from vision_zero.core.errors import DataError
from vision_zero.core.process import set_up_numba
from vision_zero.core.units import S_PER_HOUR, kph_to_mps
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._loop import EventLoop, Links, Records, link_constants
from vision_zero.traffic._model import (
    DESIGN_SPEED_QUANTILE,
    HcmUrbanStreet,
    TrafficSettings,
    compliance_draws,
    desired_speed_kph,
    expected_running_time_s,
    free_flow_speed_kph,
    give_way_approach,
    give_way_capacity_vph,
    give_way_delay_s,
    signal_plans,
)
from vision_zero.traffic._position_kernels import carried_values, slice_costs
from vision_zero.traffic._record import (
    ARRIVAL_WARNING_SHARE,
    HANDOVER,
    ROUTE_CHOICE_COLUMNS,
    SPEED_BIN_KPH,
    STOP_REASONS,
    TrafficRecord,
    build_record,
    traffic_summary,
)
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import (
    HeldRoutes,
    OriginSample,
    RouteChoiceSettings,
    RouteCosts,
    Router,
    Routes,
    band_limit_s,
    band_switchers,
    gap_plateau,
    gap_switchers,
    msa_step,
    perceived_costs,
    relative_gap,
    route_cost_s,
    sample_origins,
    sampled_relative_gap,
    slice_of,
)

__all__ = [
    "ARRIVAL_WARNING_SHARE",
    "DESIGN_SPEED_QUANTILE",
    "HANDOVER",
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
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Vehicles:
    """Trips grouped into vehicles (platoons of ``size`` trips with the same OD and period)."""

    trip_vehicle: IntArray  # per trip: its vehicle
    period: IntArray  # per vehicle: period index
    origin: IntArray
    destination: IntArray
    depart_s: FloatArray  # per vehicle, from the period's start
    size: IntArray
    z: FloatArray
    first_trip: IntArray
    key: IntArray  # per vehicle: its driver, the draw id of its first trip (HeldRoutes.key)


def _vehicles(trips: pd.DataFrame, period_index: IntArray, z: FloatArray, platoon_size: int) -> _Vehicles:
    n = len(trips)
    o = trips["origin"].to_numpy(dtype=np.int64)
    d = trips["destination"].to_numpy(dtype=np.int64)
    dep = trips["depart_s"].to_numpy(dtype=np.float64)
    draw = trips["draw"].to_numpy(dtype=np.int64) if "draw" in trips.columns else np.arange(n, dtype=np.int64)
    if platoon_size <= 1:
        ids = np.arange(n, dtype=np.int64)
        return _Vehicles(ids, period_index, o, d, dep, np.ones(n, dtype=np.int64), z, ids, draw)
    order = np.lexsort((dep, d, o, period_index))
    key_change = np.ones(n, dtype=bool)
    if n:
        key_change[1:] = (
            (np.diff(period_index[order]) != 0) | (np.diff(o[order]) != 0) | (np.diff(d[order]) != 0)
        )
    grp = np.cumsum(key_change) - 1
    grp_start = np.flatnonzero(key_change)
    rank = np.arange(n) - grp_start[grp]
    veh_key = grp * (n + 1) + rank // platoon_size
    uniq, veh_sorted = np.unique(veh_key, return_inverse=True)
    trip_vehicle = np.empty(n, dtype=np.int64)
    trip_vehicle[order] = veh_sorted
    nv = len(uniq)
    first = np.full(nv, n, dtype=np.int64)
    np.minimum.at(first, trip_vehicle, np.arange(n))  # trips are sorted by departure within a period
    size = np.bincount(trip_vehicle, minlength=nv).astype(np.int64)
    return _Vehicles(
        trip_vehicle, period_index[first], o[first], d[first], dep[first], size, z[first], first, draw[first]
    )


def driver_draws(trips: pd.DataFrame, rng: np.random.Generator) -> FloatArray:
    """Each trip's standard-normal desired-speed draw: the ``k``-th draw of ``rng`` for the trip of draw id ``k``.

    The draw id is the trips table's optional ``draw`` column (ids >= 0, each at most once), else the row
    number. Elastic demand (:func:`vision_zero.traffic.demand.elastic_trips`) gives a variant's trips the ids of
    its baseline's, so a removed trip leaves a gap and every other trip keeps its baseline driver (common random
    numbers); a draw id is thus a driver, whatever the trips around it.
    """
    if "draw" not in trips.columns:
        return rng.standard_normal(len(trips))
    ids = trips["draw"].to_numpy(dtype=np.int64)
    if len(ids) and (ids.min() < 0 or len(np.unique(ids)) != len(ids)):
        raise DataError("trips table: column 'draw': expected distinct ids >= 0")
    out: FloatArray = rng.standard_normal(int(ids.max()) + 1 if len(ids) else 0)[ids]
    return out


def _check_trips(trips: pd.DataFrame, network: RoadNetwork, periods: tuple[Period, ...]) -> IntArray:
    missing = [c for c in ("trip", "period", "origin", "destination", "depart_s") if c not in trips.columns]
    if missing:
        raise DataError(
            f"trips table: missing columns {missing}; expected trip, period, origin, destination, "
            f"depart_s (got {list(trips.columns)})"
        )
    names = {p.name: i for i, p in enumerate(periods)}
    # the distinct names first: a Python set over an Arrow-backed string column builds one str per trip
    # (~9 ms per 10k trips, #16); the periods' positions by one indexer, not a per-trip dict lookup
    period = trips["period"].astype(str)
    unknown = sorted(set(period.unique()) - set(names))
    if unknown:
        raise DataError(f"trips table: column 'period': expected one of {sorted(names)} (got {unknown[0]!r})")
    n_nodes = len(network.nodes)
    for col in ("origin", "destination"):
        val = trips[col].to_numpy()
        if len(val) and (val.min() < 0 or val.max() >= n_nodes):
            raise DataError(
                f"trips table: column {col!r}: expected node ids 0..{n_nodes - 1} "
                f"(got {int(val.min())}..{int(val.max())})"
            )
    dep = trips["depart_s"].to_numpy(dtype=np.float64)
    pidx: IntArray = np.fromiter(names.values(), dtype=np.int64, count=len(names))[
        pd.Index(list(names)).get_indexer(pd.Index(period))
    ]
    dur = np.array([p.duration_s for p in periods])[pidx] if len(pidx) else np.zeros(0)
    bad = np.flatnonzero(~((dep >= 0) & (dep <= dur)))
    if bad.size:
        raise DataError(
            f"trips table: row {bad[0]}, column 'depart_s': expected seconds within the period "
            f"0..{dur[bad[0]]:.0f} (got {float(dep[bad[0]])})"
        )
    return pidx


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


@dataclass(frozen=True)
class VehicleTraffic:
    """What the vehicles did in one replication: their routes and per-traversal times, the route-choice log.

    Everything :func:`simulate` computes before it looks at crossings and pedestrians: the engine and route
    choice read no crossing, so a network that differs from another only in its crossings (their types, new
    crossings) and in its pedestrian demand has the same vehicle traffic, and :func:`record_of` turns that
    traffic into the record of either network.
    """

    veh: _Vehicles
    routes: Routes
    times: _Times
    windows: FloatArray
    close: FloatArray
    route_choice: pd.DataFrame
    last_costs: RouteCosts  # what the routes were compared at after the last simulation
    cost_row: IntArray  # per vehicle: its departure slice's row of last_costs
    #: simulations run (an iteration in which no route changed re-uses the last one: the same routes and carried
    #: running times give the same simulation, so it is not run again)
    simulations: int = 1

    def held_routes(self) -> HeldRoutes:
        """The routes the drivers ended with, for a variant that starts from them (:func:`simulate_vehicles`).

        With the costs they were last compared at: a variant computes the saving a driver forwent only for the
        drivers whose best route lies beyond their indifference band (:meth:`HeldRoutes.forgone`).
        """
        order = np.argsort(self.veh.key, kind="stable")
        return HeldRoutes(
            self.veh.key[order], self.routes.subset(order), row=self.cost_row[order], costs=self.last_costs
        )


def simulate_vehicles(
    network: RoadNetwork,
    trips: pd.DataFrame,
    *,
    rng: np.random.Generator,
    periods: tuple[Period, ...],
    platoon_size: int = 1,
    reroute_passes: int | None = None,
    routing_rng: np.random.Generator | None = None,
    settings: TrafficSettings | None = None,
    route_settings: RouteChoiceSettings | None = None,
    drain_s: float = S_PER_HOUR,
    held_routes: HeldRoutes | None = None,
) -> VehicleTraffic:
    """The vehicle part of :func:`simulate` (route choice and the event loop), without crossings or pedestrians.

    Parameters are those of :func:`simulate` (the same arguments give the same vehicle traffic); without
    ``routing_rng`` its default is a child spawned from ``rng``.

    ``held_routes``: the routes the drivers had before a change (a variant's paired baseline replication,
    :meth:`VehicleTraffic.held_routes`). Each vehicle whose driver has a held route still drivable on this
    network starts on it (the others on their best route under expected costs), and after each simulation the
    drivers outside their indifference band (:func:`band_switchers`; boundedly rational) switch to their best
    route, each with probability the iteration's MSA step, until nobody is outside, the route choice reaches a
    plateau or ``max_iterations`` re-routing iterations have run (the band phase). Without it: free-flow routes,
    then route swapping towards the user equilibrium (:func:`gap_switchers`) until the gap target, a plateau, its
    early hand-over (:func:`_hands_over`) or ``max_iterations`` re-routing iterations, then the band phase from the routes reached (nobody having
    tolerated anything; the step schedule, plateau window and cap restart), so that a baseline ends where its
    variants aim (module docstring, "A fair pair").
    """
    if platoon_size < 1 or (reroute_passes is not None and reroute_passes < 0):
        raise DataError(
            f"simulate: expected platoon_size >= 1 and reroute_passes >= 0 "
            f"(got {platoon_size}, {reroute_passes})"
        )
    set_up_numba()  # a program's own process: numba's set-up without its SciPy probe (#16); elsewhere nothing
    st = TrafficSettings.from_parameters() if settings is None else settings
    rc = RouteChoiceSettings.from_parameters() if route_settings is None else route_settings
    max_iterations = rc.max_iterations if reroute_passes is None else reroute_passes
    pidx = _check_trips(trips, network, periods)
    route_rng = rng.spawn(1)[0] if routing_rng is None else routing_rng
    z = driver_draws(trips, rng)
    veh = _vehicles(trips, pidx, z, platoon_size)
    links = network.links
    sig = signal_plans(network, st)
    router = Router(network)
    n_links = len(links)
    mean_v = desired_speed_kph(links, np.arange(n_links), np.zeros(n_links), st)
    give_way = give_way_delay_s(network, st)
    held = give_way if st.give_way_in_simulation else np.zeros(n_links)  # in the simulated times, or not
    expected_s = expected_running_time_s(links, st) + sig.uniform_delay_s()  # running and signal delay
    cost0 = expected_s + held  # as the simulation would show
    slices = _Slices.of(veh, periods, rc.slice_s)
    draws = max(1, st.route_perception_draws) if st.route_perception_cv > 0 else 1
    group = route_rng.integers(0, draws, len(veh.origin))
    # route choice's cost: simulated link times plus the give-way delay where the simulation did not hold vehicles
    # (expected_link_cost_s: the same sum, its terms computed above once)
    costs = np.tile(expected_s + give_way, (slices.n_rows, 1))
    # expected costs are the same in every slice: one slice's trees route everyone (the perception draws are
    # consumed per slice all the same)
    one = dataclasses.replace(slices, row=np.zeros(len(veh.origin), dtype=np.int64)) if draws == 1 else slices
    routes, tolerated, held_pos = _start_routes(held_routes, router, veh, one, costs, group, route_rng, st)
    lk = link_constants(network, sig, held, give_way_capacity_vph(network, st), mean_v, st)
    log: list[dict[str, float | str]] = []
    known: tuple[FloatArray, BoolArray] | None = None  # running times carried over from the last simulation
    records = Records()  # the event loop's per-position memory, reused by every simulation
    band = dict(relative=rc.band_relative, minimum_s=rc.band_min_s)
    # a variant's sample of origins for its gap: a child stream, so the routing stream's own draws stay as they were
    gap_rng = route_rng.spawn(1)[0] if held_routes is not None else route_rng
    # a variant's draws of who among the drivers outside their band switches: the next child stream
    swap_rng = route_rng.spawn(1)[0] if held_routes is not None else route_rng
    # the phase: a baseline's equilibrium (route swapping from free-flow routes), then the indifference band
    # (boundedly rational switching from the routes it ended with, nobody having tolerated anything), in which a
    # variant starts from its baseline's routes; each phase has its own MSA step schedule, plateau window and cap
    phase = "equilibrium" if held_routes is None else "band"
    # no band phase without re-routing, nor without a band (its drivers would leave a route for any saving, all
    # by the same step: MSA without the equilibrium's weighting by each trip's own gap, which oscillates)
    band_follows = max_iterations > 0 and (rc.band_relative > 0.0 or rc.band_min_s > 0.0)
    first, first_row = 0, 0  # the phase's first simulation and first log row
    # the band phase's rows without their gap (log position -> what it is grown from, if a stop rule reads it)
    pending: dict[int, _BandState] = {}
    k = 0
    weight = veh.size.astype(np.float64)
    # route choice's cost: the give-way delay where the simulation did not hold vehicles
    extra_s = give_way - held
    run = functools.partial(
        _simulated, network, veh, periods, lk, st, drain_s, records, router, slices, cost0
    )
    times, windows, close, edges, costs, turn_s, current, driven = run(routes, known, extra_s)
    simulations = 1
    while True:
        # the gap on a sample of origins, also after the last simulation (the recorded gap is an estimate with its
        # standard error; a driver's forgone saving is computed by a variant that needs it, from the costs kept
        # with the routes)
        sample = sample_origins(veh.origin, rc.gap_sample_origins, gap_rng)
        sv = sample.vehicles
        # the equilibrium's best routes of the sampled origins after this simulation, when it hands over to the
        # band phase: the band phase's search after the same simulation takes them instead of growing those trees
        # again (the same costs, each such tree's trips all without a limit: the same answers)
        handed: tuple[FloatArray, Routes] | None = None
        while True:  # the phase's route update after this simulation (an equilibrium that stops hands it on)
            trees_before = router.trees_grown
            last = k - first == max_iterations  # the phase's cap
            exact_band = phase == "band"
            if not exact_band:  # the equilibrium's swaps on the sampled origins (their routes also at its cap
                # when a band phase follows: it re-uses them)
                best, candidates = _best_routes(
                    router,
                    veh,
                    slices,
                    costs,
                    turn_s,
                    None if sample.complete else sv,
                    paths=not last or band_follows,
                )
                gap, gap_se = sampled_relative_gap(current[sv], best[sv], weight[sv], sample)
            else:  # every driver's band exactly; the sampled origins' trees in full where this row's gap is read
                limit = band_limit_s(current, **band, tolerated_s=np.nan_to_num(tolerated, nan=0.0))
                kept = _BandState(costs, turn_s, current, sample)
                best, candidates, gap, gap_se = _band_update(
                    router,
                    veh,
                    slices,
                    weight,
                    kept,
                    limit,
                    reads_gap=handed is not None or last or _plateau_but_gap([*log[first_row:], driven], rc),
                    paths=not last,
                    handed=handed,
                )
            handed = None
            if not exact_band and not sample.complete and not last and gap <= rc.relative_gap_target:
                # the stop rule fires: the exact gap decides (after the last simulation there is nothing to decide)
                rest = np.setdiff1d(np.arange(len(veh.origin)), sv)
                best[rest] = _best_routes(router, veh, slices, costs, turn_s, rest, paths=False)[0][rest]
                gap, gap_se = relative_gap(current, best, weight), 0.0
            outside = band_switchers(current, best, **band, tolerated_s=np.nan_to_num(tolerated, nan=0.0))
            ask = outside[np.isnan(tolerated[outside])]
            # beyond the band: does a held route's driver tolerate the saving already? (on demand)
            if ask.size:
                tolerated[ask] = (
                    held_routes.forgone(router, held_pos[ask]) if held_routes is not None else 0.0
                )
                outside = band_switchers(current, best, **band, tolerated_s=np.nan_to_num(tolerated, nan=0.0))
            # the band phase's rows whose gap a stop rule reads get it now (the gap its search would have given)
            gap, gap_se = (
                _band_gaps(
                    router,
                    veh,
                    slices,
                    weight,
                    rc,
                    log,
                    first_row,
                    driven,
                    gap,
                    gap_se,
                    kept,
                    pending,
                    outside.size,
                )
                if exact_band
                else (gap, gap_se)
            )
            row: dict[str, float | str] = {
                "iteration": float(k),
                "phase": phase,
                "relative_gap": gap,
                "relative_gap_se": gap_se,
                # the band phase decides every driver's band, the equilibrium the sampled ones'
                "outside_band": float(
                    weight[outside].sum() / max((weight if exact_band else weight[sv]).sum(), 1.0)
                ),
                **driven,
                "trees": float(router.trees_grown - trees_before),
            }
            if exact_band and outside.size == 0:
                reason = "band"
            elif not exact_band and gap <= rc.relative_gap_target:
                reason = "gap_target"
            else:  # a plateau of the gap, the mean trip and the arrived share within the phase (gap_plateau)
                # or, an equilibrium with a band phase to follow, its early hand-over (_hands_over)
                handing = band_follows and not exact_band and k > first
                reason = "plateau" if _plateau([*log[first_row:], row], rc) else ""
                reason = reason or (HANDOVER if handing and _hands_over(log[-1], row, rc) else "")
            reason = reason or ("cap" if last else "")
            if not reason:
                break
            log.append(row | {"switched": 0.0, "stop_reason": reason})
            if exact_band or not band_follows:  # the route choice ends here
                frame = pd.DataFrame(log, columns=list(ROUTE_CHOICE_COLUMNS))
                last_costs = RouteCosts(link_s=costs, edge_extra_s=turn_s)
                return VehicleTraffic(
                    veh, routes, times, windows, close, frame, last_costs, slices.row, simulations
                )
            # the equilibrium stopped (its target, a plateau or its cap): the drivers now judge the routes they
            # have by their band, as a variant's drivers do, from this simulation on
            phase, first, first_row = "band", k, len(log)
            handed = (best, candidates)
        # of the drivers to move (the equilibrium's: by their own gap; the band's: those outside their band),
        # each moves with probability the phase's MSA step (the equilibrium's divided by the sampled share)
        step = msa_step(k - first + 1, rc.step_exponent, weight_exponent=rc.step_weight_exponent)
        if phase == "equilibrium":
            chosen = sv[gap_switchers(current[sv], best[sv], step=step / sample.share, rng=route_rng)]
        else:
            chosen = outside[swap_rng.random(outside.size) < step]
            tolerated[chosen] = 0.0
        if draws > 1:  # probit sensitivity: the switchers take their best route under perceived times
            candidates = _perceived_routes(router, veh, slices, costs, group, route_rng, st, chosen, turn_s)
        moved = routes.replace(chosen, candidates)
        del candidates
        log.append(row | {"switched": float(veh.size[chosen].sum()), "stop_reason": ""})
        k += 1
        # an iteration that changed no route (nobody drawn to move) would be followed by the same simulation: the
        # same routes, every running time carried, an event loop without randomness. It is not run again: the
        # route update goes on from its times and costs with the next step (its own sample and draws, as after a
        # simulation), the same results bit for bit, one simulation fewer
        if not moved.same_as(routes):
            # free this simulation's per-position arrays before the next one allocates its own (peak memory); the
            # running times of the vehicles that keep their route carry over (they depend on the link and the
            # driver)
            fft = times.fft
            del times, edges, current
            known = _carried(routes, moved, chosen, fft)
            del fft
            routes = moved
            times, windows, close, edges, costs, turn_s, current, driven = run(routes, known, extra_s)
            simulations += 1


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


@dataclass(frozen=True)
class _Slices:
    """Time slices of departure: one row of link costs per (period, slice); each vehicle's row."""

    row: IntArray  # per vehicle
    offset: IntArray  # per period: its first row
    count: IntArray  # per period: its number of slices
    slice_s: float

    @property
    def n_rows(self) -> int:
        return int(self.count.sum())

    @classmethod
    def of(cls, veh: _Vehicles, periods: tuple[Period, ...], slice_s: float) -> _Slices:
        if not slice_s > 0:
            raise DataError(f"traffic.route_choice.slice_s: expected seconds > 0 (got {slice_s})")
        count = np.array([max(1, math.ceil(p.duration_s / slice_s)) for p in periods], dtype=np.int64)
        offset = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
        row = offset[veh.period] + slice_of(veh.depart_s, slice_s, 1 << 62)
        row = np.minimum(row, offset[veh.period] + count[veh.period] - 1)
        return cls(row=row, offset=offset, count=count, slice_s=slice_s)


def _best_routes(
    router: Router,
    veh: _Vehicles,
    slices: _Slices,
    costs: FloatArray,
    turn_s: FloatArray | None,
    only: IntArray | None = None,
    *,
    paths: bool = True,
    limit_s: FloatArray | None = None,
) -> tuple[FloatArray, Routes]:
    """Cost and links of the best route of every vehicle (or of ``only``; the others: inf and an empty route).

    Under its departure slice's link costs plus the turns' extra times: one tree per origin and slice.
    ``limit_s``: per vehicle, the cost beyond which its best route is not wanted (:meth:`Router.shortest`).
    """
    return router.best_by_row(
        veh.origin, veh.destination, slices.row, costs, turn_s, only, paths=paths, limit_s=limit_s
    )


def _band_search(
    router: Router,
    veh: _Vehicles,
    slices: _Slices,
    costs: FloatArray,
    turn_s: FloatArray,
    sampled: IntArray,
    limit_s: FloatArray,
    *,
    paths: bool,
    handed: tuple[FloatArray, Routes] | None,
) -> tuple[FloatArray, Routes]:
    """The band phase's search after a simulation: every vehicle's best route where it lies within ``limit_s``.

    Each tree stops at its drivers' band thresholds ``limit_s`` (:func:`band_limit_s`; a driver whose best route
    costs more stays, whatever it costs: ``inf`` and no route), but the sampled vehicles' (``sampled``, the gap's
    origins) are grown in full. ``handed``: the equilibrium's best costs and routes after the same simulation
    (where it hands over), exact for the sampled vehicles: they are taken, and trees grown only for the others.
    """
    limit = np.array(limit_s, dtype=np.float64)
    limit[sampled] = np.inf
    if handed is None:
        return _best_routes(router, veh, slices, costs, turn_s, None, paths=paths, limit_s=limit)
    rest = np.setdiff1d(np.arange(len(veh.origin)), sampled)
    best, candidates = _best_routes(router, veh, slices, costs, turn_s, rest, paths=paths, limit_s=limit)
    best[sampled] = handed[0][sampled]
    return best, candidates.replace(sampled, handed[1])


def _perceived_routes(
    router: Router,
    veh: _Vehicles,
    slices: _Slices,
    costs: FloatArray,
    group: IntArray,
    rng: np.random.Generator,
    st: TrafficSettings,
    only: IntArray | None,
    turn_s: FloatArray | None,
) -> Routes:
    """Best routes of the vehicles ``only`` (default: all; the others get empty routes).

    Without perception errors (``perception_cv = 0``, the default) the best routes under each departure slice's
    link costs; with them (the probit sensitivity option) under one draw of perceived costs per group of drivers
    and slice (the draws consumed are the same whoever is routed).
    """
    n = len(veh.origin)
    wanted = np.ones(n, dtype=bool)
    if only is not None:
        wanted[:] = False
        wanted[only] = True
    draws = max(1, st.route_perception_draws) if st.route_perception_cv > 0 else 1
    if draws == 1:
        return _best_routes(router, veh, slices, costs, turn_s, np.flatnonzero(wanted))[1]
    parts: list[tuple[IntArray, Routes]] = []
    for r in range(slices.n_rows):
        perceived = perceived_costs(costs[r], rng=rng, cv=st.route_perception_cv, draws=draws)
        for g in range(draws):
            idx = np.flatnonzero((slices.row == r) & (group == g) & wanted)
            if idx.size:
                rt = router.shortest(veh.origin[idx], veh.destination[idx], perceived[g], turn_s)[1]
                parts.append((idx, rt))
    return Routes.concat_by_index(n, parts)


def _mean_trip_s(routes: Routes, times: _Times, windows: FloatArray, veh: _Vehicles) -> float:
    """Mean time from departure to arrival of the trips that arrived [s] (NaN if none did)."""
    has = routes.n_links > 0
    arrive = np.full(len(veh.origin), np.nan)
    arrive[has] = times.ex[routes.ptr[1:][has] - 1]
    tt = arrive - (windows[veh.period] + veh.depart_s)
    ok = np.isfinite(tt)
    return float(np.sum(tt[ok] * veh.size[ok]) / veh.size[ok].sum()) if ok.any() else math.nan


def _plateau(log: list[dict[str, float | str]], rc: RouteChoiceSettings) -> bool:
    """:func:`gap_plateau` over the route-choice log's rows of one phase so far (the current simulation's last)."""
    return gap_plateau(
        [float(r["relative_gap"]) for r in log],
        [float(r["mean_trip_s"]) for r in log],
        [float(r["arrived_share"]) for r in log],
        gap_change=rc.plateau_gap_change,
        trip_change=rc.plateau_trip_change,
        arrived_change=rc.plateau_arrived_change,
    )


def _hands_over(before: dict[str, float | str], row: dict[str, float | str], rc: RouteChoiceSettings) -> bool:
    """Whether a baseline's equilibrium hands over to its band phase early, after the simulation of ``row``.

    When its relative gap fell by less than ``rc.handover_gap_change`` of itself in the last re-routing iteration
    (``before``: the row of the simulation before) or rose, is still above
    ``rc.handover_min_gap``, and at least :data:`ARRIVAL_WARNING_SHARE` of the routed trips arrived: the
    equilibrium's MSA step, (k+1)^-e x each trip's own gap, has stalled far from its target, and the band phase's
    restarted step lowers the gap by more a simulation (benchmarks/README.md, "Handing over to the band phase
    sooner"). Not near the target (there the band phase stops on its plateau at a higher gap than the equilibrium
    reaches: the grid), nor in a jam (there the band phase's first step moves many drivers at once and arrivals
    fall, "The band phase in a jam"). ``handover_gap_change`` 0 switches the rule off.
    """
    if rc.handover_gap_change <= 0.0:
        return False
    gap, previous = float(row["relative_gap"]), float(before["relative_gap"])
    return bool(
        gap > rc.handover_min_gap
        and gap > (1.0 - rc.handover_gap_change) * previous
        and float(row["arrived_share"]) >= ARRIVAL_WARNING_SHARE
    )


@dataclass(frozen=True)
class _BandState:
    """What a band-phase row's gap is grown from, with its search or later (:func:`_band_gaps`).

    After that row's simulation: the link costs per slice, the movement extras, each vehicle's route cost and the
    sample of origins drawn for its gap.
    """

    costs: FloatArray
    turn_s: FloatArray
    current: FloatArray
    sample: OriginSample


def _plateau_but_gap(rows: Sequence[Mapping[str, float | str]], rc: RouteChoiceSettings) -> bool:
    """Whether :func:`_plateau`'s conditions but the gap hold over ``rows``: only then does it read their gaps.

    ``rows``: the phase's rows so far, the current simulation's last. The mean trip and the arrived share are the
    simulation's own figures, known before any tree; the gap is held constant here. False when the rule is off (a
    threshold 0), as :func:`_plateau`.
    """
    return gap_plateau(
        [1.0] * len(rows),
        [float(r["mean_trip_s"]) for r in rows],
        [float(r["arrived_share"]) for r in rows],
        gap_change=rc.plateau_gap_change,
        trip_change=rc.plateau_trip_change,
        arrived_change=rc.plateau_arrived_change,
    )


def _band_gap(
    router: Router, veh: _Vehicles, slices: _Slices, weight: FloatArray, state: _BandState
) -> tuple[float, float]:
    """The relative gap and its standard error of a band-phase row, grown from its kept state.

    The sampled origins' trees in full under that simulation's costs: the costs its search would have given (a
    tree's costs depend on its origin, slice and link costs only, not on the other trips of the search).
    """
    sv = state.sample.vehicles
    best = _best_routes(router, veh, slices, state.costs, state.turn_s, sv, paths=False)[0]
    return sampled_relative_gap(state.current[sv], best[sv], weight[sv], state.sample)


def _band_update(
    router: Router,
    veh: _Vehicles,
    slices: _Slices,
    weight: FloatArray,
    state: _BandState,
    limit_s: FloatArray,
    *,
    reads_gap: bool,
    paths: bool,
    handed: tuple[FloatArray, Routes] | None,
) -> tuple[FloatArray, Routes, float, float]:
    """The band phase's search after a simulation (:func:`_band_search`) and the row's gap where it is read now.

    ``reads_gap``: the sampled origins' trees are grown in full and the gap (with its standard error) returned;
    otherwise the sampled drivers' trees stop at their band thresholds like everybody's and the gap is NaN (grown
    later from ``state`` if a stop rule reads it, :func:`_band_gaps`).
    """
    sv = state.sample.vehicles
    best, candidates = _band_search(
        router,
        veh,
        slices,
        state.costs,
        state.turn_s,
        sv if reads_gap else sv[:0],
        limit_s,
        paths=paths,
        handed=handed,
    )
    if not reads_gap:
        return best, candidates, math.nan, math.nan
    gap, gap_se = sampled_relative_gap(state.current[sv], best[sv], weight[sv], state.sample)
    return best, candidates, gap, gap_se


def _band_gaps(
    router: Router,
    veh: _Vehicles,
    slices: _Slices,
    weight: FloatArray,
    rc: RouteChoiceSettings,
    log: list[dict[str, float | str]],
    first_row: int,
    driven: dict[str, float],
    gap: float,
    gap_se: float,
    state: _BandState,
    pending: dict[int, _BandState],
    n_outside: int,
) -> tuple[float, float]:
    """The gaps a stop rule of the band phase reads after a simulation, grown only then (issue 16).

    In the band phase the gap sample's full trees are its largest search cost, and only the log and the plateau
    rule read the gap: the rule only where the mean trip and the arrived share of its window (the phase's last
    three rows) stopped moving (:func:`_plateau_but_gap`). A row's gap is grown with its search where that already
    holds, at the phase's cap and at the hand-over (the equilibrium's trees, :func:`_band_update`); otherwise the
    row keeps its state (``pending``, by log position; the last two rows' only) and gets its gap here once a later
    row's window needs it, or never (NaN in the log). The current row (``driven``: its simulation's figures;
    ``gap``, ``gap_se``: as its search gave them, NaN if not grown) gets its gap here when its band stop fires
    (nobody outside: the loop's last row). The stop decisions, the switchers and every simulation are those of a
    search that grows every gap, and each gap grown is that search's, bit for bit. Returns the current row's gap
    and standard error (the window's earlier rows are filled in ``log``).
    """
    here = len(log)
    if _plateau_but_gap([*log[first_row:], driven], rc):
        for j in range(max(first_row, here - 2), here):
            if math.isnan(float(log[j]["relative_gap"])):
                log[j]["relative_gap"], log[j]["relative_gap_se"] = _band_gap(
                    router, veh, slices, weight, pending.pop(j)
                )
    if math.isnan(gap):
        if n_outside == 0:
            gap, gap_se = _band_gap(router, veh, slices, weight, state)
        else:
            pending[here] = state
    for j in [j for j in pending if j < here - 1]:  # no later window reads them
        del pending[j]
    return gap, gap_se


def _arrived_share(routes: Routes, times: _Times, veh: _Vehicles) -> float:
    """Arrived / routed vehicles, weighted by platoon size (the record summary's ``share_arrived``; 1 if none)."""
    has = routes.n_links > 0
    arrived = np.isfinite(times.ex[routes.ptr[1:][has] - 1])
    routed = float(veh.size[has].sum())
    return float(veh.size[has][arrived].sum() / routed) if routed > 0 else 1.0


def _turns_per_trip(router: Router, routes: Routes, veh: _Vehicles, edges: IntArray) -> float:
    routed = routes.n_links > 0
    if not routed.any():
        return 0.0
    w = veh.size[routed].astype(np.float64)
    return float(np.sum(router.turns(routes, edges)[routed] * w) / w.sum())


#: route positions per block of :func:`_simulate_once`'s elementwise per-position work
_BLOCK = 1 << 20


@dataclass(frozen=True)
class _Times:
    """Per route position (vehicle x link): entry, end of running (queue join) and exit times [s, absolute]."""

    ent: FloatArray
    ee: FloatArray
    ex: FloatArray
    fft: FloatArray
    stuck_moves: IntArray  # per period: first-in-line vehicles moved into a full link after stuck_time_s
    held: BoolArray  # held at the link's end: it left from rest (a red, a give-way, a standing queue)


def _start_routes(
    held_routes: HeldRoutes | None,
    router: Router,
    veh: _Vehicles,
    one: _Slices,
    costs: FloatArray,
    group: IntArray,
    route_rng: np.random.Generator,
    st: TrafficSettings,
) -> tuple[Routes, FloatArray, IntArray]:
    """The routes of the first simulation, the saving each driver already tolerated, each one's held route.

    Without ``held_routes`` every vehicle's best route under expected costs, nothing tolerated; with them each
    vehicle whose driver has a held route drivable here starts on it (tolerated: NaN, not yet computed; his
    position in ``held_routes``), the others as without (position -1).
    """
    tolerated = np.zeros(len(veh.origin))
    held_pos = np.full(len(veh.origin), -1, dtype=np.int64)
    if held_routes is None:
        return (
            _perceived_routes(router, veh, one, costs, group, route_rng, st, None, None),
            tolerated,
            held_pos,
        )
    found, kept, held_pos = held_routes.take(veh.key, veh.origin, veh.destination, router.u, router.v)
    tolerated[found] = np.nan
    fresh = _perceived_routes(router, veh, one, costs, group, route_rng, st, np.flatnonzero(~found), None)
    return fresh.replace(np.flatnonzero(found), kept), tolerated, held_pos


def _simulated(
    network: RoadNetwork,
    veh: _Vehicles,
    periods: tuple[Period, ...],
    lk: Links,
    st: TrafficSettings,
    drain_s: float,
    records: Records,
    router: Router,
    slices: _Slices,
    cost0: FloatArray,
    routes: Routes,
    known: tuple[FloatArray, BoolArray] | None,
    extra_s: FloatArray,
) -> tuple[_Times, FloatArray, FloatArray, IntArray, FloatArray, FloatArray, FloatArray, dict[str, float]]:
    """One simulation of ``routes`` (:func:`_simulate_once`) and what the route choice reads of it.

    Its times, window starts and ends, the routes' turn-graph edges, the link costs per slice (plus ``extra_s``)
    and movement extras (:func:`_slice_costs`), each vehicle's route cost and the log's figures of the driving.
    """
    times, windows, close = _simulate_once(network, veh, routes, periods, lk, st, drain_s, known, records)
    edges = router.edge_ids(routes)
    costs, turn_s = _slice_costs(veh, routes, times, windows, close, slices, cost0, edges, router.n_edges)
    costs += extra_s
    current = route_cost_s(routes, costs, slices.row, turn_s, edges)
    driven = {
        "turns_per_trip": _turns_per_trip(router, routes, veh, edges),
        "mean_trip_s": _mean_trip_s(routes, times, windows, veh),
        "arrived_share": _arrived_share(routes, times, veh),
    }
    return times, windows, close, edges, costs, turn_s, current, driven


def _carried(old: Routes, new: Routes, changed: IntArray, values: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Per position of ``new``: ``values`` (per position of ``old``) where its vehicle is not in ``changed``.

    ``new`` is ``old`` with the routes of vehicles ``changed`` replaced (:meth:`Routes.replace`). Returns the
    carried values (unset where not carried) and the mask of the positions that were not carried.
    """
    keep = np.ones(len(new), dtype=bool)
    keep[changed] = False
    out: tuple[FloatArray, BoolArray] = carried_values(old.ptr, new.ptr, keep, values)  # compiled pass
    return out


def _simulate_once(
    network: RoadNetwork,
    veh: _Vehicles,
    routes: Routes,
    periods: tuple[Period, ...],
    lk: Links,
    st: TrafficSettings,
    drain_s: float,
    known: tuple[FloatArray, BoolArray] | None = None,
    records: Records | None = None,
) -> tuple[_Times, FloatArray, FloatArray]:
    """One simulation of every period on ``routes``: per-position times, the periods' window starts and ends.

    ``known``: running times per position already known (a vehicle's desired speed on a link does not depend on
    the rest of its route) and the mask of the positions still to compute (:func:`_carried`); default: all.
    ``records``: the event loop's per-position memory (:class:`~vision_zero.traffic._loop.Records`), reused by
    the equilibrium's simulations; default: new memory.
    """
    links = network.links
    rl = routes.links
    npos = len(rl)
    nv = len(veh.origin)
    veh_of = np.repeat(np.arange(nv, dtype=np.int32), routes.n_links)
    nl = np.full(npos, -1, dtype=np.int32)
    if npos:
        last = routes.ptr[1:][routes.n_links > 0] - 1
        nl[:-1] = rl[1:]
        nl[last] = -1
    # running times, elementwise over the positions: in blocks, so the desired speed's dozen temporaries stay
    # small (a city's day has tens of millions of positions); the same numbers as in one go
    length = links["length_m"].to_numpy(dtype=np.float64)
    ff = free_flow_speed_kph(links, st.offset_kph, st.hcm)
    if known is None:
        fft = np.empty(npos)
        todo = None
    else:
        fft, mask = known
        todo = np.flatnonzero(mask)
    n_todo = npos if todo is None else len(todo)
    for a in range(0, n_todo, _BLOCK):
        b = min(a + _BLOCK, n_todo)
        at = slice(a, b) if todo is None else todo[a:b]
        z = veh.z[veh_of[at]]
        v_kph = desired_speed_kph(links, rl[at], z, st, compliance_draw=compliance_draws(z), free_flow_kph=ff)
        fft[at] = length[rl[at]] / kph_to_mps(v_kph)
    del todo
    psz = np.asarray(veh.size, dtype=np.int32)[veh_of]
    del veh_of
    loop = EventLoop(lk, st, rl, nl, fft, psz, routes.ptr[:-1], routes.ptr[1:], records)
    del nl, fft, psz  # the loop keeps them in its per-position records
    env = simpy.Environment()
    t0 = 0.0
    windows = np.zeros(len(periods))
    close = np.zeros(len(periods))
    stuck = np.zeros(len(periods), dtype=np.int64)
    for k, per in enumerate(periods):
        windows[k] = t0
        idx = np.flatnonzero(veh.period == k)
        idx = idx[np.argsort(veh.depart_s[idx], kind="stable")]
        t_end = t0 + per.duration_s + drain_s
        stuck[k] = loop.run_period(env, t_end, idx, t0 + veh.depart_s[idx])
        close[k] = t_end
        t0 = t_end
    ent, ee, ex, fft, held = loop.results()
    return _Times(ent, ee, ex, fft, stuck, held), windows, close


def _slice_costs(
    veh: _Vehicles,
    routes: Routes,
    times: _Times,
    windows: FloatArray,
    close: FloatArray,
    slices: _Slices,
    empty_s: FloatArray,
    edges: IntArray,
    n_edges: int,
) -> tuple[FloatArray, FloatArray]:
    """Simulated link travel times per (period, time slice of link entry) and link, and each movement's extra.

    Returns ``(costs, turn_s)``: ``costs`` of shape (rows, links) is the mean time on the link of the vehicles
    that entered it in the slice (``empty_s``, its expected free-flow time, where nobody did); ``turn_s`` (one
    per turn-graph edge, :meth:`Router.edge_ids`) is the mean difference between the time on the link of the
    vehicles that entered it by that movement (or started on it) and the slice's mean, over all slices (0 where
    unused). At signals this difference is large: a vehicle that turned left its last junction in the other
    phase and meets a red at the next, while through traffic rides the green. Traversals still on the link when
    the period's window closed count with their time so far (a lower bound): leaving them out would make a
    gridlocked link look fast, because only its early vehicles got through.
    """
    # one compiled pass for the rows' means, one for the movements' deviations (only the traversals that began
    # count; their row: the slice of the entry, :func:`slice_of` clipped to the period's slices)
    mean, turn_s = slice_costs(
        routes.ptr,
        routes.links,
        times.ent,
        times.ex,
        edges,
        veh.period,
        veh.size,
        windows,
        close,
        slices.offset,
        slices.count,
        float(slices.slice_s),
        np.asarray(empty_s, dtype=np.float64),
        slices.n_rows,
        n_edges,
    )
    costs: FloatArray = mean.reshape(slices.n_rows, len(empty_s))
    return costs, turn_s
