"""Kueue's reasons as each release writes them: a default install's Pending and Inadmissible
with the detail in the message (Kueue 0.17, 0.19 without UnadmittedWorkloadsObservability),
the gate's detailed reasons, and deactivations with a cause."""

from __future__ import annotations

import pytest
import yaml
from kubernetes_asyncio import client

from aiinfn_hub.jobs.kueuewords import eviction_reason, quota_reason
from aiinfn_hub.jobs.model import State
from aiinfn_hub.jobs.signals import Verdict
from aiinfn_hub.sandbox import Sandbox
from aiinfn_hub.sandbox.testing import kube_client
from aiinfn_hub.sandbox.topology import default_config_text

from .conftest import fast_config, start_manager, stop_manager, wait_for
from .test_signals import check, cond, job, workload
from .test_triggers import fell_back_to_local, run_one

POD_SET = "couldn't assign flavors to pod set main: "
#: Kueue 0.17's flavor assigner, word for word.
EXCEEDS = (
    "insufficient quota for nvidia.com/gpu in flavor leonardo, previously considered podsets "
    "requests (0) + current podset request (64) > maximum capacity (32)"
)
WAITS = "insufficient unused quota for nvidia.com/gpu in flavor leonardo, 2 more needed"
TAINT = (
    "untolerated taint {virtual-node.interlink/no-schedule true NoSchedule <nil>} in flavor "
    "leonardo"
)
AFFINITY = "flavor local doesn't match node affinity"


@pytest.mark.parametrize(
    ("reason", "message", "detailed"),
    [
        ("Pending", POD_SET + EXCEEDS, "ExceedsMaxQuota"),
        # older releases: "request > maximum capacity (8 > 4)"
        (
            "Pending",
            POD_SET + "insufficient quota for cpu in flavor x, request > maximum capacity (8 > 4)",
            "ExceedsMaxQuota",
        ),
        ("Pending", POD_SET + WAITS, "WaitingForQuota"),
        ("Pending", POD_SET + f"{AFFINITY}, {TAINT}", "NoMatchingFlavor"),
        (
            "Pending",
            POD_SET + "resource nvidia.com/gpu unavailable in ClusterQueue",
            "NoMatchingFlavor",
        ),
        # several flavors: the most schedulable one speaks (a wait may end)
        ("Pending", POD_SET + f"{AFFINITY}, {WAITS}", "WaitingForQuota"),
        ("Pending", POD_SET + f"{AFFINITY}, {EXCEEDS}", "ExceedsMaxQuota"),
        # several pod sets: the one held back hardest decides
        (
            "Pending",
            f"{POD_SET}{WAITS}; couldn't assign flavors to pod set workers: {EXCEEDS}",
            "ExceedsMaxQuota",
        ),
        ("Pending", "Workload namespace doesn't match ClusterQueue selector", "Misconfigured"),
        ("Pending", "ClusterQueue leonardo is inactive", "Misconfigured"),
        # after an eviction the quota is released with the eviction's words: a plain wait
        ("Pending", "The workload is deactivated", "Pending"),
        ("Pending", "Exceeded the PodsReady timeout jhub/job-x", "Pending"),
        ("Inadmissible", "LocalQueue leonardo doesn't exist", "Misconfigured"),
        ("Inadmissible", "LocalQueue leonardo is terminating or missing", "Misconfigured"),
        ("Inadmissible", "ClusterQueue leonardo doesn't exist", "Misconfigured"),
        ("Inadmissible", "ClusterQueue leonardo is inactive", "Misconfigured"),
        ("Inadmissible", "LocalQueue leonardo is stopped", "Suspended"),
        ("Inadmissible", "LocalQueue leonardo is inactive", "Suspended"),  # its stopPolicy
        ("Inadmissible", "ClusterQueue leonardo is stopped", "Suspended"),
        # the gate's detailed reasons are read as they are
        ("ExceedsMaxQuota", POD_SET + EXCEEDS, "ExceedsMaxQuota"),
        ("WaitingForQuota", POD_SET + WAITS, "WaitingForQuota"),
        ("Misconfigured", "LocalQueue leonardo doesn't exist", "Misconfigured"),
    ],
)
def test_each_release_reads_as_the_detailed_reason(reason, message, detailed):
    assert quota_reason(reason, message) == detailed


def test_a_deactivation_reads_as_deactivated_whatever_its_cause():
    assert eviction_reason("DeactivatedDueToRequeuingLimitExceeded") == "Deactivated"
    assert eviction_reason("DeactivatedDueToMaximumExecutionTimeExceeded") == "Deactivated"
    assert eviction_reason("Deactivated") == "Deactivated"
    assert eviction_reason("Preempted") == "Preempted"


