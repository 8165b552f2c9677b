"""Research kept on purpose: each script shows how a shipped constant was chosen (run as
``python -m experiments.NAME`` from the repository root). Research that did not work was deleted;
its findings are in docs/training.md."""
