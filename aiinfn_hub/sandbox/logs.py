"""Reading a container's log file for the pod ``log`` endpoint, optionally following it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

CHUNK = 64 * 1024


def _tail_offset(path: Path, lines: int) -> int:
    """Byte offset where the last ``lines`` lines of the file start."""
    data = path.read_bytes()
    if lines <= 0:
        return len(data)
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    pos = end
    for _ in range(lines):
        pos = data.rfind(b"\n", 0, pos)
        if pos < 0:
            return 0
    return pos + 1


async def read_log(
    path: Path,
    *,
    follow: bool = False,
    alive: Callable[[], bool] = lambda: False,
    tail_lines: int | None = None,
    limit_bytes: int | None = None,
    poll: float = 0.05,
) -> AsyncIterator[bytes]:
    """Chunks of the log; with ``follow``, keep reading until ``alive()`` turns false."""
    offset = _tail_offset(path, tail_lines) if tail_lines is not None and path.exists() else 0
    sent = 0
    while True:
        running = alive()  # read after checking, so the last bytes of a finished process count
        if path.exists():
            with path.open("rb") as handle:
                handle.seek(offset)
                while chunk := handle.read(CHUNK):
                    offset += len(chunk)
                    if limit_bytes is not None:
                        chunk = chunk[: max(limit_bytes - sent, 0)]
                    sent += len(chunk)
                    if chunk:
                        yield chunk
                    if limit_bytes is not None and sent >= limit_bytes:
                        return
        if not follow or not running:
            return
        await asyncio.sleep(poll)
