"""A command exec'd in a running container: a local process with the container's context.

It runs with the container's environment and working directory, its arguments rewritten to
the container's mounts (as the kubelet's postStart hooks run), in a process group of its own
that dies with the sandbox. With a terminal (``kubectl exec -t``) it gets a pseudo-terminal
whose size follows the client's; otherwise pipes, stderr apart from stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import struct
import termios
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..runtime import dying_with_parent

CHUNK = 32 * 1024
Sink = Callable[[bytes], Awaitable[None]]


def exec_error(argv: list[str], exc: OSError) -> str:
    """Why exec failed, in the words of the container runtime (Go's os/exec and runc)."""
    program = argv[0] if argv else ""
    if exc.errno == errno.ENOENT and "/" not in program:
        return f'exec: "{program}": executable file not found in $PATH'
    reason = (exc.strerror or str(exc)).lower()
    return f'exec: "{program}": {reason}'


def _taking_terminal(then: Callable[[], None] | None) -> Callable[[], None]:
    def take() -> None:  # in the child, before exec: the pty becomes its terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if then is not None:
            then()

    return take


class ExecProcess:
    """One exec'd command and its standard streams."""

    def __init__(self, process: asyncio.subprocess.Process, terminal: int | None) -> None:
        self.process = process
        self._terminal = terminal
        self._stdin: asyncio.StreamWriter | asyncio.WriteTransport | None = None

    @classmethod
    async def start(
        cls,
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        *,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        tty: bool,
        size: tuple[int, int] | None = None,
    ) -> ExecProcess:
        """Start ``argv`` (with a terminal: of ``size``, width and height, when known);
        OSError (no such program, ...) is the caller's to report."""
        if not argv:
            raise OSError(errno.ENOENT, "no command given")
        wrapped, preexec = dying_with_parent(argv, env, cwd)
        if tty:
            master, slave = os.openpty()
            if size is not None:
                _set_size(master, *size)
            try:
                process = await asyncio.create_subprocess_exec(
                    *wrapped,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    env=env,
                    cwd=str(cwd),
                    start_new_session=True,
                    preexec_fn=_taking_terminal(preexec),
                )
            except OSError:
                os.close(master)
                raise
            finally:
                os.close(slave)
            return cls(process, master)
        pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        process = await asyncio.create_subprocess_exec(
            *wrapped,
            stdin=pipe if stdin else null,
            stdout=pipe if stdout else null,
            stderr=pipe if stderr else null,
            env=env,
            cwd=str(cwd),
            start_new_session=True,
            preexec_fn=preexec,
        )
        return cls(process, None)

    async def copy_output(self, stdout: Sink, stderr: Sink) -> None:
        """Send what the command writes until it and its children close their outputs."""
        if self._terminal is not None:
            await self._copy_terminal(stdout)
            return
        pipes = [(self.process.stdout, stdout), (self.process.stderr, stderr)]
        await asyncio.gather(*(_copy(pipe, sink) for pipe, sink in pipes if pipe is not None))

    async def _copy_terminal(self, sink: Sink) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        reading = os.dup(self._terminal)  # type: ignore[arg-type]
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(reading, "rb", 0)
        )
        try:
            while True:
                try:
                    chunk = await reader.read(CHUNK)
                except OSError:  # EIO: every process has let go of the terminal
                    break
                if not chunk:
                    break
                await sink(chunk)
        finally:
            transport.close()

    async def write_stdin(self, data: bytes) -> None:
        if self._terminal is not None:
            await asyncio.to_thread(_write_all, self._terminal, data)
            return
        pipe = self.process.stdin
        if pipe is None or pipe.is_closing():
            return
        with contextlib.suppress(ConnectionError):
            pipe.write(data)
            await pipe.drain()

    def close_stdin(self) -> None:
        """The client has no more input: the command reads end of file."""
        if self._terminal is None and self.process.stdin is not None:
            self.process.stdin.close()

    def resize(self, width: int, height: int) -> None:
        if self._terminal is not None:
            _set_size(self._terminal, width, height)

    async def wait(self) -> int:
        """The exit code, as a container runtime reports it (128 + signal when killed)."""
        code = await self.process.wait()
        return 128 - code if code < 0 else code

    def kill(self) -> None:
        """End the command and everything it started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        if self._terminal is not None:
            with contextlib.suppress(OSError):
                os.close(self._terminal)
            self._terminal = None


def _set_size(terminal: int, width: int, height: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def _copy(pipe: asyncio.StreamReader, sink: Sink) -> None:
    while chunk := await pipe.read(CHUNK):
        await sink(chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:  # the terminal's input is full: the command reads slowly
            time.sleep(0.01)
        except OSError:
            return
