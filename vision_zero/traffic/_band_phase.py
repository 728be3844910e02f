"""The band phase's search after a simulation, and the gaps its stop rules read.

Private helper of :mod:`vision_zero.traffic._route_choice` (the route-choice loop): after each simulation of the
band phase (a variant's, or a baseline's after its equilibrium) every driver's best route is searched only as far
as his band threshold (:func:`band_update`), and a row's relative gap is grown only where a stop rule reads it
(:func:`band_gaps`, :func:`plateau_but_gap`), from the state kept for it (:class:`BandState`).

A variant's band search asks of every driver only whether his best route costs less than his threshold (his route
time minus his band, :func:`~vision_zero.traffic.routing.band_limit_s`): a driver whose landmark lower bound
already lies beyond it stays without a tree (:meth:`~vision_zero.traffic.routing.Router.shortest`), each
origin's trees stop at the remaining drivers' thresholds (a driver whose best route lies beyond his stays,
whatever that route costs) and expand no link from which the landmark bounds put every remaining driver's
destination beyond his threshold, so the switchers are those of the full search, bit for bit. The sampled
origins' trees (``gap_sample_origins``) are grown in full only where a rule reads the gap, the band phase's
largest search cost otherwise: the plateau rule, once the mean trip and the arrived share of its window stopped
moving, the band stop and the phase's cap (its last row, the recorded gap, their estimate); a band-phase row whose
gap no rule read has it NaN in the log (:func:`band_gaps`; every decision and every gap grown the same bit for bit,
benchmarks/README.md "The band phase's gap only where a rule reads it"). Where a
baseline's equilibrium hands over, the band phase's search after that simulation takes the sampled origins'
best routes from the equilibrium's (the same costs; grown with their routes also at the equilibrium's cap) and
grows trees only for the other origins. What a
variant's route choice costs, and what was tried to cut it: benchmarks/README.md, "A variant's route choice".
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

__all__ = ["BandState", "band_gaps", "band_update", "plateau_but_gap"]

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
    """What a band-phase row's gap is grown from, with its search or later (:func:`band_gaps`).

    After that row's simulation: the link costs per slice, the movement extras, each vehicle's route cost and the
    sample of origins drawn for its gap.
    """

    costs: FloatArray
    turn_s: FloatArray
    current: FloatArray
    sample: OriginSample


def plateau_but_gap(rows: Sequence[Mapping[str, float | str]], rc: RouteChoiceSettings) -> bool:
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
    later from ``state`` if a stop rule reads it, :func:`band_gaps`).
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


def band_gaps(
    router: Router,
    veh: Vehicles,
    slices: Slices,
    weight: FloatArray,
    rc: RouteChoiceSettings,
    log: list[dict[str, float | str]],
    first_row: int,
    driven: dict[str, float],
    gap: float,
    gap_se: float,
    state: BandState,
    pending: dict[int, BandState],
    n_outside: int,
) -> tuple[float, float]:
    """The gaps a stop rule of the band phase reads after a simulation, grown only then (issue 16).

    In the band phase the gap sample's full trees are its largest search cost, and only the log and the plateau
    rule read the gap: the rule only where the mean trip and the arrived share of its window (the phase's last
    three rows) stopped moving (:func:`plateau_but_gap`). A row's gap is grown with its search where that already
    holds, at the phase's cap and at the hand-over (the equilibrium's trees, :func:`band_update`); otherwise the
    row keeps its state (``pending``, by log position; the last two rows' only) and gets its gap here once a later
    row's window needs it, or never (NaN in the log). The current row (``driven``: its simulation's figures;
    ``gap``, ``gap_se``: as its search gave them, NaN if not grown) gets its gap here when its band stop fires
    (nobody outside: the loop's last row). The stop decisions, the switchers and every simulation are those of a
    search that grows every gap, and each gap grown is that search's, bit for bit. Returns the current row's gap
    and standard error (the window's earlier rows are filled in ``log``).
    """
    here = len(log)
    if plateau_but_gap([*log[first_row:], driven], rc):
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
