"""Every fallback trigger, and the signals that must not cause a fallback, on plain manifests."""

import time

import pytest
from traitlets import TraitError

from aiinfn_hub.jobs.model import Blame, State
from aiinfn_hub.jobs.signals import POD_LAG, Verdict, assess
from aiinfn_hub.jobs.triggers import FallbackPolicy
from aiinfn_hub.placement import Placer, SiteHealth
from aiinfn_hub.placement.health import site_health

SITES = Placer().sites
LEONARDO = SITES["leonardo"]
NOW = 1_800_000_000.0


def stamp(seconds_ago):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def job(suspended=True, age=0, conditions=(), **status):
    return {
        "metadata": {"name": "aiinfn-x-1", "creationTimestamp": stamp(age), "uid": "u"},
        "spec": {"suspend": suspended, "activeDeadlineSeconds": 7200},
        "status": {"conditions": list(conditions), **status},
    }


def workload(*conditions):
    return {"status": {"conditions": list(conditions)}}


def cond(kind, status="True", reason="", message="", ago=0):
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": stamp(ago),
    }


def pod(phase, exit_code=None, reason=None, message=None, job_id=None):
    data = {"metadata": {"name": "p", "annotations": {}}, "status": {"phase": phase}}
    if exit_code is not None:
        data["status"]["containerStatuses"] = [
            {"state": {"terminated": {"exitCode": exit_code, "reason": reason or "Error"}}}
        ]
    if reason:
        data["status"]["reason"] = reason
    if message:
        data["status"]["message"] = message
    if job_id:
        data["metadata"]["annotations"]["JobID"] = job_id
    return data


HEALTHY = SiteHealth()


def check(j, w=None, pods=(), health=HEALTHY, last_resort=False, site=LEONARDO):
    return assess(j, w, list(pods), site, health, NOW, last_resort=last_resort)


def test_waiting_for_quota_within_the_timeout_waits_with_a_deadline():
    found = check(job(age=60), workload(cond("QuotaReserved", "False", "WaitingForQuota", "m")))
    assert found.verdict is Verdict.WAIT
    assert found.state is State.QUEUED
    assert found.check_at == pytest.approx(NOW - 60 + LEONARDO.timeouts.admission)
    assert found.raw["reason"] == "WaitingForQuota"


def test_not_admitted_within_timeout_falls_back():
    found = check(
        job(age=LEONARDO.timeouts.admission + 1),
        workload(cond("QuotaReserved", "False", "WaitingForQuota", "insufficient quota")),
    )
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason == "not admitted within 10m (insufficient quota)"


def test_timeouts_do_not_apply_to_the_last_resort():
    found = check(job(age=10**6), workload(), last_resort=True)
    assert found.verdict is Verdict.WAIT
    assert found.check_at is None


@pytest.mark.parametrize("reason", ["NoMatchingFlavor", "ExceedsMaxQuota", "Misconfigured"])
def test_inadmissible_falls_back_at_once(reason):
    found = check(job(age=1), workload(cond("QuotaReserved", "False", reason, "why")))
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason == f"cannot be admitted there ({reason}: why)"
    assert found.raw == {
        "condition": "QuotaReserved",
        "status": "False",
        "reason": reason,
        "message": "why",
    }


def test_evicted_falls_back():
    found = check(
        job(suspended=True),
        workload(cond("QuotaReserved"), cond("Evicted", "True", "PodsReadyTimeout", "late")),
    )
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason == "evicted by Kueue (PodsReadyTimeout: late)"


def test_pending_remotely_past_start_timeout_falls_back():
    admitted = workload(cond("QuotaReserved"), cond("Admitted", ago=LEONARDO.timeouts.start + 5))
    found = check(job(suspended=False, age=4000), admitted, [pod("Pending", job_id="slurm-7")])
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason.startswith("did not start within 30m")
    assert found.raw["remote_job_id"] == "slurm-7"


def test_pending_locally_does_not_fall_back_on_start_timeout():
    admitted = workload(cond("QuotaReserved"), cond("Admitted", ago=10**5))
    found = check(job(suspended=False), admitted, [pod("Pending")], site=SITES["local"])
    assert found.verdict is Verdict.WAIT
    assert found.state is State.ADMITTED


def test_provider_failed_falls_back():
    found = check(
        job(suspended=False, conditions=[cond("Failed", reason="BackoffLimitExceeded")]),
        workload(cond("Admitted")),
        [pod("Failed", 1, "ProviderFailed", "sbatch: error: Batch job submission failed")],
    )
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason == (
        "the remote submission failed: sbatch: error: Batch job submission failed"
    )


