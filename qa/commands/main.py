"""The ``qa`` command line: one sub-command module each, all reaching the same QASystem.

User mistakes (QAError) print one line on stderr and exit with code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable, Sequence

from embeddings.errors import QAError
from qa.settings import configure_logging
from qa.system import QASystem

# Each module defines ``register(subparsers)``, which adds its parser(s) with
# ``set_defaults(handler=...)``; a handler takes the parsed args and returns an exit code.
COMMAND_MODULES = (
    "qa.commands.index",
    "qa.commands.corpus",
    "qa.commands.ask",
    "qa.commands.eval",
    "qa.commands.feedback",
    "qa.commands.serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Extractive question answering with exact citations over a news corpus.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, *, load_system: Callable[..., QASystem] = QASystem.load) -> int:
    """Run one command. ``load_system`` (default ``QASystem.load``) is how every handler gets
    the system: tests pass one that injects fake models."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.load_system = load_system
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    configure_logging(level)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except QAError as error:
        print(f"qa {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as error:
        # A path the user gave that cannot be used: one line, like any other mistake.
        where = f": {error.filename}" if error.filename else ""
        print(f"qa {args.command}: error: {error.strerror or error}{where}; check the folder or file "
              "given (--corpus, --index-dir, paths)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.: not an error worth a traceback
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
