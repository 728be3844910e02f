"""Compiled passes of the traffic record (numba): the link statistics and the crossing passages of one replication.

Private helper of :mod:`vision_zero.traffic._record`, which documents what is computed; this module holds only the
loops. A full-demand replication of the SCHEMATIC district has ~10 million route positions and ~6 million crossing
passages: numpy's form of the record (a key and a weight gathered per masked position six times, a float sort of
every traversal for the 85th percentiles, per-period masks for the queues, pairs of traversals and crossings built
by gathers) made dozens of passes and temporaries of that length; these loops make a few (#16).

Bit for bit numpy's form, kept in the tests (``tests/traffic/test_record_kernels.py``) and, for the percentiles,
in :func:`vision_zero.traffic._record._weighted_quantile_by_key`:

- every sum is ``np.bincount``'s: float64 terms, each rounded once as numpy's temporary array rounds it, added to a
  zeroed float64 accumulator in position order; no ``fastmath`` (no reassociation, no fused multiply-add);
- the weights are whole vehicles (a platoon's size), so every sum of weights is exact whatever its order: the
  histogram's counts, the queues' open weights and the percentiles' cumulative weights;
- the 85th percentile of a key is numpy's pick from its sort on the composite ``key * span + max(speed, 0)``: the
  composite at the pick is fixed by the weights whatever the order of equal composites, and so is the speed
  unless equal composites hold different speeds (the composite's rounding merged them: numpy's pick then depends
  on its sort's order of ties) or a speed is not finite; :func:`key_stats` then says so and the caller computes
  the percentiles by numpy's form;
- the passages are numpy's pairs, in numpy's order (crossing links by link, stable; each link's traversals in
  position order), each time computed with the same operations.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["crossing_pairs", "key_stats", "link_sums", "period_strings"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: numpy's float64 -> int64 cast of a value outside int64's range (NaN, inf) on x86-64: the "integer indefinite"
_INT64_MIN = np.int64(-9223372036854775808)
_TWO_63 = 9223372036854775808.0


@njit(cache=True, nogil=True, error_model="numpy")
def link_sums(
    link: npt.NDArray[np.integer],
    per: npt.NDArray[np.integer],
    veh_of: npt.NDArray[np.integer],
    size_f: FloatArray,
    ent: FloatArray,
    ex: FloatArray,
    fft: FloatArray,
    length_m: FloatArray,
    limit_kph: FloatArray,
    n_links: int,
    n_keys: int,
    kph_per_mps: float,
    m_per_km: float,
    s_per_hour: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per key (period x link) and per vehicle, the record's sums over route positions, in position order.

    Returns ``(entries, veh_km, veh_h, sum_v, over, vkm, vfree)``: per key over the entered positions (``ent``
    finite) the weight, the weight x speed and the weight of speeds over the limit; over the exited ones (``ex``
    finite) the weight x km and the weight x hours; per vehicle its exited km and its free running time (all
    positions). A position's speed is ``length / fft * kph_per_mps`` (NaN or inf where ``fft`` is 0).
    """
    entries = np.zeros(n_keys)
    veh_km = np.zeros(n_keys)
    veh_h = np.zeros(n_keys)
    sum_v = np.zeros(n_keys)
    over = np.zeros(n_keys)
    nv = len(size_f)
    vkm = np.zeros(nv)
    vfree = np.zeros(nv)
    for p in range(len(link)):
        v = veh_of[p]
        w = size_f[v]
        lk = link[p]
        key = np.int64(per[p]) * n_links + lk
        vfree[v] += fft[p]
        if np.isfinite(ent[p]):
            se = length_m[lk] / fft[p] * kph_per_mps
            entries[key] += w
            sum_v[key] += w * se
            over[key] += w * (1.0 if se > limit_kph[lk] + 1e-9 else 0.0)
        if np.isfinite(ex[p]):
            km = length_m[lk] / m_per_km
            veh_km[key] += w * km
            veh_h[key] += w * (ex[p] - ent[p]) / s_per_hour
            vkm[v] += km
    return entries, veh_km, veh_h, sum_v, over, vkm, vfree


@njit(inline="always")
def _same_bits(a: float, b: float) -> bool:
    """``a`` and ``b`` are the same float64 (signed zeros told apart; neither NaN here)."""
    return a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))


