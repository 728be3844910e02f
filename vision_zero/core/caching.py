"""One bounded, in-process cache for results keyed by content (the one owner of the eviction rule)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(OrderedDict[K, V]):
    """At most ``size`` entries, the least recently used evicted first.

    For deterministic results keyed by *content* (a hash of what they are computed from, never a name): a hit is
    the same value, shared with every caller, so cached values are read, never changed.
    """

    def __init__(self, size: int = 8) -> None:
        super().__init__()
        self.size = size

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        """The value kept under ``key``, or ``compute()`` kept under it (evicting the least recently used)."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = compute()
        self[key] = value
        while len(self) > self.size:
            self.popitem(last=False)
        return value