def test_a_failed_job_whose_pod_is_not_seen_ended_yet_waits_for_the_pod():
    """The Job's Failed arrives (by the Jobs' watch) before its pod's ProviderFailed (by the
    pods' watch): no verdict until the pod says whose failure it was."""
    failed_job = job(suspended=False, conditions=[cond("Failed", reason="BackoffLimitExceeded")])
    early = check(failed_job, workload(cond("Admitted")), [pod("Running")])
    assert early.verdict is Verdict.WAIT and early.state is State.RUNNING
    assert early.reason == ""
    late = check(
        failed_job, workload(cond("Admitted")), [pod("Failed", 1, "ProviderFailed", "refused")]
    )
    assert late.verdict is Verdict.FALL_BACK
    # the Job controller deletes a failed Job's other pods: they need not end first
    going = pod("Running")
    going["metadata"]["deletionTimestamp"] = stamp(0)
    user = check(failed_job, workload(cond("Admitted")), [pod("Failed", 3), going])
    assert (user.verdict, user.reason) == (
        Verdict.FAIL,
        "your code exited with code 3; see the job's log",
    )


TAINT_MANAGER = "Taint manager: deleting due to NoExecute taint"


def stopped_by_kubernetes(phase, reason, message=TAINT_MANAGER, **kwargs):
    """A pod Kubernetes itself stops, as the taint manager, the pod GC, the kubelet's
    pressure eviction or the eviction API mark it (``DisruptionTarget``)."""
    data = pod(phase, **kwargs)
    data["status"]["conditions"] = [cond("DisruptionTarget", "True", reason, message)]
    return data


FAILED_JOB = job(suspended=False, conditions=[cond("Failed", reason="BackoffLimitExceeded")])


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("DeletionByTaintManager", "its node was lost (not ready or unreachable)"),
        ("DeletionByPodGC", "its node was removed from the cluster"),
        ("TerminationByKubelet", "its node ran short of resources and stopped it"),
        ("EvictionByEvictionAPI", "its node was drained"),
        ("PreemptionByScheduler", "a pod of higher priority took its place"),
    ],
)
def test_a_pod_kubernetes_stopped_is_the_sites_failure_not_the_users(reason, words):
    """A running job's node lost: the pod ends with exit code 137 (or never reports), which
    read alone would be "your code exited with code 137"."""
    ended = stopped_by_kubernetes("Failed", reason, exit_code=137)
    found = check(FAILED_JOB, workload(cond("Admitted")), [ended])
    assert (found.verdict, found.state, found.blame) == (
        Verdict.FALL_BACK,
        State.FAILED,
        Blame.SITE,
    )
    assert found.reason == f"Kubernetes stopped it because {words}"
    assert found.raw["pod"]["disruption"] == reason


def test_a_pod_stopped_on_a_lost_node_need_not_end_to_be_read():
    """On an unreachable node the pod stays Running, terminating, for as long as the node is
    gone; the Job counts it failed at once."""
    going = stopped_by_kubernetes("Running", "DeletionByTaintManager")
    going["metadata"]["deletionTimestamp"] = stamp(0)
    found = check(FAILED_JOB, workload(cond("Admitted")), [going])
    assert (found.verdict, found.blame) == (Verdict.FALL_BACK, Blame.SITE)


def test_a_stop_the_site_does_not_fall_back_on_fails_blamed_on_the_site():
    leonardo = FallbackPolicy(sites={"leonardo": {"disruption_reasons": []}}).for_site(LEONARDO)
    ended = stopped_by_kubernetes("Failed", "EvictionByEvictionAPI", "Eviction API", exit_code=143)
    found = assess(
        FAILED_JOB, workload(cond("Admitted")), [ended], LEONARDO, HEALTHY, NOW,
        last_resort=False, triggers=leonardo,
    )  # fmt: skip
    assert (found.verdict, found.blame) == (Verdict.FAIL, Blame.SITE)
    assert found.reason == (
        "Kubernetes stopped it because its node was drained (this site does not fall back on it)"
    )


def test_a_false_or_unknown_disruption_condition():
    kept = stopped_by_kubernetes("Failed", "DeletionByTaintManager", exit_code=3)
    kept["status"]["conditions"][0]["status"] = "False"
    user = check(FAILED_JOB, None, [kept])
    assert (user.verdict, user.blame) == (Verdict.FAIL, Blame.USER)
    assert user.reason == "your code exited with code 3; see the job's log"
    novel = check(FAILED_JOB, None, [stopped_by_kubernetes("Failed", "NodeRetired", "m")])
    assert novel.verdict is Verdict.FAIL  # not listed: no fallback, but not the user's
    assert (
        novel.reason == "Kubernetes stopped it (NodeRetired) (this site does not fall back on it)"
    )