@njit(cache=True, nogil=True, error_model="numpy")
def _group_entered(
    link: npt.NDArray[np.integer],
    per: npt.NDArray[np.integer],
    ent: FloatArray,
    fft: FloatArray,
    length_m: FloatArray,
    n_links: int,
    n_keys: int,
    kph_per_mps: float,
) -> tuple[IntArray, IntArray, float, bool]:
    """The entered positions grouped by key, each key's in position order (a counting sort, stable).

    Returns ``(start, order, span, finite)``: numpy's ``span = max(speed) + 1`` and whether every speed is finite.
    """
    start = np.zeros(n_keys + 1, dtype=np.int64)
    n_in = 0
    top = -np.inf
    finite = True
    for p in range(len(link)):
        if np.isfinite(ent[p]):
            start[np.int64(per[p]) * n_links + link[p] + 1] += 1
            n_in += 1
            se = length_m[link[p]] / fft[p] * kph_per_mps
            if not np.isfinite(se):
                finite = False
            elif se > top:
                top = se
    for k in range(n_keys):
        start[k + 1] += start[k]
    order = np.empty(n_in, dtype=np.int64)
    fill = start[:-1].copy()
    for p in range(len(link)):
        if np.isfinite(ent[p]):
            k = np.int64(per[p]) * n_links + link[p]
            order[fill[k]] = p
            fill[k] += 1
    return start, order, top + 1.0, finite


@njit(inline="always")
def _speed_bin(se: float, bin_kph: float, n_bins: int) -> int:
    """The bin of speed ``se``: ``np.clip(np.floor(se / bin_kph).astype(np.int64), 0, n_bins - 1)`` (on x86-64)."""
    f = np.floor(se / bin_kph)
    b = int(f) if -_TWO_63 <= f < _TWO_63 else int(_INT64_MIN)
    if b < 0:
        return 0
    return b if b < n_bins else n_bins - 1


@njit(cache=True, nogil=True)
def _weighted_pick(
    comp: FloatArray, speed: FloatArray, weight: FloatArray, n: int, q: float, uniform: bool
) -> tuple[float, bool]:
    """The speed at the weighted ``q`` quantile of the ``n`` composites, and whether it is fixed.

    The pick is the first composite, ascending, whose cumulative weight reaches ``q`` of the total less 1e-9; it
    is fixed when every speed under that composite is the same. The cumulative weights are whole vehicles, exact: with equal weights the pick is the ``i``-th smallest
    composite (a selection, no sort).
    """
    total = 0.0
    for j in range(n):
        total += weight[j]
    need = total * q
    need -= 1e-9
    if uniform:
        i = 0
        while i < n - 1 and (i + 1) * weight[0] < need:
            i += 1
        c = np.partition(comp[:n], i)[i]
    else:
        by = np.argsort(comp[:n])
        got = 0.0
        i = 0
        while i < n - 1:
            got += weight[by[i]]
            if got >= need:
                break
            i += 1
        c = comp[by[i]]
    pick = np.nan
    fixed = True
    for j in range(n):
        if comp[j] == c:
            if pick != pick:  # the first speed under the picked composite
                pick = speed[j]
            elif not _same_bits(speed[j], pick):
                fixed = False
    return pick, fixed


@njit(cache=True, nogil=True)
def _max_open(s_us: IntArray, e_us: IntArray, w: FloatArray, n: int, uniform: bool) -> float:
    """The largest weight of the ``n`` intervals ``[s_us, e_us)`` open at once.

    At each start in time order, the weight started so far minus the weight ended at or before it. Whole-vehicle
    weights: exact in any order of equal times (with equal weights, the times alone are sorted).
    """
    if uniform:
        s = np.sort(s_us[:n])
        e = np.sort(e_us[:n])
        ws = np.full(n, w[0])
        we = ws
    else:
        by_start = np.argsort(s_us[:n])
        by_end = np.argsort(e_us[:n])
        s, ws = s_us[:n][by_start], w[:n][by_start]
        e, we = e_us[:n][by_end], w[:n][by_end]
    started = 0.0
    ended = 0.0
    r = 0
    best = 0.0
    for i in range(n):
        started += ws[i]
        while r < n and e[r] <= s[i]:
            ended += we[r]
            r += 1
        if started - ended > best:
            best = started - ended
    return best


