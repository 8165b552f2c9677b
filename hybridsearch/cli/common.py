"""What every command-line entry shares: quiet third-party libraries, a console that cannot fail."""

from __future__ import annotations

import os
import sys


def quiet_libraries() -> None:
    """Keep third-party progress bars and warnings out of the user's terminal."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    # the same as transformers' logging.set_verbosity_error() and disable_progress_bar(), without
    # importing transformers (about 1 s) for commands that never load a model
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    hf_logging = sys.modules.get("transformers.utils.logging")
    if hf_logging is not None:  # already imported (by a program that calls main()): too late for the variables
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()



def configure_stdout() -> None:
    """Unprintable characters become '?' instead of an error (a Windows console, a C locale)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):
            pass
