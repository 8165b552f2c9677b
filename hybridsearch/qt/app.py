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


def main(argv: list[str] | None = None) -> int:
    """Run the app until its window closes; returns the exit code."""
    from hybridsearch.qt.main_window import MainWindow
    from hybridsearch.qt.workers import shutdown_lanes

    app = make_app(argv)
    win = MainWindow()
    win.show()
    code = app.exec()
    shutdown_lanes(wait=False)
    return int(code)
