"""One explanation across layers: which layer explains a waiting or failed job, on manifests
shaped as Kueue, kube-scheduler, the kubelet and interLink's virtual kubelet write them."""

from __future__ import annotations

from typing import Any

from aiinfn_hub.jobs.explain import Evidence, Layer, explain
from aiinfn_hub.jobs.model import State
from aiinfn_hub.jobs.tracked import signature
from aiinfn_hub.placement import Placer, SiteHealth

SITES = Placer().sites
LEONARDO, TIER1, LOCAL = SITES["leonardo"], SITES["tier1"], SITES["local"]
#: a virtual node named as a real site names it, not as the defaults do
VNODE = "vk-leonardo-01.cineca.it"
GPU_WAIT = (
    "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in "
    "flavor leonardo-a100, 2 more needed"
)
PING_FAILED = "Ping to InterLink API failed: status 503, body: upstream connect error"
HTTP_504 = "Error creating the remote job: HTTP 504 Gateway Timeout"
SCHEDULER = (
    "0/5 nodes are available: 1 node(s) had untolerated taint {virtual-node.interlink/no-schedule: "
    "true}, 2 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, "
    "3 Preemption is not helpful for scheduling."
)


def cond(kind: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-11-25T10:00:00Z",
    }


def workload(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "job-aiinfn-3f2a-1-8c1d2", "namespace": "jupyterhub-prod"},
        "spec": {"queueName": "leonardo"},
        "status": {"conditions": list(conditions)},
    }


ADMITTED = workload(
    cond("QuotaReserved", "True", "QuotaReserved", "Quota reserved in ClusterQueue leonardo"),
    cond("Admitted", "True", "Admitted", "The workload is admitted"),
)


def pod(
    phase: str,
    *,
    node: str | None = None,
    waiting: dict[str, Any] | None = None,
    terminated: dict[str, Any] | None = None,
    last: dict[str, Any] | None = None,
    reason: str = "",
    message: str = "",
    conditions: list[dict[str, Any]] | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "job", "state": {}}
    if waiting:
        container["state"]["waiting"] = waiting
    if terminated:
        container["state"]["terminated"] = terminated
    if last:
        container["lastState"] = {"terminated": last}
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions or [],
        "containerStatuses": [container] if waiting or terminated else [],
    }
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    annotations = {"JobID": job_id} if job_id else {}
    return {
        "metadata": {"name": "aiinfn-3f2a-1-xk2lp", "annotations": annotations},
        "spec": {"nodeName": node} if node else {},
        "status": status,
    }


def vnode(connected: bool = True) -> dict[str, Any]:
    link = (
        cond("InterlinkConnectivity", "True", "InterlinkPingSuccessful", "Ping successful")
        if connected
        else cond("InterlinkConnectivity", "False", "InterlinkPingFailed", PING_FAILED)
    )
    ready = cond("Ready", "True" if connected else "False", "KubeletReady", "")
    return {
        "metadata": {"name": VNODE, "labels": {"virtual-node.interlink/type": "virtual-kubelet"}},
        "status": {"conditions": [ready, link]},
    }


def on_vnode(*pods: dict[str, Any], connected: bool = True, **kwargs: Any) -> Evidence:
    return Evidence(pods=pods, nodes={VNODE: vnode(connected)}, **kwargs)


def test_waiting_for_quota_is_kueues_wait_in_the_screens_words() -> None:
    found = explain(
        state=State.QUEUED,
        reason="",
        site=LEONARDO,
        evidence=Evidence(
            workload=workload(cond("QuotaReserved", "False", "Pending", GPU_WAIT)), suspended=True
        ),
    )
    assert found.layer is Layer.KUEUE
    assert found.sentence == (
        "Queued at CINECA Leonardo: waiting for free GPUs in the site's queue (2 more needed); "
        "it starts when running jobs end."
    )
    assert "flavor" not in found.sentence and "pod set" not in found.sentence
    raw = found.view()["details"][0]
    assert raw == {
        "layer": "kueue",
        "source": "Workload condition QuotaReserved",
        "reason": "Pending",
        "message": GPU_WAIT,
    }


