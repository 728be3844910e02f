"""The shipped evidence: every number of the risk and behaviour models, with its source.

Parameters live in TOML files in ``vision_zero/data/parameters/`` (one file per part: ``risk.toml``,
``traffic.toml``, ``interventions.toml``, ``calibration.toml`` …). Any table with a ``value`` key is one
parameter, named by its dotted table path::

    [risk.power_model.exponent.fatal]
    value = 3.0            # central value, in `unit`
    low = 2.0              # 95% range (optional; omit both for a fixed value)
    high = 4.0
    distribution = "normal"   # fixed | normal | lognormal | uniform | triangular
    unit = "1"
    source = "Elvik 2009, TØI report 1034/2009, as quoted by ITF 2018 'Speed and Crash Risk'"
    status = "checked"        # checked | unchecked | derived | assumption
    note = "urban roads"

``low``/``high`` are read as a 95% interval: for ``normal`` the standard deviation is (high − low) / 3.92; for
``lognormal`` the same on the log scale (both bounds > 0); ``uniform`` and ``triangular`` use them as the support.
"""

from __future__ import annotations

import functools
import hashlib
import math
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from statistics import NormalDist
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from vision_zero.core.errors import ParameterError

__all__ = ["Parameter", "ParameterReads", "ParameterSet", "load_parameters"]

Distribution = Literal["fixed", "normal", "lognormal", "uniform", "triangular"]
Status = Literal["checked", "unchecked", "derived", "assumption"]

_DISTRIBUTIONS: tuple[str, ...] = ("fixed", "normal", "lognormal", "uniform", "triangular")
_STATUSES: tuple[str, ...] = ("checked", "unchecked", "derived", "assumption")
_KEYS = {"value", "low", "high", "distribution", "unit", "source", "status", "note"}
_Z95 = 3.919927969080108  # width of a 95% normal interval in standard deviations


class ParameterReads(Mapping[str, float]):
    """A parameter mapping that records the keys read through it (``get`` reads through it too).

    ``read``: the keys read one by one; ``everything``: whether the mapping was iterated or sized, which reads
    every key without naming it (a caller decides what that means: all of them, or none it can name).
    """

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = values
        self.read: set[str] = set()
        self.everything = False

    def __getitem__(self, key: str) -> float:
        self.read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        self.everything = True
        return iter(self._values)

    def __len__(self) -> int:
        self.everything = True
        return len(self._values)


@dataclass(frozen=True)
class Parameter:
    """One sourced number: central value, 95% range, distribution, unit, source and status."""

    name: str
    value: float
    unit: str
    source: str
    status: Status
    distribution: Distribution = "fixed"
    low: float | None = None
    high: float | None = None
    note: str = ""
    origin: str = ""

    @property
    def drawn(self) -> bool:
        """Whether replications draw this parameter (a distribution with both ends), else its value is fixed."""
        return self.distribution != "fixed" and self.low is not None and self.high is not None

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one value from the parameter's distribution (its central value if fixed)."""
        if not self.drawn or self.low is None or self.high is None:
            return self.value
        lo, hi = self.low, self.high
        if self.distribution == "normal":
            return float(rng.normal(self.value, (hi - lo) / _Z95))
        if self.distribution == "lognormal":
            sd = (math.log(hi) - math.log(lo)) / _Z95
            return float(math.exp(rng.normal(math.log(self.value), sd)))
        if self.distribution == "uniform":
            return float(rng.uniform(lo, hi))
        return float(rng.triangular(lo, self.value, hi))

    def cdf(self, x: float) -> float:
        """The share of this parameter's draws at or below ``x`` (its cumulative distribution; 0 or 1 if fixed)."""
        if not self.drawn or self.low is None or self.high is None or self.high <= self.low:
            return 1.0 if x >= self.value else 0.0
        lo, hi, c = self.low, self.high, self.value
        if self.distribution == "normal":
            return NormalDist(c, (hi - lo) / _Z95).cdf(x)
        if self.distribution == "lognormal":
            if x <= 0:
                return 0.0
            return NormalDist(math.log(c), (math.log(hi) - math.log(lo)) / _Z95).cdf(math.log(x))
        if x <= lo:
            return 0.0
        if x >= hi:
            return 1.0
        if self.distribution == "uniform":
            return (x - lo) / (hi - lo)
        if x <= c:  # triangular (lo, mode c, hi); x > lo here, so c > lo
            return (x - lo) ** 2 / ((hi - lo) * (c - lo))
        return 1.0 - (hi - x) ** 2 / ((hi - lo) * (hi - c))

    def quantile(self, u: float) -> float:
        """The value with a share ``u`` (0 < u < 1) of the draws below it: the inverse of :meth:`cdf`.

        ``draw`` equals ``quantile`` of a uniform draw in distribution; a Latin hypercube
        (:func:`vision_zero.runs.risk_draws.inner_draws`) draws through it.
        """
        if not 0.0 < u < 1.0:
            raise ValueError(f"{self.name}: quantile of u = {u}: expected 0 < u < 1")
        if not self.drawn or self.low is None or self.high is None or self.high <= self.low:
            return self.value
        lo, hi, c = self.low, self.high, self.value
        if self.distribution == "normal":
            return NormalDist(c, (hi - lo) / _Z95).inv_cdf(u)
        if self.distribution == "lognormal":
            return math.exp(NormalDist(math.log(c), (math.log(hi) - math.log(lo)) / _Z95).inv_cdf(u))
        if self.distribution == "uniform":
            return lo + u * (hi - lo)
        if u < (c - lo) / (hi - lo):  # triangular
            return lo + math.sqrt(u * (hi - lo) * (c - lo))
        return hi - math.sqrt((1.0 - u) * (hi - lo) * (hi - c))


