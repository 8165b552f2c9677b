"""Command line: ``hybridsearch`` alone starts the desktop app; subcommands run headless jobs.

Each feature area registers its subcommands through a ``register(subparsers)`` function, so this
module only dispatches. Errors a user can cause are printed as one clear line (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from hybridsearch.errors import HybridSearchError

#: Modules that add subcommands: each has ``register(subparsers)`` setting ``func`` on its parsers.
COMMAND_MODULES = ["hybridsearch.cli_encoder", "hybridsearch.cli_library", "trainer.cli"]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="hybridsearch",
        description="Search your documents in any language. Without a command, the desktop app starts.")
    parser.add_argument("--self-test", action="store_true",
                        help="index a small multilingual sample and check cross-lingual search, then exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a feature area not present in this build
            if exc.name and name.startswith(exc.name):
                continue
            raise
        module.register(sub)
    return parser


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


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print as \udcXX escapes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        rc = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's own flush at exit
        return rc
    except HybridSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`hybridsearch search ... | head`): stop quietly, as Unix tools do.
        # stdout is pointed at devnull so that Python's flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it


def _run(args) -> int:
    if args.version:
        from hybridsearch import __version__

        print(__version__)
        return 0
    if args.self_test:
        from hybridsearch.selftest import run_self_test

        return run_self_test()
    if not args.command:
        from hybridsearch.app import run_app

        return run_app()
    return int(args.func(args) or 0)


def print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
