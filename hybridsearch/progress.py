"""The shared progress record and cancel flag used by every long job (indexing, training, evaluation).

Jobs are plain Python: they take ``on_progress`` callbacks (or yield ``Progress``) and check a
``CancelToken``. The CLI turns them into tqdm bars; the Qt layer turns them into signals.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from hybridsearch.errors import Cancelled



def format_duration(seconds: float | None, whole_minutes_from: float | None = None) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min`` ("?" when unknown); from ``whole_minutes_from``
    seconds up to an hour, whole minutes only (``12 min``)."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        if whole_minutes_from is not None and s >= whole_minutes_from:
            return f"{round(s / 60)} min"
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"

@dataclass
class Progress:
    """One progress report: ``done`` of ``total`` units of ``stage``; ``eta_s`` when known."""

    stage: str
    done: int = 0
    total: int | None = None
    message: str = ""
    eta_s: float | None = None
    extra: dict = field(default_factory=dict)


class CancelToken:
    """A thread-safe cancel flag, checked by long jobs between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


class EtaClock:
    """Estimates time left from the rate of the work done so far."""

    def __init__(self, total: int | None = None) -> None:
        self.start = time.monotonic()
        self.total = total

    def eta(self, done: int, total: int | None = None) -> float | None:
        total = total if total is not None else self.total
        elapsed = time.monotonic() - self.start
        if not total or done <= 0 or elapsed <= 0:
            return None
        return max(0.0, elapsed / done * (total - done))

    def rate(self, done: int) -> float:
        elapsed = time.monotonic() - self.start
        return done / elapsed if elapsed > 0 else 0.0
