"""The traffic model's numbers and analytic parts: settings, desired speeds, signal plans, give-way delay.

Private helper of :mod:`vision_zero.traffic.simulation` (which re-exports :class:`TrafficSettings`,
:func:`desired_speed_kph` and :func:`give_way_delay_s`); the event loop is in :mod:`vision_zero.traffic._loop`.
This module is the parts' common face (its names are theirs, re-exported):

- :mod:`vision_zero.traffic._traffic_settings`: :class:`TrafficSettings` from the parameter files, the HCM
  urban-street coefficients, the give-way rules, a replication's link storage (:func:`link_storage_veh`).
- :mod:`vision_zero.traffic._desired_speed`: drivers' desired speeds, the free-flow speed (HCM urban streets and
  their segments), a link's expected running time.
- :mod:`vision_zero.traffic._signals`: fixed-time signal plans (:func:`signal_plans`).
- :mod:`vision_zero.traffic._give_way`: give-way approaches, their delay and capacity, the movements of priority
  junctions and their conflicts (:func:`give_way_movements`).
- :mod:`vision_zero.traffic._junction_capacity`: a yielding movement's capacity (HCM eq. 17-3, Kimber & Coombe).

References
----------
Webster, F. V. (1958). Traffic signal settings. Road Research Technical Paper 39, HMSO.
Wilson, C., Willis, C., Hendrikz, J. K., Le Brocque, R., Bellamy, N. (2010). Speed cameras for the prevention of
road traffic injuries and deaths. Cochrane Database of Systematic Reviews 10, CD004607.
Transportation Research Board (2016). Highway Capacity Manual, 6th ed., ch. 18 (urban street segments), eqs. 18-3 to
18-5, Exhibits 18-7 and 18-11 (read as reproduced in the NCHRP 08-135 Guidebook, ch. 11).
Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
"""

from vision_zero.core.seeding import hash_unit
from vision_zero.traffic._desired_speed import (
    DESIGN_SPEED_QUANTILE,
    HCM_CLASSES,
    compliance_draws,
    desired_speed_kph,
    expected_running_time_s,
    free_flow_speed_kph,
    hcm_urban_street_free_flow_speed_kph,
    segment_length_m,
)
from vision_zero.traffic._give_way import (
    PRIORITY_RANK,
    GiveWayMovements,
    give_way_approach,
    give_way_capacity_vph,
    give_way_delay_s,
    give_way_movements,
)
from vision_zero.traffic._junction_capacity import (
    MAJOR_LEFT,
    MINOR_LEFT,
    MINOR_RIGHT,
    MINOR_THROUGH,
    NO_YIELD,
    KimberCoombe,
    kimber_coombe_capacity_vph,
    potential_capacity_vph,
)
from vision_zero.traffic._signals import Signals, signal_plans, single_phase_signals
from vision_zero.traffic._traffic_settings import (
    GIVE_WAY_RULES,
    JAM_DENSITY,
    HcmUrbanStreet,
    TrafficSettings,
    link_storage_veh,
)

__all__ = [
    "DESIGN_SPEED_QUANTILE",
    "GIVE_WAY_RULES",
    "HCM_CLASSES",
    "JAM_DENSITY",
    "MAJOR_LEFT",
    "MINOR_LEFT",
    "MINOR_RIGHT",
    "MINOR_THROUGH",
    "NO_YIELD",
    "PRIORITY_RANK",
    "GiveWayMovements",
    "HcmUrbanStreet",
    "KimberCoombe",
    "Signals",
    "TrafficSettings",
    "compliance_draws",
    "desired_speed_kph",
    "expected_running_time_s",
    "free_flow_speed_kph",
    "give_way_approach",
    "give_way_capacity_vph",
    "give_way_delay_s",
    "give_way_movements",
    "hash_unit",
    "hcm_urban_street_free_flow_speed_kph",
    "kimber_coombe_capacity_vph",
    "link_storage_veh",
    "potential_capacity_vph",
    "segment_length_m",
    "signal_plans",
    "single_phase_signals",
]
