"""The error every command-line tool of the package raises for bad input."""


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""
