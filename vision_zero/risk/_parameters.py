"""Reading a drawn parameter set: one value by name, with an error that names the missing key.

And results kept with the parameters they read (:class:`Kept`), for the tornado's re-runs on the same traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from vision_zero.core.errors import ParameterError
from vision_zero.core.parameters import ParameterReads

__all__ = [
    "Kept",
    "RecordedReads",
    "param",
]

_T = TypeVar("_T")


def param(parameters: Mapping[str, float], name: str) -> float:
    """Value of parameter ``name`` from a drawn set, with an error naming the missing key."""
    try:
        return float(parameters[name])
    except KeyError:
        raise ParameterError(
            f"parameters: {name}: missing (expected in vision_zero/data/parameters/risk.toml or a user file)"
        ) from None


class RecordedReads(ParameterReads):
    """A :class:`~vision_zero.core.parameters.ParameterReads` whose iteration also names every key as read."""

    def __iter__(self) -> Iterator[str]:
        self.read.update(self._values)
        return super().__iter__()

    def __len__(self) -> int:
        self.read.update(self._values)
        return super().__len__()


class Kept(Generic[_T]):
    """``compute(parameters)``, its first result kept with the values of the parameters it read.

    The result is given again while those parameters keep their values; for other values it is computed again
    (and not kept): a caller that re-runs a step for other parameters on the same traffic (the tornado,
    :mod:`vision_zero.runs.sensitivity`) computes again only what a moved parameter reaches, with the same numbers.
    """

    def __init__(self, compute: Callable[[Mapping[str, float]], _T]) -> None:
        self._compute = compute
        self._kept: tuple[tuple[str, ...], tuple[float | None, ...], _T] | None = None

    def __call__(self, parameters: Mapping[str, float]) -> _T:
        if self._kept is not None:
            names, key, result = self._kept
            if tuple(parameters.get(name) for name in names) == key:
                return result
            return self._compute(parameters)
        reads = RecordedReads(parameters)
        result = self._compute(reads)
        names = tuple(sorted(reads.read))
        self._kept = (names, tuple(parameters.get(name) for name in names), result)
        return result
