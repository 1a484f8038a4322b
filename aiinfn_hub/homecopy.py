"""The copy-back pod's program: pull a remote server's changed files into the home volume.

``python -m aiinfn_hub.homecopy --url URL --home /home/jovyan --folder from-leonardo-...
--max-bytes N`` runs in a short-lived pod at a local site that mounts the user's home volume
(the spawner starts it before it stops a server whose home was a scratch folder at a remote
site; see :mod:`aiinfn_hub.spawner.copyback`). It reads the server's archive
(:mod:`aiinfn_hub.serverext.copyback`) with the token in ``$AIINFN_COPY_BACK_TOKEN`` and
writes each file into ``HOME/FOLDER/<its path>``, so nothing in the home is overwritten, except
a file identical to the one at its place in the home, which is not copied at all. It writes
``FOLDER/COPY-BACK-REPORT.md`` (what was copied, and what was not and why) and prints a
one-line JSON summary last, which the spawner reads from the pod's log. Only the standard
library: it runs in the user's image.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import posixpath
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

MANIFEST = ".aiinfn-copy-back.json"  # as aiinfn_hub.serverext.copyback writes it
REPORT = "COPY-BACK-REPORT.md"
TOKEN_ENV = "AIINFN_COPY_BACK_TOKEN"


def safe_path(name: str) -> str | None:
    """The member's path if it stays inside the folder (relative, no ``..``), else None."""
    clean = posixpath.normpath(name)
    if name.startswith("/") or clean in (".", "..") or clean.startswith("../"):
        return None
    return clean


def unpack(stream: Any, home: Path, folder: str, max_bytes: int) -> dict[str, Any]:
    """Write the archive's files under ``home/folder``; a summary of what happened."""
    target = home / folder
    copied: list[tuple[str, int]] = []
    unchanged: list[str] = []
    refused: list[dict[str, Any]] = []
    manifest: dict[str, Any] = {}
    written = 0
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if member.name == MANIFEST and member.isfile():
                handle = archive.extractfile(member)
                manifest = json.load(handle) if handle else {}
                continue
            rel = safe_path(member.name)
            if rel is None or not member.isfile():
                refused.append({"path": member.name, "why": "not a plain file in your folder"})
                continue
            if written + member.size > max_bytes:
                refused.append({"path": rel, "why": f"over the {max_bytes:,}-byte limit"})
                continue
            source = archive.extractfile(member)
            partial = target / (rel + ".copying")
            partial.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                shutil.copyfileobj(source, out)  # type: ignore[arg-type]
            home_copy = home / rel
            if home_copy.is_file() and filecmp.cmp(partial, home_copy, shallow=False):
                partial.unlink()
                unchanged.append(rel)
                continue
            os.utime(partial, (member.mtime, member.mtime))
            partial.replace(target / rel)
            copied.append((rel, member.size))
            written += member.size
    left_out = [*manifest.get("left_out", []), *refused]
    _prune_empty(target)
    if copied or left_out:
        target.mkdir(parents=True, exist_ok=True)
        (target / REPORT).write_text(report(folder, copied, unchanged, left_out))
    return {
        "folder": folder if (copied or left_out) else "",
        "copied": len(copied),
        "bytes": written,
        "unchanged": len(unchanged),
        "left_out": len(left_out),
    }


def _prune_empty(target: Path) -> None:
    """Remove the folders left empty by files found unchanged."""
    if not target.is_dir():
        return
    for folder, _, _ in sorted(os.walk(target), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):  # not empty
            Path(folder).rmdir()


def report(
    folder: str,
    copied: list[tuple[str, int]],
    unchanged: list[str],
    left_out: list[dict[str, Any]],
) -> str:
    """The report written next to the copied files, for the user."""
    lines = [
        f"# Files copied back from your remote server ({folder})",
        "",
        "Your server ran at a remote site, where your home folder could not be mounted. Before "
        "it stopped, the files you created or changed there were copied into this folder "
        "(nothing in your home folder was overwritten).",
        "",
        f"## Copied ({len(copied)})",
        "",
        *(f"- {rel} ({size:,} bytes)" for rel, size in copied),
    ]
    if unchanged:
        lines += ["", f"## Not copied: the same as in your home folder ({len(unchanged)})", ""]
        lines += [f"- {rel}" for rel in unchanged]
    if left_out:
        lines += ["", f"## Not copied ({len(left_out)})", ""]
        for item in left_out:
            size = f", {item['size']:,} bytes" if item.get("size") is not None else ""
            lines.append(f"- {item['path']}{size}: {item['why']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiinfn_hub.homecopy", description=__doc__)
    parser.add_argument("--url", required=True, help="the server's copy-back URL")
    parser.add_argument("--home", required=True, help="where the home volume is mounted")
    parser.add_argument("--folder", required=True, help="the folder in the home to write")
    parser.add_argument("--max-bytes", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    request = urllib.request.Request(args.url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            summary = unpack(response, Path(args.home), args.folder, args.max_bytes)
    except (OSError, tarfile.TarError, ValueError) as exc:
        print(json.dumps({"error": f"the files could not be copied back: {exc}"}), flush=True)
        return 1
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
