"""Reading an attempt's Kubernetes objects: its state, and whether to fall back, fail or wait.

Pure functions over manifest dicts (Job, Workload, Pods) and the site's health, so every
fallback trigger is tested without a cluster. The triggers follow Kueue's and interLink's
own signals (see the README's "Fallback triggers").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..apitypes import Progress
from ..kube.conditions import condition, is_true, parse_time
from ..kueuenames import DEACTIVATED
from ..placement import Site, SiteHealth
from ..placement.quantities import format_duration
from .claims import missing_claim
from .kueuewords import eviction_reason, quota_reason
from .model import Blame, State
from .podfindings import disruption
from .triggers import FallbackPolicy, Triggers

#: Seconds a failed Job's verdict waits for an ended pod of it to be seen: its pod's end tells
#: the site's failure from the user's, and comes by another watch than the Job's.
POD_LAG = 10.0


class Verdict(str, Enum):
    WAIT = "wait"
    FALL_BACK = "fall_back"
    FAIL = "fail"
    SUCCEED = "succeed"


@dataclass(frozen=True)
class Assessment:
    """What an attempt's objects say now."""

    state: State
    verdict: Verdict = Verdict.WAIT
    reason: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    check_at: float | None = None
    blame: Blame | None = None  # whose doing a failure was, where the signal says


def kueue_raw(workload: Mapping[str, Any] | None) -> dict[str, Any]:
    """The most telling Kueue condition of a Workload, as ``{condition, reason, message}``."""
    for kind in ("Evicted", "Finished", "PodsReady", "Admitted", "QuotaReserved"):
        cond = condition(workload, kind)
        if cond and (cond.get("status") == "True" or kind == "QuotaReserved"):
            return {
                "condition": kind,
                "status": cond.get("status"),
                "reason": cond.get("reason", ""),
                "message": cond.get("message", ""),
            }
    return {}


def remote_job_id(pods: Sequence[Mapping[str, Any]]) -> str | None:
    """interLink's ``JobID`` annotation: the Slurm or HTCondor id of the remote job."""
    for pod in pods:
        found: str | None = ((pod.get("metadata") or {}).get("annotations") or {}).get("JobID")
        if found:
            return found
    return None


