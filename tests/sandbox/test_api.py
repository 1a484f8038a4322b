"""API server details beyond the contract suite: what only the sandbox can be made to do
(compaction, a required token) and bad requests answered in words, never a 500."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import Sandbox, SandboxProcess
from aiinfn_hub.sandbox.testing import kube_client

from .util import KUEUE, job_manifest, kueue_type, pod_manifest, wait_job, wait_pod


async def test_an_expired_continue_token_is_410(
    kube: client.ApiClient, sandbox: SandboxProcess
) -> None:
    core = client.CoreV1Api(kube)
    for i in range(3):
        await core.create_namespaced_config_map("default", {"metadata": {"name": f"cm-{i}"}})
    first = await core.list_namespaced_config_map("default", limit=1)
    assert first.metadata._continue
    await core.create_namespaced_config_map("default", {"metadata": {"name": "later"}})
    sandbox.compact()  # as etcd compaction: the first page's revision is no longer kept
    with pytest.raises(client.ApiException) as caught:
        await core.list_namespaced_config_map(
            "default", limit=1, _continue=first.metadata._continue
        )
    body = json.loads(caught.value.body)
    assert (caught.value.status, body["reason"], body["code"]) == (410, "Expired", 410)
    assert body["message"].startswith("The provided continue parameter is too old")


async def test_resource_versions_are_one_global_counter(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    a = await core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    b = await core.create_namespaced_secret("default", {"metadata": {"name": "b"}})
    c = await core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    versions = [int(o.metadata.resource_version) for o in (a, b, c)]
    assert versions == sorted(versions) and len(set(versions)) == 3
    listed = await core.list_namespaced_pod("default")
    assert int(listed.metadata.resource_version) >= versions[-1]


async def test_bad_requests_are_answered_in_words(sandbox: SandboxProcess) -> None:
    path = f"{sandbox.url}/api/v1/namespaces/default/configmaps"
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        cases = [
            ("POST", path, b"{not json", "application/json", 400, "BadRequest"),
            ("POST", path, b"[1, 2]", "application/json", 400, "BadRequest"),
            ("POST", path, b"k8s\x00\x0a", "application/vnd.kubernetes.protobuf", 415, None),
            ("GET", path + "?limit=ten", None, "application/json", 400, "BadRequest"),
            ("GET", path + "?watch=true&resourceVersion=x", None, "", 400, "BadRequest"),
            ("DELETE", path + "/x?propagationPolicy=Sideways", None, "", 404, "NotFound"),
            ("PUT", f"{sandbox.url}/api/v1/namespaces/default/pods", b"{}", "", 405, None),
        ]
        for method, url, body, kind, code, reason in cases:
            async with http.request(
                method, url, data=body, headers={"Content-Type": kind} if kind else {}
            ) as response:
                status = await response.json()
                assert response.status == code, (method, url, status)
                assert status["kind"] == "Status" and status["code"] == code
                assert status["message"]
                if reason:
                    assert status["reason"] == reason


async def test_malformed_objects_are_refused_and_leave_the_controllers_working(
    kube: client.ApiClient,
) -> None:
    """Objects the scheduler and Kueue would choke on (a list for a nodeSelector, a quota
    that is no quantity) are refused as a real server refuses them; work goes on."""
    core = client.CoreV1Api(kube)
    custom = client.CustomObjectsApi(kube)
    bad_pod = pod_manifest("bad", ["true"], nodeSelector=["local"])
    with pytest.raises(client.ApiException) as caught:
        await core.create_namespaced_pod("default", bad_pod)
    assert caught.value.status == 400
    assert "spec.nodeSelector of type map[string]string" in json.loads(caught.value.body)["message"]
    flavors = [{"name": "local", "resources": [{"name": "cpu", "nominalQuota": "plenty"}]}]
    bad_queue = {
        **kueue_type("ClusterQueue"),
        "metadata": {"name": "bad"},
        "spec": {"resourceGroups": [{"coveredResources": ["cpu"], "flavors": flavors}]},
    }
    with pytest.raises(client.ApiException) as caught:
        await custom.create_cluster_custom_object(*KUEUE, "clusterqueues", bad_queue)
    status = json.loads(caught.value.body)
    assert caught.value.status == 400  # Kueue's mutating webhook cannot decode it
    assert status["message"].startswith('admission webhook "mclusterqueue.kb.io" denied')
    assert "quantities must match the regular expression" in status["message"]
    strategic = "application/strategic-merge-patch+json"
    await core.create_namespaced_pod("default", pod_manifest("good", ["sleep", "60"]))
    with pytest.raises(client.ApiException) as caught:
        await core.patch_namespaced_pod(
            "good", "default", {"spec": {"$setElementOrder/containers": 5}}, _content_type=strategic
        )
    assert caught.value.status == 400
    await wait_pod(kube, "good", lambda pod: pod.status.phase == "Running")
    await client.BatchV1Api(kube).create_namespaced_job(
        "default", job_manifest("queued", ["true"], queue="local")
    )
    await wait_job(kube, "queued")


async def test_a_required_token_is_checked(tmp_path: Path) -> None:
    async with Sandbox(require_token=True) as sandbox:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{sandbox.url}/api/v1/namespaces") as response:
                assert response.status == 401
                body = await response.json()
                assert (body["reason"], body["code"]) == ("Unauthorized", 401)
            async with http.get(f"{sandbox.url}/version") as response:
                assert response.status == 200  # as a real server, version needs no token
        api = await kube_client(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
        async with api:
            namespaces = await client.CoreV1Api(api).list_namespace()
            assert {"default", "kube-system"} <= {n.metadata.name for n in namespaces.items}
