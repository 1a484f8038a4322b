"""The jobs service as its own process (``python -m aiinfn_hub.jobs``), for tests that kill
it, restart it or call it from another client library."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import FAST, TOKENS

PREFIX = "/services/aiinfn-jobs/"


def standalone_config(tmp: Path, **sections: dict[str, Any]) -> Path:
    """A JSON config: fixed tokens (alice, bob, admin), the tests' fast site timeouts."""
    config: dict[str, dict[str, Any]] = {
        "JobsService": {
            "authenticator_class": "aiinfn_hub.jobs.auth.TokenAuthenticator",
            "base_url": PREFIX,
        },
        "TokenAuthenticator": {"tokens": TOKENS, "admin_users": ["admin"]},
        "PlacementConfig": {"site_overrides": FAST},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    path = tmp / "jobs_config.json"
    path.write_text(json.dumps(config))
    return path


class ServiceProcess:
    """``python -m aiinfn_hub.jobs`` against a sandbox; ``kill()`` is SIGKILL."""

    def __init__(self, kubeconfig: Path, tmp: Path, **sections: dict[str, Any]) -> None:
        self.kubeconfig = kubeconfig
        self.config = standalone_config(tmp, **sections)
        self.log = tmp / "jobs-service.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{PREFIX}"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> ServiceProcess:
        """Launch, and wait until the API answers."""
        await self.launch()
        await wait_until(self._ready, timeout=60, interval=0.1, message="the jobs service")
        return self

    async def launch(self) -> ServiceProcess:
        """Start the process, without waiting for anything."""
        command = [sys.executable, "-m", "aiinfn_hub.jobs", "--port", str(self.port)]
        command += ["--ip", "127.0.0.1", "--kubeconfig", str(self.kubeconfig)]
        command += ["--config", str(self.config)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        return self

    async def answers(self, url: str) -> bool:
        """Whether anything answers at ``url`` (RuntimeError if the process has exited)."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"the jobs service exited:\n{self.log.read_text()[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            await call("GET", url, token=None)
            return True
        return False

    async def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the jobs service exited:\n{self.log.read_text()[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError, OSError):
            status, _ = await call("GET", self.url + "openapi.json")
            return status == 200
        return False

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as when a node dies."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None


async def call(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = "alice-token",
    session: aiohttp.ClientSession | None = None,
) -> tuple[int, Any]:
    """One request; returns the status and the JSON (or text) answer."""
    headers = {"Authorization": f"token {token}"} if token else {}
    owned = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            if "json" in response.headers.get("Content-Type", "") and text:
                return response.status, json.loads(text)
            return response.status, text
    finally:
        if owned:
            await session.close()


class EventStream:
    """A client of GET /events that collects the jobs it hears about."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.events: list[dict] = []
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.connected.wait(), 15)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _read(self) -> None:
        headers = {"Authorization": f"token {self.token}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url + "events", headers=headers) as response,
        ):
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    if block.startswith(b": connected"):
                        self.connected.set()
                    elif block.startswith(b"data: "):
                        self.events.append(json.loads(block[6:]))

    def states(self, job_id: str) -> list[str]:
        return [e["job"]["state"] for e in self.events if e["job"]["id"] == job_id]
