"""exec and port-forward on the real control plane where its own parts answer: the node
agents declare that they serve the WebSockets themselves and give each node's pods their
own addresses, and interLink's virtual kubelet refuses both in the words the sandbox's
virtual nodes use. (What any cluster does is in tests/contract/test_streams.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from aiinfn_hub.cluster.kubeapi import KubeApi
from aiinfn_hub.sandbox.streaming import INTERLINK_REFUSAL
from tests.contract.streams import fetch, http_server_pod, kubectl, port_forward

from .test_control_plane import NAMESPACE, eventually

pytestmark = pytest.mark.cluster
LOCAL_NODES = ("worker-a", "dgx-01.lab.infn.it", "gpu-t4-b")


def sleeper(name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}],
            **spec,
        },
    }


def create(admin: KubeApi, manifest: dict[str, Any]) -> str:
    name = manifest["metadata"]["name"]
    admin.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", manifest)
    return name


def delete(admin: KubeApi, *names: str) -> None:
    for name in names:
        admin.request(
            "DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", {"gracePeriodSeconds": 0}
        )


def pod(admin: KubeApi, name: str) -> dict[str, Any]:
    return admin.request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")


def ready(admin: KubeApi, name: str) -> dict[str, Any] | None:
    found = pod(admin, name)
    conditions = (found.get("status") or {}).get("conditions") or ()
    return (
        found if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None
    )


def test_local_nodes_declare_that_they_serve_the_websockets(admin: KubeApi) -> None:
    for name in LOCAL_NODES:
        node = admin.request("GET", f"/api/v1/nodes/{name}")
        assert node["status"]["declaredFeatures"] == ["ExtendWebSocketsToKubelet"]


def test_the_virtual_kubelet_refuses_exec_and_port_forward(admin: KubeApi, state) -> None:
    toleration = {"key": "virtual-node.interlink/no-schedule", "operator": "Exists"}
    name = create(admin, sleeper("remote-sleeper", "vk-leonardo", tolerations=[toleration]))
    try:
        eventually(f"{name} running", lambda: pod(admin, name)["status"]["phase"] == "Running")
        done = kubectl(state.kubeconfig, "-n", NAMESPACE, "exec", name, "--", "true")
        assert done.returncode == 1
        assert done.stderr == (
            "error: Internal error occurred: Internal error occurred: error executing command "
            f"in container: {INTERLINK_REFUSAL}\n"
        )
        with port_forward(state.kubeconfig, NAMESPACE, name, 8080) as forwarder:
            port = forwarder.wait_ready()
            with pytest.raises(OSError):
                fetch(f"http://127.0.0.1:{port}/")
            assert forwarder.wait_exit() == 1
        expected = f"error forwarding port 8080 to pod {name}, uid : {INTERLINK_REFUSAL}"
        assert expected in "".join(forwarder.errors)
    finally:
        delete(admin, name)


def test_pods_of_different_nodes_have_their_own_addresses(admin: KubeApi, state) -> None:
    """Two node agents, a server on port 8080 in a pod of each: two addresses, and
    port-forward reaches each pod's own server."""
    names = []
    for node in ("worker-a", "gpu-t4-b"):
        manifest = http_server_pod(f"web-{node}", 8080)
        manifest["spec"]["nodeName"] = node
        manifest["spec"]["containers"][0]["readinessProbe"] = {
            "tcpSocket": {"port": 8080},
            "periodSeconds": 1,
        }
        names.append(create(admin, manifest))
    try:
        pods = [eventually(f"{name} ready", lambda n=name: ready(admin, n)) for name in names]
        addresses = {p["status"]["podIP"] for p in pods}
        assert len(addresses) == 2, addresses
        for name in names:
            with port_forward(state.kubeconfig, NAMESPACE, name, 8080) as forwarder:
                port = forwarder.wait_ready()
                assert fetch(f"http://127.0.0.1:{port}/hello.txt") == f"hello from {name}\n"
    finally:
        delete(admin, *names)


def test_the_node_agent_refuses_spdy_in_words(admin: KubeApi, state) -> None:
    name = create(admin, sleeper("spdy-sleeper", "worker-a"))
    try:
        eventually(f"{name} running", lambda: pod(admin, name)["status"]["phase"] == "Running")
        env = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
        done = kubectl(state.kubeconfig, "-n", NAMESPACE, "exec", name, "--", "true", env=env)
        assert done.returncode == 1
        assert "the node agent serves exec and port-forward over WebSocket only" in done.stderr
    finally:
        delete(admin, name)
