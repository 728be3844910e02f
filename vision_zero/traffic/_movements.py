"""The movements of a network (from a link into a link leaving its end node), their turns and directions.

Private helper of :mod:`vision_zero.traffic.routing` (which re-exports every name): the turn graph's edges
(:mod:`vision_zero.traffic._router`), the record's turning counts (:mod:`vision_zero.traffic._record`) and the
give-way movements (:mod:`vision_zero.traffic._model`) share these numbers and this turn rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["LEFT", "RIGHT", "THROUGH", "UTURN", "Movements", "movement_directions", "movement_turns"]

IntArray = npt.NDArray[np.int64]

#: A movement is a turn when the heading changes by more than this [degrees]; a U-turn counts as two turns.
_TURN_ANGLE_DEG = 45.0


@dataclass(frozen=True)
class Movements:
    """Every movement ``a -> b`` of a network (link ``b`` leaves the end node of link ``a``), numbered.

    Movement ``a -> b`` is number ``move_start[a] + out_rank[b]`` (:meth:`ids`): ``a``'s movements are consecutive,
    in the order of the links leaving ``v[a]`` (ascending id), and ``b`` is the ``out_rank[b]``-th link leaving its
    start node. ``a``, ``b``: per movement, its links.
    """

    a: IntArray
    b: IntArray
    move_start: IntArray
    out_rank: IntArray

    @classmethod
    def of(cls, u: IntArray, v: IntArray, n_nodes: int) -> Movements:
        """The movements of links with start nodes ``u`` and end nodes ``v`` (node ids below ``n_nodes``)."""
        nl = len(u)
        out_order = np.argsort(u, kind="stable")
        out_start = np.searchsorted(u[out_order], np.arange(n_nodes + 1))
        n_out = (out_start[1:] - out_start[:-1])[v]
        a = np.repeat(np.arange(nl, dtype=np.int64), n_out)
        first = np.repeat(out_start[:-1][v], n_out)
        within = np.arange(len(a)) - np.repeat(np.cumsum(n_out) - n_out, n_out)
        b = out_order[first + within].astype(np.int64)
        out_rank = np.empty(nl, dtype=np.int64)
        out_rank[out_order] = np.arange(nl) - out_start[u[out_order]]
        return cls(a, b, (np.cumsum(n_out) - n_out).astype(np.int64), out_rank)

    def ids(self, a: npt.NDArray[np.integer], b: npt.NDArray[np.integer]) -> IntArray:
        """The numbers of the movements ``a[i] -> b[i]`` (each must be a movement: ``b[i]`` leaves ``a[i]``'s end)."""
        out: IntArray = self.move_start[a] + self.out_rank[b]
        return out


def movement_turns(nodes: pd.DataFrame, u: IntArray, v: IntArray, a: IntArray, b: IntArray) -> IntArray:
    """Turns of the movements from link ``a`` into link ``b`` (links given by their end nodes ``u``, ``v``).

    0 straight on, 1 a turn (heading change above 45 degrees between the links' chords), 2 a U-turn: the
    magnitude of :func:`movement_directions`.
    """
    d = movement_directions(nodes, u, v, a, b)
    out: IntArray = np.where(d == UTURN, 2, np.abs(d))
    return out


#: codes of :func:`movement_directions`
RIGHT, THROUGH, LEFT, UTURN = -1, 0, 1, 2


def movement_directions(nodes: pd.DataFrame, u: IntArray, v: IntArray, a: IntArray, b: IntArray) -> IntArray:
    """Direction of the movements from link ``a`` into link ``b``: THROUGH 0, LEFT 1, RIGHT -1 or UTURN 2.

    A turn is a heading change above 45 degrees between the links' chords, to the left if counter-clockwise
    (``x`` east, ``y`` north); a U-turn is a move back along the same pair of nodes.
    """
    x = nodes["x_m"].to_numpy(dtype=np.float64)
    y = nodes["y_m"].to_numpy(dtype=np.float64)
    heading = np.arctan2(y[v] - y[u], x[v] - x[u])
    change = np.angle(np.exp(1j * (heading[b] - heading[a])))
    turning = np.degrees(np.abs(change)) > _TURN_ANGLE_DEG
    side = np.where(change > 0, LEFT, RIGHT)
    uturn = (u[b] == v[a]) & (v[b] == u[a])
    out: IntArray = np.where(uturn, UTURN, np.where(turning, side, THROUGH)).astype(np.int64)
    return out
