"""Routes of many trips, flat (:mod:`vision_zero.traffic._routes`)."""

from __future__ import annotations

import numpy as np

from vision_zero.traffic.routing import (
    Routes,
)


def test_replace_swaps_selected_routes() -> None:
    a = Routes(ptr=np.array([0, 2, 3, 3]), links=np.array([5, 6, 7]))
    b = Routes(ptr=np.array([0, 1, 1, 4]), links=np.array([1, 2, 3, 4]))
    c = a.replace(np.array([0, 2]), b)
    assert [c.route(i).tolist() for i in range(3)] == [[1], [7], [2, 3, 4]]
