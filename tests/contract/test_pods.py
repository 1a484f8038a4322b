"""Pods: lifecycle and status, logs (also followed), graceful deletion."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio.client import ApiException

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster, status_of

pytestmark = pytest.mark.contract


async def wait_phase(cluster: Cluster, name: str, *phases: str, timeout: float = 120):
    async def check():
        pod = await cluster.core.read_namespaced_pod(name, cluster.namespace)
        return pod if pod.status.phase in phases else None

    return await wait_until(check, timeout=timeout, message=f"pod {name} in {phases}")


async def test_pod_defaults_and_status(cluster: Cluster) -> None:
    created = await cluster.core.create_namespaced_pod(
        cluster.namespace, cluster.pod("status", "exit 3")
    )
    assert created.status.phase == "Pending"
    assert created.spec.scheduler_name == "default-scheduler"
    assert created.spec.service_account_name == "default"
    assert created.spec.dns_policy == "ClusterFirst"
    assert created.spec.containers[0].termination_message_policy == "File"
    assert created.status.qos_class == "BestEffort"
    pod = await wait_phase(cluster, "status", "Failed")
    (container,) = pod.status.container_statuses
    assert container.state.terminated.exit_code == 3
    assert container.state.terminated.reason == "Error"
    assert container.ready is False and container.name == "main"
    assert pod.spec.node_name
    assert {c.type for c in pod.status.conditions} >= {"PodScheduled", "Ready", "Initialized"}


async def test_logs(cluster: Cluster) -> None:
    await cluster.core.create_namespaced_pod(
        cluster.namespace, cluster.pod("talker", "echo one; echo two >&2; echo three")
    )
    await wait_phase(cluster, "talker", "Succeeded")
    text = await cluster.core.read_namespaced_pod_log("talker", cluster.namespace)
    assert text.splitlines() == ["one", "two", "three"]
    tail = await cluster.core.read_namespaced_pod_log("talker", cluster.namespace, tail_lines=1)
    assert tail == "three\n"
    with pytest.raises(ApiException) as caught:
        await cluster.core.read_namespaced_pod_log(
            "talker", cluster.namespace, container="nonesuch"
        )
    assert caught.value.status == 400
    assert status_of(caught.value)["reason"] == "BadRequest"
    with pytest.raises(ApiException) as caught:
        await cluster.core.read_namespaced_pod_log("ghost", cluster.namespace)
    assert caught.value.status == 404


async def test_log_follow_streams_until_the_container_ends(cluster: Cluster) -> None:
    command = "echo first; while [ ! -e /tmp/never ]; do sleep 0.2; i=$((i+1)); "
    command += '[ "$i" -ge 10 ] && break; done; echo last'
    await cluster.core.create_namespaced_pod(cluster.namespace, cluster.pod("follow", command))
    await wait_phase(cluster, "follow", "Running", "Succeeded")
    response = await cluster.core.read_namespaced_pod_log(
        "follow", cluster.namespace, follow=True, _preload_content=False
    )
    lines = []
    try:

        async def read() -> None:
            while line := await response.content.readline():
                lines.append(line.decode().rstrip("\n"))

        await asyncio.wait_for(read(), 120)
    finally:
        response.close()
    assert lines == ["first", "last"]
    await wait_phase(cluster, "follow", "Succeeded")


async def test_graceful_pod_deletion(cluster: Cluster) -> None:
    await cluster.core.create_namespaced_pod(cluster.namespace, cluster.pod("graceful", "sleep 60"))
    running = await wait_phase(cluster, "graceful", "Running")
    since = running.metadata.resource_version
    deleted = await cluster.raw(
        "DELETE",
        f"/api/v1/namespaces/{cluster.namespace}/pods/graceful",
        {"gracePeriodSeconds": 5},
    )
    assert deleted.status == 200
    # a running pod is not gone at once: the answer is the pod, marked for deletion
    assert deleted.body["kind"] == "Pod"
    assert deleted.body["metadata"]["deletionTimestamp"]
    assert deleted.body["metadata"]["deletionGracePeriodSeconds"] == 5
    status, events = await cluster.watch_events(
        f"/api/v1/namespaces/{cluster.namespace}/pods",
        {"resourceVersion": since, "timeoutSeconds": 60, "fieldSelector": "metadata.name=graceful"},
        until=lambda ev: any(e["type"] == "DELETED" for e in ev),
    )
    assert status == 200
    marked = [e for e in events if e["object"]["metadata"].get("deletionTimestamp")]
    assert marked[0]["type"] == "MODIFIED"  # first marked for deletion, then gone
    assert events[-1]["type"] == "DELETED" and len(marked) >= 2
    with pytest.raises(ApiException) as caught:
        await cluster.core.read_namespaced_pod("graceful", cluster.namespace)
    assert caught.value.status == 404


async def test_unscheduled_pod_is_deleted_at_once(cluster: Cluster) -> None:
    pod = cluster.pod("nowhere", "true", nodeSelector={"example.com/nowhere": "true"})
    await cluster.core.create_namespaced_pod(cluster.namespace, pod)
    result = await cluster.core.delete_namespaced_pod("nowhere", cluster.namespace)
    assert result.metadata.name == "nowhere"
    with pytest.raises(ApiException) as caught:
        await cluster.core.read_namespaced_pod("nowhere", cluster.namespace)
    assert caught.value.status == 404


async def test_log_options_are_checked_before_the_pod_is_read(cluster: Cluster) -> None:
    """A log option that is not a whole number is a 400 (the query does not decode); one out
    of range is a 422 Invalid of PodLogOptions naming it, even for a pod that does not exist."""
    await cluster.core.create_namespaced_pod(cluster.namespace, cluster.pod("quiet", "echo hi"))
    await wait_phase(cluster, "quiet", "Succeeded")
    path = f"/api/v1/namespaces/{cluster.namespace}/pods/quiet/log"
    for name, value in (("tailLines", "ten"), ("limitBytes", "1.5"), ("sinceSeconds", "1e3")):
        response = await cluster.raw("GET", path, query={name: value})
        assert (response.status, response.body["reason"]) == (400, "BadRequest"), name
        assert response.body["message"] == f'strconv.ParseInt: parsing "{value}": invalid syntax'
    for pod in ("quiet", "ghost"):
        path = f"/api/v1/namespaces/{cluster.namespace}/pods/{pod}/log"
        query = {"tailLines": "-1", "limitBytes": "0", "sinceSeconds": "0"}
        response = await cluster.raw("GET", path, query=query)
        assert (response.status, response.body["reason"]) == (422, "Invalid"), pod
        details = response.body["details"]
        assert (details["kind"], details["name"]) == ("PodLogOptions", pod)
        assert {c["field"]: c["message"] for c in details["causes"]} == {
            "tailLines": "Invalid value: -1: must be greater than or equal to 0",
            "limitBytes": "Invalid value: 0: must be greater than 0",
            "sinceSeconds": "Invalid value: 0: must be greater than 0",
        }
    # the smallest values each option takes are fine
    text = await cluster.core.read_namespaced_pod_log(
        "quiet", cluster.namespace, tail_lines=0, limit_bytes=1, since_seconds=1
    )
    assert text == ""
    text = await cluster.core.read_namespaced_pod_log("quiet", cluster.namespace, limit_bytes=1)
    assert text == "h"
