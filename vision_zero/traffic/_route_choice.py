"""The route choice around the simulations: :func:`simulate_vehicles` and its :class:`VehicleTraffic`.

Private helper of :mod:`vision_zero.traffic.simulation` (which documents the model and re-exports both names): the
equilibrium loop and, after it or for a variant, the band phase (:mod:`vision_zero.traffic._band_phase`); each
simulation of the routes is :func:`vision_zero.traffic._network_loading.simulated`.

Route choice: a time-sliced dynamic user equilibrium (:mod:`vision_zero.traffic.routing`). Trips first take
their best routes under drivers' expected link times (:func:`~vision_zero.traffic.simulation.expected_link_cost_s`).
After each simulation the link times are averaged per time slice of entry (``traffic.route_choice.slice_s``), each movement's (turn's)
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
until nobody is outside his band (Mahmassani and Chang 1987's boundedly rational user equilibrium), or no more than
``traffic.route_choice.band_outside_share`` of the trips (its tolerance, 1%, since 2026-12-03: benchmarks/README.md,
"The band phase's tolerance"). On a network
with many near-equal routes the equilibrium from scratch sends a street's traffic away for a few percent of
travel time; studies of speed cameras and 20 mph zones find volumes unchanged and no migration. The share of
trips outside their band is logged with the gap. Of the drivers outside their band, each leaves his route with
probability the MSA step of the iteration (``msa_step``: 1/2, 1/3, ... with the default exponent; drawn from a
child of the routing stream), the route-flow averaging by which Batista, Zhao and Leclercq (2018) reach the
boundedly rational equilibrium with an LWR mesoscopic simulator; the loop stops when nobody is outside his band,
at a plateau (over the phase's own rows: the mean trip and the arrived share as in the equilibrium's, but not the
relative gap, which measures the distance from the user equilibrium that a boundedly rational one keeps by
design; since 2026-12-03, :func:`~vision_zero.traffic._band_phase.band_plateau`) or at the phase's cap
(``max_iterations`` re-routing iterations).
Until 2026-12-02 every driver outside his band switched at once: on a congested network that flips whole streams
between routes (two routes of 600 veh/h for 1,200 trips: all 1,200 on one route, then all on the other, to the
cap) and at full demand it took the district's arterials-80-to-60 variant from 99.96% arriving to 70.7% (benchmarks/README.md, "Full-demand gridlock").

A fair pair (issue 13, since 2026-12-02): a baseline replication ends in the state its variants aim at. After
its equilibrium stops it takes the variants' rule from its own routes (its drivers' held routes, nothing tolerated,
the MSA step schedule restarted, the same cap of ``max_iterations``) until nobody (or no more than the band
tolerance) is outside his band, a plateau or the cap. The saving each driver then forgoes (``route_costs.parquet``, what a variant reads as tolerated) is
that of the baseline's final state, and a variant that changes nothing moves nobody. Before, at full demand the
district's baseline stopped at the cap unconverged (gap 0.14-0.15) and a variant, started from those routes,
went on converging (gap ~0.09): any change, however small, put the drivers beyond their band and their tolerated
saving moving, so a pair's difference held the variant's extra convergence as well as the program's effect
(benchmarks/README.md, "A fair pair"). No band phase without a band (``indifference_band_*`` both 0: drivers would
leave a route for any saving, all by the same step, which oscillates) or without re-routing (``max_iterations``
0).

References
----------
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
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError
from vision_zero.core.process import set_up_numba
from vision_zero.core.units import S_PER_HOUR
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._band_phase import BandState, band_gap, band_plateau, band_update
from vision_zero.traffic._loop import Records, link_constants
from vision_zero.traffic._model import (
    TrafficSettings,
    desired_speed_kph,
    expected_running_time_s,
    give_way_capacity_vph,
    give_way_delay_s,
    signal_plans,
)
from vision_zero.traffic._network_loading import Times, carried, simulated
from vision_zero.traffic._record import ARRIVAL_WARNING_SHARE, HANDOVER, ROUTE_CHOICE_COLUMNS
from vision_zero.traffic._vehicles import (
    Slices,
    Vehicles,
    best_routes,
    check_trips,
    driver_draws,
    group_vehicles,
    perceived_routes,
)
from vision_zero.traffic.periods import Period
from vision_zero.traffic.routing import (
    HeldRoutes,
    RouteChoiceSettings,
    RouteCosts,
    Router,
    Routes,
    band_limit_s,
    band_switchers,
    gap_plateau,
    gap_switchers,
    msa_step,
    relative_gap,
    sample_origins,
    sampled_relative_gap,
)

__all__ = ["VehicleTraffic", "simulate_vehicles"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class VehicleTraffic:
    """What the vehicles did in one replication: their routes and per-traversal times, the route-choice log.

    Everything :func:`simulate` computes before it looks at crossings and pedestrians: the engine and route
    choice read no crossing, so a network that differs from another only in its crossings (their types, new
    crossings) and in its pedestrian demand has the same vehicle traffic, and :func:`record_of` turns that
    traffic into the record of either network.
    """

    veh: Vehicles
    routes: Routes
    times: Times
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
    route, each with probability the iteration's MSA step, until nobody is outside (or no more than
    ``band_outside_share`` of the trips), the route choice reaches a
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
    pidx = check_trips(trips, network, periods)
    route_rng = rng.spawn(1)[0] if routing_rng is None else routing_rng
    z = driver_draws(trips, rng)
    veh = group_vehicles(trips, pidx, z, platoon_size)
    links = network.links
    sig = signal_plans(network, st)
    router = Router(network)
    n_links = len(links)
    mean_v = desired_speed_kph(links, np.arange(n_links), np.zeros(n_links), st)
    give_way = give_way_delay_s(network, st)
    held = give_way if st.give_way_in_simulation else np.zeros(n_links)  # in the simulated times, or not
    expected_s = expected_running_time_s(links, st) + sig.uniform_delay_s()  # running and signal delay
    cost0 = expected_s + held  # as the simulation would show
    slices = Slices.of(veh, periods, rc.slice_s)
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
    k = 0
    weight = veh.size.astype(np.float64)
    # route choice's cost: the give-way delay where the simulation did not hold vehicles
    extra_s = give_way - held
    run = functools.partial(simulated, network, veh, periods, lk, st, drain_s, records, router, slices, cost0)
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
                best, candidates = best_routes(
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
                kept = BandState(costs, turn_s, current, sample)
                best, candidates, gap, gap_se = band_update(
                    router,
                    veh,
                    slices,
                    weight,
                    kept,
                    limit,
                    reads_gap=handed is not None or last or band_plateau([*log[first_row:], driven], rc),
                    paths=not last,
                    handed=handed,
                )
            handed = None
            if not exact_band and not sample.complete and not last and gap <= rc.relative_gap_target:
                # the stop rule fires: the exact gap decides (after the last simulation there is nothing to decide)
                rest = np.setdiff1d(np.arange(len(veh.origin)), sv)
                best[rest] = best_routes(router, veh, slices, costs, turn_s, rest, paths=False)[0][rest]
                gap, gap_se = relative_gap(current, best, weight), 0.0
            outside = band_switchers(current, best, **band, tolerated_s=np.nan_to_num(tolerated, nan=0.0))
            ask = outside[np.isnan(tolerated[outside])]
            # beyond the band: does a held route's driver tolerate the saving already? (on demand)
            if ask.size:
                tolerated[ask] = (
                    held_routes.forgone(router, held_pos[ask]) if held_routes is not None else 0.0
                )
                outside = band_switchers(current, best, **band, tolerated_s=np.nan_to_num(tolerated, nan=0.0))
            # the band phase decides every driver's band, the equilibrium the sampled ones'
            outside_share = float(
                weight[outside].sum() / max((weight if exact_band else weight[sv]).sum(), 1.0)
            )
            # the band phase's stop: nobody outside his band, or no more than its tolerance
            within = exact_band and (outside.size == 0 or outside_share <= rc.band_outside_share)
            # the band stop's row (the last) gets its gap now (the gap its search would have given)
            if within and np.isnan(gap):
                gap, gap_se = band_gap(router, veh, slices, weight, kept)
            row: dict[str, float | str] = {
                "iteration": float(k),
                "phase": phase,
                "relative_gap": gap,
                "relative_gap_se": gap_se,
                "outside_band": outside_share,
                **driven,
                "trees": float(router.trees_grown - trees_before),
            }
            handing = band_follows and not exact_band and k > first
            reason = _stop_reason(log[first_row:], row, exact_band, within, handing, last, rc)
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
            candidates = perceived_routes(router, veh, slices, costs, group, route_rng, st, chosen, turn_s)
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
            known = carried(routes, moved, chosen, fft)
            del fft
            routes = moved
            times, windows, close, edges, costs, turn_s, current, driven = run(routes, known, extra_s)
            simulations += 1


def _stop_reason(
    phase_rows: list[dict[str, float | str]],
    row: dict[str, float | str],
    exact_band: bool,
    within: bool,
    handing: bool,
    last: bool,
    rc: RouteChoiceSettings,
) -> str:
    """Why the phase stops after the simulation of ``row`` (``""``: it goes on).

    ``phase_rows``: the phase's earlier rows. The band phase: nobody outside his band, or no more than
    ``rc.band_outside_share`` of the trips (``within``; "band"), or its plateau
    of the mean trip and the arrived share (:func:`band_plateau`); the equilibrium: its gap target, its plateau of
    the gap, the mean trip and the arrived share (:func:`_plateau`) or, ``handing`` (a band phase follows), its
    early hand-over (:func:`_hands_over`); either at its cap (``last``).
    """
    window = [*phase_rows, row]
    if exact_band:
        reason = "band" if within else ("plateau" if band_plateau(window, rc) else "")
    elif float(row["relative_gap"]) <= rc.relative_gap_target:
        reason = "gap_target"
    else:
        reason = "plateau" if _plateau(window, rc) else ""
        reason = reason or (HANDOVER if handing and _hands_over(phase_rows[-1], row, rc) else "")
    return reason or ("cap" if last else "")


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


def _start_routes(
    held_routes: HeldRoutes | None,
    router: Router,
    veh: Vehicles,
    one: Slices,
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
            perceived_routes(router, veh, one, costs, group, route_rng, st, None, None),
            tolerated,
            held_pos,
        )
    found, kept, held_pos = held_routes.take(veh.key, veh.origin, veh.destination, router.u, router.v)
    tolerated[found] = np.nan
    fresh = perceived_routes(router, veh, one, costs, group, route_rng, st, np.flatnonzero(~found), None)
    return fresh.replace(np.flatnonzero(found), kept), tolerated, held_pos
