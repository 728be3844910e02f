"""The installed package's version (one owner: :mod:`importlib.metadata`).

Read on first use of ``__version__`` (a module ``__getattr__``), not at import: :mod:`importlib.metadata` and
the scan of the installed distributions were ~40% of ``vision-zero --help``'s import time (#16).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

__all__ = ["__version__", "installed_version"]

if TYPE_CHECKING:
    __version__: str


@functools.cache
def installed_version() -> str:
    """The version of the installed ``vision-zero`` distribution (``0.0.0+unknown`` in a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vision-zero")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return installed_version()
    raise AttributeError(f"module 'vision_zero.core.version' has no attribute {name!r}")
