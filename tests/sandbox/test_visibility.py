"""Kueue's visibility API of pending workloads on the sandbox: positions as Kueue defines them
(0-based, in the ClusterQueue's order; a LocalQueue's list keeps its ClusterQueue's workloads
of that queue name), paging, and 404s for a queue that does not exist or a gate that is off."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import kube_client, wait_until

from .util import job_manifest, workload_of

GROUP = "/apis/visibility.kueue.x-k8s.io/v1beta2"
TEAM, OTHER = "ai-infn-jobs", "u-mario-bianchi"


def _topology(**kueue: bool) -> dict:
    return {
        "namespaces": [TEAM, OTHER],
        "kueue": dict(kueue),
        "sites": [
            {
                "name": "gpu-farm",
                "type": "local",
                "nodes": [{"name": "gpu-farm.node-01", "cpu": "4", "memory": "8Gi", "gpus": 2}],
            }
        ],
    }


async def _get(api: client.ApiClient, path: str, **query: object) -> tuple[int, object]:
    """GET a path through kubernetes_asyncio's ApiClient, as the jobs service does."""
    response = await api.call_api(
        path,
        "GET",
        query_params=list(query.items()),
        auth_settings=["BearerToken"],
        _preload_content=False,
    )
    body = await response.read()
    return response.status, json.loads(body) if response.status == 200 else body


async def _queue_four(api: client.ApiClient) -> None:
    """Four jobs, all waiting (admission stalled): a, c, d in TEAM, b in OTHER, created in
    name order (so equal creation seconds keep that order too)."""
    batch = client.BatchV1Api(api)
    for name, ns in (("a-train", TEAM), ("b-eval", OTHER), ("c-tune", TEAM), ("d-sweep", TEAM)):
        await batch.create_namespaced_job(ns, job_manifest(name, ["true"], queue="gpu-farm"))
        await workload_of(api, name, ns)


async def test_positions_in_the_local_and_cluster_queue(tmp_path) -> None:
    async with Sandbox(_topology()) as sandbox:
        sandbox.faults.stall_admission("gpu-farm")
        api = await kube_client(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
        async with api:
            await _queue_four(api)
            path = f"{GROUP}/namespaces/{TEAM}/localqueues/gpu-farm/pendingworkloads"

            async def four() -> object:
                status, body = await _get(api, path)
                return body if status == 200 and len(body["items"]) == 4 else None

            summary = await wait_until(four, message="four pending workloads")
            paged = (await _get(api, path, offset=1, limit=2))[1]
            cq = (await _get(api, f"{GROUP}/clusterqueues/gpu-farm/pendingworkloads"))[1]
            missing = await _get(
                api, f"{GROUP}/namespaces/{TEAM}/localqueues/nowhere/pendingworkloads"
            )
    assert summary["kind"] == "PendingWorkloadsSummary"
    assert summary["apiVersion"] == "visibility.kueue.x-k8s.io/v1beta2"
    rows = [
        (
            i["metadata"]["name"].split("-")[1],
            i["metadata"]["namespace"],
            i["positionInClusterQueue"],
            i["positionInLocalQueue"],
            i["localQueueName"],
            i["priority"],
        )
        for i in summary["items"]
    ]
    # as Kueue: the LocalQueue's list holds its ClusterQueue's workloads of that queue name,
    # whatever their namespace
    assert rows == [
        ("a", TEAM, 0, 0, "gpu-farm", 0),
        ("b", OTHER, 1, 1, "gpu-farm", 0),
        ("c", TEAM, 2, 2, "gpu-farm", 0),
        ("d", TEAM, 3, 3, "gpu-farm", 0),
    ]
    assert summary["items"][0]["metadata"]["ownerReferences"][0]["name"] == "a-train"
    assert [(i["positionInClusterQueue"], i["positionInLocalQueue"]) for i in paged["items"]] == [
        (1, 1),
        (2, 2),
    ]
    # the ClusterQueue's list: positions in each namespace's LocalQueue
    assert [(i["metadata"]["namespace"], i["positionInLocalQueue"]) for i in cq["items"]] == [
        (TEAM, 0),
        (OTHER, 0),
        (TEAM, 1),
        (TEAM, 2),
    ]
    assert missing[0] == 404
    assert json.loads(missing[1])["reason"] == "NotFound"


async def test_an_admitted_workload_leaves_the_list(tmp_path) -> None:
    async with Sandbox(_topology()) as sandbox:
        api = await kube_client(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
        async with api:
            batch = client.BatchV1Api(api)
            hog = job_manifest("a-hog", ["sleep", "60"], queue="gpu-farm", requests={"cpu": "4"})
            await batch.create_namespaced_job(TEAM, hog)
            await workload_of(api, "a-hog", TEAM)
            waits = job_manifest("b-waits", ["true"], queue="gpu-farm", requests={"cpu": "1"})
            await batch.create_namespaced_job(TEAM, waits)
            path = f"{GROUP}/namespaces/{TEAM}/localqueues/gpu-farm/pendingworkloads"

            async def only_the_second() -> object:
                _, body = await _get(api, path)
                names = [i["metadata"]["ownerReferences"][0]["name"] for i in body["items"]]
                return body if names == ["b-waits"] else None

            summary = await wait_until(only_the_second, message="only b-waits pending")
    assert summary["items"][0]["positionInClusterQueue"] == 0


@pytest.mark.parametrize("kueue", [True, False])
async def test_not_served_without_the_gate_or_kueue(tmp_path, kueue: bool) -> None:
    topology = _topology(visibility_on_demand=False) if kueue else _topology()
    async with Sandbox(topology, kueue=kueue) as sandbox:
        api = await kube_client(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
        async with api:
            status, _ = await _get(
                api, f"{GROUP}/namespaces/{TEAM}/localqueues/gpu-farm/pendingworkloads"
            )
    assert status == 404
