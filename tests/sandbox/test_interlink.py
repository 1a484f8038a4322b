"""interLink-style virtual nodes: how they register, and how their pods look while the remote
batch system queues them, runs them and fails them."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.runtime import network_isolation
from aiinfn_hub.sandbox.testing import kube_client, wait_until
from aiinfn_hub.sandbox.topology import TopologyError, load_topology

from .util import PY, history, pod_gone, pod_log, pod_manifest, wait_pod

TOLERATION = {
    "key": "virtual-node.interlink/no-schedule",
    "operator": "Exists",
    "effect": "NoSchedule",
}


def remote_pod(name: str, site_node: str, command: list[str]) -> dict:
    return pod_manifest(
        name,
        command,
        nodeSelector={"kubernetes.io/hostname": site_node},
        tolerations=[TOLERATION],
    )


def cond(obj, ctype: str):
    return next((c for c in obj.status.conditions or [] if c.type == ctype), None)


async def test_virtual_nodes_register_as_interlink_does(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    node = await core.read_node("vk-leonardo")
    labels = node.metadata.labels
    assert labels["virtual-node.interlink/type"] == "virtual-kubelet"
    assert labels["kubernetes.io/os"] == "virtual-kubelet"  # not linux
    assert labels["kubernetes.io/role"] == "agent"
    assert labels["kubernetes.io/hostname"] == "vk-leonardo"
    assert labels["nvidia-gpu-type"] == "A100"
    assert labels["node.kubernetes.io/exclude-from-external-load-balancers"] == "true"
    taints = [(t.key, t.value, t.effect) for t in node.spec.taints]
    assert taints == [("virtual-node.interlink/no-schedule", "true", "NoSchedule")]
    assert node.spec.provider_id == "external:///vk-leonardo"
    assert node.status.capacity["nvidia.com/gpu"] == "32"
    assert node.status.allocatable == node.status.capacity
    assert node.status.node_info.architecture == "virtual-kubelet"
    assert node.status.node_info.operating_system == "linux"
    ready = cond(node, "Ready")
    assert (ready.status, ready.reason) == ("True", "KubeletReady")
    link = cond(node, "InterlinkConnectivity")
    assert (link.status, link.reason) == ("True", "InterlinkPingSuccessful")
    tier1 = await core.read_node("vk-tier1")
    assert "nvidia.com/gpu" not in tier1.status.capacity
    local = await core.read_node("local-gpu-a100-1")
    assert local.metadata.labels["kubernetes.io/os"] == "linux"
    assert local.metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-40GB"
    assert local.status.capacity["nvidia.com/gpu"] == "4"
    assert not local.spec.taints and cond(local, "InterlinkConnectivity") is None


async def test_a_remote_pod_waits_in_the_remote_queue_then_runs(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    listed = await core.list_namespaced_pod("default")
    since = listed.metadata.resource_version
    await core.create_namespaced_pod(
        "default", remote_pod("remote", "vk-tier1", ["sh", "-c", "echo ran remotely"])
    )
    pod = await wait_pod(kube, "remote", lambda p: p.status.phase == "Succeeded", timeout=30)
    assert pod.spec.node_name == "vk-tier1"
    assert pod.metadata.annotations["JobID"].startswith("htcondor-")
    assert await pod_log(kube, "remote") == "ran remotely\n"

    # the whole history, as a watch saw it: Pending and scheduled while remotely queued
    seen = await history(
        core.list_namespaced_pod,
        "default",
        resource_version=since,
        field_selector="metadata.name=remote",
        timeout_seconds=2,
    )
    queued = [
        p
        for p in seen
        if p["status"].get("phase") == "Pending"
        and any(
            (cs.get("state") or {}).get("waiting", {}).get("reason") == "Remote pod submitted"
            for cs in p["status"].get("containerStatuses") or []
        )
    ]
    assert queued, "the pod never showed as queued remotely"
    scheduled = {c["type"]: c["status"] for c in queued[-1]["status"]["conditions"]}
    assert scheduled["PodScheduled"] == "True" and scheduled["Ready"] == "False"
    assert "JobID" in queued[-1]["metadata"]["annotations"]
    phases = [p["status"].get("phase") for p in seen]
    assert phases.index("Pending") < phases.index("Running") < phases.index("Succeeded")


async def test_remote_exit_codes_are_rewritten_as_interlink_does(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    await core.create_namespaced_pod(
        "default", remote_pod("remote-fail", "vk-leonardo", [PY, "-c", "raise SystemExit(3)"])
    )
    pod = await wait_pod(kube, "remote-fail", lambda p: p.status.phase == "Failed", timeout=30)
    assert pod.status.reason == "Error: 3"
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error: 3")
    assert pod.metadata.annotations["JobID"].startswith("slurm-")


async def test_deleting_a_pod_in_the_remote_queue(kube: client.ApiClient, sandbox) -> None:
    """A pod deleted while queued remotely is finalized (the remote job cancelled)."""
    sandbox.faults.site_down("tier1")  # the remote queue does not move while the site is down
    core = client.CoreV1Api(kube)
    manifest = remote_pod("queued", "vk-tier1", ["sh", "-c", "echo never"])
    not_ready = {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoSchedule",
    }
    manifest["spec"]["tolerations"].append(not_ready)
    await core.create_namespaced_pod("default", manifest)

    def submitted(p) -> bool:
        return bool(p.metadata.annotations and "JobID" in p.metadata.annotations)

    pod = await wait_pod(kube, "queued", submitted, timeout=30, message="the remote submission")
    assert pod.status.phase == "Pending" and pod.spec.node_name == "vk-tier1"
    assert pod.status.container_statuses[0].state.waiting.reason == "Remote pod submitted"
    await core.delete_namespaced_pod("queued", "default")

    await wait_until(lambda: pod_gone(kube, "queued"), message="the queued pod to be deleted")
    assert sandbox.info()["running_processes"] == 0


# -- networking: a remote pod is reachable only through interLink's VPN or tunnel -------------

#: A server that listens where a single-user server would (JUPYTERHUB_SERVICE_URL on 0.0.0.0,
#: which the kubelet points at the pod's own address) and answers with a token.
SERVER = """
import http.server, os, urllib.parse
url = urllib.parse.urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(os.environ["TOKEN"].encode())
    def log_message(self, *args):
        pass
