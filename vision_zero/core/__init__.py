"""Foundations every stage uses: the error hierarchy, units, seeds, the sourced parameters and translations.

The errors are imported with the package; the parameters and seeds (numpy and pandas) and the version
(:mod:`importlib.metadata`) on first use, so that a light importer of :mod:`vision_zero.core` (the command line's
``--help``, every module's ``vision_zero.core.errors``) does not pay for them (#16).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vision_zero.core.errors import (
    ConfigError,
    DataError,
    InputFileNotFoundError,
    NetworkSourceError,
    ParameterError,
    ScenarioError,
    SelectorError,
    VisionZeroError,
)

if TYPE_CHECKING:
    from vision_zero.core.parameters import Parameter, ParameterSet, load_parameters
    from vision_zero.core.seeding import ReplicationRNG, replication_rngs
    from vision_zero.core.version import __version__

__all__ = [
    "ConfigError",
    "DataError",
    "InputFileNotFoundError",
    "NetworkSourceError",
    "Parameter",
    "ParameterError",
    "ParameterSet",
    "ReplicationRNG",
    "ScenarioError",
    "SelectorError",
    "VisionZeroError",
    "__version__",
    "load_parameters",
    "replication_rngs",
]

_LAZY = {
    "Parameter": "vision_zero.core.parameters",
    "ParameterSet": "vision_zero.core.parameters",
    "load_parameters": "vision_zero.core.parameters",
    "ReplicationRNG": "vision_zero.core.seeding",
    "replication_rngs": "vision_zero.core.seeding",
    "__version__": "vision_zero.core.version",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vision_zero.core' has no attribute {name!r}")
