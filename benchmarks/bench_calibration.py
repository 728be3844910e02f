"""A calibrated baseline's demand and peak: trips/day, mean trip length, congestion index, arrivals, CPU-s.

Runs what ``vision-zero run`` runs before its replications when a scenario says ``[demand]
congestion_index_target`` (:func:`vision_zero.runs.pipeline.prepare`: the gravity model, the default daily trips,
then :func:`vision_zero.runs.pipeline.calibrate_peak`), on the un-intervened network, and prints:

* the default demand: daily trips (and where it comes from), mean trip length straight-line (exact over the
  gravity model's trip matrix) and routed (a fixed sample routed at the speed limits), Almaty's targets;
* every calibration simulation as it ends (demand factor, replication, trips, congestion index, share arrived,
  CPU-s) and the calibration's steps (each the mean of its replications);
* the calibrated state: factor, daily trips and peak share as a run uses them, peak-hour trips, index against the target range, share arrived,
  whether the calibration reached its target, CPU-s, peak memory and ``/proc/loadavg`` before and after.

The first step is the default demand (factor 1, unless the bounds exclude it), so one run also measures it.

    nice python benchmarks/bench_calibration.py                            # full schematic city, "almaty"
    nice python benchmarks/bench_calibration.py --network "schematic:almaty?scale=district&seed=0"
    nice python benchmarks/bench_calibration.py --scenario scenarios/helsinki/baseline.toml
    nice python benchmarks/bench_calibration.py --diagnose 0.856   # one simulation at x0.856: where the delay is
    nice python benchmarks/bench_calibration.py --reroute-passes 8  # [simulation] reroute_passes = 8

``--diagnose FACTOR`` runs instead one simulation of the calibration's first replication (seed 0, replication 0,
central parameters) at that demand factor and prints where the peak's excess time is spent: the links with the
most delay (veh-h over the same veh-km at the congestion index's free-flow link times, which include
Webster's uniform signal delay), the share of all delay on the top 10 and 100,
delay by road class and by the control at the link's end (signal, boundary, other), and the not-arrived trips.

A full-city step is two AM-peak simulations of ~150 k trips (about 2 x 110 CPU-s on a quiet machine; up to four
at a step near the target, where two cannot tell whether it is within 3%): say the load with any figure you quote.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vision_zero.program.scenario import Scenario, load_scenario
from vision_zero.runs import pipeline
from vision_zero.traffic import demand, pedestrians, trip_distribution


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def scenario_for(network: str, target: str, reroute_passes: int | None = None) -> Scenario:
    """A baseline scenario on ``network`` asking for ``target`` (a name in traffic.toml or a number).

    ``reroute_passes``: its ``[simulation] reroute_passes`` (default: the parameters' ``max_iterations``).
    """
    value = target if not target.replace(".", "", 1).isdigit() else float(target)
    text = (
        'name = "calibration-benchmark"\ndescription = "bench_calibration.py: the baseline of the network, calibrated"\n'
        f"[network]\nsource = {json.dumps(network)}\n"
        f"[demand]\ncongestion_index_target = {json.dumps(value)}\n"
    )
    if reroute_passes is not None:
        text += f"[simulation]\nreroute_passes = {reroute_passes}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "baseline.toml"
        path.write_text(text)
        return load_scenario(path)


def run(scenario: Scenario) -> dict[str, Any]:
    start_load = loadavg()
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    base = pipeline.load_base_network(scenario)
    params = pipeline.apply_scenario(scenario, network=base).parameters
    periods = demand.default_periods(params)
    commute = demand.commute_share_of_day(periods, params)
    if scenario.trip_distribution.mean_trip_length_km is not None:
        dist = trip_distribution.calibrate_to_trip_length(
            base, scenario.trip_distribution.mean_trip_length_km, params, commute_share=commute
        )
    else:
        dist = trip_distribution.trip_distribution(base, params)
    crow_km = dist.mean_distance_km(commute_share=commute)
    routed_km, circuity = trip_distribution.mean_trip_length_km(base, dist, commute_share=commute)
    default_daily = demand.default_daily_trips(base, params, distribution=dist)
    daily = scenario.demand.daily_trips or default_daily
    bounds = pipeline.peak_factor_bounds(scenario, base, params)
    cpu_demand = time.process_time() - cpu0
    am = next(p for p in periods if p.name == "am_peak")
    print(
        f"{base.source}: {len(base.links):,} links, {len(base.nodes):,} nodes, "
        f"{int(dist.external.sum())} external zones, through share {dist.through_share:.3f}"
    )
    print(
        f"default demand: {default_daily:,.0f} trips/day ({am.demand_share:.1%} in the AM peak hour: "
        f"{default_daily * am.demand_share:,.0f}); mean trip {crow_km:.2f} km straight-line, {routed_km:.2f} km "
        f"routed (circuity {circuity:.2f}); {cpu_demand:.1f} CPU-s"
    )
    print(f"calibration bounds x{bounds[0]:.3f}-x{bounds[1]:.3f}; load {start_load}")

    original = demand.congestion_index
    sims: list[dict[str, Any]] = []
    last = [time.process_time()]

    @functools.wraps(original)
    def logged(network: Any, trips: pd.DataFrame, *args: Any, **kwargs: Any) -> float:
        ci = original(network, trips, *args, **kwargs)
        done = trips["completed"].to_numpy(dtype=bool)
        routed = trips["routed"].to_numpy(dtype=bool) if "routed" in trips else np.ones(len(trips), bool)
        now = time.process_time()
        row = {
            "trips": len(trips),
            "index": round(ci, 4),
            "arrived": round(float(done[routed].mean()), 4) if routed.any() else 1.0,
            "cpu_s": round(now - last[0], 1),
            "load": loadavg(),
        }
        last[0] = now
        sims.append(row)
        print(
            f"  simulation {len(sims)}: {row['trips']:,} trips, index {ci:.3f}, {row['arrived']:.1%} arrived, "
            f"{row['cpu_s']:.1f} CPU-s (load {row['load']})",
            flush=True,
        )
        return ci

    demand.congestion_index = logged  # type: ignore[assignment]
    try:
        peak = pipeline.calibrate_peak(scenario, base, params, dist, daily)
    finally:
        demand.congestion_index = original  # type: ignore[assignment]
    given = scenario.demand.congestion_index_target
    target_p = params[f"demand.congestion_index.{given}"] if isinstance(given, str) else None
    lo_ci = target_p.low if target_p is not None and target_p.low is not None else peak.target
    hi_ci = target_p.high if target_p is not None and target_p.high is not None else peak.target
    trips_p = params["demand.almaty.trips_per_day"]
    length_p = params["demand.almaty.mean_trip_length_km"]
    share_p = params["demand.share_per_hour.peak"]
    peak_trips = peak.daily_trips * am.demand_share
    # as a run prepares it: within SCIENCE.md §10's bounds the day's trips take the factor within their range and
    # the peak hours' share the rest (runs.pipeline.split_peak_factor); elsewhere the day takes all of it
    narrow = peak.published_bounds
    day_f, share_f = pipeline.split_peak_factor(peak.factor, params) if narrow else (peak.factor, 1.0)
    run_daily = peak.daily_trips / peak.factor * day_f
    return {
        "network": base.source,
        "links": len(base.links),
        "full_city": bool(base.area_share is not None and base.area_share >= 1.0),
        "default_daily_trips": round(default_daily),
        "mean_trip_crow_fly_km": round(crow_km, 3),
        "mean_trip_routed_km": round(routed_km, 3),
        "circuity": round(circuity, 3),
        "almaty_trips_per_day": [trips_p.low, trips_p.value, trips_p.high],
        "almaty_mean_trip_length_km": [length_p.low, length_p.value, length_p.high],
        "target": given,
        "target_index": [lo_ci, peak.target, hi_ci],
        "bounds": [round(b, 4) for b in peak.bounds],
        "steps": [[round(f, 4), round(c, 4), round(d, 4)] for f, c, d in peak.steps],
        "simulations": sims,
        "factor": round(peak.factor, 4),
        "daily_trips": round(run_daily),
        "peak_share": round(share_p.value * share_f, 4),
        "peak_hour_trips": round(peak_trips),
        "almaty_peak_share": [share_p.low, share_p.value, share_p.high],
        "congestion_index": round(peak.congestion_index, 4),
        "congestion_index_se": round(peak.index_se, 4),
        "replications": peak.replications,
        "tolerance": round(peak.tolerance, 4),
        "arrived": round(peak.completed_share, 4),
        "reached": peak.reached,
        "index_in_range": bool(lo_ci <= round(peak.congestion_index, 2) <= hi_ci),
        "cpu_s": round(time.process_time() - cpu0, 1),
        "wall_s": round(time.perf_counter() - wall0, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "loadavg_start": start_load,
        "loadavg_end": loadavg(),
    }


def diagnose(scenario: Scenario, factor: float, top: int = 15) -> None:
    """One simulation as the calibration's first replication at ``factor``: where the excess time is."""
    from vision_zero.core.seeding import replication_rngs
    from vision_zero.traffic.routing import RouteChoiceSettings
    from vision_zero.traffic.simulation import TrafficSettings, simulate

    print(f"load {loadavg()}")
    cpu0 = time.process_time()
    base = pipeline.load_base_network(scenario)
    params = pipeline.apply_scenario(scenario, network=base).parameters
    dist = trip_distribution.trip_distribution(base, params)
    daily = (
        scenario.demand.daily_trips or demand.default_daily_trips(base, params, distribution=dist)
    ) * factor
    am = tuple(p for p in demand.default_periods(params) if p.name == "am_peak")
    rngs = replication_rngs(0, 0)
    trips = demand.generate_trips(
        base, rng=rngs.demand, periods=am, daily_trips=daily, params=params, distribution=dist
    )
    settings = TrafficSettings.from_parameters(params)
    record = simulate(
        base,
        trips,
        pedestrians.pedestrian_demand(base, periods=am, params=params),
        rng=rngs.drivers,
        routing_rng=rngs.routing,
        periods=am,
        platoon_size=scenario.simulation.platoon_size,
        reroute_passes=scenario.simulation.reroute_passes,
        settings=settings,
        route_settings=RouteChoiceSettings.from_parameters(params),
    )
    t = record.trips
    done = t["completed"].to_numpy(dtype=bool)
    routed = t["routed"].to_numpy(dtype=bool)
    ci = demand.congestion_index(base, t, settings)
    print(
        f"x{factor}: {len(t):,} trips ({daily:,.0f}/day), index {ci:.3f}, {done[routed].mean():.1%} of routed "
        f"arrived ({int((routed & ~done).sum()):,} not), {time.process_time() - cpu0:.0f} CPU-s"
    )
    gaps = record.route_choice["relative_gap"].round(4).tolist()
    print(f"route choice: relative gap per simulation {gaps}")
    links = base.links.reset_index(drop=True)
    st = record.link_stats.groupby("link")[["veh_km", "veh_h", "max_queue_veh"]].agg(
        {"veh_km": "sum", "veh_h": "sum", "max_queue_veh": "max"}
    )
    st = st.reindex(range(len(links))).fillna(0.0)
    free_h = (
        st["veh_km"].to_numpy()
        / (links["length_m"].to_numpy() / 1000.0)
        * demand.free_flow_link_cost_s(base, settings)
        / 3600.0
    )
    delay = st["veh_h"].to_numpy() - free_h
    total = float(delay.sum())
    order = np.argsort(-delay)
    nodes = base.nodes
    v = links["v"].to_numpy()
    end = np.where(
        nodes["signalised"].to_numpy(dtype=bool)[v],
        "signal",
        np.where(nodes["boundary"].to_numpy(dtype=bool)[v], "boundary", "other"),
    )
    print(
        f"excess veh-h {total:,.0f} of {st['veh_h'].sum():,.0f}: top 10 links {delay[order[:10]].sum() / total:.1%}, "
        f"top 100 {delay[order[:100]].sum() / total:.1%} (of {len(links):,} links)"
    )
    frame = pd.DataFrame({"highway": links["highway"].astype(str), "end": end, "delay": delay})
    print("delay by road class:", (frame.groupby("highway")["delay"].sum() / total).round(3).to_dict())
    print(
        "delay by the control at the link's end:",
        (frame.groupby("end")["delay"].sum() / total).round(3).to_dict(),
    )
    xy = nodes[["x_m", "y_m"]].to_numpy()
    centre = xy.mean(axis=0)
    for i in order[:top]:
        u_node, v_node = int(links["u"].iloc[i]), int(v[i])
        dx, dy = (xy[v_node] - centre) / 1000.0
        print(
            f"  link {i} {u_node}->{v_node} {links['highway'].iloc[i]} {links['name'].iloc[i]!s:.30} "
            f"lanes {links['lanes'].iloc[i]} {links['speed_limit_kph'].iloc[i]:.0f} km/h, end {end[i]} at "
            f"({dx:+.1f}, {dy:+.1f}) km: delay {delay[i]:,.0f} veh-h ({delay[i] / total:.1%}), "
            f"{st['veh_km'].iloc[i]:,.0f} veh-km, max queue {st['max_queue_veh'].iloc[i]:.0f}"
        )
    late = t[routed & ~done]
    if len(late):
        o, d = late["origin"].to_numpy(), late["destination"].to_numpy()
        far = np.hypot(*(xy[o] - xy[d]).T) / 1000.0
        print(
            f"not arrived: {len(late):,}, mean straight-line {far.mean():.1f} km (all trips "
            f"{np.hypot(*(xy[t['origin'].to_numpy()] - xy[t['destination'].to_numpy()]).T).mean() / 1000.0:.1f}), "
            f"departed after {late['depart_s'].quantile(0.5):.0f} s (median)"
        )
    print(f"CPU {time.process_time() - cpu0:.1f} s; load {loadavg()}")


def print_almaty_totals(out: dict[str, Any]) -> None:
    """The full city's demand against SCIENCE.md §10: trips/day, the peak hour's share, the mean trip length."""
    share = out["peak_share"]
    lo_s, _, hi_s = out["almaty_peak_share"]
    lo_d, _, hi_d = out["almaty_trips_per_day"]
    inside = lo_d <= out["daily_trips"] <= hi_d
    print(
        f"trips/day {out['daily_trips']:,} ({'inside' if inside else 'OUTSIDE'} SCIENCE.md §10's "
        f"{lo_d:,.0f}-{hi_d:,.0f}), {share:.2%} of them in each peak hour (§10: {lo_s:.0%}-{hi_s:.0%}: "
        f"{'inside' if lo_s <= share <= hi_s else 'OUTSIDE'}): {out['peak_hour_trips']:,} AM peak-hour trips"
    )
    target = out["almaty_mean_trip_length_km"][1]
    print(
        f"mean trip {out['mean_trip_crow_fly_km']:.2f} km straight-line, {out['mean_trip_routed_km']:.2f} km routed "
        f"against Almaty's {target} km ({out['mean_trip_routed_km'] / target - 1:+.1%})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", default="schematic:almaty", help="network source (default: the full city)")
    ap.add_argument("--target", default="almaty", help="congestion_index_target: a name or a number")
    ap.add_argument("--scenario", type=Path, default=None, help="a scenario file instead (its own target)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument(
        "--diagnose", type=float, default=None, help="one simulation at this factor: where the delay is"
    )
    ap.add_argument(
        "--reroute-passes",
        type=int,
        default=None,
        help="[simulation] reroute_passes of the benchmark's scenario (default: traffic.route_choice.max_iterations)",
    )
    args = ap.parse_args()
    if args.scenario and args.reroute_passes is not None:
        raise SystemExit("--reroute-passes: set [simulation] reroute_passes in the scenario file instead")
    scenario = (
        load_scenario(args.scenario)
        if args.scenario
        else scenario_for(args.network, args.target, args.reroute_passes)
    )
    if args.diagnose is not None:
        diagnose(scenario, args.diagnose)
        return
    if scenario.demand.congestion_index_target is None:
        raise SystemExit(f"{args.scenario}: [demand] congestion_index_target is not set")
    out = run(scenario)
    print("steps (factor, index, arrived; mean of the replications):")
    for f, c, d in out["steps"]:
        print(f"  x{f:.4f}  index {c:.3f}  arrived {d:.1%}")
    lo, mid, hi = out["target_index"]
    print(
        f"calibrated: x{out['factor']:.4f} -> {out['peak_hour_trips']:,} AM peak-hour trips, "
        f"index {out['congestion_index']:.3f} (SE {out['congestion_index_se']:.3f} over {out['replications']} "
        f"replications; met within {out['tolerance']:.3f}; target {mid} in {lo}-{hi}: "
        f"{'inside' if out['index_in_range'] else 'OUTSIDE'}), {out['arrived']:.1%} arrived, "
        f"{'reached' if out['reached'] else 'NOT reached'} in {len(out['steps'])} steps"
    )
    if out["full_city"]:
        print_almaty_totals(out)
    else:
        print("not the full schematic city: Almaty's totals (SCIENCE.md §10) are not this network's")
    print(
        f"CPU {out['cpu_s']:.1f} s, wall {out['wall_s']:.1f} s, peak RSS {out['peak_rss_mib']:.0f} MiB; "
        f"loadavg start: {out['loadavg_start']} | end: {out['loadavg_end']}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
