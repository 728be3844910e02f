"""Where the tests find the repository, their data files and the shared OSM extracts (one owner)."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
BAD_SCENARIOS = TESTS / "scenarios_bad"
SHARED_OSM = ROOT.parent / "shared" / "osm"
SCENARIOS = ROOT / "scenarios"
NETWORKS = ROOT / "networks"
HELSINKI_PBF = NETWORKS / "helsinki-centre.osm.pbf"
