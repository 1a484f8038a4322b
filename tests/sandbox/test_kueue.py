"""Kueue-style admission end to end: queues, flavors, quota, conditions, relabelling."""

from __future__ import annotations

import yaml
from kubernetes_asyncio import client

from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import kube_client, wait_until
from aiinfn_hub.sandbox.topology import default_config_text

from .util import (
    KUEUE,
    condition,
    history,
    job_manifest,
    job_pods,
    kueue_type,
    wait_job,
    wait_workload,
)


async def test_local_job_is_admitted_placed_and_finished(kube: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube)
    created = await batch.create_namespaced_job(
        "default", job_manifest("train", ["sh", "-c", "echo trained"], queue="local")
    )
    assert created.spec.suspend is True  # Kueue's webhook suspends it on create
    job = await wait_job(kube, "train")
    assert job.status.succeeded == 1
    assert job.spec.template.spec.node_selector == {"aiinfn.infn.it/site": "local"}
    assert job.spec.template.metadata.labels["kueue.x-k8s.io/podset"] == "main"
    (pod,) = await job_pods(kube, "train")
    assert pod.spec.node_name.startswith("local-")
    wl = await wait_workload(kube, "train", "Finished", reason="Succeeded")
    assert (
        wl["metadata"]["name"].startswith("job-train-")
        and len(wl["metadata"]["name"]) == len("job-train-") + 5
    )
    assert wl["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert wl["status"]["admission"]["clusterQueue"] == "local"
    assert wl["status"]["admission"]["podSetAssignments"][0]["flavors"]["cpu"] == "local"
    for ctype, reason in (
        ("QuotaReserved", "QuotaReserved"),
        ("Admitted", "Admitted"),
        ("PodsReady", "Started"),
    ):
        assert condition(wl, ctype)["reason"] == reason
    events = await client.CoreV1Api(kube).list_namespaced_event(
        "default", field_selector="involvedObject.name=train"
    )
    reasons = {e.reason for e in events.items}
    assert {"CreatedWorkload", "Started", "Suspended", "Resumed", "Completed"} <= reasons


async def test_leonardo_job_gets_flavor_labels_and_tolerations(kube: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube)
    manifest = job_manifest(
        "gpu", ["true"], queue="leonardo", requests={"cpu": "1", "nvidia.com/gpu": "2"}
    )
    await batch.create_namespaced_job("default", manifest)
    job = await wait_job(kube, "gpu")
    spec = job.spec.template.spec
    assert spec.node_selector == {"kubernetes.io/hostname": "vk-leonardo"}
    assert any(t.key == "virtual-node.interlink/no-schedule" for t in spec.tolerations)
    (pod,) = await job_pods(kube, "gpu")
    assert pod.spec.node_name == "vk-leonardo"
    assert pod.metadata.annotations["JobID"].startswith("slurm-")


async def test_quota_exhaustion_waits_then_admits(kube: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube)
    big = job_manifest(
        "big", ["sleep", "60"], queue="leonardo", requests={"cpu": "1", "nvidia.com/gpu": "30"}
    )
    await batch.create_namespaced_job("default", big)
    await wait_workload(kube, "big", "Admitted")
    small = job_manifest(
        "small", ["true"], queue="leonardo", requests={"cpu": "1", "nvidia.com/gpu": "4"}
    )
    await batch.create_namespaced_job("default", small)
    # as a default install writes it: Pending, the detail in the message
    wl = await wait_workload(kube, "small", "QuotaReserved", "False", reason="Pending")
    assert condition(wl, "QuotaReserved")["message"] == (
        "couldn't assign flavors to pod set main: insufficient unused quota for "
        "nvidia.com/gpu in flavor leonardo, 2 more needed"
    )
    assert condition(wl, "Admitted") is None  # never admitted: Kueue writes none
    events = await client.CoreV1Api(kube).list_namespaced_event(
        "default", field_selector=f"involvedObject.name={wl['metadata']['name']}"
    )
    assert any(e.reason == "Pending" and e.type == "Warning" for e in events.items)
    await batch.delete_namespaced_job("big", "default", propagation_policy="Background")
    await wait_workload(kube, "small", "Admitted")
    await wait_job(kube, "small")


async def unsatisfiable(kube: client.ApiClient) -> dict[str, dict]:
    """Three jobs Kueue can never admit, and their QuotaReserved condition: one above the
    flavor's maximum, one no flavor of its queue matches, one for a queue that does not exist."""
    batch = client.BatchV1Api(kube)
    jobs = {
        "huge": job_manifest("huge", ["true"], queue="leonardo", requests={"nvidia.com/gpu": "64"}),
        "pinned": job_manifest(
            "pinned",
            ["true"],
            queue="leonardo",
            node_selector={"kubernetes.io/hostname": "local-cpu-1"},
        ),
        "lost": job_manifest("lost", ["true"], queue="nowhere"),
    }
    found = {}
    for name, manifest in jobs.items():
        await batch.create_namespaced_job("default", manifest)
        wl = await wait_workload(kube, name, "QuotaReserved", "False")
        found[name] = condition(wl, "QuotaReserved")
    return found


EXCEEDS = (
    "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor "
    "leonardo, previously considered podsets requests (0) + current podset request (64) > "
    "maximum capacity (32)"
)
MISMATCH = "couldn't assign flavors to pod set main: flavor leonardo doesn't match node affinity"


async def test_unsatisfiable_requests_are_pending_with_the_reason_in_the_message(
    kube: client.ApiClient,
) -> None:
    """A default install (Kueue 0.17; 0.19 without UnadmittedWorkloadsObservability)."""
    found = await unsatisfiable(kube)
    assert (found["huge"]["reason"], found["huge"]["message"]) == ("Pending", EXCEEDS)
    assert (found["pinned"]["reason"], found["pinned"]["message"]) == ("Pending", MISMATCH)
    lost = found["lost"]
    assert (lost["reason"], lost["message"]) == ("Inadmissible", "LocalQueue nowhere doesn't exist")


async def test_with_the_observability_gate_the_reasons_are_detailed(tmp_path) -> None:
    topology = yaml.safe_load(default_config_text())
    topology["kueue"]["unadmitted_workloads_observability"] = True
    async with Sandbox(topology) as sandbox:
        api = await kube_client(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
        async with api:
            found = await unsatisfiable(api)
            sandbox.faults.stall_admission("tier1")
            await client.BatchV1Api(api).create_namespaced_job(
                "default", job_manifest("waits", ["true"], queue="tier1")
            )
            waits = await wait_workload(api, "waits", "QuotaReserved", "False")
            sandbox.faults.stall_admission("tier1", on=False)
    assert (found["huge"]["reason"], found["huge"]["message"]) == ("ExceedsMaxQuota", EXCEEDS)
    assert (found["pinned"]["reason"], found["pinned"]["message"]) == ("NoMatchingFlavor", MISMATCH)
    lost = found["lost"]
    missing = "LocalQueue nowhere doesn't exist"
    assert (lost["reason"], lost["message"]) == ("Misconfigured", missing)
    assert condition(waits, "QuotaReserved")["reason"] == "WaitingForQuota"


async def test_relabelling_a_suspended_job_moves_its_workload(
    kube: client.ApiClient, sandbox
) -> None:
    sandbox.faults.stall_admission("leonardo")
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job("default", job_manifest("mover", ["true"], queue="leonardo"))
    wl = await wait_workload(kube, "mover", "QuotaReserved", "False", reason="Pending")
    await batch.patch_namespaced_job(
        "mover", "default", {"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "local"}}}
    )
    custom = client.CustomObjectsApi(kube)

    async def moved() -> dict | None:
        current = await custom.get_namespaced_custom_object(
            *KUEUE, "default", "workloads", wl["metadata"]["name"]
        )
        return current if current["spec"]["queueName"] == "local" else None

    await wait_until(moved, message="the workload to move to the local queue")
    admitted = await wait_workload(kube, "mover", "Admitted")
    assert admitted["status"]["admission"]["clusterQueue"] == "local"
    await wait_job(kube, "mover")


async def test_queue_statuses_count_workloads(kube: client.ApiClient) -> None:
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job(
        "default", job_manifest("sleeper", ["sleep", "30"], queue="tier1", requests={"cpu": "4"})
    )
    await wait_workload(kube, "sleeper", "Admitted")
    custom = client.CustomObjectsApi(kube)

    async def counted() -> dict | None:
        cq = await custom.get_cluster_custom_object(*KUEUE, "clusterqueues", "tier1")
        return cq if (cq.get("status") or {}).get("admittedWorkloads") == 1 else None

    cq = await wait_until(counted, message="tier1 to count the admitted workload")
    usage = {r["name"]: r["total"] for r in cq["status"]["flavorsReservation"][0]["resources"]}
    assert usage["cpu"] == "4"
    (pod,) = await wait_until(lambda: job_pods(kube, "sleeper"))
    assert pod.spec.node_name == "vk-tier1"


async def test_pods_ready_timeout_evicts_requeues_and_deactivates(tmp_path) -> None:
    """waitForPodsReady: a workload whose pods never get ready (the remote queue holds them)
    is evicted, requeued after a backoff, and deactivated past the requeuing limit."""
    slow = {
        "namespaces": ["default"],
        "kueue": {
            "pods_ready_timeout": 1,
            "requeue_backoff_base": 0.5,
            "requeue_backoff_limit": 1,
        },
        "sites": [
            {
                "name": "slow",
                "type": "interlink",
                "remote_queue_delay": 300,
                "nodes": [{"name": "vk-slow", "cpu": "8", "memory": "8Gi"}],
            }
        ],
    }
    async with Sandbox(slow) as sandbox:
        api = await kube_client(sandbox.write_kubeconfig(tmp_path / "kubeconfig"))
        async with api:
            batch = client.BatchV1Api(api)
            custom = client.CustomObjectsApi(api)
            since = (await custom.list_namespaced_custom_object(*KUEUE, "default", "workloads"))[
                "metadata"
            ]["resourceVersion"]
            await batch.create_namespaced_job(
                "default", job_manifest("stuck", ["true"], queue="slow")
            )
            seen = await history(
                custom.list_namespaced_custom_object,
                *KUEUE,
                "default",
                "workloads",
                resource_version=since,
                until=lambda w: (
                    (condition(w, "QuotaReserved") or {})
                    .get("message", "")
                    .startswith("The workload is deactivated")
                ),
                timeout_seconds=60,
            )

            def first(ctype: str, status: str, reason: str) -> dict:
                return next(
                    w
                    for w in seen
                    if (c := condition(w, ctype))
                    and (c["status"], c.get("reason")) == (status, reason)
                )

            evicted = first("Evicted", "True", "PodsReadyTimeout")
            assert condition(evicted, "QuotaReserved")["status"] == "True"  # until pods stop
            released = first("Requeued", "False", "PodsReadyTimeout")  # waiting out a backoff
            assert condition(released, "QuotaReserved")["reason"] == "Pending"
            assert released["status"]["requeueState"]["count"] == 1
            backoff_over = first("Requeued", "True", "BackoffFinished")
            readmitted = seen.index(backoff_over) + 1
            assert any(condition(w, "Admitted")["status"] == "True" for w in seen[readmitted:])
            # past the limit Kueue does not evict for the timeout again: it deactivates
            message = (
                "The workload is deactivated due to exceeding the maximum number of re-queuing "
                "retries"
            )
            deactivated = first("Evicted", "True", "DeactivatedDueToRequeuingLimitExceeded")
            assert condition(deactivated, "Evicted")["message"] == message
            assert condition(deactivated, "DeactivationTarget") is None
            assert deactivated["spec"]["active"] is False
            assert "requeueState" not in deactivated["status"]
            assert deactivated["status"]["schedulingStats"]["evictions"] == [
                {"reason": "PodsReadyTimeout", "underlyingCause": "WaitForStart", "count": 1},
                {"reason": "Deactivated", "underlyingCause": "RequeuingLimitExceeded", "count": 1},
            ]
            stopped = seen[-1]
            assert condition(stopped, "QuotaReserved")["reason"] == "Pending"
            requeued = condition(stopped, "Requeued")
            assert (requeued["status"], requeued["reason"]) == (
                "False",
                "DeactivatedDueToRequeuingLimitExceeded",
            )
            job = await batch.read_namespaced_job("stuck", "default")
            assert job.spec.suspend is True
            assert "kueue.x-k8s.io/workload" not in (job.spec.template.metadata.annotations or {})
        assert sandbox.kubelet.running_processes() == 0


async def _queues(kube: client.ApiClient, *cluster_queues: dict) -> None:
    """Two flavors pinned to one node each, and the given ClusterQueues with LocalQueues."""
    custom = client.CustomObjectsApi(kube)
    for flavor, node in (("first", "local-cpu-1"), ("second", "local-cpu-2")):
        body = {
            **kueue_type("ResourceFlavor"),
            "metadata": {"name": flavor},
            "spec": {"nodeLabels": {"kubernetes.io/hostname": node}},
        }
        await custom.create_cluster_custom_object(*KUEUE, "resourceflavors", body)
    for cq in cluster_queues:
        await custom.create_cluster_custom_object(*KUEUE, "clusterqueues", cq)
        lq = {
            **kueue_type("LocalQueue"),
            "metadata": {"name": cq["metadata"]["name"]},
            "spec": {"clusterQueue": cq["metadata"]["name"]},
        }
        await custom.create_namespaced_custom_object(*KUEUE, "default", "localqueues", lq)


def _cq(name: str, flavors: list[tuple[str, str, str | None]], cohort: str | None = None) -> dict:
    spec: dict = {
        "namespaceSelector": {},
        "resourceGroups": [
            {
                "coveredResources": ["cpu", "memory"],
                "flavors": [
                    {
                        "name": flavor,
                        "resources": [
                            {"name": "cpu", "nominalQuota": cpu}
                            | ({"borrowingLimit": limit} if limit else {}),
                            {"name": "memory", "nominalQuota": "64Gi"},
                        ],
                    }
                    for flavor, cpu, limit in flavors
                ],
            }
        ],
    }
    if cohort:
        spec["cohortName"] = cohort
    return {**kueue_type("ClusterQueue"), "metadata": {"name": name}, "spec": spec}


async def test_flavors_are_tried_in_order(kube: client.ApiClient) -> None:
    await _queues(kube, _cq("ordered", [("first", "2", None), ("second", "8", None)]))
    batch = client.BatchV1Api(kube)
    for name, cpu in (("fits-first", "2"), ("spills", "2"), ("too-big-for-first", "4")):
        await batch.create_namespaced_job(
            "default",
            job_manifest(name, ["sleep", "20"], queue="ordered", requests={"cpu": cpu}),
        )
        wl = await wait_workload(kube, name, "Admitted")
        flavor = wl["status"]["admission"]["podSetAssignments"][0]["flavors"]["cpu"]
        expected = "first" if name == "fits-first" else "second"
        assert flavor == expected, name
        job = await batch.read_namespaced_job(name, "default")
        hostname = job.spec.template.spec.node_selector["kubernetes.io/hostname"]
        assert hostname == {"first": "local-cpu-1", "second": "local-cpu-2"}[flavor]
        (pod,) = await wait_until(lambda n=name: job_pods(kube, n))
        await wait_until(
            lambda p=pod: _bound(kube, p.metadata.name), message=f"{name}'s pod to be bound"
        )
        bound = await client.CoreV1Api(kube).read_namespaced_pod(pod.metadata.name, "default")
        assert bound.spec.node_name == hostname


async def _bound(kube: client.ApiClient, name: str) -> bool:
    pod = await client.CoreV1Api(kube).read_namespaced_pod(name, "default")
    return bool(pod.spec.node_name)


async def test_borrowing_within_a_cohort(kube: client.ApiClient) -> None:
    await _queues(
        kube,
        _cq("lender", [("first", "6", None)], cohort="lab"),
        _cq("borrower", [("first", "2", "3")], cohort="lab"),
    )
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job(
        "default", job_manifest("borrows", ["sleep", "20"], queue="borrower", requests={"cpu": "5"})
    )
    await wait_workload(kube, "borrows", "Admitted")
    custom = client.CustomObjectsApi(kube)

    async def borrowed() -> dict | None:
        cq = await custom.get_cluster_custom_object(*KUEUE, "clusterqueues", "borrower")
        usage = ((cq.get("status") or {}).get("flavorsReservation") or [{}])[0]
        cpu = next((r for r in usage.get("resources") or [] if r["name"] == "cpu"), None)
        return cpu if cpu and cpu["total"] == "5" else None

    assert (await wait_until(borrowed, message="the borrower's usage"))["borrowed"] == "3"
    # beyond nominal + borrowingLimit (2 + 3): never admissible
    await batch.create_namespaced_job(
        "default", job_manifest("greedy", ["true"], queue="borrower", requests={"cpu": "6"})
    )
    wl = await wait_workload(kube, "greedy", "QuotaReserved", "False", reason="Pending")
    assert "request (6) > maximum capacity (5)" in condition(wl, "QuotaReserved")["message"]
    # the lender has 6 - 3 lent = 3 left: a 4-cpu job waits for quota
    await batch.create_namespaced_job(
        "default", job_manifest("lender-job", ["true"], queue="lender", requests={"cpu": "4"})
    )
    wl = await wait_workload(kube, "lender-job", "QuotaReserved", "False", reason="Pending")
    assert "insufficient unused quota" in condition(wl, "QuotaReserved")["message"]
    await batch.delete_namespaced_job("borrows", "default", propagation_policy="Background")
    await wait_workload(kube, "lender-job", "Admitted")  # reclaimed once the borrower is done


async def test_a_waiting_workload_is_judged_again_when_its_queue_changes(
    kube: client.ApiClient,
) -> None:
    await _queues(kube, _cq("growing", [("first", "2", None)]))
    batch = client.BatchV1Api(kube)
    await batch.create_namespaced_job(
        "default", job_manifest("grows", ["true"], queue="growing", requests={"cpu": "4"})
    )
    wl = await wait_workload(kube, "grows", "QuotaReserved", "False", reason="Pending")
    assert "request (4) > maximum capacity (2)" in condition(wl, "QuotaReserved")["message"]
    await client.CustomObjectsApi(kube).patch_cluster_custom_object(
        *KUEUE,
        "clusterqueues",
        "growing",
        {"spec": _cq("growing", [("first", "8", None)])["spec"]},
        _content_type="application/merge-patch+json",
    )
    wl = await wait_workload(kube, "grows", "Admitted")
    assert wl["status"]["admission"]["podSetAssignments"][0]["flavors"]["cpu"] == "first"
    await wait_job(kube, "grows")
