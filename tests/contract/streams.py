"""Clients of exec and port-forward for the tests: kubectl as a user runs it, and a raw
WebSocket (aiohttp, through kubernetes_asyncio's WsApiClient) to see the frames as sent."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.stream import WsApiClient
from kubernetes_asyncio.stream.ws_client import get_websocket_url

from tests.sandbox.util import kubectl_binary

PYTHON_IMAGE = "python:3.12-slim"


def kubectl(
    kubeconfig: str | Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """``kubectl ARGS`` as a user runs it; the result whatever its exit code."""
    environ = dict(os.environ, KUBECONFIG=str(kubeconfig), **(env or {}))
    return subprocess.run(
        [kubectl_binary(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
    )


class PortForward:
    """``kubectl port-forward`` running in the background, on the local port it chose."""

    def __init__(self, kubeconfig: str | Path, namespace: str, pod: str, remote: int) -> None:
        environ = dict(os.environ, KUBECONFIG=str(kubeconfig))
        self.remote = remote
        self.process = subprocess.Popen(
            [kubectl_binary(), "port-forward", "-n", namespace, f"pod/{pod}", f":{remote}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        self.output: list[str] = []
        self.errors: list[str] = []
        self._ready = threading.Event()
        self.port = 0
        self._readers = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_out(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            prefix = "Forwarding from 127.0.0.1:"
            if line.startswith(prefix) and not self.port:
                self.port = int(line[len(prefix) :].split()[0])
                self._ready.set()
        self._ready.set()

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line)

    def wait_ready(self, timeout: float = 60) -> int:
        assert self._ready.wait(timeout), f"kubectl port-forward did not start: {self.errors}"
        assert self.port, f"kubectl port-forward failed: {''.join(self.errors)}"
        return self.port

    def wait_exit(self, timeout: float = 60) -> int:
        """The exit code, once everything kubectl printed has been read."""
        code = self.process.wait(timeout)
        self._drain(timeout)
        return code

    def _drain(self, timeout: float) -> None:
        # the process may end before its readers have taken in its last lines
        for reader in self._readers:
            reader.join(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._drain(10)


@contextlib.contextmanager
def port_forward(
    kubeconfig: str | Path, namespace: str, pod: str, remote: int
) -> Iterator[PortForward]:
    forwarder = PortForward(kubeconfig, namespace, pod, remote)
    try:
        yield forwarder
    finally:
        forwarder.stop()


@contextlib.asynccontextmanager
async def websocket(
    kubeconfig: str | Path,
    path: str,
    query: list[tuple[str, str]],
    protocols: list[str],
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A WebSocket to ``path`` of the cluster, offering ``protocols``."""
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    api = WsApiClient(configuration=configuration)
    try:
        headers: dict[str, Any] = {}
        await api.update_params_for_auth(headers, [], ["BearerToken"])
        url = get_websocket_url(configuration.host + path) + "?" + urlencode(query)
        session = api.rest_client.pool_manager  # aiohttp, with the kubeconfig's TLS
        async with session.ws_connect(url, protocols=protocols, headers=headers) as ws:
            yield ws
    finally:
        await api.close()


async def frames(ws: aiohttp.ClientWebSocketResponse) -> list[bytes | str]:
    """Every data message until the server closes the socket."""
    received: list[bytes | str] = []
    async for message in ws:
        if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            received.append(message.data)
    return received


def fetch(url: str) -> str:
    """The body of a GET of ``url``."""
    with urlopen(url, timeout=30) as answer:
        return answer.read().decode()


def http_server_pod(name: str, port: int) -> dict[str, Any]:
    """A pod serving HTTP on ``port`` at its own address, ``hello.txt`` from an emptyDir."""
    script = (
        "import http.server, os, pathlib, sys\n"
        "root = pathlib.Path(sys.argv[1])\n"
        "(root / 'hello.txt').write_text('hello from ' + os.environ['HOSTNAME'] + '\\n')\n"
        "os.chdir(root)\n"
        f"http.server.test(http.server.SimpleHTTPRequestHandler, port={port},"
        " bind=os.environ['POD_IP'])\n"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 2,
            "volumes": [{"name": "site", "emptyDir": {}}],
            "containers": [
                {
                    "name": "main",
                    "image": PYTHON_IMAGE,
                    "command": ["python3", "-c", script, "/srv/site"],
                    "env": [
                        {
                            "name": "POD_IP",
                            "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                        }
                    ],
                    "ports": [{"containerPort": port}],
                    "volumeMounts": [{"name": "site", "mountPath": "/srv/site"}],
                }
            ],
        },
    }