def test_a_request_over_the_queues_maximum_can_never_be_admitted() -> None:
    message = (
        "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu in flavor "
        "leonardo-a100, previously considered podsets requests (0) + current podset request (8) "
        "> maximum capacity (4)"
    )
    found = explain(
        state=State.QUEUED,
        reason="",
        site=LEONARDO,
        evidence=Evidence(workload=workload(cond("QuotaReserved", "False", "Pending", message))),
    )
    assert found.sentence == (
        "Queued at CINECA Leonardo: the site's queue can never admit it: it asks for 8 GPUs and "
        "the queue allows at most 4."
    )


def test_a_stopped_or_missing_queue_is_said_so() -> None:
    stopped = explain(
        state=State.QUEUED,
        reason="",
        site=TIER1,
        evidence=Evidence(
            workload=workload(
                cond("QuotaReserved", "False", "Inadmissible", "LocalQueue tier1 is stopped")
            )
        ),
    )
    assert stopped.sentence == (
        "Queued at CNAF Tier-1: the site's queue is stopped (LocalQueue tier1 is stopped)."
    )
    missing = explain(
        state=State.QUEUED,
        reason="",
        site=TIER1,
        evidence=Evidence(
            workload=workload(
                cond("QuotaReserved", "False", "Pending", "ClusterQueue tier1 not found")
            )
        ),
    )
    assert "missing or misconfigured" in missing.sentence


def test_a_disconnected_virtual_node_explains_a_pending_remote_pod_better_than_admitted() -> None:
    remote = pod(
        "Pending",
        node=VNODE,
        waiting={"reason": "Remote pod submitted"},
        job_id="4242117",
    )
    found = explain(
        state=State.ADMITTED,
        reason="",
        site=LEONARDO,
        evidence=on_vnode(remote, connected=False, workload=ADMITTED),
    )
    assert found.layer is Layer.NODE
    assert found.sentence == (
        f"Admitted at CINECA Leonardo: the connection to the site is lost ({PING_FAILED})."
    )
    assert VNODE not in found.sentence
    layers = [d.layer for d in found.details]
    assert layers[:2] == [Layer.KUEUE, Layer.KUEUE]  # every layer's raw words are kept
    assert Layer.NODE in layers and Layer.POD in layers and layers[-1] is Layer.SERVICE
    node = next(d for d in found.details if d.source.endswith("InterlinkConnectivity"))
    assert (node.reason, node.message) == ("InterlinkPingFailed", PING_FAILED)
    assert VNODE in node.source

    # connected again: the remote batch queue is why
    found = explain(
        state=State.ADMITTED,
        reason="",
        site=LEONARDO,
        evidence=on_vnode(remote, workload=ADMITTED),
    )
    assert found.layer is Layer.SITE
    assert found.sentence == (
        "Admitted at CINECA Leonardo: waiting in the site's batch queue as remote job 4242117."
    )


def test_a_lost_connection_outranks_kueues_wait_before_any_pod_is_bound() -> None:
    found = explain(
        state=State.QUEUED,
        reason="",
        site=LEONARDO,
        evidence=Evidence(
            workload=workload(cond("QuotaReserved", "False", "Pending", GPU_WAIT)),
            health=SiteHealth(connected=False, message=f"{VNODE}: InterlinkPingFailed"),
            suspended=True,
        ),
    )
    assert (found.layer, found.sentence) == (
        Layer.NODE,
        "Queued at CINECA Leonardo: the connection to the site is lost.",
    )


def test_the_remote_sites_refusal_outranks_kueues_admission() -> None:
    failed = pod(
        "Failed",
        node=VNODE,
        reason="ProviderFailed",
        message=HTTP_504,
        terminated={"exitCode": 1, "reason": "ProviderFailed", "message": HTTP_504},
    )
    found = explain(
        state=State.FALLING_BACK,
        reason="falling back from CINECA Leonardo to Local resources: the remote submission "
        f"failed: {HTTP_504}",
        site=LEONARDO,
        evidence=on_vnode(failed, workload=ADMITTED),
    )
    assert found.layer is Layer.SITE
    assert found.sentence == (
        "Falling back from CINECA Leonardo to Local resources: the site refused the job "
        f"({HTTP_504})."
    )


