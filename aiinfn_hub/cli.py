"""The ``aiinfn-hub`` command: one entry point, one subcommand per concern.

Each concern owns a small module with a ``register(subparsers)`` function that adds its
subcommand and sets ``func`` on the parser; this module only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .usage import CommandLineError, OneLineParser, UsageError

__all__ = ["UsageError", "build_parser", "main"]

#: Modules that contribute subcommands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES = (
    "aiinfn_hub.placement.cli",
    "aiinfn_hub.demo",
    "aiinfn_hub.sandbox.cli",
    "aiinfn_hub.cluster.cli",
    "aiinfn_hub.examples",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = OneLineParser(
        prog="aiinfn-hub",
        description="AI_INFN hub: placement, sandbox cluster, demo and background jobs.",
    )
    parser.add_argument("--version", action="version", version=f"aiinfn-hub {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # a real import error inside the module, not an absent module
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CommandLineError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"aiinfn-hub {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
