"""Keep an open library current: watchdog events on its folders trigger debounced indexing.

In: a :class:`Library`. Out: a :class:`Watcher` thread; ``on_change(IndexReport)`` after each
run that changed something. Bursts of events (a copy of 1,000 files, an editor saving through
a temporary file) become one indexing run once the folder has been quiet ``debounce_s`` seconds.
Indexing a folder rescans it (stat only for unchanged files), so missed or coalesced events
cannot leave the index stale.
"""

from __future__ import annotations

import os
import threading
import time

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from hybridsearch.documents import FILE_TYPES
from hybridsearch.progress import CancelToken


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: "Watcher", folder: str):
        self.watcher, self.folder = watcher, folder

    def on_any_event(self, event):
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [getattr(event, "src_path", ""), getattr(event, "dest_path", "") or ""]
        relevant = event.is_directory or any(
            os.path.splitext(str(p))[1].lower() in FILE_TYPES for p in paths if p)
        if relevant:
            self.watcher.touch(self.folder)


class Watcher:
    """Watches the library folders and re-indexes the ones that changed, after a quiet period.

    In: the library, callbacks, ``debounce_s``. ``start()``/``stop()``; ``runs`` counts the
    indexing runs done; ``refresh()`` re-reads the folder list (after add/remove).
    """

    def __init__(self, library, on_change=None, on_error=None, debounce_s: float = 2.0,
                 initial_scan: bool = True):
        self.library = library
        self.on_change, self.on_error = on_change, on_error
        self.debounce_s = float(debounce_s)
        self._dirty: dict[str, float] = {}
        self._cv = threading.Condition()
        self._stop = False
        self._cancel = CancelToken()
        self._observer = Observer()
        self._watches: dict[str, object] = {}
        self._thread = threading.Thread(target=self._loop, name="hybridsearch-watcher", daemon=True)
        self.runs = 0
        self.initial_scan = initial_scan

    def start(self) -> "Watcher":
        """Start watching; with ``initial_scan`` every folder is indexed once first, which picks
        up changes made while the app was closed and repairs missing vectors."""
        self.refresh()
        self._observer.start()
        if self.initial_scan:
            for path in self._watches:
                self.touch(path)
        self._thread.start()
        return self

    def refresh(self) -> None:
        """Watch the library's current folders (call after adding or removing one)."""
        current = {f.path for f in self.library.folders()}
        for path in list(self._watches):
            if path not in current:
                self._observer.unschedule(self._watches.pop(path))
        for path in current - set(self._watches):
            if os.path.isdir(path):
                self._watches[path] = self._observer.schedule(_Handler(self, path), path, recursive=True)

    def touch(self, folder: str) -> None:
        with self._cv:
            self._dirty[folder] = time.monotonic()
            self._cv.notify()

    def stop(self) -> None:
        """Stop watching; an indexing run in progress is cancelled (what it committed stays)."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._cancel.cancel()
        try:
            self._observer.stop()
            self._observer.join(timeout=5)
        except RuntimeError:
            pass
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    now = time.monotonic()
                    ready = [f for f, t in self._dirty.items() if now - t >= self.debounce_s]
                    if ready:
                        break
                    wait = (min(self._dirty.values()) + self.debounce_s - now) if self._dirty else None
                    self._cv.wait(timeout=wait)
                if self._stop:
                    return
                for f in ready:
                    self._dirty.pop(f, None)
            try:
                report = self.library.index(folders=ready, cancel=self._cancel)
                self.runs += 1
                if self.on_change and (report.added or report.updated or report.removed or report.failed):
                    self.on_change(report)
            except Exception as exc:  # a background run must not kill the watcher
                if self.on_error:
                    self.on_error(exc)
