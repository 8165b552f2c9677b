"""Atomic writes: a reader (or a crash) never sees half a file or half a directory.

Every write that matters goes through here: the vector index and its sidecar, trained model
overlays and cards, training checkpoints, evaluation reports. A file is written under a
temporary name beside its target, flushed to disk and renamed over it; a directory is built
beside its target and swapped in.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def write_file(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, fsync it, rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_dir(target: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary directory beside ``target``, then swap it in."""
    target = Path(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(tmp)
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_siblings(current: Path, source: Callable[[Path], object],
                          gone: Callable[[object], bool]) -> None:
    """Remove the directories beside ``current`` (a cache entry just built) that were built from
    the same source as it (older versions) or from a source that is ``gone``. ``source(d)`` reads
    what a directory was built from; None (unreadable) leaves it alone, and so do hidden
    directories (:func:`write_dir`'s writes in progress)."""
    mine = source(current)
    for d in current.parent.iterdir():
        if d == current or not d.is_dir() or d.name.startswith("."):
            continue
        src = source(d)
        if src is not None and (src == mine or gone(src)):
            shutil.rmtree(d, ignore_errors=True)


def keep_recent_siblings(current: Path, keep: int, source: Callable[[Path], object]) -> None:
    """Remove all but the ``keep`` most recently used cache entries beside ``current`` (a cache
    entry in use, always kept). "Used" is the directory's modification time, which
    :func:`mark_used` sets; unreadable entries (``source(d)`` is None) and hidden directories are
    left alone, as in :func:`remove_stale_siblings`."""
    others = [d for d in current.parent.iterdir()
              if d != current and d.is_dir() and not d.name.startswith(".") and source(d) is not None]
    others.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for d in others[max(0, keep):]:
        shutil.rmtree(d, ignore_errors=True)


def mark_used(directory: Path) -> None:
    """Record that a cache entry was used now (its modification time), for
    :func:`keep_recent_siblings`; a cache on a read-only disk is left as it is."""
    try:
        os.utime(directory)
    except OSError:
        pass
