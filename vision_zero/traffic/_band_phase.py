"""The band phase's search after a simulation, and its stop rules' figures.

Private helper of :mod:`vision_zero.traffic._route_choice` (the route-choice loop): after each simulation of the
band phase (a variant's, or a baseline's after its equilibrium) every driver's best route is searched only as far
as his band threshold (:func:`band_update`); the phase's plateau reads the simulation's own figures
(:func:`band_plateau`), and a row's relative gap is grown only for the phase's last row, the recorded gap
(:func:`band_gap`, from the state kept for it: :class:`BandState`).

A variant's band search asks of every driver only whether his best route costs less than his threshold (his route
time minus his band, :func:`~vision_zero.traffic.routing.band_limit_s`): a driver whose landmark lower bound
already lies beyond it stays without a tree (:meth:`~vision_zero.traffic.routing.Router.shortest`), each
origin's trees stop at the remaining drivers' thresholds (a driver whose best route lies beyond his stays,
whatever that route costs) and expand no link from which the landmark bounds put every remaining driver's
destination beyond his threshold, so the switchers are those of the full search, bit for bit. The sampled
origins' trees (``gap_sample_origins``) are grown in full, the band phase's largest search cost otherwise, only
for the phase's last row: where its plateau fires (known before the search), at its cap, and where its band stop
fires (nobody outside, known after the search: the gap is then grown from the row's kept state). Every other
band-phase row has its gap NaN in the log (since 2026-12-03: before, the plateau read the gap of each row of its
window; benchmarks/README.md "The band phase's plateau without the gap"). Where a baseline's equilibrium hands
over, the band phase's search after that simulation takes the sampled origins' best routes from the
equilibrium's (the same costs; grown with their routes also at the equilibrium's cap) and grows trees only for
the other origins. What a variant's route choice costs, and what was tried to cut it: benchmarks/README.md, "A
variant's route choice".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision_zero.traffic._vehicles import Slices, Vehicles, best_routes
from vision_zero.traffic.routing import (
    OriginSample,
    RouteChoiceSettings,
    Router,
    Routes,
    gap_plateau,
    sampled_relative_gap,
)

__all__ = ["BandState", "band_gap", "band_plateau", "band_update"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _band_search(
    router: Router,
    veh: Vehicles,
    slices: Slices,
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
        return best_routes(router, veh, slices, costs, turn_s, None, paths=paths, limit_s=limit)
    rest = np.setdiff1d(np.arange(len(veh.origin)), sampled)
    best, candidates = best_routes(router, veh, slices, costs, turn_s, rest, paths=paths, limit_s=limit)
    best[sampled] = handed[0][sampled]
    return best, candidates.replace(sampled, handed[1])


@dataclass(frozen=True)
class BandState:
    """What a band-phase row's gap is grown from: with its search, or after it where the band stop fires.

    (:func:`band_gap`.)

    After that row's simulation: the link costs per slice, the movement extras, each vehicle's route cost and the
    sample of origins drawn for its gap.
    """

    costs: FloatArray
    turn_s: FloatArray
    current: FloatArray
    sample: OriginSample


def band_plateau(rows: Sequence[Mapping[str, float | str]], rc: RouteChoiceSettings) -> bool:
    """The band phase's plateau (:func:`gap_plateau` without its gap condition) over the phase's ``rows``.

    ``rows``: the phase's rows so far, the current simulation's last. In each of the window's last two
    iterations the mean trip and the arrived share moved by less than their thresholds; both are the
    simulation's own figures, known before any tree. The relative gap is not read: it measures the distance from
    the user equilibrium, which the boundedly rational equilibrium the band phase aims at does not approach
    (its drivers keep routes within their band, whose excess time the gap counts), and the band phase's own
    measure of convergence, the drivers outside their band, is its other stop rule. False when the rule is off
    (a threshold 0), as the equilibrium's plateau.
    """
    return gap_plateau(
        None,
        [float(r["mean_trip_s"]) for r in rows],
        [float(r["arrived_share"]) for r in rows],
        gap_change=rc.plateau_gap_change,
        trip_change=rc.plateau_trip_change,
        arrived_change=rc.plateau_arrived_change,
    )


def band_gap(
    router: Router, veh: Vehicles, slices: Slices, weight: FloatArray, state: BandState
) -> tuple[float, float]:
    """The relative gap and its standard error of a band-phase row, grown from its kept state.

    The sampled origins' trees in full under that simulation's costs: the costs its search would have given (a
    tree's costs depend on its origin, slice and link costs only, not on the other trips of the search).
    """
    sv = state.sample.vehicles
    best = best_routes(router, veh, slices, state.costs, state.turn_s, sv, paths=False)[0]
    return sampled_relative_gap(state.current[sv], best[sv], weight[sv], state.sample)


def band_update(
    router: Router,
    veh: Vehicles,
    slices: Slices,
    weight: FloatArray,
    state: BandState,
    limit_s: FloatArray,
    *,
    reads_gap: bool,
    paths: bool,
    handed: tuple[FloatArray, Routes] | None,
) -> tuple[FloatArray, Routes, float, float]:
    """The band phase's search after a simulation (:func:`_band_search`) and the row's gap where it is read now.

    ``reads_gap``: the sampled origins' trees are grown in full and the gap (with its standard error) returned;
    otherwise the sampled drivers' trees stop at their band thresholds like everybody's and the gap is NaN (grown
    later from ``state`` if the band stop fires, :func:`band_gap`).
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
