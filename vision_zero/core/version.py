"""The installed package's version (one owner: :mod:`importlib.metadata`)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vision-zero")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
