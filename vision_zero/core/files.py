"""Writing files so that readers see the old file or the whole new one, never a part (one owner of the rule)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "current_umask",
    "make_process_folder",
    "pid_alive",
    "sweep_stale_process_folders",
]


@functools.cache
def current_umask() -> int:
    """The process umask, read once (os.umask can only be read by setting it, which is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path, *, suffix: str = ".tmp", create: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path``; on a clean exit it replaces ``path``, on any error it is removed.

    The temporary file is in the same folder (so the rename is atomic) and ends with ``suffix`` (writers such as
    the GPKG driver choose the format by it). With ``create=False`` the path does not exist yet when yielded, for
    writers that insist on creating the file themselves. The final file gets the permissions a plain ``open()``
    would give it (``0o666`` less the umask), not ``mkstemp``'s private ``0o600``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    if not create:
        tmp.unlink()
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` is running (someone else's process counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_process_folder(root: Path, prefix: str) -> Path:
    """A new private folder ``<root>/<prefix><pid>-<random>`` owned by this process (see the sweep below)."""
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=root))


def sweep_stale_process_folders(root: Path, prefix: str) -> list[Path]:
    """Delete folders made by :func:`make_process_folder` whose process is gone (killed before cleaning up).

    Only this user's folders named ``<prefix><pid>-…`` whose ``pid`` is no running process; returns them.
    """
    removed = []
    try:
        entries = list(root.glob(f"{glob_escape(prefix)}*"))
    except OSError:
        return []
    for entry in entries:
        m = re.match(rf"{re.escape(prefix)}(\d+)-", entry.name)
        try:
            mine = entry.is_dir() and entry.stat().st_uid == os.getuid()
        except OSError:
            continue
        if m and mine and not pid_alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters made literal."""
    return re.sub(r"([*?\[])", r"[\1]", text)
