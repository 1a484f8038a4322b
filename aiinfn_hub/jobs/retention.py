"""Retention: what the jobs service deletes from Kubernetes once a job has ended, and when.

An ended job keeps everything at first: its record (request, plan, staged file, attempt
history), the Job of its last attempt, that Job's pods (they hold the log) and its Kueue
Workload. Then, in two steps:

1. **Compaction**, ``keep_logs_after_collected_hours`` after the owner's server has saved
   the executed notebook next to its source (it says so with ``POST /jobs/{id}/collected``),
   or ``keep_logs_hours`` after the end, whichever comes first: the attempt Jobs are deleted
   with background propagation (their pods and Workloads go with them) and the staged file is
   removed from the record; the request, the plan and the attempt history stay. The log is
   gone: ``GET /jobs/{id}/log`` says since when and why.
2. **Deletion**, ``keep_history_days`` after the end: the record goes (Kubernetes' garbage
   collector takes anything still owned by it), and the job leaves every list.

Both steps are recorded in the record's annotations (``collected``, ``compacted``) and the
end comes from its attempt history, so a restarted service goes on where it was. Due times
wait in one heap behind one timer, not a timer per job; the manager's reconcile of an ended
job calls :meth:`JobsRetention.step`, which acts or schedules the next step.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from traitlets import Float
from traitlets.config import LoggingConfigurable

from ..apitypes import LogChunk
from ..errors import Conflict
from ..kube.client import Kube
from ..kube.conditions import now_iso, parse_time
from . import labels as L
from .manifests import RECORD_KEYS
from .model import State
from .records import keep_answer

if TYPE_CHECKING:
    from .tracked import Tracked

HOUR = 3600.0
DAY = 24 * HOUR


def duration(seconds: float) -> str:
    """A span in words a user reads at a glance: ``45 s``, ``12 min``, ``5 h``, ``7 days``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * HOUR:
        return f"{seconds / HOUR:.0f} h"
    days = seconds / DAY
    return f"{days:.0f} day" + ("" if round(days) == 1 else "s")


def staged_keys(record: Mapping[str, Any] | None) -> list[str]:
    """The record's data keys that hold staged files (everything but its own request and plan)."""
    return sorted(set((record or {}).get("data") or {}) - RECORD_KEYS)


