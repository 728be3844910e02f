"""Fixed-time signal plans at signal-controlled nodes: two phases by approach axis, or a plan given with the network.

Part of the traffic model's numbers (:mod:`vision_zero.traffic._model` re-exports them): :func:`signal_plans`
gives every link's cycle, offset and effective green (:class:`Signals`); a signal on one road has one vehicle
phase (:func:`single_phase_signals`); known plans are read by :mod:`vision_zero.traffic._signal_plan`.

References
----------
Webster, F. V. (1958). Traffic signal settings. Road Research Technical Paper 39, HMSO.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.seeding import hash_unit
from vision_zero.network.road_network import RoadNetwork, junction_control, node_legs
from vision_zero.traffic._signal_plan import given_plans
from vision_zero.traffic._traffic_settings import TrafficSettings

__all__ = [
    "Signals",
    "signal_plans",
    "single_phase_signals",
]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
    arms = node_legs(u, v, n)
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