def name_key(name: str) -> int:
    """A stable 64-bit key of a parameter name (BLAKE2b), the same on every machine and Python run."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class ParameterSet(Mapping[str, Parameter]):
    """All parameters by dotted name. ``value(name)`` for central values, ``draw(rng)`` for one replication."""

    parameters: Mapping[str, Parameter] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self.parameters[name]
        except KeyError:
            close = [n for n in self.parameters if n.rsplit(".", 1)[0] == name.rsplit(".", 1)[0]]
            hint = f"; parameters in that group: {', '.join(sorted(close))}" if close else ""
            raise ParameterError(f"unknown parameter {name!r}{hint}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.parameters

    def __iter__(self) -> Iterator[str]:
        return iter(self.parameters)

    def __len__(self) -> int:
        return len(self.parameters)

    def value(self, name: str) -> float:
        """Central value of parameter ``name``."""
        return self[name].value

    def group(self, prefix: str) -> dict[str, Parameter]:
        """Parameters whose name starts with ``prefix.``, keyed by the rest of the name."""
        p = prefix.rstrip(".") + "."
        return {k[len(p) :]: v for k, v in self.parameters.items() if k.startswith(p)}

    def central(self) -> dict[str, float]:
        """Every parameter at its central value."""
        return {k: p.value for k, p in self.parameters.items()}

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One joint draw of every parameter (independent), each from its own stream keyed by its name.

        ``rng`` gives one root integer; parameter ``name`` is drawn from
        ``default_rng(SeedSequence(root, spawn_key=(name_key(name),)))``. So a parameter's draw depends only on
        ``rng`` and its own name: adding, removing or fixing another parameter moves no other draw (with one
        shared stream in sorted-name order, every later parameter's draw moved).
        """
        root = int(rng.integers(0, 2**63))
        out: dict[str, float] = {}
        for name in sorted(self.parameters):
            p = self.parameters[name]
            if not p.drawn:
                out[name] = p.value
                continue
            stream = np.random.default_rng(np.random.SeedSequence(root, spawn_key=(name_key(name),)))
            out[name] = p.draw(stream)
        return out

    def with_overrides(self, other: ParameterSet) -> ParameterSet:
        """A copy where parameters in ``other`` replace or add to these."""
        return ParameterSet({**self.parameters, **other.parameters})

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: the table for a report's sources section."""
        rows = [
            {
                "name": p.name,
                "value": p.value,
                "low": p.low,
                "high": p.high,
                "distribution": p.distribution,
                "unit": p.unit,
                "status": p.status,
                "source": p.source,
                "note": p.note,
            }
            for p in sorted(self.parameters.values(), key=lambda p: p.name)
        ]
        return pd.DataFrame(rows)


