"""Trainer: parallel QA data, hybrid batch samplers, the HybridLoss, the training loop, checkpoints,
export of overlays, LAReQA evaluation.

Builds on hybridsearch's core (encoder, ranking, records, progress); never imports Qt, the
command line or the desktop app (import contracts in pyproject.toml). The app drives it through
progress callbacks and a cancel flag.
"""
