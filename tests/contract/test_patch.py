"""Patch types, and the status subresource kept apart from the main resource."""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client import ApiException

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import IMAGE, Cluster, status_of

pytestmark = pytest.mark.contract

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def path(cluster: Cluster, plural: str, name: str, sub: str = "") -> str:
    base = f"/api/v1/namespaces/{cluster.namespace}/{plural}/{name}"
    return f"{base}/{sub}" if sub else base


async def test_merge_patch(cluster: Cluster) -> None:
    created = await cluster.configmap("merge", a="1", b="2")
    response = await cluster.raw(
        "PATCH",
        path(cluster, "configmaps", "merge"),
        {"data": {"a": None, "c": "3"}, "metadata": {"labels": {"team": "ml"}}},
        content_type=MERGE,
    )
    assert response.status == 200
    assert response.body["data"] == {"b": "2", "c": "3"}
    assert response.body["metadata"]["labels"] == {"team": "ml"}
    assert response.body["metadata"]["resourceVersion"] != created.metadata.resource_version


async def test_patch_with_a_stale_resource_version_conflicts(cluster: Cluster) -> None:
    created = await cluster.configmap("stale", a="1")
    await cluster.core.patch_namespaced_config_map("stale", cluster.namespace, {"data": {"a": "2"}})
    body = {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"a": "3"}}
    response = await cluster.raw(
        "PATCH", path(cluster, "configmaps", "stale"), body, content_type=MERGE
    )
    assert response.status == 409 and response.body["reason"] == "Conflict"


async def test_strategic_merge_merges_containers_by_name(cluster: Cluster) -> None:
    pod = cluster.pod("two", "sleep 30")
    pod["spec"]["containers"].append(
        {"name": "side", "image": IMAGE, "command": ["sh", "-c", "sleep 30"]}
    )
    await cluster.core.create_namespaced_pod(cluster.namespace, pod)
    change = {"spec": {"containers": [{"name": "side", "image": "busybox:1.37"}]}}
    # a dict body: kubernetes_asyncio sends a strategic merge patch for built-in types
    patched = await cluster.core.patch_namespaced_pod("two", cluster.namespace, change)
    images = {c.name: c.image for c in patched.spec.containers}
    assert images == {"main": IMAGE, "side": "busybox:1.37"}
    assert patched.spec.containers[1].command == ["sh", "-c", "sleep 30"]
    # the same body as a merge patch replaces the list, and a pod may not lose a container
    response = await cluster.raw("PATCH", path(cluster, "pods", "two"), change, content_type=MERGE)
    assert response.status == 422 and response.body["reason"] == "Invalid"


async def test_strategic_merge_of_env_and_ports(cluster: Cluster) -> None:
    service = {
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
    }
    await cluster.core.create_namespaced_service(cluster.namespace, service)
    patched = await cluster.core.patch_namespaced_service(
        "web", cluster.namespace, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}
    )
    ports = {p.port: p.target_port for p in patched.spec.ports}
    assert ports == {80: 80, 443: 8443}
    deleted = await cluster.core.patch_namespaced_service(
        "web", cluster.namespace, {"spec": {"ports": [{"port": 80, "$patch": "delete"}]}}
    )
    assert [p.port for p in deleted.spec.ports] == [443]


async def test_json_patch(cluster: Cluster) -> None:
    await cluster.configmap("ops", a="1")
    operations = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "add", "path": "/data/b", "value": "x"},
    ]
    # a list body: kubernetes_asyncio sends a JSON patch
    patched = await cluster.core.patch_namespaced_config_map("ops", cluster.namespace, operations)
    assert patched.data == {"a": "2", "b": "x"}
    # an operation that does not apply is a 422 that does not say why
    for failing in (
        [{"op": "test", "path": "/data/a", "value": "nope"}],
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "frob", "path": "/data/a"}],
    ):
        with pytest.raises(ApiException) as caught:
            await cluster.core.patch_namespaced_config_map("ops", cluster.namespace, failing)
        assert caught.value.status == 422
        status = status_of(caught.value)
        assert status["reason"] == "Invalid" and status["details"] == {}
        assert status["message"] == "the server rejected our request due to an error in our request"


