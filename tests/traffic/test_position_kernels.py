"""The compiled per-position passes give numpy's numbers bit for bit (by hand first, then against numpy's form)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vision_zero.traffic._position_kernels import (
    carried_values,
    edge_ids,
    lex_order,
    replace_routes,
    route_costs,
    route_turns,
    slice_costs,
    stable_order,
)
from vision_zero.traffic.routing import slice_of

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def test_slice_costs_by_hand() -> None:
    # one period from t = 100 s, slices of 60 s (2 rows), 2 links, 3 movement/start edges
    # vehicle 0 (size 1): link 0 entered at 110 left at 130 (row 0, 20 s) by edge 1, link 1 entered 130 left 200
    #   (row 0, 70 s) by edge 0; vehicle 1 (size 2): link 0 entered 170, still on it at the close 250 (row 1, 80 s)
    #   by edge 1; vehicle 2 (size 1): link 1, never entered
    ptr = np.array([0, 2, 3, 4])
    links = np.array([0, 1, 0, 1], dtype=np.int32)
    ent = np.array([110.0, 130.0, 170.0, np.nan])
    ex = np.array([130.0, 200.0, np.nan, np.nan])
    edges = np.array([1, 0, 1, 2])
    mean, turn_s = slice_costs(
        ptr,
        links,
        ent,
        ex,
        edges,
        np.zeros(3, dtype=np.int64),
        np.array([1, 2, 1]),
        np.array([100.0]),
        np.array([250.0]),
        np.array([0]),
        np.array([2]),
        60.0,
        np.array([5.0, 6.0]),
        2,
        3,
    )
    # row 0: link 0 20 s, link 1 70 s; row 1: link 0 80 s, link 1 nobody (its empty time 6 s)
    np.testing.assert_array_equal(mean, [20.0, 70.0, 80.0, 6.0])
    # each traversal is its row's only one: every deviation is 0; edge 2 carried nobody
    np.testing.assert_array_equal(turn_s, [0.0, 0.0, 0.0])


def test_slice_costs_deviation_by_movement_by_hand() -> None:
    # two vehicles on link 0 in the same slice, 10 s and 40 s, entering by edges 0 and 1: mean 25 s, so edge 0's
    # vehicle is 15 s faster than the slice's mean and edge 1's 15 s slower; the second is a platoon of 3, so the
    # mean is (10 + 3 x 40) / 4 = 32.5 s
    ptr = np.array([0, 1, 2])
    links = np.array([0, 0], dtype=np.int32)
    args = (np.array([0.0, 5.0]), np.array([10.0, 45.0]), np.array([0, 1]), np.zeros(2, dtype=np.int64))
    rest = (np.array([0.0]), np.array([100.0]), np.array([0]), np.array([1]), 60.0, np.array([1.0]), 1, 2)
    mean, turn_s = slice_costs(ptr, links, *args, np.array([1, 1]), *rest)
    np.testing.assert_array_equal(mean, [25.0])
    np.testing.assert_array_equal(turn_s, [-15.0, 15.0])
    mean, turn_s = slice_costs(ptr, links, *args, np.array([1, 3]), *rest)
    np.testing.assert_array_equal(mean, [32.5])
    np.testing.assert_array_equal(turn_s, [-22.5, 7.5])


def test_route_passes_by_hand() -> None:
    ptr = np.array([0, 2, 2, 5])  # routes [3, 1], [], [0, 2, 1]
    links = np.array([3, 1, 0, 2, 1], dtype=np.int32)
    move_start = np.array([0, 2, 4, 6])  # two movements per link
    out_rank = np.array([0, 1, 0, 1])
    edges = edge_ids(ptr, links, move_start, out_rank, 8)
    np.testing.assert_array_equal(edges, [8 + 3, 6 + 1, 8 + 0, 0 + 0, 4 + 1])
    cost = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    row = np.array([0, 1, 1])
    plain = route_costs(ptr, links, row, cost, np.zeros(0), np.zeros(0, dtype=np.int64), False, 1e-6)
    np.testing.assert_array_equal(plain, [6.0, 0.0, 60.0])
    extra = np.zeros(12)
    extra[7] = 5.0
    extra[0] = -100.0  # lowers an edge's cost to the floor, never below
    with_extra = route_costs(ptr, links, row, cost, extra, edges, True, 1e-6)
    np.testing.assert_array_equal(with_extra, [11.0, 0.0, 10.0 + 1e-6 + 20.0])
    turns = route_turns(ptr, edges, np.array([0, 1, 2, 0, 1, 1, 0, 2]))
    np.testing.assert_array_equal(turns, [2, 0, 1])  # start edges (>= 8) have no turn
    take_new = np.array([False, True, True])
    new_ptr = np.array([0, 2, 3, 4])
    out = np.empty(4, dtype=np.int64)
    replace_routes(
        ptr, links, np.array([0, 1, 2, 3]), np.array([9, 7, 8], dtype=np.int64), take_new, new_ptr, out
    )
    np.testing.assert_array_equal(out, [3, 1, 7, 8])
    values, todo = carried_values(ptr, new_ptr, ~take_new, np.array([0.5, 1.5, 2.5, 3.5, 4.5]))
    np.testing.assert_array_equal(todo, [False, False, True, True])
    np.testing.assert_array_equal(values[:2], [0.5, 1.5])


def _numpy_slice_costs(
    ptr: I64,
    links: I64,
    ent: F64,
    ex: F64,
    edges: I64,
    period: I64,
    size: I64,
    windows: F64,
    close: F64,
    offset: I64,
    count: I64,
    slice_s: float,
    empty_s: F64,
    n_rows: int,
    n_edges: int,
) -> tuple[F64, F64]:
    """_network_loading._slice_costs as numpy computed it before the compiled pass (main db44330)."""
    n_links = len(empty_s)
    entered = np.isfinite(ent)
    veh_of = np.repeat(np.arange(len(period), dtype=np.int32), np.diff(ptr))[entered]
    per = period[veh_of]
    e_ent = ent[entered]
    e_ex = ex[entered]
    tt = np.where(np.isfinite(e_ex), e_ex, close[per]) - e_ent
    sl = slice_of(e_ent - windows[per], slice_s, 1 << 62)
    row = np.minimum(offset[per] + sl, offset[per] + count[per] - 1)
    key = row * n_links + links[entered]
    w = size[veh_of].astype(np.float64)
    cnt = np.bincount(key, weights=w, minlength=n_rows * n_links)
    tot = np.bincount(key, weights=tt * w, minlength=n_rows * n_links)
    mean = np.where(cnt > 0, tot / np.maximum(cnt, 1e-300), np.tile(empty_s, n_rows))
    dev = tt - mean[key]
    e = edges[entered]
    e_cnt = np.bincount(e, weights=w, minlength=n_edges)
    turn_s = np.bincount(e, weights=dev * w, minlength=n_edges) / np.maximum(e_cnt, 1e-300)
    return mean, np.where(e_cnt > 0, turn_s, 0.0)


def test_compiled_passes_equal_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    n_veh, n_links, n_edges = 3000, 50, 400
    lens = rng.integers(0, 12, n_veh)
    ptr = np.zeros(n_veh + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    npos = int(ptr[-1])
    links = rng.integers(0, n_links, npos).astype(np.int32)
    period = rng.integers(0, 2, n_veh)
    size = rng.integers(1, 4, n_veh)
    windows, close = np.array([0.0, 9000.0]), np.array([9000.0, 16000.0])
    offset, count = np.array([0, 4]), np.array([4, 3])
    ent = windows[np.repeat(period, lens)] + rng.uniform(-5.0, 9000.0, npos)  # a few before the window
    ent[rng.random(npos) < 0.1] = np.nan
    ex = ent + rng.exponential(60.0, npos)
    ex[rng.random(npos) < 0.1] = np.nan
    edges = rng.integers(0, n_edges, npos)
    empty_s = rng.uniform(1.0, 30.0, n_links)
    args = (
        ptr,
        links,
        ent,
        ex,
        edges,
        period,
        size,
        windows,
        close,
        offset,
        count,
        1800.0,
        empty_s,
        7,
        n_edges,
    )
    got = slice_costs(*args)
    want = _numpy_slice_costs(*args)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    # route costs: numpy's gather, floor and bincount
    cost = got[0].reshape(7, n_links)
    row = offset[period] + rng.integers(0, 3, n_veh)
    owner = np.repeat(np.arange(n_veh), lens)
    per = np.maximum(cost[row[owner], links] + got[1][edges], 1e-6)
    want_cost = np.bincount(owner, weights=per, minlength=n_veh)
    np.testing.assert_array_equal(route_costs(ptr, links, row, cost, got[1], edges, True, 1e-6), want_cost)


def test_record_passes_by_hand() -> None:
    keys = np.array([2, 0, 2, 1, 0])
    np.testing.assert_array_equal(stable_order(keys, 3), [1, 4, 3, 0, 2])
    # by key, then value, then index: key 0 holds 1 (5.0) and 4 (5.0): a tie kept in index order
    np.testing.assert_array_equal(lex_order(keys, 3, np.array([1.0, 5.0, 0.5, 9.0, 5.0])), [1, 4, 3, 2, 0])


def test_record_passes_equal_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    n, n_keys = 20000, 300
    keys = rng.integers(0, n_keys, n)
    np.testing.assert_array_equal(stable_order(keys, n_keys), np.argsort(keys, kind="stable"))
    t = np.round(rng.uniform(0.0, 50.0, n), 1)  # many exact ties
    np.testing.assert_array_equal(lex_order(keys, n_keys, t), np.lexsort((t, keys)))
