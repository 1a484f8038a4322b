"""The scheduler: node selection, required affinity, taints and tolerations, resource fit."""

from __future__ import annotations

from kubernetes_asyncio import client

from aiinfn_hub.sandbox.testing import wait_until

from .util import PY, pod_manifest, wait_pod

SLEEP = [PY, "-c", "import time; time.sleep(60)"]


async def create(kube: client.ApiClient, name: str, **spec) -> None:
    spec.setdefault("terminationGracePeriodSeconds", 1)
    await client.CoreV1Api(kube).create_namespaced_pod("default", pod_manifest(name, SLEEP, **spec))


async def node_of(kube: client.ApiClient, name: str) -> str:
    pod = await wait_pod(kube, name, lambda p: p.spec.node_name, message=f"{name} to be bound")
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert scheduled.status == "True"
    return pod.spec.node_name


async def unschedulable(kube: client.ApiClient, name: str) -> str:
    def stuck(pod) -> bool:
        return any(
            c.type == "PodScheduled" and c.reason == "Unschedulable"
            for c in pod.status.conditions or []
        )

    pod = await wait_pod(kube, name, stuck, message=f"{name} to be unschedulable")
    assert pod.spec.node_name is None and pod.status.phase == "Pending"
    return next(c for c in pod.status.conditions if c.type == "PodScheduled").message


async def test_node_selector(kube: client.ApiClient) -> None:
    await create(kube, "t4", nodeSelector={"nvidia.com/gpu.product": "Tesla-T4"})
    assert await node_of(kube, "t4") == "local-gpu-t4-1"
    await create(kube, "named", nodeSelector={"kubernetes.io/hostname": "local-cpu-2"})
    assert await node_of(kube, "named") == "local-cpu-2"
    events = await client.CoreV1Api(kube).list_namespaced_event(
        "default", field_selector="involvedObject.name=named,reason=Scheduled"
    )
    assert [e.message for e in events.items] == [
        "Successfully assigned default/named to local-cpu-2"
    ]


async def test_required_node_affinity(kube: client.ApiClient) -> None:
    def affinity(*terms: dict) -> dict:
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
            }
        }

    a100 = {
        "matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-A100-SXM4-40GB"]}
        ]
    }
    await create(kube, "a100", affinity=affinity(a100))
    assert await node_of(kube, "a100") == "local-gpu-a100-1"
    # terms are ORed; expressions within a term ANDed; matchFields on the node name
    by_name = {
        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["local-cpu-1"]}]
    }
    await create(kube, "either", affinity=affinity({"matchExpressions": [_nowhere()]}, by_name))
    assert await node_of(kube, "either") == "local-cpu-1"
    no_gpu = {
        "matchExpressions": [
            {"key": "nvidia.com/gpu.present", "operator": "DoesNotExist"},
            {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["local-cpu-1"]},
        ]
    }
    await create(kube, "cpu-only", affinity=affinity(no_gpu))
    assert await node_of(kube, "cpu-only") == "local-cpu-2"
    await create(kube, "impossible", affinity=affinity({"matchExpressions": [_nowhere()]}))
    message = await unschedulable(kube, "impossible")
    assert message.startswith("0/8 nodes are available: ")
    assert "6 node(s) didn't match Pod's node affinity/selector" in message
    assert "2 node(s) had untolerated taint {virtual-node.interlink/no-schedule: true}" in message


def _nowhere() -> dict:
    return {"key": "example.com/zone", "operator": "In", "values": ["moon"]}


async def test_taints_and_tolerations(kube: client.ApiClient) -> None:
    leonardo = {"kubernetes.io/hostname": "vk-leonardo"}
    await create(kube, "untolerated", nodeSelector=leonardo)
    message = await unschedulable(kube, "untolerated")
    # kube-scheduler checks taints before affinity: vk-tier1 fails on its taint too
    assert "2 node(s) had untolerated taint {virtual-node.interlink/no-schedule: true}" in message
    assert "6 node(s) didn't match Pod's node affinity/selector" in message
    assert "preemption: 0/8 nodes are available: 8 Preemption is not helpful" in message
    events = await client.CoreV1Api(kube).list_namespaced_event(
        "default", field_selector="involvedObject.name=untolerated,reason=FailedScheduling"
    )
    assert events.items and events.items[0].type == "Warning"
    toleration = {
        "key": "virtual-node.interlink/no-schedule",
        "operator": "Exists",
        "effect": "NoSchedule",
    }
    await create(kube, "tolerated", nodeSelector=leonardo, tolerations=[toleration])
    assert await node_of(kube, "tolerated") == "vk-leonardo"
    # tolerating does not attract: with no selector, the pods go to local nodes
    for i in range(3):
        await create(kube, f"free-{i}", tolerations=[toleration])
        assert (await node_of(kube, f"free-{i}")).startswith("local-")


async def test_resource_fit(kube: client.ApiClient) -> None:
    t4 = {"nvidia.com/gpu.product": "Tesla-T4"}
    gpus = {"container": {"resources": {"limits": {"nvidia.com/gpu": "2"}}}}
    await create(kube, "first", nodeSelector=t4, **gpus)
    assert await node_of(kube, "first") == "local-gpu-t4-1"
    await create(kube, "second", nodeSelector=t4, **gpus)
    message = await unschedulable(kube, "second")
    assert "1 Insufficient nvidia.com/gpu" in message
    assert "1 No preemption victims found for incoming pod" in message
    await client.CoreV1Api(kube).delete_namespaced_pod("first", "default")
    assert await node_of(kube, "second") == "local-gpu-t4-1"  # room again once it is gone

    await create(kube, "eight-gpus", container={"resources": {"requests": {"nvidia.com/gpu": "8"}}})
    message = await unschedulable(kube, "eight-gpus")
    assert "6 Insufficient nvidia.com/gpu" in message
    await create(kube, "four-gpus", container={"resources": {"requests": {"nvidia.com/gpu": "4"}}})
    assert await node_of(kube, "four-gpus") in (
        "local-gpu-rtx5000-1",
        "local-gpu-a100-1",
        "local-gpu-mig-1",
    )
    await create(
        kube, "huge", container={"resources": {"requests": {"cpu": "100", "memory": "1Ti"}}}
    )
    message = await unschedulable(kube, "huge")
    assert "6 Insufficient cpu" in message and "6 Insufficient memory" in message


async def test_scheduler_name_and_node_name_are_respected(kube: client.ApiClient) -> None:
    await create(kube, "other-scheduler", schedulerName="volcano")
    await create(kube, "bound", nodeName="local-cpu-1")
    assert await node_of_bound(kube, "bound") == "local-cpu-1"
    pod = await client.CoreV1Api(kube).read_namespaced_pod("other-scheduler", "default")
    assert pod.spec.node_name is None and not pod.status.conditions


async def node_of_bound(kube: client.ApiClient, name: str) -> str:
    pod = await wait_until(
        lambda: _running(kube, name), message=f"{name} to run on its node", timeout=20
    )
    return pod.spec.node_name


async def _running(kube: client.ApiClient, name: str):
    pod = await client.CoreV1Api(kube).read_namespaced_pod(name, "default")
    return pod if pod.status.phase == "Running" else None
