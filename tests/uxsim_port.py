"""UXsim's verification scenarios as vision_zero networks: the world builder and UXsim's measures.

UXsim (toruseo/UXsim, ``tests/test_verification_straight_road.py`` and ``tests/test_verification_node.py``) checks
its mesoscopic model against kinematic-wave theory on small networks. The tests in ``tests/traffic/verification/``
port those cases: the same links, demand and asserts, expressed with the project's network builder
(:func:`traffic_fixtures.make_network`), drivers at exactly the limit, all-or-nothing routes (every case has one
path per OD pair) and the engine's public link-event output (``simulate(..., link_events=True)``).

UXsim's default link: free-flow speed ``u`` 20 m/s, jam density ``kappa`` 0.2 veh/m, reaction time 1 s, so the
backward wave speed is ``w = 1 / (tau kappa)`` = 5 m/s (18 km/h, the engine's own ``traffic.backward_wave_speed_kph``)
and the capacity ``u w kappa / (u + w)`` = 0.8 veh/s. A link here gets ``capacity_vph`` = that capacity,
``storage_veh`` = ``kappa x length`` and its own ``w`` as the optional link column ``backward_wave_speed_kph``
(36 km/h at kappa 0.1: UXsim's reaction time is fixed, so its wave speed follows the jam density); UXsim's
``capacity_out`` becomes the optional link column ``exit_capacity_vph``, its ``merge_priority`` the link column of
that name, a node's ``flow_capacity`` (given, or set by UXsim's ``adjust_node_capacity``) the optional node column
``flow_capacity_vph``: a capacity the node shares among all its entering links. A UXsim signal (its phases'
durations at a node, each link's ``signal_group``) is a given plan: the node column ``signal_phases_s`` and the link
column ``signal_group``, phase 0 at t = 0, each phase of the duration the case gives. (UXsim's ``signal_control``
moves on in the first time step that starts with more than the duration elapsed, so its phases last one step
longer: 50 s runs 51 s at ``deltan=1``, 55 s at ``deltan=5``, read from UXsim 1.15.1's ``signal_log``. Like its
2.4 s delay at a leaving flow, that is taken as a time-step artefact, not the case. Ported with those lengths
instead, ``test_2link_signal``'s trip values come closer, 186.7 / 197.2 s against UXsim's 188 / 197 (185.2 /
194.8 as given), and the four-phase OD times come within 2.6% of UXsim's on the same draws (6% as given), but
``test_2link_signal``'s Edie density ``k_mat[12, :]`` at ``deltan=5`` leaves the tolerance: 0.0152 against 0.0119.)

Measures, as UXsim defines them (``uxsim/analyzer.py``):

* trip level (``basic_analysis``): trips, completed trips, total and average travel time of completed trips
  (from departure, including the wait at the origin), average delay (travel time - free-flow time);
* link level (``link_analysis_coarse``): traffic volume (vehicles that left the link); UXsim's average travel
  time is a mean over time steps, the last vehicle's time holding to the end
  (:meth:`LinkCurves.time_average_travel_time`), the ports before test_override_signal's assert the mean over
  vehicles (:attr:`LinkCurves.average_travel_time`; tests/traffic/verification/test_uxsim_node.py says why);
* Edie's traffic states ``q_mat``, ``k_mat``, ``v_mat`` in cells of 120 s x (length / 10): the engine is a link
  model and has no positions inside a link, so the states inside are those that Newell's simplified
  kinematic-wave theory (Newell 1993) gives from the link's cumulative entry and exit curves, the
  "three-detector" solution ``N(x, t) = min(N_in(t - x / u), N_out(t - (L - x) / w) + kappa (L - x))``;
* cumulative curves: ``arrival_count(t)`` (entries by ``t``), ``departure_count(t)`` (exits by ``t``) and
  ``actual_travel_time(t)`` (the time in the link of the vehicle that entered at ``t``).

References
----------
Seo, T. (2025). UXsim: lightweight mesoscopic traffic flow simulator in pure Python. JOSS 10(106), 7617.
Newell, G. F. (1993). A simplified theory of kinematic waves in highway traffic. Transp. Res. B 27(4), 281-303.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from traffic_fixtures import make_network

from vision_zero.network.road_network import RoadNetwork
from vision_zero.traffic.periods import Period
from vision_zero.traffic.simulation import TrafficRecord, TrafficSettings, simulate

FloatArray = npt.NDArray[np.float64]

TAU_S = 1.0  # UXsim's reaction time per vehicle
EDIE_DT_S = 120.0  # UXsim's default eular_dt

#: drivers at exactly the limit, all-or-nothing routes, no give-way hold; a discharge at a green equal to the
#: link capacity of UXsim's default link (0.8 veh/s), as UXsim's signals discharge at link capacity
EXACT = dataclasses.replace(
    TrafficSettings.from_parameters(),
    offset_kph=0.0,
    cv=0.0,
    min_speed_kph=1.0,
    backward_wave_kph=18.0,
    route_perception_cv=0.0,
    route_perception_draws=1,
    give_way_in_simulation=False,
    saturation_flow_vphpl=0.8 * 3600.0,
)


def equal_tolerance(val: float, check: float, rel_tol: float = 0.1, abs_tol: float = 0.0) -> bool:
    """UXsim's test tolerance (``uxsim.utils.equal_tolerance``)."""
    if check == 0 and abs_tol == 0:
        abs_tol = 0.1
    return abs(val - check) <= abs(check * rel_tol) + abs_tol


