"""The container runtime stand-in: one local process group per container, logs to a file.

Each process starts in a session of its own, so signalling the group reaches everything it
spawned; on Linux the child also gets SIGKILL if the sandbox itself dies (PR_SET_PDEATHSIG, set
by util-linux's setpriv before it execs the command: no Python code runs between fork and exec,
so the start is a vfork that does not block the sandbox for a copy of its memory).
Exits are noticed through a pidfd on the event loop (no thread per child), with polling where
pidfds are not available.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None
_UNSHARE = shutil.which("unshare") if sys.platform.startswith("linux") else None
_IP = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
_SH = shutil.which("sh")


@functools.cache
def network_isolation() -> tuple[str, ...] | None:
    """The command prefix that runs a process in a network namespace of its own, with its own
    loopback up (util-linux's unshare and iproute2's ip: as root, or in a user namespace of the
    current user), or None where the machine allows neither. Nothing outside such a namespace
    can connect to the process; inside, it reaches itself on 127.0.0.1 (a notebook's kernel)."""
    if _UNSHARE is None or _IP is None or _SH is None:
        return None
    start = (_SH, "-c", f'{shlex.quote(_IP)} link set lo up && exec "$@"', "sandbox-pod")
    for unshare in ((_UNSHARE, "--net"), (_UNSHARE, "--map-current-user", "--net")):
        prefix = (*unshare, "--", *start)
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
            if done.returncode == 0:
                return prefix
    return None


def _die_with_parent() -> None:  # runs in the child between fork and exec (without setpriv)
    if sys.platform.startswith("linux"):
        # no C library or no prctl in it: the child then outlives a killed parent, as without
        # setpriv; nothing may be logged here, between fork and exec
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _check_exec(program: str, env: dict[str, str], cwd: Path) -> None:
    """Raise the OSError exec would for ``program``, looked up as exec looks it up: on the
    PATH of ``env`` unless it names a path, relative paths from ``cwd``. (setpriv execs it in
    the child, too late for Popen to raise.)"""
    if "/" in program:
        places = [program]
    else:
        places = [os.path.join(d, program) for d in os.get_exec_path(env)]
    denied = False
    for place in places:
        path = cwd / place
        if path.is_file() and os.access(path, os.X_OK):
            return
        denied = denied or path.exists()
    code = errno.EACCES if denied else errno.ENOENT
    raise OSError(code, os.strerror(code), program)


def dying_with_parent(
    argv: list[str], env: dict[str, str], cwd: Path
) -> tuple[list[str], Callable[[], None] | None]:
    """``argv`` made to die with the sandbox, and the function (if any) to run in the child
    before exec: setpriv's ``--pdeathsig`` where there is setpriv (having raised the OSError
    exec would, since setpriv reports it too late), else a prctl between fork and exec."""
    if _SETPRIV is not None and argv:
        _check_exec(argv[0], env, cwd)
        return [_SETPRIV, "--pdeathsig", "KILL", "--", *argv], None
    return argv, _die_with_parent


class LocalProcess:
    """A started container process and its process group."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.pid = popen.pid
        self._exit: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._watch()

    @classmethod
    def spawn(
        cls,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        log_path: Path,
        *,
        isolated: bool = False,
    ) -> LocalProcess:
        """Start ``argv``; OSError (e.g. no such executable) is the caller's to report.

        ``isolated``: in a network namespace of its own where the machine allows it (see
        :func:`network_isolation`), so that nothing can connect to it."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        isolation = network_isolation() if isolated and argv else None
        if isolation is not None:
            _check_exec(argv[0], env, cwd)
            argv = [*isolation, *argv]
        argv, preexec = dying_with_parent(argv, env, cwd)
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                argv,
                env=env,
                cwd=str(cwd),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
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
        """SIGTERM to the group, SIGKILL after ``grace`` seconds; returns the exit code once
        every process of the group is gone."""
        if self.running:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wait(), max(grace, 0.0))
        self.signal_group(signal.SIGKILL)  # leftovers in the group, if the leader is gone
        code = await self.wait()
        await self._group_ended()
        return code

    async def _group_ended(self, timeout: float = 5.0) -> None:
        """Wait until the SIGKILLed rest of the group has exited, as a container ends only
        when all its processes have (a signalled process exits when next scheduled)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.001
        while _group_alive(self.pid) and loop.time() < deadline:
            self.signal_group(signal.SIGKILL)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is alive (zombies awaiting their reaper are not)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return True  # no /proc: the group exists, zombies or not
    for pid in entries:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False
