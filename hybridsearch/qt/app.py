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


#: What to install when Qt's X11 plugin cannot load for want of libxcb-cursor (Qt 6.5 and later
#: need it; fresh Debian/Ubuntu installs lack it, and Qt then aborts with a cryptic message).
XCB_CURSOR_HELP = """hybridsearch cannot open its window: the system library libxcb-cursor is missing.
Install it, then start hybridsearch again:
  Debian / Ubuntu:  sudo apt install libxcb-cursor0
  Fedora / RHEL:    sudo dnf install xcb-util-cursor
  Arch:             sudo pacman -S xcb-util-cursor
  openSUSE:         sudo zypper install libxcb-cursor0"""


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
    return XCB_CURSOR_HELP if find("xcb-cursor") is None else None


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
    win.show()
    code = app.exec()
    shutdown_lanes(wait=False)
    return int(code)
