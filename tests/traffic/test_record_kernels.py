"""The record's compiled passes give numpy's form of the record bit for bit (by hand first, then against numpy's form).

numpy's form is the record of main 4cf757b (``vision_zero/traffic/_record.py`` before the passes): kept here as
the reference, and, for the 85th percentiles, in :func:`vision_zero.traffic._record._weighted_quantile_by_key`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.units import M_PER_KM, S_PER_HOUR, m_to_km, mps_to_kph
from vision_zero.traffic._position_kernels import stable_order
from vision_zero.traffic._record import _period_column, _weighted_quantile_by_key
from vision_zero.traffic._record_kernels import crossing_pairs, key_stats, link_sums

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
KPH = mps_to_kph(1.0)


@dataclass
class _Positions:
    """Route positions (``link`` ... ``held``), per vehicle ``size_f``, per link ``length``/``limit``, per period
    ``windows``/``close``."""

    link: npt.NDArray[np.int32]
    per: npt.NDArray[np.int32]
    veh_of: npt.NDArray[np.int32]
    size_f: F64
    ent: F64
    ee: F64
    ex: F64
    fft: F64
    length: F64
    limit: F64
    windows: F64
    close: F64
    held: npt.NDArray[np.bool_]
    n_links: int
    n_keys: int


def _positions(seed: int, n_veh: int = 600, n_links: int = 40, sizes: int = 1) -> _Positions:
    """Random route positions of two periods: some not entered, some not exited, some equal times."""
    rng = np.random.default_rng(seed)
    lens = rng.integers(0, 9, n_veh)
    npos = int(lens.sum())
    veh_of = np.repeat(np.arange(n_veh, dtype=np.int32), lens)
    vperiod = rng.integers(0, 2, n_veh)
    windows, close = np.array([0.0, 4000.0]), np.array([4000.0, 9000.0])
    ent = windows[vperiod[veh_of]] + np.round(rng.uniform(0.0, 3600.0, npos), 1)
    fft = np.round(rng.uniform(2.0, 30.0, npos), 1)  # speeds that repeat exactly
    ee = ent + fft
    ex = ee + np.where(rng.random(npos) < 0.5, 0.0, np.round(rng.exponential(20.0, npos), 1))
    ex[rng.random(npos) < 0.1] = np.nan
    ent[rng.random(npos) < 0.05] = np.nan
    return _Positions(
        link=rng.integers(0, n_links, npos).astype(np.int32),
        per=vperiod[veh_of].astype(np.int32),
        veh_of=veh_of,
        size_f=rng.integers(1, sizes + 1, n_veh).astype(np.float64),
        ent=ent,
        ee=ee,
        ex=ex,
        fft=fft,
        length=np.round(rng.uniform(50.0, 400.0, n_links), 0),
        limit=rng.choice([30.0, 50.0, 60.0], n_links),
        windows=windows,
        close=close,
        held=rng.random(npos) < 0.3,
        n_links=n_links,
        n_keys=2 * n_links,
    )


def _numpy_link_sums(d: _Positions) -> tuple[npt.NDArray[Any], ...]:
    link, per, veh_of, size_f, n_links, n_keys = d.link, d.per, d.veh_of, d.size_f, d.n_links, d.n_keys
    ent, ex, fft, length, limit = d.ent, d.ex, d.fft, d.length, d.limit
    entered, exited = np.isfinite(ent), np.isfinite(ex)

    def key_w(mask: npt.NDArray[np.bool_]) -> tuple[I64, F64]:
        return per[mask].astype(np.int64) * n_links + link[mask], size_f[veh_of[mask]]

    ke, we = key_w(entered)
    le = link[entered]
    se = mps_to_kph(length[le] / fft[entered])
    entries = np.bincount(ke, we, n_keys)
    kx, wx = key_w(exited)
    veh_km = np.bincount(kx, wx * m_to_km(length[link[exited]]), n_keys)
    veh_h = np.bincount(kx, wx * (ex[exited] - ent[exited]) / S_PER_HOUR, n_keys)
    sum_v = np.bincount(ke, we * se, n_keys)
    over = np.bincount(ke, we * (se > limit[le] + 1e-9), n_keys)
    nv = len(size_f)
    vkm = np.bincount(veh_of[exited], m_to_km(length[link[exited]]), nv).astype(np.float64)
    vfree = np.bincount(veh_of, fft, nv).astype(np.float64)
    return entries, veh_km, veh_h, sum_v, over, vkm, vfree


def _link_sums(d: _Positions) -> tuple[F64, ...]:
    out: tuple[F64, ...] = link_sums(
        d.link,
        d.per,
        d.veh_of,
        d.size_f,
        d.ent,
        d.ex,
        d.fft,
        d.length,
        d.limit,
        d.n_links,
        d.n_keys,
        KPH,
        M_PER_KM,
        S_PER_HOUR,
    )
    return out


def _key_stats(d: _Positions) -> tuple[F64, bool, I64, F64, F64]:
    out: tuple[F64, bool, I64, F64, F64] = key_stats(
        d.link,
        d.per,
        d.veh_of,
        d.size_f,
        d.ent,
        d.ee,
        d.ex,
        d.fft,
        d.length,
        d.close,
        d.n_links,
        d.n_keys,
        KPH,
        0.85,
        5.0,
        1000,
    )
    return out


def _numpy_max_queue(k: I64, s_us: I64, e_us: I64, wm: F64, n_keys: int) -> F64:
    """The record's largest exit queue per key as numpy computed it before the compiled sweep (main db44330)."""
    if k.size == 0:
        return np.zeros(n_keys)
    span = int(max(s_us.max(), e_us.max())) + 1
    a = k * span + s_us
    oa = np.argsort(a)
    a = a[oa]
    b = k * span + e_us
    ob = np.argsort(b)
    b = b[ob]
    cum_a = np.cumsum(wm[oa])
    cum_b = np.r_[0.0, np.cumsum(wm[ob])]
    level = cum_a - cum_b[np.searchsorted(b, a, side="right")]
    out = np.zeros(n_keys)
    np.maximum.at(out, k[oa], level)
    return out


