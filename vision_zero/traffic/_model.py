"""The traffic model's numbers and analytic parts: settings, desired speeds, signal plans, give-way delay.

Private helper of :mod:`vision_zero.traffic.simulation` (which re-exports :class:`TrafficSettings`,
:func:`desired_speed_kph` and :func:`give_way_delay_s`); the event loop is in :mod:`vision_zero.traffic._loop`.

References
----------
Webster, F. V. (1958). Traffic signal settings. Road Research Technical Paper 39, HMSO.
Wilson, C., Willis, C., Hendrikz, J. K., Le Brocque, R., Bellamy, N. (2010). Speed cameras for the prevention of
road traffic injuries and deaths. Cochrane Database of Systematic Reviews 10, CD004607.
Transportation Research Board (2000). Highway Capacity Manual, ch. 17 (unsignalized intersections).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.core.units import S_PER_HOUR, kph_to_mps
from vision_zero.network.road_network import RoadNetwork, junction_control, link_column

__all__ = [
    "Signals",
    "TrafficSettings",
    "compliance_draws",
    "desired_speed_kph",
    "expected_running_time_s",
    "give_way_approach",
    "give_way_capacity_vph",
    "give_way_conflicts",
    "give_way_delay_s",
    "hash_unit",
    "potential_capacity_vph",
    "signal_plans",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TrafficSettings:
    """The numbers of the traffic model (from ``traffic.toml`` / ``network.toml``; see there for sources)."""

    offset_kph: float
    cv: float
    min_speed_kph: float
    backward_wave_kph: float
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
    #: HCM critical gap of a minor-approach vehicle [s] (eq. 17-3 with the conflicting major flow).
    give_way_critical_gap_s: float = 6.5
    #: the conflicting major flow of a give-way approach is the major approaches' exits over this window [s].
    give_way_flow_window_s: float = 900.0
    #: True: minor approaches discharge at HCM eq. 17-3 with the simulated conflicting flow; False (default):
    #: at the potential capacity without conflicting traffic (see ``traffic.give_way.gap_acceptance``)
    give_way_gap_acceptance: bool = False
    #: True: the simulation holds vehicles on minor approaches for ``give_way_delay_s`` (and route choice learns it
    #: from the simulated times); False: the delay is only a term of route choice's generalised cost.
    give_way_in_simulation: bool = False

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
            give_way_critical_gap_s=values["traffic.give_way.critical_gap_s"],
            give_way_flow_window_s=values["traffic.give_way.flow_window_s"],
            give_way_gap_acceptance=values.get("traffic.give_way.gap_acceptance", 0.0) >= 0.5,
            give_way_in_simulation=values.get("traffic.route_choice.give_way_in_simulation", 0.0) >= 0.5,
        )


def desired_speed_kph(
    links: pd.DataFrame,
    link: IntArray,
    z: FloatArray,
    settings: TrafficSettings,
    *,
    compliance_draw: FloatArray | None = None,
) -> FloatArray:
    """Desired speed of drivers with standard-normal draws ``z`` on links ``link`` [km/h].

    ``mean = reference + offset + speed_response x (limit - reference)`` (SCIENCE.md §4, §8); the driver's speed
    is ``mean x (1 + cv z)``; where ``design_speed_kph`` is set the speed is capped at ``design x (1 + cv z)`` (the
    same driver is as relatively fast on a calmed street); never below ``min_speed_kph``.

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
    mean = r + settings.offset_kph + resp[link] * (lim - r)
    rel = 1.0 + settings.cv * z
    v = mean * rel
    o = olf[link]
    if compliance_draw is None:
        v = np.where(v > lim, lim + o * (v - lim), v)
    else:
        v = np.where((v > lim) & (compliance_draw >= o), lim, v)
    v = v * _mean_scale(mean, lim, o, msf[link], settings.cv)
    d = design[link]
    v = np.where(np.isfinite(d), np.minimum(v, d * rel), v)
    return np.maximum(v, settings.min_speed_kph)


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
    sd = np.maximum(cv * mean, 1e-9)
    d = (mean - limit) / sd
    excess = sd * np.exp(-0.5 * d * d) / math.sqrt(2.0 * math.pi) + (mean - limit) * ndtr(d)
    compressed = mean - (1.0 - over_limit_factor) * excess
    out: FloatArray = np.minimum(1.0, mean_factor * mean / np.maximum(compressed, 1e-9))
    return np.where(over_limit_factor < 1.0, out, mean_factor)


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


