"""Kueue's reasons read alike whichever release wrote them.

A workload's ``QuotaReserved=False`` reason depends on the release and its feature gates.
With ``UnadmittedWorkloadsObservability`` (0.19 and later, off by default there) it is
detailed: ``NoMatchingFlavor``, ``ExceedsMaxQuota``, ``WaitingForQuota``, ``Misconfigured``,
``Suspended``... A default install (0.17, 0.19) writes ``Pending`` after a failed flavor
assignment, the detail only in the message (``couldn't assign flavors to pod set main:
insufficient quota for nvidia.com/gpu in flavor a100, previously considered podsets requests
(0) + current podset request (8) > maximum capacity (4)``), and ``Inadmissible`` for a missing,
inactive or stopped queue. :func:`quota_reason` gives the detailed reason in both cases, so a
trigger lists one set of words. Kueue names a deactivation ``Deactivated`` or, when Kueue itself
deactivated the workload, ``DeactivatedDueTo<cause>`` (e.g. ``...RequeuingLimitExceeded``),
and matches the prefix itself: :func:`eviction_reason` does the same.

Sources: Kueue v0.17 pkg/scheduler/flavorassigner (the messages), pkg/scheduler/scheduler.go
(``Pending``), pkg/controller/core/workload_controller.go (``Inadmissible``), pkg/workload
(``ReasonWithCause``, ``IsEvictedByDeactivation``).
"""

from __future__ import annotations

import re

from ..kueuenames import DEACTIVATED, DUE_TO, QuotaReason

_POD_SET = re.compile(r"(?:^|; )couldn't assign flavors to pod set [^:]*: ")
#: What one flavor says, most schedulable first: a wait may end, a limit or a mismatch not.
_FLAVOR_WORDS = (
    (QuotaReason.WAITING_FOR_QUOTA, ("insufficient unused quota",)),
    (QuotaReason.EXCEEDS_MAX_QUOTA, ("> maximum capacity",)),
    (
        QuotaReason.NO_MATCHING_FLAVOR,
        ("untolerated taint", "doesn't match node affinity", "unavailable in ClusterQueue"),
    ),
)
#: The scheduler's words (reason Pending) for a workload no flavor is even tried for.
_NOT_NOMINATED = re.compile(
    r"^(Workload namespace doesn't match ClusterQueue selector"
    r"|ClusterQueue \S+ (is inactive|not found))$"
)
#: The workload controller's words for a queue that holds the workload back on purpose.
_STOPPED = re.compile(r"^(LocalQueue \S+ is (stopped|inactive)|ClusterQueue \S+ is stopped)$")


def _pod_set_reason(text: str) -> QuotaReason | None:
    """The reason of the most schedulable flavor one pod set was tried on."""
    for reason, words in _FLAVOR_WORDS:
        if any(w in text for w in words):
            return reason
    return None


def quota_reason(reason: str, message: str) -> str:
    """The detailed reason of a QuotaReserved=False condition, from the detailed reason
    itself, or from the message where the reason is a default install's ``Pending`` or
    ``Inadmissible``; ``Pending`` when the message says nothing more (a plain wait)."""
    if reason == QuotaReason.PENDING:
        if _NOT_NOMINATED.match(message.strip()):
            return QuotaReason.MISCONFIGURED.value
        parts = _POD_SET.split(message)
        if len(parts) < 2 or parts[0]:
            return reason  # not the flavor assigner's words (e.g. after an eviction)
        found = [_pod_set_reason(part) for part in parts[1:]]
        order = [r for r, _ in _FLAVOR_WORDS]
        known = [r for r in found if r is not None]
        if not known:
            return reason
        # every pod set must fit: the one held back hardest decides
        return max(known, key=order.index).value
    if reason == QuotaReason.INADMISSIBLE:
        stopped = _STOPPED.match(message.strip())
        words: str = (QuotaReason.SUSPENDED if stopped else QuotaReason.MISCONFIGURED).value
        return words
    return reason


def eviction_reason(reason: str) -> str:
    """An Evicted reason without the cause Kueue appends to a deactivation
    (``DeactivatedDueToRequeuingLimitExceeded`` is ``Deactivated``)."""
    return DEACTIVATED if reason.startswith(DEACTIVATED + DUE_TO) else reason