def _numpy_key_stats(d: _Positions) -> tuple[F64, I64, F64, F64]:
    link, per, veh_of, size_f = d.link, d.per, d.veh_of, d.size_f
    ent, ee, ex, fft, length = d.ent, d.ee, d.ex, d.fft, d.length
    n_links, n_keys = d.n_links, d.n_keys
    entered = np.isfinite(ent)
    ke = per[entered].astype(np.int64) * n_links + link[entered]
    we = size_f[veh_of[entered]]
    se = mps_to_kph(length[link[entered]] / fft[entered])
    pk, pv = _weighted_quantile_by_key(ke, se, we, 0.85)
    p85 = np.full(n_keys, np.nan)
    p85[pk] = pv
    b = np.clip(np.floor(se / 5.0).astype(np.int64), 0, 999)
    code = ke * 1000 + b
    order = np.argsort(code, kind="stable")
    hs = code[order]
    first = np.flatnonzero(np.r_[True, hs[1:] != hs[:-1]])
    end = np.where(np.isfinite(ex), ex, d.close[per])
    queued = entered & (end > ee)
    kq = per[queued].astype(np.int64) * n_links + link[queued]
    s_us = np.round(ee[queued] * 1e6).astype(np.int64)
    e_us = np.round(end[queued] * 1e6).astype(np.int64)
    max_q = _numpy_max_queue(kq, s_us, e_us, size_f[veh_of[queued]], n_keys)
    return p85, hs[first], np.add.reduceat(we[order], first), max_q


def _by_hand(size_f: F64, ent: F64, ee: F64, ex: F64, fft: F64, length: F64, period: int = 0) -> _Positions:
    """One vehicle per position, all on link 0 in ``period`` of two, which closes at 10 s."""
    n, n_links = len(size_f), len(length)
    return _Positions(
        link=np.zeros(n, dtype=np.int32),
        per=np.full(n, period, dtype=np.int32),
        veh_of=np.arange(n, dtype=np.int32),
        size_f=size_f,
        ent=ent,
        ee=ee,
        ex=ex,
        fft=fft,
        length=length,
        limit=np.full(n_links, 50.0),
        windows=np.zeros(2),
        close=np.full(2, 10.0),
        held=np.zeros(n, dtype=bool),
        n_links=n_links,
        n_keys=2 * n_links,
    )


