"""Discovery: what kubectl and the Python clients read to find resources."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from .cluster import Cluster

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("path", ["/api", "/api/"])
async def test_core_versions(cluster: Cluster, path: str) -> None:
    response = await cluster.raw("GET", path)
    assert response.status == 200
    assert response.body["kind"] == "APIVersions"
    assert "v1" in response.body["versions"]
    assert response.body["serverAddressByClientCIDRs"]


@pytest.mark.parametrize("path", ["/apis", "/apis/"])
async def test_group_list(cluster: Cluster, path: str) -> None:
    response = await cluster.raw("GET", path)
    assert response.status == 200
    assert response.body["kind"] == "APIGroupList"
    batch = next(g for g in response.body["groups"] if g["name"] == "batch")
    assert {"groupVersion": "batch/v1", "version": "v1"} in batch["versions"]
    assert batch["preferredVersion"] in batch["versions"]


@pytest.mark.parametrize("path", ["/apis/batch", "/apis/batch/"])
async def test_group(cluster: Cluster, path: str) -> None:
    response = await cluster.raw("GET", path)
    assert response.status == 200
    assert response.body["kind"] == "APIGroup"
    assert response.body["name"] == "batch"
    assert response.body["preferredVersion"] == {"groupVersion": "batch/v1", "version": "v1"}


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/"])
async def test_core_resources(cluster: Cluster, path: str) -> None:
    response = await cluster.raw("GET", path)
    assert response.status == 200
    doc = response.body
    assert doc["kind"] == "APIResourceList"
    assert doc["groupVersion"] == "v1"  # not "/v1": kubectl would look elsewhere for pods
    resources = {r["name"]: r for r in doc["resources"]}
    for name in (
        "namespaces",
        "pods",
        "pods/status",
        "pods/log",
        "events",
        "nodes",
        "nodes/status",
        "configmaps",
        "secrets",
        "services",
        "persistentvolumeclaims",
        "serviceaccounts",
    ):
        assert name in resources, name
    pods = resources["pods"]
    assert pods["kind"] == "Pod" and pods["namespaced"] is True
    assert {"create", "get", "list", "watch", "patch", "update", "delete"} <= set(pods["verbs"])
    assert "po" in pods["shortNames"]
    assert resources["nodes"]["namespaced"] is False
    eviction = resources["pods/eviction"]  # kubectl drain looks for it
    kind = (eviction["group"], eviction["version"], eviction["kind"])
    assert kind == ("policy", "v1", "Eviction") and eviction["verbs"] == ["create"]


@pytest.mark.parametrize("path", ["/apis/batch/v1", "/apis/batch/v1/"])
async def test_batch_resources(cluster: Cluster, path: str) -> None:
    response = await cluster.raw("GET", path)
    assert response.status == 200
    assert response.body["groupVersion"] == "batch/v1"
    names = {r["name"] for r in response.body["resources"]}
    assert {"jobs", "jobs/status"} <= names


async def test_typed_clients_discover(cluster: Cluster) -> None:
    """The calls the Python clients make (with trailing slashes)."""
    core = await client.CoreApi(cluster.api).get_api_versions()
    assert "v1" in core.versions
    resources = await cluster.core.get_api_resources()
    assert resources.group_version == "v1"
    batch = await cluster.batch.get_api_resources()
    assert any(r.name == "jobs" for r in batch.resources)
    group = await client.BatchApi(cluster.api).get_api_group()
    assert group.name == "batch"
    version = await client.VersionApi(cluster.api).get_code()
    assert version.major and version.git_version


async def test_the_root_lists_the_paths(cluster: Cluster) -> None:
    response = await cluster.raw("GET", "/")
    assert response.status == 200
    paths = response.body["paths"]
    assert {"/api", "/api/v1", "/apis", "/apis/batch", "/apis/batch/v1", "/version"} <= set(paths)
    assert paths == sorted(paths)


async def test_unknown_paths_of_a_served_group_are_404_status(cluster: Cluster) -> None:
    paths = (
        "/api/v1/nosuchthings",
        "/api/v9",
        "/apis/batch/v9",
        "/apis/batch/v1/nosuchthings",
        f"/apis/batch/v1/namespaces/{cluster.namespace}/jobs/x/nosub",
    )
    for path in paths:
        response = await cluster.raw("GET", path)
        assert response.status == 404, path
        assert response.body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "details": {},
            "code": 404,
        }, path


async def test_paths_no_group_serves_are_a_plain_404(cluster: Cluster) -> None:
    """An unknown group, a path outside /api and /apis, and an unknown version or resource of
    a custom resource's group are answered by the server's last handler: text, no Status."""
    paths = [
        "/apis/nowhere.example.com/v1",
        "/apis/nowhere.example.com",
        "/nothing/here",
    ]
    version = await cluster.preferred_version("kueue.x-k8s.io")
    if version is not None:  # a custom resource's group
        paths += ["/apis/kueue.x-k8s.io/v0", f"/apis/kueue.x-k8s.io/{version}/nosuchthings"]
    for method, path in [("GET", p) for p in paths] + [("POST", "/nothing/here")]:
        response = await cluster.raw(method, path, {} if method == "POST" else None)
        assert response.status == 404, path
        assert response.body == "404 page not found\n", path
        assert response.content_type.startswith("text/plain"), path


async def test_methods_a_path_does_not_take_are_405(cluster: Cluster) -> None:
    configmaps = f"/api/v1/namespaces/{cluster.namespace}/configmaps"
    await cluster.configmap("fixed")
    for method, path in (
        ("POST", "/api"),
        ("POST", "/api/v1"),
        ("DELETE", "/apis/batch/v1"),
        ("PUT", configmaps),
        ("POST", f"{configmaps}/fixed"),
        ("DELETE", f"/api/v1/namespaces/{cluster.namespace}/pods/x/status"),
    ):
        response = await cluster.raw(method, path, {})
        assert response.status == 405, (method, path)
        assert response.body["reason"] == "MethodNotAllowed"
        assert response.body["message"] == (
            "the server does not allow this method on the requested resource"
        )
