"""How much of the spread of KSI avoided is the risk stage's parameter draws: K inner draws on each pair's traffic.

Run by hand from the repository, after a comparison's replications are stored (``vision-zero run`` or ``compare``,
e.g. ``vision-zero run scenarios/vision-zero-package.toml -n 3 --set demand.scale=1.0 --out /tmp/runs``)::

    nice python benchmarks/bench_nested.py scenarios/baseline.toml scenarios/vision-zero-package.toml \\
        --set demand.scale=1.0 -n 3 --results /tmp/runs --draws 40 --save /tmp/nested.csv

(``--run-dirs`` names the run folders directly, one per scenario, the baseline's first: a run folder's id has the
code's fingerprint, as in ``bench_sensitivity.py``, whose loading this reuses.)

Each replication draws all its parameters at once (:meth:`vision_zero.core.parameters.ParameterSet.draw`,
independent per parameter). This keeps each pair's traffic (its stored tables) and the parameters that made it
(:attr:`vision_zero.runs.sensitivity.ScenarioTraffic.traffic_parameters`: the interventions' bindings and what
``TrafficSettings`` / ``RouteChoiceSettings`` read, every ``traffic.*`` and ``demand.*``) at the replication's own
draw, and re-draws every other parameter K times (the same K draws for the baseline and the variant), then runs
what :func:`vision_zero.runs.pipeline.run_replication` runs after the traffic, on the stored traffic
(:class:`vision_zero.runs.sensitivity.RiskRerun`): the road-user models with the CMFs, the baseline's calibration
to the city's totals of that draw (scaled by its veh-km), the variant with the baseline's factors. Draw 0 of each
pair is the replication's own draw; it must reproduce the stored KSI of that draw (draw 0 of the replication's
risk draws: the stored ``ksi`` is the mean over its ``[simulation] risk_draws``; printed as a check).

Printed: per pair, KSI avoided at the own draw and the mean and SD over the K fresh draws; a one-way random-effects
ANOVA (within a pair: the post-traffic parameters; between the pairs' means: the traffic and what made it); and,
for a nested design (each traffic pair evaluated with M inner draws, value = mean over them, intervals over the
traffic pairs by Student t as :func:`vision_zero.core.intervals.replications_needed`), the traffic pairs needed for
±20% at several M. ``--total-sd`` adds the same table with the traffic part taken as ``total² − within`` from a
larger set of pairs' SD of KSI avoided (one draw each, as the pipeline runs). CPU seconds of the re-runs, per
scenario and draw, and the load are printed. No traffic is simulated; the model is not changed.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_sensitivity, also when imported by a test
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's vision_zero first

from bench_sensitivity import _traffic, stored_runs_parser

from vision_zero.core.parameters import ParameterSet
from vision_zero.core.process import own_process, release_free_memory
from vision_zero.risk.crash_model import calibration_factors
from vision_zero.runs.pipeline import calibration_targets
from vision_zero.runs.results import ReplicationResult
from vision_zero.runs.risk_draws import totals_of_draw
from vision_zero.runs.sensitivity import ScenarioTraffic, _ksi, _raw_frame


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def own_ksi(rep: ReplicationResult) -> float:
    """KSI per year of a replication at its own parameter draw: draw 0 of its risk draws (the stored ``ksi`` is
    their mean, :mod:`vision_zero.runs.risk_draws`), or its ``ksi`` when it kept none (older versions)."""
    if rep.risk_draws is None:
        return rep.summary["ksi"]
    return totals_of_draw(rep.risk_draws, 0)["ksi"]


def inner_draws(
    parameters: ParameterSet, own: dict[str, float], fixed: set[str], k: int, seed: int, pair: int
) -> list[dict[str, float]]:
    """The replication's own draw, then ``k`` fresh draws with the parameters of ``fixed`` at their own values."""
    out = [dict(own)]
    for j in range(k):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(pair, j)))
        d = parameters.draw(rng)
        d.update({n: own[n] for n in fixed if n in own})
        out.append(d)
    return out


def _raw(
    traffic: ScenarioTraffic, rep: ReplicationResult, draws: list[dict[str, float]]
) -> tuple[list, float, float]:
    """Uncalibrated totals of one scenario replication at each draw; CPU-s of the first call (with the set-up) and
    of each further one (mean)."""
    t0 = time.process_time()
    rerun = traffic.rerun(rep)
    if rerun is None:
        raise SystemExit(f"{traffic.applied.name} replication {rep.replication}: no traffic tables kept")
    totals = [rerun.raw_totals(draws[0])]
    t1 = time.process_time()
    totals += [rerun.raw_totals(d) for d in draws[1:]]
    t2 = time.process_time()
    del rerun
    release_free_memory()
    return totals, t1 - t0, (t2 - t1) / max(1, len(draws) - 1)


