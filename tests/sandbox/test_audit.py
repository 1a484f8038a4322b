"""The audit trail: each Kubernetes request as RBAC sees it (verb, group, resource, subresource,
namespace) with the client's User-Agent, read over the admin API and cleared by reset."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import SandboxProcess
from aiinfn_hub.sandbox.audit import AuditLog, request_info
from aiinfn_hub.sandbox.testing import kube_client, wait_until

from .util import KUEUE

NS = "/api/v1/namespaces/default"
BATCH = "/apis/batch/v1/namespaces/default/jobs"


def _info(method: str, path: str, **query: str) -> tuple[str, ...]:
    found = request_info(method, path, query.get)
    if "nonResourceURL" in found:
        return (found["verb"], found["nonResourceURL"])
    keys = ("verb", "apiGroup", "resource", "subresource", "namespace", "name")
    return tuple(found[k] for k in keys)


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", f"{NS}/pods", {}, ("list", "", "pods", "", "default", "")),
        ("GET", f"{NS}/pods", {"watch": "true"}, ("watch", "", "pods", "", "default", "")),
        ("GET", f"{NS}/pods", {"watch": "1"}, ("watch", "", "pods", "", "default", "")),
        ("GET", f"{NS}/pods", {"watch": "false"}, ("list", "", "pods", "", "default", "")),
        ("GET", "/api/v1/watch/namespaces/default/pods", {},
         ("watch", "", "pods", "", "default", "")),
        ("GET", f"{NS}/pods", {"fieldSelector": "metadata.name=a,status.phase=Running"},
         ("list", "", "pods", "", "default", "a")),
        ("GET", f"{NS}/pods", {"fieldSelector": "metadata.name!=a"},
         ("list", "", "pods", "", "default", "")),
        ("HEAD", f"{NS}/pods/a", {}, ("get", "", "pods", "", "default", "a")),
        ("GET", f"{NS}/pods/a", {"watch": "true"}, ("get", "", "pods", "", "default", "a")),
        ("GET", f"{NS}/pods/a/log", {"follow": "true"},
         ("get", "", "pods", "log", "default", "a")),
        ("POST", f"{NS}/configmaps", {}, ("create", "", "configmaps", "", "default", "")),
        ("PUT", f"{NS}/pods/a/status", {}, ("update", "", "pods", "status", "default", "a")),
        ("PATCH", f"{BATCH}/j", {}, ("patch", "batch", "jobs", "", "default", "j")),
        ("DELETE", f"{BATCH}/j", {}, ("delete", "batch", "jobs", "", "default", "j")),
        ("DELETE", BATCH, {}, ("deletecollection", "batch", "jobs", "", "default", "")),
        ("GET", "/apis/kueue.x-k8s.io/v1beta2/namespaces/default/workloads", {"watch": "true"},
         ("watch", "kueue.x-k8s.io", "workloads", "", "default", "")),
        ("GET", "/apis/batch/v1/jobs", {}, ("list", "batch", "jobs", "", "", "")),
        ("GET", "/api/v1/nodes", {"watch": "true"}, ("watch", "", "nodes", "", "", "")),
        ("PATCH", "/api/v1/nodes/n/status", {}, ("patch", "", "nodes", "status", "", "n")),
        # a namespace is its own namespace; status and finalize are its subresources
        ("GET", "/api/v1/namespaces", {}, ("list", "", "namespaces", "", "", "")),
        ("GET", "/api/v1/namespaces/x", {}, ("get", "", "namespaces", "", "x", "x")),
        ("PUT", "/api/v1/namespaces/x/finalize", {},
         ("update", "", "namespaces", "finalize", "x", "x")),
        # discovery and the like are not resource requests: the method and the path
        ("GET", "/version", {}, ("get", "/version")),
        ("GET", "/api", {}, ("get", "/api")),
        ("GET", "/api/v1", {}, ("get", "/api/v1")),
        ("GET", "/apis/batch/v1", {}, ("get", "/apis/batch/v1")),
        ("GET", "/openapi/v3/apis/batch/v1", {}, ("get", "/openapi/v3/apis/batch/v1")),
    ],
)  # fmt: skip
def test_requests_resolve_as_the_api_server_resolves_them(method, path, query, expected):
    assert _info(method, path, **query) == expected


def test_the_log_is_bounded_and_says_what_fell_off():
    log = AuditLog(size=3)
    for i in range(5):
        log.record("GET", f"/api/v1/namespaces/ns{i}/pods", {}.get, f"agent-{i % 2}")
    read = log.entries()
    assert [e["seq"] for e in read["items"]] == [3, 4, 5]
    assert (read["last"], read["lost"]) == (5, 2)
    assert [e["namespace"] for e in log.entries(since=3)["items"]] == ["ns3", "ns4"]
    assert log.entries(since=3)["lost"] == 0
    assert [e["seq"] for e in log.entries(user_agent="agent-0")["items"]] == [3, 5]
    log.clear()
    assert log.entries(since=5) == {"items": [], "last": 5, "lost": 0}
    log.record("GET", "/version", {}.get, "later")
    assert [e["seq"] for e in log.entries(since=5)["items"]] == [6]


def _seen(sandbox: SandboxProcess, since: int, agent: str) -> list[dict[str, Any]]:
    return sandbox.audit(since, agent)["items"]


async def test_the_sandbox_records_who_asked_for_what(sandbox: SandboxProcess):
    agent = "audit-test/1.0"
    since = sandbox.audit()["last"]
    api = await kube_client(sandbox.kubeconfig)
    api.user_agent = agent
    async with api:
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        custom = client.CustomObjectsApi(api)
        await core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
        await core.read_namespaced_config_map("a", "default")
        await core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
        await core.list_node()
        watch = await batch.list_namespaced_job(
            "default", watch=True, timeout_seconds=1, _preload_content=False
        )
        watch.release()
        await custom.list_namespaced_custom_object(*KUEUE, "default", "workloads")
        with pytest.raises(client.ApiException):
            await core.read_namespaced_pod_log("missing", "default")
        await core.delete_namespaced_config_map("a", "default")
        await core.delete_collection_namespaced_config_map("default")

    def seen() -> list[dict[str, Any]] | None:
        items = _seen(sandbox, since, agent)
        return items if len(items) == 9 and all(e["code"] for e in items) else None

    items = await wait_until(seen, 30, 0.1, "nine answered requests in the audit trail")
    assert [
        (e["verb"], e["apiGroup"], e["resource"], e["subresource"], e["namespace"], e["code"])
        for e in items
    ] == [
        ("create", "", "configmaps", "", "default", 201),
        ("get", "", "configmaps", "", "default", 200),
        ("patch", "", "configmaps", "", "default", 200),
        ("list", "", "nodes", "", "", 200),
        ("watch", "batch", "jobs", "", "default", 200),
        ("list", "kueue.x-k8s.io", "workloads", "", "default", 200),
        ("get", "", "pods", "log", "default", 404),
        ("delete", "", "configmaps", "", "default", 200),
        ("deletecollection", "", "configmaps", "", "default", 200),
    ]
    assert [e["name"] for e in items[:3]] == ["", "a", "a"]
    assert {e["userAgent"] for e in items} == {agent}
    assert [e["seq"] for e in items] == sorted(e["seq"] for e in items)
    # the admin API itself is not audited; reset clears the trail and numbering goes on
    assert not [e for e in _seen(sandbox, since, "") if "/sandbox/" in str(e)]
    last = sandbox.audit()["last"]
    sandbox.reset()
    after = sandbox.audit()
    assert after["items"] == [] and after["last"] == last
