"""A real hub on the sandbox for the tests of this package.

JupyterHub, configurable-http-proxy, AIInfnSpawner and the jobs service (a managed service),
configured from helm-values/values.yaml by ``aiinfn_hub.hubconfig`` (tests/helm checks that
only the sandbox's addresses and files differ), started once per test module.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiinfn_hub.hubconfig import DEMO_PASSWORD, SandboxHub
from aiinfn_hub.hubprocess import HubProcess
from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.process import free_port
from aiinfn_hub.sandbox.testing import wait_until

USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
#: Users whose names are no DNS label (their servers' objects get KubeSpawner's safe slugs).
REAL_USERS = ("mario.rossi@infn.it", "anna_bianchi")
#: Spawns answer 202 at once and leave the rest to the progress API, as a browser sees it.
SLOW_SPAWN_TIMEOUT = 0


class HubClient:
    """Drive a running hub like a browser and like an admin script: form, REST API, proxy."""

    def __init__(
        self,
        process: HubProcess,
        sandbox: SandboxProcess | None,
        token: str,
        namespace: str = "default",
    ) -> None:
        self.process = process
        self.sandbox = sandbox
        self.token = token
        self.url = process.url
        self.namespace = namespace

    # -- REST API with the admin service's token ------------------------------------------

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=60, **kwargs)

    async def api(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"token {token or self.token}"}
        async with self.client() as http:
            content = None if body is None else json.dumps(body)
            return await http.request(method, f"/hub/api{path}", content=content, headers=headers)

    async def user(self, name: str) -> dict[str, Any]:
        response = await self.api("GET", f"/users/{name}")
        response.raise_for_status()
        return response.json()

    async def server(self, name: str) -> dict[str, Any] | None:
        return (await self.user(name))["servers"].get("")

    async def spawn(self, name: str, options: Any) -> httpx.Response:
        return await self.api("POST", f"/users/{name}/server", options)

    async def progress(self, name: str, timeout: float = 150) -> list[dict[str, Any]]:
        """Every progress event of the pending spawn, up to ready or failed."""
        events: list[dict[str, Any]] = []
        headers = {"Authorization": f"token {self.token}"}

        async def read() -> None:
            async with self.client() as http:
                path = f"/hub/api/users/{name}/server/progress"
                async with http.stream("GET", path, headers=headers) as response:
                    assert response.status_code == 200, await response.aread()
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            events.append(json.loads(line[5:]))
                            if events[-1].get("ready") or events[-1].get("failed"):
                                return

        try:
            await asyncio.wait_for(read(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"the spawn did not end in {timeout}s: {events}") from None
        return events

    async def spawn_ready(self, name: str, options: Any) -> list[str]:
        """Spawn ``name``'s server with ``options`` and follow it until it is ready; the
        progress page's messages."""
        response = await self.spawn(name, options)
        assert response.status_code == 202, response.text
        events = await self.progress(name)
        assert events[-1].get("ready"), events[-1]
        return [e.get("message", "") for e in events]

    async def wait_ready(self, name: str, timeout: float = 150) -> dict[str, Any]:
        async def ready() -> dict[str, Any] | None:
            server = await self.server(name)
            return server if server and server["ready"] else None

        return await wait_until(ready, timeout, 0.5, f"{name}'s server to be ready")

    async def stop(self, name: str) -> None:
        response = await self.api("DELETE", f"/users/{name}/server")
        assert response.status_code in (202, 204, 400), response.text

        async def stopped() -> bool:
            server = await self.server(name)
            return server is None or server.get("stopped", False)

        await wait_until(stopped, 90, 0.5, f"{name}'s server to stop")
        await wait_until(lambda: not self.user_pods(name), 60, 0.2, f"{name}'s pod to go")

    async def user_token(self, name: str) -> str:
        response = await self.api("POST", f"/users/{name}/tokens", {"note": "hub tests"})
        assert response.status_code == 201, response.text
        return response.json()["token"]

    async def metrics(self) -> dict[tuple[str, str], float]:
        """``aiinfn_spawner_kubernetes_requests_total`` by (activity, method), from /hub/metrics."""
        async with self.client() as http:
            response = await http.get(
                "/hub/metrics", headers={"Authorization": f"token {self.token}"}
            )
        response.raise_for_status()
        found: dict[tuple[str, str], float] = {}
        pattern = re.compile(
            r'^aiinfn_spawner_kubernetes_requests_total\{activity="([^"]*)",method="([^"]*)"\}'
            r" ([0-9.e+]+)$",
            re.M,
        )
        for activity, method, value in pattern.findall(response.text):
            found[(activity, method)] = float(value)
        return found

    # -- a browser: log in, the spawn form, the user's server through the proxy -------------

    @asynccontextmanager
    async def login(self, name: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client logged in as ``name`` through the hub's login form (cookies kept)."""
        async with self.client(follow_redirects=True) as http:
            page = await http.get("/hub/login")
            response = await http.post(
                "/hub/login",
                data={"username": name, "password": DEMO_PASSWORD, "_xsrf": _xsrf(page)},
            )
            assert response.status_code == 200, response.status_code
            assert "/hub/login" not in str(response.url), response.url
            yield http

    # -- the cluster, as its admin sees it -------------------------------------------------

    def pod(self, name: str) -> dict[str, Any] | None:
        return self.pods().get(f"jupyter-{name}")

    def pods(self) -> dict[str, dict[str, Any]]:
        data = self.cluster_get(f"/api/v1/namespaces/{self.namespace}/pods")
        return {p["metadata"]["name"]: p for p in data["items"]}

    def user_pods(self, user: str) -> list[dict[str, Any]]:
        """The user's server pods, found by the username annotation KubeSpawner writes."""
        return [
            p
            for p in self.pods().values()
            if (p["metadata"].get("annotations") or {}).get("hub.jupyter.org/username") == user
            and (p["metadata"].get("labels") or {}).get("component") == "singleuser-server"
        ]

    def user_pod(self, user: str) -> dict[str, Any]:
        (pod,) = self.user_pods(user)
        return pod

    def cluster_get(self, path: str) -> dict[str, Any]:
        """GET ``path`` as the cluster's admin (the sandbox here; the real stack overrides)."""
        from urllib.request import Request, urlopen

        assert self.sandbox is not None

        request = Request(self.sandbox.url + path)
        request.add_header("Authorization", f"Bearer {self.sandbox.token}")
        with urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def gpu_pod(name: str, node: str, gpus: int) -> dict[str, Any]:
    """A pod bound to ``node`` that holds ``gpus`` of its GPUs (someone else's work)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "work",
                    "image": "busy",
                    "command": ["python", "-c", "import time; time.sleep(600)"],
                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                }
            ],
        },
    }


def _xsrf(response: httpx.Response) -> str:
    match = re.search(r'name="_xsrf" value="([^"]+)"', response.text)
    assert match, "no _xsrf field in the login page"
    return match.group(1)


def spawn_form_profiles(html: str) -> dict[str, tuple[str, str]]:
    """slug -> (display name, description) of the spawn form's profiles."""
    found = {}
    pattern = re.compile(r'id="profile-item-([^"]+)".*?<h3>([^<]*)</h3>(?:<p>([^<]*)</p>)?', re.S)
    for slug, name, description in pattern.findall(html):
        found[slug] = (name, description)
    return found


@contextmanager
def started_hub(
    kubeconfig: Path, state_dir: Path, namespace: str = "default", **spawner: Any
) -> Iterator[tuple[HubProcess, str]]:
    """A hub on the cluster of ``kubeconfig`` with the values' configuration (plus scenario
    ``spawner`` keys), and its admin service's token; stopped at the end."""
    token = secrets.token_hex(24)
    process = HubProcess(
        SandboxHub(
            kubeconfig=kubeconfig,
            state_dir=state_dir,
            port=free_port(),
            hub_port=free_port(),
            proxy_api_port=free_port(),
            jobs_port=free_port(),
            namespace=namespace,
            users=USERS + REAL_USERS,
            api_token=token,
            slow_spawn_timeout=SLOW_SPAWN_TIMEOUT,
            spawner=spawner,
        )
    )
    try:
        process.start()
        yield process, token
    finally:
        process.stop()


@contextmanager
def running_hub(sandbox: SandboxProcess, state_dir: Path, **spawner: Any) -> Iterator[HubClient]:
    """A hub on ``sandbox`` with the values' configuration (plus scenario ``spawner`` keys)."""
    with started_hub(sandbox.kubeconfig, state_dir, **spawner) as (process, token):
        yield HubClient(process, sandbox, token)


@pytest.fixture(scope="module")
def hub(sandbox_process: SandboxProcess, tmp_path_factory) -> Iterator[HubClient]:
    """The values' hub (interactive offloading off, as in production) on the shared sandbox."""
    sandbox_process.reset()
    with running_hub(sandbox_process, tmp_path_factory.mktemp("hub")) as client:
        yield client
    sandbox_process.reset()
