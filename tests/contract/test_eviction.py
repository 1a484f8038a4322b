"""The eviction API, as ``kubectl drain`` and the cluster autoscaler use it (no
PodDisruptionBudget covers these pods): the pod marked ``DisruptionTarget``, then deleted,
and the condition kept by the kubelet to the end. The jobs service reads that condition to
tell a job Kubernetes stopped from one whose code failed."""

from __future__ import annotations

import pytest

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster
from .test_pods import wait_phase

pytestmark = pytest.mark.contract

MARK = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "EvictionByEvictionAPI",
    "message": "Eviction API: evicting",
}


def eviction(name: str, namespace: str, **extra: object) -> dict:
    metadata = {"name": name, "namespace": namespace}
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": metadata, **extra}


def marked(pod: dict) -> dict | None:
    """The pod's DisruptionTarget condition, without its time."""
    for found in (pod.get("status") or {}).get("conditions") or ():
        if found["type"] == "DisruptionTarget":
            return {k: found.get(k) for k in MARK}
    return None


def summary(pod: dict) -> dict:
    """What a failure should show of a pod: its node, phase, deletion, conditions."""
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    return {
        "node": (pod.get("spec") or {}).get("nodeName"),
        "phase": status.get("phase"),
        "deleting": meta.get("deletionTimestamp"),
        "finalizers": meta.get("finalizers"),
        "conditions": [(c["type"], c["status"]) for c in status.get("conditions") or ()],
        "resourceVersion": meta.get("resourceVersion"),
        "reason": pod.get("reason"),  # a Status, when the pod is gone
    }


async def test_an_eviction_marks_the_pod_then_deletes_it(cluster: Cluster) -> None:
    ns = cluster.namespace
    await cluster.core.create_namespaced_pod(ns, cluster.pod("drained", "sleep 60"))
    running = await wait_phase(cluster, "drained", "Running")
    since = running.metadata.resource_version
    path = f"/api/v1/namespaces/{ns}/pods/drained/eviction"
    answer = await cluster.raw("POST", path, eviction("drained", ns))
    assert answer.status == 201, answer.body
    assert (answer.body["kind"], answer.body["status"]) == ("Status", "Success")
    status, events = await cluster.watch_events(
        f"/api/v1/namespaces/{ns}/pods",
        {"resourceVersion": since, "timeoutSeconds": 60, "fieldSelector": "metadata.name=drained"},
        until=lambda ev: any(e["type"] == "DELETED" for e in ev),
    )
    if not events or events[-1]["type"] != "DELETED":  # say what was seen, and what is there
        now = await cluster.raw("GET", f"/api/v1/namespaces/{ns}/pods/drained")
        seen = [(e["type"], summary(e["object"])) for e in events]
        raise AssertionError(f"not deleted within 60 s; events {seen}; now {summary(now.body)}")
    assert status == 200
    pods = [e["object"] for e in events]
    first = next(i for i, pod in enumerate(pods) if marked(pod))
    assert marked(pods[first]) == MARK
    assert not pods[first]["metadata"].get("deletionTimestamp")  # marked, then deleted
    # and the kubelet, writing the pod's end, keeps the condition it did not write
    assert all(marked(pod) == MARK for pod in pods[first:]), pods
    assert pods[-1]["status"]["phase"] == "Failed"


async def test_an_eviction_that_cannot_be_done_says_why(cluster: Cluster) -> None:
    ns = cluster.namespace
    await cluster.core.create_namespaced_pod(ns, cluster.pod("kept", "sleep 60"))
    path = f"/api/v1/namespaces/{ns}/pods/kept/eviction"
    other = await cluster.raw("POST", path, eviction("someone-else", ns))
    assert (other.status, other.body["reason"]) == (400, "BadRequest")
    assert other.body["message"] == "name in URL does not match name in Eviction object"
    ghost = await cluster.raw(
        "POST", f"/api/v1/namespaces/{ns}/pods/ghost/eviction", eviction("ghost", ns)
    )
    assert (ghost.status, ghost.body["reason"]) == (404, "NotFound")
    assert ghost.body["message"] == 'pods "ghost" not found'
    read = await cluster.raw("GET", path)
    assert read.status == 405
    pod = await cluster.core.read_namespaced_pod("kept", ns)
    assert pod.metadata.deletion_timestamp is None


async def test_a_jobs_evicted_pod_counts_as_failed(cluster: Cluster) -> None:
    """The Job controller counts a pod someone else stops as failed (``backoffLimit: 0``: the
    Job fails), not as one to replace unseen."""
    ns = cluster.namespace
    await cluster.batch.create_namespaced_job(
        ns, cluster.job("evicted-job", "sleep 60", backoffLimit=0)
    )

    async def running_pod() -> str | None:
        found = await cluster.core.list_namespaced_pod(ns, label_selector="job-name=evicted-job")
        return next((p.metadata.name for p in found.items if p.status.phase == "Running"), None)

    name = await wait_until(running_pod, timeout=120, message="the job's pod running")
    answer = await cluster.raw(
        "POST", f"/api/v1/namespaces/{ns}/pods/{name}/eviction", eviction(name, ns)
    )
    assert answer.status == 201, answer.body

    async def failed() -> dict | None:
        job = await cluster.batch.read_namespaced_job("evicted-job", ns)
        done = {c.type: c.reason for c in job.status.conditions or () if c.status == "True"}
        return job if "Failed" in done else None

    job = await wait_until(failed, timeout=120, message="the Job failed")
    reasons = {c.type: c.reason for c in job.status.conditions}
    assert reasons["Failed"] == "BackoffLimitExceeded"
    assert job.status.failed == 1 and not job.status.succeeded