def _terminated(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        state = (status.get("state") or {}).get("terminated")
        if state:
            found: Mapping[str, Any] | None = state
            return found
    return None


def _infrastructure_failure(
    pods: Sequence[Mapping[str, Any]], triggers: Triggers
) -> tuple[str, Mapping[str, Any], bool] | None:
    """A pod the site failed, not the user's code: ``(words, raw, fall back?)``.

    interLink's ``ProviderFailed`` always names the site; whether it moves the job on is the
    site's ``provider_failed`` trigger. So does Kubernetes stopping the pod itself (its
    ``DisruptionTarget`` condition: the node lost or drained...), by ``disruption_reasons``.
    An exit code counts only if the site lists it.
    """
    exit_codes = triggers.infrastructure_exit_codes
    for pod in pods:
        status = pod.get("status") or {}
        # a pod Kubernetes stops may stay Running (and terminating) on a lost node for good
        stopped = disruption(pod)
        if status.get("phase") != "Failed" and not stopped:
            continue
        term = _terminated(pod) or {}
        code = term.get("exitCode")
        reason = status.get("reason") or term.get("reason") or ""
        message = status.get("message") or term.get("message") or ""
        raw: dict[str, Any] = {
            "pod": {
                "name": pod["metadata"]["name"],
                "reason": reason,
                "message": message,
                "exitCode": code,
            }
        }
        if reason == "ProviderFailed":
            text = f"the remote submission failed: {message or 'no message from the site'}"
            return text, raw, triggers.provider_failed
        if stopped:
            raw["pod"]["disruption"] = stopped[0]
            fall_back = stopped[0] in triggers.disruption_reasons
            return f"Kubernetes stopped it {stopped[1]}", raw, fall_back
        if code in exit_codes or reason in {f"Error: {c}" for c in exit_codes}:
            return f"the site lost the job (infrastructure exit code {code})", raw, True
    return None


def _user_failure(pods: Sequence[Mapping[str, Any]]) -> str:
    for pod in pods:
        term = _terminated(pod)
        if term and term.get("exitCode"):
            return f"your code exited with code {term['exitCode']}; see the job's log"
    return "your code failed; see the job's log"


def _eviction(workload: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """Why Kueue evicted the workload, if it ever did: ``(reason, words)``, the reason
    without the cause Kueue appends to a deactivation.

    Kueue may requeue and readmit a preempted workload at once, so a watcher can miss the
    moment ``Evicted`` is True; ``schedulingStats.evictions`` keeps the record.
    """
    evicted = condition(workload, "Evicted")
    if evicted and evicted.get("status") == "True":
        reason = evicted.get("reason") or ""
        words = f"evicted by Kueue ({reason}: {evicted.get('message', '')})"
        return eviction_reason(reason), words
    stats = ((workload or {}).get("status") or {}).get("schedulingStats") or {}
    for entry in stats.get("evictions") or ():
        if int(entry.get("count") or 0) > 0:
            message = (evicted or {}).get("message", "").removeprefix("Previously: ")
            reason = entry.get("reason") or ""
            return eviction_reason(reason), f"evicted by Kueue ({reason}: {message})"
    return None


def _stale(pods: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a pod of a Job that failed is still seen as not ended, and not being deleted
    (the Job controller removes the active pods of a failed Job): the pods' watch is behind
    the Job's."""
    return any(
        (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        and not (p.get("metadata") or {}).get("deletionTimestamp")
        for p in pods
    )


def _ended(pod: Mapping[str, Any]) -> bool:
    """Whether the pod is seen ended, or stopped by Kubernetes."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed") or disruption(pod) is not None


def _running(pods: Sequence[Mapping[str, Any]]) -> bool:
    return any((p.get("status") or {}).get("phase") in ("Running", "Succeeded") for p in pods)


def assess(
    job: Mapping[str, Any] | None,
    workload: Mapping[str, Any] | None,
    pods: Sequence[Mapping[str, Any]],
    site: Site,
    health: SiteHealth,
    now: float,
    *,
    last_resort: bool,
    triggers: Triggers | None = None,
) -> Assessment:
    """The state of one attempt and what to do about it, by the site's ``triggers``.

    ``last_resort`` is true when the plan has no site left after this one. There, signals
    that may clear (timeouts, a requeued eviction, the site down for a while) mean waiting,
    which beats failing; failures that cannot clear still end the job.
    """
    triggers = triggers or FallbackPolicy().for_site(site)
    raw = kueue_raw(workload)
    remote = remote_job_id(pods)
    if remote:
        raw = {**raw, "remote_job_id": remote}
    if job is None:
        return Assessment(State.QUEUED, raw=raw)
    if is_true(job, "Complete"):
        return Assessment(State.SUCCEEDED, Verdict.SUCCEED, raw=raw)
    infra = _infrastructure_failure(pods, triggers)
    if infra and infra[2]:
        text, pod_raw, _ = infra
        return Assessment(
            State.FAILED, Verdict.FALL_BACK, text, {**raw, **pod_raw}, blame=Blame.SITE
        )
    failed = condition(job, "Failed")
    if failed and failed.get("status") == "True":
        if failed.get("reason") != "DeadlineExceeded":
            # the Job's and the pods' changes come by separate watches: the Job says Failed
            # before this cache has its pod's end, which tells the site's failure from the
            # user's; wait for it (the pod's change wakes the job again)
            if _stale(pods):
                return Assessment(State.RUNNING, raw=raw)
            # no ended pod seen at all (the pods' watch being restarted, say): wait a while
            since = parse_time(failed.get("lastTransitionTime")) or now
            if not any(_ended(p) for p in pods) and now < since + POD_LAG:
                return Assessment(State.RUNNING, raw=raw, check_at=since + POD_LAG)
        blame = Blame.USER
        if failed.get("reason") == "DeadlineExceeded":
            limit = (job.get("spec") or {}).get("activeDeadlineSeconds") or 0
            text = f"ran past its walltime of {format_duration(int(limit))}"
        elif infra:
            text = f"{infra[0]} (this site does not fall back on it)"
            raw = {**raw, **infra[1]}
            blame = Blame.SITE
        else:
            text = _user_failure(pods)
        raw = {**raw, "job_reason": failed.get("reason")}
        return Assessment(State.FAILED, Verdict.FAIL, text, raw, blame=blame)
    missing = missing_claim(pods)  # Pending for good: no site has the claim either
    if missing:
        return Assessment(State.FAILED, Verdict.FAIL, missing, raw)
    eviction = _eviction(workload)
    if eviction and eviction[0] in triggers.eviction_reasons:
        reason, text = eviction
        if not last_resort or reason == DEACTIVATED:  # a deactivation never clears
            return Assessment(State.QUEUED, Verdict.FALL_BACK, text, raw)
        return Assessment(State.QUEUED, reason=f"{text}; Kueue requeues it here", raw=raw)
    reserved = condition(workload, "QuotaReserved")
    if reserved and reserved.get("status") == "False":
        message = reserved.get("message", "")
        why = quota_reason(reserved.get("reason") or "", message)
        if why in triggers.inadmissible_reasons:
            text = f"cannot be admitted there ({why}: {message})"
            return Assessment(State.QUEUED, Verdict.FALL_BACK, text, raw)
    if _running(pods):
        return Assessment(State.RUNNING, raw=raw)
    suspended = (job.get("spec") or {}).get("suspend")
    state = State.QUEUED if suspended else State.ADMITTED
    if not health.usable and triggers.site_unhealthy:
        text = f"became unavailable while the job waited there ({health.describe()})"
        if not last_resort:
            return Assessment(state, Verdict.FALL_BACK, text, raw, blame=Blame.SITE)
        return Assessment(state, reason=f"{text}; waiting, as no other site is left", raw=raw)
    created = parse_time((job.get("metadata") or {}).get("creationTimestamp")) or now
    if suspended:
        limit = None if last_resort else triggers.admission_timeout
        if limit is None:
            return Assessment(state, raw=raw)
        deadline = created + limit
        if now >= deadline:
            waiting = reserved.get("message") if reserved else "no answer from Kueue"
            text = f"not admitted within {format_duration(int(limit))} ({waiting})"
            return Assessment(state, Verdict.FALL_BACK, text, raw)
        return Assessment(state, raw=raw, check_at=deadline)
    limit = None if last_resort else triggers.start_timeout
    if limit is None:
        return Assessment(state, raw=raw)
    admitted_cond = condition(workload, "Admitted")
    admitted = parse_time(admitted_cond.get("lastTransitionTime")) if admitted_cond else None
    started = admitted or parse_time((job.get("status") or {}).get("startTime")) or created
    deadline = started + limit
    if now >= deadline:
        text = (
            f"did not start within {format_duration(int(limit))} "
            "(still waiting in the remote batch queue)"
        )
        return Assessment(state, Verdict.FALL_BACK, text, raw)
    return Assessment(state, raw=raw, check_at=deadline)


def progress(job: Mapping[str, Any] | None, completions: int) -> Progress:
    """Array-job progress: succeeded, failed and active of ``completions``."""
    status = (job or {}).get("status") or {}
    return {
        "completions": completions,
        "succeeded": int(status.get("succeeded") or 0),
        "failed": int(status.get("failed") or 0),
        "active": int(status.get("active") or 0),
    }
