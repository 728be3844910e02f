"""Compiled kernels of the traffic stage (numba): targeted shortest-route trees over the turn graph.

Private helper of :mod:`vision_zero.traffic.routing`, which documents the graph and the tie-breaking; this module
holds only the compiled search. One Dijkstra tree per (origin, cost vector), grown only until every destination
of that tree's trips is settled (a targeted search: the frontier stops at the farthest destination instead of
covering the whole network), with a binary heap (lazy deletion) and state reset only on the vertices a tree
touched. Vertices are settled in (distance, vertex id) order, so a route is defined whatever the heap: among
exactly equal costs (left after :mod:`~vision_zero.traffic.routing`'s tie-break terms) a vertex keeps the
predecessor settled first, i.e. of least (distance, id).

A destination node is reached through any of its entering links; the route ends on the entering link of least
distance (the first in link-id order among equal ones). The search stops once one entering link of every
destination is settled: any other entering link at that distance already carries its final distance and
predecessor (Dijkstra never lowers a vertex below the last settled distance), so the pick equals a full tree's.
With per-trip limits (a variant's band thresholds) a tree also stops once the next vertex lies beyond the largest
limit of the destinations still unsettled: those trips get ``inf``; every settled destination's pick is still a
full tree's, by the same argument.

The heap is 1-based, so two siblings share a 32-byte pair of rows, and its sift-down adds the comparison of the two
children's distances to the index instead of branching on it (the branch is a coin flip to the CPU), their vertex ids
only on an exact tie: same pops in the same order, the city's captured AM-peak calls 0.81-0.86x the CPU-s
(benchmarks/README.md, "The city's AM peak, 2 December"). After a pop the next vertex's edges (and, in a tree that
prunes, its landmark rows) are prefetched while the popped vertex's are relaxed: with the distances-only comparison
0.73x again (benchmarks/README.md, "The trees' kernel at city scale").

What was tried and not kept (same routes, no measurable gain on the district's equilibrium calls, load ~8): an
indexed heap with decrease-key, a 4-ary heap (again on the city with the distances-only comparison: 0.96x against
the binary heap's), a radix heap on the distances' bit patterns, edges padded to one 64-byte line per vertex (no
better than the prefetch on the CSR arrays), and link vertices
renumbered in Morton order of their midpoints with ties still on the original ids (slower: the generator's
order already keeps neighbours close). Keeping a
slice's trees from one equilibrium iteration to the next does not pay either: between iterations 33-57% of a
slice's link costs change on the district's AM peak, and on the small preset's four periods (night: 9-11% of
link costs, but 51-56% of edge weights with the movements' extra times) at most 1 tree of 374-935 per slice
relaxed no changed edge before it stopped. A* with landmarks (ALT: 4-16 landmarks on the rim, exact forward and
backward trees per call, the potential the least over a tree's destination nodes of the landmark bounds) gives the
same costs and settles ~5,600-5,800 vertices per tree on the district's first slice, but the trees cost 1.5-3x
the CPU (3.8-7.6 s against 2.4-2.6 s for 1,810 trees, load ~10): a tree has ~6 destinations spread over the map,
so the least bound over them is weak and costs destinations x landmarks per vertex reached.

Landmark pruning (a settled vertex whose bounds put every destination still wanted beyond its limit is not
expanded) is used only in trees whose trips all have a limit, the band search's stop-at-threshold trees with a
few drivers each after the bounds set most aside (city AM: their CPU -24 to -52% after the first band search).
Tried and not kept: the same pruning in the gap's trees, with each trip's limit its route's cost less
``SAME_COST_S`` (exact: a best route that saves no more counts as none), ~22 trips a tree: the city AM's
equilibrium searches took 8.6-11.4 CPU-s against ~5.5 (benchmarks/README.md, "The band search's cost").

Reference: Dijkstra, E. W. (1959). A note on two problems in connexion with graphs. Numerische Mathematik 1,
269-271.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["VERTEX_DTYPE", "full_trees", "targeted_trees"]

#: Vertex, edge and link ids of the turn graph and the routes (4 bytes: up to 2**31 - 1 links and movements,
#: far above a city's ~10**6; half the memory traffic of int64 in the search, measured ~15% faster).
VERTEX_DTYPE = np.int32
I32 = npt.NDArray[np.int32]


def prefetch_codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    """LLVM for ``prefetch(arr, *indices)``: a read hint for the cache line of ``arr[indices]`` (``llvm.prefetch``).

    A hint only: it changes no value (no bounds check is needed: an x86 prefetch of any address never faults).
    The code generator of :func:`_prefetch` here and of :mod:`vision_zero.traffic._loop_kernel`'s two-index one.
    """
    aryty = signature.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    idx = [context.cast(builder, a, t, types.intp) for a, t in zip(args[1:], signature.args[1:], strict=True)]
    ptr = cgutils.get_item_pointer2(
        context,
        builder,
        data=ary.data,
        shape=cgutils.unpack_tuple(builder, ary.shape),  # type: ignore[no-untyped-call]
        strides=cgutils.unpack_tuple(builder, ary.strides),  # type: ignore[no-untyped-call]
        layout=aryty.layout,
        inds=idx,
        wraparound=False,
        boundscheck=False,
    )
    i32 = ir.IntType(32)
    i8p = ir.IntType(8).as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")  # type: ignore[no-untyped-call]
    # read, keep in every cache level, data cache
    builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
    return context.get_dummy_value()


def _prefetch_intrinsic(typingctx: Any, arr: Any, i: Any) -> Any:
    """Hint the CPU to bring the cache line of ``arr[i]`` in ahead of its use (:func:`prefetch_codegen`)."""
    return types.void(arr, i), prefetch_codegen


#: ``_prefetch(arr, i)`` in compiled code: fetch the cache line of ``arr[i]`` ahead of its use
_prefetch = cast(Callable[[npt.NDArray[Any], np.uint64], None], intrinsic(_prefetch_intrinsic))


@njit(inline="always")
def _precedes(k1: float, v1: float, k2: float, v2: float) -> bool:
    """Heap order: entry ``(k1, v1)`` comes before ``(k2, v2)`` (distance, then vertex id)."""
    return k1 < k2 or (k1 == k2 and v1 < v2)


#: Heap positions and vertex ids in the hot loop are unsigned: numba wraps a negative index of a signed integer
#: (a compare and a branch on every array access) and compiles nothing of the kind for an unsigned one. The heap
#: is 1-based (root at row 1, children of ``i`` at ``2i`` and ``2i + 1``): two siblings' 16-byte entries then
#: share one 32-byte-aligned pair of rows, never two cache lines.
_ONE = np.uint64(1)


@njit(inline="always")
def _sift_up(h: npt.NDArray[np.float64], i: np.uint64, kk: float, vv: float) -> None:
    """Place entry ``(kk, vv)`` at the free slot ``i`` of the heap, moving it up past every parent it precedes."""
    while i > _ONE:
        parent = i >> _ONE
        if _precedes(h[parent, 0], h[parent, 1], kk, vv):
            break
        h[i, 0] = h[parent, 0]
        h[i, 1] = h[parent, 1]
        i = parent
    h[i, 0] = kk
    h[i, 1] = vv


@njit(inline="always")
def _sift_down(h: npt.NDArray[np.float64], n_heap: int, kk: float, vv: float) -> None:
    """Place entry ``(kk, vv)`` into the heap ``h[1:n_heap + 1]`` whose root is free (after a pop).

    Bottom-up (Floyd): the free slot follows the lesser child down to a leaf, then the entry, usually a late one,
    moves up from there. Per level the two children's distances are compared once and the outcome added to the
    index instead of branched on (the branch was a coin flip to the CPU); their vertex ids only where the
    distances are exactly equal, a branch almost never taken, so the chain of dependent instructions from one
    level's loads to the next level's address stays short: that chain is the pop's cost (the city's heap holds
    ~350 entries, in L1). The entries are distinct (a vertex is pushed once per strictly lower distance), so any
    heap pops them in the same order.
    """
    n = np.uint64(n_heap)
    i = _ONE
    while True:
        c = i << _ONE
        if c > n:
            break
        if c < n:
            left = h[c, 0]
            right = h[c + _ONE, 0]
            if right == left:  # exactly equal distances (rare): the vertex id decides
                c += np.uint64(h[c + _ONE, 1] < h[c, 1])
            else:
                c += np.uint64(right < left)
        h[i, 0] = h[c, 0]
        h[i, 1] = h[c, 1]
        i = c
    _sift_up(h, i, kk, vv)


@njit(inline="always")
def _beyond_every_limit(
    k: float,
    u: np.uint64,
    dests: npt.NDArray[np.int64],
    n_dests: int,
    want: npt.NDArray[np.bool_],
    node_limit: npt.NDArray[np.float64],
    to_landmark: npt.NDArray[np.float64],
    from_landmark: npt.NDArray[np.float64],
    to_landmark_end: npt.NDArray[np.float64],
    from_landmark_end: npt.NDArray[np.float64],
    margin: float,
) -> bool:
    """Whether vertex ``u``, settled at distance ``k``, lies on no route within the limit of a wanted destination.

    For each destination ``d`` still wanted: ``k`` plus the landmark lower bound of the cost from ``u`` to ``d``
    (``max over landmarks L of max(B_L(u) - B_L(d), F_L(d) - F_L(u))``, less ``margin``) exceeds ``d``'s limit.
    NaN terms (a landmark reaching neither) give no bound.
    """
    for j in range(n_dests):
        d = np.uint64(dests[j])
        if not want[d]:
            continue
        lim = node_limit[d]
        # every landmark's verdict, or-ed without a branch per landmark or an early exit (a vertex that none
        # proves, the usual case near a tree's destinations, ran to the end anyway); unsigned indices: no
        # negative-index wrap
        proven = False
        for m in range(np.uint64(to_landmark.shape[1])):
            lb = to_landmark[u, m] - to_landmark_end[d, m]
            lf = from_landmark_end[d, m] - from_landmark[u, m]
            proven |= k + ((lf if lf > lb else lb) - margin) > lim
        if not proven:
            return False
    return True


@njit(cache=True, nogil=True)
def targeted_trees(  # noqa: C901 (one compiled loop)
    indptr: I32,
    cols: I32,
    weight: npt.NDArray[np.float64],
    n_links: int,
    in_ptr: I32,
    in_links: I32,
    tree_source: I32,
    tree_ptr: npt.NDArray[np.int64],
    trip_origin: I32,
    trip_dest: I32,
    walk: npt.NDArray[np.bool_],
    limit: npt.NDArray[np.float64],
    to_landmark: npt.NDArray[np.float64],
    from_landmark: npt.NDArray[np.float64],
    to_landmark_end: npt.NDArray[np.float64],
    from_landmark_end: npt.NDArray[np.float64],
    margin: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64], I32, int]:
    """Best cost and route of every trip, one targeted tree per group of trips with the same origin.

    Parameters
    ----------
    indptr, cols, weight
        The turn graph in CSR form (vertices: links ``0..n_links-1``, then one source vertex per node).
    in_ptr, in_links
        Per node, the links entering it (CSR, ascending link id).
    tree_source
        Per tree, its source vertex (``n_links + origin node``).
    tree_ptr
        Per tree, its trips are ``tree_ptr[t]:tree_ptr[t + 1]`` of the trip arrays.
    trip_origin, trip_dest
        Per trip (grouped by tree), origin and destination node.
    walk
        Per trip, whether its route's links are wanted (else only its cost).
    limit
        Per trip, the cost beyond which its best route is not wanted (``inf``: always wanted). A tree stops as soon
        as the next vertex to settle lies beyond the largest limit of the destinations it has not yet settled
        (a stop-at-threshold tree): those trips' best routes cost more than their limits, and they get ``inf``
        and no route. Every trip whose best route costs at most its limit gets exactly the cost and route of a
        full tree; every other trip ``inf`` and no route.
    to_landmark, from_landmark
        Shape ``(vertices, landmarks)``: each vertex's cost to and from each landmark (ALT, Goldberg and
        Harrelson 2005), or zero landmarks (no pruning). In a tree whose trips all have finite limits, a settled
        vertex from which a landmark lower bound proves every destination still wanted beyond its limit is not
        expanded (its edges are not relaxed): no route within a limit passes through it.
    to_landmark_end, from_landmark_end
        Shape ``(nodes, landmarks)``: per destination node, the largest cost to each landmark and the least from
        it over the links entering the node (a route ends on any of them).
    margin
        Subtracted from every landmark bound (rounding: far above the floating-point error of the costs).

    Returns
    -------
    best, n_hops, start, buf, settled
        Per trip its cost (0 when origin is destination, inf when unreachable or beyond its limit), number of
        links on its route and where the route starts in ``buf`` (links in driving order); and the vertices the
        trees settled, in all (a measure of the work).
    """
    n_vert = len(indptr) - 1
    n_trip = len(trip_dest)
    dist = np.full(n_vert, np.inf)
    pred = np.full(n_vert, -1, dtype=np.int32)
    touched = np.empty(n_vert, dtype=np.int32)
    n_nodes = len(in_ptr) - 1
    want = np.zeros(n_nodes, dtype=np.bool_)  # destination node still to be reached in this tree
    node_limit = np.full(n_nodes, -np.inf)  # per wanted destination node: the largest limit of its trips
    node_of_link = np.full(n_links, -1, dtype=np.int32)  # the node a link enters (its end node)
    for node in range(n_nodes):
        for j in range(in_ptr[node], in_ptr[node + 1]):
            node_of_link[in_links[j]] = node
    cap = len(cols) + 1
    # the heap: one 16-byte entry per row, (distance, vertex id as float64: exact below 2**53), so a sift step
    # moves one entry in one cache line instead of two arrays' entries; rows 1..n_heap (1-based, see _ONE)
    heap = np.empty((cap + 2, 2), dtype=np.float64)
    best = np.full(n_trip, np.inf)
    n_hops = np.zeros(n_trip, dtype=np.int64)
    start = np.zeros(n_trip, dtype=np.int64)
    buf = np.empty(max(16, 8 * n_trip), dtype=np.int32)
    used = 0
    n_links_u = np.uint64(n_links)
    n_marks = to_landmark.shape[1]
    to_flat = to_landmark.reshape(to_landmark.size)  # the same rows, flat (for the prefetch hints)
    from_flat = from_landmark.reshape(from_landmark.size)
    dests = np.empty(max(1, n_trip), dtype=np.int64)  # the tree's distinct destination nodes
    settled = 0
    for t in range(len(tree_source)):
        a, b = tree_ptr[t], tree_ptr[t + 1]
        remaining = 0
        stop_at = -np.inf  # the largest limit over the destinations still wanted
        for i in range(a, b):
            d = trip_dest[i]
            if d != trip_origin[i]:
                if not want[d]:
                    want[d] = True
                    dests[remaining] = d
                    remaining += 1
                if limit[i] > node_limit[d]:
                    node_limit[d] = limit[i]
                if limit[i] > stop_at:
                    stop_at = limit[i]
        n_dests = remaining
        # prune with the landmark bounds only where every trip has a limit (a tree of the gap sample grows in full)
        prune = n_marks > 0 and stop_at < np.inf
        n_touched = 0
        src = tree_source[t]
        if remaining > 0:
            dist[src] = 0.0
            touched[0] = src
            n_touched = 1
            heap[1, 0] = 0.0
            heap[1, 1] = src
            n_heap = 1
            while n_heap > 0:
                k = heap[1, 0]
                u = np.uint64(heap[1, 1])
                # pop the root: sift the last entry down from the top
                n_heap -= 1
                if n_heap > 0:
                    _sift_down(heap, n_heap, heap[n_heap + 1, 0], heap[n_heap + 1, 1])
                if k > dist[u]:  # a stale entry: u was reached at a lower distance and settled from that one
                    continue
                if k > stop_at:  # every destination still wanted costs more than its limit
                    break
                settled += 1
                if u < n_links_u:
                    node = node_of_link[u]
                    if want[node]:
                        want[node] = False
                        remaining -= 1
                        if remaining == 0:
                            break
                        if node_limit[node] >= stop_at:  # the farthest limit was this node's: the next one
                            stop_at = -np.inf
                            for i in range(a, b):
                                d = trip_dest[i]
                                if want[d] and node_limit[d] > stop_at:
                                    stop_at = node_limit[d]
                # settled, not expanded: no route within a limit passes through u
                if prune and _beyond_every_limit(
                    k,
                    u,
                    dests,
                    n_dests,
                    want,
                    node_limit,
                    to_landmark,
                    from_landmark,
                    to_landmark_end,
                    from_landmark_end,
                    margin,
                ):
                    continue
                # the next vertex to settle is the heap's root (unless a push below precedes it): ask for its edges
                # now, so their cache lines (a vertex's edges lie anywhere in the city's ~1.3 MB of them) arrive
                # while this vertex's are relaxed; a hint, no value changes
                if n_heap > 0:
                    nxt = np.uint64(heap[1, 1])
                    ahead = np.uint64(indptr[nxt])
                    _prefetch(cols, ahead)
                    _prefetch(weight, ahead)
                    if prune:  # and its rows of landmark costs (two 16-landmark rows: 2 x 128 bytes)
                        row = nxt * np.uint64(n_marks)
                        _prefetch(to_flat, row)
                        _prefetch(to_flat, row + np.uint64(n_marks // 2))
                        _prefetch(to_flat, row + np.uint64(n_marks - 1))
                        _prefetch(from_flat, row)
                        _prefetch(from_flat, row + np.uint64(n_marks // 2))
                        _prefetch(from_flat, row + np.uint64(n_marks - 1))
                for e in range(np.uint64(indptr[u]), np.uint64(indptr[u + _ONE])):
                    x = np.uint64(cols[e])
                    nd = k + weight[e]
                    if nd < dist[x]:
                        if dist[x] == np.inf:
                            touched[n_touched] = x
                            n_touched += 1
                        dist[x] = nd
                        pred[x] = u
                        # push (a vertex is pushed once per improvement, so at most once per edge: the heap
                        # never outgrows len(cols) + 1)
                        n_heap += 1
                        _sift_up(heap, np.uint64(n_heap), nd, np.float64(x))
        # read out each trip's route: the entering link of least distance, then predecessors back to the source
        # (none where the tree stopped before settling the destination: beyond the limit, or unreachable)
        for i in range(a, b):
            d = trip_dest[i]
            if d == trip_origin[i]:
                best[i] = 0.0
                continue
            if want[d]:
                continue

            last = -1
            bd = np.inf
            for j in range(in_ptr[d], in_ptr[d + 1]):
                li = in_links[j]
                if dist[li] < bd:
                    bd = dist[li]
                    last = li
            # unreachable, or reached beyond its limit (settled for another trip with a larger one)
            if last < 0 or bd > limit[i]:
                continue
            best[i] = bd
            if not walk[i]:
                continue
            h = 0
            cur = last
            while cur < n_links:
                h += 1
                cur = pred[cur]
            if used + h > len(buf):
                buf2 = np.empty(max(2 * len(buf), used + h), dtype=np.int32)
                buf2[:used] = buf[:used]
                buf = buf2
            cur = last
            for q in range(h):
                buf[used + h - 1 - q] = cur
                cur = pred[cur]
            start[i] = used
            n_hops[i] = h
            used += h
        for i in range(a, b):
            d = trip_dest[i]
            want[d] = False
            node_limit[d] = -np.inf
        for q in range(n_touched):
            v = touched[q]
            dist[v] = np.inf
            pred[v] = -1
    return best, n_hops, start, buf[:used], settled


@njit(cache=True, nogil=True)
def full_trees(
    indptr: I32, cols: I32, weight: npt.NDArray[np.float64], sources: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Shortest-route costs from each of ``sources`` to every vertex of a CSR graph (Dijkstra, full trees).

    Shape ``(len(sources), vertices)``, ``inf`` where a vertex cannot be reached. The landmark trees of
    :meth:`vision_zero.traffic.routing.Router.shortest`'s lower bounds (forward and on the reversed graph). Each
    cost is ``fl(cost of its predecessor + edge weight)`` minimised over the vertex's entering edges: with
    non-negative weights and rounding monotone in its operands that least value is the same whatever order a
    correct search settles vertices in, so these equal scipy's ``csgraph.dijkstra`` bit for bit (test), without
    importing scipy.sparse (~0.2 CPU-s per process, #16).
    """
    n_vert = len(indptr) - 1
    out = np.full((len(sources), n_vert), np.inf)
    heap = np.empty((len(cols) + 3, 2), dtype=np.float64)
    for s in range(len(sources)):
        dist = out[s]
        src = sources[s]
        dist[src] = 0.0
        heap[1, 0] = 0.0
        heap[1, 1] = src
        n_heap = 1
        while n_heap > 0:
            k = heap[1, 0]
            u = np.uint64(heap[1, 1])
            n_heap -= 1
            if n_heap > 0:
                _sift_down(heap, n_heap, heap[n_heap + 1, 0], heap[n_heap + 1, 1])
            if k > dist[u]:  # stale: settled from a lower distance
                continue
            if n_heap > 0:  # the next vertex's edges, ahead of their use (as in targeted_trees)
                ahead = np.uint64(indptr[np.uint64(heap[1, 1])])
                _prefetch(cols, ahead)
                _prefetch(weight, ahead)
            for e in range(np.uint64(indptr[u]), np.uint64(indptr[u + _ONE])):
                x = np.uint64(cols[e])
                nd = k + weight[e]
                if nd < dist[x]:
                    dist[x] = nd
                    n_heap += 1
                    _sift_up(heap, np.uint64(n_heap), nd, np.float64(x))
    return out
