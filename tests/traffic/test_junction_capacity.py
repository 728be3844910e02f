"""Tests of :mod:`vision_zero.traffic._junction_capacity`: Kimber & Coombe's capacities, worked example."""

from __future__ import annotations

import dataclasses

import pytest
from simulation_fixtures import BASE


def test_kimber_coombe_capacities_reproduce_a_worked_example() -> None:
    """Kimber & Coombe (1980)'s equations by hand: the worked example of the A41 / Warwick-Banbury junction.

    The example (course notes, scribd "Junction Capacity") takes W = 7.0 m (Y = 0.7585), no central reserve and
    no visibility terms (here: their slopes 0). Its first B-C figure uses E = 1.1269 for w = 3.3 m, which is not
    1 + 0.094 (3.3 - 3.65) = 0.967: that one is left out; every other figure follows from the equations.
    """
    from vision_zero.traffic._model import MAJOR_LEFT, MINOR_LEFT, MINOR_RIGHT, kimber_coombe_capacity_vph

    assert BASE.kimber_coombe is not None
    k = dataclasses.replace(
        BASE.kimber_coombe, visibility_right_slope_per_m=0.0, visibility_left_slope_per_m=0.0
    )

    def cap(kind: int, lane_width_m: float, **flows: float) -> float:
        return kimber_coombe_capacity_vph(kind, flows, 7.0, dataclasses.replace(k, lane_width_m=lane_width_m))

    assert k.y(7.0) == pytest.approx(0.7585)
    # Warwick -> Banbury: q_ac 811, q_ab 14, q_ca 837, q_cb 341 (K&C's UK streams: B-A crosses, C-B turns across)
    near = {"near_through": 811.0, "near_turn": 14.0}
    assert cap(MINOR_LEFT, 3.0, **near, far_through=837.0, far_turn=341.0) == pytest.approx(114.2, abs=0.05)
    assert cap(MAJOR_LEFT, 3.65, opposing_through=811.0, opposing_turn=14.0) == pytest.approx(517.2, abs=0.05)
    # Banbury -> Warwick: q_ac 837, q_ab 43, q_ca 811, q_cb 413
    near = {"near_through": 837.0, "near_turn": 43.0}
    assert cap(MINOR_RIGHT, 2.65, **near) == pytest.approx(461.3, abs=0.05)
    assert cap(MINOR_LEFT, 1.95, **near, far_through=811.0, far_turn=413.0) == pytest.approx(73.5, abs=0.05)
    assert cap(MAJOR_LEFT, 3.65, opposing_through=837.0, opposing_turn=43.0) == pytest.approx(502.0, abs=0.05)
    # linear in the major flows, a central reserve adds 14 pcu/h per m to the crossing movement, and the
    # crossing movement at 1,500 veh/h through each way on a 14 m carriageway keeps about 170 pcu/h (the
    # traffic.give_way.gap_acceptance note): 627 - (1 - 0.0345 x 14)(0.364 + 0.229) 1,500 = 167.1 with D = 1
    one = dataclasses.replace(k, lane_width_m=3.65)
    crossing = kimber_coombe_capacity_vph(
        MINOR_LEFT, {"near_through": 1500.0, "far_through": 1500.0}, 14.0, one
    )
    assert crossing == pytest.approx(167.1, abs=0.05)
    with_reserve = kimber_coombe_capacity_vph(
        MINOR_LEFT, {"near_through": 1500.0, "far_through": 1500.0}, 14.0, one, central_reserve_m=2.0
    )
    assert with_reserve == pytest.approx(crossing + 28.0)
    # never negative at flows beyond the linear range
    assert kimber_coombe_capacity_vph(MINOR_LEFT, {"near_through": 5000.0}, 7.0, one) == 0.0