def test_a_failed_job_whose_ended_pod_is_not_seen_at_all_waits_a_while():
    """The pods' watch being restarted: the Job says Failed and no pod of it is seen. The
    verdict waits POD_LAG for the pod's end, then goes by what is known."""
    fresh = job(suspended=False, conditions=[cond("Failed", reason="BackoffLimitExceeded", ago=2)])
    early = check(fresh, workload(cond("Admitted")), [])
    assert (early.verdict, early.state) == (Verdict.WAIT, State.RUNNING)
    assert early.check_at == pytest.approx(NOW - 2 + POD_LAG)
    late = check(fresh, workload(cond("Admitted")), [pod("Failed", 3)])
    assert late.reason == "your code exited with code 3; see the job's log"
    old = job(suspended=False, conditions=[cond("Failed", reason="BackoffLimitExceeded", ago=11)])
    given_up = check(old, workload(cond("Admitted")), [])
    assert (given_up.verdict, given_up.reason) == (
        Verdict.FAIL,
        "your code failed; see the job's log",
    )


@pytest.mark.parametrize("code", [404, 502])
def test_infrastructure_exit_code_falls_back(code):
    found = check(job(suspended=False), None, [pod("Failed", code, f"Error: {code}")])
    assert found.verdict is Verdict.FALL_BACK
    assert f"infrastructure exit code {code}" in found.reason


def test_user_code_failure_fails_without_fallback():
    found = check(
        job(suspended=False, conditions=[cond("Failed", reason="BackoffLimitExceeded")]),
        None,
        [pod("Failed", 3)],
    )
    assert found.verdict is Verdict.FAIL
    assert found.state is State.FAILED
    assert found.reason == "your code exited with code 3; see the job's log"


def test_deadline_exceeded_names_the_walltime():
    found = check(job(suspended=False, conditions=[cond("Failed", reason="DeadlineExceeded")]))
    assert found.verdict is Verdict.FAIL
    assert found.reason == "ran past its walltime of 2h"


def test_site_down_while_waiting_falls_back():
    down = SiteHealth(ready=False, connected=False, message="vk-leonardo: InterlinkPingFailed")
    found = check(job(), workload(), health=down)
    assert found.verdict is Verdict.FALL_BACK
    assert found.reason.startswith("became unavailable while the job waited there (down:")


def test_site_down_while_running_does_not_fall_back():
    down = SiteHealth(ready=False, connected=False)
    found = check(job(suspended=False), workload(cond("Admitted")), [pod("Running")], health=down)
    assert found.verdict is Verdict.WAIT
    assert found.state is State.RUNNING


def test_complete_succeeds():
    found = check(job(suspended=False, conditions=[cond("Complete")]))
    assert found.verdict is Verdict.SUCCEED
    assert found.state is State.SUCCEEDED


def node(name, ready="True", link=None, taints=()):
    conditions = [{"type": "Ready", "status": ready}]
    if link is not None:
        conditions.append(
            {"type": "InterlinkConnectivity", "status": link, "reason": "InterlinkPingFailed"}
        )
    return {
        "metadata": {"name": name},
        "spec": {"taints": list(taints)},
        "status": {"conditions": conditions},
    }


def test_site_health_from_nodes():
    interlink = {
        "key": "virtual-node.interlink/no-schedule",
        "value": "true",
        "effect": "NoSchedule",
    }
    assert site_health(LEONARDO, [node("vk-leonardo", link="True", taints=[interlink])]).usable
    lost = site_health(LEONARDO, [node("vk-leonardo", "False", "False")])
    assert not lost.connected
    assert "InterlinkPingFailed" in lost.message
    maintenance = {
        "key": "slurm.interlink/maintenance",
        "value": "scheduled",
        "effect": "NoSchedule",
    }
    held = site_health(LEONARDO, [node("vk-leonardo", taints=[interlink, maintenance])])
    assert held.maintenance
    assert not site_health(LEONARDO, []).usable
    assert not site_health(LEONARDO, [node("vk-leonardo", "False")]).ready


def labelled(name, ready="True", site="local", taints=()):
    found = node(name, ready, taints=taints)
    found["metadata"]["labels"] = {"aiinfn.infn.it/site": site}
    return found


def test_the_local_site_is_its_labelled_nodes_whatever_their_names():
    local = SITES["local"]
    assert site_health(local, [labelled("worker-a"), labelled("dgx-01")]).usable
    one_left = [labelled("worker-a", "False"), labelled("gpu-node.example")]
    assert site_health(local, one_left).usable
    down = site_health(local, [labelled("worker-a", "False")])
    assert down.describe() == "down: its node is not ready (node worker-a is NotReady)"