def _parse(origin: str, name: str, table: Mapping[str, Any]) -> Parameter:
    def fail(expected: str, key: str) -> ParameterError:
        return ParameterError(f"{origin}: {name}.{key}: expected {expected} (got {table.get(key)!r})")

    unknown = set(table) - _KEYS
    if unknown:
        raise ParameterError(f"{origin}: {name}: unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    _check_field_types(table, fail)
    status = table["status"]
    if status not in _STATUSES:
        raise fail(f"one of {list(_STATUSES)}", "status")
    low, high = table.get("low"), table.get("high")
    dist = table.get("distribution", "fixed" if low is None else "normal")
    if dist not in _DISTRIBUTIONS:
        raise fail(f"one of {list(_DISTRIBUTIONS)}", "distribution")
    if (low is None) != (high is None):
        raise fail("both low and high, or neither", "low")
    value = float(table["value"])
    if low is not None and high is not None:
        if not low <= value <= high:
            raise fail(f"low <= value <= high, value = {value}", "low")
        if dist == "lognormal" and low <= 0:
            raise fail("low > 0 for a lognormal distribution", "low")
    elif dist != "fixed":
        raise fail(f"low and high for a {dist} distribution", "low")
    return Parameter(
        name=name,
        value=value,
        unit=table["unit"],
        source=table["source"],
        status=status,
        distribution=dist,
        low=None if low is None else float(low),
        high=None if high is None else float(high),
        note=str(table.get("note", "")),
        origin=origin,
    )


def _check_field_types(table: Mapping[str, Any], fail: Callable[[str, str], ParameterError]) -> None:
    """``value``/``low``/``high`` finite numbers where given; ``unit``, ``source``, ``status`` non-empty texts."""
    for key in ("value", "low", "high"):
        v = table.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise fail("a number", key)
        if v is not None and not math.isfinite(v):
            raise fail("a finite number", key)
    for key in ("unit", "source", "status"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise fail("a non-empty string", key)


def _walk(origin: str, prefix: str, table: Mapping[str, Any], out: dict[str, Parameter]) -> None:
    for key, sub in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if not isinstance(sub, dict):
            raise ParameterError(f"{origin}: {name}: expected a table with a 'value' key (got {sub!r})")
        if "value" in sub:
            if name in out:
                raise ParameterError(f"{origin}: {name}: defined twice (also in {out[name].origin})")
            out[name] = _parse(origin, name, sub)
        else:
            _walk(origin, name, sub, out)


def _read(origin: str, text: str) -> dict[str, Parameter]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{origin}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ParameterError(f"{origin}: not valid TOML: arrays or tables nested hundreds deep") from None
    out: dict[str, Parameter] = {}
    _walk(origin, "", data, out)
    return out


@functools.cache
def _shipped_parameters() -> Mapping[str, Parameter]:
    """The shipped parameter files, parsed once per process (read-only; :class:`Parameter` is frozen).

    Several stages load the parameters in one run (traffic settings, route choice, demand: three parses of every
    file, ~0.1 CPU-s, on a 10k-trip benchmark's traffic run: #16).
    """
    merged: dict[str, Parameter] = {}
    folder = resources.files("vision_zero") / "data" / "parameters"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            for name, p in _read(f"vision_zero/data/parameters/{item.name}", item.read_text("utf-8")).items():
                if name in merged:
                    raise ParameterError(f"{p.origin}: {name}: defined twice (also in {merged[name].origin})")
                merged[name] = p
    return MappingProxyType(merged)


def load_parameters(extra: Path | str | None = None) -> ParameterSet:
    """Load the shipped parameter files, then (optionally) a user's file whose entries override them.

    Parameters
    ----------
    extra
        A TOML file in the same format; its parameters replace shipped ones of the same name.
    """
    merged = dict(_shipped_parameters())
    if extra is not None:
        path = Path(extra)
        if not path.is_file():
            from vision_zero.core.errors import InputFileNotFoundError

            raise InputFileNotFoundError(f"{path}: parameters file not found")
        try:
            text = path.read_text("utf-8-sig")  # a leading byte-order mark is accepted
        except (OSError, UnicodeDecodeError) as exc:
            raise ParameterError(f"{path}: expected a readable UTF-8 TOML file ({exc})") from None
        merged.update(_read(str(path), text))
    return ParameterSet(merged)