async def test_json_patch_content_type_with_an_object_body_is_a_bad_request(
    cluster: Cluster,
) -> None:
    """What kubernetes_asyncio sends for a dict patch of a custom object, unless told."""
    await cluster.configmap("pitfall", a="1")
    response = await cluster.raw(
        "PATCH",
        path(cluster, "configmaps", "pitfall"),
        {"data": {"a": "2"}},
        content_type=JSON_PATCH,
    )
    assert response.status == 400
    assert response.body["reason"] == "BadRequest" and response.body["code"] == 400
    assert response.body["message"] == (
        "error decoding patch: json: cannot unmarshal object into Go value of type "
        "[]handlers.jsonPatchOp"
    )
    # the operations are decoded before any is applied
    for body, what in (
        ("x", "string into Go value of type []handlers.jsonPatchOp"),
        (["x"], "string into Go value of type handlers.jsonPatchOp"),
        (
            [{"op": 1, "path": "/data/a"}],
            "number into Go struct field jsonPatchOp.op of type string",
        ),
    ):
        response = await cluster.raw(
            "PATCH", path(cluster, "configmaps", "pitfall"), body, content_type=JSON_PATCH
        )
        assert response.status == 400, body
        assert response.body["message"] == f"error decoding patch: json: cannot unmarshal {what}"
    unchanged = await cluster.core.read_namespaced_config_map("pitfall", cluster.namespace)
    assert unchanged.data == {"a": "1"}


async def test_unknown_patch_type_is_415(cluster: Cluster) -> None:
    await cluster.configmap("typed")
    response = await cluster.raw(
        "PATCH", path(cluster, "configmaps", "typed"), {"data": {}}, content_type="text/plain"
    )
    assert response.status == 415
    assert response.body["reason"] == "UnsupportedMediaType"


async def test_status_subresource_is_separate(cluster: Cluster) -> None:
    # a pod no node can take: no kubelet writes its status meanwhile
    pod = cluster.pod("held", "sleep 30", nodeSelector={"example.com/nowhere": "true"})
    await cluster.core.create_namespaced_pod(cluster.namespace, pod)
    custom = {"type": "example.com/Checked", "status": "True", "reason": "ByTest"}

    # the main resource ignores status
    main = await cluster.raw(
        "PATCH",
        path(cluster, "pods", "held"),
        {"metadata": {"labels": {"seen": "yes"}}, "status": {"conditions": [custom]}},
        content_type=STRATEGIC,
    )
    assert main.status == 200
    assert main.body["metadata"]["labels"] == {"seen": "yes"}
    types = {c["type"] for c in main.body["status"].get("conditions") or []}
    assert "example.com/Checked" not in types

    # the status subresource ignores spec changes
    status = await cluster.raw(
        "PATCH",
        path(cluster, "pods", "held", "status"),
        {"spec": {"activeDeadlineSeconds": 100}, "status": {"conditions": [custom]}},
        content_type=STRATEGIC,
    )
    assert status.status == 200
    assert status.body["metadata"]["labels"] == {"seen": "yes"}
    assert "activeDeadlineSeconds" not in status.body["spec"]
    conditions = {c["type"]: c for c in status.body["status"]["conditions"]}
    assert conditions["example.com/Checked"]["reason"] == "ByTest"

    # the typed client's status call, and GET of the status subresource
    read = await cluster.core.read_namespaced_pod_status("held", cluster.namespace)
    assert any(c.type == "example.com/Checked" for c in read.status.conditions)


async def test_status_update_with_put(cluster: Cluster) -> None:
    pod = cluster.pod("put", "sleep 30", nodeSelector={"example.com/nowhere": "true"})
    await cluster.core.create_namespaced_pod(cluster.namespace, pod)

    async def scheduled_condition() -> object:
        current = await cluster.core.read_namespaced_pod("put", cluster.namespace)
        return current if current.status.conditions else None

    current = await wait_until(scheduled_condition, timeout=30, message="PodScheduled=False")
    current.status.conditions.append(
        {"type": "example.com/Put", "status": "True", "lastTransitionTime": None}
    )
    current.spec.active_deadline_seconds = 50
    replaced = await cluster.core.replace_namespaced_pod_status("put", cluster.namespace, current)
    assert any(c.type == "example.com/Put" for c in replaced.status.conditions)
    assert replaced.spec.active_deadline_seconds is None
    stale = current
    stale.metadata.resource_version = "1"
    with pytest.raises(ApiException) as caught:
        await cluster.core.replace_namespaced_pod_status("put", cluster.namespace, stale)
    assert caught.value.status == 409
