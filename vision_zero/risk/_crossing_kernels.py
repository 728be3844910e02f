"""Compiled pass of the crossing model (numba): a passage group's four casualty terms per cell in one loop.

Private helper of :mod:`vision_zero.risk.crossing_passages` (``CrossingPassages._terms``), which documents what
the terms mean; this module holds only the loop. numpy's form, kept here as the reference, is per key::

    np.bincount(cell, weights=weight * (r if inv is None else r[inv]), minlength=n_cells)

for the collision, fatal, serious and slight risks ``r``: per key a gather, a product and a sum, each a pass
over the group's passages with a temporary of their length. The sensitivity tornado recomputes these terms tens
of thousands of times on the same traffic (benchmarks/README.md, "The tornado alone"), and numpy's four
expressions were its largest self-time item; the loop here makes one pass for the four keys.

Bit for bit numpy's: ``np.bincount`` converts its weights to float64 and adds them to a zeroed float64 array in
index order (``out[cell[i]] += w[i]``), and ``weight * r`` is an elementwise float64 product, each element rounded
once; the loop computes ``w = weight[i] * r[j]`` as a float64 product and adds it to ``out[cell[i]]`` in the same
index order. No ``fastmath``: no reassociation and no fused multiply-add, so the product is rounded before the add,
as numpy's temporary array rounds it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["cell_risk_sums"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_NO_INDEX: IntArray = np.zeros(0, dtype=np.int64)


@njit(cache=True, nogil=True)
def _cell_sums4(
    cell: IntArray,
    weight: FloatArray,
    inv: IntArray,
    indexed: bool,
    r0: FloatArray,
    r1: FloatArray,
    r2: FloatArray,
    r3: FloatArray,
    n_cells: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per cell the sums of ``weight * r_k`` (``r_k[inv[i]]`` when ``indexed``), in index order; see the module."""
    n = len(cell)
    n_rows = min(len(r0), len(r1), len(r2), len(r3))
    size = n_cells
    for i in range(n):
        c = cell[i]
        if c < 0:
            raise ValueError("cell_risk_sums: a cell index is negative")
        size = max(size, c + 1)
        if indexed and not 0 <= inv[i] < n_rows:
            raise ValueError("cell_risk_sums: a row index outside the risks")
    out0 = np.zeros(size)
    out1 = np.zeros(size)
    out2 = np.zeros(size)
    out3 = np.zeros(size)
    for i in range(n):
        c = cell[i]
        j = inv[i] if indexed else i
        w = weight[i]
        out0[c] += w * r0[j]
        out1[c] += w * r1[j]
        out2[c] += w * r2[j]
        out3[c] += w * r3[j]
    return out0, out1, out2, out3


def cell_risk_sums(
    cell: npt.NDArray[np.integer],
    weight: FloatArray,
    risks: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    inv: npt.NDArray[np.integer] | None,
    n_cells: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per cell, for each of the four ``risks``, the sum of ``weight`` x the passage's risk: ``np.bincount``'s numbers.

    ``risks`` are per passage (``inv`` None) or per row, a passage ``i`` taking row ``inv[i]``; the sums have
    ``max(n_cells, cell.max() + 1)`` entries, as ``np.bincount(..., minlength=n_cells)``.
    """
    cell64 = np.ascontiguousarray(cell, dtype=np.int64)
    weight64 = np.ascontiguousarray(weight, dtype=np.float64)
    r = [np.ascontiguousarray(x, dtype=np.float64) for x in risks]
    n = len(cell64)
    if len(weight64) != n:
        raise ValueError(
            f"cell_risk_sums: {len(weight64)} weights for {n} passages; expected one per passage"
        )
    idx = _NO_INDEX if inv is None else np.ascontiguousarray(inv, dtype=np.int64)
    if inv is not None and len(idx) != n:
        raise ValueError(f"cell_risk_sums: {len(idx)} row indices for {n} passages; expected one per passage")
    for x in r:
        if x.ndim != 1 or (inv is None and len(x) != n):
            raise ValueError(
                f"cell_risk_sums: a risk of shape {x.shape} for {n} passages; expected one per row"
            )
    return _cell_sums4(cell64, weight64, idx, inv is not None, r[0], r[1], r[2], r[3], n_cells)
