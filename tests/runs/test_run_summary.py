"""The run's summary text and its warnings (gridlock, the peak calibration), in the report's language."""

from __future__ import annotations

from pathlib import Path

from _replication_task import PEAK_AT_BOUND, toy_job

from vision_zero.runs.parallel import SerialExecutor
from vision_zero.runs.replications import run_job
from vision_zero.runs.run_summary import format_summary
from vision_zero.traffic.simulation import STOP_REASONS


def test_summary_text_is_labelled_schematic(tmp_path: Path) -> None:
    res = run_job(toy_job(replications=2), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    text = format_summary(res)
    assert "SCHEMATIC" in text
    for word in ("deaths", "serious", "slight", "KSI avoided vs baseline"):
        assert word in text
    # 2 replications: the mean, and no interval (1 degree of freedom), as in the compare table and report
    avoided = next(line for line in text.splitlines() if "KSI avoided vs baseline" in line)
    assert "2 replications: no reliable interval, it needs 3" in avoided and "[" not in avoided


def test_summary_cuts_count_intervals_at_zero(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import RunResult

    job = toy_job(replications=3)
    base = job.baseline or job
    sums = [{"fatal": f, "serious": 10.0, "slight": 20.0 + f, "ksi": 10.0 + f} for f in (0.0, 0.0, 5.0)]
    text = format_summary(RunResult(base, tmp_path, sums))
    deaths = next(line for line in text.splitlines() if "deaths" in line)
    # mean 5/3, t-interval 5/3 ± 4.3027 x 5/3 reaches below 0: cut at 0, the upper end kept
    assert "1.67  [0.00, 8.84]" in deaths
    assert "cut at 0" in text
    plain = [{"fatal": f, "serious": 10.0, "slight": 20.0, "ksi": 10.0 + f} for f in (4.0, 5.0, 6.0)]
    assert "cut at 0" not in format_summary(RunResult(base, tmp_path, plain))
    # 2 replications: no interval is printed, so nothing was cut (the t-interval of 0, 5 would reach below 0)
    two = format_summary(RunResult(base, tmp_path, sums[1:]))
    assert "2.50  (2 replications: no reliable interval, it needs 3)" in two
    assert "cut at 0" not in two


def test_summary_states_the_relative_gap_of_route_choice(tmp_path: Path) -> None:
    res = run_job(toy_job(), out_dir=tmp_path, executor=SerialExecutor(), progress=False)
    assert "route choice" not in format_summary(res)  # the toy task's summaries carry no gap (older results)
    res.summaries = [
        {**s, "route_relative_gap": g, "route_iterations": k}
        for s, g, k in zip(res.summaries, [0.02, 0.04, 0.06], [1.0, 2.0, 2.0], strict=False)
    ]
    res.summaries = res.summaries[:3]
    assert "route choice: relative gap 4.0% (replications 2.0-6.0%) after 1-2 re-routing iteration(s)" in (
        format_summary(res)
    )
    res.summaries = [
        {**s, "route_outside_band": b} for s, b in zip(res.summaries, [0.0, 0.01, 0.02], strict=True)
    ]
    assert "re-routing iteration(s), 1.0% of trips outside their indifference band" in format_summary(res)
    assert "stopped" not in format_summary(res)  # results without the stop reason (older runs)
    stops = [("gap_target", 1.0), ("cap", 8.0), ("cap", 8.0)]
    res.summaries = [
        {**s, "route_iterations": k} | {f"route_stop_{r}": float(r == why) for r in STOP_REASONS}
        for s, (why, k) in zip(res.summaries, stops, strict=True)
    ]
    assert (
        "; stopped by the gap target in 1, at the cap of 8 re-routing iterations in 2 of 3 replication(s): "
        "NOT converged there (gap 4.0-6.0%)"
    ) in format_summary(res)
    res.summaries = [s | {"route_stop_cap": 0.0, "route_stop_plateau": 1.0} for s in res.summaries[1:]]
    assert "; stopped on a plateau of the gap in 2 of 2 replication(s)\n" in format_summary(res) + "\n"


def test_summary_states_traffic_and_warns_loudly_under_gridlock(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.run_summary import arrival_warning

    base = toy_job(replications=2).baseline or toy_job(replications=2)
    traffic = {"trips_en_route": 30.0, "congestion_index": 1.8, "stuck_moves": 4.0}
    flowing = [
        {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.97, **traffic}
    ] * 2
    text = format_summary(RunResult(base, tmp_path, flowing))
    assert "97.0% of routed trips arrived, 30 still en route" in text
    assert "congestion index (peak travel time / free-flow) 1.80; stuck moves 4" in text
    assert "WARNING" not in text and arrival_warning("x", flowing) is None
    jammed = [{**flowing[0], "share_arrived": s} for s in (0.5, 0.6)]
    text = format_summary(RunResult(base, tmp_path, jammed))
    assert f"WARNING: {base.name}: only 55% of trips arrived (threshold 95%)" in text
    # summaries written before the traffic summary existed: no line, no warning
    assert "traffic:" not in format_summary(
        RunResult(base, tmp_path, [{"fatal": 1.0, "serious": 2.0, "slight": 3.0}] * 2)
    )


def test_summary_warns_loudly_when_the_peak_calibration_stops_short_of_its_target(tmp_path: Path) -> None:
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.run_summary import calibration_warning, run_warnings

    base = toy_job(replications=2).baseline or toy_job(replications=2)
    flowing = {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.99}
    stopped = [{**flowing, **PEAK_AT_BOUND}] * 2
    text = format_summary(RunResult(base, tmp_path, stopped))
    assert (
        f"WARNING: {base.name}: the AM peak's demand calibration stopped at the upper bound of its range "
        "(x1.152 the default daily trips; range x0.855-1.152) with a congestion index of 1.15 against the "
        "target 1.70, 99% of peak trips arriving: the peak is less congested than the target"
    ) in text
    low = [
        {**s, "peak_factor": 0.855, "peak_congestion_index": 2.4, "peak_completed_share": 0.9}
        for s in stopped
    ]
    lower = calibration_warning("x", low) or ""
    assert "stopped at the lower bound" in lower and "more congested than the target" in lower
    assert "route choice" not in lower  # summaries without the route gap: nothing said about it
    # ... and why, when the calibration's route choice has not converged (the full schematic city: 1.91 at the
    # lower bound with the default re-routing passes, 1.63 with 8): said with the calibration's own gap at its
    # step, the same in every replication's summary, so one replication's warning (its summary.json) is the run's
    # whatever that replication's own route gap; not once it has converged
    unconverged_reps = [
        {**s, "peak_route_relative_gap": 0.25, "route_relative_gap": g}
        for s, g in zip(low, (0.04, 0.46), strict=True)
    ]
    unconverged = calibration_warning("x", unconverged_reps)
    assert unconverged is not None and unconverged.startswith(lower)
    assert "route choice ends at a relative gap of 25%" in unconverged and "reroute_passes" in unconverged
    assert all(calibration_warning("x", [s]) == unconverged for s in unconverged_reps)
    assert all(run_warnings("x", [s]) == run_warnings("x", unconverged_reps) for s in unconverged_reps)
    for lang in ("ru", "kk"):
        assert "25%" in (
            calibration_warning("x", [{**s, "peak_route_relative_gap": 0.25} for s in low], lang) or ""
        )
    assert calibration_warning("x", [{**s, "peak_route_relative_gap": 0.04} for s in low]) == lower
    # the replications' own route gaps are not the calibration's: nothing said about them
    assert calibration_warning("x", [{**s, "route_relative_gap": 0.25} for s in low]) == lower
    upper = [
        {**s, "peak_route_relative_gap": 0.25} for s in stopped
    ]  # at the upper bound more delay would not help
    assert "route choice" not in (calibration_warning("x", upper) or "")
    # not at a bound: out of steps
    inner = [{**s, "peak_factor": 1.0, "peak_steps": 8.0, "peak_factor_high": 4.0} for s in stopped]
    assert "did not meet its target within 8 simulations: best x1.000" in (
        calibration_warning("x", inner) or ""
    )
    # met, or no calibration: no warning; gridlock and an unmet calibration both listed, gridlock first
    assert calibration_warning("x", [{**s, "peak_reached": 1.0} for s in stopped]) is None
    assert calibration_warning("x", [flowing] * 2) is None and run_warnings("x", [flowing] * 2) == []
    both = run_warnings("x", [{**s, "share_arrived": 0.5} for s in stopped])
    assert len(both) == 2 and "only 50% of trips arrived" in both[0] and "calibration" in both[1]


def test_summary_holds_the_calibrated_index_against_the_runs_drawn_replications(tmp_path: Path) -> None:
    # the calibration meets its target at central parameters; each replication draws its own, and the run
    # reports their mean: the summary shows both, and warns when the mean leaves a named target's range
    from vision_zero.runs.jobs import RunResult
    from vision_zero.runs.run_summary import calibration_spread_warning, run_warnings

    base = toy_job(replications=2).baseline or toy_job(replications=2)
    met = {
        **PEAK_AT_BOUND,
        "peak_target": 1.35,
        "peak_congestion_index": 1.38,
        "peak_factor": 0.489,
        "peak_reached": 1.0,
        "peak_target_low": 1.2,
        "peak_target_high": 1.5,
    }
    flowing = {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.99, **met}
    inside = [{**flowing, "congestion_index": ci} for ci in (1.25, 1.54, 1.36, 1.53)]
    text = format_summary(RunResult(base, tmp_path, inside))
    assert (
        "  peak calibration: congestion index 1.38 at central parameters (target 1.35, range 1.20-1.50; x0.489 "
        "the default daily trips); this run's replications, each with its own parameter draw: mean 1.42 "
        "(1.25-1.54)"
    ) in text
    assert "WARNING" not in text and calibration_spread_warning("x", inside) is None
    # with the calibration's standard error (summaries since 9d98daa): how sure it is, in every language
    sure = [{**s, "peak_congestion_index_se": 0.071, "peak_replications": 4.0} for s in inside]
    assert "congestion index 1.38 ± 0.07 (standard error over 4 replications) at central parameters" in (
        format_summary(RunResult(base, tmp_path, sure))
    )
    from vision_zero.runs.run_summary import format_peak_calibration

    assert all("1.38 ± 0.07" in format_peak_calibration(sure, lang) for lang in ("ru", "kk"))
    above = [{**s, "congestion_index": ci} for s, ci in zip(inside, (2.62, 1.48, 1.56, 1.60), strict=True)]
    (warning,) = run_warnings("x", above)
    assert warning == calibration_spread_warning("x", above)
    assert warning.startswith(
        "WARNING: x: the AM peak's demand calibration met its target at the central traffic parameters "
        "(congestion index 1.38 against 1.35), but this run's 4 replications, each with its own draw of those "
        "parameters, give a mean index of 1.81 (1.48-2.62), outside the target's range 1.20-1.50"
    )
    assert "1.81 (1.48-2.62)" in (run_warnings("x", above, "ru")[0] + run_warnings("x", above, "kk")[0])
    # a numeric target (no range), an unmet calibration (its own warning) or no calibration: no such warning
    numeric = [{k: v for k, v in s.items() if not k.startswith("peak_target_")} for s in above]
    assert (
        calibration_spread_warning("x", numeric) is None
        and "range" not in format_summary(RunResult(base, tmp_path, numeric)).split("peak calibration")[1]
    )
    assert calibration_spread_warning("x", [{**s, "peak_reached": 0.0} for s in above]) is None
    bare = [{"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "congestion_index": 3.0}] * 2
    assert calibration_spread_warning("x", bare) is None
    assert "peak calibration" not in format_summary(RunResult(base, tmp_path, bare))


def test_run_warnings_in_the_reports_language() -> None:
    # a Russian or Kazakh report warns in its own language (the i18n catalogue), with the same figures
    from vision_zero.runs.run_summary import run_warnings

    stopped = {"fatal": 1.0, "serious": 2.0, "slight": 3.0, "ksi": 3.0, "share_arrived": 0.5, **PEAK_AT_BOUND}
    en, ru, kk = (run_warnings("x", [stopped] * 2, lang) for lang in ("en", "ru", "kk"))
    assert en == run_warnings("x", [stopped] * 2)  # English by default
    assert ru[0].startswith("ПРЕДУПРЕЖДЕНИЕ: x: доехали лишь 50% поездок (порог 95%)")
    assert "верхней границе" in ru[1] and "x1.152" in ru[1] and "1.15 при цели 1.70" in ru[1]
    assert kk[0].startswith("ЕСКЕРТУ: x: сапарлардың тек 50% жетті (шегі 95%)")
    assert "жоғарғы шегінде" in kk[1] and "x1.152" in kk[1] and "мақсат 1.70" in kk[1]
    low = {**stopped, "peak_factor": 0.855, "peak_congestion_index": 2.4}
    assert "нижней границе" in run_warnings("x", [low], "ru")[1]
    inner = {**stopped, "peak_factor": 1.0, "peak_steps": 8.0, "peak_factor_high": 4.0}
    assert "число симуляций: 8" in run_warnings("x", [inner], "ru")[1]