def baseline_factors(
    baseline: ScenarioTraffic, base: ReplicationResult, draws: list[dict[str, float]], raw_b: list
) -> list[dict[str, float]]:
    """The baseline replication's calibration factors at each draw (its city totals of that draw, scaled by its
    veh-km), as the pipeline calibrates a baseline's risk draws; a variant's draw j uses factor j."""
    return [
        calibration_factors(
            _raw_frame(rb),
            calibration_targets(
                baseline.applied.scenario,
                baseline.applied.parameters,
                d,
                veh_km=base.summary["veh_km"],
                crash_records=baseline.crash_records,
            ),
        )
        for d, rb in zip(draws, raw_b, strict=True)
    ]


def pair_values(
    baseline: ScenarioTraffic,
    variants: list[ScenarioTraffic],
    index: int,
    k: int,
    seed: int,
    fixed: set[str],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Rows (variant, draw, ksi_baseline, ksi_variant, avoided; draw 0 = own) of pair ``index``; CPU-s figures."""
    base = {r.replication: r for r in baseline.replications}[index]
    reps = [{r.replication: r for r in v.replications}[index] for v in variants]
    own = dict(base.parameters)
    for rep in reps:
        clash = sorted(n for n in own.keys() & dict(rep.parameters).keys() if own[n] != rep.parameters[n])
        if clash:
            raise SystemExit(f"pair {index}: {rep.scenario} drew differently from the baseline: {clash[:5]}")
        own.update(rep.parameters)
    params = ParameterSet(
        {k: p for t in (baseline, *variants) for k, p in t.applied.parameters.parameters.items()}
    )
    draws = inner_draws(params, own, fixed, k, seed, index)
    raw_b, setup, per = _raw(baseline, base, draws)
    t0 = time.process_time()
    factors = baseline_factors(baseline, base, draws, raw_b)
    ksi_b = [_ksi(rb, f) for rb, f in zip(raw_b, factors, strict=True)]
    cal = (time.process_time() - t0) / len(draws)
    print(
        f"pair {index}: baseline own draw re-run KSI {ksi_b[0]:.4f} (stored own draw {own_ksi(base):.4f}); "
        f"CPU-s set-up {setup:.1f}, per draw {per:.2f} + calibration {cal:.3f}; load {loadavg()}",
        flush=True,
    )
    cost = {"baseline_setup": setup, "baseline_per_draw": per + cal}
    rows = []
    for v, rep in zip(variants, reps, strict=True):
        raw_v, setup_v, per_v = _raw(v, rep, draws)
        name = v.applied.name
        cost[f"{name}_setup"], cost[f"{name}_per_draw"] = setup_v, per_v
        part = pd.DataFrame(
            {
                "variant": name,
                "pair": index,
                "draw": range(len(draws)),
                "ksi_baseline": ksi_b,
                "ksi_variant": [_ksi(rv, f) for rv, f in zip(raw_v, factors, strict=True)],
            }
        )
        part["avoided"] = part["ksi_baseline"] - part["ksi_variant"]
        fresh = part["avoided"][1:]
        print(
            f"  {name}: own draw re-run KSI {part.ksi_variant[0]:.4f} (stored own draw {own_ksi(rep):.4f}); "
            f"avoided {part.avoided[0]:.3f}; over {k} draws mean {fresh.mean():.3f} SD {fresh.std(ddof=1):.3f}; "
            f"CPU-s set-up {setup_v:.1f}, per draw {per_v:.2f}; load {loadavg()}",
            flush=True,
        )
        rows.append(part)
    return pd.concat(rows, ignore_index=True), cost


def pairs_needed(mean: float, sd: float, relative: float = 0.2, level: float = 0.95, cap: int = 1000) -> int:
    """The rule of :func:`vision_zero.core.intervals.replications_needed` for a known mean and SD (at least 3)."""
    if sd == 0.0:
        return 3
    target, tail = relative * abs(mean), (1.0 - level) / 2.0
    n = max(3, math.ceil(float(stats.norm.ppf(1.0 - tail) * sd / target) ** 2))
    while n < cap and float(stats.t.ppf(1.0 - tail, n - 1)) * sd / math.sqrt(n) >= target:
        n += 1
    return n


def anova(frame: pd.DataFrame) -> dict[str, float]:
    """One-way random effects over the fresh draws (draw > 0): within-pair and between-pair variance components."""
    fresh = frame[frame["draw"] > 0]
    groups = fresh.groupby("pair")["avoided"]
    k = float(groups.size().mean())
    means = groups.mean()
    within = float(groups.var(ddof=1).mean())  # balanced: the pooled within mean square
    between_means = float(means.var(ddof=1)) if len(means) > 1 else math.nan
    traffic = between_means - within / k  # (MSB - MSW) / K
    return {
        "pairs": float(len(means)),
        "k": k,
        "mean": float(fresh["avoided"].mean()),
        "within_var": within,
        "means_var": between_means,
        "traffic_var": traffic,
        "F": k * between_means / within if within > 0 else math.nan,
    }


def design_table(
    mean: float, traffic_var: float, within_var: float, ms: list[int], cost: dict[str, float]
) -> None:
    t = max(traffic_var, 0.0)
    print(f"  {'M':>4} {'SD of a pair value':>19} {'pairs for ±20%':>15} {'extra risk CPU-s per pair':>26}")
    for m in ms:
        sd = math.sqrt(t + within_var / m)
        extra = (m - 1) * cost["per_draw"]  # draw 1 is the risk stage every replication runs now
        print(f"  {m:>4} {sd:>19.2f} {pairs_needed(mean, sd):>15d} {extra:>26.1f}")
    print(f"  {'inf':>4} {math.sqrt(t):>19.2f} {pairs_needed(mean, math.sqrt(t)) if t > 0 else 3:>15d}")


def _parser() -> argparse.ArgumentParser:
    ap = stored_runs_parser(__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=40, help="fresh inner draws per pair (K)")
    ap.add_argument("--seed", type=int, default=20261202, help="seed of the inner draws")
    ap.add_argument("--m", type=int, nargs="+", default=[1, 8, 32], help="inner draws per pair of the design")
    ap.add_argument(
        "--total-sd",
        nargs=2,
        action="append",
        default=[],
        metavar=("VARIANT", "SD"),
        help="SD of the variant's KSI avoided over more pairs (one draw each): a second traffic estimate",
    )
    ap.add_argument("--save", type=Path, default=None, help="write every pair's and draw's KSI here (CSV)")
    return ap


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    own_process()
    print(f"load at start: {loadavg()}", flush=True)
    traffic, _ = _traffic(args)
    baseline, variants = traffic[0], traffic[1:]
    fixed = set().union(*(t.traffic_parameters for t in traffic))
    indices = sorted(set.intersection(*({r.replication for r in t.replications} for t in traffic)))
    drawn = {n for t in traffic for n, p in t.applied.parameters.items() if p.drawn}
    print(
        f"{len(drawn)} drawn parameters: {len(drawn & fixed)} kept at each replication's draw (traffic inputs):"
    )
    print("  " + ", ".join(sorted(drawn & fixed)), flush=True)
    frames, costs = [], []
    t0 = time.process_time()
    for i in indices:
        frame, cost = pair_values(baseline, variants, i, args.draws, args.seed, fixed)
        frames.append(frame)
        costs.append(cost)
    print(f"re-runs: {time.process_time() - t0:.1f} CPU-s; load {loadavg()}")
    frame = pd.concat(frames, ignore_index=True)
    if args.save is not None:
        frame.to_csv(args.save, index=False)
    total_sd = {name: float(sd) for name, sd in args.total_sd}
    for v in variants:
        name = v.applied.name
        cost = {
            part: float(np.mean([c[f"baseline_{part}"] + c[f"{name}_{part}"] for c in costs]))
            for part in ("setup", "per_draw")
        }
        sub = frame[frame["variant"] == name]
        a = anova(sub)
        own = sub[sub["draw"] == 0]["avoided"]
        print(
            f"\n{name}: KSI avoided, own draws: {', '.join(f'{x:.2f}' for x in own)} (SD {own.std(ddof=1):.2f})\n"
            f"fresh draws: {int(a['pairs'])} pairs x {int(a['k'])}; mean {a['mean']:.2f}; within-pair SD "
            f"{math.sqrt(a['within_var']):.2f}; SD of pair means {math.sqrt(a['means_var']):.2f}; traffic SD "
            f"{math.sqrt(max(a['traffic_var'], 0.0)):.2f} (variance {a['traffic_var']:.1f}); F = {a['F']:.1f} "
            f"on {int(a['pairs']) - 1}, {int(a['pairs'] * (a['k'] - 1))} df; within share of one draw's "
            f"variance {a['within_var'] / (max(a['traffic_var'], 0.0) + a['within_var']):.0%}"
        )
        print(
            f"nested design, traffic part from these pairs' means (risk CPU-s per pair, baseline + {name}: "
            f"set-up {cost['setup']:.1f}, per extra draw {cost['per_draw']:.2f}):"
        )
        design_table(a["mean"], a["traffic_var"], a["within_var"], args.m, cost)
        if name in total_sd:
            tv = total_sd[name] ** 2 - a["within_var"]
            print(f"nested design, traffic part = {total_sd[name]}² − within = {tv:.1f}:")
            design_table(a["mean"], tv, a["within_var"], args.m, cost)


if __name__ == "__main__":
    main()
