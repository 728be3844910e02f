"""The traffic model's numbers and analytic parts: settings, desired speeds, signal plans, give-way delay.

Private helper of :mod:`vision_zero.traffic.simulation` (which re-exports :class:`TrafficSettings`,
:func:`desired_speed_kph` and :func:`give_way_delay_s`); the event loop is in :mod:`vision_zero.traffic._loop`.

References
----------
Webster, F. V. (1958). Traffic signal settings. Road Research Technical Paper 39, HMSO.
Wilson, C., Willis, C., Hendrikz, J. K., Le Brocque, R., Bellamy, N. (2010). Speed cameras for the prevention of
road traffic injuries and deaths. Cochrane Database of Systematic Reviews 10, CD004607.
Transportation Research Board (2016). Highway Capacity Manual, 6th ed., ch. 18 (urban street segments), eqs. 18-3 to
18-5, Exhibits 18-7 and 18-11 (read as reproduced in the NCHRP 08-135 Guidebook, ch. 11).
Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import ParameterError
from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.core.units import S_PER_HOUR, kph_to_mph, kph_to_mps, m_to_ft, m_to_km, mph_to_kph
from vision_zero.network.road_network import RoadNetwork, junction_control, link_column
from vision_zero.traffic._signal_plan import given_plans
from vision_zero.traffic.routing import LEFT, RIGHT, THROUGH, UTURN, movement_directions

__all__ = [
    "GIVE_WAY_RULES",
    "HCM_CLASSES",
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
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: Road classes whose drivers' mean desired speed is the HCM urban-street free-flow speed
#: (:func:`hcm_urban_street_free_flow_speed_kph`): local and collector streets, where the limit + offset rule
#: (``traffic.desired_speed.offset_kph``, measured on urban streets in general) was not measured. Arterials, trunk
#: roads and motorways keep the offset; so do classes whose limit lies below HCM's range (living streets).
HCM_CLASSES: tuple[str, ...] = ("residential", "unclassified", "tertiary", "tertiary_link")

#: Exhibit 18-7's speed-limit columns [mi/h] (``traffic.desired_speed.hcm.access_points_per_mi.at_<mph>_mph``).
_HCM_ACCESS_LIMITS_MPH: tuple[int, ...] = (25, 30, 35, 40, 45, 50, 55)


@dataclass(frozen=True)
class HcmUrbanStreet:
    """Coefficients of the HCM urban-street free-flow speed (``traffic.desired_speed.hcm.*``; sources there)."""

    speed_constant_mph: float
    speed_limit_slope: float
    cross_section_mph: float
    access_point_slope_mph: float
    access_points_per_mi: tuple[float, ...]  # at _HCM_ACCESS_LIMITS_MPH
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
                values[f"{p}access_points_per_mi.at_{mph}_mph"] for mph in _HCM_ACCESS_LIMITS_MPH
            ),
            spacing_intercept=values[p + "spacing_intercept"],
            spacing_slope_ft_per_mph=values[p + "spacing_slope_ft_per_mph"],
            spacing_speed_mph=values[p + "spacing_speed_mph"],
            min_spacing_ft=values[p + "min_spacing_ft"],
            min_speed_limit_kph=values[p + "min_speed_limit_kph"],
        )


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
    #: with its own simulated conflicting flows (:func:`give_way_movements`, :func:`kimber_coombe_capacity_vph`);
    #: "hcm": at HCM eq. 17-3's gap-acceptance capacity; "off": a minor approach discharges at the potential
    #: capacity without conflicting traffic
    give_way_rule: str = "off"
    #: the coefficients of the "kimber_coombe" rule (required by it)
    kimber_coombe: KimberCoombe | None = None
    #: True: the simulation holds vehicles on minor approaches for ``give_way_delay_s`` (and route choice learns it
    #: from the simulated times); False: the delay is only a term of route choice's generalised cost.
    give_way_in_simulation: bool = False
    #: the HCM urban-street free-flow speed for :data:`HCM_CLASSES` (:func:`free_flow_speed_kph`); None: the limit
    #: + ``offset_kph`` on every class
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


#: The design speed of a vertical-deflection device (hump, table, cushion) is the 85th percentile of the speeds over
#: it, the figure its sources measure (FHWA PEDSAFE, speed tables: design speed 25-30 mph, measured 85th percentiles;
#: Falamarzi & Rahmat 2014), as for a raised crossing (``risk.pedestrian.raised.design_speed_kph``). A calmed street's
#: mean is then about 0.87 of its design speed at the default spread (UK 20 mph zones with physical calming: mean
#: 16 mph, 0.8 of the limit; Webster & Mackie 1996, ``risk.evidence.zone_20mph.*``).
DESIGN_SPEED_QUANTILE = 0.85


@functools.cache
def _z_design() -> float:
    """The standard normal quantile of :data:`DESIGN_SPEED_QUANTILE` (scipy's ``ndtri``).

    scipy.special is imported here, not with the module: its import costs ~0.12 CPU-s (~5% of a 10k-trip grid
    run, #16) and only a network with a design speed (a calmed street) or a camera's over-limit factor needs it.
    """
    from scipy.special import ndtri

    return float(ndtri(DESIGN_SPEED_QUANTILE))


def desired_speed_kph(
    links: pd.DataFrame,
    link: IntArray | npt.NDArray[np.int32],
    z: FloatArray,
    settings: TrafficSettings,
    *,
    compliance_draw: FloatArray | None = None,
    free_flow_kph: FloatArray | None = None,
) -> FloatArray:
    """Desired speed of drivers with standard-normal draws ``z`` on links ``link`` [km/h].

    ``mean = free flow + speed_response x (limit - reference)`` (SCIENCE.md §4, §8), the free flow being the mean
    desired speed at the reference limit (:func:`free_flow_speed_kph`: the HCM urban-street free-flow speed on local
    and collector streets, ``reference + offset`` elsewhere; ``free_flow_kph`` per link if already computed); the
    driver's speed
    is ``mean x (1 + cv z)``; where ``design_speed_kph`` is set the speed is capped at
    ``design x (1 + cv z) / (1 + cv z85)`` with ``z85`` the standard normal 85th percentile (the same driver is as
    relatively fast on a calmed street, and the calmed street's 85th percentile is its design speed:
    :data:`DESIGN_SPEED_QUANTILE`); never below ``min_speed_kph``.

    ``over_limit_factor`` is the share of the drivers above the limit who stay above it (speed cameras; Wilson et
    al. 2010 measure the fall in the share of drivers speeding): a driver above the limit whose
    ``compliance_draw`` (uniform in [0, 1), one per driver: :func:`compliance_draws`) is at least the factor
    keeps to the limit, the others keep their speed. Without draws (expected values over ``z``, e.g. route choice's
    expected link times) the excess over the limit is scaled by the factor instead: the same mean.

    ``mean_speed_factor`` and ``over_limit_factor`` are two measured outcomes of one measure (Wilson et al. 2010:
    the mean speed falls by ``1 - mean_speed_factor``, the share speeding by ``1 - over_limit_factor``), not two
    effects to multiply: the drivers keeping to the limit already lower the mean by
    ``(1 - over_limit_factor) x E[(v - limit)+]`` (normal partial expectation), and all speeds are scaled by
    ``min(1, mean_speed_factor x mean / compressed mean)`` only for the rest of the measured fall in the mean.
    """
    limit = links["speed_limit_kph"].to_numpy(dtype=np.float64)
    ref = link_column(links, "reference_speed_kph")
    resp = link_column(links, "speed_response")
    msf = link_column(links, "mean_speed_factor")
    olf = link_column(links, "over_limit_factor")
    design = link_column(links, "design_speed_kph")
    lim, r = limit[link], ref[link]
    ff = (
        free_flow_speed_kph(links, settings.offset_kph, settings.hcm)
        if free_flow_kph is None
        else free_flow_kph
    )
    mean = ff[link] + resp[link] * (lim - r)
    rel = 1.0 + settings.cv * z
    v = mean * rel
    o = olf[link]
    if compliance_draw is None:
        v = np.where(v > lim, lim + o * (v - lim), v)
    else:
        v = np.where((v > lim) & (compliance_draw >= o), lim, v)
    v = v * _mean_scale(mean, lim, o, msf[link], settings.cv)
    d = design[link]
    calmed = np.isfinite(d)
    if calmed.any():
        v = np.where(calmed, np.minimum(v, d * rel / (1.0 + settings.cv * _z_design())), v)
    return np.maximum(v, settings.min_speed_kph)


def free_flow_speed_kph(links: pd.DataFrame, offset_kph: float, hcm: HcmUrbanStreet | None) -> FloatArray:
    """Per link, drivers' mean desired speed at the reference limit (the limit they are used to) [km/h].

    On :data:`HCM_CLASSES` with a reference limit within HCM's range (``hcm.min_speed_limit_kph`` and up) the HCM
    urban-street free-flow speed (:func:`hcm_urban_street_free_flow_speed_kph`, with the link's lanes and its
    :func:`segment_length_m`); elsewhere, or without ``hcm``, ``reference + offset_kph`` (Deardoff 2011; HPMS).
    One owner for the traffic model's desired speeds and the risk model's reference speed.
    """
    ref = link_column(links, "reference_speed_kph")
    out: FloatArray = ref + offset_kph
    if hcm is None or "highway" not in links.columns:
        return out
    local = links["highway"].astype(str).isin(HCM_CLASSES).to_numpy() & (ref >= hcm.min_speed_limit_kph)
    if local.any():
        lanes = links["lanes"].to_numpy(dtype=np.float64)[local]
        seg = segment_length_m(links)[local]
        out[local] = hcm_urban_street_free_flow_speed_kph(ref[local], lanes, seg, hcm)
    return out


def hcm_urban_street_free_flow_speed_kph(
    speed_limit_kph: FloatArray, through_lanes: FloatArray, segment_length_m: FloatArray, hcm: HcmUrbanStreet
) -> FloatArray:
    """HCM 6th ed. (2016) urban-street free-flow speed, eqs. 18-3 to 18-5 (HCM 2010 eqs. 17-1 to 17-3) [km/h].

    Base free-flow speed ``S_fo = S_0 + f_CS + f_A`` with the speed constant ``S_0 = 25.6 + 0.47 S_pl``, the
    cross-section adjustment ``f_CS`` for a curb and no restrictive median (Exhibit 18-5's defaults) and the
    access-point adjustment ``f_A = -0.078 D_a / N_th`` with Exhibit 18-7's default access-point density ``D_a``
    for urban streets without a restrictive median, interpolated in the limit (clamped to 25-55 mi/h); no on-street
    parking term and ``S_calib = 0`` (HCM's default). Signal-spacing factor ``f_L = 1.02 - 4.7 (S_fo - 19.5) /
    max(L_s, 400 ft) <= 1`` and ``S_f = S_fo f_L >= S_pl``: on short blocks drivers do not reach the base speed,
    and HCM never predicts below the limit. All in mi/h and ft as published; coefficients in ``hcm``.
    """
    s_pl = kph_to_mph(np.asarray(speed_limit_kph, dtype=np.float64))
    density = np.interp(s_pl, np.asarray(_HCM_ACCESS_LIMITS_MPH, dtype=np.float64), hcm.access_points_per_mi)
    f_a = hcm.access_point_slope_mph * density / np.maximum(through_lanes, 1.0)
    s_fo = hcm.speed_constant_mph + hcm.speed_limit_slope * s_pl + hcm.cross_section_mph + f_a
    spacing_ft = np.maximum(m_to_ft(np.asarray(segment_length_m, dtype=np.float64)), hcm.min_spacing_ft)
    f_l = np.minimum(
        1.0,
        hcm.spacing_intercept - hcm.spacing_slope_ft_per_mph * (s_fo - hcm.spacing_speed_mph) / spacing_ft,
    )
    out: FloatArray = mph_to_kph(np.maximum(s_fo * f_l, s_pl))
    return out


def segment_length_m(links: pd.DataFrame) -> FloatArray:
    """Per link, the length of its street segment in HCM's sense [m].

    The segment is the chain of links of one road between the junctions that can require its through movement to
    stop or yield. A link's road continues through its end node when exactly two legs there (distinct neighbours) carry a road of
    its class or higher — its own way in and out — and the way out has its class: so a local street is cut at
    every junction with another street of equal class (priority to the right: Vienna Convention art. 18.4) or of a
    higher class (it gives way), and a collector runs on through junctions with local streets. Dead ends and class
    changes cut it too. Only the link table is read: a signal where no road of equal or higher class meets (a
    mid-block pedestrian signal) does not cut the segment.
    """
    # imported here: scipy.sparse and its csgraph cost ~0.1-0.25 CPU-s to import and only the HCM free-flow
    # option reads segments (#16: the traffic path's start-up)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(links)
    if n == 0:
        return np.zeros(0)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    rank = links["highway"].astype(str).map(_PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    length = links["length_m"].to_numpy(dtype=np.float64)
    n_nodes = int(max(u.max(), v.max())) + 1
    top = int(rank.max()) + 1
    # per (node, neighbour) leg: the highest class on it; per node and class r: legs carrying class r or higher
    legs = pd.DataFrame(
        {"a": np.concatenate([u, v]), "b": np.concatenate([v, u]), "r": np.concatenate([rank, rank])}
    )
    leg_rank = legs.groupby(["a", "b"], sort=False)["r"].max().reset_index()
    hist = np.zeros((n_nodes, top), dtype=np.int64)
    np.add.at(hist, (leg_rank["a"].to_numpy(), leg_rank["r"].to_numpy()), 1)
    at_least = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # at_least[node, r]: legs with class >= r
    through = at_least[v, rank] == 2
    ins = pd.DataFrame(
        {"l": np.arange(n)[through], "node": v[through], "r": rank[through], "back": u[through]}
    )
    outs = pd.DataFrame({"m": np.arange(n), "node": u, "r": rank, "head": v})
    pairs = ins.merge(outs, on=["node", "r"])
    pairs = pairs[pairs["head"].to_numpy() != pairs["back"].to_numpy()]
    pairs = pairs[~pairs["l"].duplicated(keep=False)]  # exactly one way on
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs["l"].to_numpy(), pairs["m"].to_numpy())), shape=(n, n)
    ).tocsr()
    _, label = connected_components(graph, directed=True, connection="weak")
    out: FloatArray = np.bincount(label, weights=length)[label]
    return out


def compliance_draws(z: FloatArray) -> FloatArray:
    """One uniform draw in [0, 1) per driver for :func:`desired_speed_kph`'s compliance.

    A fixed function of the driver's desired-speed draw ``z``, so common random numbers hold (the same driver
    complies in every scenario) and no random stream is consumed.
    """
    return hash_unit(np.ascontiguousarray(z, dtype=np.float64).view(np.int64))


def _mean_scale(
    mean: FloatArray, limit: FloatArray, over_limit_factor: FloatArray, mean_factor: FloatArray, cv: float
) -> FloatArray:
    """Factor on all speeds so the mean falls by ``mean_factor`` in all, counting the over-limit compression."""
    compressed_links = over_limit_factor < 1.0
    if not compressed_links.any():  # no camera: the factor alone (and no normal integral, no scipy import)
        factor: FloatArray = np.where(compressed_links, 0.0, mean_factor)
        return factor
    from scipy.special import ndtr

    sd = np.maximum(cv * mean, 1e-9)
    d = (mean - limit) / sd
    excess = sd * np.exp(-0.5 * d * d) / math.sqrt(2.0 * math.pi) + (mean - limit) * ndtr(d)
    compressed = mean - (1.0 - over_limit_factor) * excess
    out: FloatArray = np.minimum(1.0, mean_factor * mean / np.maximum(compressed, 1e-9))
    return np.where(compressed_links, out, mean_factor)


@dataclass(frozen=True)
class Signals:
    cycle_s: FloatArray  # per link; 0 = the link's end is not signalised
    offset_s: FloatArray
    green_s: FloatArray

    def uniform_delay_s(self) -> FloatArray:
        """Webster's first (uniform) delay term at low flow, c (1 - lambda)^2 / 2, per link [s]."""
        c = self.cycle_s
        lam = np.divide(self.green_s, c, out=np.ones_like(c), where=c > 0)
        return np.where(c > 0, 0.5 * c * (1.0 - lam) ** 2, 0.0)


def single_phase_signals(nodes: pd.DataFrame, u: IntArray, v: IntArray) -> npt.NDArray[np.bool_]:
    """Per node, whether a signal there is a signal on one road rather than a junction's: one vehicle phase.

    A node with at most two neighbouring nodes (a signal on a road, e.g. at a signalised pedestrian crossing or
    mapped on an approach) or tagged as a crossing (OSM ``highway=crossing``, ``crossing=traffic_signals``: a
    pedestrian signal that stops the road's traffic; a street that joins at the same node has no signal group of
    its own there). Found on central Helsinki's extract: a one-way street joining at a pedestrian signal got its own
    phase, 27 s of 90, and held all its right-turning traffic, where SUMO's netconvert gives that movement green in
    every phase (benchmarks/README.md, "Real geometry: central Helsinki against SUMO").
    """
    n = len(nodes)
    arms = _legs(u, v, n)
    crossing = (
        nodes["highway"].astype(str).to_numpy() == "crossing"
        if "highway" in nodes.columns
        else np.zeros(n, dtype=bool)
    )
    out: npt.NDArray[np.bool_] = (arms <= 2) | crossing
    return out


def signal_plans(network: RoadNetwork, settings: TrafficSettings) -> Signals:
    """Fixed-time two-phase plans at signal-controlled nodes.

    Approaches are grouped by axis (mostly east-west vs north-south, from the link's bearing); effective green
    ``cycle - 2 x lost time`` is split between the two groups in proportion to their widest approach (lanes);
    phase 0 (the east-west group) starts its green at the node's offset, phase 1 one green and one lost time
    later. A signal that is not a junction's has one vehicle phase (:func:`single_phase_signals`): every approach
    takes the group of the node's widest one, so the two directions of a road that bends at a signal on it are not
    given alternating greens, nor a street joining at a pedestrian signal a phase of its own. Offsets: the optional node column ``signal_offset_s`` where it is set (a known plan, e.g. a green wave
    or a peer simulator's plan), elsewhere a fixed pseudo-random function of the node's OSM id (uncoordinated
    signals, the same in every scenario and replication; an arithmetic sequence would give neighbouring signals
    a systematic bad progression).

    A known plan given with the network (optional node column ``signal_phases_s``, link column ``signal_group``;
    :mod:`vision_zero.traffic._signal_plan`) replaces the two-phase plan at its node: the cycle is the sum of its
    phases, each entering link is green in its group's phases (one window per cycle), taken as effective green
    with no lost time; phase 0 starts at the node's offset (the column or the pseudo-random one, in this cycle).
    """
    nodes, links = network.nodes, network.links
    n = len(links)
    sig_node = junction_control(nodes) == "signal"
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    x, y = nodes["x_m"].to_numpy(dtype=np.float64), nodes["y_m"].to_numpy(dtype=np.float64)
    phase = (np.abs(x[v] - x[u]) < np.abs(y[v] - y[u])).astype(np.int64)
    lanes = links["lanes"].to_numpy(dtype=np.float64)
    on = sig_node[v]
    c = settings.cycle_s
    lost = settings.lost_time_per_phase_s
    w = np.zeros((len(nodes), 2))
    np.maximum.at(w, (v[on], phase[on]), lanes[on])
    single = single_phase_signals(nodes, u, v) & sig_node
    if single.any():  # one group: the widest approach's (ties: east-west); a group alone keeps its phase
        one = on & single[v]
        phase = np.where(one, np.argmax(w, axis=1)[v], phase)
        w[single] = 0.0
        np.maximum.at(w, (v[one], phase[one]), lanes[one])
    tot = w.sum(axis=1)
    g = np.divide((c - 2 * lost) * w, tot[:, None], out=np.zeros_like(w), where=tot[:, None] > 0)
    plans = given_plans(nodes, links, sig_node)
    node_c: float | FloatArray = (
        c if plans is None else np.where(plans.node_cycle_s > 0, plans.node_cycle_s, c)
    )
    node_off = hash_unit(nodes["osmid"].to_numpy(dtype=np.int64)) * node_c
    if "signal_offset_s" in nodes.columns:
        given = nodes["signal_offset_s"].to_numpy(dtype=np.float64)
        node_off = np.where(np.isfinite(given), np.mod(given, node_c), node_off)
    cycle = np.where(on, c, 0.0)
    green = g[v, phase]
    offset = node_off[v] + np.where(phase == 1, g[v, 0] + lost, 0.0)
    # a known plan where one is given: its cycle, each link's window from the start of its node's phase 0
    if plans is not None:
        known = on & (plans.node_cycle_s[v] > 0)
        cycle = np.where(known, plans.node_cycle_s[v], cycle)
        green = np.where(known, plans.link_green_s, green)
        offset = np.where(known, node_off[v] + plans.link_start_s, offset)
    return (
        Signals(
            cycle_s=cycle.astype(np.float64),
            offset_s=np.where(on, offset, 0.0),
            green_s=np.where(on, green, 0.0),
        )
        if n
        else Signals(np.zeros(0), np.zeros(0), np.zeros(0))
    )


def hash_unit(ids: IntArray) -> FloatArray:
    """A fixed, well-mixed map of integer ids to [0, 1) (SplitMix64 finaliser; Steele et al. 2014)."""
    z = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


#: Road classes in order of priority at a junction (higher = more major); unlisted classes rank 0.
_PRIORITY_RANK: dict[str, int] = {
    "motorway": 6,
    "motorway_link": 6,
    "trunk": 5,
    "trunk_link": 5,
    "primary": 4,
    "primary_link": 4,
    "secondary": 3,
    "secondary_link": 3,
    "tertiary": 2,
    "tertiary_link": 2,
    "unclassified": 1,
    "residential": 1,
}


def give_way_approach(network: RoadNetwork) -> npt.NDArray[np.bool_]:
    """Per link, whether its end is a give-way approach of a real junction.

    True where the link ends at an unsignalised junction (3 or more legs) at which another road has a higher
    class (:data:`_PRIORITY_RANK`) — the minor approach of a priority junction, which yields to a conflicting
    major stream — or at a roundabout (``junction_control == "roundabout"``: every entry yields). False at
    signals, at plain bends and chains of one road (fewer than 3 legs: no conflicting stream) and on the major
    road through a junction.
    """
    links, nodes = network.links, network.nodes
    n_nodes = len(nodes)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    control = junction_control(nodes)
    sig = control == "signal"
    roundabout = control == "roundabout"
    rank = links["highway"].astype(str).map(_PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    top = np.zeros(n_nodes, dtype=np.int64)
    np.maximum.at(top, u, rank)
    np.maximum.at(top, v, rank)
    legs = _legs(u, v, n_nodes)
    minor: npt.NDArray[np.bool_] = (~sig[v] & (legs[v] >= 3) & (rank < top[v])) | roundabout[v]
    return minor


def give_way_delay_s(network: RoadNetwork, settings: TrafficSettings) -> FloatArray:
    """Per link, the delay of giving way at its end [s]: applied in the simulation and expected by route choice.

    ``settings.give_way_delay_s`` on the minor approach of a priority junction (:func:`give_way_approach`, not
    roundabouts), else 0 (HCM two-way stop control delay at low conflicting flow). With
    ``settings.give_way_in_simulation`` the simulation holds the head of such a link at least this long after its
    running time (a constant, not a function of the conflicting flow); otherwise it is a term of route choice's
    cost only. Without it a route along residential streets would cost no more than the same length of
    arterial, and a small slowdown on an arterial would send its traffic through the side streets.

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
    """
    v = network.links["v"].to_numpy(dtype=np.int64)
    roundabout = (junction_control(network.nodes) == "roundabout")[v]
    return np.where(give_way_approach(network) & ~roundabout, settings.give_way_delay_s, 0.0)


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
    (:func:`give_way_movements`).

    References
    ----------
    Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL SR 582.
    """
    y = kc.y(width_m)
    q = {name: float(flows_vph.get(name, 0.0)) for name in _KC_FLOWS}
    intercept, weights = _kimber_coombe_terms(kind, kc, central_reserve_m)
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


def _kimber_coombe_terms(
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


#: Kinds of the movements of :class:`GiveWayMovements` (HCM 2000 ch. 17's ranks 2 and 3 of a two-way stop)
NO_YIELD, MINOR_RIGHT, MINOR_THROUGH, MINOR_LEFT, MAJOR_LEFT = 0, 1, 2, 3, 4

#: HCM 2000 Exhibit 17-4: weight of each conflicting movement in a movement's conflicting flow ``v_c``, by the
#: yielding movement's kind, the side the conflicting approach comes from (``near``: from the yielding
#: approach's left, the stream a right turn merges into; ``far``: from its right; ``opposite``: straight ahead)
#: and the conflicting movement's direction (``right``, ``through``, ``left`` incl. U-turns). For a minor through
#: (movement 8): ``2 v1 + v2 + 0.5 v3 + 2 v4 + v5 + v6``; a minor left (7): ``2 v1 + v2 + 0.5 v3 + 2 v4 + v5 +
#: 0.5 v6 + 0.5 v11 + 0.5 v12``; a minor right (9): ``v2 / N + 0.5 v3`` (``N`` the near-side stream's through
#: lanes: the weight ``through_per_lane``); a major left (1): ``v5 + v6``. A major approach straight ahead of a
#: minor one (skewed geometry) counts as the far side.
_CONFLICT_WEIGHTS: dict[tuple[int, str], dict[str, float]] = {
    (MINOR_RIGHT, "near"): {"through_per_lane": 1.0, "right": 0.5},
    (MINOR_THROUGH, "near"): {"left": 2.0, "through": 1.0, "right": 0.5},
    (MINOR_THROUGH, "far"): {"left": 2.0, "through": 1.0, "right": 1.0},
    (MINOR_LEFT, "near"): {"left": 2.0, "through": 1.0, "right": 0.5},
    (MINOR_LEFT, "far"): {"left": 2.0, "through": 1.0, "right": 0.5},
    (MINOR_LEFT, "opposite_minor"): {"through": 0.5, "right": 0.5},
    (MAJOR_LEFT, "opposite"): {"through": 1.0, "right": 1.0},
}


@dataclass(frozen=True)
class GiveWayMovements:
    """The movements at priority junctions and what each one gives way to (HCM 2000 ch. 17, two-way stop).

    Every link ending at a priority junction (a node with a minor approach, :func:`give_way_approach`, not a
    roundabout) has one *slot* per link leaving that node: slots ``ptr[l] .. ptr[l + 1] - 1`` of link ``l``,
    in order of ``next_link``. A slot that gives way (``follow_up_s > 0``: every movement of a minor approach,
    a left turn or U-turn from the major road) discharges at ``lanes x`` HCM eq. 17-3's potential capacity with
    its ``critical_gap_s``, ``follow_up_s`` and conflicting flow ``v_c = sum(weight x flow)`` over its conflict
    list ``conflict_slot[conflict_ptr[k] .. conflict_ptr[k + 1] - 1]`` (flows of other slots, per hour, over
    ``traffic.give_way.flow_window_s``); ``record`` marks the slots whose flow some conflict list reads. With
    the "kimber_coombe" rule a yielding slot has ``intercept_vph > 0`` and discharges instead at ``lanes x
    max(intercept_vph - sum(weight x flow), 3600 / traffic.stuck_time_s)`` (Kimber & Coombe's linear capacity;
    the weights already carry ``Y`` and the geometric factor).
    """

    ptr: IntArray  # per link + 1
    next_link: IntArray  # per slot
    kind: IntArray  # per slot: NO_YIELD, MINOR_RIGHT, MINOR_THROUGH, MINOR_LEFT or MAJOR_LEFT
    critical_gap_s: FloatArray  # per slot (0 where it does not give way)
    follow_up_s: FloatArray  # per slot (0 where it does not give way)
    record: npt.NDArray[np.bool_]  # per slot
    conflict_ptr: IntArray  # per slot + 1
    conflict_slot: IntArray
    conflict_weight: FloatArray
    intercept_vph: FloatArray  # per slot: Kimber & Coombe's intercept x factor (0: HCM eq. 17-3 or no yield)

    @property
    def n_slots(self) -> int:
        return len(self.next_link)

    def slot(self, link: int, next_link: int) -> int:
        """The slot of the movement from ``link`` into ``next_link`` (-1 if ``link`` ends at no priority junction)."""
        lo, hi = int(self.ptr[link]), int(self.ptr[link + 1])
        hit = np.flatnonzero(self.next_link[lo:hi] == next_link)
        return lo + int(hit[0]) if len(hit) else -1


def _legs(u: IntArray, v: IntArray, n_nodes: int) -> IntArray:
    """Number of neighbouring nodes of each node (legs of a junction; parallel and two-way links count once)."""
    ends = np.concatenate([np.stack([u, v], 1), np.stack([v, u], 1)])
    ends = np.unique(ends[ends[:, 0] != ends[:, 1]], axis=0)
    out: IntArray = np.bincount(ends[:, 0], minlength=n_nodes) if len(ends) else np.zeros(n_nodes, np.int64)
    return out


def give_way_movements(network: RoadNetwork, settings: TrafficSettings) -> GiveWayMovements:  # noqa: C901
    """The movements of every priority junction with their HCM 2000 ch. 17 conflicts (see :class:`GiveWayMovements`).

    A movement's direction is the shared turn rule :func:`~vision_zero.traffic.routing.movement_directions`
    (right-hand traffic, as HCM); the side another approach comes from is the direction of the move from the
    yielding approach into that approach's leg (into a leg on the left: the approach comes from the left, the
    near side). Major approaches of a minor one are those of a higher road class (:data:`_PRIORITY_RANK`);
    the opposing approach of a major left turn is a major approach straight ahead (where there is none, e.g. the
    major road bends at a T junction whose minor arm is straight ahead, the left turn is the major road's own
    course and does not give way: Kimber & Coombe's C-B stream and HCM's movement 1 cross an opposing major
    stream); a minor left turn also yields
    to half the through and right flows of a minor approach straight ahead. Critical gaps: the four-lane values
    where a conflicting major approach has 2 or more lanes, and HCM eq. 17-1's three-leg reduction for a minor
    left turn at a junction of 3 legs (heavy-vehicle and grade terms not applied).

    References
    ----------
    With ``settings.give_way_rule == "kimber_coombe"`` the same movements and sides carry Kimber & Coombe's terms
    instead (:func:`kimber_coombe_capacity_vph`): the near-side through flow and its turn into the minor arm
    (a right turn), the far-side through flow and its turn into the minor arm (a left turn), the opposing
    through flow and its right turn; ``W`` of a junction is the widest major arm's lanes (both directions) x
    ``lane_width_m``; no central reserve.

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17, Exhibits 17-4 and 17-5, eq. 17-1.
    Kimber, R. M., Coombe, R. D. (1980). The traffic capacity of major/minor priority junctions. TRRL SR 582.
    """
    kc = settings.kimber_coombe if settings.give_way_rule == "kimber_coombe" else None
    if settings.give_way_rule == "kimber_coombe" and kc is None:
        raise ValueError("the kimber_coombe give-way rule needs TrafficSettings.kimber_coombe")
    links, nodes = network.links, network.nodes
    n = len(links)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    lanes = np.maximum(links["lanes"].to_numpy(dtype=np.float64), 1.0)
    rank = links["highway"].astype(str).map(_PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    roundabout = (junction_control(nodes) == "roundabout")[v]
    minor = give_way_approach(network) & ~roundabout
    prio = np.zeros(len(nodes), dtype=bool)
    prio[v[minor]] = True
    legs = _legs(u, v, len(nodes))
    at = prio[v] & (u != v)
    # slots: every link ending at a priority junction x every link leaving that node
    out_order = np.argsort(u, kind="stable")
    out_start = np.searchsorted(u[out_order], np.arange(len(nodes) + 1))
    count = np.where(at, (out_start[1:] - out_start[:-1])[v], 0)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(count, out=ptr[1:])
    a = np.repeat(np.arange(n, dtype=np.int64), count)
    within = np.arange(len(a)) - np.repeat(ptr[:-1], count)
    b = out_order[np.repeat(out_start[:-1][v], count) + within].astype(np.int64)
    direction = movement_directions(nodes, u, v, a, b)
    # per approach at a priority junction: the other approaches and the side each comes from
    in_order = np.argsort(v, kind="stable")
    in_start = np.searchsorted(v[in_order], np.arange(len(nodes) + 1))
    u2, v2 = np.concatenate([u, v]), np.concatenate([v, u])  # links n.. are the links reversed (their legs)
    kind = np.zeros(len(a), dtype=np.int64)
    t_c = np.zeros(len(a))
    t_f = np.zeros(len(a))
    conflicts: list[list[tuple[int, float]]] = [[] for _ in range(len(a))]
    intercept = np.zeros(len(a))
    arm_lanes: dict[tuple[int, int], float] = {}
    if kc is not None:
        for x, y, n_lanes in zip(u.tolist(), v.tolist(), lanes.tolist(), strict=True):
            arm = (min(x, y), max(x, y))
            arm_lanes[arm] = arm_lanes.get(arm, 0.0) + n_lanes
    for node in np.flatnonzero(prio).tolist():
        app = [int(x) for x in in_order[in_start[node] : in_start[node + 1]] if at[x]]
        y_major = 0.0
        if kc is not None and app:
            top = max(rank[m] for m in app)
            arms = [arm_lanes[(min(int(u[m]), node), max(int(u[m]), node))] for m in app if rank[m] == top]
            y_major = kc.y(kc.lane_width_m * max(arms))
        for li in app:
            others = [m for m in app if m != li and u[m] != u[li]]
            if not others:
                continue
            side_dir = movement_directions(nodes, u2, v2, np.full(len(others), li), np.asarray(others) + n)
            side = {m: int(d) for m, d in zip(others, side_dir, strict=True)}
            if minor[li]:
                majors = [m for m in others if rank[m] > rank[li]]
                multilane = any(lanes[m] >= 2.0 for m in majors)
            else:
                majors = [m for m in others if not minor[m] and side[m] == THROUGH]  # the opposing major
                multilane = False
            for k in range(int(ptr[li]), int(ptr[li + 1])):
                d = int(direction[k])
                if minor[li]:
                    kk = MINOR_RIGHT if d == RIGHT else MINOR_THROUGH if d == THROUGH else MINOR_LEFT
                elif d in (LEFT, UTURN) and majors:  # across an opposing major approach (else its own course)
                    kk = MAJOR_LEFT
                else:
                    continue
                kind[k] = kk
                t_c[k], t_f[k] = _gaps(kk, multilane, int(legs[node]) == 3, settings)
                if kc is not None:
                    f = kc.factor(kk)
                    a0, kc_w = _kimber_coombe_terms(kk, kc, 0.0)
                    intercept[k] = f * a0
                    for m in others:
                        if kk == MAJOR_LEFT:
                            where = "opposing" if m in majors else ""
                        elif m in majors:
                            where = "near" if side[m] == LEFT else "far"
                        else:
                            where = ""
                        for j in range(int(ptr[m]), int(ptr[m + 1])) if where else ():
                            dj = int(direction[j])
                            turn = (where == "far" and dj == LEFT) or (where != "far" and dj == RIGHT)
                            name = f"{where}_through" if dj == THROUGH else f"{where}_turn" if turn else ""
                            w = kc_w.get(name, 0.0)
                            if w > 0.0:
                                conflicts[k].append((j, f * y_major * w))
                    continue
                for m in others:
                    if kk == MAJOR_LEFT:
                        where = "opposite" if m in majors else ""
                    elif m in majors:
                        where = "near" if side[m] == LEFT else "far"
                    elif kk == MINOR_LEFT and side[m] == THROUGH:
                        where = "opposite_minor"
                    else:
                        where = ""
                    weights = _CONFLICT_WEIGHTS.get((kk, where))
                    if not weights:
                        continue
                    for j in range(int(ptr[m]), int(ptr[m + 1])):
                        dj = int(direction[j])
                        name = "right" if dj == RIGHT else "through" if dj == THROUGH else "left"
                        w = weights.get(name, 0.0)
                        if name == "through" and "through_per_lane" in weights:
                            w = weights["through_per_lane"] / lanes[m]
                        if w > 0.0:
                            conflicts[k].append((j, w))
    cptr = np.zeros(len(a) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in conflicts], out=cptr[1:])
    cslot = np.asarray([j for c in conflicts for j, _ in c], dtype=np.int64)
    cweight = np.asarray([w for c in conflicts for _, w in c], dtype=np.float64)
    record = np.zeros(len(a), dtype=bool)
    record[cslot] = True
    return GiveWayMovements(ptr, b, kind, t_c, t_f, record, cptr, cslot, cweight, intercept)


def _gaps(kind: int, multilane: bool, three_leg: bool, st: TrafficSettings) -> tuple[float, float]:
    """HCM 2000 Exhibit 17-5 (critical gap, follow-up headway) of a movement that gives way [s]."""
    if kind == MINOR_RIGHT:
        return (
            st.gap_minor_right_multilane_s if multilane else st.gap_minor_right_s
        ), st.follow_up_minor_right_s
    if kind == MINOR_THROUGH:
        return st.gap_minor_through_s, st.follow_up_minor_through_s
    if kind == MINOR_LEFT:
        t_c = st.gap_minor_left_multilane_s if multilane else st.gap_minor_left_s
        return t_c - (st.gap_three_leg_left_reduction_s if three_leg else 0.0), st.follow_up_minor_left_s
    return st.gap_major_left_s, st.follow_up_major_left_s


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


def give_way_capacity_vph(
    network: RoadNetwork, settings: TrafficSettings, conflicting_vph: FloatArray | None = None
) -> FloatArray:
    """Per link, the outflow capacity of a give-way approach [veh/h, all lanes]; NaN where the end does not yield.

    On a give-way approach (:func:`give_way_approach`): HCM's gap-acceptance capacity
    (:func:`potential_capacity_vph`, eq. 17-3) times its lanes, with the conflicting major flow
    ``conflicting_vph`` per link (default 0: ``lanes x 3600 / t_f``, the capacity with no conflicting traffic;
    ``t_c`` the minor through movement's, ``t_f`` ``traffic.give_way.follow_up_headway_s``). With
    ``traffic.give_way.gap_acceptance`` on, the simulation replaces this approach-level figure on minor
    approaches of priority junctions by each movement's own capacity with its own conflicting flow as it happens
    (:func:`give_way_movements`, :func:`~vision_zero.traffic._loop.run_period`). Nowhere else: a bend or a major road does not give way.
    (A roundabout's entry capacity is the intervention's ``exit_capacity_vph``, which caps the outflow of the
    entering links on top of ``lanes x 3600 / t_f``.)

    References
    ----------
    Transportation Research Board (2000). Highway Capacity Manual, ch. 17, eq. 17-3 (potential capacity).
    """
    links = network.links
    lanes = np.maximum(links["lanes"].to_numpy(dtype=np.float64), 1.0)
    vc = np.zeros(len(links)) if conflicting_vph is None else np.asarray(conflicting_vph, dtype=np.float64)
    per_lane = np.array(
        [
            potential_capacity_vph(float(x), settings.gap_minor_through_s, settings.give_way_follow_up_s)
            for x in vc
        ]
    )
    cap = lanes * per_lane
    return np.where(give_way_approach(network), cap, np.nan)


def expected_running_time_s(links: pd.DataFrame, st: TrafficSettings) -> FloatArray:
    """Mean over drivers of a link's free running time [s]: ``length x E[1 / desired speed]``.

    The expectation over the standard-normal driver draw is taken by Gauss-Hermite quadrature (9 nodes), so the
    over-limit compression of cameras and the cap of calming count for all drivers, not only the median one.
    """
    n = len(links)
    nodes, weights = np.polynomial.hermite_e.hermegauss(9)
    weights = weights / weights.sum()
    idx = np.arange(n)
    inv = np.zeros(n)
    ff = free_flow_speed_kph(links, st.offset_kph, st.hcm)
    for x, w in zip(nodes, weights, strict=True):
        inv += w / kph_to_mps(desired_speed_kph(links, idx, np.full(n, x), st, free_flow_kph=ff))
    out: FloatArray = links["length_m"].to_numpy(dtype=np.float64) * inv
    return out
