"""Command line: ``hybridsearch`` alone starts the desktop app; subcommands run headless jobs.

Each feature area registers its subcommands through a ``register(subparsers)`` function, so this
module only dispatches. Errors a user can cause are printed as one clear line (exit code 2).
"""

from __future__ import annotations

import argparse
import os
import sys

from hybridsearch import __version__
from hybridsearch.cli import encoder, library, train
from hybridsearch.cli.common import quiet_libraries
from hybridsearch.errors import HybridSearchError

#: Modules that add subcommands: each has ``register(subparsers)`` setting ``func`` on its parsers.
COMMAND_MODULES = [encoder, library, train]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridsearch",
        description="Search your documents in any language. Without a command, the desktop app starts.")
    parser.add_argument("--self-test", action="store_true",
                        help="index a small multilingual sample and check cross-lingual search, then exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


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
        print(__version__)
        return 0
    if args.self_test:
        from hybridsearch.cli.selftest import run_self_test  # loads the library only when asked

        return run_self_test()
    if not args.command:
        from hybridsearch.app import run_app  # loads Qt only when asked

        return run_app()
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
