"""Settings remembered between runs (QSettings): window geometry, last choices, training settings."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORG = "hybridsearch"
APP = "hybridsearch"


class Settings:
    """A thin typed wrapper over :class:`QSettings` with JSON values for dicts and lists."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings(ORG, APP)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.q.value(key)
        if raw is None:
            return default
        if isinstance(default, (dict, list)) or (isinstance(raw, str) and raw[:1] in "[{"):
            try:
                return json.loads(raw)
            except (TypeError, ValueError):
                return default
        if isinstance(default, bool):
            return raw in (True, "true", "True", "1", 1)
        if isinstance(default, int) and not isinstance(default, bool):
            try:
                return int(raw)
            except (TypeError, ValueError):
                return default
        if isinstance(default, float):
            try:
                return float(raw)
            except (TypeError, ValueError):
                return default
        return raw

    def set(self, key: str, value: Any) -> None:
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value)
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()

    # geometry ---------------------------------------------------------------------------------
    def save_geometry(self, window) -> None:
        self.q.setValue("window/geometry", window.saveGeometry())
        self.q.setValue("window/state", window.saveState())

    def restore_geometry(self, window) -> bool:
        geo = self.q.value("window/geometry")
        state = self.q.value("window/state")
        ok = False
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            ok = window.restoreGeometry(geo)
        if isinstance(state, QByteArray) and not state.isEmpty():
            window.restoreState(state)
        return ok