def test_a_job_kubernetes_stopped_is_explained_by_its_node_even_while_terminating() -> None:
    """The node lost: the taint manager marks the pod and deletes it; on an unreachable node
    it stays Running, terminating, and its raw words carry the condition."""
    going = pod(
        "Running",
        node="worker-07.lab.infn.it",
        conditions=[
            cond(
                "DisruptionTarget",
                "True",
                "DeletionByTaintManager",
                "Taint manager: deleting due to NoExecute taint",
            )
        ],
    )
    going["metadata"]["deletionTimestamp"] = "2026-11-25T10:05:00Z"
    found = explain(
        state=State.RUNNING, reason="", site=LOCAL, evidence=Evidence(pods=(going,), nodes={})
    )
    assert found.layer is Layer.NODE
    assert found.sentence == (
        "Running at Local resources: Kubernetes stopped the job because its node was lost (not "
        "ready or unreachable)."
    )
    assert any(
        d.source.endswith("condition DisruptionTarget") and d.reason == "DeletionByTaintManager"
        for d in found.details
    )


def test_an_ended_job_is_explained_from_its_recorded_attempt() -> None:
    attempt: Any = {
        "number": 1,
        "site": "tier1",
        "site_display": "CNAF Tier-1",
        "outcome": "failed",
        "reason": f"the remote submission failed: {HTTP_504}",
        "kueue": {"condition": "Admitted", "status": "True", "reason": "Admitted", "message": ""},
        "pod": {"name": "p", "reason": "ProviderFailed", "message": HTTP_504, "exitCode": 1},
    }
    found = explain(
        state=State.FAILED,
        reason=f"CNAF Tier-1: the remote submission failed: {HTTP_504}; no site left to try",
        site=TIER1,
        attempt=attempt,
    )
    assert found.layer is Layer.SITE
    assert found.sentence == (
        f"Failed at CNAF Tier-1: the site refused the job ({HTTP_504}); no other site was left "
        "to try."
    )


def test_a_failed_wait_is_the_services_words_not_a_wait() -> None:
    attempt: Any = {
        "number": 1,
        "site": "leonardo",
        "outcome": "failed",
        "reason": "r",
        "kueue": {"condition": "QuotaReserved", "status": "False", "reason": "Pending",
                  "message": GPU_WAIT},
    }  # fmt: skip
    reason = f"CINECA Leonardo: not admitted within 10m ({GPU_WAIT}); no site left to try"
    found = explain(state=State.FAILED, reason=reason, site=LEONARDO, attempt=attempt)
    assert found.layer is Layer.SERVICE
    assert found.sentence == (
        f"Failed at CINECA Leonardo: not admitted within 10m ({GPU_WAIT}); no site left to try."
    )


def test_the_pods_own_state_unschedulable_image_crash_oom_exit() -> None:
    unschedulable = pod(
        "Pending", conditions=[cond("PodScheduled", "False", "Unschedulable", SCHEDULER)]
    )
    found = explain(
        state=State.ADMITTED,
        reason="",
        site=LOCAL,
        evidence=Evidence(pods=[unschedulable], workload=ADMITTED),
    )
    assert found.layer is Layer.POD
    assert (
        found.sentence
        == f"Admitted at Local resources: no node of the site can take it now ({SCHEDULER})."
    )

    image = pod(
        "Pending",
        node="worker-gpu-07",
        waiting={
            "reason": "ImagePullBackOff",
            "message": 'Back-off pulling image "harbor.cloud.infn.it/ai/torch:2.9"',
        },
    )
    found = explain(state=State.ADMITTED, reason="", site=LOCAL, evidence=Evidence(pods=[image]))
    assert found.sentence == (
        "Admitted at Local resources: the job's image cannot be pulled "
        '(Back-off pulling image "harbor.cloud.infn.it/ai/torch:2.9").'
    )

    crashing = pod(
        "Running",
        node="worker-gpu-07",
        waiting={
            "reason": "CrashLoopBackOff",
            "message": "back-off 40s restarting failed container",
        },
        last={"exitCode": 2, "reason": "Error"},
    )
    found = explain(state=State.RUNNING, reason="", site=LOCAL, evidence=Evidence(pods=[crashing]))
    assert found.sentence == (
        "Running at Local resources: your code keeps crashing and being restarted "
        "(last exit code 2); see the job's log."
    )

    oom = pod("Failed", node="worker-gpu-07", terminated={"exitCode": 137, "reason": "OOMKilled"})
    found = explain(state=State.FAILED, reason="x", site=LOCAL, evidence=Evidence(pods=[oom]))
    assert found.layer is Layer.POD
    assert "ran out of memory" in found.sentence and "exit code 137" in found.sentence

    code = pod("Failed", node="worker-gpu-07", terminated={"exitCode": 3, "reason": "Error"})
    found = explain(state=State.FAILED, reason="x", site=LOCAL, evidence=Evidence(pods=[code]))
    assert found.sentence == (
        "Failed at Local resources: your code exited with code 3; see the job's log."
    )


