"""vision_zero: how many deaths and serious injuries will a road-safety program prevent?

Importing the package defines things and does nothing else; submodules are imported on use.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vision-zero")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
