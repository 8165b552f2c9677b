"""The headless command line: ``main`` (dispatch), ``library``, ``encoder``, ``train`` (train,
evaluate, data check) and ``selftest``. An entry layer: it may import ``trainer``; nothing in the
core imports it."""

from hybridsearch.cli.common import quiet_libraries
from hybridsearch.cli.main import build_parser, main

__all__ = ["build_parser", "main", "quiet_libraries"]
