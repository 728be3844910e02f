"""The comparison's tables on disk: comparison, headline and their bounds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from compare_fixtures import BASE, ECON, runs

from vision_zero.appraisal.compare import compare
from vision_zero.appraisal.compare_text import format_table
from vision_zero.appraisal.economics import InterventionCost
from vision_zero.outputs.write import write_tables


def test_table_and_files(tmp_path: Path) -> None:
    base = runs("baseline", BASE)
    var = runs(
        "centre-30", [(f * 0.8, s * 0.8, sl) for f, s, sl in BASE], costs=[InterventionCost("x", 10.0)]
    )
    c = compare(base, [var], economics=ECON)
    text = format_table(c, label="SCHEMATIC network (not real geometry): test:square")
    table_lines = text.splitlines()[:4]
    assert len({len(line.rstrip()) for line in table_lines[:2]}) == 1
    assert "centre-30" in text and "baseline" in text and "SCHEMATIC" in text
    paths = write_tables(c, tmp_path)
    frame = pd.read_parquet(tmp_path / "comparison.parquet")
    assert set(frame["metric"]) >= {"ksi", "fatal", "npv", "bcr", "ksi_pedestrian", "prob_reduces_ksi"}
    ksi = frame[frame.metric == "ksi"].iloc[0]
    assert ksi["diff_mean"] == pytest.approx(-0.2 * np.mean([f + s for f, s, _ in BASE]))
    # comparison.csv says "avoided" with headline.csv's sign (baseline − variant), beside the signed difference
    headline = pd.read_csv(paths["headline"]).iloc[0]
    assert ksi["avoided_mean"] == pytest.approx(-ksi["diff_mean"]) == pytest.approx(headline["ksi_avoided"])
    assert (ksi["avoided_low"], ksi["avoided_high"]) == pytest.approx((-ksi["diff_high"], -ksi["diff_low"]))
    assert (headline["ksi_avoided_low"], headline["ksi_avoided_high"]) == pytest.approx(
        (ksi["avoided_low"], ksi["avoided_high"])
    )
    assert pd.read_csv(paths["headline"])["schematic"].all()
    assert not list(tmp_path.glob(".*tmp"))


def test_headline_csv_has_no_bounds_where_no_interval_is_printed(tmp_path: Path) -> None:
    # 2 pairs: the table prints "mean (no reliable CI)"; headline.csv must not hold the raw 2-pair t-interval
    base = runs("baseline", BASE[:2])
    var = runs("slow", [(f * 0.8, s * 0.8, sl) for f, s, sl in BASE[:2]], costs=[InterventionCost("x", 10.0)])
    headline = pd.read_csv(write_tables(compare(base, [var], economics=ECON), tmp_path)["headline"]).iloc[0]
    assert not headline["interval_reliable"]
    assert headline["ksi_avoided"] == pytest.approx(0.2 * np.mean([f + s for f, s, _ in BASE[:2]]))
    for prefix in ("deaths_avoided", "serious_avoided", "ksi_avoided", "npv", "bcr"):
        assert math.isnan(headline[f"{prefix}_low"]) and math.isnan(headline[f"{prefix}_high"]), prefix
    # the long table keeps the raw statistic with its n, for analysis
    frame = pd.read_csv(tmp_path / "comparison.csv")
    ksi = frame[frame.metric == "ksi"].iloc[0]
    assert ksi["n"] == 2 and math.isfinite(ksi["diff_low"])
