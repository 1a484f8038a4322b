"""Kueue's objects and the admission of a batch/v1 Job, where Kueue is installed.

On a real cluster without Kueue these tests skip (an environment without the CRDs); the
sandbox always serves Kueue, so there they always run.
"""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client import ApiException

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster, status_of
from .conftest import typed

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
    # an unknown subresource of a custom resource: the object "is not found", though it is there
    queue = f"/apis/{GROUP}/{kueue}/namespaces/{cluster.namespace}/localqueues/queue"
    response = await cluster.raw("GET", f"{queue}/nosuchthing")
    assert (response.status, response.body["reason"]) == (404, "NotFound")
    assert response.body["message"] == f'localqueues.{GROUP} "queue" not found'
    with pytest.raises(ApiException) as caught:
        await cluster.custom.list_namespaced_custom_object(
            GROUP, kueue, cluster.namespace, "workloads", field_selector="spec.queueName=x"
        )
    assert caught.value.status == 400
    # in the same words as for a built-in resource
    assert status_of(caught.value)["message"] == "field label not supported: spec.queueName"
    # a ClusterQueue goes through Kueue's mutating webhook, which decodes it into Go structs
    # first: a field of the wrong JSON type is the webhook's denial, a 400 without a reason
    wrong = {
        **typed(kueue, "ClusterQueue"),
        "metadata": {"name": f"{cluster.namespace}-x"},
        "spec": {"resourceGroups": "all"},
    }
    response = await cluster.raw("POST", f"/apis/{GROUP}/{kueue}/clusterqueues", wrong)
    assert response.status == 400 and "reason" not in response.body
    message = response.body["message"]
    assert message.startswith(
        'admission webhook "mclusterqueue.kb.io" denied the request: json: cannot unmarshal '
        "string into Go struct field "
    )
    assert ".spec.resourceGroups of type []" in message
    flavors = [{"name": "f", "resources": [{"name": "cpu", "nominalQuota": "plenty"}]}]
    wrong["spec"] = {"resourceGroups": [{"coveredResources": ["cpu"], "flavors": flavors}]}
    response = await cluster.raw("POST", f"/apis/{GROUP}/{kueue}/clusterqueues", wrong)
    assert (response.status, response.body["message"]) == (
        400,
        'admission webhook "mclusterqueue.kb.io" denied the request: quantities must match '
        "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    )
    # a LocalQueue has no such webhook: its CRD's schema answers, a 422 naming the field (and
    # saying that the schema's CEL rules were not checked)
    queue = {
        **typed(kueue, "LocalQueue"),
        "metadata": {"name": "typed"},
        "spec": {"clusterQueue": 5},
    }
    with pytest.raises(ApiException) as caught:
        await cluster.custom.create_namespaced_custom_object(
            GROUP, kueue, cluster.namespace, "localqueues", queue
        )
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    causes = [(c["field"], c["reason"]) for c in status["details"]["causes"]]
    assert causes == [
        ("spec.clusterQueue", "FieldValueTypeInvalid"),
        ("<nil>", "FieldValueInvalid"),
    ]
    assert status["message"].startswith(
        f'LocalQueue.{GROUP} "typed" is invalid: [spec.clusterQueue: Invalid value: "integer": '
        'spec.clusterQueue in body must be of type string: "integer", <nil>: Invalid value: '
        "null: some validation rules were not checked"
    )
    extra = {
        **typed(kueue, "LocalQueue"),
        "metadata": {"name": "extra"},
        "spec": {"clusterQueue": cluster.namespace},
    }
    await cluster.custom.create_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", extra
    )
    # a delete that removes a custom resource answers with a Status, as for a ConfigMap...
    created = await cluster.custom.get_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", "extra"
    )
    deleted = await cluster.custom.delete_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", "extra"
    )
    assert (deleted["kind"], deleted["status"]) == ("Status", "Success")
    assert deleted["details"] == {
        "name": "extra",
        "group": GROUP,
        "kind": "localqueues",
        "uid": created["metadata"]["uid"],
    }
    # ...and one that only marks it (a finalizer holds it) answers with the object
    held = {**extra, "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    await cluster.custom.create_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", held
    )
    marked = await cluster.custom.delete_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", "held"
    )
    assert marked["kind"] == "LocalQueue" and marked["metadata"]["deletionTimestamp"]
    await cluster.custom.patch_namespaced_custom_object(
        GROUP,
        kueue,
        cluster.namespace,
        "localqueues",
        "held",
        {"metadata": {"finalizers": None}},
        _content_type=MERGE,
    )


