"""Where a scenario's casualties lie: the per-link attribution behind the KSI split and the maps.

Casualties on a link count on that link; casualties at a crossing are shared equally among the crossing's
``crossing_links`` (the links whose vehicles pass over it); casualties at a junction are shared equally among the
links that end at that node (those that start there if none ends there). Totals are kept: the sum over links
equals the scenario's KSI.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.network.road_network import RoadNetwork
from vision_zero.runs.results import ReplicationResult

__all__ = ["link_ksi_per_year"]

FloatArray = npt.NDArray[np.float64]


def _site_weights(network: RoadNetwork) -> pd.DataFrame:
    """Rows ``site_type, site, link, weight``: how one casualty at a site is shared among links."""
    links = network.links
    m = len(links)
    parts = [pd.DataFrame({"site_type": "link", "site": np.arange(m), "link": np.arange(m), "weight": 1.0})]
    cl = network.crossing_links
    if len(cl):
        c = cl[["crossing", "link"]].rename(columns={"crossing": "site"})
        c = c.assign(site_type="crossing", weight=1.0 / c.groupby("site")["link"].transform("size"))
        parts.append(c)
    ends = pd.DataFrame({"site": links["v"].to_numpy(), "link": np.arange(m)})
    starts = pd.DataFrame({"site": links["u"].to_numpy(), "link": np.arange(m)})
    only_start = starts[~starts["site"].isin(ends["site"])]
    j = pd.concat([ends, only_start], ignore_index=True)
    j = j.assign(site_type="junction", weight=1.0 / j.groupby("site")["link"].transform("size"))
    parts.append(j)
    return pd.concat(parts, ignore_index=True)[["site_type", "site", "link", "weight"]]


def link_ksi_per_year(
    network: RoadNetwork,
    replications: Sequence[ReplicationResult],
    *,
    severities: Sequence[str] = ("fatal", "serious"),
) -> FloatArray:
    """Mean over replications of the casualties of ``severities`` attributed to each link [per year].

    Crossings with no ``crossing_links`` row are attributed to their own ``link`` or, at a node, like a junction.
    """
    m = len(network.links)
    if not replications:
        return np.zeros(m)
    w = _site_weights(network)
    inj = pd.concat([r.injuries for r in replications], ignore_index=True)
    inj = inj[inj["severity"].isin(list(severities))]
    per_site = inj.groupby(["site_type", "site"], as_index=False)["per_year"].sum()
    per_site["per_year"] /= len(replications)
    # crossings missing from crossing_links: their own link, or their node as a junction
    cr = network.crossings
    if len(cr):
        known = set(network.crossing_links["crossing"].tolist()) if len(network.crossing_links) else set()
        missing = per_site[(per_site["site_type"] == "crossing") & ~per_site["site"].isin(known)]
        for idx, row in missing.iterrows():
            c = cr.iloc[int(row["site"])]
            if int(c["link"]) >= 0:
                per_site.loc[idx, ["site_type", "site"]] = ["link", int(c["link"])]
            else:
                per_site.loc[idx, ["site_type", "site"]] = ["junction", int(c["node"])]
    joined = per_site.merge(w, on=["site_type", "site"], how="left")
    unplaced = joined["link"].isna()
    if unplaced.any():
        joined = joined[~unplaced]
    out = np.zeros(m)
    np.add.at(
        out, joined["link"].to_numpy(dtype=np.int64), (joined["per_year"] * joined["weight"]).to_numpy()
    )
    return out