@njit(cache=True, nogil=True, error_model="numpy")
def key_stats(
    link: npt.NDArray[np.integer],
    per: npt.NDArray[np.integer],
    veh_of: npt.NDArray[np.integer],
    size_f: FloatArray,
    ent: FloatArray,
    ee: FloatArray,
    ex: FloatArray,
    fft: FloatArray,
    length_m: FloatArray,
    window_close: FloatArray,
    n_links: int,
    n_keys: int,
    kph_per_mps: float,
    q: float,
    bin_kph: float,
    n_bins: int,
) -> tuple[FloatArray, bool, IntArray, FloatArray, FloatArray]:
    """Per key (period x link) over its entered positions: the speeds' weighted ``q`` quantile, histogram and queue.

    Returns ``(quantile, exact, codes, counts, max_queue)``. ``quantile``: per key the smallest speed with at least
    share ``q`` of the weight at or below it (NaN: no entry), numpy's pick (module docstring); ``exact`` False when
    that pick is not fixed (a speed not finite, or different speeds under one composite at a pick): the caller
    then computes the quantiles by numpy's form. ``codes``, ``counts``: the weight per (key, speed bin) that occurs,
    in order of ``key * n_bins + bin``, the bin ``floor(speed / bin_kph)`` as numpy casts it (x86-64) clipped to
    ``0..n_bins - 1``, summed in position order. ``max_queue``: per key the largest weight of intervals
    ``[round(ee * 1e6), round(end * 1e6))`` [us] open at once, ``end`` the exit or, still on the link,
    ``window_close`` of the period, over the positions with ``end > ee`` (the exit queue).
    """
    start, order, span, exact = _group_entered(link, per, ent, fft, length_m, n_links, n_keys, kph_per_mps)
    finite = exact
    quantile = np.full(n_keys, np.nan)
    max_queue = np.zeros(n_keys)
    codes = np.empty(len(order), dtype=np.int64)
    counts = np.empty(len(order))
    scratch = np.zeros(n_bins)
    most = np.max(start[1:] - start[:-1]) if n_keys else 0
    speed, comp, weight, w_q = np.empty(most), np.empty(most), np.empty(most), np.empty(most)
    s_us, e_us = np.empty(most, dtype=np.int64), np.empty(most, dtype=np.int64)
    m = 0
    for k in range(n_keys):
        n = start[k + 1] - start[k]
        if n == 0:
            continue
        n_q = 0
        for j in range(n):
            p = order[start[k] + j]
            se = length_m[link[p]] / fft[p] * kph_per_mps
            speed[j] = se
            weight[j] = size_f[veh_of[p]]
            comp[j] = np.float64(k) * span + max(se, 0.0)
            scratch[_speed_bin(se, bin_kph, n_bins)] += weight[j]
            end = ex[p] if np.isfinite(ex[p]) else window_close[per[p]]
            if end > ee[p]:  # in the exit queue from the end of its running time
                s_us[n_q] = np.int64(np.rint(ee[p] * 1e6))
                e_us[n_q] = np.int64(np.rint(end * 1e6))
                w_q[n_q] = weight[j]
                n_q += 1
        uniform = bool(np.all(weight[:n] == weight[0]))
        for bn in range(n_bins):  # the bins that occur, ascending
            if scratch[bn] != 0.0:
                codes[m] = k * n_bins + bn
                counts[m] = scratch[bn]
                m += 1
                scratch[bn] = 0.0
        if finite:
            quantile[k], fixed = _weighted_pick(comp, speed, weight, n, q, uniform)
            exact = exact and fixed
        if n_q:
            max_queue[k] = _max_open(s_us, e_us, w_q, n_q, uniform)
    return quantile, exact, codes[:m], counts[:m], max_queue


@njit(inline="always")
def _passing_time(
    p: int, node: bool, rest: float, ee: FloatArray, ex: FloatArray, run_s: FloatArray
) -> float:
    """When position ``p`` passes a crossing: its exit at a node, else ``ee - run_s * rest`` (its running time)."""
    return float(ex[p] if node else ee[p] - run_s[p] * rest)


