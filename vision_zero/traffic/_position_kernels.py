"""Compiled passes over route positions (numba): the equilibrium's bookkeeping between two simulations.

Private helper of :mod:`vision_zero.traffic.routing` and :mod:`vision_zero.traffic.simulation`, which document
what is computed; this module holds only the loops. A city's day has tens of millions of route positions (vehicle x
link): numpy's form of these steps (``np.repeat`` of an owner per position, gathers, masks, ``np.bincount``) makes
a dozen passes and temporaries of that length each, a loop here makes one or two. Every sum is accumulated in
position order, as ``np.bincount`` does, and every value is computed with the same floating-point operations in
the same order, so the results are bit for bit numpy's (no ``fastmath``: no reassociation, no fused multiply-add).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "carried_values",
    "edge_ids",
    "lex_order",
    "replace_routes",
    "route_costs",
    "route_turns",
    "slice_costs",
    "stable_order",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@njit(cache=True, nogil=True)
def edge_ids(
    ptr: IntArray, links: npt.NDArray[np.integer], move_start: IntArray, out_rank: IntArray, n_movements: int
) -> IntArray:
    """Per route position, the turn-graph edge that enters it (``Router.edge_ids``).

    A route's first position (and position 0, and any position where ``ptr`` starts a route) has its start edge
    ``n_movements + link``; every other position the movement ``move_start[previous link] + out_rank[link]``.
    """
    n = len(links)
    start = np.zeros(n, dtype=np.bool_)
    if n:
        start[0] = True
    for r in range(1, len(ptr) - 1):
        p = ptr[r]
        if 0 < p < n:
            start[p] = True
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        if start[i]:
            out[i] = n_movements + np.int64(links[i])
        else:
            out[i] = move_start[links[i - 1]] + out_rank[links[i]]
    return out


@njit(cache=True, nogil=True)
def route_costs(
    ptr: IntArray,
    links: npt.NDArray[np.integer],
    row: IntArray,
    cost_s: FloatArray,
    edge_extra_s: FloatArray,
    edges: IntArray,
    with_extra: bool,
    min_cost_s: float,
) -> FloatArray:
    """Per route, the sum over its positions of ``cost_s[row[route], link]`` (``routing.route_cost_s``).

    With ``with_extra`` each position's cost is first ``max(cost + edge_extra_s[edges[position]], min_cost_s)``
    (numpy's ``maximum``: a NaN stays NaN). Summed from 0 in driving order, as ``np.bincount`` sums.
    """
    n = len(ptr) - 1
    out = np.zeros(n)
    for r in range(n):
        acc = 0.0
        for i in range(ptr[r], ptr[r + 1]):
            c = cost_s[row[r], links[i]]
            if with_extra:
                c = c + edge_extra_s[edges[i]]
                if c < min_cost_s:
                    c = min_cost_s
            acc += c
        out[r] = acc
    return out


@njit(cache=True, nogil=True)
def route_turns(ptr: IntArray, edges: IntArray, turns_of_movement: IntArray) -> IntArray:
    """Per route, the turns of the movements entering its positions (start edges: none; ``Router.turns``)."""
    n = len(ptr) - 1
    n_movements = len(turns_of_movement)
    out = np.zeros(n, dtype=np.int64)
    for r in range(n):
        acc = 0
        for i in range(ptr[r], ptr[r + 1]):
            e = edges[i]
            if e < n_movements:
                acc += turns_of_movement[e]
        out[r] = acc
    return out


@njit(cache=True, nogil=True)
def replace_routes(
    ptr: IntArray,
    links: npt.NDArray[np.integer],
    other_ptr: IntArray,
    other_links: npt.NDArray[np.integer],
    take_new: BoolArray,
    new_ptr: IntArray,
    out: npt.NDArray[np.integer],
) -> None:
    """Fill ``out`` (positions of ``new_ptr``) with each route's links: from ``other`` where ``take_new``, else kept."""
    for r in range(len(take_new)):
        d0 = new_ptr[r]
        if take_new[r]:
            s0 = other_ptr[r]
            for j in range(new_ptr[r + 1] - d0):
                out[d0 + j] = other_links[s0 + j]
        else:
            s0 = ptr[r]
            for j in range(new_ptr[r + 1] - d0):
                out[d0 + j] = links[s0 + j]


@njit(cache=True, nogil=True)
def carried_values(
    old_ptr: IntArray, new_ptr: IntArray, keep: BoolArray, values: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Per position of the new routes: ``values`` at the same position of a kept route (``_network_loading.carried``).

    Returns the carried values (unset where the route is not kept) and the mask of the positions not carried.
    """
    npos = new_ptr[len(new_ptr) - 1]
    out = np.empty(npos)
    todo = np.empty(npos, dtype=np.bool_)
    for r in range(len(keep)):
        a, b = new_ptr[r], new_ptr[r + 1]
        if keep[r]:
            shift = old_ptr[r] - a
            for i in range(a, b):
                out[i] = values[i + shift]
                todo[i] = False
        else:
            for i in range(a, b):
                todo[i] = True
    return out, todo


@njit(inline="always")
def _row_of(ent: float, window: float, slice_s: float, offset: int, count: int) -> int:
    """The cost row of an entry at ``ent`` [s] in a period starting at ``window`` (``routing.slice_of``, clipped)."""
    s = np.floor((ent - window) / slice_s)
    if not s > 0.0:  # negative, or NaN (``slice_of``'s nan_to_num): the first slice
        return offset
    if s >= count - 1:
        return offset + count - 1
    return offset + int(s)


@njit(cache=True, nogil=True)
def slice_costs(
    ptr: IntArray,
    links: npt.NDArray[np.integer],
    ent: FloatArray,
    ex: FloatArray,
    edges: IntArray,
    period: IntArray,
    size: IntArray,
    windows: FloatArray,
    close: FloatArray,
    offset: IntArray,
    count: IntArray,
    slice_s: float,
    empty_s: FloatArray,
    n_rows: int,
    n_edges: int,
) -> tuple[FloatArray, FloatArray]:
    """Mean link time per (cost row, link) and each movement's mean extra time (``_network_loading._slice_costs``).

    Over the positions that were entered (``ent`` finite), weighted by their vehicle's ``size``: a traversal's time
    is ``ex - ent`` (``close`` of its period where it had not left), its row the slice of its entry. Returns
    ``(mean, turn_s)``: ``mean`` flat, ``n_rows x len(empty_s)`` (``empty_s`` where nobody entered); ``turn_s`` per
    turn-graph edge, the weighted mean of ``time - mean of its row and link`` over the traversals it entered (0
    where none). Two passes in position order: the sums are ``np.bincount``'s.
    """
    n_links = len(empty_s)
    size_keys = n_rows * n_links
    cnt = np.zeros(size_keys)
    tot = np.zeros(size_keys)
    for v in range(len(ptr) - 1):
        p = period[v]
        w = np.float64(size[v])
        for i in range(ptr[v], ptr[v + 1]):
            e = ent[i]
            if not np.isfinite(e):
                continue
            x = ex[i]
            tt = (x if np.isfinite(x) else close[p]) - e
            key = _row_of(e, windows[p], slice_s, offset[p], count[p]) * n_links + links[i]
            cnt[key] += w
            tot[key] += tt * w
    mean = np.empty(size_keys)
    for key in range(size_keys):
        if cnt[key] > 0:
            mean[key] = tot[key] / max(cnt[key], 1e-300)
        else:
            mean[key] = empty_s[key % n_links]
    e_cnt = np.zeros(n_edges)
    e_dev = np.zeros(n_edges)
    for v in range(len(ptr) - 1):
        p = period[v]
        w = np.float64(size[v])
        for i in range(ptr[v], ptr[v + 1]):
            e = ent[i]
            if not np.isfinite(e):
                continue
            x = ex[i]
            tt = (x if np.isfinite(x) else close[p]) - e
            key = _row_of(e, windows[p], slice_s, offset[p], count[p]) * n_links + links[i]
            g = edges[i]
            e_cnt[g] += w
            e_dev[g] += (tt - mean[key]) * w
    turn_s = np.zeros(n_edges)
    for g in range(n_edges):
        if e_cnt[g] > 0:
            turn_s[g] = e_dev[g] / max(e_cnt[g], 1e-300)
    return mean, turn_s


@njit(cache=True, nogil=True)
def stable_order(keys: npt.NDArray[np.integer], n_keys: int) -> IntArray:
    """The permutation that sorts ``keys`` (ints in ``0..n_keys - 1``) ascending, equal keys in index order.

    ``np.argsort(keys, kind="stable")`` by a counting sort: linear in ``len(keys) + n_keys``.
    """
    start = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(len(keys)):
        start[keys[i] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    out = np.empty(len(keys), dtype=np.int64)
    for i in range(len(keys)):
        k = keys[i]
        out[start[k]] = i
        start[k] += 1
    return out


@njit(cache=True, nogil=True)
def lex_order(keys: npt.NDArray[np.integer], n_keys: int, values: FloatArray) -> IntArray:
    """The permutation that sorts by ``keys`` (ints in ``0..n_keys - 1``), then ``values``, then index.

    ``np.lexsort((values, keys))`` when ``values`` has no NaN: a counting sort by key, then a stable (merge) sort
    of each key's values.
    """
    order = stable_order(keys, n_keys)
    n = len(order)
    i = 0
    while i < n:
        k = keys[order[i]]
        j = i + 1
        while j < n and keys[order[j]] == k:
            j += 1
        if j - i > 1:
            idx = order[i:j].copy()
            within = np.argsort(values[idx], kind="mergesort")
            for q in range(j - i):
                order[i + q] = idx[within[q]]
        i = j
    return order