async def test_both_versions_are_served(cluster: Cluster, kueue: str) -> None:
    groups = await cluster.raw("GET", f"/apis/{GROUP}")
    served = [v["version"] for v in groups.body["versions"]]
    assert kueue in served
    if not {"v1beta1", "v1beta2"} <= set(served):
        return  # an older Kueue serves v1beta1 only: nothing to convert
    cq = {
        **typed("v1beta2", "ClusterQueue"),
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


async def test_a_custom_resource_must_name_its_type(cluster: Cluster, kueue: str) -> None:
    """A custom resource is decoded as unstructured JSON: without a kind it is unrecognized,
    and its apiVersion must be the URL's group and version (400 both). (A built-in type's
    body may leave both out: see test_crud.)"""
    path = f"/apis/{GROUP}/{kueue}/namespaces/{cluster.namespace}/localqueues"
    spec = {"clusterQueue": cluster.namespace}
    bare = {"metadata": {"name": "bare"}, "spec": spec}
    response = await cluster.raw("POST", path, bare)
    assert (response.status, response.body["reason"]) == (400, "BadRequest")
    assert response.body["message"].startswith(
        "the object provided is unrecognized (must be of type LocalQueue): "
        "Object 'Kind' is missing in '{"
    )
    assert response.body["message"].endswith(" ...)")  # the body's first 30 characters
    for api_version in ("", f"{GROUP}/v0", "example.com/" + kueue):
        body = {"apiVersion": api_version, "kind": "LocalQueue", **bare}
        response = await cluster.raw("POST", path, body)
        assert (response.status, response.body["reason"]) == (400, "BadRequest")
        assert response.body["message"] == (
            f"the API version in the data ({api_version}) does not match the expected "
            f"API version ({GROUP}/{kueue})"
        )
    response = await cluster.raw("PUT", f"{path}/queue", {"metadata": {"name": "queue"}})
    assert response.status == 400 and "Object 'Kind' is missing" in response.body["message"]
    # another kind: refused by the custom resource's validation (LocalQueues have no mutating
    # webhook in Kueue that would re-encode the object as a LocalQueue; ClusterQueues do)
    other = {**typed(kueue, "ClusterQueue"), "metadata": {"name": "other"}, "spec": spec}
    response = await cluster.raw("POST", path, other)
    assert (response.status, response.body["reason"]) == (422, "Invalid")
    assert response.body["message"] == (
        f'ClusterQueue.{GROUP} "other" is invalid: kind: Invalid value: "ClusterQueue": '
        "must be LocalQueue"
    )
    queue = {
        **typed(kueue, "LocalQueue"),
        "metadata": {"name": f"{cluster.namespace}-kind"},
        "spec": {},
    }
    response = await cluster.raw("POST", f"/apis/{GROUP}/{kueue}/clusterqueues", queue)
    assert response.status == 201 and response.body["kind"] == "ClusterQueue"
    await cluster.custom.delete_cluster_custom_object(
        GROUP, kueue, "clusterqueues", queue["metadata"]["name"]
    )
    # and no update without a resourceVersion: custom resources allow no unconditional update
    current = await cluster.custom.get_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues", "queue"
    )
    del current["metadata"]["resourceVersion"]
    response = await cluster.raw("PUT", f"{path}/queue", current)
    assert (response.status, response.body["reason"]) == (422, "Invalid")
    assert response.body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 0: must be specified for an update",
            "field": "metadata.resourceVersion",
        }
    ]
    listed = await cluster.custom.list_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "localqueues"
    )
    assert [q["metadata"]["name"] for q in listed["items"]] == ["queue"]
