"""``GET aiinfn-hub/api/copy-back``: the files created or changed in this server, packed for
the hub to copy into the user's home volume before the server stops.

A server at a remote site has a scratch home (its home volume cannot be mounted there). Before
it stops, the hub's spawner starts a short-lived pod at a local site that mounts the home
volume and pulls this archive with the server's own token (see
:mod:`aiinfn_hub.spawner.copyback`). The archive is an uncompressed tar of the files under the
server's root folder modified since the server started, newest first, up to ``max_bytes`` in
all, then :data:`MANIFEST`, which lists what was left out and why.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import BadRequest
from .handlers import PREFIX, BaseHandler

#: The archive's last member: {"copied": [...], "left_out": [{"path", "size", "why"}], ...}
MANIFEST = ".aiinfn-copy-back.json"
#: Folders never copied back: caches and Jupyter's own state, which can be large and are
#: rebuilt on their own.
SKIPPED_FOLDERS = frozenset(
    {".cache", ".ipynb_checkpoints", "__pycache__", ".local", ".npm", ".conda", ".jupyter"}
)
CHUNK = 1 << 20


@dataclass
class Selection:
    """Files to copy back (path relative to the root, size), and those left out with why."""

    copied: list[tuple[str, int]] = field(default_factory=list)
    left_out: list[dict[str, object]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(size for _, size in self.copied)


def select_changed(root: Path, since: float, max_bytes: int) -> Selection:
    """The regular files under ``root`` modified at or after ``since``, newest first, while
    their sizes fit in ``max_bytes``; the others modified then are left out, with why."""
    changed: list[tuple[float, str, int]] = []
    selection = Selection()
    for folder, folders, files in os.walk(root):
        skipped = sorted(d for d in folders if d in SKIPPED_FOLDERS)
        folders[:] = sorted(d for d in folders if d not in SKIPPED_FOLDERS)
        here = Path(folder)
        for name in skipped:
            rel = (here / name).relative_to(root).as_posix()
            selection.left_out.append({"path": rel + "/", "size": None, "why": "a cache folder"})
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(root).as_posix()
            try:
                stat = path.lstat()
            except OSError:
                continue  # gone meanwhile
            if max(stat.st_mtime, stat.st_ctime) < since:
                continue
            if path.is_symlink() or not path.is_file():
                selection.left_out.append({"path": rel, "size": None, "why": "not a plain file"})
                continue
            changed.append((stat.st_mtime, rel, stat.st_size))
    total = 0
    for _, rel, size in sorted(changed, key=lambda c: (-c[0], c[1])):
        if total + size <= max_bytes:
            selection.copied.append((rel, size))
            total += size
        else:
            selection.left_out.append(
                {"path": rel, "size": size, "why": f"over the {max_bytes:,}-byte limit"}
            )
    return selection


def pack(root: Path, selection: Selection, target: Path, since: float) -> None:
    """Write the selected files and then :data:`MANIFEST` as a tar at ``target``."""
    copied: list[str] = []
    left_out = list(selection.left_out)
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel, _ in selection.copied:
            try:
                tar.add(root / rel, arcname=rel, recursive=False)
                copied.append(rel)
            except OSError as exc:
                left_out.append({"path": rel, "size": None, "why": f"unreadable ({exc.strerror})"})
        manifest = {"since": since, "copied": copied, "left_out": left_out}
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))


class CopyBackHandler(BaseHandler):
    """The archive of this server's changed files (see the module's docstring)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.int_arg("max_bytes", 0, 2**50)
        if limit is None:
            raise BadRequest("max_bytes is needed: the most bytes to copy back", "max_bytes")
        root = Path(self.serverapp.root_dir)
        since = self.ext.started_at
        with tempfile.TemporaryDirectory(prefix="aiinfn-copy-back-") as folder:
            target = Path(folder) / "copy-back.tar"
            selection = await asyncio.to_thread(select_changed, root, since, limit)
            await asyncio.to_thread(pack, root, selection, target, since)
            self.set_header("Content-Type", "application/x-tar")
            self.set_header("Content-Length", str(target.stat().st_size))
            with target.open("rb") as archive:
                while chunk := archive.read(CHUNK):
                    self.write(chunk)
                    await self.flush()
        self.finish()


def copy_back_routes() -> list[tuple[str, type[BaseHandler]]]:
    """Its route, relative to the server's base URL; before the prefix's catch-all."""
    return [("/" + PREFIX + r"/copy-back/?", CopyBackHandler)]
