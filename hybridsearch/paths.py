"""Where hybridsearch keeps its files: per-user data/cache directories (platformdirs).

``HYBRIDSEARCH_HOME`` overrides the root (tests, portable installs): data, models and the
default library then live under it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP = "hybridsearch"


def _home() -> Path | None:
    env = os.environ.get("HYBRIDSEARCH_HOME")
    return Path(env) if env else None


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Files rebuilt from others when missing (e.g. py3langid's decompressed model)."""
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP, appauthor=False))


def models_dir() -> Path:
    """Converted and trained models (large; kept in the cache directory)."""
    home = _home()
    return home / "models" if home else Path(platformdirs.user_cache_dir(APP, appauthor=False)) / "models"


def default_library_dir() -> Path:
    return data_dir() / "library"


def resources_dir() -> Path:
    """The ``resources/`` folder: next to the packages in a source tree, inside a frozen build."""
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources"
    here = Path(__file__).resolve().parent.parent / "resources"
    if here.is_dir():
        return here
    # installed as a wheel: resources are shipped as package data of hybridsearch
    return Path(__file__).resolve().parent / "resources"


def bundled_base_dir() -> Path | None:
    """A converted base model shipped with a packaged build, if there is one."""
    cand = resources_dir() / "models" / "multilingual-e5-small"
    return cand if (cand / "hybridsearch.json").is_file() else None
