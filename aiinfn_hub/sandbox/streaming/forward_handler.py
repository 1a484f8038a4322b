"""``kubectl port-forward``: SPDY streams in the WebSocket (kubectl 1.30+), or the older
protocol's channels, each connection forwarded to the pod's address."""

from __future__ import annotations

import asyncio

from .channels import TUNNEL_PORT_FORWARD, port_forward_protocol
from .forward import TunnelForwarder, forward, stream_refusal
from .spdy import Session
from .targets import ForwardPlan
from .websocket import StreamHandler


class PortForwardHandler(StreamHandler):
    """``pods/portforward`` (API server) and ``/portForward/NS/POD`` (kubelet API)."""

    async def plan(self, args: tuple[str, ...]) -> ForwardPlan:
        plan = await self.front.forward_request(self, args)
        self.ports, self.forward_target = plan.ports, plan.target
        return plan

    def choose(self, offered: list[str]) -> str | None:
        if TUNNEL_PORT_FORWARD in offered:
            return TUNNEL_PORT_FORWARD
        protocol = port_forward_protocol(offered)
        return None if protocol is None else protocol.name

    def supported(self) -> list[str]:
        return [TUNNEL_PORT_FORWARD, "v4.channel.k8s.io", "v4.base64.channel.k8s.io"]

    async def _admitted(self, args: tuple[str, ...]) -> bool:
        if not await super()._admitted(args):
            return False
        if self.choose(self.offered) != TUNNEL_PORT_FORWARD and not self.ports:
            self._answer(400, 'query parameter "port" is required')
            return False
        return True

    def open(self, *args: str, **kwargs: str) -> None:
        super().open(*args, **kwargs)
        self.channels: dict[int, asyncio.Queue[bytes | None]] = {}
        if self.choose(self.offered) == TUNNEL_PORT_FORWARD:
            self.session: Session | None = Session(self._send_bytes, stream_refusal)
            self._start(self._tunnel())
        else:
            self.session = None
            protocol = port_forward_protocol(self.offered)
            assert protocol is not None
            self.channel_protocol = protocol
            self._start(self._channels())

    async def _send_bytes(self, data: bytes) -> None:
        await self.write_message(data, binary=True)

    async def _tunnel(self) -> None:
        assert self.session is not None
        await TunnelForwarder(self.session, self.forward_target).run()
        self.close(1000)

    async def _channels(self) -> None:
        async def one(index: int, port: int) -> None:
            data, error = 2 * index, 2 * index + 1
            queue = self.channels[data] = asyncio.Queue()
            number = port.to_bytes(2, "little")
            await self._send_channel(data, number)
            await self._send_channel(error, number)

            async def send(chunk: bytes) -> None:
                await self._send_channel(data, chunk)

            async def nothing(_: bytes) -> None:
                return

            failure = await forward(
                self.forward_target,
                port,
                receive=queue.get,
                send=send,
                sent_all=nothing,
                client_ends=False,
            )
            if failure is not None:
                await self._send_channel(error, failure.encode())

        await asyncio.gather(*(one(i, port) for i, port in enumerate(self.ports)))
        self.close(1000)

    async def _send_channel(self, channel: int, data: bytes) -> None:
        message = self.channel_protocol.encode(channel, data)
        await self.write_message(message, binary=isinstance(message, bytes))

    async def on_message(self, message: str | bytes) -> None:
        if self.session is not None:
            if isinstance(message, bytes):
                await self.session.feed(message)
            return
        decoded = self.channel_protocol.decode(message)
        if decoded is not None and decoded[0] in self.channels:
            self.channels[decoded[0]].put_nowait(decoded[1])

    def on_close(self) -> None:
        session = getattr(self, "session", None)  # None too if closed before open
        if session is not None:
            session.close()
        for queue in getattr(self, "channels", {}).values():
            queue.put_nowait(None)
        super().on_close()