def test_interlinks_exit_codes_and_held_jobs_are_the_sites() -> None:
    lost = pod(
        "Failed",
        node=VNODE,
        reason="Error: 502",
        terminated={"exitCode": 502, "reason": "Error: 502"},
    )
    found = explain(
        state=State.FAILED,
        reason="x",
        site=TIER1,
        evidence=on_vnode(lost, infrastructure=frozenset({404, 502})),
    )
    assert found.layer is Layer.SITE
    assert found.sentence == (
        "Failed at CNAF Tier-1: the site lost the job (its batch system ended it with code 502)."
    )
    # the same code where the site does not list it is the user's code's
    found = explain(state=State.FAILED, reason="x", site=TIER1, evidence=on_vnode(lost))
    assert found.layer is Layer.POD

    held = pod(
        "Pending",
        node=VNODE,
        waiting={"reason": "Held", "message": "job held: disk quota exceeded"},
        job_id="1234.0",
    )
    found = explain(state=State.ADMITTED, reason="", site=TIER1, evidence=on_vnode(held))
    assert found.sentence == (
        "Admitted at CNAF Tier-1: the site's batch system holds the job as remote job 1234.0 "
        "(job held: disk quota exceeded)."
    )


def test_an_eviction_is_kueues() -> None:
    evicted = workload(
        cond("QuotaReserved", "False", "Pending", "Preempted to accommodate a workload"),
        cond("Evicted", "True", "Preempted", "Preempted to accommodate a workload (UID: 1)"),
    )
    found = explain(
        state=State.QUEUED, reason="", site=LEONARDO, evidence=Evidence(workload=evicted)
    )
    assert (found.layer, found.sentence) == (
        Layer.KUEUE,
        "Queued at CINECA Leonardo: Kueue preempted it for a job of higher priority; it is "
        "queued again.",
    )


def test_what_is_over_does_not_explain() -> None:
    done = pod("Succeeded", node=VNODE, terminated={"exitCode": 0, "reason": "Completed"})
    found = explain(
        state=State.SUCCEEDED,
        reason="",
        site=LEONARDO,
        evidence=on_vnode(done, connected=False, workload=ADMITTED),
    )
    assert (found.layer, found.sentence) == (Layer.SERVICE, "Completed at CINECA Leonardo.")
    running = pod("Running", node=VNODE, job_id="4242117")
    found = explain(
        state=State.RUNNING,
        reason="",
        site=LEONARDO,
        evidence=on_vnode(running, workload=ADMITTED),
    )
    assert found.sentence == "Running at CINECA Leonardo."


def test_a_cancel_is_the_services_and_names_who() -> None:
    found = explain(
        state=State.CANCELLED,
        reason="cancelled by admin Ops.Lead@infn.it",
        site=LEONARDO,
        evidence=Evidence(workload=ADMITTED),
    )
    assert (found.layer, found.sentence) == (Layer.SERVICE, "Cancelled by admin Ops.Lead@infn.it.")


def test_a_new_sentence_is_worth_an_event_to_the_owner() -> None:
    view: Any = {
        "state": "admitted",
        "site": "leonardo",
        "attempts": [],
        "progress": {"completions": 1, "succeeded": 0, "failed": 0, "active": 0},
        "reason": "admitted at CINECA Leonardo, waiting for it to start",
        "actions": [],
    }
    waiting = explain(
        state=State.ADMITTED,
        reason="",
        site=LEONARDO,
        evidence=on_vnode(pod("Pending", node=VNODE, waiting={"reason": "Remote pod submitted"})),
    )
    lost = explain(
        state=State.ADMITTED,
        reason="",
        site=LEONARDO,
        evidence=on_vnode(
            pod("Pending", node=VNODE, waiting={"reason": "Remote pod submitted"}), connected=False
        ),
    )
    assert signature({**view, "explanation": waiting.view()}) != signature(
        {**view, "explanation": lost.view()}
    )
