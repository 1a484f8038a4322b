"""Fidelity: an unmodified KubeSpawner starts, polls and stops a server on the sandbox.

The spawner is built the way KubeSpawner's own tests build it (a mock hub and user, no
JupyterHub process). Its pod runs a small HTTP server that binds ``JUPYTERHUB_SERVICE_URL``
as a single-user server does; the sandbox's kubelet runs it as a local process on the pod's
own loopback address, and the test reaches it over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from urllib.error import URLError
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from jupyterhub.objects import Hub, Server
from kubespawner import KubeSpawner
from traitlets.config import Config

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.testing import wait_until

from .util import kubectl

SINGLEUSER = """
import http.server, json, os, signal, sys
from urllib.parse import urlsplit
url = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
prefix = url.path
class Server(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith(prefix):
            self.send_error(404)
            return
        body = json.dumps({
            "user": os.environ["JUPYTERHUB_USER"],
            "prefix": prefix,
            "path": self.path,
            "token": bool(os.environ.get("JUPYTERHUB_API_TOKEN")),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        print(self.address_string(), *args, file=sys.stderr, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("single-user server on", url.hostname, url.port, flush=True)
http.server.HTTPServer((url.hostname, url.port), Server).serve_forever()
"""


class MockUser:
    """What KubeSpawner reads of a JupyterHub user."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.escaped_name = name
        self.id = 7
        self.url = f"/user/{name}/"
        self.spawners: dict = {}


@pytest.fixture
async def spawner(sandbox: SandboxProcess) -> AsyncIterator[KubeSpawner]:
    config = Config()
    config.KubeSpawner.namespace = "default"
    config.KubeSpawner.image = "jupyterhub/singleuser:5"
    config.KubeSpawner.cmd = [sys.executable, "-c", SINGLEUSER]
    config.KubeSpawner.start_timeout = 60
    config.KubeSpawner.k8s_api_host = sandbox.url  # KubeSpawner caches its client config
    user = MockUser("alice")
    spawner = KubeSpawner(
        hub=Hub(),
        user=user,
        config=config,
        api_token="alice-api-token",
        oauth_client_id="jupyterhub-user-alice",
        _mock=True,
    )
    spawner.server = Server(base_url="/user/alice/")
    try:
        yield spawner
    finally:
        await KubeSpawner._stop_all_reflectors()


async def start(spawner: KubeSpawner) -> str:
    """``spawner.start()``, and what JupyterHub then does with the URL it returns."""
    url = await spawner.start()
    parsed = urlsplit(url)
    spawner.server.ip, spawner.server.port = parsed.hostname, parsed.port
    return url


def get(url: str) -> dict:
    with urlopen(url, timeout=10) as response:
        return json.loads(response.read())


async def test_kubespawner_starts_polls_and_stops_a_server(
    spawner: KubeSpawner, sandbox: SandboxProcess
) -> None:
    assert type(spawner) is KubeSpawner  # the real class, not a subclass
    url = await start(spawner)
    # KubeSpawner reports the pod's address: the sandbox's own loopback address for this pod
    assert url.startswith("http://127.") and url.endswith(":8888")
    assert not url.startswith("http://127.0.0.1:")
    assert await spawner.poll() is None

    # as JupyterHub does next: wait for the server to answer
    async def answered() -> dict | None:
        try:
            return await asyncio.to_thread(get, f"{url}/user/alice/api/status")
        except (URLError, OSError):
            return None

    answer = await wait_until(answered, timeout=30, message="the server to answer")
    assert answer == {
        "user": "alice",
        "prefix": "/user/alice/",
        "path": "/user/alice/api/status",
        "token": True,
    }

    listed = kubectl(sandbox, "get", "pods", "-l", "component=singleuser-server", "-o", "wide")
    _header, row = listed.strip().splitlines()
    cells = row.split()
    assert cells[0] == spawner.pod_name == "jupyter-alice"
    assert cells[1:3] == ["1/1", "Running"]
    assert url == f"http://{cells[5]}:8888"

    await spawner.stop()
    assert await spawner.poll() == 1  # the pod is gone

    def unreachable() -> bool:
        try:
            get(f"{url}/user/alice/")
            return False
        except (URLError, OSError):
            return True

    await wait_until(lambda: asyncio.to_thread(unreachable), message="the server to stop")
    assert sandbox.info()["running_processes"] == 0


async def test_kubespawner_sees_a_server_that_exits(
    spawner: KubeSpawner, sandbox: SandboxProcess
) -> None:
    """KubeSpawner's pods restart on failure; a server that ends cleanly is seen as exited."""
    spawner.cmd = [sys.executable, "-c", "import time; time.sleep(1)"]
    spawner.delete_stopped_pods = False
    await start(spawner)

    async def exited():
        code = await spawner.poll()
        return (code,) if code is not None else None

    assert await wait_until(exited, timeout=30, message="the server to exit") == (0,)
    await spawner.stop(now=True)
    assert await spawner.poll() == 1
