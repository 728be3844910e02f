"""Every figure the evidence tests rely on is checked, or listed here with why it is not (issue #13).

The evidence tests (``tests/evidence/``, with ``tests/evidence_fixtures.py``) compare whole-pipeline results with
published effects. A figure they rely on is any shipped parameter their source names: the published intervals they
compare against, the inputs they compute an expectation from, and the parameters their reasons and docstrings name
as the mechanism behind a result. A name followed by ``.*`` or ``*``, or an f-string ``"group.{name}"``, names every
parameter of that group. Each such parameter must have status ``checked`` (read in its source or in a page quoting
it: SCIENCE.md's meaning), or be listed below: :data:`DERIVED` with the checked figures it is computed from,
:data:`NOT_CHECKED` with the reason no checked figure exists here. A listed parameter that has become checked, or that
the evidence tests no longer name, fails the test too, so the lists cannot go stale.

Fast: reads source text and the parameter files, runs no simulation.
"""

from __future__ import annotations

import re
from pathlib import Path

from vision_zero.core.parameters import ParameterSet, load_parameters

TESTS = Path(__file__).resolve().parent.parent

#: Derived figures (status ``derived``): computed from checked figures, or fitted; what from, in a few words (the
#: parameter's own source and note give the derivation in full).
DERIVED: dict[str, str] = {
    "calibration.almaty.deaths_per_year": "Almaty's checked 8-month counts (45; 56) scaled to a year (SCIENCE.md §7)",
    "calibration.almaty.pedestrian_share_of_deaths": "25 of 56 deaths in a checked 8-month count (SCIENCE.md §7)",
    "calibration.serious_share_of_injured": "GB built-up roads 2013, checked counts 14,443 / 129,884 (SCIENCE.md §6)",
    "interventions.speed_limit.speed_response.calming": "checked 20 mph zone speeds (Webster & Mackie 1996)",
    "interventions.speed_limit.speed_response.camera": "TS-handbok §3.11's checked -8 km/h for -20 km/h (0.4)",
    "interventions.speed_limit.speed_response.signs": "checked signs-only speed changes (Atkins 2018, Edmonton, Parker)",
    "risk.cmf.signalised_crossing.pedestrian": "range of checked abstracts (Hunt 1998: -60..0%; Gårder 1989: about half)",
    "risk.pedestrian.critical_lag.sigma_log": "FITTED to the pedestrian death share of the calibration targets",
    "risk.pedestrian.evidence.turning_share_at_intersections": "Roudsari et al. 2006's checked 107/255; binomial CI",
    "risk.pedestrian.turning_speed_kph": "Fitzpatrick et al. 2006's checked 85th percentiles; NACTO's tight corners",
}

#: Figures with no checked value here (status ``unchecked`` or ``assumption``), each with the reason.
NOT_CHECKED: dict[str, str] = {
    # --- a source exists but its figure was not reached
    "traffic.route_choice.indifference_band_relative": (
        "Mahmassani & Jayakrishnan 1991's 0.2 read only in secondary descriptions (the paper stored only to its "
        "title page; searched 2026-12-01 and 2026-12-02)"
    ),
    # --- no published figure for the quantity (searched; the parameter's note says where)
    "calibration.almaty.pedestrian_share_of_injured": "Almaty's split of the injured by road user not published",
    "interventions.speed_limit.speed_response.section_control": "no speed response to a limit change under section "
    "control found",
    "risk.pedestrian.start.run_up_m": "geometry assumption (MUTCD stop-line set-back plus queue spacing)",
    "demand.pedestrians_per_hour.arterial": "no pedestrian volumes by street class reached: replace with counts",
    "demand.pedestrians_per_hour.collector": "no pedestrian volumes by street class reached: replace with counts",
    "demand.pedestrians_per_hour.local": "no pedestrian volumes by street class reached: replace with counts",
    # --- modelling choices, not figures of a source
    "risk.pedestrian.injury_speed_shift_kph": "uncertainty band for the age mix, scaled from Tefft 2013's 19 km/h",
    "schematic.crossings.local_junction_share": "schematic network's layout, measured on Helsinki's OSM only",
    "traffic.give_way.gap_acceptance": "a switch between capacity rules (0 = off), not a figure",
}

_NAME = re.compile(r"([a-z][a-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(\.\*|\*|\.\{)?")


def named_parameters(text: str, parameters: ParameterSet) -> set[str]:
    """The shipped parameters a source text names: exact names, and whole groups named as ``g.*``, ``g*``, ``g.{``."""
    found: set[str] = set()
    for match in _NAME.finditer(text):
        name, group = match.groups()
        if group is None:
            if name in parameters:
                found.add(name)
        else:
            prefix = f"{name}." if group in (".*", ".{") else name
            found.update(k for k in parameters if k.startswith(prefix))
    return found


def evidence_parameters(parameters: ParameterSet) -> set[str]:
    """Every shipped parameter the evidence tests and their fixtures name (this file excluded)."""
    sources = [
        p for p in sorted((TESTS / "evidence").glob("*.py")) if p.resolve() != Path(__file__).resolve()
    ]
    sources.append(TESTS / "evidence_fixtures.py")
    return set().union(*(named_parameters(p.read_text(encoding="utf-8"), parameters) for p in sources))


def test_the_scan_finds_names_groups_and_fstring_groups() -> None:
    """Hand-checkable: an exact name, a ``.*`` group, a ``*`` prefix and an f-string group; prose is not a name."""
    params = load_parameters()
    text = (
        'cmf_interval("risk.cmf.zone_20mph.inside") (risk.pedestrian.critical_lag.*) '
        "traffic.route_choice.indifference_band_* "
        'f"risk.evidence.gb_built_up_2013.{s}" e.g. vision_zero.risk.pedestrian'
    )
    assert named_parameters(text, params) == {
        "risk.cmf.zone_20mph.inside",
        "risk.pedestrian.critical_lag.median_s",
        "risk.pedestrian.critical_lag.sigma_log",
        "traffic.route_choice.indifference_band_relative",
        "traffic.route_choice.indifference_band_min_s",
        "risk.evidence.gb_built_up_2013.fatal",
        "risk.evidence.gb_built_up_2013.serious",
        "risk.evidence.gb_built_up_2013.slight",
    }


def test_every_figure_the_evidence_tests_rely_on_is_checked_or_listed() -> None:
    params = load_parameters()
    named = evidence_parameters(params)
    assert len(named) > 40, "the scan found too few names: has tests/evidence moved?"
    status = {name: params[name].status for name in named}
    unlisted = {
        n: s for n, s in status.items() if s != "checked" and n not in DERIVED and n not in NOT_CHECKED
    }
    assert not unlisted, f"not checked and not listed with a reason: {unlisted}"
    wrong_list = {n: status[n] for n in DERIVED if n in status and status[n] != "derived"}
    wrong_list |= {
        n: status[n] for n in NOT_CHECKED if n in status and status[n] not in ("unchecked", "assumption")
    }
    assert not wrong_list, (
        f"listed under the wrong status (checked now? move or drop the entry): {wrong_list}"
    )
    stale = (DERIVED.keys() | NOT_CHECKED.keys()) - named
    assert not stale, f"listed but no longer named by the evidence tests: {sorted(stale)}"
