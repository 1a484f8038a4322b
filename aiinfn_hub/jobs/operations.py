"""The user operations of the jobs API: preview a plan, submit, list, get, cancel, rerun,
read the log, and say that the executed notebook was saved.

Each one reads the index (:mod:`.index`) and, to change a job, writes its record through the
controller (:mod:`.controller`), under the job's lock; the controller then does the rest
(creating attempts, falling back). A user sees only their own jobs; an admin sees everyone's,
and what an admin does to another user's job is recorded in it (:mod:`.actions`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from ..apitypes import JobRequest, JobView, LogChunk, PlanView
from ..errors import ClusterUnavailable, Conflict, NotFound, Unprocessable
from ..kube.client import KubeError
from ..kube.conditions import now_iso
from ..placement import NoSiteError, Plan
from ..placement.estimate import Estimate
from . import actions as A
from . import labels as L
from .controller import Controller
from .logreader import read_log
from .manifests import build_record
from .model import JobSpec, State, parse_spec
from .parts import Parts
from .publisher import Count
from .queues import SiteQueues, queued_request
from .records import keep_answer, spec_data
from .tracked import Tracked
from .waiting import WaitAware

log = logging.getLogger(__name__)


class JobOperations(Parts):
    """What users (and admins) do to jobs, as the API's handlers call it."""

    def __init__(
        self,
        *,
        controller: Controller,
        max_staged_bytes: int,
        queues: SiteQueues,
        wait: WaitAware,
        **parts: Any,
    ) -> None:
        """``max_staged_bytes``: the largest file a job may ship; ``queues``: each site's
        queue and estimates; ``wait``: plans with the wait-aware policy; ``parts``: see
        :class:`~.parts.Parts`."""
        super().__init__(**parts)
        self.controller = controller
        self.max_staged_bytes = max_staged_bytes
        self.queues = queues
        self.wait = wait

    def _visible(self, job_id: str, user: str, admin: bool) -> Tracked:
        """The job, if ``user`` may see it (its owner, or an admin); else 404."""
        tracked = self.index.jobs.get(job_id)
        if tracked is None or not tracked.visible or (not admin and tracked.owner != user):
            raise NotFound(f"no job {job_id!r} among your jobs; check the id in your list of jobs")
        return tracked

    def plan(self, data: JobRequest, user: str | None = None) -> PlanView:
        """The placement preview for a request by the table and the sites' health alone (no
        queue, no wait-aware policy: :meth:`preview` is ``POST /plan``); nothing is submitted.
        Its image is checked, and with ``user`` the volumes it names."""
        spec = parse_spec(data, self.placer, self.max_staged_bytes)
        self.checks.check(spec, user)
        try:
            plan = self.placer.plan(spec.request, self.status.placing())
        except NoSiteError as exc:
            raise _unplaceable(exc) from None
        return self._plan_view(plan, spec)

    async def preview(self, data: JobRequest, user: str | None = None) -> PlanView:
        """``POST /plan``: the plan a submission of this request would get now (the wait-aware
        policy applied), each site with its ``queue``; nothing is submitted."""
        spec = parse_spec(data, self.placer, self.max_staged_bytes)
        self.checks.check(spec, user)
        plan, estimates = await self._placed(spec, data, shown=True)
        view = self._plan_view(plan, spec)
        self.queues.add_to_plan(view, estimates)
        return view

    async def _placed(
        self, spec: JobSpec, data: JobRequest, *, shown: bool = False
    ) -> tuple[Plan, dict[str, Estimate]]:
        """The plan for ``spec`` by the sites' health now and the wait-aware policy
        (:meth:`.WaitAware.place`); 422 when no site can run it."""
        try:
            return await self.wait.place(
                spec.request,
                queued_request(data),
                health=self.status.placing(),
                asked=spec.site,
                shown=shown,
            )
        except NoSiteError as exc:
            raise _unplaceable(exc) from None

    def _plan_view(self, plan: Plan, spec: JobSpec) -> PlanView:
        """The plan's JSON form, narrowed to the site the user asked for (422 when that site
        cannot run it, saying why)."""
        data = plan.to_dict()
        if spec.site:
            kept = [s for s in data["sites"] if s["name"] == spec.site]
            if not kept:
                why = next(
                    (r["reason"] for r in data["ruled_out"] if r["name"] == spec.site),
                    "not in the plan",
                )
                raise Unprocessable(f"this job cannot run at {spec.site}: {why}", "site")
            data["ruled_out"] += [
                {"name": s["name"], "reason": f"you asked for {spec.site}"}
                for s in data["sites"]
                if s["name"] != spec.site
            ]
            data["sites"] = [{"name": spec.site, "reason": "the site you asked for"}]
        for entry in data["sites"] + data["ruled_out"]:
            entry["display_name"] = self.placer.sites[entry["name"]].display_name
        return data

    async def submit(
        self, user: str, data: JobRequest, action: dict[str, Any] | None = None
    ) -> tuple[JobView, bool]:
        """Create a job (``action``: an admin's, recorded with it); returns its view and
        whether it is new (False: an idempotent retry)."""
        spec = parse_spec(data, self.placer, self.max_staged_bytes)
        self.checks.check(spec, user)
        claim = await self.home.resolve(self.kube, user, spec)
        if spec.client_request_id:
            existing = self.index.by_client_request(user, spec.client_request_id)
            if existing is not None and existing.view:
                return existing.view, False
            digest = hashlib.sha256(f"{user}\0{spec.client_request_id}".encode()).hexdigest()
            job_id = digest[:10]
        else:
            job_id = uuid.uuid4().hex[:10]
        plan = self._plan_view((await self._placed(spec, data))[0], spec)
        record = build_record(
            job_id,
            user,
            spec=spec,
            plan=plan,
            namespace=self.kube.namespace,
            now=now_iso(),
            extra=A.annotations([action]) if action else None,
            home_claim=claim,
        )
        tracked = self.index.tracked(job_id)
        async with tracked.lock:
            try:
                created, is_new = await self.kube.create("configmap", record)
            except KubeError as exc:
                if tracked.record is None:
                    self.index.forget(tracked)
                if not exc.transient:
                    raise Unprocessable(f"the job was not submitted: {exc.plain()}") from None
                raise ClusterUnavailable(
                    f"the job was not submitted: {exc.plain()}; try again in a minute"
                ) from None
            keep_answer(tracked, created)
            request = spec.client_request_id
            self.index.add(job_id, user, L.label_value(request) if request else None)
            self.controller.parse_record(tracked)
            self.publisher.count(Count.SUBMITTED)
            if tracked.view is None:
                first = self.controller.next_site(tracked, ())
                site = first.site if first else None
                self.publisher.publish(tracked, state=State.QUEUED, reason="", site=site)
        self.controller.mark(job_id)  # the controller creates the first attempt
        return tracked.shown, is_new

    def list_json(
        self,
        user: str,
        admin: bool,
        *,
        owner: str | None = None,
        state: str | None = None,
        site: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> str:
        """The caller's jobs (an admin's: everyone's, or ``owner``'s), newest first, as the
        JSON text of ``{jobs, total, next_offset}``, from each job's view encoded once when it
        changed."""
        if admin:
            ids = self.index.owned(owner) if owner else self.index.jobs.keys()
        else:
            ids = self.index.owned(user)
        chosen = []
        for job_id in ids:
            tracked = self.index.jobs.get(job_id)
            if tracked is None or not tracked.visible:
                continue
            if (state and tracked.state != state) or (site and tracked.site != site):
                continue
            chosen.append(tracked)
        chosen.sort(key=lambda t: (t.submitted or "", t.job_id), reverse=True)
        following = offset + limit if offset + limit < len(chosen) else None
        jobs = ",".join(t.view_json() for t in chosen[offset : offset + limit])
        total = len(chosen)
        return f'{{"jobs": [{jobs}], "total": {total}, "next_offset": {json.dumps(following)}}}'

    def get(self, user: str, admin: bool, job_id: str) -> JobView:
        """The job's view, if ``user`` may see it."""
        return self._visible(job_id, user, admin).shown

    async def cancel(self, user: str, admin: bool, job_id: str) -> JobView:
        """End a job that has not ended (409 if it has); an admin's cancel of another user's
        job is recorded in it."""
        tracked = self._visible(job_id, user, admin)
        async with tracked.lock:
            state = tracked.shown["state"]
            if State(state).terminal:
                raise Conflict(
                    f"job {job_id} has already ended ({state}); nothing to cancel",
                )
            job = tracked.attempts.get(max(tracked.attempts)) if tracked.attempts else None
            who = "you" if tracked.owner == user else f"admin {user}"
            done = [A.entry(A.Action.CANCELLED, user, now_iso())] if who != "you" else []
            try:
                await self.records.finish(
                    tracked, State.CANCELLED, f"cancelled by {who}", job, done
                )
            except KubeError as exc:
                raise ClusterUnavailable(f"the job was not cancelled: {exc.plain()}") from None
        return tracked.shown

    async def collected(self, user: str, admin: bool, job_id: str) -> JobView:
        """The owner's server saved the job's executed notebook (see retention.py)."""
        tracked = self._visible(job_id, user, admin)
        async with tracked.lock:
            await self.retention.collected(tracked)
        self.controller.mark(job_id)
        return tracked.shown

    async def rerun(self, user: str, admin: bool, job_id: str, site: str | None = None) -> JobView:
        """Submit the same job again (as a new job), optionally at a named site."""
        tracked = self._visible(job_id, user, admin)
        self.retention.check_rerun(tracked)
        data = spec_data(tracked)
        data.pop("client_request_id", None)
        data.pop("site", None)
        if site:
            data["site"] = site
        if user == tracked.owner:
            return (await self.submit(user, data))[0]
        # an admin's rerun of another user's job: recorded in both jobs' histories
        view, _ = await self.submit(
            tracked.owner, data, A.entry(A.Action.SUBMITTED, user, now_iso(), job_id)
        )
        async with tracked.lock:
            rerun = A.entry(A.Action.RERUN, user, now_iso(), view["id"])
            try:
                await self.records.patch(tracked, tracked.history, None, [rerun])
            except KubeError as exc:
                log.warning("job %s: admin %s's rerun not recorded: %s", job_id, user, exc)
        self.controller.mark(job_id)
        return view

    async def logs(
        self,
        user: str,
        admin: bool,
        job_id: str,
        offset: int = 0,
        completion_index: int | None = None,
    ) -> LogChunk:
        """A slice of the current attempt's log from ``offset``: ``{data, next_offset, eof}``."""
        tracked = self._visible(job_id, user, admin)
        if gone := self.retention.log_removed(tracked):
            return {**gone, "next_offset": max(offset, 0)}
        return await read_log(
            self.kube, tracked.spec, tracked.shown, tracked.pods.values(), offset, completion_index
        )


def _unplaceable(exc: NoSiteError) -> Unprocessable:
    """The 422 for a request no site can run, naming the requirement."""
    return Unprocessable(str(exc), f"resources.{exc.requirement}")
