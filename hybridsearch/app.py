"""Entry point of the desktop app; the Qt code itself lives in ``hybridsearch.qt``."""

from __future__ import annotations


def run_app(argv: list[str] | None = None) -> int:
    from hybridsearch.qt.app import main

    return main(argv)
