"""Scenario files (TOML): schema, loading, ``extends``, overrides and precise errors.

A scenario file says which network, demand, simulation settings, calibration targets, economic values and
interventions to run. Example::

    name = "arterials-80-to-60"
    description = "SCHEMATIC network: the 15 January 2019 decision ..."
    extends = "baseline.toml"

    [[interventions]]
    type = "speed_limit"
    limit_kph = 60
    enforcement = "police"
    where = { name = ["al-Farabi Avenue", "Sain Street"] }

Sections and keys (unknown keys are errors; see ``scenarios/README.md`` for the full reference):

``name`` (required, every file), ``description`` (required, every file: a text, or a table of texts by language
``en`` (required, the default) and optionally ``ru``, ``kk``, shown in the report of that language; a language
without one shows the default with a note), ``extends``, ``baseline``,
``[network]`` ``source`` (required), ``[demand]``, ``[simulation]``, ``[calibration]``, ``[economics]``,
``[risk]``, ``[[interventions]]``.

``extends`` rule: the parent file (a path relative to this file) is loaded first, recursively; then this file
is merged into it: tables merge key by key (recursively), any other value replaces the parent's, and the
``interventions`` list is *appended* to the parent's (parent's first). ``name``, ``description``,
``extends`` and ``baseline`` are never inherited. Relative paths are resolved against the file that wrote them.
A cycle, a missing parent or a chain deeper than :data:`MAX_EXTENDS_DEPTH` is an error.

Overrides (``--set KEY=VALUE`` on the command line, ``overrides=`` in :func:`load_scenario`) replace values of
the resolved scenario before validation, with key paths like ``simulation.replications`` or
``interventions[0].limit_kph``; values are TOML literals (``1``, ``"text"``, ``["a", "b"]``), or plain text.
The smoke tests use them to run every example on a reduced case (:data:`SMOKE_OVERRIDES`).

Every mistake raises :class:`~vision_zero.core.errors.ScenarioError` (file, key path, expected, given).
"""

from __future__ import annotations

import copy
import hashlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from vision_zero.core.errors import ScenarioError
from vision_zero.core.i18n import LANGUAGES
from vision_zero.program.interventions import INTERVENTIONS, Intervention
from vision_zero.program.scenario_schema import (
    MAX_DAILY_TRIPS,
    CalibrationSection,
    DemandSection,
    EconomicsSection,
    NetworkSection,
    RiskSection,
    ScenarioDocument,
    SimulationSection,
)

__all__ = [
    "MAX_DAILY_TRIPS",
    "MAX_EXTENDS_DEPTH",
    "NOT_IN_RUN_CONTENT",
    "SMOKE_OVERRIDES",
    "CalibrationSection",
    "DemandSection",
    "EconomicsSection",
    "NetworkSection",
    "RiskSection",
    "Scenario",
    "SimulationSection",
    "load_scenario",
    "parse_override",
]

MAX_EXTENDS_DEPTH = 16

#: Overrides that make any example scenario a quick smoke run (one replication, one short period, light demand).
SMOKE_OVERRIDES: dict[str, Any] = {
    "simulation.replications": 1,
    "simulation.periods": ["am_peak"],
    "simulation.duration_s": 600.0,
    "demand.scale": 0.02,
}

_NETWORK_FILE_SUFFIXES = (".graphml", ".osm", ".bz2", ".xml", ".pbf", ".geojson", ".json", ".gpkg", ".shp")
_NOT_INHERITED = ("name", "description", "extends", "baseline")

