"""The WebSocket end of exec and port-forward, behind the sandbox's API server or a node
agent's kubelet API (a :class:`Front` says which: how the request names its options, what
is checked before the upgrade).

Before upgrading, a request gets the answers a real server gives: the API server's and the
kubelet's checks, then, for anything but a WebSocket upgrade, a 400 in words (the sandbox
does not speak SPDY, which kubectl uses only when told not to use WebSockets), and a 403 for
subprotocols it does not serve.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from tornado.web import RequestHandler
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .. import errors
from .channels import go_json
from .targets import ExecPlan, ForwardPlan, Refused

log = logging.getLogger("aiinfn_hub.sandbox.streaming")


class Front(Protocol):
    """Where the requests come in (the sandbox's API server, a node agent)."""

    #: who answers, in the words of a refusal ("the sandbox")
    speaker: str
    #: the streams open now
    live: set[WebSocketHandler]

    async def exec_request(self, handler: RequestHandler, args: tuple[str, ...]) -> ExecPlan: ...

    async def forward_request(
        self, handler: RequestHandler, args: tuple[str, ...]
    ) -> ForwardPlan: ...


class StreamHandler(WebSocketHandler):
    """The checks before the upgrade, shared by exec and port-forward."""

    def initialize(self, front: Front) -> None:
        self.front = front
        self.offered: list[str] = []
        self._tasks: list[asyncio.Task] = []

    def check_origin(self, origin: str) -> bool:  # an API: no browser same-origin policy
        return True

    def check_xsrf_cookie(self) -> None:
        return

    async def plan(self, args: tuple[str, ...]) -> ExecPlan | ForwardPlan:
        """Read and check the request (raises Refused)."""
        raise NotImplementedError

    def choose(self, offered: list[str]) -> str | None:
        """The subprotocol this request gets, or None when none of ``offered`` is served."""
        raise NotImplementedError

    def _answer(self, code: int, body: Any) -> None:
        audit = getattr(getattr(self, "checked", None), "audit", None)
        if audit is not None:
            audit["code"] = code
        self.set_status(code)
        if isinstance(body, str):
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(body)
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(go_json(body))

    async def _admitted(self, args: tuple[str, ...]) -> bool:
        try:
            self.checked = await self.plan(args)
        except Refused as exc:
            self._answer(exc.code, exc.body)
            return False
        upgrade = self.request.headers.get("Upgrade", "").lower()
        if upgrade != "websocket" or self.request.method != "GET":
            words = "Upgrade request required"
            if upgrade.startswith("spdy"):
                words += (
                    f": {self.front.speaker} serves exec and port-forward over WebSocket only, "
                    "not SPDY (kubectl 1.30 or newer uses WebSocket unless "
                    "KUBECTL_REMOTE_COMMAND_WEBSOCKETS or KUBECTL_PORT_FORWARD_WEBSOCKETS is "
                    "set to false: unset them)"
                )
            self._answer(400, errors.bad_request(words).status())
            return False
        header = self.request.headers.get("Sec-WebSocket-Protocol", "")
        self.offered = [p.strip() for p in header.split(",") if p.strip()]
        if self.choose(self.offered) is None:
            self._answer(
                403,
                f"requested protocol(s) are not supported: [{' '.join(self.offered)}]; "
                f"supports [{' '.join(self.supported())}]",
            )
            return False
        return True

    def supported(self) -> list[str]:
        raise NotImplementedError

    async def get(self, *args: str, **kwargs: str) -> None:
        if await self._admitted(args):
            await super().get(*args, **kwargs)

    async def post(self, *args: str) -> None:
        await self._admitted(args)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return self.choose(subprotocols) or None

    def open(self, *args: str, **kwargs: str) -> None:
        if self.checked.audit is not None:
            self.checked.audit["code"] = 101
        self.front.live.add(self)

    def _start(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        task.add_done_callback(self._ended)
        self._tasks.append(task)

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, WebSocketClosedError):
                log.error("stream %s failed", self.request.path, exc_info=exc)
            self.close(1011)

    def on_close(self) -> None:
        self.front.live.discard(self)
        for task in self._tasks:
            task.cancel()
