"""Atomic writes: a reader (or a crash) never sees half a file or half a directory.

Every write that matters goes through here: the vector index and its sidecar, trained model
overlays and cards, training checkpoints, evaluation reports. A file is written under a
temporary name beside its target, flushed to disk and renamed over it; a directory is built
beside its target and swapped in, under a lock file that says it is being written, so that what a
killed writer left is told from a write in progress and removed.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
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


#: The lock file beside each temporary directory of :func:`write_dir`: held while it is written,
#: so a directory whose lock is free was left by a writer that was killed or quit mid-write.
WRITING = ".writing"
#: A temporary directory's name: ``tempfile.mkdtemp(prefix=".<target>.")``.
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}")


def write_dir(target: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` to fill a temporary directory beside ``target``, then swap it in.

    What writers killed earlier left beside ``target`` (an ONNX export, mid-way, up to ~900 MB) is removed first.
    """
    from filelock import FileLock, Timeout  # here: 30 ms of imports a search does not need

    target = Path(target)
    remove_abandoned(target.parent)
    fd, lock_path = tempfile.mkstemp(prefix=f".{target.name}.", suffix=WRITING, dir=target.parent)
    os.close(fd)
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=1)  # before the directory exists: a cleaner never sees it unlocked
    except (Timeout, OSError):  # a file system without locks: write unguarded, as before
        lock = None
    tmp = Path(lock_path[: -len(WRITING)])
    try:
        tmp.mkdir()
        write(tmp)
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)  # a leftover of a swap cut short
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            lock.release()
        Path(lock_path).unlink(missing_ok=True)


def remove_abandoned(parent: Path, unlocked_after: float | None = None) -> None:
    """Remove the temporary directories of :func:`write_dir` in ``parent`` whose writer is gone
    (its lock is free: the process was killed, or the app quit mid-write). Directories being
    written, by this process or another, are left alone.

    With ``unlocked_after`` (seconds), temporary directories without a lock file, left by versions
    before the lock files, are removed too once they have not changed for that long.
    """
    from filelock import FileLock, Timeout

    parent = Path(parent)
    try:
        locks = list(parent.glob(f".*{WRITING}"))
        if unlocked_after is not None:
            cutoff = time.time() - unlocked_after
            for d in parent.iterdir():
                if (_TEMP_NAME.fullmatch(d.name) and d.is_dir() and not d.with_name(d.name + WRITING).exists()
                        and d.stat().st_mtime < cutoff):
                    shutil.rmtree(d, ignore_errors=True)
    except OSError:
        return
    for lock_path in locks:
        lock = FileLock(lock_path)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):
            continue  # a live writer (or a lock file this process may not open)
        try:
            shutil.rmtree(lock_path.with_name(lock_path.name[: -len(WRITING)]), ignore_errors=True)
        finally:
            lock.release()
            lock_path.unlink(missing_ok=True)


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