#: Top-level keys of a resolved scenario that no replication reads, left out of its run content
#: (:meth:`Scenario.content_toml`): the comparison reads the description and the money values
#: (:mod:`vision_zero.appraisal.economics`) from the scenario file itself, never from a run folder.
NOT_IN_RUN_CONTENT: tuple[str, ...] = ("description", "economics")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario with ``extends`` resolved.

    Attributes
    ----------
    path
        The scenario file (absolute).
    name, description
        From the file itself (not inherited); ``description`` is the default text (``en`` of a table).
    descriptions
        Language -> the file's description in it (always ``en``; ``ru``, ``kk`` when the file gives them).
    network, demand, simulation, calibration, economics, risk
        The sections, with paths made absolute.
    interventions
        Parent's interventions first, then this file's.
    chain
        The files merged, root first (``chain[0]`` is the root of the ``extends`` chain).
    baseline_path
        The scenario this one is compared against: ``baseline`` if given, else the root of the chain (a file
        without ``extends`` is its own baseline).
    overrides
        The overrides applied (key path -> value).
    document
        The resolved document (plain TOML data) that was validated.
    intervention_keys
        For each intervention, (file that wrote it, its key path there, e.g. ``interventions[0]``): where errors
        found later (a selector matching nothing) point.
    """

    path: Path
    name: str
    description: str
    network: NetworkSection
    demand: DemandSection
    simulation: SimulationSection
    calibration: CalibrationSection
    economics: EconomicsSection
    risk: RiskSection
    interventions: tuple[Intervention, ...]
    chain: tuple[Path, ...]
    baseline_path: Path
    overrides: Mapping[str, Any] = field(default_factory=dict)
    document: Mapping[str, Any] = field(default_factory=dict)
    intervention_keys: tuple[tuple[str, str], ...] = ()
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def description_in(self, lang: str) -> tuple[str, bool]:
        """The description in ``lang`` and True, or the default (``description``) and False if it has none."""
        text = self.descriptions.get(lang)
        return (text, True) if text else (self.description, lang == "en")

    @property
    def is_baseline(self) -> bool:
        """True when the scenario is its own baseline (calibrated on itself)."""
        return self.baseline_path == self.path

    @property
    def base_dir(self) -> Path:
        """Folder of the scenario file."""
        return self.path.parent

    def _resolved_document(self) -> dict[str, Any]:
        described = {k: v for k, v in self.descriptions.items() if k != "en"}
        doc: dict[str, Any] = {
            "name": self.name,
            "description": {"en": self.description, **described} if described else self.description,
            "baseline": str(self.baseline_path),
        }
        for section in ("network", "demand", "simulation", "calibration", "economics", "risk"):
            model: BaseModel = getattr(self, section)
            doc[section] = model.model_dump(mode="json", exclude_none=True)
        doc["interventions"] = [iv.model_dump(mode="json", exclude_none=True) for iv in self.interventions]
        return doc

    def resolved_toml(self) -> str:
        """The resolved scenario as TOML (``extends`` applied, defaults filled, paths absolute)."""
        import tomli_w

        head = [f"# resolved from: {' <- '.join(str(p) for p in self.chain)}"]
        if self.overrides:
            head.append(f"# overrides: {dict(self.overrides)}")
        return "\n".join(head) + "\n" + tomli_w.dumps(self._resolved_document())

    def content_toml(self) -> str:
        """The resolved scenario with every file it names replaced by a digest of the file's content.

        What a run-id hashes (:func:`vision_zero.runs.run_folders.run_id`): the same scenario in another folder
        or checkout has the same content, and a file edited under the same path has another. Each file the
        scenario names (``network.source`` when it is a file, ``demand.od_file``, ``demand.pedestrian_file``,
        ``calibration.crash_records``, ``risk.parameters``, each intervention's ``where.polygon``) becomes
        ``"sha256:<digest>"``; ``baseline`` becomes ``"self"`` (a baseline) or ``"another scenario"`` (a variant's
        run-id adds its baseline's content); the ``# resolved from`` and ``# overrides`` comments are left out
        (the values already hold the overrides). What no replication reads is left out too
        (:data:`NOT_IN_RUN_CONTENT`: the ``description`` and the ``[economics]`` money values, which the
        comparison reads from the scenario file when it appraises), so rewording a description or changing a
        discount rate reuses the replications already run instead of simulating them again.

        Raises
        ------
        ScenarioError
            A named file can no longer be read.
        """
        import tomli_w

        doc = self._resolved_document()
        for key in NOT_IN_RUN_CONTENT:
            del doc[key]
        doc["baseline"] = "self" if self.is_baseline else "another scenario"

        def digest(table: Any, key: str, label: str, base: Path | None = None) -> None:
            if isinstance(table, dict) and isinstance(table.get(key), str):
                path = Path(table[key])
                if base is not None and not path.is_absolute():
                    path = base / path  # as the selector reads it (a polygon given by --set)
                if path.is_file():  # a network source may be a place, a bounding box or a folder
                    table[key] = _file_digest(path, origin=str(self.path), key=f"{label}{key}")

        network = doc["network"]
        if _is_network_file(network["source"]):
            digest(network, "source", "network.")
        for section, key in (
            ("demand", "od_file"),
            ("demand", "pedestrian_file"),
            ("calibration", "crash_records"),
            ("risk", "parameters"),
        ):
            digest(doc[section], key, f"{section}.")
        for i, iv in enumerate(doc["interventions"]):
            digest(iv.get("where"), "polygon", f"interventions[{i}].where.", self.base_dir)
        return tomli_w.dumps(doc)


def _file_digest(path: Path, *, origin: str, key: str) -> str:
    """``"sha256:<hex>"`` of a file's bytes."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise ScenarioError(origin, key, f"a readable file ({exc})", str(path)) from None
    return f"sha256:{h.hexdigest()}"


# ------------------------------------------------------------------------------------------------- loading


def _read(path: Path, *, origin: str, key: str) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioError(origin, key, "an existing scenario file", str(path))
    try:
        return tomllib.loads(path.read_text("utf-8-sig"))  # "-sig": a leading byte-order mark is accepted
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "", f"valid TOML ({exc})") from None
    except RecursionError:
        raise ScenarioError(
            str(path), "", "valid TOML without arrays or tables nested hundreds deep"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), "", f"a readable UTF-8 text file ({exc})") from None


