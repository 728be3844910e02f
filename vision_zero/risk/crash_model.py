"""Crash-risk models, each named after the published model it implements.

Contract: :func:`estimate` returns a :class:`CrashEstimate`; results and reports read only that.

Vehicle occupants (per link and per junction)
    An HSM-style safety performance function (HSM 2010 eq. 12-10 for segments, the eq. 12-21 form for
    junctions) from the simulated flows, annualised to AADT, times the speed effect of the simulated speeds
    against the reference speed at which the SPF applies (the power model of :mod:`vision_zero.risk.speed_models`
    per vehicle over each link's speed distribution, with Elvik's exponents for casualties by road environment: urban, or rural roads and freeways
    for motorway and trunk links), times the severity split, times crash-modification factors from the modifier
    table. The reference speed is the free-flow speed at ``reference_speed_kph`` (the limit drivers are used
    to; ``speed_limit_kph`` if absent), from the traffic model's owner
    (:func:`vision_zero.traffic.simulation.free_flow_speed_kph`): the HCM urban-street free-flow speed on local and
    collector streets, elsewhere the limit plus the free-flow offset ``risk.reference_speed.offset_kph``
    (limit + 8-11 km/h, SCIENCE.md §8): a baseline link at free flow is neutral, and a new limit, camera or
    calming changes the speed but not the reference, so its effect shows through the speed model.
Pedestrians
    :mod:`vision_zero.risk.pedestrian_conflict` (the chain per conflict, and the pedestrian modules):
    conflicts at crossings and crossings away from crosswalks.
Calibration
    HSM local calibration factors, one per road user (on its observed deaths): the baseline is scaled to observed
    deaths per road user (:class:`CalibrationTargets`), its severity mix is the models'; variants reuse the
    baseline's factors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.errors import ConfigError, DataError
from vision_zero.core.units import km_to_miles, m_to_km
from vision_zero.network.road_network import RoadNetwork, junction_control
from vision_zero.program.interventions import MODIFIER_COLUMNS
from vision_zero.risk._parameters import param
from vision_zero.risk.away_from_crossings import (
    KeptExposure,
    injuries_away_from_crossings,
    injuries_on_streets,
)
from vision_zero.risk.crossing_passages import CrossingPassages, crossing_injuries
from vision_zero.risk.link_speed_effect import KeptLinkTraffic, annual_link_traffic
from vision_zero.risk.pedestrian_injury import pedestrian_injury_risk, tefft_pedestrian_injury
from vision_zero.risk.speed_models import SEVERITIES, SPEED_MODELS
from vision_zero.traffic.pedestrians import junction_legs
from vision_zero.traffic.simulation import TrafficRecord

__all__ = [
    "INJURY_COLUMNS",
    "MODIFIER_COLUMNS",
    "ROAD_USERS",
    "SEVERITIES",
    "CalibrationTargets",
    "CrashEstimate",
    "KeptLinkTraffic",
    "apply_calibration",
    "apply_modifiers",
    "calibrate",
    "calibration_factors",
    "estimate",
    "factors_of",
    "junction_spf",
    "occupant_injuries",
    "pedestrian_injury_risk",
    "segment_spf",
    "segment_spf_type",
    "tefft_pedestrian_injury",
]

ROAD_USERS: tuple[str, ...] = ("pedestrian", "occupant")
INJURY_COLUMNS: tuple[str, ...] = ("site_type", "site", "road_user", "severity", "per_year_raw", "per_year")
SITE_TYPES: tuple[str, ...] = ("link", "junction", "crossing")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CrashEstimate:
    """Expected annual casualties of one replication.

    Attributes
    ----------
    injuries
        Long table, one row per (site, road user, severity): ``site_type`` str (``"link"``, ``"junction"`` or
        ``"crossing"``), ``site`` int (link, node or crossing id), ``road_user`` str (:data:`ROAD_USERS`),
        ``severity`` str (:data:`SEVERITIES`), ``per_year_raw`` float [casualties/year] as the models give them,
        ``per_year`` float: ``per_year_raw`` times the calibration factor of its (severity, road user).
    parameters
        The parameter values this replication drew (name -> value).
    calibration
        The calibration factors applied, keyed ``"<severity>.<road_user>"`` (e.g. ``"fatal.pedestrian"``).
        A baseline is calibrated on itself: factor = observed / raw total. A variant uses the factors of the
        baseline's replication with the same index (common random numbers), so interventions change the
        calibrated totals exactly as they change the raw ones.

    Interventions reach the risk model in two ways only, never both for the same effect: through the traffic
    (speeds, flows, crossing types, which the models read) or, where no mechanism is modelled (road diet,
    roundabout, lighting …), through crash-modification factors: a table with columns ``site_type``, ``site``,
    ``road_user`` (a road user or ``"all"``), ``severity`` (a severity, ``"ksi"`` or ``"all"``) and
    ``parameter`` (the name of a CMF in the parameters file, so each replication draws it). ``site`` = -1
    applies the row to every site of that type.
    """

    injuries: pd.DataFrame
    parameters: dict[str, float]
    calibration: dict[str, float]

    def totals(self, column: str = "per_year") -> dict[str, float]:
        """Annual totals keyed by severity and ``"<severity>.<road_user>"``, plus ``"ksi"``."""
        inj = self.injuries
        out = {s: float(inj.loc[inj["severity"] == s, column].sum()) for s in SEVERITIES}
        for s in SEVERITIES:
            for u in ROAD_USERS:
                mask = (inj["severity"] == s) & (inj["road_user"] == u)
                out[f"{s}.{u}"] = float(inj.loc[mask, column].sum())
        out["ksi"] = out["fatal"] + out["serious"]
        return out


# ----------------------------------------------------------------------------------------------------------
# Safety performance functions (HSM Part C, chapter 12)
# ----------------------------------------------------------------------------------------------------------
def segment_spf(aadt: npt.ArrayLike, length_mi: npt.ArrayLike, *, a: float, b: float) -> FloatArray:
    """HSM eq. 12-10: multiple-vehicle non-driveway crashes per year on an urban segment, ``exp(a + b ln AADT + ln L)``.

    Parameters
    ----------
    aadt
        Two-way annual average daily traffic [veh/day].
    length_mi
        Segment length [miles].
    a, b
        Coefficients of HSM Table 12-3 for the cross-section (``risk.spf.segment.<type>.a`` / ``.b``).

    References
    ----------
    AASHTO (2010). Highway Safety Manual, 1st ed., Part C, chapter 12, eq. 12-10 and Table 12-3.
    """
    q = np.asarray(aadt, dtype=np.float64)
    length = np.asarray(length_mi, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out: FloatArray = np.where(q > 0, np.exp(a + b * np.log(np.maximum(q, 1e-300))) * length, 0.0)
    return out


def junction_spf(
    aadt_major: npt.ArrayLike, aadt_minor: npt.ArrayLike, *, a: float, b: float, c: float
) -> FloatArray:
    """HSM junction SPF form: crashes per year ``exp(a + b ln AADT_major + c ln AADT_minor)``.

    References
    ----------
    AASHTO (2010). Highway Safety Manual, 1st ed., Part C, chapter 12, eq. 12-21 and Table 12-10.
    """
    qa = np.maximum(np.asarray(aadt_major, dtype=np.float64), 1.0)
    qb = np.maximum(np.asarray(aadt_minor, dtype=np.float64), 1.0)
    out: FloatArray = np.exp(a + b * np.log(qa) + c * np.log(qb))
    return out


def segment_spf_type(links: pd.DataFrame) -> pd.Series:
    """HSM cross-section of each link's road from the lanes of both directions.

    <= 2 lanes: ``two_lane_undivided``; 3: ``three_lane_twltl``; 4: ``four_lane_divided`` if the optional
    ``divided`` link column is true else ``four_lane_undivided``; >= 5: ``five_lane_twltl``. One-way links count
    their own lanes (the HSM has no one-way urban SPF; documented approximation).
    """
    lanes = links["lanes"].to_numpy(np.float64).copy()
    rev = links["reverse"].to_numpy(np.int64)
    has_rev = rev >= 0
    lanes[has_rev] += links["lanes"].to_numpy(np.float64)[rev[has_rev]]
    divided = links["divided"].to_numpy(bool) if "divided" in links else np.zeros(len(links), bool)
    kind = np.select(
        [lanes <= 2, lanes == 3, (lanes == 4) & divided, lanes == 4],
        ["two_lane_undivided", "three_lane_twltl", "four_lane_divided", "four_lane_undivided"],
        default="five_lane_twltl",
    )
    return pd.Series(kind, index=links.index, name="spf_type")


def _junction_legs(network: RoadNetwork) -> pd.DataFrame:
    """Per node with a leg: ``node``, ``legs`` (:func:`vision_zero.traffic.pedestrians.junction_legs`, the one owner)."""
    per_node = junction_legs(network)
    node = np.flatnonzero(per_node > 0)
    return pd.DataFrame({"node": node.astype(np.int64), "legs": per_node[node]})


def occupant_injuries(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    speed_model: str = "power",
    kept: KeptLinkTraffic | None = None,
) -> pd.DataFrame:
    """Expected annual vehicle-occupant casualties per link and per junction, raw (before CMFs and calibration).

    Segments: HSM eq. 12-10 on the road's two-way AADT (annualised simulated entries / 365) and length in miles,
    shared between the two directions by their flows. Junctions (nodes with >= 3 legs): the HSM junction form with
    ``AADT_major`` = the two largest entering flows, ``AADT_minor`` = the other entering flows (for a 4-leg junction
    each road's two-way AADT; for a T the minor road is undercounted by half — documented approximation),
    signalised or priority (roundabouts use the priority SPF; their effect enters as a CMF), 3 or 4+ legs.
    Casualties = crashes x ``risk.occupant.casualties_per_spf_crash`` x severity share x speed effect; the speed
    effect of a junction is the entry-weighted speed effect of its approaches.

    References
    ----------
    AASHTO (2010). Highway Safety Manual, Part C, chapter 12.

    ``kept``: the record's link statistics prepared once (:class:`KeptLinkTraffic` of ``network`` and ``record``),
    for a caller that re-runs this for other parameters on the same traffic; None: prepared here.
    """
    links = network.links
    traffic = annual_link_traffic(network, record, parameters, speed_model, kept)
    days = param(parameters, "risk.spf.days_per_year")
    aadt_dir = traffic["entries_per_year"].to_numpy(np.float64) / days
    rev = links["reverse"].to_numpy(np.int64)
    aadt_road = aadt_dir + np.where(rev >= 0, aadt_dir[np.maximum(rev, 0)], 0.0)
    kind = segment_spf_type(links)
    length_mi = km_to_miles(m_to_km(links["length_m"].to_numpy(np.float64)))
    crashes = np.zeros(len(links))
    for k in kind.unique():
        m = (kind == k).to_numpy()
        a = param(parameters, f"risk.spf.segment.{k}.a")
        b = param(parameters, f"risk.spf.segment.{k}.b")
        share = np.divide(aadt_dir[m], aadt_road[m], out=np.zeros(int(m.sum())), where=aadt_road[m] > 0)
        crashes[m] = segment_spf(aadt_road[m], length_mi[m], a=a, b=b) * share
    casualties = crashes * param(parameters, "risk.occupant.casualties_per_spf_crash")
    rows = []
    for s in SEVERITIES:
        share_s = param(parameters, f"risk.occupant.severity_share.{s}")
        rows.append(
            pd.DataFrame(
                {
                    "site_type": "link",
                    "site": links.index.to_numpy(np.int64),
                    "road_user": "occupant",
                    "severity": s,
                    "per_year_raw": casualties * share_s * traffic[f"speed_effect.{s}"].to_numpy(np.float64),
                }
            )
        )
    rows.append(_junction_injuries(network, traffic, aadt_dir, parameters))
    return pd.concat(rows, ignore_index=True)


def _junction_injuries(
    network: RoadNetwork, traffic: pd.DataFrame, aadt_dir: FloatArray, parameters: Mapping[str, float]
) -> pd.DataFrame:
    links, nodes = network.links, network.nodes
    legs = _junction_legs(network)
    legs = legs[legs["legs"] >= 3]
    cols = ["site_type", "site", "road_user", "severity", "per_year_raw"]
    if not len(legs):
        return pd.DataFrame(columns=cols)
    incoming = pd.DataFrame({"node": links["v"].to_numpy(np.int64), "aadt": aadt_dir})
    for s in SEVERITIES:
        incoming[f"w.{s}"] = aadt_dir * traffic[f"speed_effect.{s}"].to_numpy(np.float64)
    incoming = incoming[incoming["node"].isin(legs["node"])].sort_values(
        ["node", "aadt"], ascending=[True, False]
    )
    rank = incoming.groupby("node").cumcount().to_numpy()
    incoming["major"] = np.where(rank < 2, incoming["aadt"], 0.0)
    incoming["minor"] = np.where(rank >= 2, incoming["aadt"], 0.0)
    agg = incoming.groupby("node").sum(numeric_only=True)
    agg = agg.join(legs.set_index("node"), how="inner")
    agg = agg[agg["major"] > 0]
    if not len(agg):
        return pd.DataFrame(columns=cols)
    node_ids = agg.index.to_numpy(np.int64)
    signal = junction_control(nodes)[node_ids] == "signal"
    kinds = np.where(signal, "signalised", "priority").astype(object) + np.where(
        agg["legs"].to_numpy() == 3, "_3leg", "_4leg"
    ).astype(object)
    coef = {c: np.array([param(parameters, f"risk.spf.junction.{k}.{c}") for k in kinds]) for c in "abc"}
    major = agg["major"].to_numpy(np.float64)
    crashes = np.exp(
        coef["a"]
        + coef["b"] * np.log(major)
        + coef["c"] * np.log(np.maximum(agg["minor"].to_numpy(np.float64), 1.0))
    )
    casualties = crashes * param(parameters, "risk.occupant.casualties_per_spf_crash")
    total_in = agg["aadt"].to_numpy(np.float64)
    frames = []
    for s in SEVERITIES:
        effect = agg[f"w.{s}"].to_numpy(np.float64) / total_in
        frames.append(
            pd.DataFrame(
                {
                    "site_type": "junction",
                    "site": node_ids,
                    "road_user": "occupant",
                    "severity": s,
                    "per_year_raw": casualties
                    * param(parameters, f"risk.occupant.severity_share.{s}")
                    * effect,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------------------------------------
# Crash-modification factors
# ----------------------------------------------------------------------------------------------------------
def apply_modifiers(
    injuries: pd.DataFrame, modifiers: pd.DataFrame | None, *, parameters: Mapping[str, float]
) -> pd.DataFrame:
    """Multiply ``per_year_raw`` by the CMFs of the modifier table (contract in :class:`CrashEstimate`).

    Each row multiplies the matching injuries by the drawn value of its ``parameter``; rows stack
    multiplicatively. ``severity`` ``"ksi"`` matches fatal and serious, ``"all"`` every severity; ``road_user``
    ``"all"`` every road user; ``site`` -1 every site of the type.
    """
    if modifiers is None or not len(modifiers):
        return injuries
    missing = [c for c in MODIFIER_COLUMNS if c not in modifiers]
    if missing:
        raise ConfigError(f"modifiers: expected columns {list(MODIFIER_COLUMNS)} (missing {missing})")
    out = injuries.copy()
    factor = np.ones(len(out))
    st, site = out["site_type"].to_numpy(), out["site"].to_numpy(np.int64)
    user, sev = out["road_user"].to_numpy(), out["severity"].to_numpy()
    columns = {c: modifiers[c].to_numpy() for c in MODIFIER_COLUMNS}
    # each modifier row's rows are looked up among those of its site type, and of its site (by a sort of the sites),
    # not found by comparing every row's strings (hundreds of site modifiers on tens of thousands of rows); each
    # row is still multiplied by the matching modifiers' values in the table's order
    of_type: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.intp]]] = {}

    def rows_of(m_type: str, m_site: int) -> npt.NDArray[np.intp]:
        if m_type not in of_type:
            rows = np.flatnonzero(st == m_type)
            order = np.argsort(site[rows], kind="stable")
            of_type[m_type] = (rows, site[rows][order], rows[order])
        rows, sorted_sites, by_site = of_type[m_type]
        if m_site == -1:
            return rows
        lo, hi = np.searchsorted(sorted_sites, m_site, "left"), np.searchsorted(sorted_sites, m_site, "right")
        return by_site[lo:hi]

    for i in range(len(modifiers)):
        where = f"modifiers row {i}"
        m_type, m_user, m_sev = (
            str(columns["site_type"][i]),
            str(columns["road_user"][i]),
            str(columns["severity"][i]),
        )
        m_site = int(columns["site"][i])
        if m_type not in SITE_TYPES:
            raise ConfigError(f"{where}: site_type: expected one of {list(SITE_TYPES)} (got {m_type!r})")
        if m_user not in (*ROAD_USERS, "all"):
            raise ConfigError(f"{where}: road_user: expected one of {[*ROAD_USERS, 'all']} (got {m_user!r})")
        if m_sev not in (*SEVERITIES, "ksi", "all"):
            raise ConfigError(
                f"{where}: severity: expected one of {[*SEVERITIES, 'ksi', 'all']} (got {m_sev!r})"
            )
        value = param(parameters, str(columns["parameter"][i]))
        rows = rows_of(m_type, m_site)
        if m_user != "all":
            rows = rows[user[rows] == m_user]
        if m_sev == "ksi":
            rows = rows[np.isin(sev[rows], ("fatal", "serious"))]
        elif m_sev != "all":
            rows = rows[sev[rows] == m_sev]
        factor[rows] *= value
    out["per_year_raw"] = out["per_year_raw"].to_numpy(np.float64) * factor
    return out


# ----------------------------------------------------------------------------------------------------------
# The estimate
# ----------------------------------------------------------------------------------------------------------
def injury_parts(
    network: RoadNetwork, record: TrafficRecord, *, speed_model: str = "power", reuse: bool = False
) -> tuple[Callable[[Mapping[str, float]], pd.DataFrame], ...]:
    """The parts of :func:`estimate`, each a function of one parameter draw returning its raw casualty rows.

    One owner of what the risk stage adds up: :func:`estimate` sums them; a risk-only re-run
    (:mod:`vision_zero.runs.sensitivity`) calls them one by one to recompute only the parts a parameter moves.
    ``reuse``: the parts are called many times on this traffic: the crossing part keeps the record's passages
    grouped after its first call (:class:`~vision_zero.risk.crossing_passages.CrossingPassages`), the parts away
    from the crossings their pedestrians joined to the traffic
    (:class:`~vision_zero.risk.away_from_crossings.KeptExposure`), the occupants' part its link statistics and speed
    effects (:class:`KeptLinkTraffic`); the same numbers, to the last bit, held in memory
    instead of prepared again.
    """
    passages = CrossingPassages(network, record, keep=True) if reuse else None
    exposure = KeptExposure(network, record) if reuse else None
    links = KeptLinkTraffic(network, record, speed_model) if reuse else None
    return (
        lambda p: occupant_injuries(network, record, parameters=p, speed_model=speed_model, kept=links),
        lambda p: crossing_injuries(network, record, parameters=p, passages=passages),
        lambda p: injuries_away_from_crossings(network, record, parameters=p, exposure=exposure),
        lambda p: injuries_on_streets(network, record, parameters=p, exposure=exposure),
    )


def estimate(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    modifiers: pd.DataFrame | None = None,
    calibration_factors: Mapping[str, float] | None = None,
    speed_model: str = "power",
    parts: Sequence[Callable[[Mapping[str, float]], pd.DataFrame]] | None = None,
) -> CrashEstimate:
    """Expected annual casualties of one replication, by site, road user and severity.

    Parameters
    ----------
    network
        The (possibly intervened) road network.
    record
        What the simulation observed; periods are annualised with their ``annual_hours``.
    parameters
        One draw of the parameters (``ParameterSet.draw(rng)`` or ``.central()``).
    modifiers
        Crash-modification-factor table (see :class:`CrashEstimate`), or None.
    calibration_factors
        Factors keyed ``"<severity>.<road_user>"`` (from :func:`calibration_factors` on the baseline); None
        leaves ``per_year`` equal to ``per_year_raw`` and ``calibration`` empty.
    speed_model
        ``"power"`` (Nilsson / Elvik 2009) or ``"exponential"`` (Cameron & Elvik 2010).
    parts
        :func:`injury_parts` of this network, record and speed model built once with ``reuse=True``, for a caller
        that estimates several parameter draws on the same traffic (a replication's inner draws:
        :mod:`vision_zero.runs.risk_draws`): the same numbers, the traffic's preparation kept between the draws.
        None: built for this call.

    Returns
    -------
    CrashEstimate
    """
    if speed_model not in SPEED_MODELS:
        raise ConfigError(f"speed_model: expected one of {list(SPEED_MODELS)} (got {speed_model!r})")
    if parts is None:
        parts = injury_parts(network, record, speed_model=speed_model)
    frames = [part(parameters) for part in parts]
    nonempty = [p for p in frames if len(p)]
    if not nonempty:
        raise DataError(f"{network.label}: no links and no crossings, nothing to estimate")
    combined = pd.concat(nonempty, ignore_index=True)
    grouped = combined.groupby(["site_type", "site", "road_user", "severity"], sort=True)["per_year_raw"]
    injuries = grouped.sum().reset_index()
    injuries = apply_modifiers(injuries, modifiers, parameters=parameters)
    injuries["per_year"] = injuries["per_year_raw"]
    result = CrashEstimate(injuries=injuries, parameters=dict(parameters), calibration={})
    if calibration_factors is not None:
        result = apply_calibration(result, calibration_factors)
    return result


# ----------------------------------------------------------------------------------------------------------
# Calibration (HSM Part C appendix: local calibration factor C = observed / predicted)
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationTargets:
    """Observed annual casualties the baseline is scaled to.

    Attributes
    ----------
    deaths_per_year, serious_per_year, slight_per_year
        Observed casualties [per year].
    pedestrian_share_of_deaths
        Share of deaths that are pedestrians [0-1].
    source
        Where the figures come from (printed in reports).
    pedestrian_share_of_injured
        Share of serious and slight casualties that are pedestrians [0-1]. None: the road-user split of
        injuries follows the models, anchored on the deaths (see :func:`calibration_factors`).
    """

    deaths_per_year: float
    serious_per_year: float
    slight_per_year: float
    pedestrian_share_of_deaths: float
    source: str = ""
    pedestrian_share_of_injured: float | None = None

    def __post_init__(self) -> None:
        for name in ("deaths_per_year", "serious_per_year", "slight_per_year"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ConfigError(f"calibration: {name}: expected a number >= 0 (got {v!r})")
        for name in ("pedestrian_share_of_deaths", "pedestrian_share_of_injured"):
            s = getattr(self, name)
            if s is None and name == "pedestrian_share_of_injured":
                continue
            if not (isinstance(s, int | float) and 0.0 <= s <= 1.0):
                raise ConfigError(f"calibration: {name}: expected a number in [0, 1] (got {s!r})")

    @classmethod
    def almaty(cls, parameters: Mapping[str, float] | None = None) -> CalibrationTargets:
        """Almaty's published figures from ``calibration.toml`` (central values unless a draw is given).

        Serious and slight injuries are the injured (casualties - deaths) split with the British built-up-road
        ratio ``calibration.serious_share_of_injured``.
        """
        from vision_zero.core.parameters import load_parameters

        p: Mapping[str, float] = load_parameters().central() if parameters is None else parameters
        deaths = param(p, "calibration.almaty.deaths_per_year")
        injured = max(param(p, "calibration.almaty.casualties_per_year") - deaths, 0.0)
        serious = injured * param(p, "calibration.serious_share_of_injured")
        return cls(
            deaths_per_year=deaths,
            serious_per_year=serious,
            slight_per_year=injured - serious,
            pedestrian_share_of_deaths=param(p, "calibration.almaty.pedestrian_share_of_deaths"),
            source="Almaty (SCIENCE.md §7; vision_zero/data/parameters/calibration.toml)",
            pedestrian_share_of_injured=param(p, "calibration.almaty.pedestrian_share_of_injured"),
        )

    def scaled(self, share: float) -> CalibrationTargets:
        """Targets times ``share`` (e.g. the network's share of the city's vehicle-km)."""
        if not (math.isfinite(share) and share > 0):
            raise ConfigError(f"calibration: scale: expected a number > 0 (got {share!r})")
        return replace(
            self,
            deaths_per_year=self.deaths_per_year * share,
            serious_per_year=self.serious_per_year * share,
            slight_per_year=self.slight_per_year * share,
            source=f"{self.source} x {share:.4g} (network share of city veh-km)",
        )

    def for_network(self, veh_km_per_year: float, *, parameters: Mapping[str, float]) -> CalibrationTargets:
        """City targets scaled by the network's share of the city's vehicle-km (``calibration.almaty.veh_km_per_year``).

        Use this for a network that carries only part of the city's traffic (a district, the reduced schematic);
        for a whole-city network the share is about 1. Without it, calibrating a small network to city totals
        would make its totals city-sized.
        """
        return self.scaled(veh_km_per_year / param(parameters, "calibration.almaty.veh_km_per_year"))

    def targets(self) -> dict[str, float]:
        """Observed totals keyed like calibration factors (``fatal.pedestrian`` …), plus ``serious``, ``slight``."""
        out = {
            "fatal.pedestrian": self.deaths_per_year * self.pedestrian_share_of_deaths,
            "fatal.occupant": self.deaths_per_year * (1.0 - self.pedestrian_share_of_deaths),
            "serious": self.serious_per_year,
            "slight": self.slight_per_year,
        }
        share = self.pedestrian_share_of_injured
        if share is not None:
            for sev in ("serious", "slight"):
                out[f"{sev}.pedestrian"] = out[sev] * share
                out[f"{sev}.occupant"] = out[sev] * (1.0 - share)
        return out


def calibration_factors(raw_injuries: pd.DataFrame, targets: CalibrationTargets) -> dict[str, float]:
    """HSM local calibration factors ``C = observed / predicted``, one per road user, keyed ``"<severity>.<road_user>"``.

    One factor per road user, the same for all its severities: ``C_u = observed deaths_u / predicted deaths_u``.
    The severity mix within a road user is the model's own (the speed–severity relation of the occupant power
    model and of the pedestrian impact-speed chain), so a speed change moves every severity the way the models
    say: per-severity factors would rescale deaths that become serious injuries by a factor many times larger and
    hide the speed effect. Serious and slight totals are therefore the model's, not the targets' (reported next
    to the observed ones). The factors also replace the arbitrary raw scale of each road-user model
    (``risk.occupant.casualties_per_spf_crash``, ``risk.pedestrian.collision_given_nonyield``).

    Deaths are the anchor: they are the figure the city publishes and values most. The pedestrian chain's own mix
    decides the rest: with the pedestrians' lag acceptance (:func:`vision_zero.risk.crossing_behaviour.lag_acceptance_share`,
    its spread fitted to 2.1% deaths) 2-3% of its casualties die, and calibrated pedestrians are 15% of all
    casualties against the targets' assumed 30% (small schematic network, 2026-12-01; 12% deaths and 3.6% before it,
    2026-11-30). Anchored on pedestrian casualties instead (one factor still), their deaths would be 1.4-1.7x the
    observed ones (``tests/evidence/test_speed_and_severity.py``: the share and death-share tests).

    A road user with no observed deaths is calibrated on its observed injuries (serious + slight: per road user
    when the targets give ``pedestrian_share_of_injured``, else on the injuries of both road users together).

    Parameters
    ----------
    raw_injuries
        ``CrashEstimate.injuries`` of the baseline (``per_year_raw`` is used).
    targets
        Observed totals.

    References
    ----------
    AASHTO (2010). Highway Safety Manual, Part C appendix A.1.1 (calibration of predictive models).
    """
    raw = raw_injuries
    obs = targets.targets()

    def predicted(severities: tuple[str, ...], users: tuple[str, ...]) -> float:
        m = raw["severity"].isin(severities) & raw["road_user"].isin(users)
        return float(raw.loc[m, "per_year_raw"].sum())

    def fail(key: str, what: str, observed: float) -> DataError:
        return DataError(
            f"calibration: {key}: the model predicts no {what} on this network, so it cannot be scaled to the "
            f"observed {observed:.4g}/year (no traffic, or no pedestrians at crossings?)"
        )

    injured = ("serious", "slight")
    out: dict[str, float] = {}
    for u in ROAD_USERS:
        key = f"fatal.{u}"
        pred, observed = predicted(("fatal",), (u,)), obs[key]
        if observed > 0:
            if pred <= 0:
                raise fail(key, f"deaths of {u}s", observed)
            factor = observed / pred
        elif f"serious.{u}" in obs:
            observed = obs[f"serious.{u}"] + obs[f"slight.{u}"]
            pred = predicted(injured, (u,))
            factor = observed / pred if pred > 0 else 1.0
        else:
            observed = obs["serious"] + obs["slight"]
            pred = predicted(injured, ROAD_USERS)
            factor = observed / pred if pred > 0 else 1.0
        for sev in SEVERITIES:
            out[f"{sev}.{u}"] = factor
    return out


def factors_of(calibrated_injuries: pd.DataFrame) -> dict[str, float]:
    """The calibration factors a calibrated injuries table carries (``per_year / per_year_raw`` per road user).

    A variant is calibrated with the factors of the baseline's replication with the same index, read back from
    that replication's injuries table; a road user whose raw total is zero gets factor 1.
    """
    out: dict[str, float] = {}
    for u in ROAD_USERS:
        m = calibrated_injuries["road_user"] == u
        raw = float(calibrated_injuries.loc[m, "per_year_raw"].sum())
        cal = float(calibrated_injuries.loc[m, "per_year"].sum())
        factor = cal / raw if raw > 0 else 1.0
        for sev in SEVERITIES:
            out[f"{sev}.{u}"] = factor
    return out


def apply_calibration(result: CrashEstimate, factors: Mapping[str, float]) -> CrashEstimate:
    """A copy of ``result`` whose ``per_year`` is ``per_year_raw`` times the factor of its (severity, road user)."""
    inj = result.injuries.copy()
    keys = inj["severity"].astype(str) + "." + inj["road_user"].astype(str)
    missing = sorted(set(keys) - set(factors))
    if missing:
        raise ConfigError(f"calibration factors: missing {missing} (expected keys like 'fatal.pedestrian')")
    inj["per_year"] = inj["per_year_raw"].to_numpy(np.float64) * keys.map(dict(factors)).to_numpy(np.float64)
    return replace(result, injuries=inj, calibration=dict(factors))


def calibrate(result: CrashEstimate, targets: CalibrationTargets) -> CrashEstimate:
    """Calibrate a baseline on itself: its calibrated totals equal ``targets``."""
    return apply_calibration(result, calibration_factors(result.injuries, targets))
