"""One error hierarchy for everything a user can get wrong.

Every user-facing mistake raises a subclass of :class:`VisionZeroError`; the command line prints its message on
one line and exits with :attr:`VisionZeroError.exit_code`, without a traceback. Each subclass also subclasses the
built-in error a Python caller would expect (``ValueError``, ``FileNotFoundError`` …).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "InputFileNotFoundError",
    "NetworkSourceError",
    "ParameterError",
    "ScenarioError",
    "SelectorError",
    "VisionZeroError",
    "one_line",
    "shorten",
]

#: The most characters of a value a message quotes (a 50 MB name is cut, not echoed whole).
MAX_QUOTED_CHARS = 120
#: The most characters of a whole one-line message on the terminal.
MAX_MESSAGE_CHARS = 1000


def shorten(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was when cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message as one terminal line: line breaks become spaces, and a very long one is cut."""
    return shorten(" ".join(text.split()), limit)


class VisionZeroError(Exception):
    """Base class of every error that is the user's to fix; the CLI shows it without a traceback."""

    exit_code: int = 2


class ConfigError(VisionZeroError, ValueError):
    """A setting or option has the wrong type or value."""


class ScenarioError(ConfigError):
    """A scenario file is invalid: the message names the file, the key path, what was expected and given."""

    def __init__(self, path: str, key: str, expected: str, given: object | None = None) -> None:
        self.path = path
        self.key = key
        self.expected = expected
        self.given = given
        #: Further mistakes found in the same file(s) (``vision-zero validate`` lists them all).
        self.more: tuple[ScenarioError, ...] = ()
        given_txt = "" if given is None else f" (got {shorten(repr(given))})"
        where = f"{path}: {key}: " if key else f"{path}: "
        super().__init__(f"{where}expected {expected}{given_txt}")


class SelectorError(ScenarioError):
    """A selector in a scenario is malformed or matches nothing."""


class InputFileNotFoundError(VisionZeroError, FileNotFoundError):
    """An input file named by the user does not exist."""


class DataError(VisionZeroError, ValueError):
    """An input file exists but cannot be read or has the wrong content."""


class NetworkSourceError(VisionZeroError, ValueError):
    """A network source cannot be understood or loaded."""


class ParameterError(VisionZeroError, ValueError):
    """The parameters file is malformed, or a parameter is unknown."""