def _is_network_file(source: str) -> bool:
    if source.startswith(("schematic:", "bbox:")):
        return False
    lower = source.lower()
    return lower.endswith(_NETWORK_FILE_SUFFIXES) or "/" in source or "\\" in source


def _absolutize(doc: dict[str, Any], base: Path, origin: str) -> dict[str, Any]:
    """Make the relative paths in one file's document absolute (relative to that file's folder)."""

    def fix(table: Any, key: str) -> None:
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key]:
            p = Path(table[key]).expanduser()
            table[key] = str(p if p.is_absolute() else (base / p).resolve())

    net = doc.get("network")
    if isinstance(net, dict) and isinstance(net.get("source"), str) and _is_network_file(net["source"]):
        fix(net, "source")
    fix(doc.get("demand"), "od_file")
    fix(doc.get("demand"), "pedestrian_file")
    fix(doc.get("calibration"), "crash_records")
    fix(doc.get("risk"), "parameters")
    fix(doc, "baseline")
    ivs = doc.get("interventions")
    if isinstance(ivs, list):
        for iv in ivs:
            if isinstance(iv, dict):
                fix(iv.get("where"), "polygon")
    return doc


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``child`` into ``parent``: tables recursively, ``interventions`` appended, else replaced."""
    out = copy.deepcopy(parent)
    for key, value in child.items():
        if key == "interventions" and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _chain(path: Path, stack: tuple[Path, ...]) -> list[tuple[Path, dict[str, Any]]]:
    """``path`` and its ``extends`` ancestors as (file, document with absolute paths), root first."""
    doc = _absolutize(_read(path, origin=str(path), key=""), path.parent, str(path))
    parent_ref = doc.get("extends")
    if parent_ref is None:
        return [(path, doc)]
    if not isinstance(parent_ref, str) or not parent_ref:
        raise ScenarioError(str(path), "extends", "a path to another scenario file (a string)", parent_ref)
    parent = (path.parent / parent_ref).resolve()
    if parent in stack or parent == path:
        cycle = " -> ".join(p.name for p in (*stack, path, parent))
        raise ScenarioError(
            str(path), "extends", f"a chain of scenario files without a cycle (cycle: {cycle})", parent_ref
        )
    if len(stack) + 1 >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(str(path), "extends", f"a chain of at most {MAX_EXTENDS_DEPTH} files", parent_ref)
    if not parent.is_file():
        raise ScenarioError(
            str(path), "extends", "an existing scenario file (relative to this file)", parent_ref
        )
    return [*_chain(parent, (*stack, path)), (path, doc)]


def _resolve(files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, doc in files:
        merged = _merge({k: v for k, v in merged.items() if k not in _NOT_INHERITED}, doc)
    return merged


def _intervention_origin(index: int, files: list[tuple[Path, dict[str, Any]]]) -> tuple[str, int]:
    """(file, index within that file) of item ``index`` of the resolved interventions list."""
    seen = 0
    for path, doc in files:
        items = doc.get("interventions")
        n = len(items) if isinstance(items, list) else 0
        if index < seen + n:
            return str(path), index - seen
        seen += n
    return str(files[-1][0]), index


def _origin_of(
    loc: Sequence[str | int], files: list[tuple[Path, dict[str, Any]]], overrides: Mapping[str, Any]
) -> str:
    """The file that wrote the value at ``loc`` (the last one in the chain that has it), or ``--set``."""
    key = _loc_to_key(loc)
    if any(key == k or key.startswith(k + ".") or key.startswith(k + "[") for k in overrides):
        return "--set"
    if loc and loc[0] in _NOT_INHERITED:  # each file needs its own: a mistake there is the last file's
        return str(files[-1][0])
    if len(loc) >= 2 and loc[0] == "interventions" and isinstance(loc[1], int):
        return _intervention_origin(loc[1], files)[0]
    for path, doc in reversed(files):
        node: Any = doc
        found = True
        for part in loc[:2]:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            else:
                found = False
                break
        if found:
            return str(path)
    return str(files[-1][0])


# ------------------------------------------------------------------------------------------------ overrides

_KEY_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_:]*)((?:\[\d+\])*)")


def parse_override(text: str) -> tuple[str, Any]:
    """``"simulation.replications=3"`` → ``("simulation.replications", 3)``; values are TOML literals or text."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError("--set", text, "KEY=VALUE, e.g. simulation.replications=3", text)
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw
    return key, value


