"""exec and port-forward on the sandbox where it differs from a cluster of its own making:
interLink's virtual nodes refuse them, SPDY gets a refusal in words, the answers before an
upgrade, the audit trail, and an exec'd command ending with its container.

(What every cluster does alike is in tests/contract/test_streams.py.)
"""

from __future__ import annotations

import asyncio
import json
from urllib.error import HTTPError
from urllib.request import urlopen

import aiohttp
import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.streaming import INTERLINK_REFUSAL
from aiinfn_hub.sandbox.testing import wait_until
from tests.contract.streams import (
    fetch,
    frames,
    http_server_pod,
    kubectl,
    port_forward,
    websocket,
)

from .util import pod_manifest, wait_pod

VIRTUAL = {
    "nodeName": "vk-leonardo",
    "tolerations": [{"key": "virtual-node.interlink/no-schedule", "operator": "Exists"}],
}
SPDY_WORDS = "the sandbox serves exec and port-forward over WebSocket only, not SPDY"


async def running(kube: client.ApiClient, manifest: dict) -> str:
    name = manifest["metadata"]["name"]
    await client.CoreV1Api(kube).create_namespaced_pod("default", manifest)
    await wait_pod(kube, name, lambda p: p.status.phase == "Running", message=f"{name} running")
    return name


def sleeper(name: str, **spec) -> dict:
    return pod_manifest(name, ["sleep", "3600"], **spec)


async def test_virtual_nodes_refuse_exec_as_interlink_does(
    sandbox: SandboxProcess, kube: client.ApiClient
) -> None:
    pod = await running(kube, sleeper("remote", **VIRTUAL))
    done = await asyncio.to_thread(kubectl, sandbox.kubeconfig, "exec", pod, "--", "true")
    assert done.returncode == 1
    assert done.stderr == (
        "error: Internal error occurred: Internal error occurred: error executing command in "
        f"container: {INTERLINK_REFUSAL}\n"
    )
    path = f"/api/v1/namespaces/default/pods/{pod}/exec"
    query = [("command", "true"), ("stdout", "true")]
    async with websocket(sandbox.kubeconfig, path, query, ["v5.channel.k8s.io"]) as ws:
        got = await frames(ws)
    assert got[0] == b"\x01" and got[-1][0] == 3
    status = json.loads(got[-1][1:])
    assert (status["reason"], status["code"]) == ("InternalError", 500)


async def test_virtual_nodes_refuse_port_forward_as_interlink_does(
    sandbox: SandboxProcess, kube: client.ApiClient
) -> None:
    pod = await running(kube, sleeper("remote", **VIRTUAL))
    with port_forward(sandbox.kubeconfig, "default", pod, 8080) as forwarder:
        port = await asyncio.to_thread(forwarder.wait_ready)
        with pytest.raises(OSError):
            await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/")
        assert await asyncio.to_thread(forwarder.wait_exit) == 1
    errors = "".join(forwarder.errors)
    assert f"error forwarding port 8080 to pod {pod}, uid : {INTERLINK_REFUSAL}" in errors


async def test_spdy_is_refused_in_words(sandbox: SandboxProcess, kube: client.ApiClient) -> None:
    """kubectl speaks SPDY only when told not to use WebSockets: it hears why that fails."""
    pod = await running(kube, sleeper("spdy"))
    env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    done = await asyncio.to_thread(kubectl, sandbox.kubeconfig, "exec", pod, "--", "true", env=env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: unable to upgrade connection: Upgrade request required")
    assert SPDY_WORDS in done.stderr
    env = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}
    forwarded = await asyncio.to_thread(
        kubectl, sandbox.kubeconfig, "port-forward", pod, ":8080", env=env
    )
    assert forwarded.returncode == 1 and SPDY_WORDS in forwarded.stderr


