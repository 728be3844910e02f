"""Shared machinery of the evidence suite (tests/evidence): scenario files, paired runs of the real pipeline, and
casualty sums over the sites an intervention touches.

Every run goes through :func:`vision_zero.runs.preparation.prepare` and :func:`~vision_zero.runs.pipeline.run_replication`
(the code the CLI runs), on the SCHEMATIC network: no result here is a finding about Almaty; the tests check that
the modelled effect of each intervention falls inside the published interval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.network.road_network import RoadNetwork
from vision_zero.program.scenario import load_scenario
from vision_zero.runs.pipeline import run_replication
from vision_zero.runs.preparation import PreparedScenario, prepare
from vision_zero.runs.results import ReplicationResult

#: Paired replications per comparison (common random numbers: the pairs differ only by the intervention).
REPLICATIONS = 2

BASE = """name = "{name}"
description = "SCHEMATIC network ({scale}): evidence test"
[network]
source = "schematic:almaty?scale={scale}&seed=0"
[simulation]
periods = ["am_peak"]
duration_s = {duration_s}
replications = {replications}
seed = 2019
[demand]
scale = {demand}
"""


def write_scenarios(
    folder: Path,
    variants: dict[str, str],
    *,
    scale: str = "small",
    demand: float = 0.5,
    duration_s: int = 900,
) -> dict[str, Path]:
    """A baseline file ``base.toml`` and one file per variant (its ``[[interventions]]`` body), extending it."""
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / "base.toml"
    base.write_text(
        BASE.format(
            name="base", scale=scale, demand=demand, duration_s=duration_s, replications=REPLICATIONS
        ),
        "utf-8",
    )
    out = {"base": base}
    for name, body in variants.items():
        path = folder / f"{name}.toml"
        path.write_text(
            f'name = "{name}"\ndescription = "evidence variant"\nextends = "base.toml"\n{body}', "utf-8"
        )
        out[name] = path
    return out


@dataclass(frozen=True)
class Pairs:
    """Paired replications of a baseline and its variants."""

    prepared: dict[str, PreparedScenario]
    results: dict[str, list[ReplicationResult]]

    def network(self, name: str = "base") -> RoadNetwork:
        return self.prepared[name].network


def at_central_values(prepared: PreparedScenario) -> PreparedScenario:
    """``prepared`` whose parameter draws are the central values (every distribution fixed).

    The evidence tests compare the model's central effect with a study's interval; with one or two replications a
    draw from a wide parameter range (e.g. the freeway serious-injury exponent, 0.5-5.5) would decide the result.
    The replications still differ by demand, drivers and pedestrians.
    """
    fixed = ParameterSet(
        {n: dataclasses.replace(prepared.parameters[n], distribution="fixed") for n in prepared.parameters}
    )
    return dataclasses.replace(prepared, applied=dataclasses.replace(prepared.applied, parameters=fixed))


def shared_traffic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of vehicle traffic for the whole test session (:func:`vision_zero.runs.pipeline.run_replication`'s
    ``traffic_store``).

    Its files are keyed by everything the vehicle simulation reads (:func:`vision_zero.runs.pipeline.traffic_key`:
    links, nodes, trips, seed, replication, periods and the drawn traffic settings), so a fixture that needs a
    simulation another fixture has run (the same baseline at the same parameters) reads it instead of simulating it
    again, with identical results.
    """
    path = tmp_path_factory.getbasetemp() / "evidence-traffic"
    path.mkdir(exist_ok=True)
    return path


def run_pairs(
    files: dict[str, Path],
    *,
    replications: int = REPLICATIONS,
    central_parameters: bool = False,
    traffic_store: Path | None = None,
) -> Pairs:
    """Run the baseline and every variant, replication by replication, as a comparison does.

    Each variant replication is calibrated on the baseline's and starts from its routes; a variant whose vehicle
    traffic inputs are the baseline's (crossing upgrades, new crossings) takes the baseline's traffic from the
    shared traffic store, as a comparison's does (:func:`vision_zero.runs.pipeline.run_replication`'s
    ``traffic_store``), and re-runs only crossings, pedestrians and risk.

    ``central_parameters``: every replication uses the central parameter values (:func:`at_central_values`).
    ``traffic_store``: the folder (default: ``traffic`` beside the files; :func:`shared_traffic_store`).
    """
    prepared = {name: prepare(load_scenario(path)) for name, path in files.items()}
    if central_parameters:
        prepared = {name: at_central_values(p) for name, p in prepared.items()}
    store = files["base"].parent / "traffic" if traffic_store is None else traffic_store
    store.mkdir(exist_ok=True)
    results: dict[str, list[ReplicationResult]] = {name: [] for name in files}
    for r in range(replications):
        base = run_replication(prepared["base"], r, traffic_store=store)
        results["base"].append(base)
        for name in files:
            if name != "base":
                results[name].append(
                    run_replication(
                        prepared[name],
                        r,
                        baseline_draws=base.risk_draws,
                        traffic_store=store,
                        baseline_routes=base.routes,
                        baseline_link_stats=None
                        if base.traffic is None
                        else base.traffic["traffic_link_stats"],
                    )
                )
    return Pairs(prepared, results)