@pytest.mark.parametrize(
    "nodes",
    [
        [],
        [node("worker-a"), node("dgx-01")],  # not labelled yet
        [labelled("teaching-1", site="teaching")],
        # a virtual node carrying the local label is still interLink's, never local
        [labelled("vk-leonardo", taints=[{"key": "virtual-node.interlink/no-schedule",
                                          "value": "true", "effect": "NoSchedule"}])],
    ],
)  # fmt: skip
def test_a_site_with_no_node_of_its_own_is_down_in_plain_words(nodes):
    health = site_health(SITES["local"], nodes)
    assert not health.usable and not health.registered
    assert health.describe() == (
        "down: none of its nodes is in the cluster (no node is labelled aiinfn.infn.it/site=local)"
    )
    assert site_health(SITES["tier1"], nodes).describe() == (
        "down: none of its nodes is in the cluster (no node is named vk-tier1)"
    )


def evicted(reason):
    return workload(cond("QuotaReserved"), cond("Evicted", "True", reason, "gone"))


def test_on_the_last_site_a_requeued_eviction_waits_and_a_deactivation_fails():
    found = check(job(), evicted("Preempted"), last_resort=True)
    assert found.verdict is Verdict.WAIT
    assert found.reason == "evicted by Kueue (Preempted: gone); Kueue requeues it here"
    assert check(job(), evicted("Deactivated"), last_resort=True).verdict is Verdict.FALL_BACK


def test_on_the_last_site_a_site_down_waits():
    down = SiteHealth(ready=False, message="node local-cpu-1 is NotReady")
    found = check(job(), workload(), health=down, last_resort=True, site=SITES["local"])
    assert found.verdict is Verdict.WAIT
    assert found.reason.endswith("; waiting, as no other site is left")


def triggers(**site_changes):
    policy = FallbackPolicy(sites={"leonardo": site_changes})
    return policy.for_site(LEONARDO), policy.for_site(SITES["tier1"])


def test_policy_changes_one_site_only():
    leonardo, tier1 = triggers(eviction_reasons=["Preempted"], infrastructure_exit_codes=[137])
    assert leonardo.eviction_reasons == {"Preempted"}
    assert leonardo.infrastructure_exit_codes == {137}
    assert tier1.infrastructure_exit_codes == {404, 502}
    assert "PodsReadyTimeout" in tier1.eviction_reasons
    assert (leonardo.admission_timeout, leonardo.start_timeout) == (600, 1800)
    assert FallbackPolicy().for_site(SITES["local"]).start_timeout is None


def test_triggers_switched_off_for_a_site():
    leonardo, _ = triggers(
        eviction_reasons=[], site_unhealthy=False, provider_failed=False, start_timeout=False
    )
    j = job(suspended=False, conditions=[cond("Failed", reason="BackoffLimitExceeded")])
    failed = pod("Failed", 1, "ProviderFailed", "HTTP 504")
    found = assess(j, None, [failed], LEONARDO, HEALTHY, NOW, last_resort=False, triggers=leonardo)
    assert found.verdict is Verdict.FAIL
    assert (
        found.reason
        == "the remote submission failed: HTTP 504 (this site does not fall back on it)"
    )
    down = SiteHealth(ready=False)
    found = assess(
        job(), evicted("Preempted"), [], LEONARDO, down, NOW, last_resort=False, triggers=leonardo
    )
    assert found.verdict is Verdict.WAIT
    admitted = workload(cond("QuotaReserved"), cond("Admitted", ago=10**5))
    found = assess(
        job(suspended=False), admitted, [pod("Pending")], LEONARDO, HEALTHY, NOW,
        last_resort=False, triggers=leonardo,
    )  # fmt: skip
    assert found.verdict is Verdict.WAIT


def test_unknown_per_site_keys_are_refused():
    with pytest.raises(TraitError, match="unknown keys \\['colour'\\]"):
        FallbackPolicy(sites={"leonardo": {"colour": "red"}})


def test_inadmissible_reasons_per_site():
    leonardo, tier1 = triggers(inadmissible_reasons=["ExceedsMaxQuota"])
    flavorless = workload(cond("QuotaReserved", "False", "NoMatchingFlavor", "no flavor"))
    stays = assess(
        job(age=1), flavorless, [], LEONARDO, HEALTHY, NOW, last_resort=False, triggers=leonardo
    )
    assert stays.verdict is Verdict.WAIT
    assert stays.check_at == pytest.approx(NOW - 1 + LEONARDO.timeouts.admission)
    over = workload(cond("QuotaReserved", "False", "ExceedsMaxQuota", "too big"))
    found = assess(
        job(age=1), over, [], LEONARDO, HEALTHY, NOW, last_resort=False, triggers=leonardo
    )
    assert found.verdict is Verdict.FALL_BACK
    moved = assess(
        job(age=1), flavorless, [], SITES["tier1"], HEALTHY, NOW, last_resort=False, triggers=tier1
    )
    assert moved.verdict is Verdict.FALL_BACK