@dataclass(frozen=True)
class Link:
    """One UXsim link: ``addLink(name, start, end, length, free_flow_speed, jam_density, capacity_out, capacity_in)``."""

    name: str
    start: str
    end: str
    length: float
    u: float = 20.0  # m/s
    kappa: float = 0.2  # veh/m per lane
    lanes: int = 1
    capacity_out: float | None = None  # veh/s
    capacity_in: float | None = None  # veh/s
    merge_priority: float = 1.0
    #: the phases of its end node's signal in which the link has green (UXsim's ``signal_group``, default 0)
    signal_group: int | tuple[int, ...] = 0

    @property
    def group(self) -> tuple[int, ...]:
        return (self.signal_group,) if isinstance(self.signal_group, int) else self.signal_group

    @property
    def w(self) -> float:
        """UXsim's backward wave speed ``1 / (tau kappa)`` [m/s]: a fixed reaction time, so it follows ``kappa``."""
        return 1.0 / (TAU_S * self.kappa)

    def capacity(self) -> float:
        """UXsim's capacity ``u w kappa / (u + w)`` [veh/s, all lanes]."""
        w = self.w
        q = self.u * w * self.kappa / (self.u + w) * self.lanes
        return q if self.capacity_in is None else min(q, self.capacity_in)


@dataclass
class World:
    """A UXsim ``World`` to be run by vision_zero: nodes, links, demand; UXsim's platoons of ``deltan``
    vehicles (released at its time steps of ``deltan x tau``) are the engine's platoons of that size."""

    tmax: float
    deltan: int = 5  # UXsim's platoon size (its tests mostly use 5): the engine's platoon_size
    nodes: dict[str, tuple[float, float]] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    signals: dict[str, tuple[float, ...]] = field(default_factory=dict)  # node -> its phases' durations [s]
    node_capacity: dict[str, float] = field(default_factory=dict)  # veh/s, shared by its entering links
    demand: list[tuple[str, str, float, float, float]] = field(default_factory=list)
    #: UXsim's ``World(adjust_node_capacity=True)``: every node with entering and leaving links and no
    #: ``flow_capacity`` of its own gets one from its links (:meth:`flow_capacity`)
    adjust_node_capacity: bool = False

    def add_node(
        self,
        name: str,
        x: float,
        y: float,
        signal: Sequence[float] | None = None,
        flow_capacity: float | None = None,
    ) -> None:
        # UXsim's node coordinates are abstract (link lengths are given); spread them to metres
        self.nodes[name] = (x * 1000.0, y * 1000.0)
        if signal is not None:
            self.signals[name] = tuple(signal)
        if flow_capacity is not None:
            self.node_capacity[name] = flow_capacity

    def add_link(self, link: Link) -> None:
        self.links.append(link)

    def add_demand(self, orig: str, dest: str, t0: float, t1: float, flow: float) -> None:
        self.demand.append((orig, dest, t0, t1, flow))

    def flow_capacity(self, node: str) -> float | None:
        """A node's flow capacity [veh/s, None: none]: its own, else with ``adjust_node_capacity`` UXsim's
        ``Node.adjust_node_capacity``: the mean of the largest entering and the largest leaving link capacity
        (an intersection of two major and two minor roads passes what a major road does)."""
        if node in self.node_capacity:
            return self.node_capacity[node]
        cap_in = [lk.capacity() for lk in self.links if lk.end == node]
        cap_out = [lk.capacity() for lk in self.links if lk.start == node]
        if not self.adjust_node_capacity or not cap_in or not cap_out:
            return None
        return (max(cap_in) + max(cap_out)) / 2.0

    def network(self) -> RoadNetwork:
        names = list(self.nodes)
        idx = {n: i for i, n in enumerate(names)}
        specs = [
            (idx[lk.start], idx[lk.end], lk.length, lk.lanes, lk.u * 3.6, lk.capacity() * 3600.0)
            for lk in self.links
        ]
        net = make_network(
            [self.nodes[n] for n in names],
            specs,
            signalised=[idx[n] for n in self.signals],
            storage_veh=[lk.kappa * lk.length * lk.lanes for lk in self.links],
        )
        links = net.links.copy()
        exit_cap = np.full(len(self.links), np.nan)
        for i, lk in enumerate(self.links):
            if lk.capacity_out is not None:
                exit_cap[i] = lk.capacity_out * 3600.0
        links["exit_capacity_vph"] = exit_cap
        links["merge_priority"] = [lk.merge_priority for lk in self.links]
        links["backward_wave_speed_kph"] = [lk.w * 3.6 for lk in self.links]
        nodes = net.nodes.copy()
        node_cap = [self.flow_capacity(n) for n in names]
        nodes["flow_capacity_vph"] = [np.nan if c is None else c * 3600.0 for c in node_cap]
        # UXsim starts phase 0 at t = 0 at every signal; its plans are the engine's given plans
        nodes["signal_offset_s"] = np.where(nodes["signalised"].to_numpy(dtype=bool), 0.0, np.nan)
        nodes["signal_phases_s"] = [
            ";".join(f"{d:g}" for d in self.signals[n]) if n in self.signals else None for n in names
        ]
        links["signal_group"] = [
            ";".join(map(str, lk.group)) if lk.end in self.signals else None for lk in self.links
        ]
        return dataclasses.replace(net, links=links, nodes=nodes)

    def trips(self) -> pd.DataFrame:
        idx = {n: i for i, n in enumerate(self.nodes)}
        rows: list[pd.DataFrame] = []
        dt = self.deltan * TAU_S  # UXsim's time step
        for orig, dest, t0, t1, flow in self.demand:
            # UXsim's adddemand: demand accumulates per time step; a platoon of deltan leaves when it is complete
            dep: list[float] = []
            f = 0.0
            for step in range(int(t0 / dt), int(t1 / dt)):
                f += flow * dt
                while f >= self.deltan:
                    dep += [step * dt] * self.deltan
                    f -= self.deltan
            rows.append(pd.DataFrame({"origin": idx[orig], "destination": idx[dest], "depart_s": dep}))
        out = pd.concat(rows, ignore_index=True).sort_values("depart_s", kind="stable").reset_index(drop=True)
        out.insert(0, "trip", np.arange(len(out)))
        out.insert(1, "period", "uxsim")
        return out

    def run(self) -> Result:
        net = self.network()
        period = Period("uxsim", 0.0, self.tmax, 1.0, 1.0)
        rec = simulate(
            net,
            self.trips(),
            None,
            rng=np.random.default_rng(0),
            periods=(period,),
            reroute_passes=0,
            platoon_size=self.deltan,
            settings=EXACT,
            drain_s=0.0,
            link_events=True,
        )
        return Result(self, rec)