def _split_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in key.split("."):
        m = _KEY_PART.fullmatch(piece)
        if m is None:
            raise ScenarioError(
                "--set", key, "a key path like simulation.seed or interventions[0].limit_kph", key
            )
        parts.append(m.group(1))
        parts += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return parts


def _apply_override(doc: dict[str, Any], key: str, value: Any) -> None:
    parts = _split_key(key)
    target: Any = doc
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(target, list) or part >= len(target):
                have = len(target) if isinstance(target, list) else 0
                raise ScenarioError("--set", key, f"an existing list item (the list has {have})", part)
            target = target[part]
        else:
            if not isinstance(target, dict):
                raise ScenarioError("--set", key, "a path through tables", part)
            if part not in target:
                target[part] = [] if isinstance(nxt, int) else {}
            target = target[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(target, list) or last >= len(target):
            raise ScenarioError("--set", key, "an existing list item", last)
        target[last] = value
    elif isinstance(target, dict):
        target[last] = value
    else:
        raise ScenarioError("--set", key, "a path through tables", last)


# ----------------------------------------------------------------------------------------------- validation


def _loc_to_key(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the (sub-)model that ``loc`` points into."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(part)
        if info is None:
            break
        ann = info.annotation
        args = getattr(ann, "__args__", ())
        nested = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        current = nested[0] if nested else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [k for k in current.model_fields if k != "type"]
    return []


def _translate(exc: ValidationError, model: type[BaseModel], origin: str, prefix: str) -> ScenarioError:
    """Every pydantic error as ScenarioErrors (the first, with the others in ``more``)."""
    found: list[ScenarioError] = []
    for err in exc.errors(include_url=False):
        e = _translate_error(err, model, origin, prefix)
        if all(str(e) != str(f) for f in found):
            found.append(e)
    return _with_more(found)


def _with_more(mistakes: Sequence[ScenarioError]) -> ScenarioError:
    """The first mistake, carrying the others (each once) in ``more``."""
    first, rest = mistakes[0], list[ScenarioError]()
    for m in [*mistakes[1:], *first.more]:
        for e in (m, *m.more):
            if str(e) != str(first) and all(str(e) != str(r) for r in rest):
                rest.append(e)
    first.more = tuple(rest)
    return first


def _error_loc(err: Any) -> list[str | int]:
    return [
        p for p in err["loc"] if isinstance(p, str | int) and p not in ("function-after", "function-before")
    ]


def _translate_error(err: Any, model: type[BaseModel], origin: str, prefix: str) -> ScenarioError:
    """One pydantic error as a ScenarioError with a key path, what was expected and what was given."""
    loc = [p for p in err["loc"] if p not in ("function-after", "function-before")]
    key = f"{prefix}.{_loc_to_key(loc)}" if prefix and loc else (prefix or _loc_to_key(loc))
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        return ScenarioError(origin, key, f"one of the known keys {allowed}", str(loc[-1]))
    if kind == "missing":
        return ScenarioError(origin, key, "a value (this key is required)")
    msg = str(err["msg"])
    for lead in ("Input should be ", "Value error, "):
        if msg.startswith(lead):
            msg = msg[len(lead) :]
    msg = re.sub(r"^String should match pattern ", "a string matching the pattern ", msg)
    msg = re.sub(
        r"^(String|List|Tuple|Dictionary) should have ", lambda m: f"a {m.group(1).lower()} with ", msg
    )
    msg = re.sub(
        r"^(String|List|Tuple|Dictionary) should be ", lambda m: f"a {m.group(1).lower()} that is ", msg
    )
    field_msg = re.match(r"^([a-z_]+): (.*)$", msg)
    if (
        kind == "value_error" and field_msg and isinstance(given, dict)
    ):  # a model-level check naming its field
        key = f"{key}.{field_msg.group(1)}" if key else field_msg.group(1)
        msg = field_msg.group(2)
        given = given.get(field_msg.group(1))
    if isinstance(given, dict):
        given = None
    return ScenarioError(origin, key, msg, given)


def _parse_intervention(raw: Any, *, origin: str, key: str) -> Intervention:
    if not isinstance(raw, dict):
        raise ScenarioError(origin, key, "a table ([[interventions]])", raw)
    kind = raw.get("type")
    if kind is None:
        raise ScenarioError(origin, f"{key}.type", f"the intervention's type, one of {sorted(INTERVENTIONS)}")
    if kind not in INTERVENTIONS:
        raise ScenarioError(origin, f"{key}.type", f"one of {sorted(INTERVENTIONS)}", kind)
    cls = INTERVENTIONS[kind]
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise _translate(exc, cls, origin, key) from None


def _check_files(
    doc: ScenarioDocument, files: list[tuple[Path, dict[str, Any]]], overrides: Mapping[str, Any]
) -> None:
    checks: list[tuple[str, Path | None, str]] = [
        ("demand.od_file", doc.demand.od_file, "an existing OD file (CSV)"),
        ("demand.pedestrian_file", doc.demand.pedestrian_file, "an existing pedestrian demand file (CSV)"),
        ("calibration.crash_records", doc.calibration.crash_records, "an existing crash records file (CSV)"),
        ("risk.parameters", doc.risk.parameters, "an existing parameters file (TOML)"),
        ("baseline", doc.baseline, "an existing baseline scenario file"),
    ]
    for key, path, expected in checks:
        if path is not None and not path.is_file():
            raise ScenarioError(_origin_of(key.split("."), files, overrides), key, expected, str(path))
    source = doc.network.source
    if _is_network_file(source) and not Path(source).exists():
        hint = ""
        if source.endswith(".graphml"):
            hint = f'; build it first, e.g. vision-zero network build "Almaty, Kazakhstan" -o {source}'
        origin = _origin_of(["network", "source"], files, overrides)
        raise ScenarioError(origin, "network.source", f"an existing network file{hint}", source)
    for i, iv in enumerate(doc.interventions):
        where = iv.get("where") if isinstance(iv, dict) else None
        poly = where.get("polygon") if isinstance(where, dict) else None
        if isinstance(poly, str) and not Path(poly).is_file():
            origin = _origin_of(["interventions", i], files, overrides)
            raise ScenarioError(origin, f"interventions[{i}].where.polygon", "an existing GeoJSON file", poly)


def _check_currency(
    doc: ScenarioDocument, interventions: list[Intervention], keys: list[tuple[str, str]], origin: str
) -> None:
    """Shipped money values are in USD: another currency needs the scenario's own values."""
    econ = doc.economics
    if econ.currency == "USD":
        return
    for key in ("vsl", "value_of_time"):
        if getattr(econ, key) is None:
            raise ScenarioError(
                origin,
                f"economics.{key}",
                f"a value in {econ.currency} (the shipped default is in USD; set it when currency is not USD)",
            )
    for iv, (origin, key) in zip(interventions, keys, strict=True):
        if iv.cost is None or iv.cost.unit_cost is None:
            raise ScenarioError(
                origin,
                f"{key}.cost.unit_cost",
                f"a unit cost in {econ.currency} (the shipped unit costs are in USD; "
                "set cost = {{ unit_cost = ... }} when the currency is not USD)",
            )


def _descriptions(raw: dict[str, Any], origin: str, mistakes: list[ScenarioError]) -> dict[str, str]:
    """Read a ``description`` table (language -> text) into the translations; ``raw`` keeps the ``en`` text.

    A plain text is the default (English) description. Mistakes go to ``mistakes``.
    """
    value = raw.get("description")
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for lang, text in value.items():
        if lang not in LANGUAGES:
            mistakes.append(
                ScenarioError(
                    origin, f"description.{lang}", f"a language of the reports {list(LANGUAGES)}", lang
                )
            )
        elif not isinstance(text, str) or not text.strip():
            mistakes.append(ScenarioError(origin, f"description.{lang}", "a non-empty text", text))
        else:
            out[lang] = text
    if "en" not in value:
        mistakes.append(
            ScenarioError(
                origin,
                "description.en",
                "the English description (the default, shown in a language the table does not give)",
            )
        )
    raw["description"] = out.get("en", "-")  # validated as the default text; its mistakes are reported above
    return out


def load_scenario(path: Path | str, *, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load, resolve and validate a scenario file.

    Parameters
    ----------
    path
        The scenario file.
    overrides
        Key path -> value, applied to the resolved document before validation (see the module docstring).

    Raises
    ------
    ScenarioError
        Naming the file, the key path, what was expected and what was given. Selectors are checked against the
        network by :func:`vision_zero.runs.preparation.prepare` (``vision-zero validate`` does both).
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ScenarioError(str(path), "", "an existing scenario file")
    files = _chain(file, ())
    chain = tuple(p for p, _ in files)
    raw = _resolve(files)
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        _apply_override(raw, key, copy.deepcopy(value))
    # every mistake of the file(s) is collected, not only the first (vision-zero validate lists them all)
    mistakes: list[ScenarioError] = []
    descriptions = _descriptions(raw, _origin_of(["description"], files, overrides), mistakes)
    doc: ScenarioDocument | None = None
    try:
        doc = ScenarioDocument.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            mistakes.append(
                _translate_error(err, ScenarioDocument, _origin_of(_error_loc(err), files, overrides), "")
            )
    raw_items = raw.get("interventions")
    items = doc.interventions if doc is not None else (raw_items if isinstance(raw_items, list) else [])
    interventions = []
    keys: list[tuple[str, str]] = []
    for i, iv in enumerate(items):
        origin, local = _intervention_origin(i, files)
        if any(k.startswith(f"interventions[{i}]") for k in overrides):
            origin, local = "--set", i
        try:
            interventions.append(_parse_intervention(iv, origin=origin, key=f"interventions[{local}]"))
        except ScenarioError as exc:
            mistakes.append(exc)
        keys.append((origin, f"interventions[{local}]"))
    if mistakes:
        raise _with_more(mistakes)
    assert doc is not None
    _check_files(doc, files, overrides)
    _check_currency(doc, interventions, keys, _origin_of(["economics", "currency"], files, overrides))
    baseline = doc.baseline.resolve() if doc.baseline is not None else chain[0]
    return Scenario(
        path=file,
        name=doc.name,
        description=doc.description,
        network=doc.network,
        demand=doc.demand,
        simulation=doc.simulation,
        calibration=doc.calibration,
        economics=doc.economics,
        risk=doc.risk,
        interventions=tuple(interventions),
        chain=chain,
        baseline_path=baseline,
        overrides=dict(overrides or {}),
        document=raw,
        intervention_keys=tuple(keys),
        descriptions=descriptions | {"en": doc.description},
    )
