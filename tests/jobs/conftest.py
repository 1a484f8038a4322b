"""Fixtures for the jobs service against the sandbox: a manager, and the HTTP API."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from kubernetes_asyncio import client
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from traitlets.config import Config

from aiinfn_hub.jobs import labels
from aiinfn_hub.jobs.auth import TokenAuthenticator
from aiinfn_hub.jobs.claims import HomeClaim, home_claim_manifest
from aiinfn_hub.jobs.handlers import routes
from aiinfn_hub.jobs.manager import JobsManager
from aiinfn_hub.kube.client import Kube, kube_client
from aiinfn_hub.sandbox.testing import wait_until

TOKENS = {"alice-token": "alice", "bob-token": "bob", "admin-token": "admin"}
#: Short fallback timeouts so triggers fire within a test.
FAST = {
    "leonardo": {"timeouts": {"admission": 2, "start": 2}},
    "tier1": {"timeouts": {"admission": 2, "start": 2}},
}


def fast_config(**overrides: Any) -> Config:
    config = Config()
    config.PlacementConfig.site_overrides = {**FAST, **overrides}
    return config


async def start_manager(kubeconfig: str, config: Config | None = None) -> JobsManager:
    api = await kube_client(kubeconfig)
    manager = JobsManager(Kube(api, "default"), config=config or fast_config())
    await manager.start()
    return manager


async def give_home(kubeconfig: Any, user: str = "alice", claim: str | None = None) -> str:
    """``user``'s home claim as the hub's spawner makes it at a first server start (or a
    shared ``claim`` by that name); its name."""
    api = await kube_client(str(kubeconfig))
    try:
        name = claim or HomeClaim("default").name_for(user)
        body = home_claim_manifest(name, user)
        if claim:
            body["metadata"].pop("annotations")
        await Kube(api, "default").create("pvc", body)
        return name
    finally:
        await api.close()


#: A job that runs for minutes at CNAF Tier-1 and at once elsewhere.
SLOW_AT_TIER1 = {
    "command": [
        "python",
        "-c",
        "import os, time; time.sleep(300 if os.environ['AIINFN_SITE'] == 'tier1' else 0); "
        "print('done at', os.environ['AIINFN_SITE'])",
    ]
}


async def evict_running_pod(kubeconfig: str, namespace: str, job_id: str) -> str:
    """Evict the job's running pod as ``kubectl drain`` does (the eviction API, as an
    admin); the pod's name."""
    api = await kube_client(kubeconfig)
    try:
        core = client.CoreV1Api(api)
        found = await core.list_namespaced_pod(
            namespace, label_selector=f"{labels.JOB_ID}={job_id}"
        )
        (pod,) = [p for p in found.items if p.status.phase == "Running"]
        name = pod.metadata.name
        metadata = {"name": name, "namespace": namespace}
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": metadata}
        await core.create_namespaced_pod_eviction(name, namespace, body)
        return name
    finally:
        await api.close()


def fell_back_from_a_drained_node(done: dict[str, Any]) -> None:
    """``done`` (a job evicted while it ran at CNAF Tier-1) fell back, blamed on the site,
    in words that do not say the user's code failed."""
    assert done["state"] == "succeeded", done
    first = done["attempts"][0]
    assert (first["site"], first["outcome"], first["blame"]) == ("tier1", "fell_back", "site")
    assert first["reason"] == "Kubernetes stopped it because its node was drained"
    assert [a["site"] for a in done["attempts"]] == ["tier1", "local"]


async def stop_manager(manager: JobsManager) -> None:
    await manager.stop()
    await manager.kube.api_client.close()


@pytest.fixture
async def manager(sandbox) -> AsyncIterator[JobsManager]:
    found = await start_manager(str(sandbox.kubeconfig))
    yield found
    await stop_manager(found)


async def wait_for(
    manager: JobsManager,
    job_id: str,
    states: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
    timeout: float = 60.0,
) -> dict[str, Any]:
    """The job's view once it reaches one of ``states`` (in-memory: no API requests)."""

    def reached() -> dict[str, Any] | None:
        view = manager.jobs[job_id].view
        return view if view and view["state"] in states else None

    try:
        return await wait_until(reached, timeout=timeout, message=f"job {job_id} in {states}")
    except TimeoutError:
        view = manager.jobs[job_id].view
        raise AssertionError(f"job {job_id} stuck: {json.dumps(view, indent=1)}") from None


class Api:
    """The jobs REST API of a manager, served in this process, called as a given user."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = AsyncHTTPClient()

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = "alice-token",
        raw: bytes | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        headers = {"Authorization": f"token {token}"} if token else {}
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if payload is None and method in ("POST", "PUT"):
            payload = b""
        request = HTTPRequest(
            self.url + path, method=method, headers=headers, body=payload,
            allow_nonstandard_methods=True,
        )  # fmt: skip
        try:
            response = await self.client.fetch(request)
        except HTTPClientError as exc:
            response = exc.response
        text = response.body or b""
        kind = response.headers.get("Content-Type", "")
        return response.code, json.loads(text) if "json" in kind and text else text.decode()


@contextlib.contextmanager
def serve(manager: JobsManager, tokens: dict[str, str], admins: set[str]) -> Iterator[Api]:
    """The REST API of ``manager`` in this process, for fixed ``tokens`` (user names)."""
    authenticator = TokenAuthenticator(tokens=tokens, admin_users=admins)
    app = web.Application(
        routes("/services/aiinfn-jobs/"), jobs_manager=manager, authenticator=authenticator
    )
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    try:
        yield Api(f"http://127.0.0.1:{port}/services/aiinfn-jobs/")
    finally:
        server.stop()


@pytest.fixture
async def api(manager) -> AsyncIterator[Api]:
    with serve(manager, TOKENS, {"admin"}) as served:
        yield served
