"""``kubectl exec``: the command run in the container, its streams on the channels.

Once upgraded, the client gets an empty message on the lowest stream it asked for, then
the command's output, then the final Status on the error channel, and a normal close.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .channels import (
    Channel,
    ChannelProtocol,
    exec_protocol,
    exec_protocol_names,
    exit_status,
    failure_status,
    status_message,
    success_status,
)
from .process import ExecProcess, exec_error
from .targets import ExecPlan
from .websocket import StreamHandler

RUNNING_CHECK = 0.5  # seconds between checks that the container still runs
FIRST_SIZE_WAIT = 2.0  # seconds a terminal's command waits for the client's terminal size


class ExecHandler(StreamHandler):
    """``pods/exec`` (API server) and ``/exec/NS/POD/CONTAINER`` (kubelet API)."""

    async def plan(self, args: tuple[str, ...]) -> ExecPlan:
        plan = await self.front.exec_request(self, args)
        self.exec_options, self.target = plan.options, plan.target
        return plan

    def choose(self, offered: list[str]) -> str | None:
        protocol = exec_protocol(offered)
        return None if protocol is None else protocol.name

    def supported(self) -> list[str]:
        return exec_protocol_names()

    def open(self, *args: str, **kwargs: str) -> None:
        super().open(*args, **kwargs)
        chosen = exec_protocol(self.offered)
        assert chosen is not None
        self.channel_protocol: ChannelProtocol = chosen
        self.process: ExecProcess | None = None
        self.input: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self._start(self._run())

    async def _send(self, channel: int, data: bytes) -> None:
        message = self.channel_protocol.encode(channel, data)
        await self.write_message(message, binary=isinstance(message, bytes))

    async def _run(self) -> None:
        options = self.exec_options
        first = Channel.STDOUT if options.stdout else Channel.STDERR
        await self._send(first if options.stdout or options.stderr else Channel.ERROR, b"")
        status = await self._run_command()
        message = status_message(self.channel_protocol, status)
        if message is not None:
            await self._send(Channel.ERROR, message)
        self.close(1000)

    async def _run_command(self) -> dict[str, Any]:
        """Run the command to its end; its final Status."""
        target, options = self.target, self.exec_options
        if target.refusal is not None or target.context is None:
            return failure_status(self.channel_protocol, target.refusal or "the container stopped")
        context = target.context
        argv = [context.mounts.rewrite(a) for a in options.command]
        size = await self._first_size() if options.tty else None
        try:
            self.process = process = await ExecProcess.start(
                argv,
                context.env,
                context.cwd,
                stdin=options.stdin,
                stdout=options.stdout,
                stderr=options.stderr,
                tty=options.tty,
                size=size,
            )
        except OSError as exc:
            return failure_status(self.channel_protocol, exec_error(argv, exc))
        feeding = asyncio.ensure_future(self._feed(process))
        watching = asyncio.ensure_future(self._watch(process))
        try:
            await process.copy_output(
                lambda data: self._send(Channel.STDOUT, data),
                lambda data: self._send(Channel.STDERR, data),
            )
            code = await process.wait()
        finally:
            feeding.cancel()
            watching.cancel()
            process.kill()
            process.close()
        if code == 0:
            return success_status()
        return exit_status(self.channel_protocol, code, options.command)

    async def _first_size(self) -> tuple[int, int] | None:
        """The terminal's size as the client sends it first (kubectl does at once), so that
        the command starts with it; other input stays queued, in order."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FIRST_SIZE_WAIT
        held: list[tuple[int, bytes]] = []
        size = None
        while size is None and loop.time() < deadline:
            try:
                item = await asyncio.wait_for(self.input.get(), deadline - loop.time())
            except asyncio.TimeoutError:
                break
            if item[0] == Channel.RESIZE:
                sizes = _sizes(item[1])
                size = sizes[-1] if sizes else None
            else:
                held.append(item)
        while not self.input.empty():
            held.append(self.input.get_nowait())
        for item in held:
            self.input.put_nowait(item)
        return size

    async def _watch(self, process: ExecProcess) -> None:
        """A command exec'd in a container ends with the container."""
        while self.target.running():
            await asyncio.sleep(RUNNING_CHECK)
        process.kill()

    async def _feed(self, process: ExecProcess) -> None:
        resize = b""
        while True:
            channel, data = await self.input.get()
            if channel == Channel.STDIN and self.exec_options.stdin:
                await process.write_stdin(data)
            elif channel == Channel.CLOSE and data[:1] == bytes([Channel.STDIN]):
                process.close_stdin()
            elif channel == Channel.RESIZE:
                resize += data
                resize = _resizes(resize, process)

    def on_message(self, message: str | bytes) -> None:
        decoded = self.channel_protocol.decode(message)
        if decoded is not None:
            self.input.put_nowait(decoded)

    def on_close(self) -> None:
        super().on_close()
        process = getattr(self, "process", None)
        if process is not None:
            process.kill()


def _sizes(data: bytes) -> list[tuple[int, int]]:
    """The complete ``{"Width": W, "Height": H}`` objects in ``data``, in order."""
    return _split_sizes(data)[0]


def _split_sizes(buffer: bytes) -> tuple[list[tuple[int, int]], bytes]:
    decoder, text = json.JSONDecoder(), buffer.decode(errors="replace")
    at = 0
    sizes: list[tuple[int, int]] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        try:
            size, at = decoder.raw_decode(text, at)
        except ValueError:
            return sizes, text[at:].encode()
        if isinstance(size, dict):
            sizes.append((int(size.get("Width", 0)), int(size.get("Height", 0))))


def _resizes(buffer: bytes, process: ExecProcess) -> bytes:
    """Apply each complete size in ``buffer``; return the rest (a size still arriving)."""
    sizes, rest = _split_sizes(buffer)
    for width, height in sizes:
        process.resize(width, height)
    return rest
