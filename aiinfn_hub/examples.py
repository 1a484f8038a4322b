"""``aiinfn-hub examples DEST``: the example notebooks, copied into a user's folder.

The notebooks have one source, ``binder/examples`` (Binder opens them there). The wheel carries
the same files as ``aiinfn_hub/example_notebooks`` (hatch ``force-include``), so an installed
package finds them as well as a source tree does. Copying never replaces a file that is already
there, so it is safe to run at every server start: the helm values run it as the users'
``postStart`` lifecycle hook, into ``~/examples``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The example notebooks, and what each shows (in the order a newcomer should try them).
EXAMPLES = {
    "cpu-job.ipynb": "1 CPU, kept local: runs on Local",
    "gpu-job.ipynb": "one A100, offloadable: runs at CINECA Leonardo",
    "falls-back.ipynb": "2 CPUs, offloadable: sent to CNAF Tier-1 first, falls back to Local "
    "when Tier-1 fails",
}
#: Where an installed wheel keeps them, and where a source tree (or editable install) has them.
PACKAGED = Path(__file__).resolve().parent / "example_notebooks"
SOURCE = Path(__file__).resolve().parent.parent / "binder" / "examples"


def examples_dir() -> Path:
    """The folder holding every example: the wheel's copy, else the source tree's."""
    for folder in (PACKAGED, SOURCE):
        if all((folder / name).is_file() for name in EXAMPLES):
            return folder
    raise FileNotFoundError(
        f"the example notebooks are neither in {PACKAGED} (an installed wheel) nor in {SOURCE} "
        "(a source tree): reinstall aiinfn-hub"
    )


@dataclass
class Copied:
    """What one copy did: files written, and files kept because they were already there."""

    copied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def copy_examples(dest: Path, source: Path | None = None) -> Copied:
    """Copy each example missing from ``dest`` (made if needed); never replace a file."""
    source = examples_dir() if source is None else source
    dest.mkdir(parents=True, exist_ok=True)
    done = Copied()
    for name in EXAMPLES:
        target = dest / name
        data = (source / name).read_bytes()
        try:
            with target.open("xb") as out:  # exclusive: whatever is there stays
                out.write(data)
        except FileExistsError:
            done.kept.append(name)
            continue
        except OSError:
            target.unlink(missing_ok=True)  # no half-written notebook to keep next time
            raise
        done.copied.append(name)
    return done


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "examples",
        help="copy the example notebooks into a folder, keeping files already there",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copy the example notebooks into DEST (made if missing). A file already in "
        "DEST is never replaced, so a user's edits survive and running it again is harmless: "
        "the helm values run it at every server start (singleuser.lifecycleHooks.postStart).\n\n"
        + "\n".join(f"  {name:18} {what}" for name, what in EXAMPLES.items()),
    )
    parser.add_argument("dest", metavar="DEST", help="the folder to copy into")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dest = Path(args.dest).expanduser()
    try:
        done = copy_examples(dest)
    except OSError as exc:
        print(f"aiinfn-hub examples: cannot copy into {dest}: {exc}", file=sys.stderr)
        return 1
    if done.copied:
        print(f"copied {', '.join(done.copied)} into {dest}")
    if done.kept:
        print(f"kept {', '.join(done.kept)} (already in {dest})")
    return 0
