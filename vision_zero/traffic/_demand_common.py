"""Helpers shared by the demand modules: the parameters' default and a link's share of the street centreline.

The lowest of :mod:`~vision_zero.traffic.demand`, :mod:`~vision_zero.traffic.trip_distribution` and
:mod:`~vision_zero.traffic.pedestrians`, so that none of them imports a private name of another.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vision_zero.core.parameters import ParameterSet, load_parameters
from vision_zero.network.road_network import RoadNetwork


def parameters_or_default(params: ParameterSet | None) -> ParameterSet:
    """``params``, or the shipped parameter files where None."""
    return load_parameters() if params is None else params


def centreline_m(network: RoadNetwork) -> npt.NDArray[np.float64]:
    """Per link, its share of the street's centreline length [m]: two-way streets split over both links."""
    links = network.links
    length = links["length_m"].to_numpy(dtype=np.float64)
    rev = links["reverse"].to_numpy(dtype=np.int64)
    return np.where(rev >= 0, 0.5 * length, length)