@dataclass
class Result:
    """UXsim's analyzer measures from one vision_zero run."""

    world: World
    record: TrafficRecord

    # --- trip level (basic_analysis) ---
    @property
    def trip_all(self) -> int:
        return len(self.record.trips)

    @property
    def trip_completed(self) -> int:
        return int(self.record.trips["completed"].sum())

    @property
    def total_travel_time(self) -> float:
        t = self.record.trips
        return float(t.loc[t["completed"], "travel_time_s"].sum())

    @property
    def average_travel_time(self) -> float:
        return self.total_travel_time / self.trip_completed

    @property
    def average_delay(self) -> float:
        t = self.record.trips[self.record.trips["completed"]]
        return float((t["travel_time_s"] - t["free_flow_time_s"]).mean())

    def od_average_travel_time(self) -> dict[tuple[str, str], float]:
        """Per OD pair (node names), the average travel time of its completed trips (UXsim's ``od_to_pandas``)."""
        names = list(self.world.nodes)
        t = self.record.trips[self.record.trips["completed"]]
        mean = t.groupby(["origin", "destination"])["travel_time_s"].mean()
        return {(names[int(o)], names[int(d)]): float(v) for (o, d), v in mean.items()}

    # --- per link ---
    def link(self, name: str) -> LinkCurves:
        i = next(k for k, lk in enumerate(self.world.links) if lk.name == name)
        ev = self.record.link_events
        assert ev is not None
        e = ev[ev["link"] == i]
        e = e.loc[e.index.repeat(e["size_veh"])]  # a platoon is ``size_veh`` vehicles
        lk = self.world.links[i]
        return LinkCurves(
            lk,
            np.sort(e["enter_s"].to_numpy(dtype=np.float64)),
            np.sort(np.nan_to_num(e["exit_s"].to_numpy(dtype=np.float64), nan=np.inf)),
            e["exit_s"].to_numpy(dtype=np.float64) - e["enter_s"].to_numpy(dtype=np.float64),
            lk.w,  # the link's own wave speed, as the engine runs it (its column backward_wave_speed_kph)
            self.world.tmax,
            e["enter_s"].to_numpy(dtype=np.float64),
            self.world.deltan * TAU_S,
        )