class JobsRetention(LoggingConfigurable):
    """When an ended job's attempts, pods, logs and record are deleted."""

    keep_logs_hours = Float(
        168.0,
        help="Hours after a job ends that its attempt Jobs, their pods (which hold its log) "
        "and Kueue Workloads, and its staged notebook or script are kept. Afterwards the "
        "job's record keeps its request, plan and attempt history, and GET /jobs/{id}/log "
        "says the log was removed. 0 keeps them until the record goes.",
    ).tag(config=True)
    keep_logs_after_collected_hours = Float(
        1.0,
        help="Hours the same are kept once the owner's server has saved the job's executed "
        "notebook next to its source (POST /jobs/{id}/collected), if that ends sooner than "
        "keep_logs_hours: the notebook holds the outputs, and the log stays a while for a "
        "look. 0 removes them as soon as the notebook is saved.",
    ).tag(config=True)
    keep_history_days = Float(
        90.0,
        help="Days after a job ends that its record (request, plan, attempt history) is "
        "kept; then it is deleted and the job leaves every list. 0 keeps records for ever.",
    ).tag(config=True)

    def __init__(self, kube: Kube, mark: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kube = kube
        self.mark = mark  # asks the manager to reconcile a job (under its lock)
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    # ------------------------------------------------------------------ the steps

    @staticmethod
    def ended_at(tracked: Tracked) -> float | None:
        """When the job ended (epoch seconds), from its view; None while it runs."""
        view = tracked.view
        if view is None or not tracked.final or not State(view["state"]).terminal:
            return None
        return parse_time(view.get("ended")) or parse_time(tracked.submitted)

    async def step(self, tracked: Tracked) -> None:
        """For an ended job (the manager holds its lock): delete its record once the history
        window has passed; else compact it once its notebook is collected or its logs'
        window has passed; then wait for the next step. Makes no request when nothing is
        due, so a restart over many old records costs no Kubernetes call per record."""
        ended = self.ended_at(tracked)
        if ended is None or tracked.record is None:
            return
        now = time.time()
        history_due = ended + self.keep_history_days * DAY if self.keep_history_days else None
        if history_due is not None and now >= history_due:
            self.log.info("job %s: deleting its record, ended %s ago", tracked.job_id,
                          duration(now - ended))  # fmt: skip
            await self.kube.delete("configmap", L.record_name(tracked.job_id))
            self.forget(tracked.job_id)
            return
        annotations = tracked.annotations
        logs_due = self.logs_due(tracked, ended)
        if L.COMPACTED in annotations or (logs_due is not None and now >= logs_due):
            await self.compact(tracked)
            logs_due = None
        pending = [due for due in (logs_due, history_due) if due is not None]
        self.schedule(tracked.job_id, min(pending, default=float("inf")))

    def logs_due(self, tracked: Tracked, ended: float) -> float | None:
        """When the job's attempts and log go (None: with the record)."""
        due = [ended + self.keep_logs_hours * HOUR] if self.keep_logs_hours else []
        collected = parse_time(tracked.annotations.get(L.COLLECTED))
        if collected is not None:
            due.append(collected + self.keep_logs_after_collected_hours * HOUR)
        return min(due, default=None)

    async def compact(self, tracked: Tracked) -> None:
        """Delete the attempt Jobs (pods and Workloads follow) and remove the staged file from
        the record; the first time, note when. Each part is skipped once done."""
        for job in list(tracked.attempts.values()):
            await self.kube.delete("job", job["metadata"]["name"])
        removed = staged_keys(tracked.record)
        if L.COMPACTED in tracked.annotations and not removed:
            return
        patch: dict[str, Any] = {"data": dict.fromkeys(removed)}
        if L.COMPACTED not in tracked.annotations:
            patch["metadata"] = {"annotations": {L.COMPACTED: now_iso()}}
        await self._patch(tracked, patch)
        self.log.info("job %s: attempts deleted, record compacted", tracked.job_id)

    async def collected(self, tracked: Tracked) -> None:
        """The owner's server saved the job's executed notebook: its log may go sooner."""
        if self.ended_at(tracked) is None:
            raise Conflict(
                f"job {tracked.job_id} has not ended yet; its notebook can be collected once "
                "it has",
            )
        if L.COLLECTED in tracked.annotations:
            return
        await self._patch(tracked, {"metadata": {"annotations": {L.COLLECTED: now_iso()}}})

    async def _patch(self, tracked: Tracked, patch: dict[str, Any]) -> None:
        """Patch the record; keep the answer unless the watch brought a newer version."""
        keep_answer(
            tracked, await self.kube.patch("configmap", L.record_name(tracked.job_id), patch)
        )

    # ------------------------------------------------------------------ what users are told

    def log_removed(self, tracked: Tracked) -> LogChunk | None:
        """The answer of GET /jobs/{id}/log once the log is gone (None while it is kept)."""
        compacted = parse_time(tracked.annotations.get(L.COMPACTED))
        if compacted is None:
            return None
        return {
            "data": "",
            "next_offset": 0,
            "eof": True,
            "pod": None,
            "message": f"the log was removed {self._since_end(tracked, compacted)}, with the "
            f"job's pods: {self._why(tracked)}",
        }

    def check_rerun(self, tracked: Tracked) -> None:
        """Refuse to rerun a notebook or script job whose staged file has been removed."""
        script = tracked.spec.get("script")
        compacted = parse_time(tracked.annotations.get(L.COMPACTED))
        if not script or compacted is None:
            return
        raise Conflict(
            f"the copy of {script.get('path') or 'the file'} this job ran was removed "
            f"{self._since_end(tracked, compacted)}: {self._why(tracked)}; run the file "
            "again as a new job",
        )

    def _since_end(self, tracked: Tracked, when: float) -> str:
        ended = self.ended_at(tracked)
        return f"{duration(when - ended)} after the job ended" if ended else "after the job ended"

    def _why(self, tracked: Tracked) -> str:
        ended = self.ended_at(tracked)
        collected = parse_time(tracked.annotations.get(L.COLLECTED))
        if collected is not None and (
            not self.keep_logs_hours
            or collected + self.keep_logs_after_collected_hours * HOUR
            < (ended or 0) + self.keep_logs_hours * HOUR
        ):
            saved = "its executed notebook had been saved next to the notebook it ran"
            if not self.keep_logs_after_collected_hours:
                return saved
            kept = duration(self.keep_logs_after_collected_hours * HOUR)
            return f"{saved}, and the hub keeps the log {kept} longer"
        return f"the hub keeps them for {duration(self.keep_logs_hours * HOUR)} after a job ends"

    # ------------------------------------------------------------------ one timer for all

    def schedule(self, job_id: str, when: float) -> None:
        """Reconcile ``job_id`` at ``when`` (epoch seconds; infinity: never)."""
        if when == float("inf") or self._due.get(job_id) == when:
            return
        self._due[job_id] = when
        heapq.heappush(self._heap, (when, job_id))
        if when < self._timer_at:
            self._arm(when)

    def forget(self, job_id: str) -> None:
        self._due.pop(job_id, None)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer_at = when
        self._timer = loop.call_later(max(0.0, when - time.time()) + 0.05, self._fire)

    def _fire(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = time.time()
        while self._heap and self._heap[0][0] <= now:
            when, job_id = heapq.heappop(self._heap)
            if self._due.get(job_id) == when:  # else a stale entry: the job moved on
                del self._due[job_id]
                self.mark(job_id)
        if self._heap:
            self._arm(self._heap[0][0])

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
