"""Show the main window once, print how long that took, and quit: the start-up check of the
packaged build (``hybridsearch --smoke-window``) and of ``benchmarks/bench_startup.py``
(``python -m hybridsearch.qt.smoke``)."""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QTimer

from hybridsearch.qt.app import make_app
from hybridsearch.qt.main_window import MainWindow
from hybridsearch.qt.workers import shutdown_lanes


def smoke_window(seconds: float = 0.0) -> int:
    """Show the main window, print the time from process start to the window shown, and quit.

    Used by the start-up benchmark and the packaged-build check. ``seconds``: keep the window up
    that long before quitting (0: quit as soon as it is shown and painted once).
    """
    app = make_app(sys.argv[:1])
    win = MainWindow()
    win.show()

    def done():
        shown = time.time()
        start = _process_start_time()
        since = f"{shown - start:.2f} s after process start" if start else "process start unknown"
        print(f"main window shown: '{win.windowTitle()}' {win.width()}x{win.height()}, {since}",
              flush=True)
        win.close()
        app.quit()

    QTimer.singleShot(int(seconds * 1000), done)
    code = app.exec()
    shutdown_lanes(wait=False)
    return int(code)


def _process_start_time() -> float | None:
    """Wall-clock time this process started (Linux /proc; None elsewhere)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - uptime + start_ticks / ticks
    except (OSError, ValueError, IndexError, AttributeError):
        return None


if __name__ == "__main__":
    sys.exit(smoke_window(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0))
