"""Port-forward: each client connection to a pod's port, over SPDY streams or WebSocket
channels.

kubectl 1.30+ opens, per local connection, an error stream and a data stream (headers
``streamType``, ``port``, ``requestID``) in a SPDY session carried by the WebSocket; the
server connects to the port at the pod's address, copies both ways, writes what went wrong
to the error stream, and ends both streams. The older WebSocket protocol (``ports`` in the
query) gives each port a data and an error channel for the life of the socket, each first
carrying the port number (two bytes, little-endian).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .spdy import Session, Stream
from .targets import ForwardTarget

log = logging.getLogger("aiinfn_hub.sandbox.streaming.forward")
CHUNK = 32 * 1024
Receive = Callable[[], Awaitable[bytes | None]]
Send = Callable[[bytes], Awaitable[None]]


def forward_error(target: ForwardTarget, port: int, cause: str) -> str:
    """The words of the kubelet's streaming server (the pod as it names it, no uid)."""
    return f"error forwarding port {port} to pod {target.name}, uid : {cause}"


async def forward(
    target: ForwardTarget,
    port: int,
    *,
    receive: Receive,
    send: Send,
    sent_all: Send,
    gone: Callable[[], bool] = lambda: False,
    client_ends: bool = True,
) -> str | None:
    """Connect to ``port`` of the pod and copy until the pod closes the connection or the
    client goes (``receive`` ends and ``gone()``); returns what went wrong, in words, or
    None. ``client_ends``: once the pod has closed, wait for the client to end its side
    too (a SPDY stream has an end; a WebSocket channel has none)."""
    if target.refusal is not None:
        return forward_error(target, port, target.refusal)
    address = target.address()
    if not address:
        return forward_error(target, port, "the pod has no address yet: it is not running")
    try:
        reader, writer = await asyncio.open_connection(address, port)
    except OSError as exc:
        why = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
        return forward_error(
            target,
            port,
            f"failed to connect to {address}:{port} (the pod's address): dial tcp4 "
            f"{address}:{port}: connect: {why}",
        )

    async def upstream() -> None:  # client -> pod; its end is a half-close
        while (data := await receive()) is not None:
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def downstream() -> None:  # pod -> client
        while chunk := await reader.read(CHUNK):
            await send(chunk)
        await sent_all(b"")

    up = asyncio.ensure_future(upstream())
    down = asyncio.ensure_future(downstream())
    try:
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if up in done and not gone() and not up.exception():
            await asyncio.wait({down})  # half-closed: the pod may still answer
        elif down in done and not down.exception() and client_ends:
            await asyncio.wait({up})  # the client ends its side (or resets the stream)
    finally:
        for task in (up, down):
            task.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return None


@dataclass
class _Pair:
    data: Stream | None = None
    error: Stream | None = None


def stream_refusal(stream: Stream) -> str | None:
    """Why the kubelet would refuse a new stream of a port-forward session, or None."""
    port = stream.header("port")
    if not port:
        return '"port" header is required'
    if not port.isdigit() or int(port) > 65535:
        return f'unable to parse "{port}" as a port'
    if int(port) < 1:
        return f'port "{port}" must be > 0'
    kind = stream.header("streamType")
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f'invalid stream type "{kind}"'
    return None


class TunnelForwarder:
    """Port-forward over a SPDY session: pairs the streams of each request and serves it."""

    def __init__(self, session: Session, target: ForwardTarget) -> None:
        self.session = session
        self.target = target
        self._pairs: dict[str, _Pair] = {}
        self._tasks: set[asyncio.Task] = set()

    @staticmethod
    def _request_id(stream: Stream) -> str:
        request = stream.header("requestID")
        if request:
            return request
        # clients before request ids: the error stream's id, the data stream's minus two
        return str(stream.id if stream.header("streamType") == "error" else stream.id - 2)

    async def run(self) -> None:
        """Serve the session's streams until it ends."""
        try:
            while (stream := await self.session.new_streams.get()) is not None:
                request = self._request_id(stream)
                pair = self._pairs.setdefault(request, _Pair())
                kind = stream.header("streamType")
                if getattr(pair, kind) is not None:
                    words = f"error processing stream for request {request}: {kind} stream "
                    await self._fail(pair, words + "already assigned")
                    continue
                setattr(pair, kind, stream)
                if pair.data is not None and pair.error is not None:
                    del self._pairs[request]
                    task = asyncio.ensure_future(self._serve(pair.data, pair.error))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _fail(self, pair: _Pair, words: str) -> None:
        if pair.error is not None:
            await pair.error.write(words.encode())

    async def _serve(self, data: Stream, error: Stream) -> None:
        port = int(data.header("port"))

        async def finish(_: bytes) -> None:
            await data.close()

        try:
            failure = await forward(
                self.target,
                port,
                receive=data.read,
                send=data.write,
                sent_all=finish,
                gone=lambda: data.reset or self.session.closed,
            )
            if failure is not None:
                log.info("%s", failure)
                await error.write(failure.encode())
        finally:
            with contextlib.suppress(Exception):
                await data.close()
                await error.close()
            self.session.remove(data)
            self.session.remove(error)
