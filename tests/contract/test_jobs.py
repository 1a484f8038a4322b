"""batch/v1 Jobs: the Job controller's lifecycle, and deletion with its propagation policies."""

from __future__ import annotations

import pytest
from kubernetes_asyncio.client import ApiException

from aiinfn_hub.sandbox.testing import wait_until

from .cluster import Cluster

pytestmark = pytest.mark.contract
TIMEOUT = 180  # a real cluster backs off 10 s, 20 s, ... between failed pods


async def wait_condition(cluster: Cluster, name: str, ctype: str, timeout: float = TIMEOUT):
    async def check():
        job = await cluster.batch.read_namespaced_job(name, cluster.namespace)
        for cond in job.status.conditions or []:
            if cond.type == ctype and cond.status == "True":
                return job
        return None

    return await wait_until(check, timeout=timeout, message=f"job {name} {ctype}")


async def pods_of(cluster: Cluster, job: str) -> list:
    listed = await cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=f"batch.kubernetes.io/job-name={job}"
    )
    return listed.items


def condition(job, ctype: str):
    return next((c for c in job.status.conditions or [] if c.type == ctype), None)


async def test_completions_and_parallelism(cluster: Cluster) -> None:
    body = cluster.job("trio", "echo done", completions=3, parallelism=2)
    created = await cluster.batch.create_namespaced_job(cluster.namespace, body)
    assert created.spec.backoff_limit == 6 and created.spec.completion_mode == "NonIndexed"
    assert created.spec.suspend is False
    uid = created.metadata.uid
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    job = await wait_condition(cluster, "trio", "Complete")
    assert job.status.succeeded == 3 and not job.status.failed and not job.status.active
    assert job.status.start_time and job.status.completion_time
    assert condition(job, "Complete").reason in (None, "", "CompletionsReached")
    pods = await pods_of(cluster, "trio")
    assert len(pods) == 3 and {p.status.phase for p in pods} == {"Succeeded"}
    for pod in pods:
        assert pod.metadata.name.startswith("trio-")
        assert pod.metadata.labels["job-name"] == "trio"
        assert pod.metadata.labels["batch.kubernetes.io/controller-uid"] == uid
        (owner,) = pod.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == ("Job", "trio", uid, True)
    events = await cluster.core.list_namespaced_event(
        cluster.namespace, field_selector="involvedObject.kind=Job,involvedObject.name=trio"
    )
    reasons = {e.reason for e in events.items}
    assert {"SuccessfulCreate", "Completed"} <= reasons


async def test_indexed_completion(cluster: Cluster) -> None:
    body = cluster.job(
        "indexed",
        'echo "index $JOB_COMPLETION_INDEX"',
        completions=3,
        parallelism=3,
        completionMode="Indexed",
    )
    await cluster.batch.create_namespaced_job(cluster.namespace, body)
    job = await wait_condition(cluster, "indexed", "Complete")
    assert job.status.completed_indexes == "0-2" and job.status.succeeded == 3
    seen = {}
    for pod in await pods_of(cluster, "indexed"):
        index = pod.metadata.annotations["batch.kubernetes.io/job-completion-index"]
        assert pod.metadata.labels["batch.kubernetes.io/job-completion-index"] == index
        assert pod.metadata.name.startswith(f"indexed-{index}-")
        seen[index] = await cluster.core.read_namespaced_pod_log(
            pod.metadata.name, cluster.namespace
        )
    assert seen == {i: f"index {i}\n" for i in ("0", "1", "2")}


async def test_backoff_limit(cluster: Cluster) -> None:
    body = cluster.job("flaky", "exit 2", backoffLimit=1)
    await cluster.batch.create_namespaced_job(cluster.namespace, body)
    job = await wait_condition(cluster, "flaky", "Failed")
    failed = condition(job, "Failed")
    assert failed.reason == "BackoffLimitExceeded"
    assert failed.message == "Job has reached the specified backoff limit"
    assert job.status.failed == 2 and not job.status.succeeded
    assert condition(job, "Complete") is None
    pods = await pods_of(cluster, "flaky")
    assert len(pods) == 2 and {p.status.phase for p in pods} == {"Failed"}


async def test_active_deadline(cluster: Cluster) -> None:
    body = cluster.job("slow", "sleep 120", activeDeadlineSeconds=3)
    await cluster.batch.create_namespaced_job(cluster.namespace, body)
    job = await wait_condition(cluster, "slow", "Failed")
    failed = condition(job, "Failed")
    assert failed.reason == "DeadlineExceeded"
    assert failed.message == "Job was active longer than specified deadline"

    async def no_pod_left() -> bool:
        pods = await pods_of(cluster, "slow")
        return all(p.status.phase in ("Failed", "Succeeded") for p in pods)

    await wait_until(no_pod_left, timeout=TIMEOUT, message="the deadline to stop the pod")


async def test_suspend_and_resume(cluster: Cluster) -> None:
    body = cluster.job("paused", "echo resumed", suspend=True)
    await cluster.batch.create_namespaced_job(cluster.namespace, body)
    job = await wait_condition(cluster, "paused", "Suspended")
    suspended = condition(job, "Suspended")
    assert suspended.reason == "JobSuspended" and suspended.message == "Job suspended"
    assert await pods_of(cluster, "paused") == []
    assert not job.status.active and job.status.start_time is None
    await cluster.batch.patch_namespaced_job(
        "paused", cluster.namespace, {"spec": {"suspend": False}}
    )
    job = await wait_condition(cluster, "paused", "Complete")
    resumed = condition(job, "Suspended")
    assert resumed.status == "False" and resumed.reason == "JobResumed"
    events = await cluster.core.list_namespaced_event(
        cluster.namespace, field_selector="involvedObject.name=paused"
    )
    assert {"Suspended", "Resumed"} <= {e.reason for e in events.items}


