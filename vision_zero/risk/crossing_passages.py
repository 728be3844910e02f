"""Pedestrian casualties at the mapped crossings, from the vehicles' passages and the pedestrians' arrival rates.

Each vehicle passing a crossing meets the pedestrians arriving there as a Poisson stream while they are in the
carriageway (:func:`crossing_injuries`); the passages are grouped by crossing type and movement
(:class:`CrossingPassages`) and each group takes the chain's risk per conflict
(:mod:`vision_zero.risk.pedestrian_conflict`), summed per crossing, movement and year.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from vision_zero.core.caching import BoundedCache
from vision_zero.core.process import set_up_numba
from vision_zero.network.road_network import RoadNetwork
from vision_zero.risk._crossing_kernels import cell_risk_sums
from vision_zero.risk._parameters import RecordedReads
from vision_zero.risk.crossing_behaviour import crossing_time_s, movement_speed_kph
from vision_zero.risk.pedestrian_conflict import (
    GridPoints,
    combine_conflict_risks,
    crossing_speed_kph,
    impact_means,
    impact_speed_grid_kph,
)
from vision_zero.traffic.pedestrians import crossings_at_junctions, junction_legs
from vision_zero.traffic.periods import annual_factor
from vision_zero.traffic.simulation import DESIGN_SPEED_QUANTILE, TrafficRecord

__all__ = [
    "CrossingPassages",
    "casualty_frame",
    "crossing_casualties_by_movement",
    "crossing_injuries",
    "crossing_leg_weight",
    "pedestrian_rates",
    "site_rows",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _flag(frame: pd.DataFrame, column: str) -> npt.NDArray[np.bool_]:
    """A boolean column of ``frame``, all False when the frame has none (records built without it)."""
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    if frame[column].dtype == bool:  # no missing values: the column itself (no copy)
        flags: npt.NDArray[np.bool_] = frame[column].to_numpy()
        return flags
    out: npt.NDArray[np.bool_] = frame[column].fillna(False).to_numpy(dtype=bool)
    return out


def _period_codes(column: pd.Series, names: list[str]) -> npt.NDArray[np.int8]:
    """Per row of a ``period`` column, the position of its period among ``names`` (-1: none of them, or missing).

    Through the column's distinct values (:func:`pandas.factorize`; a categorical column's categories), so that
    no Python string is made per row (the record's string columns hold none).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = column.cat.codes.to_numpy(np.int64), column.cat.categories
    else:
        codes, uniques = pd.factorize(column)
    lookup = np.r_[pd.Index(names).get_indexer(pd.Index(uniques).astype(str)), -1].astype(np.int8)
    out: npt.NDArray[np.int8] = lookup[codes]  # code -1 (missing) -> the last entry, -1
    return out


def _positions(index: pd.Index, values: pd.Series) -> npt.NDArray[np.int32]:
    """Per value, its position in ``index`` (-1: not in it); a 0..n-1 range index needs no look-up table."""
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        v = values.to_numpy()
        pos = v.astype(np.int32)
        pos[(v < 0) | (v >= len(index))] = -1
        return pos
    out: npt.NDArray[np.int32] = index.get_indexer(pd.Index(values)).astype(np.int32)
    return out


#: Passages whose casualties are computed at once (in blocks of whole crossings): bounds the risk stage's
#: per-passage temporaries (a memory setting, not a model number).
_BLOCK_PASSAGES = 1 << 18

#: The most passages a record may have for :class:`CrossingPassages` to keep them grouped (at most ~90 bytes each
#: with the weights, speeds, grid places and impact means: ~1.5 GiB); a larger record is grouped again on every call
#: (a memory setting, not a model number).
_KEEP_PASSAGES = 1 << 24


def crossing_leg_weight(network: RoadNetwork) -> FloatArray:
    """Per crossing: the share of its pedestrians whom a vehicle passing it meets (1, or ``2 / legs`` at a junction).

    A crossing along a road, or on a node where at most two streets meet, is crossed once by every vehicle passing
    it: it meets all the crossing's pedestrians. A crossing on a junction node (``legs`` >= 3 streets meet,
    :func:`vision_zero.traffic.pedestrians.junction_legs`) stands for the crosswalks of all its legs
    (:func:`vision_zero.traffic.pedestrians.pedestrian_demand` gives it the pedestrians of every leg): a pedestrian
    crosses one leg and meets the vehicles entering and leaving the junction by that leg; every vehicle through the
    junction crosses two legs' crosswalks (where it enters and where it leaves). The record does not say where each
    vehicle leaves, so the pedestrians are spread evenly over the legs and each vehicle meets ``2 / legs`` of them:
    summed over the vehicles, each leg's pedestrians meet the legs' flows in and out, as at a street's junction end
    where no crossing is mapped (:func:`injuries_on_streets`), so mapping a crossing at a junction moves its
    pedestrians without changing how many vehicles they meet.

    Cached within a process by what it reads (the links' ends, the crossings' nodes, the node count), not by the
    network's name; the array returned is read-only.
    """
    node = network.crossings["node"].to_numpy(np.int64)
    links = network.links
    h = hashlib.blake2b(digest_size=16)
    for a in (links["u"].to_numpy(np.int64), links["v"].to_numpy(np.int64), node):
        h.update(len(a).to_bytes(8, "little"))
        h.update(np.ascontiguousarray(a).tobytes())
    key = (len(network.nodes), h.hexdigest())  # all it reads: the links' ends and the crossings' nodes

    def compute() -> FloatArray:
        per_node = junction_legs(network)
        legs = per_node[np.maximum(node, 0)].astype(np.float64)
        out: FloatArray = np.where(
            crossings_at_junctions(network, per_node), 2.0 / np.maximum(legs, 1.0), 1.0
        )
        out.flags.writeable = False  # shared by every caller with this network
        return out

    return _LEG_WEIGHT_CACHE.get_or_compute(key, compute)


#: :func:`crossing_leg_weight` per network content (the link ends and crossing nodes it reads): the risk stage
#: calls it for every estimate, a sensitivity run once per parameter value on the same network.
_LEG_WEIGHT_CACHE: BoundedCache[tuple[int, str], FloatArray] = BoundedCache(16)


def pedestrian_rates(record: TrafficRecord) -> pd.DataFrame:
    """Pedestrians arriving per hour at each crossing, per period: ``period`` str, ``crossing`` int, ``peds_per_h``.

    The record's pedestrian demand (:attr:`~vision_zero.traffic.simulation.TrafficRecord.pedestrian_demand`,
    Poisson rates); rows with no pedestrians are dropped.
    """
    out = record.pedestrian_demand[["period", "crossing", "peds_per_h"]].astype(
        {"period": str, "crossing": np.int64}
    )
    kept: pd.DataFrame = out[np.isfinite(out["peds_per_h"]) & (out["peds_per_h"] > 0)].reset_index(drop=True)
    return kept


def crossing_injuries(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    passages: CrossingPassages | None = None,
) -> pd.DataFrame:
    """Expected annual pedestrian casualties at each crossing (site_type ``"crossing"``), raw (uncalibrated).

    Expected over the pedestrians' arrivals, not over a draw of them: pedestrians arrive at a crossing as a
    Poisson stream of rate ``lambda`` (:func:`pedestrian_rates`), uniform in time, so a vehicle passing the crossing
    meets on average ``lambda x w x W`` pedestrians in the carriageway (``W``: one stage's crossing time,
    :func:`crossing_time_s`; ``w``: the share of the crossing's pedestrians on the crosswalks it passes, 1, or
    ``2 / legs`` at a junction node, :func:`crossing_leg_weight`), each with a warning time uniform over
    ``[0, W)``. Each passage thus contributes ``lambda x w x W x`` the chain's risk averaged over the lane-entry
    time (:func:`conflict_injury_risk`, :func:`lane_entry_tau_s`; exact when ``W`` is whole lanes), for a vehicle
    passing at its running speed weighted by the share of pedestrians who accept that lag
    (:func:`lag_acceptance_share`). The period is taken as a sample of a steady state (a vehicle passing in its
    first ``W`` seconds meets pedestrians who stepped out just before).

    Counting the coincidences of one draw of pedestrians with the vehicles instead made rare events (one
    pedestrian meeting one red-light runner) decide a crossing's casualties, and a variant that moves pedestrians
    (new crossings) drew a different set of arrivals everywhere: on the tiny network the crossings program moved
    pedestrian KSI by +6% or -71% with the replication.

    Every crossing of the network gets a row per severity (zero where nobody crossed). Each period's expected
    casualties are multiplied by :func:`vision_zero.traffic.periods.annual_factor`. ``passages``: as
    :func:`crossing_casualties_by_movement` takes it.
    """
    by_movement = crossing_casualties_by_movement(network, record, parameters=parameters, passages=passages)
    totals = by_movement.groupby("crossing")[["fatal", "serious", "slight"]].sum()
    totals = totals.reindex(network.crossings.index, fill_value=0.0)
    return site_rows("crossing", totals.index.to_numpy(np.int64), totals.to_numpy(np.float64))


#: The vehicles' movements at a crossing (:func:`crossing_casualties_by_movement`): passing at the running speed,
#: leaving the stop line after waiting there, turning at the crossing's node.
MOVEMENTS: tuple[str, ...] = ("passing", "from_stop", "turning")


def crossing_casualties_by_movement(
    network: RoadNetwork,
    record: TrafficRecord,
    *,
    parameters: Mapping[str, float],
    passages: CrossingPassages | None = None,
) -> pd.DataFrame:
    """Expected annual passages, collisions and casualties at each crossing by the vehicles' movement, raw.

    The terms :func:`crossing_injuries` adds up (one owner): ``crossing`` int (crossing id), ``movement`` str (one
    of :data:`MOVEMENTS`: a turning vehicle counts as ``"turning"`` whether or not it waited), ``passages`` (vehicles
    passing a crossing with pedestrian demand, per year), ``collision``, ``fatal``, ``serious``, ``slight`` (per
    year). Only crossings with pedestrians and passages get rows.

    ``passages``: the record's passages grouped once (:class:`CrossingPassages` of ``network`` and ``record``, kept),
    for a caller that re-runs this for other parameters on the same traffic; None: grouped here, a block at a time.
    """
    if passages is None:
        passages = CrossingPassages(network, record)
    return passages.casualties(parameters)


#: :func:`impact_means`'s result: E[collision], E[death], E[KSI] per row of a group's :class:`_Rows`.
_Means = tuple[FloatArray, FloatArray, FloatArray]

#: Per kept group (by id): the parameters a result read, their values, the result.
_Kept = dict[int, tuple[tuple[str, ...], tuple[float | None, ...], object]]


@dataclass(frozen=True)
class _PassageGroup:
    """The passages of one block of crossings (:data:`_BLOCK_PASSAGES`) with one crossing type and one movement.

    Kept groups (:meth:`CrossingPassages._groups`) have the passages of every block, the blocks in order.

    In the record's order; only what no parameter moves: each passage's running speed and flags, its crossing's
    position, its (crossing, movement) cell, the pedestrians per second it meets (the crossing's rate in its period
    x :func:`crossing_leg_weight`) and its period's annual factor.
    """

    type_code: int
    movement: int
    running: FloatArray
    stopped: npt.NDArray[np.bool_]
    turning: npt.NDArray[np.bool_]
    pos: npt.NDArray[np.int32]
    cell: npt.NDArray[np.int64]
    met_per_s: FloatArray
    annual: FloatArray
    site_p85: FloatArray | None  # raised crossings only: the 85th percentile of their approach speeds


@dataclass(frozen=True)
class _Rows:
    """A group's passages as the rows the chain per conflict sees: the speed at the crossing and the lanes.

    Every step after the speed at the crossing (:func:`impact_means`, :func:`combine_conflict_risks`) is a function of each
    passage's speed and lanes alone, value by value, so it is computed once per distinct row and each passage takes
    its row's value (``inv``): the same numbers. A group whose passages all reach the crossing at one speed (every
    vehicle turning at the turning speed, or leaving the stop line at the starting speed) has one row per lane count
    of its crossings; any other group one row per distinct (speed, lanes) pair, to the bit, when they are at most
    half its passages (a tornado's group of the district's through traffic has 2-3 passages per pair: the chain's
    re-runs were most of its cost, #16), else one row per passage (``inv`` None); both with the speeds' places on
    the impact tables' speed grid (``at``, :class:`GridPoints`).
    """

    v: FloatArray
    lanes: FloatArray
    inv: npt.NDArray[np.intp] | None
    at: GridPoints | None

    @classmethod
    def of(
        cls, v: FloatArray, lanes: FloatArray, lane_codes: tuple[npt.NDArray[np.intp], IntArray] | None = None
    ) -> _Rows:
        """The rows of passages at speeds ``v`` over ``lanes``; ``lane_codes``: :func:`_lane_codes` of ``lanes``."""
        bits = np.ascontiguousarray(v).view(np.int64)
        l_code, l_bits = _lane_codes(lanes) if lane_codes is None else lane_codes
        if len(v) and bool((bits == bits[0]).all()):  # one speed, to the bit
            one_speed = np.full(len(l_bits), v[0])
            return cls(one_speed, l_bits.view(np.float64), l_code.astype(np.intp, copy=False), None)
        v_code, v_bits = pd.factorize(bits)
        pair, pairs = pd.factorize(v_code.astype(np.int64) * len(l_bits) + l_code)
        if not len(v) or 2 * len(pairs) > len(v):  # mostly distinct: the gather costs more than rows save
            return cls(v, lanes, None, GridPoints.of(v, impact_speed_grid_kph()))
        v_rows = np.ascontiguousarray(v_bits[pairs // len(l_bits)]).view(np.float64)
        lanes_rows = np.ascontiguousarray(l_bits[pairs % len(l_bits)]).view(np.float64)
        inv_rows: npt.NDArray[np.intp] = pair.astype(np.intp, copy=False)
        return cls(v_rows, lanes_rows, inv_rows, GridPoints.of(v_rows, impact_speed_grid_kph()))


def _lane_codes(lanes: FloatArray) -> tuple[npt.NDArray[np.intp], IntArray]:
    """Per passage the code of its lane count, and the distinct counts' bits: by bits, a hash (no sort)."""
    codes, uniques = pd.factorize(np.ascontiguousarray(lanes).view(np.int64))
    return codes.astype(np.intp, copy=False), np.asarray(uniques, dtype=np.int64)


def _concatenated(groups: list[_PassageGroup]) -> _PassageGroup:
    """One group of the passages of ``groups`` (one crossing type and movement, blocks in order), in their order."""
    if len(groups) == 1:
        return groups[0]
    first = groups[0]

    def joined(name: str) -> npt.NDArray[Any]:
        return np.concatenate([getattr(g, name) for g in groups])

    return _PassageGroup(
        type_code=first.type_code,
        movement=first.movement,
        running=joined("running"),
        stopped=joined("stopped"),
        turning=joined("turning"),
        pos=joined("pos"),
        cell=joined("cell"),
        met_per_s=joined("met_per_s"),
        annual=joined("annual"),
        site_p85=None if first.site_p85 is None else joined("site_p85"),
    )


class CrossingPassages:
    """A record's vehicle passages at the crossings, grouped for :func:`crossing_casualties_by_movement`.

    The grouping reads no parameter: the passages of each block of whole crossings by crossing type and movement,
    the pedestrians each meets, the 85th-percentile speeds of the raised crossings. ``keep``: hold the groups
    after the first call of :meth:`casualties`, so that a re-run for other parameters on the same traffic
    (:mod:`vision_zero.runs.sensitivity`) computes only what the parameters move (memory: about 40 bytes per
    passage of a crossing with pedestrians, 8 for the weights, :meth:`_weight`, 8 for its lane count's code, and
    for a group with one row per passage 42 for the speeds, their grid places and the impact means, :meth:`_impact`,
    8 per passage and 42 per row for a group with rows of repeated speeds; a record of more than
    :data:`_KEEP_PASSAGES` passages is not kept); otherwise the groups are made a block at a time on every call, as
    many passages at once as :data:`_BLOCK_PASSAGES` allows. Both give the same numbers to the last bit (the same
    operations on the same values in the same order).
    """

    def __init__(self, network: RoadNetwork, record: TrafficRecord, *, keep: bool = False) -> None:
        self._network = network
        self._record = record
        self._keep = keep and len(record.passages) <= _KEEP_PASSAGES
        self._kept: tuple[FloatArray, list[_PassageGroup]] | None = None
        # per kept group (by id): the parameters each result read, their values, the result: its rows
        # (CrossingPassages._rows), impact means (._impact), pedestrians met per passage (._weight), terms (._terms)
        self._kept_rows: _Kept = {}
        self._impacts: _Kept = {}
        self._weights: _Kept = {}
        self._kept_terms: _Kept = {}
        self._lanes_of: dict[int, tuple[npt.NDArray[np.intp], IntArray]] = {}  # kept groups: _lane_codes
        crossings = network.crossings
        self._n = len(crossings)
        self.type_names: npt.NDArray[np.str_] = np.array([], dtype=str)
        self.type_code: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self.lanes: FloatArray = crossings["lanes_crossed"].to_numpy(np.float64)
        self.active = bool(
            self._n and len(record.passages) and record.periods and len(pedestrian_rates(record))
        )
        if self.active:
            types = crossings["crossing_type"].astype(str).replace("", "unmarked").to_numpy()
            # the crossing types as integer codes (the names sorted, as np.unique orders them): per passage a code
            # is compared and grouped, not a string (on a city's AM peak that took ~2 of the risk stage's ~4 CPU-s)
            self.type_names, self.type_code = np.unique(types, return_inverse=True)

    def _blocks(self) -> Iterator[tuple[FloatArray, list[_PassageGroup]]]:
        """Per block of crossings: the annual passages per (crossing, movement) cell, and the block's groups."""
        network, record, n, n_mov = self._network, self._record, self._n, len(MOVEMENTS)
        crossings = network.crossings
        cars = record.passages
        rates = pedestrian_rates(record)
        factors = np.array([annual_factor(p) for p in record.periods])
        type_names, type_code = self.type_names, self.type_code
        raised_code = int(np.searchsorted(type_names, "raised"))
        if raised_code == len(type_names) or type_names[raised_code] != "raised":
            raised_code = -1
        met_share = crossing_leg_weight(network)  # of the crossing's pedestrians, those a passage meets
        names = [p.name for p in record.periods]
        r_per = _period_codes(rates["period"], names)
        r_pos = _positions(crossings.index, rates["crossing"])
        ok = (r_per >= 0) & (r_pos >= 0)
        per_s = np.zeros((len(record.periods), n))
        np.add.at(per_s, (r_per[ok], r_pos[ok]), rates["peds_per_h"].to_numpy(np.float64)[ok] / 3600.0)
        # per passage only compact codes; the casualties are summed in blocks of whole crossings (a city's day has
        # tens of millions of passages): each (crossing, movement) cell is summed over the same passages in the
        # same order as in one block, so the totals do not depend on the blocks
        c_per = _period_codes(cars["period"], names)
        c_pos = _positions(crossings.index, cars["crossing"])
        c_pos[c_per < 0] = -1
        ends = np.cumsum(np.bincount(c_pos[c_pos >= 0], minlength=n))  # after each crossing's passages
        marks = np.searchsorted(ends, np.arange(_BLOCK_PASSAGES, ends[-1], _BLOCK_PASSAGES)) + 1
        bounds = np.unique(np.r_[0, marks, n])  # blocks of crossings [a, b)
        turning_all, stopped_all = _flag(cars, "turning"), _flag(cars, "stopped")
        running_all = cars["speed_kph"].to_numpy(np.float64)
        # each block's passages in the table's order: one stable sort by block (a radix sort of small integers),
        # not a pass over every passage per block (a district's day: 24 blocks of 6 M passages)
        small = np.int16 if len(bounds) < np.iinfo(np.int16).max else np.int64
        # the block of each passage's crossing, -1 for none (no crossing or period); by_block[starts[k + 1]:
        # starts[k + 2]] are block k's passages (crossings bounds[k] to bounds[k + 1]), in the table's order
        block_of = (np.searchsorted(bounds, c_pos, side="right") - 1).astype(small)
        by_block = np.argsort(block_of, kind="stable")
        starts = np.cumsum(np.r_[0, np.bincount(block_of.astype(np.int64) + 1, minlength=len(bounds))])
        for k in range(len(bounds) - 1):
            block = by_block[starts[k + 1] : starts[k + 2]]
            b_per, b_pos = c_per[block], c_pos[block]
            block = block[per_s[b_per, b_pos] > 0]  # passages of a crossing with pedestrians in their period
            b_per, b_pos = c_per[block], c_pos[block]
            turning, stopped, running = turning_all[block], stopped_all[block], running_all[block]
            b_code = type_code[b_pos]
            # 85th percentile of the approach speeds at each raised crossing (its design speed is one; no other
            # crossing type reads it, so the grouped quantile runs over the raised crossings' passages only)
            site_p85 = np.full(len(b_pos), np.nan)
            raised = b_code == raised_code
            if raised.any():
                p85 = pd.Series(running[raised]).groupby(b_pos[raised]).quantile(DESIGN_SPEED_QUANTILE)
                site_p85[raised] = p85.reindex(b_pos[raised]).to_numpy(np.float64)
            movement = np.where(turning, 2, np.where(stopped, 1, 0))
            cell = b_pos.astype(np.int64) * n_mov + movement
            passages = np.asarray(
                np.bincount(cell, weights=factors[b_per], minlength=n * n_mov), dtype=np.float64
            )
            met = per_s[b_per, b_pos] * met_share[b_pos]  # pedestrians met per second of crossing time
            groups = []
            for c in np.unique(b_code):
                of_type = b_code == c
                for code in range(n_mov):
                    m = of_type & (movement == code)
                    if not m.any():
                        continue
                    groups.append(
                        _PassageGroup(
                            type_code=int(c),
                            movement=code,
                            running=running[m],
                            stopped=stopped[m],
                            turning=turning[m],
                            pos=b_pos[m],
                            cell=cell[m],
                            met_per_s=met[m],
                            annual=factors[b_per[m]],
                            site_p85=site_p85[m] if int(c) == raised_code else None,
                        )
                    )
            yield passages, groups

    def _groups(self) -> Iterator[tuple[FloatArray, list[_PassageGroup]]]:
        if not self._keep:
            yield from self._blocks()
            return
        if self._kept is None:
            n_cells = self._n * len(MOVEMENTS)
            total = np.zeros(n_cells)
            parts: dict[tuple[int, int], list[_PassageGroup]] = {}
            for passages, groups in self._blocks():
                total += passages
                for g in groups:
                    parts.setdefault((g.type_code, g.movement), []).append(g)
            # one kept group per crossing type and movement, its blocks' passages one after the other: each
            # (crossing, movement) cell is in one block, so its passages are summed in the same order as there, and
            # the other groups add 0.0 to it; the re-runs' steps per group cost as much in Python as in numpy
            # otherwise (a district's day: ~210 groups of ~30 k passages, #16)
            kept = [_concatenated(parts.pop(key)) for key in list(parts)]
            self._kept = (total, kept)
        yield self._kept

    def _keeping(
        self,
        store: _Kept,
        g: _PassageGroup,
        parameters: Mapping[str, float],
        compute: Callable[[Mapping[str, float]], object],
        read_also: Callable[[set[str]], set[str]] = lambda read: read,
    ) -> object:
        """``compute(parameters)``; kept groups keep the first result in ``store`` with the parameters it read.

        A kept result is given again while those parameters (``read_also`` of the names ``compute`` read: a step
        adds those of the steps whose results it used) keep their values; other values are computed again, not kept.
        """
        if not self._keep:
            return compute(parameters)
        kept = store.get(id(g))
        if kept is not None:
            names, key, result = kept
            if tuple(parameters.get(name) for name in names) == key:
                return result
            return compute(parameters)
        reads = RecordedReads(parameters)
        result = compute(reads)
        names = tuple(sorted(read_also(reads.read)))
        store[id(g)] = (names, tuple(parameters.get(name) for name in names), result)
        return result

    def _names(self, store: _Kept, g: _PassageGroup) -> set[str]:
        """The parameters a kept result of ``g`` read (empty when not kept)."""
        kept = store.get(id(g))
        return set(kept[0]) if kept is not None else set()

    def _rows(self, g: _PassageGroup, ctype: str, parameters: Mapping[str, float]) -> _Rows:
        """The group's :class:`_Rows`: speeds at the crossing (:func:`movement_speed_kph`, then its type's).

        A group of through vehicles (none stopped, none turning) keeps its running speeds whatever the start and
        turning parameters (:func:`movement_speed_kph`): they do not count among its parameters.
        """
        moves = bool(g.stopped.any() or g.turning.any())

        def compute(values: Mapping[str, float]) -> _Rows:
            # a through group's speeds read the parameters unrecorded: whatever they say, they are its running speeds
            speed = movement_speed_kph(
                g.running, stopped=g.stopped, turning=g.turning, parameters=values if moves else parameters
            )
            v_eff = crossing_speed_kph(speed, ctype, values, site_p85_kph=g.site_p85)
            lanes = self.lanes[g.pos]
            if not self._keep:
                return _Rows.of(v_eff, lanes)
            # a kept group's lane counts move with no parameter: coded once (the turning and stopped vehicles'
            # groups' rows are made again for each of the parameters of their speeds)
            if id(g) not in self._lanes_of:
                self._lanes_of[id(g)] = _lane_codes(lanes)
            return _Rows.of(v_eff, lanes, self._lanes_of[id(g)])

        rows = self._keeping(self._kept_rows, g, parameters, compute)
        assert isinstance(rows, _Rows)
        return rows

    def _impact(self, g: _PassageGroup, ctype: str, parameters: Mapping[str, float]) -> tuple[_Rows, _Means]:
        """The group's rows and the means over the warning time at their speeds (:func:`impact_means`).

        Kept groups keep the first means with the parameters they and the rows read: a re-run that moves only
        yielding, the injury share of a turn or a crossing factor (:func:`combine_conflict_risks`) reads the means of the first
        run; one that moves an impact table's parameter, the walking speed or the critical lag interpolates the new
        table at the kept speeds' places on its grid (:class:`GridPoints`). Memory: about 42 bytes per passage of
        a group with one row per passage (the speeds, their places, three means), almost none for a group at one
        speed.
        """
        rows = self._rows(g, ctype, parameters)
        through = MOVEMENTS[g.movement] == "passing"

        def compute(values: Mapping[str, float]) -> _Means:
            return impact_means(rows.v, values, through=through, at=rows.at)

        means = self._keeping(
            self._impacts, g, parameters, compute, lambda read: read | self._names(self._kept_rows, g)
        )
        return rows, means  # type: ignore[return-value]

    def _weight(
        self, g: _PassageGroup, window: FloatArray, window_read: set[str], parameters: Mapping[str, float]
    ) -> FloatArray:
        """Pedestrians met per passage (during the crossing ``window`` of its crossing) x its annual factor."""

        def compute(_values: Mapping[str, float]) -> FloatArray:
            out: FloatArray = g.met_per_s * window[g.pos] * g.annual
            return out

        weight = self._keeping(self._weights, g, parameters, compute, lambda _read: set(window_read))
        assert isinstance(weight, np.ndarray)
        return weight

    def _terms(
        self, g: _PassageGroup, window: FloatArray, window_read: set[str], parameters: Mapping[str, float]
    ) -> tuple[FloatArray, ...]:
        """A group's collisions, deaths, serious and slight injuries per (crossing, movement) cell (all cells).

        Kept groups keep the first terms, with the parameters they read (the crossing time ``window``'s, the
        impact's, :func:`combine_conflict_risks`'s for the group's crossing type and movement), and give them again while those
        parameters keep their values: a parameter of one crossing type (a beacon's yielding, the LPI factor) or of
        one movement recomputes only its groups. :func:`combine_conflict_risks` runs on the group's :class:`_Rows`. One set of
        terms per group is kept (memory: 4 x 8 bytes per cell), and one weight per passage (8 bytes).
        """
        ctype, turning = str(self.type_names[g.type_code]), MOVEMENTS[g.movement] == "turning"
        n_cells = self._n * len(MOVEMENTS)

        def compute(values: Mapping[str, float]) -> tuple[FloatArray, ...]:
            # pedestrians met per passage x annualisation
            weight = self._weight(g, window, window_read, parameters)
            rows, (coll, fa, k) = self._impact(g, ctype, parameters)
            risk = combine_conflict_risks(rows.v, rows.lanes, ctype, values, coll, fa, k, turning=turning)
            # per key np.bincount(g.cell, weights=weight * r, minlength=n_cells), r the key's risk per passage
            # (risk[key][rows.inv], or risk[key] without inv), in one compiled pass with the same numbers to the bit
            # (_crossing_kernels)
            by_key = (risk["collision"], risk["fatal"], risk["serious"], risk["slight"])
            return cell_risk_sums(g.cell, weight, by_key, rows.inv, n_cells)

        def read_also(read: set[str]) -> set[str]:
            return read | window_read | self._names(self._impacts, g)

        terms = self._keeping(self._kept_terms, g, parameters, compute, read_also)
        return terms  # type: ignore[return-value]

    def casualties(self, parameters: Mapping[str, float]) -> pd.DataFrame:
        """:func:`crossing_casualties_by_movement` for these parameters."""
        crossings = self._network.crossings
        n, n_mov = self._n, len(MOVEMENTS)
        totals = np.zeros((n * n_mov, 5))  # passages, collision, fatal, serious, slight
        if self.active:
            set_up_numba()  # a program's own process: numba's set-up without its SciPy probe (#16); elsewhere nothing
            type_names, lanes = self.type_names, self.lanes
            window = np.zeros(n)
            window_reads = RecordedReads(parameters)
            for c, ctype in enumerate(type_names):
                m = self.type_code == c
                window[m] = crossing_time_s(lanes[m], str(ctype), parameters=window_reads)
            for passages, groups in self._groups():
                totals[:, 0] += passages
                for g in groups:
                    terms = self._terms(g, window, window_reads.read, parameters)
                    for j in range(4):
                        totals[:, j + 1] += terms[j]
        out = pd.DataFrame(totals, columns=["passages", "collision", "fatal", "serious", "slight"])
        out.insert(0, "movement", np.tile(np.array(MOVEMENTS, dtype=object), n))
        out.insert(0, "crossing", np.repeat(crossings.index.to_numpy(np.int64), n_mov))
        kept: pd.DataFrame = out[out["passages"] > 0].reset_index(drop=True)
        return kept


def casualty_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Pedestrian casualty rows (dicts) as the injuries frame: site type, site, road user, severity, ``per_year_raw``."""
    cols = ["site_type", "site", "road_user", "severity", "per_year_raw"]
    return pd.DataFrame(rows, columns=cols).astype({"site": "int64", "per_year_raw": "float64"})


def site_rows(site_type: str, sites: npt.NDArray[np.int64], values: FloatArray) -> pd.DataFrame:
    """Three pedestrian rows per site (fatal, serious, slight; ``values`` per site in that order), column by column.

    The frame :func:`casualty_frame` makes of the same rows as dicts (bit for bit, dtypes too), without a Python object per
    row.
    """
    if not len(sites):
        return casualty_frame([])
    severities = ("fatal", "serious", "slight")
    n = len(severities) * len(sites)
    return pd.DataFrame(
        {
            "site_type": [site_type] * n,
            "site": np.repeat(np.asarray(sites, dtype=np.int64), len(severities)),
            "road_user": ["pedestrian"] * n,
            "severity": list(severities) * len(sites),
            "per_year_raw": np.asarray(values, dtype=np.float64)[:, : len(severities)].reshape(-1),
        }
    )
