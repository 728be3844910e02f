"""Result data and its on-disk layout.

Layout of one run (DESIGN.md "Result layout")::

    results/<scenario>/<run-id>/
        scenario.toml          the resolved scenario (extends applied, absolute paths) as first run here; a copy
                               of the scenario in another folder shares the run-id (files by content, not path)
        manifest.json          package version and code fingerprint, seed, network source/fingerprint, schematic
                               flag, created
        replications/rep-0000/ one folder per finished replication, written atomically (tmp folder + rename)
            summary.json       headline numbers (see ReplicationResult.summary) and, under ``warnings``, the
                               loud warnings on this replication alone (English; written by a run:
                               vision_zero.runs.run_summary.run_warnings)
            injuries.parquet   CrashEstimate.injuries
            link_traffic.parquet  annualised per-link traffic
            speed_hist.parquet sparse speed histogram (period, link, bin_lo_kph, count)
            traffic_link_stats.parquet, crossing_passages.parquet, crossing_pedestrian_demand.parquet,
            traffic_speed_hist.parquet
                               the traffic record the risk stage read (TrafficRecord.link_stats, passages,
                               pedestrian_demand, speed_hist per period), so the risk stage alone
                               can be re-run
                               (the sensitivity chart)
            routes.parquet     a baseline's routes as its drivers ended (read by its variants): driver, link,
                               the route's row of route_costs (older versions: its forgone saving)
            route_costs.parquet  a baseline's link costs per departure slice and its movements' extra costs after
                               its last simulation (row, id, cost_s; :class:`~vision_zero.traffic.routing.
                               RouteCosts`): a variant computes a driver's forgone saving from them on demand
            risk_draws.parquet the risk stage's draws (draw, key, factor, per_year_raw, per_year: each draw's
                               calibration factor and totals per severity and road user; ``injuries`` and the
                               summary are their mean; vision_zero.runs.risk_draws), read by a baseline's variants
            link_events.parquet  only with ``--link-events``: one row per vehicle and link entered (period,
                               vehicle, size_veh, link, enter_s, run_end_s, exit_s; :data:`LINK_EVENTS_FILE`)
            parameters.json    the parameter draw of this replication
            files.json         written last: every file above with its size [bytes] and SHA-256
        replications.csv       headline numbers of every replication (written by vision_zero.runs.replications)
        run_summary.json       the run's summary as the terminal prints it (``text``) and its loud warnings
                               (``warnings``: gridlock, an unmet peak calibration; over the replications' means)

Nothing else goes into a run folder (:data:`RUN_FOLDER_ENTRIES`); ``replications.csv`` and ``run_summary.json``
are written when the scenario itself is run (a baseline run only for its variants' pairs has neither, until it is
run or compared). A comparison's tables (``comparison``, ``scenarios``, ``headline``, ``pairs``, ``ksi_split`` as
CSV and Parquet), charts, maps, ``links.gpkg`` and ``report.html`` go into its own folder,
``results/compare-<baseline>-<variant>…/`` by default (:mod:`vision_zero.outputs.write`); a sweep's ``sweep.csv``
and ``sweep.png`` into ``results/<scenario>/sweep-<id>/`` (:mod:`vision_zero.appraisal.sweep`).

A replication counts as complete only if its ``files.json`` lists every file and each one on disk has the size
and SHA-256 listed (:func:`scan_replications`), so a rerun skips the complete ones (resume) and runs a damaged one
again (a truncated or deleted table, an edited ``summary.json``), saying which file is wrong. A folder is put in
place by one rename; a damaged one is replaced by an atomic exchange of the two folders (Linux
``renameat2(RENAME_EXCHANGE)``), so a reader never finds the replication missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vision_zero.core.errors import DataError
from vision_zero.core.files import atomic_write_bytes, atomic_write_text, current_umask

if TYPE_CHECKING:  # the traffic stage (numba) is imported only where routes are read
    from vision_zero.traffic.routing import HeldRoutes

__all__ = [
    "LINK_EVENTS_FILE",
    "RUN_FOLDER_ENTRIES",
    "ReplicationResult",
    "atomic_write_bytes",
    "atomic_write_text",
    "completed_replications",
    "exchange_paths",
    "lists_file",
    "read_held_routes",
    "read_link_times",
    "read_replication",
    "read_replication_summary",
    "read_risk_draws",
    "read_traffic_tables",
    "replication_dir",
    "replication_problem",
    "safe_file_name",
    "scan_replications",
    "write_replication",
]


def safe_file_name(name: str) -> str:
    """``name`` as one part of a file or folder name: letters, digits and ``_.@=,+-`` kept, other runs → ``_``.

    The one rule for run folders (``results/<scenario>/…``) and the files a comparison writes (``map_<name>.png``).
    """
    safe = re.sub(r"[^\w.@=,+-]+", "_", name).strip("._")
    return safe or "scenario"


_TABLES = ("injuries", "link_traffic", "speed_hist")
#: The files of a replication folder besides the list of files itself.
REPLICATION_FILES: tuple[str, ...] = ("summary.json", "parameters.json", *(f"{t}.parquet" for t in _TABLES))
#: File name (without ``.parquet``) -> the :class:`~vision_zero.traffic.simulation.TrafficRecord` table it keeps.
TRAFFIC_TABLES: dict[str, str] = {
    "traffic_link_stats": "link_stats",
    "crossing_passages": "passages",
    "crossing_pedestrian_demand": "pedestrian_demand",
    "traffic_speed_hist": "speed_hist",
}
#: A baseline replication's routes (:attr:`ReplicationResult.routes`).
ROUTES_FILE = "routes.parquet"
#: The costs a baseline replication's routes were last compared at (:class:`~vision_zero.traffic.routing.RouteCosts`).
ROUTE_COSTS_FILE = "route_costs.parquet"
#: Each risk draw's calibration factors and totals (:attr:`ReplicationResult.risk_draws`).
RISK_DRAWS_FILE = "risk_draws.parquet"
#: Every vehicle's link entries and exits (:attr:`ReplicationResult.link_events`), written only when asked for.
LINK_EVENTS_FILE = "link_events.parquet"
#: The list of files with sizes and SHA-256, written last into a replication folder.
FILES_LIST = "files.json"
#: What a run folder holds (the layout in the module docstring), and nothing else.
RUN_FOLDER_ENTRIES: tuple[str, ...] = (
    "scenario.toml",
    "manifest.json",
    "replications",
    "replications.csv",
    "run_summary.json",
)
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReplicationResult:
    """Everything one replication of one scenario produced, annualised.

    Attributes
    ----------
    scenario
        Scenario name.
    replication
        Replication index (0-based); replication i of every scenario shares random streams (CRN).
    seed
        The run's base seed.
    summary
        Headline numbers [per year]: ``fatal``, ``serious``, ``slight``, ``ksi`` and the same per road user as
        ``fatal_pedestrian`` …; ``veh_km``, ``veh_h`` [per year]; the traffic summary
        (simulated, not annualised; :func:`vision_zero.traffic.simulation.traffic_summary`): ``trips``,
        ``trips_routed``, ``trips_completed``, ``trips_en_route``, ``trips_unrouted``, ``share_arrived``,
        ``stuck_moves``; ``trips_evaporated``, ``trips_added`` (elastic demand against the baseline;
        simulated, not annualised); ``congestion_index`` (AM peak travel time / free-flow time of the arrived
        trips, all trips when no AM peak is simulated: :func:`vision_zero.traffic.demand.congestion_index`); ``schematic`` (1.0 or 0.0); ``route_relative_gap``
        (0-1; on a large network estimated from a sample of origins, with its standard error
        ``route_relative_gap_se``), ``route_iterations`` and ``route_stop_gap_target`` / ``_plateau`` / ``_band`` /
        ``_cap`` (1.0 for why its loop stopped; ``_cap``: at the iteration cap, not converged) of the equilibrium
        route choice (absent in results of older versions); a baseline's ``route_equilibrium_relative_gap`` and
        ``route_equilibrium_iterations``: where its equilibrium phase stopped before its band phase.
    injuries
        :attr:`vision_zero.risk.crash_model.CrashEstimate.injuries`.
    link_traffic
        One row per link: ``link``, ``veh_km_per_year``, ``veh_h_per_year``, ``mean_speed_kph``,
        ``p85_speed_kph``, ``share_over_limit`` (flow-weighted over periods).
    speed_hist
        :attr:`vision_zero.traffic.simulation.TrafficRecord.speed_hist` summed over periods and annualised counts.
    parameters
        The parameter draw used (name -> value).
    traffic
        The tables of the replication's traffic record the risk stage reads (keys of :data:`TRAFFIC_TABLES`:
        link statistics, vehicles passing crossings, pedestrian demand, speed histograms per period), kept so that the risk stage can be
        re-run on the same traffic; None: not kept. :func:`read_replication` leaves it None (the tables are
        large); :func:`read_traffic_tables` reads them.
    routes
        A baseline's routes as its drivers ended (:class:`vision_zero.traffic.routing.HeldRoutes`, with the costs
        they were last compared at): its variants' replications start from them (written as ``routes.parquet``
        and ``route_costs.parquet``, read by :func:`read_held_routes`); None for a variant.
    link_events
        Only when asked for (``vision-zero run/compare --link-events``; :func:`vision_zero.runs.pipeline.
        run_replication`, ``link_events=True``), else None: every vehicle's link entries and exits
        (:attr:`vision_zero.traffic.simulation.TrafficRecord.link_events`: ``period``, ``vehicle``, ``size_veh``,
        ``link``, ``enter_s``, ``run_end_s``, ``exit_s``), written as ``link_events.parquet``. It describes the
        same simulation: every other table is identical with or without it.
    risk_draws
        The replication's risk draws (:func:`vision_zero.runs.risk_draws.draws_table`: ``draw``, ``key``,
        ``factor``, ``per_year_raw``, ``per_year``; draw 0 is the own draw ``parameters``): ``injuries`` and the
        summary's casualty totals are the mean over them, and a baseline's variants calibrate their draw *j* with
        its factors of draw *j* (written as ``risk_draws.parquet``, read by :func:`read_risk_draws`); None: a task
        that keeps none (results of older versions, test tasks).
    """

    scenario: str
    replication: int
    seed: int
    summary: dict[str, float]
    injuries: pd.DataFrame
    link_traffic: pd.DataFrame
    speed_hist: pd.DataFrame
    parameters: dict[str, float]
    traffic: dict[str, pd.DataFrame] | None = None
    routes: HeldRoutes | None = None
    link_events: pd.DataFrame | None = None
    risk_draws: pd.DataFrame | None = None


def replication_dir(run_dir: Path, replication: int) -> Path:
    """The folder of replication ``replication`` inside a run folder."""
    return run_dir / "replications" / f"rep-{replication:04d}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _file_list(folder: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    files = {}
    for name in (*REPLICATION_FILES, *extra):
        path = folder / name
        files[name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    return {"files": files}


def replication_problem(path: Path) -> str | None:
    """What is wrong with a replication folder (a file missing, of the wrong size or content), or None if whole.

    Checks every file against ``files.json`` (sizes first, then SHA-256): the files every replication has and
    the optional ones it lists (the traffic tables).
    """
    listing = path / FILES_LIST
    try:
        files = json.loads(listing.read_text("utf-8"))["files"]
        names = [*REPLICATION_FILES, *(n for n in files if n not in REPLICATION_FILES)]
        expected = {name: (int(files[name]["bytes"]), str(files[name]["sha256"])) for name in names}
    except FileNotFoundError:
        return f"{listing} is missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{listing} is unreadable ({type(exc).__name__})"
    for name, (size, _digest) in expected.items():
        file = path / name
        try:
            actual = file.stat().st_size
        except FileNotFoundError:
            return f"{file} is missing"
        if actual != size:
            return f"{file} has {actual} bytes, expected {size}"
    for name, (_size, digest) in expected.items():
        if _sha256(path / name) != digest:
            return f"{path / name} does not match its SHA-256 in {FILES_LIST}"
    return None


@functools.cache
def _renameat2() -> Any:
    """The C library's ``renameat2`` (Linux, glibc >= 2.28), or None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    func = getattr(ctypes.CDLL(name, use_errno=True), "renameat2", None)
    if func is not None:
        func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        func.restype = ctypes.c_int
    return func


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    func = _renameat2()
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _replace_folder(tmp: Path, final: Path) -> None:
    """Put the complete folder ``tmp`` at ``final``, replacing a damaged one without a moment where it is gone."""
    if exchange_paths(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the damaged folder
        return
    # no atomic exchange on this system: move the old folder aside and the new one in (two renames)
    aside = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
    os.replace(final, aside / final.name)
    os.replace(tmp, final)
    shutil.rmtree(aside, ignore_errors=True)


def write_replication(run_dir: Path, result: ReplicationResult, *, warnings: Sequence[str] = ()) -> Path:
    """Write one replication atomically: build it in a temporary folder, then rename it into place.

    ``warnings`` (the loud warnings on this replication: :func:`vision_zero.runs.run_summary.run_warnings`) go
    into ``summary.json`` beside its headline numbers, as the terminal words them.

    The folder gets ``files.json`` (sizes and SHA-256 of its files) last. An existing complete folder of the
    same replication (a second run of the same command got there first) is kept: replications are
    deterministic. A damaged one is replaced atomically, and so is a complete one that lacks a file this
    result has (a replication re-run for its link events).
    """
    final = replication_dir(run_dir, result.replication)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
    try:
        meta: dict[str, Any] = {
            "scenario": result.scenario,
            "replication": result.replication,
            "seed": result.seed,
            "summary": result.summary,
            "warnings": list(warnings),
        }
        (tmp / "summary.json").write_text(json.dumps(meta, indent=2, sort_keys=True), "utf-8")
        (tmp / "parameters.json").write_text(json.dumps(result.parameters, indent=2, sort_keys=True), "utf-8")
        for name in _TABLES:
            frame: pd.DataFrame = getattr(result, name)
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        extra: tuple[str, ...] = ()
        if result.traffic is not None:
            for name in TRAFFIC_TABLES:
                result.traffic[name].to_parquet(tmp / f"{name}.parquet", index=False)
            extra = tuple(f"{name}.parquet" for name in TRAFFIC_TABLES)
        if result.routes is not None:
            result.routes.to_frame().to_parquet(tmp / ROUTES_FILE, index=False)
            extra = (*extra, ROUTES_FILE)
            if result.routes.costs is not None:
                result.routes.costs.to_frame().to_parquet(tmp / ROUTE_COSTS_FILE, index=False)
                extra = (*extra, ROUTE_COSTS_FILE)
        if result.risk_draws is not None:
            result.risk_draws.to_parquet(tmp / RISK_DRAWS_FILE, index=False)
            extra = (*extra, RISK_DRAWS_FILE)
        if result.link_events is not None:
            result.link_events.to_parquet(tmp / LINK_EVENTS_FILE, index=False)
            extra = (*extra, LINK_EVENTS_FILE)
        listing = _file_list(tmp, extra)
        (tmp / FILES_LIST).write_text(json.dumps(listing, indent=2, sort_keys=True), "utf-8")
        if final.exists():
            # another run of the same folder finished it first (with every file this one has, e.g. link events)
            if replication_problem(final) is None and all(lists_file(final, name) for name in extra):
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            _replace_folder(tmp, final)
            return final
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process (a second run of the same folder) put the same replication in place between the
            # check and the rename. Replications are deterministic, so its copy is as good as ours.
            if not (final / "summary.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def lists_file(path: Path, name: str) -> bool:
    """Whether the replication folder ``path``'s list of files (``files.json``) names the file ``name``.

    A whole folder (:func:`replication_problem` None) then also has that file, as listed.
    """
    try:
        files = json.loads((path / FILES_LIST).read_text("utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return isinstance(files, dict) and name in files


def _damaged(path: Path, what: str, why: str) -> DataError:
    """The error for a file of a replication folder that cannot be read: ``what`` it should be, ``why`` not."""
    return DataError(
        f"{path}: expected a {what} written by vision-zero ({why}); rerun the command that made it: a damaged "
        "replication is run again"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise _damaged(path, "replication file", f"{type(exc).__name__}: {exc}") from None


def read_held_routes(path: Path) -> HeldRoutes | None:
    """The routes a baseline replication folder keeps (:attr:`ReplicationResult.routes`), or None if it has none.

    With the costs they were last compared at (``route_costs.parquet``), or, from older versions, each route's
    forgone saving.
    """
    from vision_zero.traffic.routing import HeldRoutes, RouteCosts

    file = path / ROUTES_FILE
    if not file.exists():
        return None
    try:
        frame = pd.read_parquet(file)
        if "forgone_s" in frame:
            return HeldRoutes.from_frame(frame)
        file = path / ROUTE_COSTS_FILE
        return HeldRoutes.from_frame(frame, RouteCosts.from_frame(pd.read_parquet(file)))
    except (OSError, ValueError, KeyError) as exc:
        raise _damaged(file, "routes table", type(exc).__name__) from None


def read_replication(path: Path) -> ReplicationResult:
    """Read a replication folder written by :func:`write_replication`.

    Raises
    ------
    DataError
        Naming the file that is missing or unreadable.
    """
    meta = _read_json(path / "summary.json")
    params = _read_json(path / "parameters.json")
    tables = {}
    for name in _TABLES:
        file = path / f"{name}.parquet"
        try:
            tables[name] = pd.read_parquet(file)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise _damaged(file, "replication table", type(exc).__name__) from None
    return ReplicationResult(
        risk_draws=read_risk_draws(path),
        scenario=meta["scenario"],
        replication=int(meta["replication"]),
        seed=int(meta["seed"]),
        summary={k: float(v) for k, v in meta["summary"].items()},
        parameters={k: float(v) for k, v in params.items()},
        injuries=tables["injuries"],
        link_traffic=tables["link_traffic"],
        speed_hist=tables["speed_hist"],
    )


def read_risk_draws(path: Path) -> pd.DataFrame | None:
    """A replication folder's risk draws (:attr:`ReplicationResult.risk_draws`), or None if it has none."""
    file = path / RISK_DRAWS_FILE
    if not file.is_file():
        return None
    try:
        return pd.read_parquet(file)
    except (OSError, ValueError) as exc:
        raise _damaged(file, "replication table", type(exc).__name__) from None


def read_link_times(path: Path) -> pd.DataFrame | None:
    """A replication folder's simulated link times, or None if it kept no traffic tables.

    ``link``, ``period``, ``veh_km``, ``veh_h`` of its link statistics (the traffic table ``traffic_link_stats``):
    elastic demand's congested costs (:func:`vision_zero.runs.pipeline.elastic_link_costs_s`).
    """
    file = path / "traffic_link_stats.parquet"
    if not file.is_file():
        return None
    try:
        return pd.read_parquet(file, columns=["link", "period", "veh_km", "veh_h"])
    except (OSError, ValueError, KeyError) as exc:
        raise _damaged(file, "replication table", type(exc).__name__) from None


def read_traffic_tables(path: Path) -> dict[str, pd.DataFrame] | None:
    """The traffic tables a replication folder keeps (:attr:`ReplicationResult.traffic`), or None if it has none.

    ``period`` columns are read as categories (the risk stage maps them per row): decoded from the files as
    dictionaries (:func:`_period_categories`), not as a string per row converted afterwards.

    Raises
    ------
    DataError
        A table listed but unreadable.
    """
    if not all((path / f"{name}.parquet").is_file() for name in TRAFFIC_TABLES):
        return None
    out = {}
    for name in TRAFFIC_TABLES:
        file = path / f"{name}.parquet"
        try:
            frame = pd.read_parquet(file, read_dictionary=["period"], use_threads=False)
        except (OSError, ValueError) as exc:
            raise _damaged(file, "replication table", type(exc).__name__) from None
        if "period" in frame:
            frame["period"] = _period_categories(frame["period"])
        out[name] = frame
    return out


def _period_categories(column: pd.Series) -> pd.Series:
    """A ``period`` column as ``column.astype("category")`` of its strings: the same categories, sorted, and codes.

    Read from a file's dictionary (``read_dictionary``), the categories are the dictionary's, in its order, and may
    include unused values; a column stored without strings (an empty table's) is not read as categories at all. A
    6 M-row table's strings cost ~1 CPU-s to build and convert; its dictionary almost nothing (#16).
    """
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype("category")
    codes = column.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories)) > 0  # not a sort of the codes
    return column.cat.set_categories(column.cat.categories[used].sort_values())


def scan_replications(run_dir: Path, *, trusted: set[int] | None = None) -> tuple[list[int], dict[int, str]]:
    """The complete replications of ``run_dir`` (sorted) and the damaged ones (index -> what is wrong).

    A folder is complete when :func:`replication_problem` finds nothing; indices in ``trusted`` (checked or
    written by this process) are not checked again. Hidden temporary folders left by an interrupted write
    (``.rep-0003.xxxx``) are not counted.
    """
    root = run_dir / "replications"
    if not root.is_dir():
        return [], {}
    done, damaged = [], {}
    for entry in root.iterdir():
        name = entry.name
        if not (name.startswith("rep-") and name[4:].isdigit()):
            continue
        index = int(name[4:])
        problem = None if trusted is not None and index in trusted else replication_problem(entry)
        if problem is None:
            done.append(index)
        else:
            damaged[index] = problem
    return sorted(done), damaged


def completed_replications(run_dir: Path) -> list[int]:
    """Indices of the replications finished in ``run_dir`` and whole (see :func:`scan_replications`), sorted."""
    return scan_replications(run_dir)[0]


def read_replication_summary(path: Path) -> dict[str, float]:
    """Only the headline numbers of a replication folder (fast: no tables are read)."""
    meta = _read_json(path / "summary.json")
    try:
        return {k: float(v) for k, v in meta["summary"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(
            f"{path / 'summary.json'}: expected headline numbers under 'summary' ({exc})"
        ) from None
