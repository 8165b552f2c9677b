"""``main(argv)``: start the desktop app (QApplication, settings identity, icon, theme, window)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from hybridsearch.qt.settings import APP, ORG


def app_icon() -> QIcon:
    from hybridsearch import paths

    for cand in (paths.resources_dir() / "icons" / "hybridsearch.svg",
                 Path(__file__).resolve().parent.parent.parent / "resources" / "icons" / "hybridsearch.svg"):
        if cand.is_file():
            return QIcon(str(cand))
    return QIcon()


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the identity QSettings uses, the icon and the system theme."""
    from hybridsearch.qt.theme import apply_theme

    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName("hybridsearch")
    app.setDesktopFileName("hybridsearch")
    app.setWindowIcon(app_icon())
    apply_theme(app)
    return app


#: Libraries Qt's xcb (X11) platform plugin loads that minimal Debian/Ubuntu installs lack, with
#: the Debian/Ubuntu package of each (Qt 6.5+ needs xcb-cursor; without these Qt aborts with a
#: message that names none of them).
XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                 "xcb-image": "libxcb-image0", "xcb-render-util": "libxcb-render-util0",
                 "xcb-randr": "libxcb-randr0", "xcb-shape": "libxcb-shape0", "xcb-xkb": "libxcb-xkb1",
                 "xkbcommon-x11": "libxkbcommon-x11-0"}
#: Other distributions name the one that is missing most often differently.
XCB_CURSOR_ELSEWHERE = ("  Fedora / RHEL:    sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms\n"
                        "  Arch:             sudo pacman -S xcb-util-cursor xcb-util-wm xcb-util-keysyms")


def missing_system_libraries(platform: str | None = None, env=None, find_library=None) -> str | None:
    """A message saying what to install when Qt's xcb (X11) platform plugin will not load, else None.

    Only Linux with the xcb platform is checked: chosen by ``QT_QPA_PLATFORM``, or by default when
    no Wayland session is running.
    """
    import ctypes.util
    import os

    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    uses_xcb = qpa.startswith("xcb") or (not qpa and not env.get("WAYLAND_DISPLAY"))
    if not uses_xcb:
        return None
    find = find_library or ctypes.util.find_library
    missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if find(lib) is None]
    if not missing:
        return None
    return ("hybridsearch cannot open its window: system libraries that Qt needs for X11 are missing.\n"
            "Install them, then start hybridsearch again:\n"
            f"  Debian / Ubuntu:  sudo apt install {' '.join(missing)}\n" + XCB_CURSOR_ELSEWHERE)


def main(argv: list[str] | None = None) -> int:
    """Run the app until its window closes; returns the exit code."""
    from hybridsearch.qt.main_window import MainWindow
    from hybridsearch.qt.workers import shutdown_lanes

    problem = missing_system_libraries()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    app = make_app(argv)
    win = MainWindow()
    win.apply_preferences(app)
    win.show()
    code = app.exec()
    shutdown_lanes(wait=False)
    exit_without_waiting_for_threads(int(code))
    return int(code)


def exit_without_waiting_for_threads(code: int) -> None:
    """End the process now if background threads are still busy (a model load, a search).

    The window closed the library first (jobs cancelled, index saved; every write is atomic), so
    nothing is lost; without this, Python joins those threads at exit and the process lingers for
    seconds after its window is gone.
    """
    import os
    import threading

    busy = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if busy:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