def signal_plans(network: RoadNetwork, settings: TrafficSettings) -> Signals:
    """Fixed-time two-phase plans at signal-controlled nodes.

    Approaches are grouped by axis (mostly east-west vs north-south, from the link's bearing); effective green
    ``cycle - 2 x lost time`` is split between the two groups in proportion to their widest approach (lanes);
    phase 0 (the east-west group) starts its green at the node's offset, phase 1 one green and one lost time
    later. Offsets: the optional node column ``signal_offset_s`` where it is set (a known plan, e.g. a green wave
    or a peer simulator's plan), elsewhere a fixed pseudo-random function of the node's OSM id (uncoordinated
    signals, the same in every scenario and replication; an arithmetic sequence would give neighbouring signals
    a systematic bad progression).
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
    tot = w.sum(axis=1)
    g = np.divide((c - 2 * lost) * w, tot[:, None], out=np.zeros_like(w), where=tot[:, None] > 0)
    node_off = hash_unit(nodes["osmid"].to_numpy(dtype=np.int64)) * c
    if "signal_offset_s" in nodes.columns:
        given = nodes["signal_offset_s"].to_numpy(dtype=np.float64)
        node_off = np.where(np.isfinite(given), np.mod(given, c), node_off)
    cycle = np.where(on, c, 0.0)
    green = g[v, phase]
    offset = node_off[v] + np.where(phase == 1, g[v, 0] + lost, 0.0)
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
    ends = np.concatenate([np.stack([u, v], 1), np.stack([v, u], 1)])
    ends = np.unique(ends[ends[:, 0] != ends[:, 1]], axis=0)
    legs = np.bincount(ends[:, 0], minlength=n_nodes) if len(ends) else np.zeros(n_nodes, dtype=np.int64)
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


def give_way_conflicts(network: RoadNetwork) -> list[tuple[int, ...]]:
    """Per link, the conflicting major approaches of its end when it is a priority junction's minor approach.

    For a minor approach of a priority junction (:func:`give_way_approach`, not a roundabout): the links entering
    the same node with a higher road class (:data:`_PRIORITY_RANK`), whose flow the minor stream must find gaps
    in; an empty tuple for every other link. (An approach-level simplification of HCM's movement-level conflicting
    flows: a minor approach's through and left-turning vehicles cross both major directions.)
    """
    links = network.links
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    rank = links["highway"].astype(str).map(_PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    roundabout = (junction_control(network.nodes) == "roundabout")[v]
    minor = give_way_approach(network) & ~roundabout
    out: list[tuple[int, ...]] = [()] * len(links)
    if not minor.any():
        return out
    by_node = pd.Series(np.arange(len(links))).groupby(v).agg(list).to_dict()
    for li in np.flatnonzero(minor).tolist():
        out[li] = tuple(
            m for m in by_node.get(int(v[li]), []) if rank[m] > rank[li] and u[m] != v[li] and m != li
        )
    return out


def give_way_capacity_vph(
    network: RoadNetwork, settings: TrafficSettings, conflicting_vph: FloatArray | None = None
) -> FloatArray:
    """Per link, the outflow capacity of a give-way approach [veh/h, all lanes]; NaN where the end does not yield.

    On a give-way approach (:func:`give_way_approach`): HCM's gap-acceptance capacity
    (:func:`potential_capacity_vph`, eq. 17-3) times its lanes, with the conflicting major flow
    ``conflicting_vph`` per link (default 0: ``lanes x 3600 / t_f``, the capacity with no conflicting traffic;
    the simulation takes the flow of the conflicting approaches as it happens, see
    :func:`~vision_zero.traffic._loop.run_period`). Nowhere else: a bend or a major road does not give way.
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
            potential_capacity_vph(float(x), settings.give_way_critical_gap_s, settings.give_way_follow_up_s)
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
    for x, w in zip(nodes, weights, strict=True):
        inv += w / kph_to_mps(desired_speed_kph(links, idx, np.full(n, x), st))
    out: FloatArray = links["length_m"].to_numpy(dtype=np.float64) * inv
    return out