async def running_job(cluster: Cluster, name: str) -> list:
    # pods that ignore SIGTERM: they outlive a deletion by their grace period (2 s)
    body = cluster.job(name, "trap '' TERM; sleep 120", parallelism=2, completions=2)
    await cluster.batch.create_namespaced_job(cluster.namespace, body)

    async def two_pods():
        pods = await pods_of(cluster, name)
        running = [p for p in pods if p.status.phase == "Running"]
        return running if len(running) == 2 else None

    return await wait_until(two_pods, timeout=TIMEOUT, message=f"the pods of {name}")


async def gone(call) -> bool:
    try:
        await call
        return False
    except ApiException as exc:
        if exc.status == 404:
            return True
        raise


async def all_gone(cluster: Cluster, pods: list) -> bool:
    for pod in pods:
        if not await gone(cluster.core.read_namespaced_pod(pod.metadata.name, cluster.namespace)):
            return False
    return True


async def test_delete_background_removes_the_pods(cluster: Cluster) -> None:
    pods = await running_job(cluster, "bg")
    await cluster.batch.delete_namespaced_job(
        "bg", cluster.namespace, propagation_policy="Background"
    )
    assert await gone(cluster.batch.read_namespaced_job("bg", cluster.namespace))

    await wait_until(
        lambda: all_gone(cluster, pods), timeout=TIMEOUT, message="the garbage collector"
    )


async def test_delete_foreground_waits_for_the_pods(cluster: Cluster) -> None:
    pods = await running_job(cluster, "fg")
    await cluster.batch.delete_namespaced_job(
        "fg", cluster.namespace, propagation_policy="Foreground"
    )
    job = await cluster.batch.read_namespaced_job("fg", cluster.namespace)
    assert job.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in job.metadata.finalizers

    async def job_and_pods_gone() -> bool:
        job_gone = await gone(cluster.batch.read_namespaced_job("fg", cluster.namespace))
        return job_gone and await all_gone(cluster, pods)

    await wait_until(job_and_pods_gone, timeout=TIMEOUT, message="the foreground deletion")


@pytest.mark.parametrize("policy", ["Orphan", None])
async def test_delete_orphan_keeps_the_pods(cluster: Cluster, policy: str | None) -> None:
    """Orphan is also what the API does for batch/v1 Jobs when no policy is given."""
    pods = await running_job(cluster, "orphaner")
    kwargs = {"propagation_policy": policy} if policy else {}
    await cluster.batch.delete_namespaced_job("orphaner", cluster.namespace, **kwargs)

    async def orphaned():
        current = [
            await cluster.core.read_namespaced_pod(p.metadata.name, cluster.namespace) for p in pods
        ]
        return current if all(not p.metadata.owner_references for p in current) else None

    await wait_until(
        lambda: gone(cluster.batch.read_namespaced_job("orphaner", cluster.namespace)),
        timeout=TIMEOUT,
        message="the job to go",
    )
    survivors = await wait_until(orphaned, timeout=TIMEOUT, message="the pods to be orphaned")
    assert all(p.metadata.deletion_timestamp is None for p in survivors)
    for pod in survivors:
        await cluster.core.delete_namespaced_pod(
            pod.metadata.name, cluster.namespace, grace_period_seconds=0
        )


async def test_owner_references_are_garbage_collected(cluster: Cluster) -> None:
    owner = await cluster.configmap("owner")
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
    }
    await cluster.core.create_namespaced_config_map(
        cluster.namespace, {"metadata": {"name": "dependent", "ownerReferences": [ref]}}
    )
    dangling = dict(ref, name="never-was", uid="5a1e0000-0000-0000-0000-000000000000")
    await cluster.core.create_namespaced_config_map(
        cluster.namespace, {"metadata": {"name": "dangling", "ownerReferences": [dangling]}}
    )
    await cluster.core.create_namespaced_config_map(
        cluster.namespace, {"metadata": {"name": "two-owners", "ownerReferences": [ref, dangling]}}
    )
    # a dependent whose owner never existed is collected
    await wait_until(
        lambda: gone(cluster.core.read_namespaced_config_map("dangling", cluster.namespace)),
        timeout=TIMEOUT,
        message="the dangling dependent to be collected",
    )
    assert not await gone(cluster.core.read_namespaced_config_map("dependent", cluster.namespace))

    async def dangling_reference_dropped() -> bool:
        two = await cluster.core.read_namespaced_config_map("two-owners", cluster.namespace)
        return [r.name for r in two.metadata.owner_references] == ["owner"]

    await wait_until(
        dangling_reference_dropped, timeout=TIMEOUT, message="the dangling reference to go"
    )
    await cluster.core.delete_namespaced_config_map("owner", cluster.namespace)
    for name in ("dependent", "two-owners"):
        await wait_until(
            lambda n=name: gone(cluster.core.read_namespaced_config_map(n, cluster.namespace)),
            timeout=TIMEOUT,
            message=f"{name} to be collected",
        )
