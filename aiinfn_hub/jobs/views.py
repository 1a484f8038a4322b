"""What users see of a job: one JSON view built from its record, attempts and live objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..apitypes import AttemptView, JobView, KueueCondition, PlanView, Progress
from ..placement import Site
from . import actions as A
from .model import Outcome, State, completions_of
from .signals import Assessment, progress

_STATUS_WORDS = {
    State.QUEUED: "queued at {site}",
    State.ADMITTED: "admitted at {site}, waiting for it to start",
    State.RUNNING: "running at {site}",
    State.SUCCEEDED: "completed at {site}",
    State.FAILED: "failed at {site}",
    State.FALLING_BACK: "falling back from {site}",
    State.CANCELLED: "cancelled",
}


def short(reason: str) -> str:
    """The reason without its parenthesised detail: for one-line summaries."""
    return reason.split(" (", 1)[0]


def fallback_summary(history: Sequence[AttemptView], current: str | None) -> str:
    """E.g. ``CINECA Leonardo: not admitted within 10m, now on Local resources``."""
    parts = [
        f"{entry['site_display']}: {short(entry['reason'])}"
        for entry in history
        if entry.get("outcome") == Outcome.FELL_BACK
    ]
    if not parts:
        return ""
    return "; ".join(parts) + (f", now on {current}" if current else "")


def current_attempt(
    number: int, site: Site, job: Mapping[str, Any], assessment: Assessment
) -> AttemptView:
    """The attempt in progress (or the last one), in the same form as recorded attempts."""
    meta = job.get("metadata") or {}
    status = job.get("status") or {}
    outcome = None
    if assessment.state in (State.SUCCEEDED, State.FAILED):
        outcome = Outcome(assessment.state.value)
    raw = dict(assessment.raw)
    attempt: AttemptView = {
        "number": number,
        "site": site.name,
        "site_display": site.display_name,
        "job_name": meta.get("name"),
        "started": meta.get("creationTimestamp"),
        "ended": status.get("completionTime")
        or (_failed_time(job) if outcome is Outcome.FAILED else None),
        "outcome": outcome.value if outcome else None,
        "reason": assessment.reason
        or _STATUS_WORDS[assessment.state].format(site=site.display_name),
        "kueue": _kueue(raw),
        "remote_job_id": raw.get("remote_job_id"),
        "pod": raw.get("pod"),
    }
    if assessment.blame:  # kept in the record: sites' breakers count the site's failures
        attempt["blame"] = assessment.blame.value
    return attempt


#: What an attempt shows of Kueue's condition.
_KUEUE_KEYS: tuple[Literal["condition", "status", "reason", "message"], ...] = (
    "condition",
    "status",
    "reason",
    "message",
)


def _kueue(raw: Mapping[str, Any]) -> KueueCondition:
    """The Kueue condition of an assessment's raw findings, as an attempt shows it."""
    kueue: KueueCondition = {}
    for key in _KUEUE_KEYS:
        if key in raw:
            kueue[key] = raw[key]
    return kueue


def _failed_time(job: Mapping[str, Any]) -> str | None:
    for cond in (job.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Failed":
            found: str | None = cond.get("lastTransitionTime")
            return found
    return None


def build_view(
    job_id: str,
    owner: str,
    *,
    spec: dict[str, Any],
    plan: PlanView,
    submitted: str | None,
    history: Sequence[AttemptView],
    state: State,
    current: AttemptView | None,
    site: Site | None,
    job: Mapping[str, Any] | None,
    reason: str,
    counts: Progress | None = None,
    actions: Sequence[Mapping[str, Any]] = (),
) -> JobView:
    """The job as the API returns it; ``counts`` is the progress recorded when the job ended
    (its Job may be gone), else it is read from ``job``; ``actions``: what admins did to it.
    The view shares the parsed spec, plan and attempts of the record (thousands of views are
    kept): nothing may change it."""
    attempts = list(history)  # the recorded entries themselves: views are read-only
    if current:
        attempts.append(current.copy())
    started = attempts[0]["started"] if attempts else None
    ended = None
    if state.terminal:
        ended = (attempts[-1].get("ended") if attempts else None) or (
            attempts[-1].get("started") if attempts else submitted
        )
    site_name = site.name if site else None
    words = reason or _STATUS_WORDS[state].format(site=site.display_name if site else "no site")
    return {
        "id": job_id,
        "name": spec.get("name") or "",
        "owner": owner,
        "state": state.value,
        "site": site_name,
        "site_display": site.display_name if site else None,
        "reason": words,
        "submitted": submitted,
        "started": started,
        "ended": ended,
        "plan": plan,  # shared with the record's parse, as the attempts are: read-only
        "attempts": attempts,
        "fallback": fallback_summary(history, site.display_name if site else None),
        "progress": counts if counts else progress(job, completions_of(spec)),
        "spec": spec,
        "actions": A.shown(actions),
    }
