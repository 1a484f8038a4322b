"""Kueue's objects and the admission of a batch/v1 Job, where Kueue is installed.

On a real cluster without Kueue these tests skip (an environment without the CRDs); the
sandbox always serves Kueue, so there they always run.
"""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client import ApiException

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster, status_of

pytestmark = pytest.mark.contract
GROUP = "kueue.x-k8s.io"
MERGE = "application/merge-patch+json"


def condition(obj: dict, ctype: str) -> dict | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == ctype), None)


async def test_a_queued_job_is_admitted_and_finishes(cluster: Cluster, kueue: str) -> None:
    job = cluster.job("queued", "echo admitted", labels={"kueue.x-k8s.io/queue-name": "queue"})
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "100m", "memory": "64Mi"}
    }
    created = await cluster.batch.create_namespaced_job(cluster.namespace, job)
    assert created.spec.suspend is True  # Kueue's webhook suspends it

    wl = await wait_until(
        lambda: cluster.workload_of(kueue, created.metadata.uid),
        timeout=60,
        message="the job's Workload",
    )
    name = wl["metadata"]["name"]
    assert name.startswith("job-queued-") and len(name) == len("job-queued-") + 5
    (owner,) = wl["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", "queued", created.metadata.uid)
    assert wl["spec"]["queueName"] == "queue"
    assert wl["spec"]["podSets"][0]["count"] == 1

    async def finished():
        current = await cluster.custom.get_namespaced_custom_object(
            GROUP, kueue, cluster.namespace, "workloads", name
        )
        cond = condition(current, "Finished")
        return current if cond and cond["status"] == "True" else None

    wl = await wait_until(finished, timeout=180, message="the Workload to finish")
    for ctype, reason in (
        ("QuotaReserved", "QuotaReserved"),
        ("Admitted", "Admitted"),
        ("Finished", "Succeeded"),
    ):
        cond = condition(wl, ctype)
        assert cond is not None and cond["status"] == "True", ctype
        assert cond["reason"] == reason, ctype
    admission = wl["status"]["admission"]
    assert admission["clusterQueue"] == cluster.namespace
    assignment = admission["podSetAssignments"][0]
    assert assignment["flavors"]["cpu"] == cluster.namespace
    done = await cluster.batch.read_namespaced_job("queued", cluster.namespace)
    assert done.spec.suspend is False and done.status.succeeded == 1
    assert done.spec.template.metadata.labels["kueue.x-k8s.io/podset"] == "main"


async def test_queue_status(cluster: Cluster, kueue: str) -> None:
    async def active():
        lq = await cluster.custom.get_namespaced_custom_object(
            GROUP, kueue, cluster.namespace, "localqueues", "queue"
        )
        cond = condition(lq, "Active")
        return lq if cond and cond["status"] == "True" else None

    lq = await wait_until(active, timeout=60, message="the LocalQueue to be active")
    assert lq["status"]["pendingWorkloads"] == 0
    cq = await cluster.custom.get_cluster_custom_object(
        GROUP, kueue, "clusterqueues", cluster.namespace
    )
    assert cq["spec"]["queueingStrategy"] == "BestEffortFIFO"  # a default Kueue fills in
    assert condition(cq, "Active")["status"] == "True"


async def test_custom_object_patches(cluster: Cluster, kueue: str) -> None:
    path = f"/apis/{GROUP}/{kueue}/namespaces/{cluster.namespace}/localqueues/queue"
    # kubernetes_asyncio's default for a dict: a JSON-patch content type, which is refused
    with pytest.raises(ApiException) as caught:
        await cluster.custom.patch_namespaced_custom_object(
            GROUP, kueue, cluster.namespace, "localqueues", "queue", {"metadata": {}}
        )
    assert caught.value.status == 400
    assert status_of(caught.value)["reason"] == "BadRequest"
    patched = await cluster.custom.patch_namespaced_custom_object(
        GROUP,
        kueue,
        cluster.namespace,
        "localqueues",
        "queue",
        {"metadata": {"labels": {"site": "local"}}},
        _content_type=MERGE,
    )
    assert patched["metadata"]["labels"] == {"site": "local"}
    # no strategic merge patch for custom resources
    smp = await cluster.raw(
        "PATCH",
        path,
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/strategic-merge-patch+json",
    )
    assert smp.status == 415 and smp.body["reason"] == "UnsupportedMediaType"
    # JSON patch proper
    operations = [{"op": "add", "path": "/metadata/labels/extra", "value": "1"}]
    patched = await cluster.custom.patch_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", "queue", operations
    )
    assert patched["metadata"]["labels"] == {"site": "local", "extra": "1"}


async def test_custom_object_errors_and_deletes(cluster: Cluster, kueue: str) -> None:
    with pytest.raises(ApiException) as caught:
        await cluster.custom.get_namespaced_custom_object(
            GROUP, kueue, cluster.namespace, "workloads", "nope"
        )
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (404, "NotFound")
    assert status["message"] == f'workloads.{GROUP} "nope" not found'
    assert status["details"] == {"name": "nope", "group": GROUP, "kind": "workloads"}
    with pytest.raises(ApiException) as caught:
        await cluster.custom.list_namespaced_custom_object(
            GROUP, kueue, cluster.namespace, "workloads", field_selector="spec.queueName=x"
        )
    assert caught.value.status == 400
    assert status_of(caught.value)["message"] == (
        '"spec.queueName" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    # a custom resource is checked against its CRD's schema: 422 Invalid, naming the field
    wrong = {"metadata": {"name": f"{cluster.namespace}-x"}, "spec": {"resourceGroups": "all"}}
    with pytest.raises(ApiException) as caught:
        await cluster.custom.create_cluster_custom_object(GROUP, kueue, "clusterqueues", wrong)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.resourceGroups"]
    assert "must be of type array" in status["message"]
    extra = {"metadata": {"name": "extra"}, "spec": {"clusterQueue": cluster.namespace}}
    await cluster.custom.create_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", extra
    )
    # a custom resource's delete answers with the object, not a Status
    deleted = await cluster.custom.delete_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", "extra"
    )
    assert deleted["kind"] == "LocalQueue" and deleted["metadata"]["name"] == "extra"


async def test_both_versions_are_served(cluster: Cluster, kueue: str) -> None:
    groups = await cluster.raw("GET", f"/apis/{GROUP}")
    served = [v["version"] for v in groups.body["versions"]]
    assert kueue in served
    if not {"v1beta1", "v1beta2"} <= set(served):
        return  # an older Kueue serves v1beta1 only: nothing to convert
    cq = {
        "metadata": {"name": f"{cluster.namespace}-v"},
        "spec": {"cohortName": "contract", "namespaceSelector": {}, "resourceGroups": []},
    }
    await cluster.custom.create_cluster_custom_object(GROUP, "v1beta2", "clusterqueues", cq)
    try:
        old = await cluster.custom.get_cluster_custom_object(
            GROUP, "v1beta1", "clusterqueues", cq["metadata"]["name"]
        )
        assert old["apiVersion"] == f"{GROUP}/v1beta1"
        assert old["spec"]["cohort"] == "contract" and "cohortName" not in old["spec"]
    finally:
        await cluster.custom.delete_cluster_custom_object(
            GROUP, "v1beta2", "clusterqueues", cq["metadata"]["name"]
        )
