"""``python -m aiinfn_hub.sandbox up ...``: the sandbox's command line without the rest."""

from __future__ import annotations

import argparse
import sys

from .cli import add_commands


def main(argv: list[str] | None = None) -> int:
    from aiinfn_hub.cli import UsageError

    parser = argparse.ArgumentParser(prog="python -m aiinfn_hub.sandbox")
    add_commands(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