def test_key_stats_by_hand() -> None:
    # one link, one period; speeds 36, 18, 72, 36 km/h (10 m in 1, 2, 0.5, 1 s), weights 1, 2, 1, 4: the 85th
    # percentile of weight 8 is the first speed, ascending, with 6.8 at or below it: 18 (2), 36 (2 + 1 + 4 = 7)
    d = _by_hand(
        size_f=np.array([1.0, 2.0, 1.0, 4.0]),
        ent=np.array([0.0, 0.0, 5.0, 1.0]),
        ee=np.array([1.0, 2.0, 5.5, 2.0]),
        ex=np.array([3.0, 2.0, 6.0, np.nan]),  # the last still on the link at the window's close, 10 s
        fft=np.array([1.0, 2.0, 0.5, 1.0]),
        length=np.array([10.0]),
    )
    p85, exact, codes, counts, max_q = _key_stats(d)
    assert exact
    np.testing.assert_array_equal(p85, [36.0, np.nan])
    np.testing.assert_array_equal(codes, [3, 7, 14])  # bins 15-20, 35-40 and 70-75 km/h
    np.testing.assert_array_equal(counts, [2.0, 5.0, 1.0])
    # queued: [1, 3) w 1 and [2, 10) w 4 (the second vehicle left when it reached the end): 5 at once from 2 s
    np.testing.assert_array_equal(max_q, [5.0, 0.0])


def test_link_and_key_stats_equal_numpy_bit_for_bit() -> None:
    for seed, sizes in ((3, 1), (4, 3)):  # whole vehicles, and platoons of 1-3
        d = _positions(seed, sizes=sizes)
        for got, want in zip(_link_sums(d), _numpy_link_sums(d), strict=True):
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype
        p85, exact, codes, counts, max_q = _key_stats(d)
        assert exact
        for got_a, want_a in zip((p85, codes, counts, max_q), _numpy_key_stats(d), strict=True):
            np.testing.assert_array_equal(got_a, want_a)
            assert got_a.dtype == want_a.dtype


def test_key_stats_say_when_numpy_must_pick() -> None:
    d = _positions(5)
    assert _key_stats(d)[1]
    d.fft[0] = 0.0
    assert not _key_stats(d)[1]  # an infinite speed: numpy's composite sort, not the compiled pick
    # two speeds ~1e-14 km/h apart on key 1000: one composite (1000 x span + speed, span ~2), so numpy's pick
    # depends on its sort's order of ties
    one = _by_hand(
        size_f=np.ones(2),
        ent=np.zeros(2),
        ee=np.ones(2),
        ex=np.ones(2),
        fft=np.array([KPH, KPH * (1 - 1e-14)]),
        length=np.ones(1000),
        period=1,
    )
    speeds = 1.0 / one.fft * KPH
    span = float(speeds.max()) + 1.0
    assert speeds[0] != speeds[1] and 1000 * span + speeds[0] == 1000 * span + speeds[1]
    p85, exact, *_ = _key_stats(one)
    assert not exact
    one = replace(one, fft=np.array([KPH, KPH * (1 - 1e-9)]))  # composites apart: the pick is fixed, numpy's
    p85, exact, *_ = _key_stats(one)
    assert exact
    np.testing.assert_array_equal(p85[1000], _numpy_key_stats(one)[0][1000])


