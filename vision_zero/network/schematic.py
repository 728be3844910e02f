"""The built-in schematic network ``schematic:almaty``: a generated city at Almaty's scale and road hierarchy.

This is NOT Almaty's real geometry, and no result computed on it is a finding about Almaty. It exists so that
every command runs offline, on a network with the structure the models need: in the centre a grid of arterials
about 1 km apart (2-3 lanes each way at 60 km/h; al-Farabi Avenue and the Eastern Ring Road (VOAD) as 80 km/h
expressways) with collectors midway between them; in the outskirts arterials five times as far apart and
longer blocks, so that the full city has Almaty's road lengths (about 3,000 km of road, 1,100 km of it main
streets; ``schematic.toml``); local residential streets with gaps, dead ends and one-way
couplets, residential zones (``highway=living_street``, 20 km/h), traffic signals at arterial junctions,
pedestrian crossings at junctions (where only local streets meet too) and mid-block. Arterials carry real Almaty street names (English ``name``,
Russian ``name:ru``) in roughly their real order, so scenarios read naturally.

The output looks exactly like an osmnx 2.x simplified ``network_type="drive"`` graph, so the same loader code
path handles it: graph attributes ``crs="epsg:4326"``, ``simplified=True``; nodes with ``x`` (lon), ``y``
(lat), ``street_count`` and optional OSM tags ``highway`` / ``crossing``; directed edges (both directions for
two-way streets, key 0) with ``osmid``, ``highway``, ``maxspeed``, ``lanes`` (OSM strings; ``lanes`` is the
total of both directions on two-way streets), ``oneway``, ``reversed``, ``name``, ``name:ru`` and ``length``
(great-circle metres, as osmnx computes it). Tags are left out where OSM mappers often leave them out (most
local streets have no ``maxspeed``), so the loader's Kazakhstan defaults get exercised. Crossings at junctions
are tags on the junction node (``highway=traffic_signals`` + ``crossing=traffic_signals`` at signals,
``highway=crossing`` + ``crossing=marked|uncontrolled`` at other junctions with a main road, ``crossing=unmarked``
where only local streets meet: pedestrians cross residential streets where they walk, and OSM mappers tag such
crossings on residential legs at their junctions, as in Helsinki's extract; ``schematic.crossings.
local_junction_share``); mid-block crossings are their own nodes in the middle of an arterial or collector
(``street_count`` 2, one edge in and one out per direction).

A network smaller than the full city (``scale`` below 1: the tiny, small and district presets) is a part cut
from it: where one of its streets meets the edge of its extent, running on into the rest of the city, the node
carries ``boundary=True``, as where ``osmium extract`` cuts a way at a box. The demand model puts external
zones there (:mod:`vision_zero.traffic.trip_distribution`), so traffic to, from and through the rest of the city enters and
leaves at the cut as in the full city. The full city (and a larger ``scale``) has no boundary nodes.

The graph is built from numpy arrays (a lattice of street lines, vectorised removals, tags and merging of
pass-through nodes) and handed to networkx in bulk; the full city takes a few seconds. Every number of the
generator lives in ``vision_zero/data/parameters/schematic.toml`` (group ``schematic``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vision_zero.core.errors import ConfigError
from vision_zero.core.units import M_PER_KM
from vision_zero.network.scales import MAX_SCALE, MIN_SCALE, SCALE_PRESETS

__all__ = [
    "ALMATY_CENTRE_LAT",
    "ALMATY_CENTRE_LON",
    "MAX_SCALE",
    "MIN_SCALE",
    "SCALE_PRESETS",
    "generate_schematic_graph",
    "parse_scale",
    "schematic_source",
]

#: Centre of the schematic city (central Almaty) [deg].
ALMATY_CENTRE_LAT = 43.24
ALMATY_CENTRE_LON = 76.93


_EARTH_RADIUS_M = 6_371_009.0  # osmnx's mean Earth radius (osmnx.distance.EARTH_RADIUS_M)
_SEED_STREAM = 0x5C4E  # spawn key of the generator's stream: independent of the replications' streams
_ARTERIAL, _COLLECTOR, _LOCAL = 0, 1, 2
_ABSENT = 3  # a lattice line that is no street here (the outskirts' wider local grid)
#: An even choice between two equivalent OSM spellings (``crossing=marked`` / ``uncontrolled``, ``maxspeed=60``
#: / ``KZ:urban``) or between the two directions of a one-way couplet: no model number, only tag variety.
_COIN = 0.5

# Real Almaty street names, (English, Russian), in roughly their real order. East-west arterial k lies at
# (k - 0.5) km north of the centre, north-south arterial k at (k - 0.5) km east; collector k at k km.
_EW_ARTERIALS: dict[int, tuple[str, str]] = {
    5: ("Ryskulov Avenue", "проспект Рыскулова"),
    4: ("Raiymbek Avenue", "проспект Райымбека"),
    3: ("Zhibek Zholy Street", "улица Жибек Жолы"),
    2: ("Gogol Street", "улица Гоголя"),
    1: ("Tole Bi Street", "улица Толе би"),
    0: ("Abay Avenue", "проспект Абая"),
    -1: ("Satpaev Street", "улица Сатпаева"),
    -2: ("Timiryazev Street", "улица Тимирязева"),
    -3: ("Zhandosov Street", "улица Жандосова"),
    -4: ("al-Farabi Avenue", "проспект аль-Фараби"),
}
_NS_ARTERIALS: dict[int, tuple[str, str]] = {
    -7: ("Sain Street", "улица Саина"),
    -6: ("Momyshuly Avenue", "проспект Момышулы"),
    -5: ("Utegen Batyr Street", "улица Утеген батыра"),
    -4: ("Rozybakiev Street", "улица Розыбакиева"),
    -3: ("Zharokov Street", "улица Жарокова"),
    -2: ("Auezov Street", "улица Ауэзова"),
    -1: ("Baizakov Street", "улица Байзакова"),
    0: ("Seifullin Avenue", "проспект Сейфуллина"),
    1: ("Abylai Khan Avenue", "проспект Абылай хана"),
    2: ("Nazarbayev Avenue", "проспект Назарбаева"),  # formerly Furmanov Street
    3: ("Dostyk Avenue", "проспект Достык"),
    6: ("Eastern Ring Road (VOAD)", "Восточная объездная автодорога"),
}
_EW_COLLECTORS: dict[int, tuple[str, str]] = {
    2: ("Makataev Street", "улица Макатаева"),
    1: ("Aiteke Bi Street", "улица Айтеке би"),
    0: ("Kabanbay Batyr Street", "улица Кабанбай батыра"),
    -1: ("Bukhar Zhyrau Boulevard", "бульвар Бухар жырау"),
}
_NS_COLLECTORS: dict[int, tuple[str, str]] = {
    -1: ("Masanchi Street", "улица Масанчи"),
    0: ("Zheltoksan Street", "улица Желтоксан"),
    1: ("Kunaev Street", "улица Кунаева"),
}
#: Arterials tagged as 80 km/h expressways (``highway=trunk``), SCIENCE.md §7.
_EXPRESSWAYS = frozenset({"al-Farabi Avenue", "Eastern Ring Road (VOAD)"})


def parse_scale(scale: float | str) -> tuple[float, str]:
    """Return ``(fraction of the full city's area, canonical label)`` for a preset name or a number.

    Raises
    ------
    ConfigError
        If ``scale`` is neither a preset nor a number in ``[MIN_SCALE, MAX_SCALE]``.
    """
    expected = (
        f"a preset ({', '.join(SCALE_PRESETS)}) or a number in [{MIN_SCALE}, {MAX_SCALE}] "
        "(the fraction of the full city's area)"
    )
    value: float
    if isinstance(scale, str):
        text = scale.strip().lower()
        if text in SCALE_PRESETS:
            return SCALE_PRESETS[text], text
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"schematic:almaty: scale: expected {expected} (got {scale!r})") from None
    elif isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise ConfigError(f"schematic:almaty: scale: expected {expected} (got {scale!r})")
    else:
        value = float(scale)
    if not math.isfinite(value) or not MIN_SCALE <= value <= MAX_SCALE:
        raise ConfigError(f"schematic:almaty: scale: expected {expected} (got {scale!r})")
    return value, repr(value)


def _parse_seed(seed: object) -> int:
    if isinstance(seed, str) and seed.strip().isdigit():
        seed = int(seed.strip())
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) < 2**63:
        raise ConfigError(f"schematic:almaty: seed: expected an integer in [0, 2**63) (got {seed!r})")
    return int(seed)


def schematic_source(*, scale: float | str = 1.0, seed: int = 0) -> str:
    """The canonical source string, e.g. ``"schematic:almaty?scale=tiny&seed=0"`` (validates both options)."""
    _, label = parse_scale(scale)
    return f"schematic:almaty?scale={label}&seed={_parse_seed(seed)}"


@dataclass(frozen=True)
class _Settings:
    """The generator's numbers, read from the ``schematic`` group of the shipped parameters."""

    area_km2: float
    aspect_ratio: float
    arterial_spacing_m: float
    centre_half_width_m: float
    centre_half_height_m: float
    outskirts_arterial_factor: int
    outskirts_local_every: int
    locals_ew: int
    locals_ns: int
    jitter: float
    p_remove: float
    p_access: float
    p_oneway_local: float
    p_oneway_collector: float
    p_secondary: float
    p_two_lane_collector: float
    p_four_lane_expressway: float
    p_three_lanes: float
    p_zone: float
    urban_kph: float
    expressway_kph: float
    zone_kph: float
    p_untagged_local: float
    p_untagged_major: float
    p_signal: dict[tuple[int, int], float]
    p_mid_arterial: float
    p_mid_collector: float
    p_junction_crossing: float
    p_mid_signalised: float
    p_mid_unmarked: float
    p_local_junction_crossing: float

    @classmethod
    def load(cls) -> _Settings:
        from vision_zero.core.parameters import load_parameters

        p = {k: v.value for k, v in load_parameters().group("schematic").items()}
        return cls(
            area_km2=p["city.area"],
            aspect_ratio=p["city.aspect_ratio"],
            arterial_spacing_m=p["grid.arterial_spacing"],
            centre_half_width_m=p["centre.half_width"],
            centre_half_height_m=p["centre.half_height"],
            outskirts_arterial_factor=int(p["outskirts.arterial_spacing_factor"]),
            outskirts_local_every=int(p["outskirts.local_line_every"]),
            locals_ew=int(p["grid.local_lines_per_half_block_ew"]),
            locals_ns=int(p["grid.local_lines_per_half_block_ns"]),
            jitter=p["grid.local_line_jitter"],
            p_remove=p["local.segment_removal_share"],
            p_access=p["local.arterial_access_removal_share"],
            p_oneway_local=p["local.oneway_share"],
            p_oneway_collector=p["collector.oneway_line_share"],
            p_secondary=p["collector.secondary_share"],
            p_two_lane_collector=p["collector.two_lane_share"],
            p_four_lane_expressway=p["expressway.four_lane_share"],
            p_three_lanes=p["arterial.three_lane_share"],
            p_zone=p["zone.living_street_cell_share"],
            urban_kph=p["speed.urban_default"],
            expressway_kph=p["speed.expressway"],
            zone_kph=p["speed.residential_zone"],
            p_untagged_local=p["tagging.maxspeed_untagged_share_local"],
            p_untagged_major=p["tagging.maxspeed_untagged_share_major"],
            p_signal={
                (_ARTERIAL, _ARTERIAL): p["signals.arterial_arterial_share"],
                (_ARTERIAL, _COLLECTOR): p["signals.arterial_collector_share"],
                (_COLLECTOR, _COLLECTOR): p["signals.collector_collector_share"],
                (_ARTERIAL, _LOCAL): p["signals.arterial_local_share"],
            },
            p_mid_arterial=p["crossings.arterial_midblock_share"],
            p_mid_collector=p["crossings.collector_midblock_share"],
            p_junction_crossing=p["crossings.unsignalised_junction_share"],
            p_mid_signalised=p["crossings.midblock_signalised_share"],
            p_mid_unmarked=p["crossings.midblock_unmarked_share"],
            p_local_junction_crossing=p["crossings.local_junction_share"],
        )


@dataclass(frozen=True)
class _Lines:
    """The parallel street lines of one direction: position [m], class, index among lines of that class.

    ``cls`` is a line's class in the centre; ``outer`` its class in the outskirts (:func:`_lines`);
    ``central`` whether its unjittered position lies within the centre's extent in this direction.
    """

    pos_m: npt.NDArray[np.float64]
    cls: npt.NDArray[np.int64]
    k: npt.NDArray[np.int64]
    central: npt.NDArray[np.bool_]
    outer: npt.NDArray[np.int64]


def _lines(
    half_extent_m: float,
    spacing_m: float,
    n_local: int,
    jitter: float,
    rng: np.random.Generator,
    *,
    centre_half_m: float,
    outskirts_factor: int,
    local_every: int,
    expressway_k: frozenset[int],
) -> _Lines:
    """Street lines across ``[-half_extent_m, half_extent_m]``: arterials at (k - 0.5) spacings, collectors at k.

    Within ``centre_half_m`` of the centre every line has its class; beyond it (``outer``)
    arterials are ``outskirts_factor`` times as far apart, collectors midway between them, and only every
    ``local_every``-th line of the lattice is a local street. The arterials of ``expressway_k`` stay arterials.
    """
    n_sub = 2 * (n_local + 1)  # lines per arterial spacing
    step = spacing_m / n_sub
    m = np.arange(
        math.ceil((-half_extent_m + spacing_m / 2) / step),
        math.floor((half_extent_m + spacing_m / 2) / step) + 1,
    )
    rem = np.mod(m, n_sub)
    cls = np.full(m.size, _LOCAL, dtype=np.int64)
    cls[rem == 0] = _ARTERIAL
    cls[rem == n_sub // 2] = _COLLECTOR
    k = np.where(cls == _COLLECTOR, (m - n_sub // 2) // n_sub, m // n_sub).astype(np.int64)
    pos = m * step - spacing_m / 2
    shift = rng.uniform(-jitter, jitter, m.size) * step
    central = np.abs(pos) <= centre_half_m + 1e-6 * step
    outer_n = outskirts_factor * n_sub  # lattice lines per arterial spacing in the outskirts
    outer = np.where(np.mod(m, local_every) == 0, _LOCAL, _ABSENT)
    outer[np.mod(m, outer_n) == outer_n // 2] = _COLLECTOR
    outer[(np.mod(m, outer_n) == 0) | ((cls == _ARTERIAL) & np.isin(k, sorted(expressway_k)))] = _ARTERIAL
    pos = np.where(cls == _LOCAL, pos + shift, pos)
    return _Lines(pos_m=pos.astype(np.float64), cls=cls, k=k, central=central, outer=outer)


def _class_at(lines: _Lines, inside: npt.NDArray[np.bool_], line_axis: int) -> npt.NDArray[np.int64]:
    """Class of each line at each point of ``inside`` (True: in the centre); ``line_axis`` indexes the lines."""
    shape = [1, 1]
    shape[line_axis] = lines.cls.size
    return np.where(inside, lines.cls.reshape(shape), lines.outer.reshape(shape)).astype(np.int64)


def _way_starts(seg_cls: npt.NDArray[np.int64], cross_cls: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Way index of each segment along each row of ``seg_cls`` (segments x lines crossed, both per row).

    A way ends where its street changes class and at every crossing line that ends it: arterials end at
    arterials, collectors and local streets at arterials and collectors. ``cross_cls`` is the class of the crossing
    line at each segment's start.
    """
    ends = np.where(seg_cls == _ARTERIAL, cross_cls == _ARTERIAL, cross_cls <= _COLLECTOR)
    ends[:, 1:] |= seg_cls[:, 1:] != seg_cls[:, :-1]
    return np.cumsum(ends, axis=1).astype(np.int64)


def generate_schematic_graph(*, scale: float | str = 1.0, seed: int = 0) -> nx.MultiDiGraph[Any]:
    """Generate the schematic Almaty drive network as an osmnx-style simplified ``MultiDiGraph``.

    Parameters
    ----------
    scale
        A preset (``"tiny"`` ~100 nodes, ``"small"`` ~1,000, ``"district"`` ~5,000, ``"city"`` ~12,000) or a
        number: the fraction of the full city's area (``1.0`` is the full city, about 680 km²).
    seed
        Seed of the layout (which local streets exist, one-way directions, signals, crossings, tags). The same
        ``scale`` and ``seed`` always give an identical graph: node ids, attributes and order.

    Returns
    -------
    networkx.MultiDiGraph
        Unprojected (EPSG:4326) simplified drive graph with OSM-style tags; ``graph["schematic"]`` is True and
        ``graph["source"]`` is the canonical ``schematic:almaty?scale=...&seed=...`` string.

    Raises
    ------
    ConfigError
        If ``scale`` or ``seed`` is invalid.
    """
    fraction, label = parse_scale(scale)
    seed_int = _parse_seed(seed)
    s = _Settings.load()
    rng = np.random.default_rng(np.random.SeedSequence(seed_int, spawn_key=(_SEED_STREAM,)))

    area_m2 = s.area_km2 * fraction * M_PER_KM**2
    half_w = math.sqrt(area_m2 * s.aspect_ratio) / 2
    half_h = math.sqrt(area_m2 / s.aspect_ratio) / 2
    ew_expressways = frozenset(k for k, (name, _) in _EW_ARTERIALS.items() if name in _EXPRESSWAYS)
    ns_expressways = frozenset(k for k, (name, _) in _NS_ARTERIALS.items() if name in _EXPRESSWAYS)
    outskirts = {"outskirts_factor": s.outskirts_arterial_factor, "local_every": s.outskirts_local_every}
    cols = _lines(  # north-south streets
        half_w,
        s.arterial_spacing_m,
        s.locals_ew,
        s.jitter,
        rng,
        centre_half_m=s.centre_half_width_m,
        expressway_k=ns_expressways,
        **outskirts,
    )
    rows = _lines(  # east-west streets
        half_h,
        s.arterial_spacing_m,
        s.locals_ns,
        s.jitter,
        rng,
        centre_half_m=s.centre_half_height_m,
        expressway_k=ew_expressways,
        **outskirts,
    )
    nx_, ny_ = cols.cls.size, rows.cls.size
    if nx_ < 2 or ny_ < 2:
        raise ConfigError(f"schematic:almaty: scale: expected a larger area (got {scale!r})")

    # --- classes where the lines cross (nodes, [row j, column i]) and along each segment ---
    inside = rows.central[:, None] & cols.central[None, :]  # lattice nodes in the centre
    col_at = _class_at(cols, inside, 1)  # class of column i at node (j, i)
    row_at = _class_at(rows, inside, 0)
    h_cls = _class_at(rows, inside[:, :-1] & inside[:, 1:], 0)  # horizontal segment (j, i -> i + 1)
    v_cls = _class_at(cols, (inside[:-1, :] & inside[1:, :]).T, 0)  # vertical segment (i, j -> j + 1)

    # --- lattice segments: horizontal (along rows, west->east) and vertical (along columns, south->north) ---
    local_h, local_v = h_cls == _LOCAL, v_cls == _LOCAL
    touch_h = (col_at[:, :-1] == _ARTERIAL) | (col_at[:, 1:] == _ARTERIAL)
    touch_v = ((row_at[:-1, :] == _ARTERIAL) | (row_at[1:, :] == _ARTERIAL)).T
    h_on = (h_cls <= _COLLECTOR) | ~(
        ~local_h
        | ((rng.random(local_h.shape) < s.p_remove) | (touch_h & (rng.random(local_h.shape) < s.p_access)))
    )
    v_on = (v_cls <= _COLLECTOR) | ~(
        ~local_v
        | ((rng.random(local_v.shape) < s.p_remove) | (touch_v & (rng.random(local_v.shape) < s.p_access)))
    )

    jj, ii = np.meshgrid(np.arange(ny_), np.arange(nx_ - 1), indexing="ij")  # horizontal (j, i)
    vi, vj = np.meshgrid(np.arange(nx_), np.arange(ny_ - 1), indexing="ij")  # vertical (i, j)
    h_span = _way_starts(h_cls, col_at[:, :-1])
    v_span = _way_starts(v_cls, row_at[:-1, :].T)
    seg_u = np.concatenate([(jj * nx_ + ii).ravel(), (vj * nx_ + vi).ravel()])
    seg_v = np.concatenate([(jj * nx_ + ii + 1).ravel(), ((vj + 1) * nx_ + vi).ravel()])
    seg_on = np.concatenate([h_on.ravel(), v_on.ravel()])
    seg_vertical = np.concatenate([np.zeros(h_on.size, bool), np.ones(v_on.size, bool)])
    seg_line = np.concatenate([jj.ravel(), vi.ravel()])  # row index or column index
    seg_pos = np.concatenate([ii.ravel(), vj.ravel()])  # position along the line
    seg_key = np.concatenate(
        [(jj * (nx_ + 1) + h_span).ravel(), ny_ * (nx_ + 1) + (vi * (ny_ + 1) + v_span).ravel()]
    )  # increasing along each line: segments are already sorted by (line, position)
    way_keys, first, seg_way = np.unique(seg_key, return_index=True, return_inverse=True)
    n_way = way_keys.size

    # --- ways: class, cell (block between major lines), completeness ---
    w_vertical = seg_vertical[first]
    w_line = seg_line[first]
    seg_cls = np.concatenate([h_cls.ravel(), v_cls.ravel()])
    w_cls = seg_cls[first]  # a way keeps one class (it ends where its street changes class)
    w_line_cls = _pick(w_vertical, w_line, cols.cls, rows.cls)  # the line's class in the centre (its name)
    w_k = _pick(w_vertical, w_line, cols.k, rows.k)
    cell_c = np.cumsum(cols.cls <= _COLLECTOR)  # block index of each column / row
    cell_r = np.cumsum(rows.cls <= _COLLECTOR)
    w_pos = seg_pos[first]
    w_cell = _pick(w_vertical, w_pos, cell_r, cell_c) * (nx_ + 1) + _pick(w_vertical, w_line, cell_c, cell_r)
    n_seg_way = np.bincount(seg_way, minlength=n_way)
    n_on_way = np.bincount(seg_way, weights=seg_on, minlength=n_way)
    last_pos = w_pos + n_seg_way  # index of the line where the way ends

    def crossing_cls(pos: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Class of the line each way crosses at lattice position ``pos`` along it."""
        out = np.empty(n_way, dtype=np.int64)
        out[w_vertical] = row_at[pos[w_vertical], w_line[w_vertical]]
        out[~w_vertical] = col_at[w_line[~w_vertical], pos[~w_vertical]]
        return out

    start_ok = crossing_cls(w_pos) <= _COLLECTOR
    end_ok = crossing_cls(last_pos) <= _COLLECTOR
    complete = (n_on_way == n_seg_way) & start_ok & end_ok

    names = _way_names(w_vertical, w_line_cls, w_cls, w_k)
    expressway = np.array([n in _EXPRESSWAYS for n, _ in names], dtype=bool)
    zone_cells = rng.random((ny_ + 1) * (nx_ + 1)) < s.p_zone
    is_zone = (w_cls == _LOCAL) & zone_cells[w_cell]
    coll_lines_c = rng.random(nx_)  # per collector line: one-way draw, class draw
    coll_lines_r = rng.random(ny_)
    coll_class_c = rng.random(nx_) < s.p_secondary
    coll_class_r = rng.random(ny_) < s.p_secondary
    w_coll_oneway = _pick(w_vertical, w_line, coll_lines_c, coll_lines_r) < s.p_oneway_collector
    w_secondary = _pick(w_vertical, w_line, coll_class_c, coll_class_r)
    # one-way collector lines alternate in direction; local one-ways form couplets within a block
    w_coll_dir = np.where(w_k % 2 == 0, 1, -1)
    cell_flip = rng.random((ny_ + 1) * (nx_ + 1)) < _COIN
    w_local_dir = np.where((w_line % 2 == 0) ^ cell_flip[w_cell], 1, -1)
    u_oneway = rng.random(n_way)
    w_oneway = np.where(
        w_cls == _COLLECTOR,
        w_coll_oneway,
        (w_cls == _LOCAL) & complete & (u_oneway < s.p_oneway_local),
    )
    w_dir = np.where(w_cls == _COLLECTOR, w_coll_dir, w_local_dir)
    u_speed, u_lanes, u_kind = rng.random(n_way), rng.random(n_way), rng.random(n_way)
    w_attrs = [
        _way_attrs(
            s,
            cls=int(w_cls[w]),
            name=names[w],
            expressway=bool(expressway[w]),
            zone=bool(is_zone[w]),
            secondary=bool(w_secondary[w]),
            oneway=bool(w_oneway[w]),
            u_speed=float(u_speed[w]),
            u_lanes=float(u_lanes[w]),
            u_kind=float(u_kind[w]),
        )
        for w in range(n_way)
    ]

    # --- nodes: degree, pass-through, tags ---
    n_lat = nx_ * ny_
    deg = np.bincount(seg_u[seg_on], minlength=n_lat) + np.bincount(seg_v[seg_on], minlength=n_lat)
    deg_h = np.bincount(seg_u[seg_on & ~seg_vertical], minlength=n_lat) + np.bincount(
        seg_v[seg_on & ~seg_vertical], minlength=n_lat
    )
    node_i, node_j = np.arange(n_lat) % nx_, np.arange(n_lat) // nx_
    c_cls, r_cls = col_at.ravel(), row_at.ravel()  # node n = j * nx + i
    through = (deg == 2) & ((deg_h == 2) | (deg_h == 0))
    through_cls = np.where(deg_h == 2, r_cls, c_cls)  # class of the line a pass-through node lies on
    lo, hi = np.minimum(c_cls, r_cls), np.maximum(c_cls, r_cls)
    p_sig = np.zeros(n_lat)
    for (a, b), p in s.p_signal.items():
        p_sig[(lo == a) & (hi == b)] = p
    junction = deg >= 3
    u_sig, u_cross, u_type, u_type2 = (rng.random(n_lat) for _ in range(4))
    signal = junction & (u_sig < p_sig)
    junction_crossing = junction & ~signal & (lo <= _COLLECTOR) & (u_cross < s.p_junction_crossing)
    # where only local streets meet, pedestrians cross where they walk: an unmarked crossing (the same draw as
    # the main-road junctions' crossings, so no other part of the layout moves)
    local_crossing = junction & ~signal & (lo == _LOCAL) & (u_cross < s.p_local_junction_crossing)
    p_mid = np.where(
        through_cls == _ARTERIAL,
        s.p_mid_arterial,
        np.where(through_cls == _COLLECTOR, s.p_mid_collector, 0.0),
    )
    midblock = through & (u_cross < p_mid)
    node_highway = np.full(n_lat, "", dtype=object)
    node_crossing = np.full(n_lat, "", dtype=object)
    node_highway[signal] = "traffic_signals"
    node_crossing[signal] = "traffic_signals"
    node_highway[junction_crossing | local_crossing | midblock] = "crossing"
    node_crossing[junction_crossing] = np.where(u_type[junction_crossing] < _COIN, "marked", "uncontrolled")
    node_crossing[local_crossing] = "unmarked"
    mid_sig = midblock & (through_cls == _ARTERIAL) & (u_type < s.p_mid_signalised)
    mid_unmarked = midblock & ~mid_sig & (u_type2 < s.p_mid_unmarked)
    mid_marked = midblock & ~mid_sig & ~mid_unmarked
    node_crossing[mid_sig] = "traffic_signals"
    node_crossing[mid_unmarked] = "unmarked"
    node_crossing[mid_marked] = np.where(u_type[mid_marked] < _COIN, "marked", "uncontrolled")
    kept = (deg >= 1) & ~(through & ~midblock)

    # --- merged (simplified) edges: a chain of present segments of one way between kept nodes ---
    on_idx = np.flatnonzero(seg_on)
    start = kept[seg_u[on_idx]]
    n_chain = int(start.sum())
    e_first = on_idx[start]
    e_last = on_idx[kept[seg_v[on_idx]]]  # a chain ends where it reaches a kept node
    if e_last.size != n_chain:  # pragma: no cover - an internal invariant of the merge
        raise AssertionError("schematic: unbalanced chains when merging pass-through nodes")
    e_u, e_v, e_way = seg_u[e_first], seg_v[e_last], seg_way[e_first]
    flip = w_oneway[e_way] & (w_dir[e_way] < 0)
    e_u, e_v = np.where(flip, e_v, e_u), np.where(flip, e_u, e_v)

    # --- keep the largest strongly connected component ---
    two_way = ~w_oneway[e_way]
    src = np.concatenate([e_u, e_v[two_way]])
    dst = np.concatenate([e_v, e_u[two_way]])
    adj = coo_matrix((np.ones(src.size), (src, dst)), shape=(n_lat, n_lat)).tocsr()
    _, comp = connected_components(adj, directed=True, connection="strong")
    comp_size = np.bincount(comp[kept])
    big = int(np.argmax(comp_size))
    keep_node = kept & (comp == big)
    keep_edge = keep_node[e_u] & keep_node[e_v]
    e_u, e_v, e_way, two_way = e_u[keep_edge], e_v[keep_edge], e_way[keep_edge], two_way[keep_edge]
    street_count = np.bincount(e_u, minlength=n_lat) + np.bincount(e_v, minlength=n_lat)

    # --- coordinates and lengths ---
    x_m, y_m = cols.pos_m[node_i], rows.pos_m[node_j]
    lat = ALMATY_CENTRE_LAT + np.degrees(y_m / _EARTH_RADIUS_M)
    lon = ALMATY_CENTRE_LON + np.degrees(x_m / (_EARTH_RADIUS_M * math.cos(math.radians(ALMATY_CENTRE_LAT))))
    length_m = _great_circle_m(lat[e_u], lon[e_u], lat[e_v], lon[e_v])

    graph: nx.MultiDiGraph[Any] = nx.MultiDiGraph(
        crs="epsg:4326",
        simplified=True,
        schematic=True,
        created_with="vision_zero schematic",
        source=f"schematic:almaty?scale={label}&seed={seed_int}",
        schematic_scale=fraction,
        schematic_seed=seed_int,
    )
    osm_node = np.arange(n_lat, dtype=np.int64) + 1
    # a network smaller than the city is a part cut from it: where its streets would go on, its boundary nodes
    cut = (
        keep_node & _cut_edges(seg_u[seg_on], seg_v[seg_on], seg_vertical[seg_on], nx_, ny_) & (fraction < 1)
    )
    node_rows = []
    for n in np.flatnonzero(keep_node):
        attrs: dict[str, Any] = {"y": float(lat[n]), "x": float(lon[n]), "street_count": int(street_count[n])}
        if node_highway[n]:
            attrs["highway"] = node_highway[n]
        if node_crossing[n]:
            attrs["crossing"] = node_crossing[n]
        if cut[n]:
            attrs["boundary"] = True
        node_rows.append((int(osm_node[n]), attrs))
    graph.add_nodes_from(node_rows)
    edge_rows: list[Any] = []  # (u, v, key, attrs)
    way_osmid = np.arange(n_way, dtype=np.int64) + 1
    for a, b, w, both, length in zip(
        osm_node[e_u].tolist(),
        osm_node[e_v].tolist(),
        e_way.tolist(),
        two_way.tolist(),
        length_m.tolist(),
        strict=True,
    ):
        base = {"osmid": int(way_osmid[w]), **w_attrs[w]}
        edge_rows.append((a, b, 0, {**base, "reversed": False, "length": length}))
        if both:
            edge_rows.append((b, a, 0, {**base, "reversed": True, "length": length}))
    graph.add_edges_from(edge_rows)
    return graph


def _cut_edges(
    seg_u: npt.NDArray[np.int64],
    seg_v: npt.NDArray[np.int64],
    seg_vertical: npt.NDArray[np.bool_],
    nx_: int,
    ny_: int,
) -> npt.NDArray[np.bool_]:
    """Per lattice node (``j * nx_ + i``): a street of the given segments reaches the lattice's edge across it.

    Every street line runs on beyond the extent in the full city, so where a present segment of a row meets the
    western or eastern edge, or one of a column the southern or northern edge, the street is cut there (as
    ``osmium extract`` cuts a way at a box: the node column ``boundary``, external zones in the demand model).
    """
    ends = np.concatenate([seg_u, seg_v])
    vertical = np.concatenate([seg_vertical, seg_vertical])
    i, j = ends % nx_, ends // nx_
    across = np.where(vertical, (j == 0) | (j == ny_ - 1), (i == 0) | (i == nx_ - 1))
    out = np.zeros(nx_ * ny_, dtype=bool)
    out[ends[across]] = True
    return out


def _pick(
    vertical: npt.NDArray[np.bool_], index: npt.NDArray[np.int64], if_vertical: Any, if_not: Any
) -> Any:
    """``if_vertical[index]`` where ``vertical`` else ``if_not[index]`` (the two arrays differ in length)."""
    out = np.empty(index.size, dtype=np.result_type(if_vertical, if_not))
    out[vertical] = if_vertical[index[vertical]]
    out[~vertical] = if_not[index[~vertical]]
    return out


def _way_names(
    vertical: npt.NDArray[np.bool_],
    line_cls: npt.NDArray[np.int64],
    cls: npt.NDArray[np.int64],
    k: npt.NDArray[np.int64],
) -> list[tuple[str, str]]:
    """(English, Russian) name of each way; ``("", "")`` for local streets and unnamed collectors.

    ``line_cls`` is the class of the way's line in the centre (which table names it), ``cls`` the way's own (an
    arterial of the centre continues into the outskirts as a collector or a local street).
    """
    out: list[tuple[str, str]] = []
    for vert, lc, c, kk in zip(vertical.tolist(), line_cls.tolist(), cls.tolist(), k.tolist(), strict=True):
        if c > _COLLECTOR:
            out.append(("", ""))
        elif lc == _ARTERIAL:
            table = _NS_ARTERIALS if vert else _EW_ARTERIALS
            generic = f"{'North-South' if vert else 'East-West'} Arterial {kk:+d} (schematic)"
            out.append(table.get(kk, (generic, "") if c == _ARTERIAL else ("", "")))
        else:
            out.append((_NS_COLLECTORS if vert else _EW_COLLECTORS).get(kk, ("", "")))
    return out


def _way_attrs(
    s: _Settings,
    *,
    cls: int,
    name: tuple[str, str],
    expressway: bool,
    zone: bool,
    secondary: bool,
    oneway: bool,
    u_speed: float,
    u_lanes: float,
    u_kind: float,
) -> dict[str, Any]:
    """OSM-style tags of one way (``highway``, ``name``, ``name:ru``, ``maxspeed``, ``lanes``, ``oneway``)."""
    urban, fast, slow = (f"{v:g}" for v in (s.urban_kph, s.expressway_kph, s.zone_kph))
    maxspeed: str | None
    lanes_each_way: int | None
    if cls == _ARTERIAL and expressway:
        highway, maxspeed, lanes_each_way = "trunk", fast, 4 if u_lanes < s.p_four_lane_expressway else 3
    elif cls == _ARTERIAL:
        highway = "primary"
        maxspeed = None if u_speed < s.p_untagged_major else urban
        lanes_each_way = 3 if u_lanes < s.p_three_lanes else 2
    elif cls == _COLLECTOR:
        highway = "secondary" if secondary else "tertiary"
        maxspeed = None if u_speed < s.p_untagged_major else urban
        lanes_each_way = 2 if secondary and u_lanes < s.p_two_lane_collector else 1
        if u_kind < s.p_untagged_major:
            lanes_each_way = None
    elif zone:
        highway = "living_street"
        maxspeed = None if u_speed < s.p_untagged_local else slow
        lanes_each_way = None
    else:
        highway = "residential"
        # tagged residential ways use the number or the implicit-limit form that OSM mappers use
        maxspeed = None if u_speed < s.p_untagged_local else (urban if u_kind < _COIN else "KZ:urban")
        lanes_each_way = 1 if u_lanes >= s.p_untagged_local else None
    attrs: dict[str, Any] = {"highway": highway}
    if name[0]:
        attrs["name"] = name[0]
    if name[1]:
        attrs["name:ru"] = name[1]
    if maxspeed is not None:
        attrs["maxspeed"] = maxspeed
    if lanes_each_way is not None:
        attrs["lanes"] = str(lanes_each_way if oneway else 2 * lanes_each_way)
    attrs["oneway"] = oneway
    return attrs


def _great_circle_m(
    lat1: npt.NDArray[np.float64],
    lon1: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
    lon2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Great-circle distance [m]: the haversine formula and Earth radius of ``osmnx.distance.great_circle``."""
    y1, y2 = np.radians(lat1), np.radians(lat2)
    dy = y2 - y1
    dx = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dy / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin(dx / 2) ** 2
    h = np.minimum(1.0, h)
    return np.asarray(2 * _EARTH_RADIUS_M * np.arcsin(np.sqrt(h)), dtype=np.float64)