@pytest.mark.parametrize("last_resort", [False, True])
def test_a_workload_no_flavor_can_admit_falls_back_at_once_on_a_default_install(last_resort):
    found = check(
        job(age=5),
        workload(cond("QuotaReserved", "False", "Pending", POD_SET + EXCEEDS)),
        last_resort=last_resort,
    )
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason == f"cannot be admitted there (ExceedsMaxQuota: {POD_SET}{EXCEEDS})"
    assert found.raw["reason"] == "Pending"  # Kueue's own word is kept for the record


def test_a_missing_queue_falls_back_at_once_on_a_default_install():
    message = "LocalQueue leonardo doesn't exist"
    found = check(job(age=5), workload(cond("QuotaReserved", "False", "Inadmissible", message)))
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason == f"cannot be admitted there (Misconfigured: {message})"


@pytest.mark.parametrize("reason", ["Pending", "WaitingForQuota"])
def test_a_workload_waiting_for_quota_waits_in_either_words(reason):
    found = check(job(age=5), workload(cond("QuotaReserved", "False", reason, POD_SET + WAITS)))
    assert (found.verdict, found.state) == (Verdict.WAIT, State.QUEUED)


def test_a_stopped_queue_waits_for_the_admission_timeout_in_either_words():
    for reason in ("Inadmissible", "Suspended"):
        stopped = workload(
            cond("QuotaReserved", "False", reason, "ClusterQueue leonardo is stopped")
        )
        assert check(job(age=5), stopped).verdict is Verdict.WAIT


def test_kueues_deactivation_past_the_requeuing_limit_ends_the_attempt_even_on_the_last_site():
    message = (
        "The workload is deactivated due to exceeding the maximum number of re-queuing retries"
    )
    deactivated = workload(
        cond("QuotaReserved", "False", "Pending", message),
        cond("Evicted", "True", "DeactivatedDueToRequeuingLimitExceeded", message),
    )
    for last_resort in (False, True):
        found = check(job(), deactivated, last_resort=last_resort)
        assert found.verdict is Verdict.FALL_BACK
        assert (
            found.reason == f"evicted by Kueue (DeactivatedDueToRequeuingLimitExceeded: {message})"
        )
    # the record Kueue keeps when the condition has moved on: reason and cause apart
    stats = {
        "status": {
            "conditions": [cond("Evicted", "False", "QuotaReserved", f"Previously: {message}")],
            "schedulingStats": {
                "evictions": [
                    {
                        "reason": "Deactivated",
                        "underlyingCause": "RequeuingLimitExceeded",
                        "count": 1,
                    }
                ]
            },
        }
    }
    assert check(job(), stats, last_resort=True).verdict is Verdict.FALL_BACK


# --------------------------------------------------------------------------- on the sandbox


async def test_with_the_gate_a_workload_no_flavor_matches_falls_back_at_once(tmp_path):
    """The gate's detailed reason (the session sandbox writes a default install's Pending).
    Leonardo's flavor names another node than the hub's Jobs select, while Leonardo's own node
    is up (so the plan tries it): Kueue can never admit the Job there."""
    topology = yaml.safe_load(default_config_text())
    topology["kueue"]["unadmitted_workloads_observability"] = True
    config = fast_config(leonardo={"timeouts": {"admission": 600, "start": 600}})
    async with Sandbox(topology) as sandbox:
        kubeconfig = sandbox.write_kubeconfig(tmp_path / "kubeconfig")
        api = await kube_client(kubeconfig)
        async with api:
            await client.CustomObjectsApi(api).patch_cluster_custom_object(
                "kueue.x-k8s.io", "v1beta2", "resourceflavors", "leonardo",
                {"spec": {"nodeLabels": {"kubernetes.io/hostname": "vk-elsewhere"}}},
                _content_type="application/merge-patch+json",
            )  # fmt: skip
        done = await run_one(kubeconfig, config)
    first = fell_back_to_local(done)
    assert first["reason"].startswith("cannot be admitted there (NoMatchingFlavor: ")
    assert first["kueue"]["reason"] == "NoMatchingFlavor"


async def test_a_workload_deactivated_on_the_last_site_ends_the_job(sandbox):
    manager = await start_manager(str(sandbox.kubeconfig), fast_config())
    try:
        body = {"command": ["python", "-c", "import time; time.sleep(300)"], "local_only": True}
        view, _ = await manager.submit("mario.rossi@infn.it", body)
        await wait_for(manager, view["id"], ("running",))
        job = manager.jobs[view["id"]].attempts[1]
        workload = manager.workloads[job["metadata"]["uid"]]
        await client.CustomObjectsApi(manager.kube.api_client).patch_namespaced_custom_object(
            "kueue.x-k8s.io", "v1beta2", "default", "workloads", workload["metadata"]["name"],
            {"spec": {"active": False}}, _content_type="application/merge-patch+json",
        )  # fmt: skip
        done = await wait_for(manager, view["id"])
    finally:
        await stop_manager(manager)
    assert done["state"] == "failed"
    assert done["reason"] == (
        "Local resources: evicted by Kueue (Deactivated: The workload is deactivated); no site "
        "left to try"
    )