def _numpy_pairs(
    d: _Positions, c_link: I64, c_id: I64, at_node: npt.NDArray[np.bool_], frac: F64
) -> dict[str, npt.NDArray[np.int64]]:
    """The passages' pairs as numpy made them (main 4cf757b), before their rows were sorted."""
    link, per, veh_of, ent, ee, ex, fft = d.link, d.per, d.veh_of, d.ent, d.ee, d.ex, d.fft
    pos = np.flatnonzero(np.isfinite(ent))
    pos = pos[stable_order(link[pos], d.n_links)]
    pl = link[pos]
    order = np.argsort(c_link, kind="stable")
    lo = np.searchsorted(pl, c_link[order], side="left")
    hi = np.searchsorted(pl, c_link[order], side="right")
    pair_c = np.repeat(order, hi - lo)
    pair_p = pos[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])]
    node = at_node[pair_c]
    t = np.where(node, ex[pair_p], ee[pair_p] - fft[pair_p] * (1.0 - frac[pair_c]))
    ok = np.isfinite(t)
    pair_c, pair_p, t, node = pair_c[ok], pair_p[ok], t[ok], node[ok]
    nxt = np.full(len(link), -1)
    same = veh_of[1:] == veh_of[:-1]
    nxt[:-1][same] = link[1:][same]
    k = per[pair_p]
    return {
        "crossing": c_id[pair_c],
        "t": t - d.windows[k],  # type: ignore[dict-item]
        "period": k,
        "position": pair_p,
        "stopped": node & d.held[pair_p],
        "next": np.where(node, nxt[pair_p], -1),
    }


def test_crossing_pairs_equal_numpy_bit_for_bit() -> None:
    d = _positions(8)
    rng = np.random.default_rng(9)
    n_links, n_cross = d.n_links, 25
    c_link = rng.integers(0, n_links, 60)
    c_id = rng.integers(0, n_cross, 60)
    at_node = rng.random(60) < 0.5
    frac = np.where(at_node, 1.0, rng.uniform(0.0, 1.0, 60))
    # a movement's turn: any number per (link, next link), looked up as move_start[link] + out_rank[next]
    move_start = np.arange(n_links, dtype=np.int64) * n_links
    out_rank = np.arange(n_links, dtype=np.int64)
    turns = rng.integers(0, 3, n_links * n_links)
    order = np.argsort(c_link, kind="stable")
    row_start = np.searchsorted(c_link[order], np.arange(n_links + 1)).astype(np.int64)
    rank = np.array([1, 0], dtype=np.int64)
    key, k, crossing, t, speed, link_p, stopped, turning, pos = crossing_pairs(
        d.link,
        d.per,
        d.veh_of,
        d.ent,
        d.ee,
        d.ex,
        d.fft,
        d.held,
        d.length,
        row_start,
        c_id[order],
        at_node[order],
        frac[order],
        d.windows,
        rank,
        n_cross,
        move_start,
        out_rank,
        turns,
        KPH,
        True,
    )
    want = _numpy_pairs(d, c_link, c_id, at_node, frac)
    np.testing.assert_array_equal(pos, want["position"])
    np.testing.assert_array_equal(crossing, want["crossing"])
    np.testing.assert_array_equal(t, want["t"])
    np.testing.assert_array_equal(k, want["period"])
    np.testing.assert_array_equal(stopped, want["stopped"])
    np.testing.assert_array_equal(key, rank[want["period"]] * n_cross + want["crossing"])
    np.testing.assert_array_equal(link_p, d.link[pos])
    np.testing.assert_array_equal(speed, mps_to_kph(d.length[link_p] / d.fft[pos]))
    nxt = want["next"]
    moving = nxt >= 0
    want_turning = np.zeros(len(pos), dtype=bool)
    want_turning[moving] = turns[move_start[link_p[moving]] + out_rank[nxt[moving]]] > 0
    np.testing.assert_array_equal(turning, want_turning)


def test_period_column_is_the_names_of_the_codes() -> None:
    names = np.array(["pm", "am_peak", "ночь", ""], dtype=object)
    k = np.array([1, 0, 2, 3, 1, 1], dtype=np.int32)
    got = pd.Series(_period_column(names, k))
    assert got.tolist() == ["am_peak", "pm", "ночь", "", "am_peak", "am_peak"]
    assert got.dtype == pd.Series(names.astype(str).astype(object)).dtype
    assert len(_period_column(names, k[:0])) == 0