async def test_answers_before_the_upgrade(sandbox: SandboxProcess, kube: client.ApiClient) -> None:
    """The API server's checks (as Status), then the kubelet's (in words), then the
    subprotocol; a plain GET is told it must upgrade."""
    pod = await running(kube, sleeper("asked"))
    config = str(sandbox.kubeconfig)
    base = f"/api/v1/namespaces/default/pods/{pod}/exec"

    async def refused(path: str, query: list, protocols: list[str]) -> int:
        try:
            async with websocket(config, path, query, protocols):
                pass
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        raise AssertionError("upgraded")

    ghost = "/api/v1/namespaces/default/pods/ghost/exec"
    stdout = [("command", "true"), ("stdout", "1")]
    assert await refused(ghost, stdout, ["v5.channel.k8s.io"]) == 404
    assert await refused(base, [("command", "true")], ["v5.channel.k8s.io"]) == 400  # no stream
    assert await refused(base, stdout, ["nonsense.k8s.io"]) == 403
    unassigned = pod_manifest("nowhere", ["true"], nodeSelector={"no-such": "node"})
    await client.CoreV1Api(kube).create_namespaced_pod("default", unassigned)
    raw = await _get(sandbox, "/api/v1/namespaces/default/pods/nowhere/exec?command=true&stdout=1")
    assert raw["message"] == "pod nowhere does not have a host assigned"
    plain = await _get(sandbox, f"{base}?command=true&stdout=1")
    assert (plain["code"], plain["message"]) == (400, "Upgrade request required")


async def _get(sandbox: SandboxProcess, path: str) -> dict:
    def get() -> dict:
        try:
            with urlopen(sandbox.url + path, timeout=30) as answer:
                return json.loads(answer.read())
        except HTTPError as exc:
            return json.loads(exc.read())

    return await asyncio.to_thread(get)


async def test_exec_and_port_forward_are_audited(
    sandbox: SandboxProcess, kube: client.ApiClient
) -> None:
    pod = await running(kube, sleeper("audited"))
    done = await asyncio.to_thread(kubectl, sandbox.kubeconfig, "exec", pod, "--", "true")
    assert done.returncode == 0, done.stderr
    entries = sandbox.admin.request("GET", "audit")["items"]
    execs = [e for e in entries if e.get("subresource") == "exec"]
    assert execs and execs[-1]["code"] == 101 and execs[-1]["name"] == pod


async def test_exec_ends_with_its_container(
    sandbox: SandboxProcess, kube: client.ApiClient
) -> None:
    """A command exec'd in a container does not outlive it."""
    pod = await running(kube, sleeper("short-lived"))
    waiting = asyncio.ensure_future(
        asyncio.to_thread(kubectl, sandbox.kubeconfig, "exec", pod, "--", "sleep", "600")
    )
    await asyncio.sleep(2)
    await client.CoreV1Api(kube).delete_namespaced_pod(pod, "default", grace_period_seconds=0)
    done = await asyncio.wait_for(waiting, 120)
    assert done.returncode == 137, done.stderr  # killed, as the container's processes are


async def test_port_forward_to_pods_on_one_port(
    sandbox: SandboxProcess, kube: client.ApiClient
) -> None:
    """Two pods serving the same port, each at its own address, each reached by its own
    port-forward."""
    for name in ("first", "second"):
        manifest = http_server_pod(name, 8080)
        manifest["metadata"]["namespace"] = "default"
        await client.CoreV1Api(kube).create_namespaced_pod("default", manifest)
    for name in ("first", "second"):
        await wait_until(
            lambda n=name: _listening(sandbox, n, 8080), timeout=60, message=f"{name} listening"
        )
        with port_forward(sandbox.kubeconfig, "default", name, 8080) as forwarder:
            port = await asyncio.to_thread(forwarder.wait_ready)
            body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/hello.txt")
            assert body == f"hello from {name}\n"


async def _listening(sandbox: SandboxProcess, pod: str, port: int) -> bool:
    done = await asyncio.to_thread(
        kubectl, sandbox.kubeconfig, "get", "pod", pod, "-o", "jsonpath={.status.podIP}"
    )
    address = done.stdout.strip()
    if not address:
        return False
    try:
        _, writer = await asyncio.open_connection(address, port)
    except OSError:
        return False
    writer.close()
    return True
