"""interLink-style virtual nodes: how they register, and how their pods look while the remote
batch system queues them, runs them and fails them."""

from __future__ import annotations

from kubernetes_asyncio import client

from aiinfn_hub.sandbox.testing import wait_until

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
