"""Capacities of a movement that gives way at a priority junction: HCM's gap acceptance, Kimber & Coombe's lines.

Part of the traffic model's numbers (:mod:`vision_zero.traffic._model` re-exports them): the kinds of a yielding
movement (:data:`NO_YIELD` ... :data:`MAJOR_LEFT`), HCM 2000 eq. 17-3's potential capacity
(:func:`potential_capacity_vph`, also compiled into the event loop's kernel, :mod:`vision_zero.traffic._loop_gates`)
and Kimber & Coombe (1980)'s linear capacities with their coefficients (:class:`KimberCoombe`,
:func:`kimber_coombe_capacity_vph`, :func:`kimber_coombe_terms`). Which movements give way to which is
:mod:`vision_zero.traffic._give_way`. After a change of :func:`potential_capacity_vph`, clear the kernel's
numba cache (:mod:`vision_zero.traffic._loop_kernel`, "numba's cache and the kernel's files").

References
----------
Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL SR 582.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from vision_zero.core.units import S_PER_HOUR

__all__ = [
    "MAJOR_LEFT",
    "MINOR_LEFT",
    "MINOR_RIGHT",
    "MINOR_THROUGH",
    "NO_YIELD",
    "KimberCoombe",
    "kimber_coombe_capacity_vph",
    "kimber_coombe_terms",
    "potential_capacity_vph",
]


#: Kinds of the movements of :class:`~vision_zero.traffic._give_way.GiveWayMovements` (HCM 2000 ch. 17's ranks 2
#: and 3 of a two-way stop)
NO_YIELD, MINOR_RIGHT, MINOR_THROUGH, MINOR_LEFT, MAJOR_LEFT = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class KimberCoombe:
    """Kimber & Coombe (1980)'s linear priority-junction capacities: coefficients and geometric inputs.

    From ``traffic.give_way.kimber_coombe.*`` (sources there); see :func:`kimber_coombe_capacity_vph`.
    """

    merge_intercept_pcuph: float
    cross_intercept_pcuph: float
    central_reserve_pcuph_per_m: float
    width_slope_per_m: float
    near_through_weight: float
    near_turn_weight: float
    far_through_weight: float
    far_turn_weight: float
    opposing_turn_weight: float
    lane_width_slope_per_m: float
    lane_width_ref_m: float
    visibility_right_slope_per_m: float
    visibility_right_ref_m: float
    visibility_left_slope_per_m: float
    visibility_left_ref_m: float
    lane_width_m: float
    visibility_m: float

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> KimberCoombe:
        """From parameter values by dotted name (central values or one replication's draw)."""
        p = "traffic.give_way.kimber_coombe."
        return cls(**{name: values[p + name] for name in cls.__dataclass_fields__})

    def factor(self, kind: int) -> float:
        """K&C's geometric factor of a yielding movement: D for a crossing one, E / F for a merge or major left.

        ``[1 + a_w (w - w_ref)][1 + a_r (V_r - V_r,ref)]``, times ``[1 + a_l (V_l - V_l,ref)]`` for a crossing
        movement (K&C B-A), with ``w = lane_width_m`` and ``V_r = V_l = visibility_m``.
        """
        f = (1.0 + self.lane_width_slope_per_m * (self.lane_width_m - self.lane_width_ref_m)) * (
            1.0 + self.visibility_right_slope_per_m * (self.visibility_m - self.visibility_right_ref_m)
        )
        if kind in (MINOR_LEFT, MINOR_THROUGH):
            f *= 1.0 + self.visibility_left_slope_per_m * (self.visibility_m - self.visibility_left_ref_m)
        return f

    def y(self, width_m: float) -> float:
        """K&C's ``Y = 1 - b W`` of a major carriageway ``width_m`` wide (floored at 0)."""
        return max(1.0 - self.width_slope_per_m * width_m, 0.0)


def potential_capacity_vph(conflicting_vph: float, critical_gap_s: float, follow_up_s: float) -> float:
    """HCM 2000 eq. 17-3: potential capacity of a minor movement at a two-way-stop junction [veh/h per lane].

    ``c_p = v_c exp(-v_c t_c / 3600) / (1 - exp(-v_c t_f / 3600))`` (Harders 1968; Siegloch 1973's form), with
    ``v_c`` the conflicting major flow [veh/h], ``t_c`` the critical gap and ``t_f`` the follow-up headway [s];
    ``3600 / t_f`` without conflicting traffic (its limit at ``v_c -> 0``).

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17, eq. 17-3.
    Harders, J. (1968). Die Leistungsfaehigkeit nicht signalgeregelter staedtischer Verkehrsknoten. Strassenbau
    und Strassenverkehrstechnik 76.
    Siegloch, W. (1973). Die Leistungsermittlung an Knotenpunkten ohne Lichtsignalsteuerung. Strassenbau und
    Strassenverkehrstechnik 154.
    """
    if conflicting_vph <= 0.0:
        return S_PER_HOUR / follow_up_s
    x = conflicting_vph / S_PER_HOUR
    return conflicting_vph * math.exp(-x * critical_gap_s) / -math.expm1(-x * follow_up_s)


def kimber_coombe_capacity_vph(
    kind: int,
    flows_vph: Mapping[str, float],
    width_m: float,
    kc: KimberCoombe,
    central_reserve_m: float = 0.0,
) -> float:
    """Kimber & Coombe (1980): capacity of a movement giving way at a major/minor priority junction [pcu/h].

    In right-hand traffic (K&C's UK streams mirrored): a minor right turn (K&C B-C)
    ``E (745 - Y (0.364 q_near_through + 0.144 q_near_turn))``; a minor left turn (B-A), and a minor through
    movement at a crossroads, ``D (627 + 14 W_cr - Y (0.364 q_near_through + 0.144 q_near_turn + 0.229
    q_far_through + 0.520 q_far_turn))``; a major left turn (C-B) ``F (745 - 0.364 Y (q_opposing_through +
    q_opposing_turn))``. ``q_*_turn`` is the flow of that major stream turning into the minor arm, ``Y = 1 -
    0.0345 W`` with ``W = width_m`` the major carriageway's width, ``D, E, F`` :meth:`KimberCoombe.factor`.
    ``flows_vph`` holds the flows by those names (missing: 0). Floored at 0: the linear relation holds "except
    at abnormally high major road flows" (K&C's abstract); the simulation floors it further
    (:func:`~vision_zero.traffic._give_way.give_way_movements`).

    References
    ----------
    Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL SR 582.
    """
    y = kc.y(width_m)
    q = {name: float(flows_vph.get(name, 0.0)) for name in _KC_FLOWS}
    intercept, weights = kimber_coombe_terms(kind, kc, central_reserve_m)
    load = sum(w * q[name] for name, w in weights.items())
    return max(kc.factor(kind) * (intercept - y * load), 0.0)


#: the major flows of :func:`kimber_coombe_capacity_vph`
_KC_FLOWS = (
    "near_through",
    "near_turn",
    "far_through",
    "far_turn",
    "opposing_through",
    "opposing_turn",
)


def kimber_coombe_terms(
    kind: int, kc: KimberCoombe, central_reserve_m: float
) -> tuple[float, dict[str, float]]:
    """Intercept [pcu/h] and weights by major flow of a yielding movement (before ``Y`` and the factor)."""
    if kind == MINOR_RIGHT:
        return kc.merge_intercept_pcuph, {
            "near_through": kc.near_through_weight,
            "near_turn": kc.near_turn_weight,
        }
    if kind in (MINOR_LEFT, MINOR_THROUGH):
        return kc.cross_intercept_pcuph + kc.central_reserve_pcuph_per_m * central_reserve_m, {
            "near_through": kc.near_through_weight,
            "near_turn": kc.near_turn_weight,
            "far_through": kc.far_through_weight,
            "far_turn": kc.far_turn_weight,
        }
    if kind == MAJOR_LEFT:
        return kc.merge_intercept_pcuph, {
            "opposing_through": kc.near_through_weight,
            "opposing_turn": kc.opposing_turn_weight,
        }
    raise ValueError(f"movement kind {kind} does not give way")