@njit(cache=True, nogil=True, error_model="numpy")
def crossing_pairs(
    link: npt.NDArray[np.integer],
    per: npt.NDArray[np.integer],
    veh_of: npt.NDArray[np.integer],
    ent: FloatArray,
    ee: FloatArray,
    ex: FloatArray,
    run_s: FloatArray,
    held: BoolArray,
    length_m: FloatArray,
    row_start: IntArray,
    row_crossing: IntArray,
    row_at_node: BoolArray,
    row_frac: FloatArray,
    windows: FloatArray,
    period_rank: IntArray,
    n_crossings: int,
    move_start: IntArray,
    out_rank: IntArray,
    turns: IntArray,
    kph_per_mps: float,
    with_position: bool,
) -> tuple[
    IntArray,
    npt.NDArray[np.int32],
    IntArray,
    FloatArray,
    FloatArray,
    IntArray,
    BoolArray,
    BoolArray,
    IntArray,
]:
    """Every (entered traversal, crossing on its link) pair whose passing time is finite, in numpy's order.

    The rows ``row_*`` are the network's crossing links in the order of their link, stable: link ``l``'s are rows
    ``row_start[l]`` to ``row_start[l + 1]``. Each row pairs with the entered positions on its link in position
    order, and the pairs come row by row. A pair's time is the exit ``ex`` at a crossing on a node, else
    ``ee - run_s * (1 - frac)``, less its period's ``windows``. Two passes in position order (a count per row,
    then each pair written to its row's next slot). Returns per pair ``(sort_key, period, crossing, t, speed_kph,
    link, stopped, turning, position)``, ``position`` only ``with_position`` (else empty): ``sort_key`` is ``period_rank[period] * n_crossings + crossing``;
    ``speed_kph`` the running speed ``length_m / run_s * kph_per_mps``; ``stopped`` the vehicle was ``held`` at
    a node's crossing; ``turning`` it leaves the node on a movement with a turn (``turns[move_start[link] +
    out_rank[next link]] > 0``, the next link that of its route's next position).
    """
    n_rows = len(row_crossing)
    fill = np.zeros(n_rows + 1, dtype=np.int64)
    for p in range(len(link)):
        lk = link[p]
        if np.isfinite(ent[p]):
            for j in range(row_start[lk], row_start[lk + 1]):
                if np.isfinite(_passing_time(p, row_at_node[j], 1.0 - row_frac[j], ee, ex, run_s)):
                    fill[j + 1] += 1
    for j in range(n_rows):
        fill[j + 1] += fill[j]
    n = fill[n_rows]
    sort_key = np.empty(n, dtype=np.int64)
    period = np.empty(n, dtype=np.int32)
    crossing = np.empty(n, dtype=np.int64)
    t = np.empty(n)
    speed = np.empty(n)
    link_of = np.empty(n, dtype=np.int64)
    stopped = np.empty(n, dtype=np.bool_)
    turning = np.empty(n, dtype=np.bool_)
    pos = np.empty(n if with_position else 0, dtype=np.int64)
    n_pos = len(link)
    for p in range(n_pos):
        lk = link[p]
        if not np.isfinite(ent[p]) or row_start[lk] == row_start[lk + 1]:
            continue
        k = per[p]
        moving_on = p + 1 < n_pos and veh_of[p + 1] == veh_of[p]
        for j in range(row_start[lk], row_start[lk + 1]):
            node = row_at_node[j]
            tp = _passing_time(p, node, 1.0 - row_frac[j], ee, ex, run_s)
            if not np.isfinite(tp):
                continue
            i = fill[j]
            fill[j] += 1
            sort_key[i] = period_rank[k] * n_crossings + row_crossing[j]
            period[i] = k
            crossing[i] = row_crossing[j]
            t[i] = tp - windows[k]
            speed[i] = length_m[lk] / run_s[p] * kph_per_mps
            link_of[i] = lk
            stopped[i] = node and held[p]
            turning[i] = node and moving_on and turns[move_start[lk] + out_rank[link[p + 1]]] > 0
            if with_position:
                pos[i] = p
    return sort_key, period, crossing, t, speed, link_of, stopped, turning, pos


@njit(cache=True, nogil=True)
def period_strings(
    code: npt.NDArray[np.integer], name_bytes: npt.NDArray[np.uint8], name_end: IntArray
) -> tuple[IntArray, npt.NDArray[np.uint8]]:
    """The buffers of an Arrow (large) string array of the names ``code``: ``(offsets, data)``.

    Name ``c`` is ``name_bytes[name_end[c - 1]:name_end[c]]`` (UTF-8; ``name_end[-1]`` read as 0).
    """
    n = len(code)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        c = code[i]
        offsets[i + 1] = offsets[i] + name_end[c] - (name_end[c - 1] if c > 0 else 0)
    data = np.empty(offsets[n], dtype=np.uint8)
    for i in range(n):
        c = code[i]
        a = name_end[c - 1] if c > 0 else 0
        o = offsets[i]
        for b in range(name_end[c] - a):
            data[o + b] = name_bytes[a + b]
    return offsets, data
