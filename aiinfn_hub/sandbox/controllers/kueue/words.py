"""Kueue's words on a workload, as a release writes them with or without a feature gate.

The admission cycle judges a workload in detailed reasons (``NoMatchingFlavor``,
``ExceedsMaxQuota``, ``WaitingForQuota``, ``Misconfigured``, ``Suspended``). Kueue writes
those only with its ``UnadmittedWorkloadsObservability`` gate (0.19 and later, off by default
there); a default install (0.17, 0.19) writes ``QuotaReserved=False`` with reason ``Pending``
(the scheduler, after a failed flavor assignment) or ``Inadmissible`` (the workload controller,
for a missing, inactive or stopped queue), the detail only in the message. Sources: Kueue
v0.17's pkg/scheduler/scheduler.go (``requeueAndUpdate``), pkg/controller/core/
workload_controller.go and pkg/workload (``ReasonWithCause``, ``Evict``).
"""

from __future__ import annotations

from ....kueuenames import QuotaReason

DEACTIVATED_MESSAGE = "The workload is deactivated"
REQUEUING_LIMIT_EXCEEDED = "RequeuingLimitExceeded"
REQUEUING_LIMIT_MESSAGE = "exceeding the maximum number of re-queuing retries"
#: Evictions after which Kueue requeues at once (Requeued=True).
REQUEUED_AT_ONCE = frozenset({"Preempted", "NodeFailures"})


def quota_reason(detailed: QuotaReason, gate: bool) -> str:
    """The reason of QuotaReserved=False for a workload the admission cycle judged
    ``detailed`` (the gate's words)."""
    if gate:
        return detailed.value
    if detailed in (QuotaReason.MISCONFIGURED, QuotaReason.SUSPENDED):
        return QuotaReason.INADMISSIBLE.value
    return QuotaReason.PENDING.value


def released_reason(gate: bool) -> str:
    """The reason of QuotaReserved=False once an evicted workload's quota is released."""
    return (QuotaReason.PENDING_EVALUATION if gate else QuotaReason.PENDING).value


def exceeds_max_quota(resource: str, flavor: str, requested: str, maximum: str) -> str:
    """The flavor assigner's words for a request above what the flavor can ever give (the
    podset is the workload's only one: nothing considered before it)."""
    return (
        f"insufficient quota for {resource} in flavor {flavor}, previously considered podsets "
        f"requests (0) + current podset request ({requested}) > maximum capacity ({maximum})"
    )
