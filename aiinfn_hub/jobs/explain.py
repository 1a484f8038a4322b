"""One sentence saying why a job waits or failed, from every layer that knows.

Kueue (the Workload's ``QuotaReserved``, ``Admitted`` and ``Evicted`` conditions), the remote
site (interLink's ``ProviderFailed``, the plugin's pending reason, the remote job id), the
node the job is bound to (``InterlinkConnectivity``, ``Ready``) and the pod itself (the
scheduler's message, ``ImagePullBackOff``, ``CrashLoopBackOff``, ``OOMKilled``, an exit code)
each say something; :mod:`.findings` reads each layer, and :func:`explain` picks the one that
explains best (:class:`~.findings.Rank`) and writes it after the job's state at its site:
*"Admitted at CINECA Leonardo: the connection to the site is lost (Ping to InterLink API
failed: status 503)."* The raw words of every layer stay in :attr:`Explanation.details`.

Pure functions of the job's state, the service's own words, the site, and the live objects of
its current attempt (:class:`Evidence`); an ended job whose objects are gone is explained from
its recorded attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..apitypes import AttemptView, ExplanationDetail, ExplanationView
from ..placement import Site, SiteKind
from .evidence import Evidence
from .findings import Detail, Finding, Layer, Rank, kueue_findings, node_findings
from .model import State
from .podfindings import pod_findings

__all__ = ["Evidence", "Explanation", "Layer", "explain"]

#: How each state leads the sentence.
_LEADS = {
    State.QUEUED: "Queued at {site}",
    State.ADMITTED: "Admitted at {site}",
    State.RUNNING: "Running at {site}",
    State.FALLING_BACK: "Falling back from {site}",
    State.SUCCEEDED: "Completed at {site}",
    State.FAILED: "Failed at {site}",
    State.CANCELLED: "Cancelled",
}
_NO_SITE_LEFT = "no site left to try"


@dataclass(frozen=True)
class Explanation:
    """The sentence, the layer it came from, and every layer's raw words."""

    sentence: str
    layer: Layer
    details: tuple[Detail, ...] = ()

    def view(self) -> ExplanationView:
        """As the API shows it (``Job.explanation``)."""
        details: list[ExplanationDetail] = [
            {"layer": d.layer.value, "source": d.source, "reason": d.reason, "message": d.message}
            for d in self.details
        ]
        return {"sentence": self.sentence, "layer": self.layer.value, "details": details}


def _recorded(attempt: AttemptView | None) -> Evidence:
    """An ended attempt's recorded words, as evidence: Kueue's condition and the pod the site
    failed (the attempt's objects may be gone)."""
    if not attempt:
        return Evidence()
    kueue = attempt.get("kueue") or {}
    workload = None
    if kueue.get("condition"):
        workload = {"status": {"conditions": [{"type": kueue["condition"], **kueue}]}}
    pods = []
    pod = attempt.get("pod")
    if pod:
        terminated = {"exitCode": pod.get("exitCode"), "reason": pod.get("reason") or ""}
        pods.append(
            {
                "metadata": {"name": pod.get("name") or ""},
                "status": {
                    "phase": "Failed",
                    "reason": pod.get("reason") or "",
                    "message": pod.get("message") or "",
                    "containerStatuses": [{"name": "job", "state": {"terminated": terminated}}],
                },
            }
        )
    return Evidence(workload=workload, pods=pods)


#: The least a finding must weigh to explain a job in these states: a job past its waits
#: is not explained by a wait (a failed one by a wait that timed out: the service says that).
_AT_LEAST = {
    State.RUNNING: Rank.BROKEN,
    State.SUCCEEDED: Rank.ENDED,
    State.FAILED: Rank.BLOCKED,
    State.FALLING_BACK: Rank.BLOCKED,
}


def weigh(findings: Sequence[Finding | None], state: State) -> Finding | None:
    """The finding that explains best. The highest rank wins (a pod that ended, then a node
    that is gone, then a fix needed, then Kueue refusing for good, then no node fitting, the
    remote queue, the quota wait, a start under way); on a tie, the first given (pass the
    lower layers first: they are closer to what actually happens). A job past its waits is
    explained only by what stops or stopped it (``_AT_LEAST``); None: no layer explains it."""
    best: Finding | None = None
    for found in findings:
        if found is None or found.rank < _AT_LEAST.get(state, Rank.STATE):
            continue
        if best is None or found.rank > best.rank:
            best = found
    return best


def explain(
    *,
    state: State,
    reason: str,
    site: Site | None,
    evidence: Evidence | None = None,
    attempt: AttemptView | None = None,
) -> Explanation:
    """Why the job is where it is, in one sentence.

    ``reason``: the jobs service's own words (what it decided, or its state words);
    ``evidence``: the current attempt's live objects, else the recorded ``attempt`` speaks
    for an ended one. A cancelled job, or one whose layers say nothing telling, is explained
    by the service's words; otherwise the best finding (:func:`weigh`) follows the state at
    the site, and a job that failed because every site did says so at the end."""
    display = site.display_name if site else "no site"
    lead = _LEADS[state].format(site=display)
    reason = reason.removeprefix(f"{display}: ")
    if state is State.FALLING_BACK and reason.startswith("falling back from "):
        lead, _, reason = reason.partition(": ")  # names the site it goes to
    service = Detail(Layer.SERVICE, "jobs service", state.value, reason)
    if state is State.CANCELLED or (evidence is None and attempt is None):
        return Explanation(_sentence(lead if not reason else "", reason), Layer.SERVICE, (service,))
    evidence = evidence if evidence is not None else _recorded(attempt)
    offload = site is not None and site.kind is SiteKind.OFFLOAD
    kueue_details, kueue, admitted = kueue_findings(evidence.workload, suspended=evidence.suspended)
    pod_details, pod = pod_findings(
        evidence.pods, evidence.nodes, offload=offload, infrastructure=evidence.infrastructure
    )
    node_details, node = node_findings(evidence.pods, evidence.nodes, evidence.health)
    details = (*kueue_details, *node_details, *pod_details, service)
    if state.terminal:
        node = None  # a node lost after the job ended explains nothing of it
    best = weigh([pod, node, kueue], state)
    if best is None:
        return Explanation(_sentence(lead, "" if _is_state_words(reason, display) else reason),
                           Layer.SERVICE, details)  # fmt: skip
    words = best.words
    if state is State.FAILED and reason.endswith(_NO_SITE_LEFT) and best.rank >= Rank.BLOCKED:
        words += "; no other site was left to try"
    if admitted and state is State.QUEUED:
        lead = f"Admitted at {display}"
    return Explanation(_sentence(lead, words), best.layer, details)


def _is_state_words(reason: str, display: str) -> bool:
    """Whether the service's reason only repeats the state (``queued at CINECA Leonardo``)."""
    return not reason or reason.endswith(f" at {display}") or reason == "cancelled"


def _sentence(lead: str, words: str) -> str:
    """``Lead: words.``, capitalised and ended once."""
    text = f"{lead}: {words}" if lead and words else (lead or words)
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."
