"""Preferences: theme (system, light, dark), font size, default search mode, encoder threads.

Stored in :class:`~hybridsearch.qt.settings.Settings` under ``preferences/``; :func:`apply` puts
theme and font size into effect at once (called at start and when the dialog is accepted).
"""

from __future__ import annotations

from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox,
                               QVBoxLayout)

from hybridsearch.qt import theme

THEMES = [("Follow the system", "system"), ("Light", "light"), ("Dark", "dark")]
MODES = [("Hybrid (meaning and keywords)", "hybrid"), ("Semantic (meaning)", "dense"), ("Keyword", "lexical")]
DEFAULT_FONT_PT = 0  # 0: the system's size


def apply(app: QApplication, settings) -> None:
    """Put the stored theme and font size into effect."""
    scheme = settings.get("preferences/theme", "system") if settings is not None else "system"
    theme.set_preferred_scheme(None if scheme == "system" else scheme)
    theme.refresh_palette(app)
    pt = int(settings.get("preferences/font_pt", DEFAULT_FONT_PT)) if settings is not None else 0
    if not hasattr(app, "_hs_system_font"):
        app._hs_system_font = app.font()
    f = app._hs_system_font.__class__(app._hs_system_font)
    if pt > 0:
        f.setPointSizeF(float(pt))
    app.setFont(f)


class PreferencesDialog(QDialog):
    """The Preferences window (Edit ▸ Preferences…, Ctrl+,)."""

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("Preferences")
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.theme = QComboBox()
        for label, key in THEMES:
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.get("preferences/theme", "system"))))
        form.addRow("Theme", self.theme)
        self.font_pt = QSpinBox()
        self.font_pt.setRange(0, 24)
        self.font_pt.setSpecialValueText("system size")
        self.font_pt.setSuffix(" pt")
        self.font_pt.setValue(int(settings.get("preferences/font_pt", DEFAULT_FONT_PT)))
        form.addRow("Font size", self.font_pt)
        self.mode = QComboBox()
        for label, key in MODES:
            self.mode.addItem(label, key)
        self.mode.setCurrentIndex(max(0, self.mode.findData(settings.get("search/mode", "hybrid"))))
        form.addRow("Search mode", self.mode)
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("automatic")
        self.threads.setValue(int(settings.get("preferences/threads", 0)))
        self.threads.setToolTip("CPU threads the model uses for indexing and searching (applies after a restart)")
        form.addRow("Model threads", self.threads)
        lay.addLayout(form)
        note = QLabel("Model threads take effect the next time hybridsearch starts.")
        note.setWordWrap(True)
        lay.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def save(self) -> None:
        s = self.settings
        s.set("preferences/theme", self.theme.currentData())
        s.set("preferences/font_pt", self.font_pt.value())
        s.set("search/mode", self.mode.currentData())
        s.set("preferences/threads", self.threads.value())
