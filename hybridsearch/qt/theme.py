"""Follow the system light/dark colour scheme; colours for charts and badges that work in both."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

#: Colour per model series in charts (colour-blind friendly, Okabe-Ito).
SERIES = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


_preferred: str | None = None


def set_preferred_scheme(scheme: str | None) -> None:
    """The person's choice in Preferences: 'dark', 'light' or None (follow the system)."""
    global _preferred
    _preferred = scheme if scheme in ("dark", "light") else None


def forced_scheme() -> str | None:
    """``HYBRIDSEARCH_THEME=dark|light`` overrides the system scheme (screenshots, accessibility);
    else the scheme chosen in Preferences, if any."""
    v = os.environ.get("HYBRIDSEARCH_THEME", "").strip().lower()
    return v if v in ("dark", "light") else _preferred


def refresh_palette(app) -> None:
    """Apply the palette of the scheme in force now (after a change in Preferences)."""
    _apply_palette(app)


def is_dark() -> bool:
    if forced_scheme():
        return forced_scheme() == "dark"
    app = QGuiApplication.instance()
    if app is None:
        return False
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def series_color(i: int) -> QColor:
    return QColor(SERIES[i % len(SERIES)])


def text_color() -> QColor:
    return QColor("#e8e8e8") if is_dark() else QColor("#202020")


def muted_color() -> QColor:
    return QColor("#a0a0a0") if is_dark() else QColor("#666666")


def ok_color() -> str:
    return "#6fd08c" if is_dark() else "#1e7b34"


def error_color() -> str:
    return "#ff8a80" if is_dark() else "#c62828"


def badge_colors(lang: str) -> tuple[str, str]:
    """(background, foreground) for a language badge; stable per language code."""
    palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#d62728", "#17becf", "#7f7f7f", "#bcbd22",
               "#e377c2", "#ff7f0e", "#393b79", "#637939"]
    h = sum(ord(c) * (i + 1) for i, c in enumerate(lang or "?"))
    return palette[h % len(palette)], "#ffffff"


def heat_color(value: float, lo: float = 0.0, hi: float = 1.0) -> QColor:
    """White/dark-grey -> blue ramp for a heatmap cell (value in [lo, hi])."""
    t = 0.0 if hi <= lo else max(0.0, min(1.0, (value - lo) / (hi - lo)))
    if is_dark():
        a, b = QColor(40, 40, 48), QColor(86, 180, 233)
    else:
        a, b = QColor(247, 251, 255), QColor(8, 69, 148)
    return QColor(int(a.red() + (b.red() - a.red()) * t), int(a.green() + (b.green() - a.green()) * t),
                  int(a.blue() + (b.blue() - a.blue()) * t))


def apply_theme(app) -> None:
    """Use the Fusion style with a palette matching the system scheme, and follow its changes."""
    app.setStyle("Fusion")
    _apply_palette(app)
    try:
        app.styleHints().colorSchemeChanged.connect(lambda *_: _apply_palette(app))
    except (AttributeError, RuntimeError):
        pass


def _apply_palette(app) -> None:
    if not is_dark_scheme(app):
        app.setPalette(app.style().standardPalette())
        return
    p = QPalette()
    base, window, text = QColor(30, 30, 32), QColor(43, 43, 46), QColor(232, 232, 232)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.ToolTipBase, window)
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, window)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 80, 80))
    p.setColor(QPalette.ColorRole.Link, QColor(86, 180, 233))
    p.setColor(QPalette.ColorRole.Highlight, QColor(0, 114, 178))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor(150, 150, 150))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    app.setPalette(p)


def is_dark_scheme(app) -> bool:
    if forced_scheme():
        return forced_scheme() == "dark"
    scheme = app.styleHints().colorScheme()
    return scheme == Qt.ColorScheme.Dark
