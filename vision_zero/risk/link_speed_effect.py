"""Per link: the annual traffic and the speed effect of the simulated speed distribution, for the occupants' model.

:func:`annual_link_traffic` turns a record's link statistics and speed histograms into annual entries per link
and, per severity, the veh-km-weighted speed effect over the periods (the speed model applied per vehicle,
relative to the reference speed distribution); :class:`KeptLinkTraffic` keeps the record's preparation for a
caller that re-runs it. :func:`vision_zero.risk.crash_model.occupant_injuries` reads them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.network.road_network import RoadNetwork
from vision_zero.risk._parameters import Kept, param
from vision_zero.risk.speed_models import SEVERITIES, power_exponents, reference_mean_effect, speed_effect
from vision_zero.traffic.periods import annual_factors
from vision_zero.traffic.simulation import SPEED_BIN_KPH, HcmUrbanStreet, TrafficRecord, free_flow_speed_kph

__all__ = ["KeptLinkTraffic", "annual_link_traffic"]

FloatArray = npt.NDArray[np.float64]


def _reference_speed_kph(links: pd.DataFrame, parameters: Mapping[str, float]) -> FloatArray:
    hcm = HcmUrbanStreet.from_values(parameters)
    return free_flow_speed_kph(links, param(parameters, "risk.reference_speed.offset_kph"), hcm)


def annual_link_traffic(
    network: RoadNetwork,
    record: TrafficRecord,
    parameters: Mapping[str, float],
    speed_model: str,
    kept: KeptLinkTraffic | None = None,
) -> pd.DataFrame:
    """Per link: annual entries and, per severity, the veh-km-weighted speed effect over periods.

    The speed effect of a link in a period is the power model applied to each vehicle's running speed and
    averaged over the vehicles (the record's speed histogram), relative to the reference distribution
    (:func:`~vision_zero.risk.speed_models.reference_mean_effect`): so a change in the speed distribution's upper
    tail (a camera cutting the excess over the limit) counts with the weight the power model gives the fast drivers, not only through the
    mean (Elvik 2009's exponents are for mean speeds; applied per vehicle they give the same change for a uniform
    change of speeds and a larger one where the fastest slow down most). The histogram's bin midpoints are shifted
    to the link-period's exact mean speed. A link-period without a histogram uses its mean speed. ``kept``: the
    record's link-periods prepared once (:class:`KeptLinkTraffic`), for a caller that re-runs this.
    """
    out = pd.DataFrame(index=network.links.index)
    periods = _link_periods(network, record) if kept is None else kept.periods
    out["entries_per_year"] = 0.0 if periods is None else periods.entries_per_year
    for s in SEVERITIES:
        if periods is None:
            out[f"speed_effect.{s}"] = 1.0
        elif kept is None:
            out[f"speed_effect.{s}"] = _speed_effect(network, periods, s, parameters, speed_model)
        else:
            out[f"speed_effect.{s}"] = kept.effect(s, parameters, speed_model)
    return out


@dataclass(frozen=True)
class _LinkPeriods:
    """What :func:`annual_link_traffic` reads of a record before any parameter, per row of its link statistics.

    ``hist``: the speed histograms' rows by link-period (when the record has them): the row's link, count, its
    link-period's position among the histograms' (``inv``), their totals, each statistics row's histogram
    (``pos``, ``has``), and the bins' midpoints shifted to each link-period's exact mean speed.
    """

    link: npt.NDArray[np.int64]
    entries_per_year: FloatArray
    vkm: FloatArray
    speed: FloatArray
    ok: npt.NDArray[np.bool_]
    wsum: FloatArray
    hist: _HistRows | None


@dataclass(frozen=True)
class _HistRows:
    link: npt.NDArray[np.int64]
    count: FloatArray
    inv: npt.NDArray[np.intp]
    total: FloatArray
    pos: npt.NDArray[np.intp]
    has: npt.NDArray[np.bool_]
    speed: FloatArray


def _link_periods(network: RoadNetwork, record: TrafficRecord) -> _LinkPeriods | None:
    """The :class:`_LinkPeriods` of a record (None: no link statistics)."""
    n = len(network.links)
    stats = record.link_stats
    if not len(stats):
        return None
    af = annual_factors(stats["period"], record.periods)
    link = stats["link"].to_numpy(np.int64)
    entries = stats["entries"].to_numpy(np.float64) * af
    entries_per_year = np.asarray(np.bincount(link, weights=entries, minlength=n)[:n], dtype=np.float64)
    vkm = stats["veh_km"].to_numpy(np.float64) * af
    speed = stats["mean_speed_kph"].to_numpy(np.float64)
    ok = np.isfinite(speed) & (vkm > 0) & (speed > 0)
    wsum = np.asarray(np.bincount(link[ok], weights=vkm[ok], minlength=n)[:n], dtype=np.float64)
    hist = record.speed_hist
    periods = [p.name for p in record.periods]
    rows = None
    if len(hist):
        key_stats = stats["period"].map({p: i for i, p in enumerate(periods)}).to_numpy(np.int64) * n + link
        h_link = hist["link"].to_numpy(np.int64)
        h_key = hist["period"].map({p: i for i, p in enumerate(periods)}).to_numpy(np.int64) * n + h_link
        h_count = hist["count"].to_numpy(np.float64)
        h_speed = hist["bin_lo_kph"].to_numpy(np.float64) + 0.5 * SPEED_BIN_KPH
        keys, h_inv = np.unique(h_key, return_inverse=True)
        h_total = np.asarray(np.bincount(h_inv, weights=h_count), dtype=np.float64)
        pos = np.searchsorted(keys, key_stats)
        has_hist = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == key_stats)
        has_hist &= h_total[np.minimum(pos, len(keys) - 1)] > 0
        # bin midpoints shifted so each link-period keeps its exact mean speed (drivers keeping to a limit sit on
        # a bin edge, which the midpoint would move by half a bin)
        h_mean = np.bincount(h_inv, weights=h_count * h_speed) / np.where(h_total > 0, h_total, 1.0)
        exact = np.full(len(keys), np.nan)
        exact[pos[has_hist]] = speed[has_hist]
        h_speed = np.maximum(h_speed + np.where(np.isfinite(exact), exact - h_mean, 0.0)[h_inv], 0.0)
        rows = _HistRows(h_link, h_count, h_inv, h_total, np.minimum(pos, len(keys) - 1), has_hist, h_speed)
    return _LinkPeriods(link, entries_per_year, vkm, speed, ok, wsum, rows)


def _speed_effect(
    network: RoadNetwork,
    periods: _LinkPeriods,
    s: str,
    parameters: Mapping[str, float],
    speed_model: str,
) -> FloatArray:
    """Per link, the veh-km-weighted speed effect of severity ``s`` over its periods (:func:`annual_link_traffic`)."""
    n = len(network.links)
    link, ok, speed, vkm, wsum, h = (
        periods.link,
        periods.ok,
        periods.speed,
        periods.vkm,
        periods.wsum,
        periods.hist,
    )
    ref_link = _reference_speed_kph(network.links, parameters)
    ref = ref_link[link]
    p_link = power_exponents(network.links, s, parameters)
    g = speed_effect(
        speed[ok], ref[ok], s, parameters=parameters, speed_model=speed_model, exponent=p_link[link][ok]
    )
    if h is not None and h.has.any():
        per_vehicle = speed_effect(
            h.speed,
            ref_link[h.link],
            s,
            parameters=parameters,
            speed_model=speed_model,
            exponent=p_link[h.link],
        )
        mean_g = np.bincount(h.inv, weights=h.count * per_vehicle) / np.where(h.total > 0, h.total, 1.0)
        norm = reference_mean_effect(ref_link, p_link, s, parameters=parameters, speed_model=speed_model)
        from_hist = mean_g[h.pos] / norm[link]
        g = np.where(h.has[ok], from_hist[ok], g)
    num = np.bincount(link[ok], weights=vkm[ok] * g, minlength=n)[:n]
    out: FloatArray = np.where(wsum > 0, num / np.where(wsum > 0, wsum, 1.0), 1.0)
    return out


class KeptLinkTraffic:
    """A record's link statistics for :func:`~vision_zero.risk.crash_model.occupant_injuries`, prepared once for a caller that re-runs it.

    The preparation (annual entries and veh-km per link-period, the speed histograms grouped by link-period with
    their midpoints shifted to the exact mean speeds) reads no parameter; each severity's speed effect is kept with
    the parameters it read (:class:`~vision_zero.risk._parameters.Kept`: the reference speeds, that severity's
    power-model exponents), so a re-run that moves a safety performance function, a severity share or another
    severity's exponent computes none of it again: the same numbers to the last bit.
    """

    def __init__(self, network: RoadNetwork, record: TrafficRecord, speed_model: str) -> None:
        self._network = network
        self._record = record
        self._speed_model = speed_model
        self._periods: tuple[_LinkPeriods | None] | None = None
        self._effects = {s: Kept(functools.partial(self._compute_effect, s)) for s in SEVERITIES}

    @property
    def periods(self) -> _LinkPeriods | None:
        """The record's :class:`_LinkPeriods` (prepared at the first use)."""
        if self._periods is None:
            self._periods = (_link_periods(self._network, self._record),)
        return self._periods[0]

    def _compute_effect(self, s: str, parameters: Mapping[str, float]) -> FloatArray:
        periods = self.periods
        assert periods is not None
        return _speed_effect(self._network, periods, s, parameters, self._speed_model)

    def effect(self, s: str, parameters: Mapping[str, float], speed_model: str) -> FloatArray:
        """:func:`_speed_effect` of severity ``s`` for these parameters."""
        periods = self.periods
        assert periods is not None
        if speed_model != self._speed_model:
            return _speed_effect(self._network, periods, s, parameters, speed_model)
        return self._effects[s](parameters)
