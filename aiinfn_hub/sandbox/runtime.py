"""The container runtime stand-in: one local process group per container, logs to a file.

Each process starts in a session of its own, so signalling the group reaches everything it
spawned; on Linux the child also gets SIGKILL if the sandbox itself dies (PR_SET_PDEATHSIG).
Exits are noticed through a pidfd on the event loop (no thread per child), with polling where
pidfds are not available.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalProcess:
    """A started container process and its process group."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._watch()

    @classmethod
    def spawn(cls, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> LocalProcess:
        """Start ``argv``; OSError (e.g. no such executable) is the caller's to report."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=str(cwd),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                close_fds=True,
            )
        return cls(popen)

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._poller = loop.create_task(self._poll())
            return

        def ready() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            self._finish()

        loop.add_reader(fd, ready)

    async def _poll(self) -> None:
        while self.popen.poll() is None:
            await asyncio.sleep(0.05)
        self._finish()

    def _finish(self) -> None:
        code = self.popen.wait()
        if not self._exit.done():
            self._exit.set_result(128 - code if code < 0 else code)

    @property
    def running(self) -> bool:
        return not self._exit.done()

    async def wait(self) -> int:
        """The exit code, as a container reports it (128 + signal when killed)."""
        return await asyncio.shield(self._exit)

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def terminate(self, grace: float) -> int:
        """SIGTERM to the group, SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.running:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wait(), max(grace, 0.0))
        self.signal_group(signal.SIGKILL)  # leftovers in the group, if the leader is gone
        return await self.wait()
