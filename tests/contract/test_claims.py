"""A pod whose PersistentVolumeClaim does not exist stays Pending, unschedulable, and says why.

kube-scheduler's VolumeBinding plugin fails its PreFilter for such a pod (pkg/scheduler/
framework/plugins/volumebinding: ``persistentvolumeclaim "x" not found``, for every node),
and the FitError names it before preemption's verdict; a FailedScheduling event repeats it.
"""

from __future__ import annotations

import pytest

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster

pytestmark = pytest.mark.contract


def scheduled(pod) -> dict | None:
    for cond in pod.status.conditions or ():
        if cond.type == "PodScheduled":
            return {"status": cond.status, "reason": cond.reason, "message": cond.message}
    return None


async def test_a_pod_whose_claim_does_not_exist_is_unschedulable(cluster: Cluster) -> None:
    body = cluster.pod(
        "needs-claim",
        "ls /data",
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "claim-mario-rossi"}}],
        container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
    )
    await cluster.core.create_namespaced_pod(cluster.namespace, body)

    async def refused():
        pod = await cluster.core.read_namespaced_pod("needs-claim", cluster.namespace)
        cond = scheduled(pod)
        return (pod, cond) if cond and cond["status"] == "False" else None

    pod, cond = await wait_until(refused, timeout=60, message="the scheduler's verdict")
    nodes = len((await cluster.core.list_node()).items)
    assert pod.status.phase == "Pending" and not pod.spec.node_name
    assert cond["reason"] == "Unschedulable"
    # the FitError names the PreFilter's words; what preemption adds after them changes with
    # the release (1.36.3 writes " not found", its dry run failing on the same claim)
    assert cond["message"].startswith(
        f'0/{nodes} nodes are available: persistentvolumeclaim "claim-mario-rossi" not found.'
    )

    async def event():
        events = await cluster.core.list_namespaced_event(
            cluster.namespace,
            field_selector="involvedObject.kind=Pod,involvedObject.name=needs-claim",
        )
        found = [e for e in events.items if e.reason == "FailedScheduling"]
        return found[0] if found else None

    failed = await wait_until(event, timeout=60, message="a FailedScheduling event")
    assert failed.type == "Warning" and failed.message == cond["message"]

    # once the claim exists, its absence is no longer the reason
    claim = {
        "metadata": {"name": "claim-mario-rossi"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}},
    }
    await cluster.core.create_namespaced_persistent_volume_claim(cluster.namespace, claim)

    async def no_longer_missing():
        pod = await cluster.core.read_namespaced_pod("needs-claim", cluster.namespace)
        cond = scheduled(pod) or {}
        missing = 'persistentvolumeclaim "claim-mario-rossi" not found'
        return pod if missing not in (cond.get("message") or "") else None

    await wait_until(no_longer_missing, timeout=60, message="the claim to be found")
