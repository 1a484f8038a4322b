"""Where the server extension sends job operations.

``HubBackend`` forwards to the hub's jobs service with the user's JupyterHub token (the
user's server holds no Kubernetes credentials). ``StandaloneBackend`` hosts the same jobs
service in-process on a sandbox cluster, for a laptop, Binder or a classroom.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..jobs.errors import ClusterUnavailable, JobsError

log = logging.getLogger(__name__)
OnEvent = Callable[[dict[str, Any]], None]


class Backend:
    """The operations the panel, the CLI and the Python API need, for one user."""

    mode = "none"

    async def start(self, on_event: OnEvent) -> None: ...

    async def stop(self) -> None: ...

    async def call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        raise NotImplementedError


class HubBackend(Backend):
    """HTTP to the jobs service, authenticated as the server's user with its hub token."""

    mode = "hub"

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._events: asyncio.Task | None = None

    async def call(self, method, path, body=None, query=None):
        query = {k: v for k, v in (query or {}).items() if v is not None}
        url = f"{self.url}/{path.lstrip('/')}" + (f"?{urlencode(query)}" if query else "")
        request = HTTPRequest(
            url,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            body=json.dumps(body) if body is not None else (b"" if method == "POST" else None),
            request_timeout=self.timeout,
            allow_nonstandard_methods=True,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as exc:
            if exc.response is None:
                raise ClusterUnavailable(
                    f"the jobs service at {self.url} does not answer ({exc.message}); "
                    "ask your hub admin"
                ) from None
            try:
                return exc.code, json.loads(exc.response.body)
            except ValueError:
                raise JobsError(
                    502, f"the jobs service answered {exc.code} without a JSON body"
                ) from None
        except OSError as exc:
            raise ClusterUnavailable(
                f"the jobs service at {self.url} cannot be reached ({exc}); ask your hub admin"
            ) from None
        return response.code, json.loads(response.body or b"null")

    async def start(self, on_event: OnEvent) -> None:
        self._events = asyncio.create_task(self._follow(on_event))

    async def stop(self) -> None:
        if self._events:
            self._events.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._events

    async def _follow(self, on_event: OnEvent) -> None:
        """Relay the service's event stream; reconnect with backoff when it drops."""
        delay = 1.0
        while True:
            buffer = b""

            def chunk(data: bytes) -> None:
                nonlocal buffer
                buffer += data
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    for line in block.split(b"\n"):
                        if line.startswith(b"data: "):
                            on_event(json.loads(line[6:]))

            request = HTTPRequest(
                f"{self.url}/events",
                headers={"Authorization": f"token {self.token}"},
                streaming_callback=chunk,
                request_timeout=0,
            )
            try:
                await AsyncHTTPClient().fetch(request)
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("jobs event stream dropped (%s); reconnecting in %.0fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60)


class LocalBackend(Backend):
    """The jobs service in this process: calls its manager directly, as one user."""

    mode = "standalone"

    def __init__(self, user: str, starter: Callable[[], Awaitable[Any]]) -> None:
        self.user = user
        self.starter = starter
        self.manager = None
        self._stop: Callable[[], Awaitable[None]] | None = None
        self._relay: asyncio.Task | None = None

    async def start(self, on_event: OnEvent) -> None:
        self.manager, self._stop = await self.starter()
        self._relay = asyncio.create_task(self._follow(on_event))

    async def _follow(self, on_event: OnEvent) -> None:
        async with self.manager.subscribe(None) as queue:
            while (event := await queue.get()) is not None:
                on_event(event)

    async def stop(self) -> None:
        if self._relay:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._relay
        if self._stop:
            await self._stop()

    async def call(self, method, path, body=None, query=None):
        manager = self.manager
        if manager is None:
            raise JobsError(503, "the standalone jobs service is still starting; try again")
        query = query or {}
        parts = [p for p in path.strip("/").split("/") if p]
        user, admin = self.user, True
        if parts == ["jobs"] and method == "GET":
            return 200, manager.list(
                user,
                admin,
                owner=query.get("user"),
                state=query.get("state"),
                site=query.get("site"),
                limit=int(query.get("limit") or 100),
                offset=int(query.get("offset") or 0),
            )
        if parts == ["jobs"] and method == "POST":
            view, new = await manager.submit(user, body)
            return (201 if new else 200), view
        if parts == ["plan"]:
            return 200, manager.plan(body)
        if parts == ["sites"]:
            return 200, {"sites": manager.sites()}
        if len(parts) == 2 and parts[0] == "jobs":
            if method == "DELETE":
                return 200, await manager.cancel(user, admin, parts[1])
            return 200, manager.get(user, admin, parts[1])
        if len(parts) == 3 and parts[2] == "log":
            index = query.get("completion_index")
            return 200, await manager.logs(
                user,
                admin,
                parts[1],
                int(query.get("offset") or 0),
                int(index) if index not in (None, "") else None,
            )
        if len(parts) == 3 and parts[2] == "rerun":
            return 201, await manager.rerun(user, admin, parts[1], (body or {}).get("site"))
        raise JobsError(404, f"no such operation {method} {path}")


def hub_environment() -> dict[str, str] | None:
    """The hub settings of this server, if it was spawned by JupyterHub with a jobs service."""
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    url = os.environ.get("AIINFN_JOBS_URL")
    if token and url:
        return {"token": token, "url": url}
    return None