@dataclass
class LinkCurves:
    """A link's cumulative curves and the quantities UXsim derives from them."""

    spec: Link
    enter_s: FloatArray  # sorted
    exit_s: FloatArray  # sorted, inf = not left
    travel_s: FloatArray  # per vehicle (NaN: still on the link)
    w: float
    tmax: float
    vehicle_enter_s: FloatArray  # per vehicle, in the order of travel_s
    dt: float  # UXsim's time step (deltan x tau)

    def arrival_count(self, t: float | FloatArray) -> FloatArray:
        return np.searchsorted(self.enter_s, t, side="right").astype(np.float64)

    def departure_count(self, t: float | FloatArray) -> FloatArray:
        return np.searchsorted(self.exit_s, t, side="right").astype(np.float64)

    def actual_travel_time(self, t: float) -> float:
        """Time in the link of the vehicle that entered at ``t`` (horizontal distance of the cumulative curves)."""
        n = int(self.arrival_count(t))
        if n == 0 or n > len(self.exit_s) or not np.isfinite(self.exit_s[n - 1]):
            return self.spec.length / self.spec.u
        return max(float(self.exit_s[n - 1]) - t, self.spec.length / self.spec.u)

    @property
    def volume(self) -> int:
        return int(np.isfinite(self.exit_s).sum())

    @property
    def average_travel_time(self) -> float:
        tt = self.travel_s[np.isfinite(self.travel_s)]
        return float(tt.mean()) if tt.size else -1.0

    def time_average_travel_time(self) -> float:
        """UXsim's link ``average_travel_time`` (``link_analysis_coarse``): a mean over time steps, not vehicles.

        UXsim keeps per time step ``traveltime_actual``, the free-flow time at first; a vehicle leaving the link
        writes its own time on the link into every step from its entry's on, so step ``k`` ends up with the time of
        the last vehicle that entered before step ``k + 1`` and has left (the last one's time holds to the end).
        -1 where no vehicle left the link, as UXsim's.
        """
        if not np.isfinite(self.travel_s).any():
            return -1.0
        order = np.argsort(self.vehicle_enter_s, kind="stable")
        enter, travel = self.vehicle_enter_s[order], self.travel_s[order]
        left = np.isfinite(travel)
        enter, travel = enter[left], travel[left]
        steps = np.arange(int(self.tmax / self.dt))
        last = np.searchsorted(enter, (steps + 1) * self.dt, side="left") - 1
        free = self.spec.length / self.spec.u
        return float(np.mean(np.where(last >= 0, travel[np.maximum(last, 0)], free)))

    def count(self, x: FloatArray, t: FloatArray) -> FloatArray:
        """Newell's ``N(x, t)``: vehicles past position ``x`` by time ``t``."""
        lk = self.spec
        up = self.arrival_count(t - x / lk.u)
        down = self.departure_count(t - (lk.length - x) / self.w) + lk.kappa * lk.lanes * (lk.length - x)
        return np.minimum(up, down)

    def edie(self, samples: int = 24) -> tuple[FloatArray, FloatArray, FloatArray]:
        """UXsim's ``q_mat``, ``k_mat``, ``v_mat`` (time x space cells of 120 s x length / 10)."""
        lk = self.spec
        dx = lk.length / 10.0
        nt, nx = int(self.tmax / EDIE_DT_S), 10
        q = np.zeros((nt, nx))
        k = np.zeros((nt, nx))
        fx = (np.arange(samples) + 0.5) / samples
        for i in range(nt):
            t1, t2 = i * EDIE_DT_S, (i + 1) * EDIE_DT_S
            ts = t1 + fx * EDIE_DT_S
            for j in range(nx):
                x1, x2 = j * dx, (j + 1) * dx
                xs = x1 + fx * dx
                q[i, j] = np.mean(self.count(xs, np.full(samples, t2)) - self.count(xs, np.full(samples, t1)))
                q[i, j] /= EDIE_DT_S
                k[i, j] = np.mean(self.count(np.full(samples, x1), ts) - self.count(np.full(samples, x2), ts))
                k[i, j] /= dx
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(k > 1e-9, q / k, lk.u)
        return q, k, v


def chain(
    links: Sequence[Link], tmax: float, demand: Sequence[tuple[float, float, float]], **node_kw: object
) -> World:
    """A straight road of ``links`` (each ending where the next starts) with demand from its start to its end."""
    w = World(tmax=tmax)
    names = [links[0].start] + [lk.end for lk in links]
    for k, n in enumerate(names):
        w.add_node(n, float(k), 0.0, **node_kw.get(n, {}))  # type: ignore[arg-type]
    for lk in links:
        w.add_link(lk)
    for t0, t1, flow in demand:
        w.add_demand(names[0], names[-1], t0, t1, flow)
    return w
