"""The controller: brings every job's Kubernetes objects to what its record says, and falls
back to the next site when an attempt's site fails it.

State of record is Kubernetes itself. Each job is a ConfigMap *record* (spec, plan, staged
file, finished attempts, cancellation) plus one batch/v1 Job per *attempt*, named
``aiinfn-<id>-<n>``. A fallback appends the failed attempt to the record, creates attempt
``n+1`` at the site the plan names next (:func:`~aiinfn_hub.placement.plan.next_site`) and
deletes attempt ``n`` (which also cancels a remote Slurm or HTCondor job through interLink).
Names are deterministic and every step is idempotent, so a service killed at any moment and
restarted rebuilds every job from the objects, finishes an interrupted fallback, and submits
nothing twice.

A job is reconciled when something of it changes (:meth:`Controller.mark`, from the index),
or at the time its assessment asks to look again (a timeout, a retry); ``workers`` tasks take
jobs from one queue, a job at most once at a time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

from ..apitypes import AttemptView
from ..errors import AIInfnError
from ..kube.client import KubeError
from ..kube.conditions import now_iso
from ..placement import NextSite, Site, stored_order
from ..placement.plan import next_site as plan_next_site
from . import labels as L
from . import slim
from .evidence import attempt_evidence, owned_by
from .manifests import PodSettings, build_attempt
from .model import Outcome, State, completions_of, parse_spec
from .parts import Parts
from .publisher import Count
from .records import finished, keep_newest, spec_data
from .signals import Assessment, Verdict, assess, progress
from .tracked import Tracked
from .triggers import Triggers
from .views import current_attempt

log = logging.getLogger(__name__)


class Controller(Parts):
    """The work queue of jobs to reconcile, their timers, and the reconcile and fallback."""

    def __init__(
        self, *, triggers: Mapping[str, Triggers], settings: PodSettings, workers: int, **parts: Any
    ) -> None:
        """``triggers``: each site's fallback triggers; ``settings``: the pods' settings;
        ``workers``: how many jobs are reconciled at once; ``parts``: see :class:`Parts`."""
        super().__init__(**parts)
        self.triggers = triggers
        self.settings = settings
        self.workers = workers
        self.started = False  # jobs are queued only once the workers run
        self._dirty: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._busy: set[str] = set()  # being reconciled
        self._tasks: list[asyncio.Task[None]] = []
        self._initial: set[str] = set()
        self._recovered = asyncio.Event()

    # ------------------------------------------------------------------ the work queue

    def begin(self) -> None:
        """Start the reconcile workers, with every job known so far."""
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"reconcile-{i}") for i in range(self.workers)
        ]
        self.started = True
        for job_id in list(self.index.jobs):
            self.mark(job_id)

    async def recovered(self) -> None:
        """Return once every job queued or being reconciled now has been reconciled once
        (after a restart: the API serves no partial list)."""
        self._initial = self._queued | self._busy
        if self._initial:
            await self._recovered.wait()
        else:
            self._recovered.set()

    async def stop(self) -> None:
        """Stop the workers and every job's timer."""
        for task in self._tasks:
            task.cancel()
        for ended in await asyncio.gather(*self._tasks, return_exceptions=True):
            if not isinstance(ended, asyncio.CancelledError):  # it had died before
                log.error("a reconcile worker had stopped: %r", ended, exc_info=ended)
        for tracked in self.index.jobs.values():
            if tracked.timer:
                tracked.timer.cancel()

    def mark(self, job_id: str) -> None:
        """Queue the job for a reconcile, unless it is queued already (or nothing runs yet)."""
        if self.started and job_id not in self._queued:
            self._queued.add(job_id)
            self._dirty.put_nowait(job_id)

    def waiting(self, job_id: str) -> bool:
        """Whether the job is queued for a reconcile."""
        return job_id in self._queued

    @property
    def idle(self) -> bool:
        """Whether no job waits in the queue."""
        return self._dirty.empty()

    def sites_changed(self, changed: Collection[str]) -> None:
        """Sites' health changed: reconcile the jobs in progress there (they may fall back)."""
        if not changed or not self.started:
            return
        for tracked in self.index.jobs.values():
            if tracked.site in changed and not State(tracked.state or State.QUEUED).terminal:
                self.mark(tracked.job_id)

    def schedule(self, tracked: Tracked, when: float | None) -> None:
        """Reconcile the job again at ``when`` (epoch seconds), instead of any earlier time
        asked; None: no timer."""
        if tracked.timer:
            tracked.timer.cancel()
            tracked.timer = None
        if when is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, when - time.time()) + 0.05
            tracked.timer = loop.call_later(delay, self.mark, tracked.job_id)

    async def _worker(self) -> None:
        """Take jobs from the queue and reconcile each, one at a time."""
        while True:
            job_id = await self._dirty.get()
            self._queued.discard(job_id)
            self._busy.add(job_id)
            try:
                await self.reconcile_one(job_id)
            finally:
                self._busy.discard(job_id)
                if job_id in self._initial:
                    self._initial.discard(job_id)
                    if not self._initial:
                        self._recovered.set()

    async def reconcile_one(self, job_id: str) -> None:
        """Reconcile one job under its lock; on an error, retry it later (the cluster was
        unavailable), wait for the watch (an object is gone), or end it (Kubernetes refused
        a step, or its request no longer parses)."""
        tracked = self.index.jobs.get(job_id)
        if tracked is None:
            return
        try:
            async with tracked.lock:
                tracked.wake()
                await self._reconcile(tracked)
                self.status.breakers.observe(tracked)  # the sites' breakers read its attempts
            tracked.rest()  # an ended job keeps only its compact form (tracked.py)
        except KubeError as exc:
            if exc.transient:
                log.warning("job %s: %s; will retry", job_id, exc)
                self.schedule(tracked, time.time() + 2)
            elif exc.status == 404:  # an object is gone: its watch event reconciles the job
                log.warning("job %s: %s", job_id, exc)
            else:
                await self._refused(tracked, exc.plain())
        except AIInfnError as exc:  # the stored request does not parse under today's sites
            await self._refused(tracked, f"its request is no longer accepted: {exc.message}")
        except Exception:
            log.exception("job %s: reconcile failed", job_id)
            self.schedule(tracked, time.time() + 5)

    async def _refused(self, tracked: Tracked, reason: str) -> None:
        """A step that cannot succeed however often it is tried (Kubernetes refused it as
        invalid or forbidden, or the request no longer parses): end the job, saying why."""
        log.warning("job %s: %s", tracked.job_id, reason)
        if tracked.record is None or tracked.final:
            return
        try:
            async with tracked.lock:
                await self.records.finish(tracked, State.FAILED, reason, None)
        except KubeError as again:
            log.warning("job %s: cannot record the failure: %s", tracked.job_id, again)
            self.schedule(tracked, time.time() + 5)

    # ------------------------------------------------------------------ the reconcile

    def parse_record(self, tracked: Tracked) -> None:
        """Parse the record's request and plan, once per version of the record."""
        record = tracked.stored
        version = record["metadata"].get("resourceVersion")
        if tracked.parsed_version != version:
            data = record.get("data") or {}
            tracked.spec = json.loads(data.get("spec.json") or "{}")  # kept while it runs
            tracked.plan = slim.shared(data.get("plan.json") or "{}")  # read-only, shared
            tracked.parsed_version = version

    def next_site(self, tracked: Tracked, tried: Collection[str]) -> NextSite | None:
        """The site the job's plan names after those ``tried`` (of the sites still
        configured), by the sites' health now, and why: the one fallback order of jobs and
        servers, :func:`~aiinfn_hub.placement.plan.next_site`."""
        order = stored_order(tracked.plan, self.placer.sites)
        return plan_next_site(order, tried, self.status.placing())

    def _site(self, name: str | None) -> Site | None:
        """The configured site of that name; None if it is no longer configured."""
        return self.placer.sites.get(name) if name else None

    async def _reconcile(self, tracked: Tracked) -> None:
        """Bring one job's objects to its record: delete attempts that are over, create the
        next one, assess the current one and act on what it says (wait, end, fall back)."""
        if tracked.record is None:
            if not tracked.attempts and not tracked.pods:
                self.index.forget(tracked)
            return
        self.parse_record(tracked)
        history = tracked.history
        final = tracked.final
        expected = len(history) + 1
        ended = final.get("attempt") if final else None  # kept: its pods hold the log
        for number in sorted(tracked.attempts):
            job = tracked.attempts[number]
            if number == ended and finished(job):
                continue
            if number < expected or (final and not finished(job)):
                await self.kube.delete("job", job["metadata"]["name"])
        if final:
            kept = tracked.attempts.get(ended) if ended else None
            self.publisher.publish(
                tracked,
                state=State(final["state"]),
                reason=final["reason"],
                counts=final.get("progress"),
                evidence=attempt_evidence(self, tracked, kept) if kept else None,
            )
            await self.retention.step(tracked)
            return
        current = tracked.attempts.get(expected)
        if current is None:
            await self._next_attempt(tracked, expected, history)
            return
        job = current
        site = self._site(job["metadata"]["labels"].get(L.SITE))
        if site is None:
            await self.records.finish(
                tracked, State.FAILED, "its site is no longer configured", job
            )
            return
        tried = {entry["site"] for entry in history} | {site.name}
        following = self.next_site(tracked, tried)
        found = assess(
            job,
            self.index.workloads.get(job["metadata"].get("uid", "")),
            [p for p in tracked.pods.values() if owned_by(p, job)],
            site,
            self.status.of(site.name),
            time.time(),
            last_resort=following is None,
            triggers=self.triggers[site.name],
        )
        self.schedule(tracked, found.check_at)
        if found.verdict is Verdict.FALL_BACK:
            await self._fall_back(tracked, expected, site, job, found, following)
            return
        attempt = current_attempt(expected, site, job, found)
        if found.verdict in (Verdict.SUCCEED, Verdict.FAIL):
            await self._record_outcome(tracked, found.state, attempt, job)
            return
        self.publisher.publish(
            tracked,
            state=found.state,
            reason=found.reason,
            attempt=attempt,
            site=site,
            job=job,
            evidence=attempt_evidence(self, tracked, job),
        )

    async def _record_outcome(
        self, tracked: Tracked, state: State, attempt: AttemptView, job: dict[str, Any]
    ) -> None:
        """The attempt ended the job (its code succeeded, failed or ran out of time): write
        the outcome and the attempt into the record, so the job stays ended with its history
        when its Job is deleted from outside or the service restarts. Setting the same values
        again is harmless, so a restart halfway through simply writes them once more."""
        counts = progress(job, completions_of(tracked.spec))
        final = {
            "state": state.value,
            "reason": attempt["reason"],
            "attempt": attempt["number"],
            "progress": counts,
        }
        await self.records.patch(tracked, [*tracked.history, attempt], final)
        self.publisher.publish(tracked, state=state, reason=attempt["reason"], counts=counts)

    async def _fall_back(
        self,
        tracked: Tracked,
        number: int,
        site: Site,
        job: dict[str, Any],
        found: Assessment,
        following: NextSite | None,
    ) -> None:
        """Attempt ``number`` at ``site`` failed the job: record it as fallen back and move
        the job to the ``following`` site, or end it when no site is left to try."""
        entry = current_attempt(number, site, job, found)
        entry["outcome"] = Outcome.FELL_BACK.value
        entry["ended"] = now_iso()
        entry["reason"] = found.reason
        history = [*tracked.history, entry]
        self.publisher.count(Count.FALLBACKS)
        if following is None:
            entry["outcome"] = Outcome.FAILED.value
            reason = f"{site.display_name}: {found.reason}; no site left to try"
            final = {"state": State.FAILED.value, "reason": reason}
            await self.records.patch(tracked, history, final)
            if not finished(job):
                await self.kube.delete("job", job["metadata"]["name"])
            self.publisher.publish(tracked, state=State.FAILED, reason=reason, site=site)
            return
        target = following.site
        self.publisher.publish(
            tracked,
            state=State.FALLING_BACK,
            reason=f"falling back from {site.display_name} to {target.display_name}: "
            f"{found.reason}",
            site=site,
            job=job,
        )
        # the history and the next attempt at once (one round trip, not two): a restart
        # between them finds the history without the attempt (and creates it), or the attempt
        # without the history (the old attempt falls back again, onto the same Job by name)
        _, created = await asyncio.gather(
            self.records.patch(tracked, history, None),
            self._create_attempt(tracked, number + 1, target, history),
        )
        await self.kube.delete("job", job["metadata"]["name"])
        tracked.attempts.pop(number, None)
        self._queued_attempt(tracked, number + 1, target, created, reason="")

    async def _next_attempt(
        self, tracked: Tracked, number: int, history: list[AttemptView]
    ) -> None:
        """Create attempt ``number`` at the next site of the plan (the first, for a new job),
        or end the job if no site is left."""
        chosen = self.next_site(tracked, {entry["site"] for entry in history})
        if chosen is None:
            await self.records.finish(tracked, State.FAILED, "no site left to try", None)
            return
        created = await self._create_attempt(tracked, number, chosen.site, history)
        self._queued_attempt(tracked, number, chosen.site, created, reason="")

    def _queued_attempt(
        self, tracked: Tracked, number: int, site: Site, created: dict[str, Any], *, reason: str
    ) -> None:
        """Keep the attempt just created and show the job queued at its site."""
        keep_newest(tracked.attempts, number, created)
        self.publisher.publish(
            tracked,
            state=State.QUEUED,
            reason=reason,
            attempt=current_attempt(number, site, created, Assessment(State.QUEUED)),
            site=site,
            job=created,
        )

    async def _create_attempt(
        self, tracked: Tracked, number: int, site: Site, history: list[AttemptView]
    ) -> dict[str, Any]:
        """Create the Job of attempt ``number`` at ``site`` (409: the one made before is kept),
        checking the request again: an admin may have stopped sharing a volume or allowing an
        image since it was submitted."""
        spec = parse_spec(spec_data(tracked), self.placer, 1 << 40)
        self.checks.check(spec, tracked.owner)
        body = build_attempt(
            tracked.job_id,
            tracked.owner,
            spec=spec,
            site=site,
            number=number,
            plan=tracked.plan,
            history=history,
            namespace=self.kube.namespace,
            record_uid=tracked.stored["metadata"].get("uid"),
            settings=self.settings,
            home_claim=self.home.recorded(tracked.annotations, tracked.owner),
        )
        created, _ = await self.kube.create("job", body)
        self.index.attempt_created(created, tracked.job_id)
        return created
