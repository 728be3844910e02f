"""Reading a drawn parameter set: one value by name, with an error that names the missing key."""

from __future__ import annotations

from collections.abc import Mapping

from vision_zero.core.errors import ParameterError

__all__ = [
    "param",
]


def param(parameters: Mapping[str, float], name: str) -> float:
    """Value of parameter ``name`` from a drawn set, with an error naming the missing key."""
    try:
        return float(parameters[name])
    except KeyError:
        raise ParameterError(
            f"parameters: {name}: missing (expected in vision_zero/data/parameters/risk.toml or a user file)"
        ) from None
