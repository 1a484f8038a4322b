"""The error every command-line tool of the package raises for bad input, and the parser that
words argparse's own errors the same way."""

from __future__ import annotations

import argparse
from typing import NoReturn


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


class CommandLineError(Exception):
    """Arguments argparse cannot parse; the message is the one line to print."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line (with where to find help), not the usage block."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(f"{self.prog}: error: {message} (see {self.prog} --help)")
