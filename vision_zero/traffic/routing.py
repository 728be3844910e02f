"""Route choice: shortest routes over the turn graph and the time-sliced dynamic user equilibrium's pieces.

The public face of route choice: every name other stages read is imported from here. Its parts:

* :mod:`vision_zero.traffic._routes`: routes of many trips, stored flat (:class:`Routes`), and the costs a
  simulation's routes were last compared at (:class:`RouteCosts`).
* :mod:`vision_zero.traffic._router`: shortest routes over the turn graph (:class:`Router`, :func:`route_trips`,
  :func:`turns_per_route`), with their landmark lower bounds.
* :mod:`vision_zero.traffic._movements`: the movements of a network (:class:`Movements`) and their turns and
  directions (:func:`movement_turns`, :func:`movement_directions`).
* :mod:`vision_zero.traffic._equilibrium_steps`: the time-sliced dynamic user equilibrium's pieces
  (:class:`RouteChoiceSettings`, :func:`slice_of`, :func:`route_cost_s`, :func:`relative_gap`, the gap on a sample
  of origins, :func:`gap_plateau`, :func:`msa_step`, :func:`gap_switchers`, :func:`perceived_costs`).
* :mod:`vision_zero.traffic._bounded_rationality`: for a change to the network (a variant of a paired baseline),
  the boundedly rational response: :class:`HeldRoutes` (the routes drivers had) and :func:`band_switchers` (who
  leaves his route: Mahmassani and Jayakrishnan's indifference band).

The equilibrium loop itself lives in :mod:`vision_zero.traffic._route_choice` (it needs the simulation; the
public entry is :mod:`vision_zero.traffic.simulation`).
"""

from __future__ import annotations

from vision_zero.traffic._bounded_rationality import (
    HeldRoutes,
    band_limit_s,
    band_switchers,
    indifference_band_s,
)
from vision_zero.traffic._equilibrium_steps import (
    SAME_COST_S,
    OriginSample,
    RouteChoiceSettings,
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
from vision_zero.traffic._movements import (
    LEFT,
    RIGHT,
    THROUGH,
    UTURN,
    Movements,
    movement_directions,
    movement_turns,
)
from vision_zero.traffic._router import CLASS_TIE_S, TURN_TIE_S, Router, route_trips, turns_per_route
from vision_zero.traffic._routes import RouteCosts, Routes

__all__ = [
    "CLASS_TIE_S",
    "LEFT",
    "RIGHT",
    "SAME_COST_S",
    "THROUGH",
    "TURN_TIE_S",
    "UTURN",
    "HeldRoutes",
    "Movements",
    "OriginSample",
    "RouteChoiceSettings",
    "RouteCosts",
    "Router",
    "Routes",
    "band_limit_s",
    "band_switchers",
    "gap_plateau",
    "gap_switchers",
    "indifference_band_s",
    "movement_directions",
    "movement_turns",
    "msa_step",
    "perceived_costs",
    "relative_gap",
    "route_cost_s",
    "route_trips",
    "sample_origins",
    "sampled_relative_gap",
    "slice_of",
    "turns_per_route",
]
