"""The compiled pass of the crossing terms gives numpy's numbers bit for bit (by hand first, then against numpy's form)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision_zero.risk._crossing_kernels import cell_risk_sums

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _numpy_form(
    cell: I64, weight: F64, risks: tuple[F64, F64, F64, F64], inv: I64 | None, n_cells: int
) -> tuple[F64, ...]:
    """The reference: what ``CrossingPassages._terms`` computed before the kernel (float64: an empty group's
    ``np.bincount`` is of integers)."""
    return tuple(
        np.asarray(
            np.bincount(cell, weights=weight * (r if inv is None else r[inv]), minlength=n_cells),
            dtype=np.float64,
        )
        for r in risks
    )


def _same_bits(got: tuple[F64, ...], want: tuple[F64, ...]) -> bool:
    return len(got) == len(want) and all(
        g.dtype == w.dtype == np.float64 and np.array_equal(g.view(np.int64), w.view(np.int64))
        for g, w in zip(got, want, strict=True)
    )


def test_cell_risk_sums_by_hand() -> None:
    # 3 passages in cells 2, 0, 2 of 4; weights 1, 2, 3; per passage the risks k x (1, 10, 100)
    cell = np.array([2, 0, 2])
    weight = np.array([1.0, 2.0, 3.0])
    base = np.array([1.0, 10.0, 100.0])
    risks = (base, 2 * base, 3 * base, 4 * base)
    got = cell_risk_sums(cell, weight, risks, None, 4)
    for k, sums in enumerate(got, start=1):
        # cell 0: 2 x 10 k; cell 2: 1 x 1 k + 3 x 100 k; cells 1 and 3 never hit
        np.testing.assert_array_equal(sums, [20.0 * k, 0.0, 301.0 * k, 0.0])


def test_cell_risk_sums_by_hand_with_rows() -> None:
    # the same passages taking rows 1, 0, 1 of two rows (0.5, 2)
    rows = np.array([0.5, 2.0])
    got = cell_risk_sums(np.array([2, 0, 2]), np.array([1.0, 2.0, 3.0]), (rows,) * 4, np.array([1, 0, 1]), 3)
    for sums in got:
        np.testing.assert_array_equal(sums, [1.0, 0.0, 8.0])


def test_each_product_is_rounded_before_it_is_added() -> None:
    # (1 + 2^-30)^2 = 1 + 2^-29 + 2^-60 rounds to 1 + 2^-29, which cancels the first passage's -(1 + 2^-29)
    # exactly: 0, as numpy's rounded temporary gives; a fused multiply-add would keep 2^-60
    a = 1.0 + 2.0**-30
    r = np.array([-(1.0 + 2.0**-29), a])
    got = cell_risk_sums(np.array([0, 0]), np.array([1.0, a]), (r,) * 4, None, 1)
    want = _numpy_form(np.array([0, 0]), np.array([1.0, a]), (r,) * 4, None, 1)
    assert want[0][0] == 0.0
    assert _same_bits(got, want)


def test_an_empty_group_gives_zeros_of_every_cell() -> None:
    empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
    for inv in (None, empty_i):
        got = cell_risk_sums(empty_i, empty_f, (empty_f,) * 4, inv, 5)
        assert _same_bits(got, _numpy_form(empty_i, empty_f, (empty_f,) * 4, inv, 5))
        assert all(len(s) == 5 for s in got)


def test_a_cell_past_n_cells_lengthens_the_sums_as_bincount_does() -> None:
    cell, weight, r = np.array([1, 6]), np.array([2.0, 3.0]), np.array([0.25, 0.5])
    got = cell_risk_sums(cell, weight, (r,) * 4, None, 3)
    assert _same_bits(got, _numpy_form(cell, weight, (r,) * 4, None, 3))
    assert len(got[0]) == 7


def test_malformed_inputs_are_refused() -> None:
    r = np.ones(2)
    with pytest.raises(ValueError, match="negative"):
        cell_risk_sums(np.array([0, -1]), np.ones(2), (r,) * 4, None, 2)
    with pytest.raises(ValueError, match="weights"):
        cell_risk_sums(np.array([0, 1]), np.ones(3), (r,) * 4, None, 2)
    with pytest.raises(ValueError, match="row indices"):
        cell_risk_sums(np.array([0, 1]), np.ones(2), (r,) * 4, np.array([0]), 2)
    with pytest.raises(ValueError, match="outside the risks"):
        cell_risk_sums(np.array([0, 1]), np.ones(2), (r,) * 4, np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="risk of shape"):
        cell_risk_sums(np.array([0, 1]), np.ones(2), (np.ones(3),) * 4, None, 2)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 300),
    st.integers(0, 40),
    st.one_of(st.none(), st.integers(1, 6)),
    st.integers(0, 3),
)
def test_cell_risk_sums_equal_numpys_form_to_the_bit(
    seed: int, n: int, n_cells: int, n_rows: int | None, past: int
) -> None:
    """Random groups: passages per passage or per row (``inv``), cells never hit, cells past ``n_cells``.

    Weights and risks over ten orders of magnitude, so that sums round differently in another order or with a
    fused multiply-add; finite values (the model's), so every bit is defined.
    """
    rng = np.random.default_rng(seed)
    cell = rng.integers(0, max(n_cells + past, 1), size=n)
    weight = rng.random(n) * 10.0 ** rng.uniform(-5.0, 5.0, size=n)
    length = n if n_rows is None else n_rows

    def risk() -> F64:
        return rng.random(length) * 10.0 ** rng.uniform(-5.0, 0.0, size=length)

    risks = (risk(), risk(), risk(), risk())
    inv = None if n_rows is None else rng.integers(0, n_rows, size=n)
    got = cell_risk_sums(cell, weight, risks, inv, n_cells)
    assert _same_bits(got, _numpy_form(cell, weight, risks, inv, n_cells))