def run_variants(
    tmp_path_factory: pytest.TempPathFactory,
    folder: str,
    variants: dict[str, str],
    *,
    scale: str = "small",
    demand: float = 0.5,
    duration_s: int = 900,
    replications: int = REPLICATIONS,
    central_parameters: bool = False,
) -> Pairs:
    """The shape of every evidence fixture: :func:`write_scenarios` in a fresh temporary ``folder``, then
    :func:`run_pairs` on the files, with the session's :func:`shared_traffic_store`."""
    files = write_scenarios(
        tmp_path_factory.mktemp(folder), variants, scale=scale, demand=demand, duration_s=duration_s
    )
    return run_pairs(
        files,
        replications=replications,
        central_parameters=central_parameters,
        traffic_store=shared_traffic_store(tmp_path_factory),
    )


def evidence_param(*values: object, id: str, xfail: str | None = None) -> Any:
    """One row of an evidence table as a pytest parameter; ``xfail``: the traced reason it still fails (with the
    measured numbers), a non-strict expected failure."""
    marks = [pytest.mark.xfail(strict=False, reason=xfail)] if xfail else []
    return pytest.param(*values, id=id, marks=marks)


@dataclass(frozen=True)
class Sites:
    """Risk-model sites of a part of the network: links, junction nodes and crossings."""

    links: frozenset[int]
    junctions: frozenset[int]
    crossings: frozenset[int]

    @classmethod
    def of_links(cls, network: RoadNetwork, mask: np.ndarray) -> Sites:
        """The links of ``mask``, the nodes they end at and the crossings their vehicles pass."""
        links = np.flatnonzero(mask)
        ends = network.links.loc[links, ["u", "v"]].to_numpy(np.int64).ravel()
        cl = network.crossing_links
        crossings = cl.loc[cl["link"].isin(links), "crossing"].to_numpy(np.int64)
        return cls(frozenset(links.tolist()), frozenset(ends.tolist()), frozenset(crossings.tolist()))

    @classmethod
    def of_crossings(cls, crossings: Iterable[int]) -> Sites:
        return cls(frozenset(), frozenset(), frozenset(int(c) for c in crossings))

    def mask(self, injuries: pd.DataFrame) -> pd.Series:
        st, site = injuries["site_type"], injuries["site"]
        return (
            ((st == "link") & site.isin(self.links))
            | ((st == "junction") & site.isin(self.junctions))
            | ((st == "crossing") & site.isin(self.crossings))
        )


def casualties(
    result: ReplicationResult,
    sites: Sites | None = None,
    *,
    severities: tuple[str, ...] = ("fatal", "serious", "slight"),
    road_user: str | None = None,
) -> float:
    """Calibrated casualties per year of one replication at ``sites`` (all sites if None)."""
    inj = result.injuries
    m = inj["severity"].isin(severities)
    if road_user is not None:
        m &= inj["road_user"] == road_user
    if sites is not None:
        m &= sites.mask(inj)
    return float(inj.loc[m, "per_year"].sum())


def veh_km(result: ReplicationResult, links: Iterable[int]) -> float:
    """Annual vehicle-km of one replication on ``links``."""
    lt = result.link_traffic
    return float(lt.loc[lt["link"].isin(list(links)), "veh_km_per_year"].sum())


def paired_change(base: list[float], variant: list[float]) -> float:
    """Relative change of the summed variant over the summed baseline (pairs pooled: the ratio of sums)."""
    b = float(np.sum(base))
    return float(np.sum(variant)) / b - 1.0 if b > 0 else float("nan")


def cmf_interval(name: str) -> tuple[float, float]:
    """The evidence interval of a crash-modification factor in the parameter files: its 95% range as changes
    (``low - 1``, ``high - 1``); the parameter must carry its source."""
    p = load_parameters()[name]
    assert p.low is not None and p.high is not None and p.source, f"{name}: no range or source"
    return p.low - 1.0, p.high - 1.0


def near_centre(
    network: RoadNetwork, radius_m: float, *, lon: float = 76.93, lat: float = 43.24
) -> np.ndarray:
    """Links whose both ends lie within ``radius_m`` of (lon, lat)."""
    nodes = network.nodes
    phi = np.radians(lat)
    dx = np.radians(nodes["lon"].to_numpy(float) - lon) * np.cos(phi) * 6_371_009.0
    dy = np.radians(nodes["lat"].to_numpy(float) - lat) * 6_371_009.0
    inside = np.hypot(dx, dy) <= radius_m
    u = network.links["u"].to_numpy(np.int64)
    v = network.links["v"].to_numpy(np.int64)
    out: np.ndarray = inside[u] & inside[v]
    return out


def touched_links(runs: Pairs, variant: str) -> np.ndarray:
    """Mask of the links the variant's interventions touched (``PreparedScenario.touched``, recorded when applied)."""
    net = runs.network("base")
    mask = np.zeros(len(net.links), dtype=bool)
    mask[runs.prepared[variant].touched.links] = True
    return mask
