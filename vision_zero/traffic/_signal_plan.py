"""Known signal plans given with a network: phases at a node, each approach's phases of green.

Private helper of :func:`vision_zero.traffic._signals.signal_plans`. Where nothing is given, a signal-controlled
node gets the model's fixed-time two-phase plan by approach axis. A planner with a city's signal timing sheet (or a
peer simulator's case) can give the plan instead, as two optional columns:

``signal_phases_s`` on nodes
    The node's phases in cycle order, their durations [s] separated by ``;`` (e.g. ``"50;10;40;5"``: a 105 s
    cycle). Phase 0 starts at the node's ``signal_offset_s`` (else at the node's fixed pseudo-random offset in
    this cycle). Only at a signal-controlled node (``junction_control == "signal"``).
``signal_group`` on links
    The phases in which the link's end is green at such a node, separated by ``;`` (e.g. ``"0;1"``; UXsim's
    ``signal_group``), required on every link that enters a node with a given plan. They must follow each other in
    the cycle (``"3;0"`` wraps round), so that a link has one green window per cycle, which is all the event loop
    knows of a signal; a phase no group names is an all-red phase.

The durations are taken as **effective green** as given: no lost time (``traffic.signal.lost_time_per_phase_s``)
is taken off, as UXsim takes none; a timing sheet's displayed green, amber and all-red should be turned into
effective green and an all-red phase by the planner. Vehicles pass the line on green at the link's saturation flow
(its lanes x ``traffic.signal.saturation_flow_vphpl``), as at the model's own plans. Bad input raises a
DataError that names the table, the column, the first bad row and what was expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import DataError, shorten

__all__ = ["GivenPlans", "given_plans"]

FloatArray = npt.NDArray[np.float64]

PHASES_COLUMN = "signal_phases_s"
GROUP_COLUMN = "signal_group"


@dataclass(frozen=True)
class GivenPlans:
    """Per node and per link, what the given plans say (0 where a node or link has none)."""

    node_cycle_s: FloatArray  # per node: the sum of its phases; 0 = no plan given
    link_start_s: FloatArray  # per link: when its green starts, from the start of phase 0 of its end node [s]
    link_green_s: FloatArray  # per link: its green per cycle [s]; 0 = its end node has no given plan


def _is_unset(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _numbers(value: object) -> list[float] | None:
    """The numbers of a ``;``-separated entry (a lone number may be stored as a number); None if unreadable."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return [float(value)]
    if not isinstance(value, str):
        return None
    try:
        return [float(part) for part in value.split(";")]
    except ValueError:
        return None


def _phases(value: object) -> list[float] | None:
    """A node's phase durations, or None if they are not durations > 0 [s]."""
    out = _numbers(value)
    if out is None or not all(math.isfinite(d) and d > 0.0 for d in out):
        return None
    return out


def _window(value: object, phases: list[float]) -> tuple[float, float] | None:
    """A link's green window (start from phase 0's start, length) [s], or None if its group is not a run of phases."""
    numbers = _numbers(value)
    n = len(phases)
    if numbers is None or not all(x.is_integer() and 0 <= x < n for x in numbers):
        return None
    group = [int(x) for x in numbers]
    if len(set(group)) != len(group):
        return None
    if len(group) == n:
        return 0.0, math.fsum(phases)
    members = set(group)
    # a run of phases has exactly one phase whose predecessor is not in it
    firsts = [i for i in group if (i - 1) % n not in members]
    if len(firsts) != 1:
        return None
    first = firsts[0]
    return math.fsum(phases[:first]), math.fsum(phases[(first + j) % n] for j in range(len(group)))


def given_plans(
    nodes: pd.DataFrame, links: pd.DataFrame, signal_node: npt.NDArray[np.bool_]
) -> GivenPlans | None:
    """The plans given in the optional columns ``signal_phases_s`` and ``signal_group`` (module docstring).

    None when neither column is there (the model's own plans everywhere). ``signal_node``: per node, whether it is
    signal-controlled.

    Raises
    ------
    DataError
        Phases that are not durations > 0; a plan at a node that is not signal-controlled; a link into a node with a
        plan without a group, or with a group that names a phase the plan lacks, a phase twice or phases that do not
        follow each other; a group on a link whose end node has no plan.
    """
    if PHASES_COLUMN not in nodes.columns and GROUP_COLUMN not in links.columns:
        return None
    n_nodes, n_links = len(nodes), len(links)
    osmid = nodes["osmid"].to_numpy()
    plans: dict[int, list[float]] = {}
    if PHASES_COLUMN in nodes.columns:
        for i, value in enumerate(nodes[PHASES_COLUMN].to_list()):
            if _is_unset(value):
                continue
            phases = _phases(value)
            where = f"node {osmid[i]} (row {i}): {shorten(repr(value))}"
            if phases is None:
                raise DataError(
                    f"nodes table: column '{PHASES_COLUMN}': expected phase durations in s > 0 separated by ';', "
                    f"e.g. '50;10;40;5' ({where})"
                )
            if not signal_node[i]:
                raise DataError(
                    f"nodes table: column '{PHASES_COLUMN}': expected a plan only at a signal-controlled node "
                    f"(junction_control 'signal') ({where})"
                )
            plans[i] = phases
    start_node = links["u"].to_numpy(dtype=np.int64)
    end = links["v"].to_numpy(dtype=np.int64)
    groups = links[GROUP_COLUMN].to_list() if GROUP_COLUMN in links.columns else [None] * n_links
    start = np.zeros(n_links)
    green = np.zeros(n_links)
    for k, value in enumerate(groups):
        node = int(end[k])
        phases = plans.get(node)
        if phases is None and _is_unset(value):
            continue
        given = "missing" if _is_unset(value) else shorten(repr(value))
        where = f"link {k} (node {osmid[start_node[k]]} -> {osmid[node]}): {given}"
        if phases is None:
            raise DataError(
                f"links table: column '{GROUP_COLUMN}': expected a group only on a link into a node with a plan in "
                f"'{PHASES_COLUMN}' ({where})"
            )
        window = None if _is_unset(value) else _window(value, phases)
        if window is None:
            raise DataError(
                f"links table: column '{GROUP_COLUMN}': expected the phases 0..{len(phases) - 1} of its end node's "
                f"plan in which the link has green, each once, following each other in the cycle, separated by ';', "
                f"e.g. '0;1' ({where})"
            )
        start[k], green[k] = window
    cycle = np.zeros(n_nodes)
    for i, phases in plans.items():
        cycle[i] = math.fsum(phases)
    return GivenPlans(node_cycle_s=cycle, link_start_s=start, link_green_s=green)
