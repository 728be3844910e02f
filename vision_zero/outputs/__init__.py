"""Stage 7 — outputs: charts, maps, the HTML report and the GeoPackage a committee and a GIS read."""

from vision_zero.outputs.charts import all_charts
from vision_zero.outputs.gis import write_links_gpkg
from vision_zero.outputs.maps import plot_ksi_map
from vision_zero.outputs.plot import plot_network
from vision_zero.outputs.report import write_report
from vision_zero.outputs.write import write_outputs

__all__ = ["all_charts", "plot_ksi_map", "plot_network", "write_links_gpkg", "write_outputs", "write_report"]
