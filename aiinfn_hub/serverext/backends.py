"""How the server extension reaches the jobs service: HTTP with a token, and its event stream.

In hub mode the service runs beside the hub and the token is the user's JupyterHub API token
(the user's server holds no Kubernetes credentials). In standalone mode the same service runs
in this process on a loopback port with a random token (see :mod:`.standalone`), so both
modes take the same code path through the service's own validation and errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..errors import AIInfnError, BadGateway, ClusterUnavailable, error_for_status

log = logging.getLogger(__name__)
OnEvent = Callable[[dict[str, Any]], None]


class Backend:
    """The jobs service for the server's user: ``call`` an operation, ``follow`` its events."""

    mode = "none"

    async def call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        """``(status, JSON body)`` of an operation; :class:`AIInfnError` if it cannot be asked."""
        raise NotImplementedError

    async def follow(self, on_event: OnEvent) -> None:
        """Deliver the service's job events to ``on_event`` until cancelled."""
        raise NotImplementedError


class ServiceBackend(Backend):
    """The jobs service's REST API and event stream at ``url``, with ``token``."""

    def __init__(self, url: str, token: str, mode: str = "hub", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.mode = mode
        self.timeout = timeout
        self.connected = asyncio.Event()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}", "Content-Type": "application/json"}

    def _who(self) -> str:
        return "ask your hub admin" if self.mode == "hub" else "restart your Jupyter server"

    def _unreachable(self, detail: Any) -> AIInfnError:
        return ClusterUnavailable(
            f"the jobs service at {self.url} cannot be reached ({detail}); try again in a "
            f"minute, and if it persists {self._who()}"
        )

    def _refused(self) -> dict[str, Any]:
        fix = (
            "restart your server from the hub's control panel; if that does not help, ask "
            "your hub admin"
            if self.mode == "hub"
            else "restart your Jupyter server"
        )
        return {
            "error": f"the jobs service did not accept this server's token: {fix}",
            "status": 403,
        }

    async def call(self, method, path, body=None, query=None):
        query = {k: v for k, v in (query or {}).items() if v is not None}
        url = f"{self.url}/{path.lstrip('/')}" + (f"?{urlencode(query)}" if query else "")
        payload = json.dumps(body) if body is not None else None
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = ""
        request = HTTPRequest(
            url,
            method=method,
            headers=self._headers(),
            body=payload,
            request_timeout=self.timeout,
            allow_nonstandard_methods=True,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as exc:
            if exc.response is None or exc.code == 599:
                raise self._unreachable(exc.message) from None
            if exc.code == 401:  # the server's token, not the user's Jupyter login
                return 403, self._refused()
            data = _json(exc.response.body, exc.code)
            if not isinstance(data, dict) or not isinstance(data.get("error"), str):
                raise BadGateway(
                    f"the jobs service answered {exc.code} without saying why; try again, and "
                    f"if it persists {self._who()}",
                ) from None
            return exc.code, data
        except OSError as exc:
            raise self._unreachable(exc.strerror or exc) from None
        return response.code, _json(response.body, response.code)

    async def follow(self, on_event: OnEvent) -> None:
        """Relay the service's server-sent events; reconnect with backoff when they drop.

        The service sends a comment every 15 s, so a read timeout finds a dead connection."""
        delay = 0.5
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    async with session.get(f"{self.url}/events", headers=self._headers()) as r:
                        if r.status != 200:
                            raise error_for_status(r.status, (await r.text())[:200])
                        self.connected.set()
                        delay = 0.5
                        buffer = b""
                        async for data in r.content.iter_any():
                            buffer += data.replace(b"\r\n", b"\n")
                            events, buffer = sse_data(buffer)
                            for event in events:
                                _deliver(on_event, event)
                except (aiohttp.ClientError, asyncio.TimeoutError, AIInfnError, OSError) as exc:
                    log.info("jobs event stream dropped (%s); reconnecting in %.1fs", exc, delay)
                self.connected.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)


def sse_data(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The data of each complete server-sent event in ``buffer``, and what remains."""
    events = []
    while b"\n\n" in buffer:
        block, buffer = buffer.split(b"\n\n", 1)
        data = [line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        if data:
            events.append(b"\n".join(data))
    return events, buffer


def _json(body: bytes | None, status: int) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise BadGateway(
            f"the jobs service answered {status} with something other than JSON"
        ) from None


def _deliver(on_event: OnEvent, data: bytes) -> None:
    try:
        event = json.loads(data)
    except ValueError:
        log.warning("ignoring a job event that is not JSON: %r", data[:200])
        return
    try:
        on_event(event)
    except Exception:
        log.exception("a job event could not be handled: %r", data[:200])
