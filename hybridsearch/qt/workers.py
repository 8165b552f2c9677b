"""Run plain Python jobs off the UI thread and turn their callbacks into Qt signals.

A job is any callable ``fn(cancel, report)`` where ``cancel`` is a :class:`CancelToken` and
``report(obj)`` forwards a progress object (``Progress``, ``TrainProgress``...) to the UI. The
job's return value arrives through ``result``; an exception through ``error`` as a readable
message (``HybridSearchError`` messages are shown as they are); a cancelled job emits
``cancelled``. ``finished`` always comes last. Workers never touch widgets.

Jobs run on *lanes*: each lane is one long-lived thread, so objects that must stay on one
thread (a SQLite connection, a ``Library``) can be created lazily per lane with
:func:`lane_local`.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from hybridsearch.errors import Cancelled, HybridSearchError
from hybridsearch.progress import CancelToken

_lanes: dict[str, cf.ThreadPoolExecutor] = {}
_lanes_lock = threading.Lock()
#: Strong references to running workers, so a worker nobody holds still delivers its signals.
_running: set["Worker"] = set()


_model_stack_lock = threading.Lock()
_model_stack_ready = False


def ensure_model_stack() -> None:
    """Import the model stack (transformers) once, on whichever thread asks first; the others wait.

    Two threads importing it at once fail with "cannot import name 'AutoConfig' from
    'transformers'" (its lazy module is not thread-safe). The app has several threads that may be
    first (the model preload, the start-up rescan, a search, the training speed warm-up, an
    evaluation): each calls this before touching a model.
    """
    global _model_stack_ready
    if _model_stack_ready:
        return
    with _model_stack_lock:
        if not _model_stack_ready:
            import importlib

            tf = importlib.import_module("transformers")
            for name in ("AutoConfig", "AutoModel"):  # resolve the lazy attributes here, once
                getattr(tf, name)
            _model_stack_ready = True


def lane(name: str) -> cf.ThreadPoolExecutor:
    """The single-thread executor called ``name`` (created on first use)."""
    with _lanes_lock:
        ex = _lanes.get(name)
        if ex is None:
            ex = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hs-{name}")
            _lanes[name] = ex
        return ex


def shutdown_lanes(wait: bool = False) -> None:
    """Stop accepting work on every lane (called when the app quits)."""
    with _lanes_lock:
        lanes = list(_lanes.values())
        _lanes.clear()
    for ex in lanes:
        ex.shutdown(wait=wait, cancel_futures=True)


def readable_error(exc: BaseException) -> str:
    """A message a person can act on: our own errors as written, others with their type."""
    if isinstance(exc, HybridSearchError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory. Close other programs or use smaller settings."
    if isinstance(exc, FileNotFoundError):
        return f"File not found: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or exc}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker(QObject):
    """One background job; connect to the signals, then call :meth:`start`."""

    progress = Signal(object)
    result = Signal(object)
    error = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[[CancelToken, Callable[[Any], None]], Any], lane_name: str = "jobs",
                 min_interval_s: float = 0.05, parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._lane = lane_name
        self._min_interval = min_interval_s
        self._last_report = 0.0
        self.token = CancelToken()
        self.running = False
        self.exception: BaseException | None = None
        self.traceback = ""
        # connected first, so every later slot of ``finished`` sees ``running`` False
        self.finished.connect(self._forget)

    def start(self) -> "Worker":
        self.running = True
        _running.add(self)
        lane(self._lane).submit(self._run)
        return self

    def cancel(self) -> None:
        self.token.cancel()

    def _forget(self) -> None:
        self.running = False
        _running.discard(self)

    def _report(self, obj: Any) -> None:
        # Throttle chatty jobs: the UI needs ~20 updates a second, not one per chunk.
        now = time.monotonic()
        final = getattr(obj, "total", None) is not None and getattr(obj, "done", None) == getattr(obj, "total", None)
        if final or now - self._last_report >= self._min_interval:
            self._last_report = now
            self.progress.emit(obj)
        if self.token.cancelled:
            raise Cancelled("cancelled")

    def _run(self) -> None:
        try:
            out = self._fn(self.token, self._report)
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the UI as a message
            self.exception = exc
            self.traceback = traceback.format_exc()
            if self.token.cancelled and not isinstance(exc, HybridSearchError):
                self.cancelled.emit()
            else:
                self.error.emit(readable_error(exc))
        else:
            if self.token.cancelled and out is None:
                self.cancelled.emit()
            else:
                self.result.emit(out)
        finally:
            self.finished.emit()


def run_in_background(fn, *, lane_name: str = "jobs", on_result=None, on_error=None, on_progress=None,
                      on_cancelled=None, on_finished=None, parent: QObject | None = None) -> Worker:
    """Start ``fn(cancel, report)`` on ``lane_name`` and connect the given slots."""
    w = Worker(fn, lane_name=lane_name, parent=parent)
    for sig, slot in ((w.result, on_result), (w.error, on_error), (w.progress, on_progress),
                      (w.cancelled, on_cancelled), (w.finished, on_finished)):
        if slot is not None:
            sig.connect(slot)
    return w.start()
