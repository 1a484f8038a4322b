"""Kueue's own words for a workload it can never admit, and for a deactivation.

Written to Kueue v0.17's source (without the UnadmittedWorkloadsObservability gate, as a
default install runs): pkg/scheduler/flavorassigner (``fitsResourceQuota``'s message),
pkg/scheduler/scheduler.go (``requeueAndUpdate``: QuotaReserved=False reason ``Pending``, a
``Pending`` Warning event), pkg/workload/admissionchecks.go (``SyncAdmittedCondition``: no
Admitted condition for a workload never admitted), pkg/controller/core/workload_controller.go
(``spec.active`` false: ``Evict`` with reason ``Deactivated``) and pkg/controller/jobframework
(the Job stopped, then QuotaReserved=False ``Pending`` and Requeued=False with the eviction's
reason). The jobs service's reading of those words is checked on them here too.
"""

from __future__ import annotations

import pytest

from aiinfn_hub.jobs.kueuewords import eviction_reason, quota_reason
from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster
from .test_kueue import GROUP, MERGE, condition

pytestmark = pytest.mark.contract


async def until_condition(cluster: Cluster, version: str, uid: str, ctype: str, status: str):
    """The Job ``uid``'s Workload once its condition ``ctype`` has ``status``."""

    async def reached():
        wl = await cluster.workload_of(version, uid)
        cond = condition(wl, ctype) if wl else None
        return wl if cond and cond["status"] == status else None

    return await wait_until(reached, timeout=120, message=f"{ctype}={status} on the Workload")


async def queued_job(cluster: Cluster, name: str, command: str, cpu: str) -> str:
    job = cluster.job(name, command, labels={"kueue.x-k8s.io/queue-name": "queue"})
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": cpu, "memory": "64Mi"}
    }
    created = await cluster.batch.create_namespaced_job(cluster.namespace, job)
    return created.metadata.uid


async def test_a_workload_above_the_nominal_quota_is_pending_and_says_why(
    cluster: Cluster, kueue: str
) -> None:
    # the ClusterQueue has 1 cpu and no cohort, so nothing to borrow: never admissible
    uid = await queued_job(cluster, "too-big", "true", "2")

    wl = await until_condition(cluster, kueue, uid, "QuotaReserved", "False")
    cond = condition(wl, "QuotaReserved")
    assert cond["reason"] == "Pending"
    assert cond["message"] == (
        f"couldn't assign flavors to pod set main: insufficient quota for cpu in flavor "
        f"{cluster.namespace}, previously considered podsets requests (0) + current podset "
        "request (2) > maximum capacity (1)"
    )
    assert condition(wl, "Admitted") is None  # never admitted: Kueue writes none
    assert quota_reason(cond["reason"], cond["message"]) == "ExceedsMaxQuota"

    async def warned():
        events = await cluster.core.list_namespaced_event(
            cluster.namespace,
            field_selector=f"involvedObject.kind=Workload,involvedObject.name={wl['metadata']['name']}",
        )
        return [e for e in events.items if e.reason == "Pending"]

    (event, *_) = await wait_until(warned, timeout=60, message="Kueue's Pending event")
    assert event.type == "Warning" and event.message == cond["message"]
    job = await cluster.batch.read_namespaced_job("too-big", cluster.namespace)
    assert job.spec.suspend is True


async def test_a_deactivated_workload_is_evicted_as_deactivated(
    cluster: Cluster, kueue: str
) -> None:
    uid = await queued_job(cluster, "deactivated", "sleep 300", "100m")

    wl = await until_condition(cluster, kueue, uid, "Admitted", "True")
    name = wl["metadata"]["name"]
    await cluster.custom.patch_namespaced_custom_object(
        GROUP, kueue, cluster.namespace, "workloads", name, {"spec": {"active": False}},
        _content_type=MERGE,
    )  # fmt: skip

    wl = await until_condition(cluster, kueue, uid, "QuotaReserved", "False")  # released
    evicted = condition(wl, "Evicted")
    assert (evicted["status"], evicted["reason"]) == ("True", "Deactivated")
    assert evicted["message"] == "The workload is deactivated"
    assert eviction_reason(evicted["reason"]) == "Deactivated"
    reserved = condition(wl, "QuotaReserved")
    assert (reserved["reason"], reserved["message"]) == ("Pending", "The workload is deactivated")
    requeued = condition(wl, "Requeued")
    assert (requeued["status"], requeued["reason"]) == ("False", "Deactivated")
    assert wl["status"]["schedulingStats"]["evictions"] == [
        {"reason": "Deactivated", "underlyingCause": "", "count": 1}
    ]
    assert "admission" not in wl["status"]
    job = await cluster.batch.read_namespaced_job("deactivated", cluster.namespace)
    assert job.spec.suspend is True


async def test_a_stopped_cluster_queue_leaves_its_workloads_inadmissible_as_inactive(
    cluster: Cluster, kueue: str
) -> None:
    """``stopPolicy: Hold``: a pending workload reads as any inactive ClusterQueue's (Kueue
    0.17's workload controller: ``ClusterQueue X is inactive``), not "stopped"."""
    name = cluster.namespace
    await cluster.custom.patch_cluster_custom_object(
        GROUP, kueue, "clusterqueues", name, {"spec": {"stopPolicy": "Hold"}},
        _content_type=MERGE,
    )  # fmt: skip
    uid = await queued_job(cluster, "held", "true", "100m")

    wl = await until_condition(cluster, kueue, uid, "QuotaReserved", "False")
    cond = condition(wl, "QuotaReserved")
    assert (cond["reason"], cond["message"]) == ("Inadmissible", f"ClusterQueue {name} is inactive")
    job = await cluster.batch.read_namespaced_job("held", cluster.namespace)
    assert job.spec.suspend is True
