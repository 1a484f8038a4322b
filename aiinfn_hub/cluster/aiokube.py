"""An asyncio client of the real API server for the node agents: JSON requests and a
list-then-watch stream, as one identity with a client certificate.

The product talks to Kubernetes through ``kubernetes_asyncio``; the node agent is
infrastructure (it plays the kubelet) and needs only these few raw calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger("aiinfn_hub.cluster.aiokube")
MERGE_PATCH = "application/merge-patch+json"


class KubeRefused(Exception):
    """The API server answered an error (``status``), or did not answer (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class AsyncKube:
    """Requests to ``server`` with the client certificate ``cert``/``key``."""

    def __init__(self, server: str, ca_file: Path, cert: Path, key: Path, *, agent: str) -> None:
        self.server = server.rstrip("/")
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.context.load_cert_chain(str(cert), str(key))
        self.agent = agent
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.context),
                headers={"User-Agent": self.agent, "Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        try:
            async with self.session.request(
                method,
                self.server + path,
                params=dict(query or {}),
                data=data,
                headers={"Content-Type": content_type},
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as answer:
                raw = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise KubeRefused(0, str(exc) or type(exc).__name__) from None
        if status >= 300:
            try:
                message = json.loads(raw).get("message", "")
            except ValueError:
                message = raw[:200].decode(errors="replace")
            raise KubeRefused(status, message)
        return json.loads(raw) if raw else None

    async def list_and_watch(
        self, path: str, query: Mapping[str, str] | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """``("SYNC", list)`` first, then ``(type, object)`` for each change; relists after a
        410 or a failure, reporting the fresh list as another SYNC."""
        version = ""
        delay = 0.2
        while True:
            try:
                if not version:
                    listed = await self.request("GET", path, query=query)
                    version = listed["metadata"]["resourceVersion"]
                    yield "SYNC", listed
                params = {
                    **(query or {}),
                    "watch": "1",
                    "resourceVersion": version,
                    "allowWatchBookmarks": "true",
                    "timeoutSeconds": "300",
                }
                async with self.session.get(
                    self.server + path, params=params, timeout=aiohttp.ClientTimeout(total=330)
                ) as stream:
                    if stream.status == 410:
                        version = ""
                        continue
                    if stream.status >= 300:
                        raise KubeRefused(stream.status, (await stream.read())[:200].decode())
                    async for line in stream.content:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            version = "" if obj.get("code") == 410 else version
                            break
                        version = (obj.get("metadata") or {}).get("resourceVersion") or version
                        if event.get("type") != "BOOKMARK":
                            yield event["type"], obj
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except (
                KubeRefused,
                aiohttp.ClientError,
                asyncio.TimeoutError,
                OSError,
                ValueError,
            ) as exc:
                log.info("watch %s: %s; again in %.1f s", path, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                if isinstance(exc, KubeRefused) and exc.status == 410:
                    version = ""
