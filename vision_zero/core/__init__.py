"""Foundations every stage uses: the error hierarchy, units, seeds, the sourced parameters and translations."""

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
