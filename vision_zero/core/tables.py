"""Reading the user's CSV files: one reader, so every table file fails the same clear way.

:func:`read_csv_table` accepts a UTF-8 file with or without a byte-order mark (as spreadsheet programs on Windows
save it) and refuses, with a :class:`~vision_zero.core.errors.DataError` naming the file, one that cannot be
parsed or has a header and no rows (an empty table is never a valid input: it would silently give zero trips,
pedestrians or crashes).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vision_zero.core.errors import DataError, InputFileNotFoundError

__all__ = ["read_csv_table"]


def read_csv_table(path: Path | str, *, what: str = "file") -> pd.DataFrame:
    """The CSV file ``path`` as a table of at least one row.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for the not-found message (e.g. ``"crash-record file"``).

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    DataError
        Not UTF-8, not parseable as CSV, or no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileNotFoundError(f"{path}: {what} not found")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    if frame.empty:
        raise DataError(
            f"{path}: expected at least one row of data (got a header only: {list(frame.columns)})"
        )
    return frame