server = http.server.HTTPServer((url.hostname, url.port), Answer)
print("listening on", url.hostname, flush=True)
server.serve_forever()
"""


def remote_server(name: str, site_node: str, token: str, port: int, **meta: Any) -> dict:
    manifest = remote_pod(name, site_node, [PY, "-c", SERVER])
    manifest["metadata"].update(meta)
    manifest["spec"]["containers"][0]["env"] = [
        {"name": "JUPYTERHUB_SERVICE_URL", "value": f"http://0.0.0.0:{port}/user/x/"},
        {"name": "TOKEN", "value": token},
    ]
    return manifest


def any_port() -> int:
    """Not 8888: other sandboxes on this machine (other tests' too) hand out the same
    addresses, and the previous test's pods may still listen."""
    return random.randint(20000, 60000)


async def answer(host: str, port: int) -> str:
    """What the server at host:port says, or why nothing answered."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    except (OSError, asyncio.TimeoutError) as exc:
        return f"unreachable: {exc!r}"
    try:
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        return data.decode(errors="replace").rsplit("\r\n\r\n", 1)[-1]
    except (OSError, asyncio.TimeoutError) as exc:
        return f"no answer: {exc!r}"
    finally:
        writer.close()


async def serving(kube: client.ApiClient, name: str) -> tuple[Any, str]:
    """The running pod and the address its server says it listens on."""
    pod = await wait_pod(kube, name, lambda p: p.status.phase == "Running", timeout=30)
    line = await wait_until(lambda: pod_log(kube, name), 30, 0.1, f"{name}'s server to listen")
    return pod, line.split()[-1]


async def test_a_remote_pod_without_interlinks_vpn_cannot_be_reached(kube) -> None:
    """interLink's virtual kubelet reports 127.0.0.1 for a pod it does not connect: from any
    other pod, that is the caller's own loopback. The server runs, but nothing reaches it."""
    core = client.CoreV1Api(kube)
    port = any_port()
    await core.create_namespaced_pod("default", remote_server("lonely", "vk-leonardo", "t-1", port))
    pod, listens = await serving(kube, "lonely")
    assert pod.status.pod_ip == "127.0.0.1"
    assert pod.status.pod_ips[0].ip == "127.0.0.1"
    assert listens != "127.0.0.1" and listens != "0.0.0.0"
    assert "t-1" not in await answer(pod.status.pod_ip, port)
    if network_isolation() is not None:  # its own network namespace: not even at its address
        assert "t-1" not in await answer(listens, port)


async def test_an_unconnected_remote_pod_still_reaches_itself(kube) -> None:
    """A remote machine has its own loopback: a notebook's kernel talks to its runner there."""
    core = client.CoreV1Api(kube)
    itself = (
        "import socket; s = socket.create_server(('127.0.0.1', 0)); "
        "socket.create_connection(s.getsockname()).close(); print('loopback works')"
    )
    await core.create_namespaced_pod("default", remote_pod("self", "vk-tier1", [PY, "-c", itself]))
    pod = await wait_pod(kube, "self", lambda p: p.status.phase in ("Succeeded", "Failed"))
    assert (pod.status.phase, pod.status.pod_ip) == ("Succeeded", "127.0.0.1")
    assert await pod_log(kube, "self") == "loopback works\n"


async def test_interlinks_vpn_annotation_makes_a_remote_pod_reachable(kube) -> None:
    core = client.CoreV1Api(kube)
    port = any_port()
    vpn = {"annotations": {"interlink.eu/pod-vpn": "true"}}
    await core.create_namespaced_pod(
        "default", remote_server("joined", "vk-leonardo", "t-2", port, **vpn)
    )
    pod, listens = await serving(kube, "joined")
    assert pod.status.pod_ip == listens != "127.0.0.1"
    assert await answer(pod.status.pod_ip, port) == "t-2"


async def test_interlinks_tunnel_exposes_a_remote_pods_ports(tmp_path) -> None:
    """With interLink's Network.EnableTunnel (the sandbox site's ``tunnel``), a pod that exposes
    ports is reached through the tunnel; one that exposes none still is not."""
    config = {
        "sites": [
            {"name": "local", "nodes": [{"name": "worker-a"}]},
            {"name": "recas", "type": "interlink", "tunnel": True, "remote_queue_delay": 0,
             "nodes": [{"name": "vk-recas", "cpu": "64", "memory": "256Gi"}]},
        ]
    }  # fmt: skip
    async with Sandbox(config, state_dir=tmp_path / "sandbox") as sandbox:
        api = await kube_client(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
        async with api:
            core = client.CoreV1Api(api)
            port = any_port()
            exposed = remote_server("exposed", "vk-recas", "t-3", port)
            exposed["spec"]["containers"][0]["ports"] = [
                {"name": "notebook-port", "containerPort": port}
            ]
            await core.create_namespaced_pod("default", exposed)
            await core.create_namespaced_pod(
                "default", remote_server("closed", "vk-recas", "t-4", port)
            )
            pod, listens = await serving(api, "exposed")
            assert pod.status.pod_ip == listens != "127.0.0.1"
            assert await answer(pod.status.pod_ip, port) == "t-3"
            closed, _ = await serving(api, "closed")
            assert closed.status.pod_ip == "127.0.0.1"
            assert "t-4" not in await answer(closed.status.pod_ip, port)


def test_only_an_interlink_site_has_a_tunnel() -> None:
    config = {"sites": [{"name": "local", "tunnel": True, "nodes": [{"name": "worker-a"}]}]}
    with pytest.raises(TopologyError, match="only an interlink site has one"):
        load_topology(config)
