"""Latin hypercube against independent inner draws: how much a pair's value varies over its risk draws.

Run by hand from the repository on a comparison's stored replications (as ``bench_nested.py``; ``--run-dirs`` names
the run folders, the baseline's first)::

    nice python benchmarks/bench_lhs.py scenarios/baseline.toml scenarios/arterials-80-to-60.toml \\
        scenarios/vision-zero-package.toml --set demand.scale=1.0 -n 1 --run-dirs <baseline> <variants...> \\
        --designs 12 --pair 0 --save /tmp/lhs.csv

For one stored pair it keeps the traffic and the traffic inputs at the replication's own draw and, ``--designs``
times, draws a fresh "own" value of every other drawn parameter, then M − 1 = 7 more draws two ways: independent
joint draws (:meth:`~vision_zero.core.parameters.ParameterSet.draw`, the pipeline's inner draws before the hypercube)
and the pipeline's :func:`vision_zero.runs.risk_draws.inner_draws` (a Latin hypercube with the own draw). Each
design's value is the mean of KSI avoided over its M = 8 draws, computed as the pipeline does after the traffic
(:class:`vision_zero.runs.sensitivity.RiskRerun`, the baseline calibrated per draw, each variant with the baseline's
factors). Printed: per design and method the values; per variant the mean and SD over the designs and the variance
ratio (hypercube / independent). Both methods share each design's own draw. The model is not changed; nothing is
simulated.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_nested import _parser, baseline_factors, loadavg
from bench_sensitivity import _traffic

from vision_zero.core.parameters import ParameterSet
from vision_zero.core.process import own_process
from vision_zero.runs.risk_draws import inner_draws
from vision_zero.runs.sensitivity import _ksi

M = 8


def main() -> None:
    ap = _parser()
    ap.add_argument("--designs", type=int, default=12)
    ap.add_argument("--pair", type=int, default=0)
    ap.add_argument("--design-seed", type=int, default=778)
    args = ap.parse_args()
    own_process()
    print(f"load at start: {loadavg()}", flush=True)
    traffic, _ = _traffic(args)
    baseline, variants = traffic[0], traffic[1:]
    fixed = set().union(*(t.traffic_parameters for t in traffic))
    base = {r.replication: r for r in baseline.replications}[args.pair]
    reps = [{r.replication: r for r in v.replications}[args.pair] for v in variants]
    own: dict[str, float] = dict(base.parameters)
    for rep in reps:
        own.update(rep.parameters)
    params = ParameterSet({k: p for t in traffic for k, p in t.applied.parameters.parameters.items()})
    free = {n for n in params if params[n].drawn and n not in fixed}
    kept = set(params) - free
    print(f"{len(free)} drawn parameters drawn again, {len(kept)} kept", flush=True)
    t0 = time.process_time()
    reruns = [t.rerun(r) for t, r in zip(traffic, [base, *reps], strict=True)]

    def value(draws: list[dict[str, float]]) -> dict[str, float]:
        raw = [[rr.raw_totals(d) for d in draws] for rr in reruns]  # type: ignore[union-attr]
        factors = baseline_factors(baseline, base, draws, raw[0])
        kb = np.array([_ksi(rb, f) for rb, f in zip(raw[0], factors, strict=True)])
        return {
            v.applied.name: float(
                np.mean(kb - np.array([_ksi(rv, f) for rv, f in zip(raw[i + 1], factors, strict=True)]))
            )
            for i, v in enumerate(variants)
        }

    rows = []
    for r in range(args.designs):
        fresh = params.draw(np.random.default_rng(np.random.SeedSequence(args.design_seed, spawn_key=(r,))))
        own_r = {n: (fresh[n] if n in free else own[n]) for n in params}
        rng = np.random.default_rng(np.random.SeedSequence(777, spawn_key=(r, 0)))
        independent = [own_r] + [{**params.draw(rng), **{n: own_r[n] for n in kept}} for _ in range(M - 1)]
        hypercube = inner_draws(
            params, own_r, np.random.default_rng(np.random.SeedSequence(777, spawn_key=(r, 1))), M, kept
        )
        for method, draws in (("independent", independent), ("hypercube", hypercube)):
            rows.append({"design": r, "method": method, **value(list(draws))})  # type: ignore[arg-type]
            print(rows[-1], f"{time.process_time() - t0:.0f} CPU-s; load {loadavg()}", flush=True)
    frame = pd.DataFrame(rows)
    if args.save is not None:
        frame.to_csv(args.save, index=False)
    for v in variants:
        name = v.applied.name
        g = frame.groupby("method")[name].agg(["mean", "std"])
        ratio = (g.loc["hypercube", "std"] / g.loc["independent", "std"]) ** 2
        print(
            f"{name}: independent mean {g.loc['independent', 'mean']:.2f} SD {g.loc['independent', 'std']:.2f}; "
            f"hypercube mean {g.loc['hypercube', 'mean']:.2f} SD {g.loc['hypercube', 'std']:.2f}; "
            f"variance ratio {ratio:.3f} over {args.designs} designs"
        )


if __name__ == "__main__":
    main()
