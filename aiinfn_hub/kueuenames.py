"""Kueue's names for why a workload holds no quota and why it was evicted, and the order its
queues take workloads in (no dependencies: the jobs service reads them and the sandbox
writes them).

Kueue writes the detailed quota reasons only with its ``UnadmittedWorkloadsObservability``
gate; a default install writes ``Pending`` or ``Inadmissible`` (Kueue v0.17's
apis/kueue/v1beta2/workload_types.go and pkg/workload: ``ReasonWithCause``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class QuotaReason(str, Enum):
    """Reasons of a workload's ``QuotaReserved=False`` condition."""

    NO_MATCHING_FLAVOR = "NoMatchingFlavor"
    EXCEEDS_MAX_QUOTA = "ExceedsMaxQuota"
    WAITING_FOR_QUOTA = "WaitingForQuota"
    MISCONFIGURED = "Misconfigured"
    SUSPENDED = "Suspended"
    PENDING_EVALUATION = "PendingEvaluation"
    #: a default install's: after a failed flavor assignment, and for a queue problem
    PENDING = "Pending"
    INADMISSIBLE = "Inadmissible"


#: The eviction of a workload whose ``spec.active`` is false.
DEACTIVATED = "Deactivated"
DUE_TO = "DueTo"


def with_cause(reason: str, cause: str) -> str:
    """Kueue's ``ReasonWithCause``: ``<reason>DueTo<cause>``, or the reason alone."""
    return f"{reason}{DUE_TO}{cause}" if cause else reason


def queue_order(wl: Mapping[str, Any]) -> tuple[int, str, str]:
    """The order a ClusterQueue takes its pending workloads in: higher priority first, then
    the older first (Kueue's ``BestEffortFIFO``/``StrictFIFO`` ordering by creation time)."""
    meta = wl["metadata"]
    return (
        -int((wl.get("spec") or {}).get("priority") or 0),
        meta.get("creationTimestamp") or "",
        meta["name"],
    )
