"""The shared progress record and cancel flag used by every long job (indexing, training, evaluation).

Jobs are plain Python: they take ``on_progress`` callbacks (or yield ``Progress``) and check a
``CancelToken``. The CLI turns them into tqdm bars; the Qt layer turns them into signals.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from hybridsearch.errors import Cancelled


@dataclass
class Progress:
    """One progress report: ``done`` of ``total`` units of ``stage``; ``eta_s`` when known."""

    stage: str
    done: int = 0
    total: int | None = None
    message: str = ""
    eta_s: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


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
