"""The traffic model's settings: its numbers from the parameter files, and the per-link storage they scale.

Part of the traffic model's numbers (:mod:`vision_zero.traffic._model` re-exports them): :class:`TrafficSettings`
with its coefficient groups :class:`HcmUrbanStreet` (the HCM urban-street free-flow speed) and
:class:`~vision_zero.traffic._junction_capacity.KimberCoombe` (priority-junction capacities), the give-way rules
(:data:`GIVE_WAY_RULES`), and a replication's link storage at its drawn jam density (:func:`link_storage_veh`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vision_zero.core.errors import ParameterError
from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.core.units import m_to_km
from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic._junction_capacity import KimberCoombe

__all__ = [
    "GIVE_WAY_RULES",
    "HCM_ACCESS_LIMITS_MPH",
    "JAM_DENSITY",
    "HcmUrbanStreet",
    "TrafficSettings",
    "link_storage_veh",
]


FloatArray = npt.NDArray[np.float64]


#: Exhibit 18-7's speed-limit columns [mi/h] (``traffic.desired_speed.hcm.access_points_per_mi.at_<mph>_mph``).
HCM_ACCESS_LIMITS_MPH: tuple[int, ...] = (25, 30, 35, 40, 45, 50, 55)


@dataclass(frozen=True)
class HcmUrbanStreet:
    """Coefficients of the HCM urban-street free-flow speed (``traffic.desired_speed.hcm.*``; sources there)."""

    speed_constant_mph: float
    speed_limit_slope: float
    cross_section_mph: float
    access_point_slope_mph: float
    access_points_per_mi: tuple[float, ...]  # at HCM_ACCESS_LIMITS_MPH
    spacing_intercept: float
    spacing_slope_ft_per_mph: float
    spacing_speed_mph: float
    min_spacing_ft: float
    min_speed_limit_kph: float

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> HcmUrbanStreet:
        """From parameter values by dotted name (central values or one replication's draw)."""
        p = "traffic.desired_speed.hcm."
        return cls(
            speed_constant_mph=values[p + "speed_constant_mph"],
            speed_limit_slope=values[p + "speed_limit_slope"],
            cross_section_mph=values[p + "cross_section_mph"],
            access_point_slope_mph=values[p + "access_point_slope_mph"],
            access_points_per_mi=tuple(
                values[f"{p}access_points_per_mi.at_{mph}_mph"] for mph in HCM_ACCESS_LIMITS_MPH
            ),
            spacing_intercept=values[p + "spacing_intercept"],
            spacing_slope_ft_per_mph=values[p + "spacing_slope_ft_per_mph"],
            spacing_speed_mph=values[p + "spacing_speed_mph"],
            min_spacing_ft=values[p + "min_spacing_ft"],
            min_speed_limit_kph=values[p + "min_speed_limit_kph"],
        )


#: The give-way rules at priority junctions (``traffic.give_way.gap_acceptance`` = 0, 1, 2)
GIVE_WAY_RULES: tuple[str, ...] = ("off", "hcm", "kimber_coombe")


@dataclass(frozen=True)
class TrafficSettings:
    """The numbers of the traffic model (from ``traffic.toml`` / ``network.toml``; see there for sources)."""

    offset_kph: float
    cv: float
    min_speed_kph: float
    backward_wave_kph: float
    #: the jam density of this replication (a draw of ``network.jam_density_veh_per_km_per_lane``): the storage of
    #: every link at the network's default storage follows it (:func:`link_storage_veh`)
    jam_density_veh_per_km_lane: float
    stuck_time_s: float
    cycle_s: float
    lost_time_per_phase_s: float
    saturation_flow_vphpl: float
    route_perception_cv: float
    route_perception_draws: int
    give_way_delay_s: float = 0.0
    #: HCM follow-up headway of a minor-approach vehicle at a priority junction [s]: its give-way capacity is
    #: at most ``3600 / this`` per lane (the gap-acceptance capacity with no conflicting traffic).
    give_way_follow_up_s: float = 3.5
    #: HCM 2000 Exhibit 17-5 critical gaps t_c [s] per movement that gives way (eq. 17-3 with the movement's
    #: conflicting flow), with a two-lane / four-lane major street, and eq. 17-1's three-leg left-turn term
    gap_minor_right_s: float = 6.2
    gap_minor_right_multilane_s: float = 6.9
    gap_minor_through_s: float = 6.5
    gap_minor_left_s: float = 7.1
    gap_minor_left_multilane_s: float = 7.5
    gap_major_left_s: float = 4.1
    gap_three_leg_left_reduction_s: float = 0.7
    #: HCM 2000 Exhibit 17-5 follow-up headways t_f [s] per movement that gives way
    follow_up_minor_right_s: float = 3.3
    follow_up_minor_through_s: float = 4.0
    follow_up_minor_left_s: float = 3.5
    follow_up_major_left_s: float = 2.2
    #: the conflicting major flow of a give-way approach is the major approaches' exits over this window [s].
    give_way_flow_window_s: float = 900.0
    #: the capacity rule of the movements that give way at a priority junction (:data:`GIVE_WAY_RULES`;
    #: ``traffic.give_way.gap_acceptance``): "kimber_coombe": each discharges at Kimber & Coombe's linear capacity
    #: with its own simulated conflicting flows (:func:`~vision_zero.traffic._give_way.give_way_movements`,
    #: :func:`~vision_zero.traffic._junction_capacity.kimber_coombe_capacity_vph`); "hcm": at HCM eq. 17-3's
    #: gap-acceptance capacity; "off": a minor approach discharges at the potential capacity without conflicting
    #: traffic
    give_way_rule: str = "off"
    #: the coefficients of the "kimber_coombe" rule (required by it)
    kimber_coombe: KimberCoombe | None = None
    #: True: the simulation holds vehicles on minor approaches for ``give_way_delay_s`` (and route choice learns it
    #: from the simulated times); False: the delay is only a term of route choice's generalised cost.
    give_way_in_simulation: bool = False
    #: the HCM urban-street free-flow speed for :data:`~vision_zero.traffic._desired_speed.HCM_CLASSES`
    #: (:func:`~vision_zero.traffic._desired_speed.free_flow_speed_kph`); None: the limit + ``offset_kph`` on every
    #: class
    hcm: HcmUrbanStreet | None = None

    @classmethod
    def from_parameters(cls, params: ParameterSet | None = None) -> TrafficSettings:
        """Central values from a parameter set (default: the shipped files)."""
        p = load_parameters() if params is None else params
        return cls.from_values(p.central())

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> TrafficSettings:
        """From parameter values by dotted name, e.g. one replication's ``ParameterSet.draw(rng)``."""
        return cls(
            offset_kph=values["traffic.desired_speed.offset_kph"],
            cv=values["traffic.desired_speed.cv"],
            min_speed_kph=values["traffic.desired_speed.min_kph"],
            backward_wave_kph=values["traffic.backward_wave_speed_kph"],
            jam_density_veh_per_km_lane=values["network.jam_density_veh_per_km_per_lane"],
            stuck_time_s=values["traffic.stuck_time_s"],
            cycle_s=values["traffic.signal.cycle_s"],
            lost_time_per_phase_s=values["traffic.signal.lost_time_per_phase_s"],
            saturation_flow_vphpl=values["traffic.signal.saturation_flow_vphpl"],
            route_perception_cv=values["traffic.route_choice.perception_cv"],
            route_perception_draws=int(values["traffic.route_choice.perception_draws"]),
            give_way_delay_s=values["traffic.route_choice.give_way_delay_s"],
            give_way_follow_up_s=values["traffic.give_way.follow_up_headway_s"],
            gap_minor_right_s=values["traffic.give_way.critical_gap.minor_right_s"],
            gap_minor_right_multilane_s=values["traffic.give_way.critical_gap.minor_right_multilane_s"],
            gap_minor_through_s=values["traffic.give_way.critical_gap.minor_through_s"],
            gap_minor_left_s=values["traffic.give_way.critical_gap.minor_left_s"],
            gap_minor_left_multilane_s=values["traffic.give_way.critical_gap.minor_left_multilane_s"],
            gap_major_left_s=values["traffic.give_way.critical_gap.major_left_s"],
            gap_three_leg_left_reduction_s=values["traffic.give_way.critical_gap.three_leg_left_reduction_s"],
            follow_up_minor_right_s=values["traffic.give_way.follow_up.minor_right_s"],
            follow_up_minor_through_s=values["traffic.give_way.follow_up.minor_through_s"],
            follow_up_minor_left_s=values["traffic.give_way.follow_up.minor_left_s"],
            follow_up_major_left_s=values["traffic.give_way.follow_up.major_left_s"],
            give_way_flow_window_s=values["traffic.give_way.flow_window_s"],
            give_way_rule=_give_way_rule(values.get("traffic.give_way.gap_acceptance", 0.0)),
            kimber_coombe=KimberCoombe.from_values(values),
            give_way_in_simulation=values.get("traffic.route_choice.give_way_in_simulation", 0.0) >= 0.5,
            hcm=HcmUrbanStreet.from_values(values),
        )


def _give_way_rule(code: float) -> str:
    """The rule of :data:`GIVE_WAY_RULES` a ``traffic.give_way.gap_acceptance`` value names (0, 1 or 2)."""
    k = round(code)
    if not 0 <= k < len(GIVE_WAY_RULES) or abs(code - k) > 1e-9:
        raise ParameterError(
            f"traffic.toml: traffic.give_way.gap_acceptance: expected 0 (off), 1 (hcm) or 2 (kimber_coombe), "
            f"got {code!r}"
        )
    return GIVE_WAY_RULES[k]


#: the parameter a link's default storage is built with (length x lanes x its central value)
JAM_DENSITY = "network.jam_density_veh_per_km_per_lane"


def link_storage_veh(network: RoadNetwork, st: TrafficSettings) -> FloatArray:
    """Per link, the vehicles it holds at jam density in this replication [veh].

    The network gives a link ``storage_veh`` = length x lanes x the shipped central jam density
    (``network.jam_density_veh_per_km_per_lane``, 137.5 veh/km/lane; the network is built once, at central
    values). A replication draws the jam density (``st.jam_density_veh_per_km_lane``, 130-145): the storage of
    every link at that default is scaled by drawn / central, so the link's queue room and its flow capacity
    (:func:`~vision_zero.traffic._loop.flow_capacity_vph`: ``u w k_jam / (u + w)`` with ``k_jam`` = storage /
    length) carry the draw; ``w`` stays ``traffic.backward_wave_speed_kph``. A link whose ``storage_veh`` is not
    that product (its own value from the data, e.g. a surveyed queue room, or a test network's) keeps it: the draw
    is the uncertainty of the default's 7-7.5 m per queued car, not of a value given for the link. A road diet
    scales storage with its lanes, so its links stay at the default. At the central value the network's storage
    is returned unchanged (bit-identical).
    """
    links = network.links
    storage: FloatArray = links["storage_veh"].to_numpy(dtype=np.float64)
    central = load_parameters().value(JAM_DENSITY)
    if st.jam_density_veh_per_km_lane == central:
        return storage
    length_km = m_to_km(links["length_m"].to_numpy(dtype=np.float64))
    default = length_km * links["lanes"].to_numpy(dtype=np.float64) * central
    at_default = np.isclose(storage, default, rtol=1e-9, atol=0.0)
    out: FloatArray = np.where(at_default, storage * (st.jam_density_veh_per_km_lane / central), storage)
    return out
