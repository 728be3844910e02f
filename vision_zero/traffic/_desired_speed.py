"""Drivers' desired speeds: the free-flow speed, the response to the limit, calming, cameras, running times.

Part of the traffic model's numbers (:mod:`vision_zero.traffic._model` re-exports them): a driver's desired speed
on a link (:func:`desired_speed_kph`, with its compliance draw :func:`compliance_draws`), the mean desired speed at
the reference limit (:func:`free_flow_speed_kph`: the HCM urban-street free-flow speed on :data:`HCM_CLASSES`,
:func:`hcm_urban_street_free_flow_speed_kph` over HCM street segments, :func:`segment_length_m`) and a link's
mean free running time over drivers (:func:`expected_running_time_s`).

References
----------
Wilson, C., Willis, C., Hendrikz, J. K., Le Brocque, R., Bellamy, N. (2010). Speed cameras for the prevention of
road traffic injuries and deaths. Cochrane Database of Systematic Reviews 10, CD004607.
Transportation Research Board (2016). Highway Capacity Manual, 6th ed., ch. 18 (urban street segments), eqs. 18-3 to
18-5, Exhibits 18-7 and 18-11 (read as reproduced in the NCHRP 08-135 Guidebook, ch. 11).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.seeding import hash_unit
from vision_zero.core.units import kph_to_mph, kph_to_mps, m_to_ft, mph_to_kph
from vision_zero.network.road_network import link_column
from vision_zero.traffic._give_way import PRIORITY_RANK
from vision_zero.traffic._traffic_settings import HCM_ACCESS_LIMITS_MPH, HcmUrbanStreet, TrafficSettings

__all__ = [
    "DESIGN_SPEED_QUANTILE",
    "HCM_CLASSES",
    "compliance_draws",
    "desired_speed_kph",
    "expected_running_time_s",
    "free_flow_speed_kph",
    "hcm_urban_street_free_flow_speed_kph",
    "segment_length_m",
]


FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: Road classes whose drivers' mean desired speed is the HCM urban-street free-flow speed
#: (:func:`hcm_urban_street_free_flow_speed_kph`): local and collector streets, where the limit + offset rule
#: (``traffic.desired_speed.offset_kph``, measured on urban streets in general) was not measured. Arterials, trunk
#: roads and motorways keep the offset; so do classes whose limit lies below HCM's range (living streets).
HCM_CLASSES: tuple[str, ...] = ("residential", "unclassified", "tertiary", "tertiary_link")


#: The design speed of a vertical-deflection device (hump, table, cushion) is the 85th percentile of the speeds over
#: it, the figure its sources measure (FHWA PEDSAFE, speed tables: design speed 25-30 mph, measured 85th percentiles;
#: Falamarzi & Rahmat 2014), as for a raised crossing (``risk.pedestrian.raised.design_speed_kph``). A calmed street's
#: mean is then about 0.87 of its design speed at the default spread (UK 20 mph zones with physical calming: mean
#: 16 mph, 0.8 of the limit; Webster & Mackie 1996, ``risk.evidence.zone_20mph.*``).
DESIGN_SPEED_QUANTILE = 0.85


@functools.cache
def _z_design() -> float:
    """The standard normal quantile of :data:`DESIGN_SPEED_QUANTILE` (scipy's ``ndtri``).

    scipy.special is imported here, not with the module: its import costs ~0.12 CPU-s (~5% of a 10k-trip grid
    run, #16) and only a network with a design speed (a calmed street) or a camera's over-limit factor needs it.
    """
    from scipy.special import ndtri

    return float(ndtri(DESIGN_SPEED_QUANTILE))


def desired_speed_kph(
    links: pd.DataFrame,
    link: IntArray | npt.NDArray[np.int32],
    z: FloatArray,
    settings: TrafficSettings,
    *,
    compliance_draw: FloatArray | None = None,
    free_flow_kph: FloatArray | None = None,
) -> FloatArray:
    """Desired speed of drivers with standard-normal draws ``z`` on links ``link`` [km/h].

    ``mean = free flow + speed_response x (limit - reference)`` (SCIENCE.md §4, §8), the free flow being the mean
    desired speed at the reference limit (:func:`free_flow_speed_kph`: the HCM urban-street free-flow speed on local
    and collector streets, ``reference + offset`` elsewhere; ``free_flow_kph`` per link if already computed); the
    driver's speed
    is ``mean x (1 + cv z)``; where ``design_speed_kph`` is set the speed is capped at
    ``design x (1 + cv z) / (1 + cv z85)`` with ``z85`` the standard normal 85th percentile (the same driver is as
    relatively fast on a calmed street, and the calmed street's 85th percentile is its design speed:
    :data:`DESIGN_SPEED_QUANTILE`); never below ``min_speed_kph``.

    ``over_limit_factor`` is the share of the drivers above the limit who stay above it (speed cameras; Wilson et
    al. 2010 measure the fall in the share of drivers speeding): a driver above the limit whose
    ``compliance_draw`` (uniform in [0, 1), one per driver: :func:`compliance_draws`) is at least the factor
    keeps to the limit, the others keep their speed. Without draws (expected values over ``z``, e.g. route choice's
    expected link times) the excess over the limit is scaled by the factor instead: the same mean.

    ``mean_speed_factor`` and ``over_limit_factor`` are two measured outcomes of one measure (Wilson et al. 2010:
    the mean speed falls by ``1 - mean_speed_factor``, the share speeding by ``1 - over_limit_factor``), not two
    effects to multiply: the drivers keeping to the limit already lower the mean by
    ``(1 - over_limit_factor) x E[(v - limit)+]`` (normal partial expectation), and all speeds are scaled by
    ``min(1, mean_speed_factor x mean / compressed mean)`` only for the rest of the measured fall in the mean.
    """
    limit = links["speed_limit_kph"].to_numpy(dtype=np.float64)
    ref = link_column(links, "reference_speed_kph")
    resp = link_column(links, "speed_response")
    msf = link_column(links, "mean_speed_factor")
    olf = link_column(links, "over_limit_factor")
    design = link_column(links, "design_speed_kph")
    lim, r = limit[link], ref[link]
    ff = (
        free_flow_speed_kph(links, settings.offset_kph, settings.hcm)
        if free_flow_kph is None
        else free_flow_kph
    )
    mean = ff[link] + resp[link] * (lim - r)
    rel = 1.0 + settings.cv * z
    v = mean * rel
    o = olf[link]
    if compliance_draw is None:
        v = np.where(v > lim, lim + o * (v - lim), v)
    else:
        v = np.where((v > lim) & (compliance_draw >= o), lim, v)
    v = v * _mean_scale(mean, lim, o, msf[link], settings.cv)
    d = design[link]
    calmed = np.isfinite(d)
    if calmed.any():
        v = np.where(calmed, np.minimum(v, d * rel / (1.0 + settings.cv * _z_design())), v)
    return np.maximum(v, settings.min_speed_kph)


def free_flow_speed_kph(links: pd.DataFrame, offset_kph: float, hcm: HcmUrbanStreet | None) -> FloatArray:
    """Per link, drivers' mean desired speed at the reference limit (the limit they are used to) [km/h].

    On :data:`HCM_CLASSES` with a reference limit within HCM's range (``hcm.min_speed_limit_kph`` and up) the HCM
    urban-street free-flow speed (:func:`hcm_urban_street_free_flow_speed_kph`, with the link's lanes and its
    :func:`segment_length_m`); elsewhere, or without ``hcm``, ``reference + offset_kph`` (Deardoff 2011; HPMS).
    One owner for the traffic model's desired speeds and the risk model's reference speed.
    """
    ref = link_column(links, "reference_speed_kph")
    out: FloatArray = ref + offset_kph
    if hcm is None or "highway" not in links.columns:
        return out
    local = links["highway"].astype(str).isin(HCM_CLASSES).to_numpy() & (ref >= hcm.min_speed_limit_kph)
    if local.any():
        lanes = links["lanes"].to_numpy(dtype=np.float64)[local]
        seg = segment_length_m(links)[local]
        out[local] = hcm_urban_street_free_flow_speed_kph(ref[local], lanes, seg, hcm)
    return out


def hcm_urban_street_free_flow_speed_kph(
    speed_limit_kph: FloatArray, through_lanes: FloatArray, segment_length_m: FloatArray, hcm: HcmUrbanStreet
) -> FloatArray:
    """HCM 6th ed. (2016) urban-street free-flow speed, eqs. 18-3 to 18-5 (HCM 2010 eqs. 17-1 to 17-3) [km/h].

    Base free-flow speed ``S_fo = S_0 + f_CS + f_A`` with the speed constant ``S_0 = 25.6 + 0.47 S_pl``, the
    cross-section adjustment ``f_CS`` for a curb and no restrictive median (Exhibit 18-5's defaults) and the
    access-point adjustment ``f_A = -0.078 D_a / N_th`` with Exhibit 18-7's default access-point density ``D_a``
    for urban streets without a restrictive median, interpolated in the limit (clamped to 25-55 mi/h); no on-street
    parking term and ``S_calib = 0`` (HCM's default). Signal-spacing factor ``f_L = 1.02 - 4.7 (S_fo - 19.5) /
    max(L_s, 400 ft) <= 1`` and ``S_f = S_fo f_L >= S_pl``: on short blocks drivers do not reach the base speed,
    and HCM never predicts below the limit. All in mi/h and ft as published; coefficients in ``hcm``.
    """
    s_pl = kph_to_mph(np.asarray(speed_limit_kph, dtype=np.float64))
    density = np.interp(s_pl, np.asarray(HCM_ACCESS_LIMITS_MPH, dtype=np.float64), hcm.access_points_per_mi)
    f_a = hcm.access_point_slope_mph * density / np.maximum(through_lanes, 1.0)
    s_fo = hcm.speed_constant_mph + hcm.speed_limit_slope * s_pl + hcm.cross_section_mph + f_a
    spacing_ft = np.maximum(m_to_ft(np.asarray(segment_length_m, dtype=np.float64)), hcm.min_spacing_ft)
    f_l = np.minimum(
        1.0,
        hcm.spacing_intercept - hcm.spacing_slope_ft_per_mph * (s_fo - hcm.spacing_speed_mph) / spacing_ft,
    )
    out: FloatArray = mph_to_kph(np.maximum(s_fo * f_l, s_pl))
    return out


def segment_length_m(links: pd.DataFrame) -> FloatArray:
    """Per link, the length of its street segment in HCM's sense [m].

    The segment is the chain of links of one road between the junctions that can require its through movement to
    stop or yield. A link's road continues through its end node when exactly two legs there (distinct neighbours) carry a road of
    its class or higher — its own way in and out — and the way out has its class: so a local street is cut at
    every junction with another street of equal class (priority to the right: Vienna Convention art. 18.4) or of a
    higher class (it gives way), and a collector runs on through junctions with local streets. Dead ends and class
    changes cut it too. Only the link table is read: a signal where no road of equal or higher class meets (a
    mid-block pedestrian signal) does not cut the segment.
    """
    # imported here: scipy.sparse and its csgraph cost ~0.1-0.25 CPU-s to import and only the HCM free-flow
    # option reads segments (#16: the traffic path's start-up)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(links)
    if n == 0:
        return np.zeros(0)
    u = links["u"].to_numpy(dtype=np.int64)
    v = links["v"].to_numpy(dtype=np.int64)
    rank = links["highway"].astype(str).map(PRIORITY_RANK).fillna(0).to_numpy(dtype=np.int64)
    length = links["length_m"].to_numpy(dtype=np.float64)
    n_nodes = int(max(u.max(), v.max())) + 1
    top = int(rank.max()) + 1
    # per (node, neighbour) leg: the highest class on it; per node and class r: legs carrying class r or higher
    legs = pd.DataFrame(
        {"a": np.concatenate([u, v]), "b": np.concatenate([v, u]), "r": np.concatenate([rank, rank])}
    )
    leg_rank = legs.groupby(["a", "b"], sort=False)["r"].max().reset_index()
    hist = np.zeros((n_nodes, top), dtype=np.int64)
    np.add.at(hist, (leg_rank["a"].to_numpy(), leg_rank["r"].to_numpy()), 1)
    at_least = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # at_least[node, r]: legs with class >= r
    through = at_least[v, rank] == 2
    ins = pd.DataFrame(
        {"l": np.arange(n)[through], "node": v[through], "r": rank[through], "back": u[through]}
    )
    outs = pd.DataFrame({"m": np.arange(n), "node": u, "r": rank, "head": v})
    pairs = ins.merge(outs, on=["node", "r"])
    pairs = pairs[pairs["head"].to_numpy() != pairs["back"].to_numpy()]
    pairs = pairs[~pairs["l"].duplicated(keep=False)]  # exactly one way on
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs["l"].to_numpy(), pairs["m"].to_numpy())), shape=(n, n)
    ).tocsr()
    _, label = connected_components(graph, directed=True, connection="weak")
    out: FloatArray = np.bincount(label, weights=length)[label]
    return out


def compliance_draws(z: FloatArray) -> FloatArray:
    """One uniform draw in [0, 1) per driver for :func:`desired_speed_kph`'s compliance.

    A fixed function of the driver's desired-speed draw ``z``, so common random numbers hold (the same driver
    complies in every scenario) and no random stream is consumed.
    """
    return hash_unit(np.ascontiguousarray(z, dtype=np.float64).view(np.int64))


def _mean_scale(
    mean: FloatArray, limit: FloatArray, over_limit_factor: FloatArray, mean_factor: FloatArray, cv: float
) -> FloatArray:
    """Factor on all speeds so the mean falls by ``mean_factor`` in all, counting the over-limit compression."""
    compressed_links = over_limit_factor < 1.0
    if not compressed_links.any():  # no camera: the factor alone (and no normal integral, no scipy import)
        factor: FloatArray = np.where(compressed_links, 0.0, mean_factor)
        return factor
    from scipy.special import ndtr

    sd = np.maximum(cv * mean, 1e-9)
    d = (mean - limit) / sd
    excess = sd * np.exp(-0.5 * d * d) / math.sqrt(2.0 * math.pi) + (mean - limit) * ndtr(d)
    compressed = mean - (1.0 - over_limit_factor) * excess
    out: FloatArray = np.minimum(1.0, mean_factor * mean / np.maximum(compressed, 1e-9))
    return np.where(compressed_links, out, mean_factor)


def expected_running_time_s(links: pd.DataFrame, st: TrafficSettings) -> FloatArray:
    """Mean over drivers of a link's free running time [s]: ``length x E[1 / desired speed]``.

    The expectation over the standard-normal driver draw is taken by Gauss-Hermite quadrature (9 nodes), so the
    over-limit compression of cameras and the cap of calming count for all drivers, not only the median one.
    """
    n = len(links)
    nodes, weights = np.polynomial.hermite_e.hermegauss(9)
    weights = weights / weights.sum()
    idx = np.arange(n)
    inv = np.zeros(n)
    ff = free_flow_speed_kph(links, st.offset_kph, st.hcm)
    for x, w in zip(nodes, weights, strict=True):
        inv += w / kph_to_mps(desired_speed_kph(links, idx, np.full(n, x), st, free_flow_kph=ff))
    out: FloatArray = links["length_m"].to_numpy(dtype=np.float64) * inv
    return out
