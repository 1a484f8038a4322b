"""Fixtures for the server extension: a real Jupyter server (pytest-jupyter) with the
extension in standalone mode on the session's sandbox, and helpers to call its API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import nbformat
import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403  (the jp_* fixtures)
from pytest_jupyter.jupyter_server import (
    pytest_pycollect_makeitem,
    pytest_pyfunc_call,
)

from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.sandbox.testing import wait_until
from aiinfn_hub.serverext import AiinfnHubExtension
from aiinfn_hub.serverext.events import SCHEMA_ID

# pytest-jupyter runs coroutine tests on its own loop; here pytest-asyncio (asyncio_mode=auto)
# runs them, and the server lives on that same loop (see jp_asyncio_loop below).
del pytest_pycollect_makeitem, pytest_pyfunc_call

EXTENSION = "aiinfn_hub.serverext"
USER = "alice"
#: Short fallback timeouts so the fallback tests end quickly.
FAST_SITES = {
    "leonardo": {"timeouts": {"admission": 2, "start": 2}},
    "tier1": {"timeouts": {"admission": 2, "start": 2}},
}


@pytest.fixture
async def jp_asyncio_loop():
    """The test's own loop (pytest-asyncio's), so the server and the test share it."""
    return asyncio.get_running_loop()


def extension_config(**extension: Any) -> dict[str, Any]:
    """Server config: the extension on, unauthenticated access off, ``extension`` traits."""
    return {
        "ServerApp": {
            # terminals (which pytest-jupyter adds) have a handler without @authenticated
            "jpserver_extensions": {EXTENSION: True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "AiinfnHubExtension": {"standalone_user": USER, **extension},
        "PlacementConfig": {"site_overrides": FAST_SITES},
    }


@pytest.fixture
def jp_server_config(sandbox):
    """Standalone mode on the session's sandbox (emptied for each test)."""
    return extension_config(mode="standalone", kubeconfig=str(sandbox.kubeconfig))


def extension_of(serverapp: Any) -> AiinfnHubExtension:
    [app] = serverapp.extension_manager.extension_apps[EXTENSION]
    return app


@pytest.fixture
async def ext(jp_serverapp) -> AiinfnHubExtension:
    """The extension of the running server, its jobs backend started."""
    app = extension_of(jp_serverapp)
    await app._start_jupyter_server_extension(jp_serverapp)
    assert app.backend is not None, "the backend did not start"
    await wait_until(app.backend.connected.is_set, 30, message="the event stream")
    return app


@pytest.fixture
def manager(ext) -> JobsManager:
    """The jobs service's manager that standalone mode hosts in-process."""
    return ext.standalone.manager


class Api:
    """The extension's REST API through jp_fetch: ``(status, JSON)``, never raising."""

    def __init__(self, fetch: Callable) -> None:
        self.fetch = fetch

    async def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        payload = raw if raw is not None else (None if body is None else json.dumps(body))
        if payload is None and method in ("POST", "PUT"):
            payload = b""
        response = await self.fetch(
            *["aiinfn-hub", "api", *path.split("/")],
            method=method,
            body=payload,
            params=params,
            headers=headers,
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        text = response.body or b""
        return response.code, json.loads(text) if text else None

    async def wait(self, job_id: str, timeout: float = 90.0, states=None) -> dict[str, Any]:
        """The job once it is in one of ``states`` (default: ended)."""
        states = states or ("succeeded", "failed", "cancelled")

        async def probe():
            status, job = await self("GET", f"jobs/{job_id}")
            assert status == 200, job
            return job if job["state"] in states else None

        return await wait_until(probe, timeout, 0.2, f"job {job_id} in {states}")


@pytest.fixture
def api(jp_fetch, ext) -> Api:
    return Api(jp_fetch)


class Bus:
    """Events of the job schema on the server's event bus, as they arrive."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def listener(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        self.events.append(data)

    def of(self, job_id: str, kind: str = "job") -> list[dict[str, Any]]:
        return [e for e in self.events if e["job_id"] == job_id and e["type"] == kind]


@pytest.fixture
def bus(jp_serverapp) -> Bus:
    found = Bus()
    jp_serverapp.event_logger.add_listener(schema_id=SCHEMA_ID, listener=found.listener)
    return found


def write_notebook(path, *sources: str, tags: dict[int, list[str]] | None = None) -> None:
    """A notebook of code cells at ``path`` (``tags``: cell index -> tags)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for index, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        if tags and index in tags:
            cell.metadata["tags"] = tags[index]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
