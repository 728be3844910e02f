"""The schematic city's sizes: the named presets and the allowed range of a numeric ``scale``.

Apart from :mod:`vision_zero.network.schematic` (which re-exports them) so that the command line lists the
presets in ``--help`` without importing the generator's numpy, scipy and networkx (#16).
"""

from __future__ import annotations

__all__ = ["MAX_SCALE", "MIN_SCALE", "SCALE_PRESETS"]

#: Named sizes, as fractions of the full city's area: about 100, 1,000, 5,000 and 12,000 nodes. All but the city
#: lie inside the centre (``schematic.centre.*``), so the outskirts' wider grid leaves them unchanged.
SCALE_PRESETS: dict[str, float] = {"tiny": 0.004, "small": 0.04, "district": 0.19, "city": 1.0}
#: Allowed range of a numeric ``scale`` (fraction of the full city's area).
MIN_SCALE = 0.002
MAX_SCALE = 4.0
