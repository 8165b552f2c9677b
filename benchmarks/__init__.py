"""The measurements behind the figures in README.md and docs/ (run as ``python -m benchmarks.NAME``
from the repository root); ``common`` holds what they share."""
