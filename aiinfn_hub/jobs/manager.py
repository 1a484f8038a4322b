"""The jobs manager: user operations and the watch-driven controller that falls back.

State of record is Kubernetes itself. Each job is a ConfigMap *record* (spec, plan, staged
file, finished attempts, cancellation) plus one batch/v1 Job per *attempt*, named
``aiinfn-<id>-<n>``. A fallback appends the failed attempt to the record, creates attempt
``n+1`` at the next site of the plan and deletes attempt ``n`` (which also cancels a
remote Slurm or HTCondor job through interLink). Names are deterministic and every step is
idempotent, so a manager killed at any moment and restarted rebuilds every job from the
objects, finishes an interrupted fallback, and submits nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from traitlets import Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..errors import AIInfnError, ClusterUnavailable, Conflict, Forbidden, NotFound, Unprocessable
from ..kube.cache import Reflector, when_synced
from ..kube.client import Kube, KubeError
from ..kube.conditions import condition, is_true, now_iso
from ..kube.startup import wait_synced
from ..placement import NoSiteError, PlacementConfig, Placer, Site, SiteHealth
from ..placement.capacity import node_usage, site_capacity
from ..placement.health import site_health
from . import actions as A
from . import labels as L
from . import slim
from .claims import HomeClaim
from .events import EventType, JobEvents
from .images import ImagePolicy
from .logreader import read_log
from .manifests import PodSettings, build_attempt, build_record, staged_key
from .model import JobSpec, State, completions_of, parse_spec
from .retention import JobsRetention
from .signals import Assessment, Verdict, assess, progress
from .tracked import Tracked, signature
from .triggers import FallbackPolicy
from .views import build_view, current_attempt

log = logging.getLogger(__name__)


class JobsManager(LoggingConfigurable):
    """Submits, tracks and falls back jobs; one instance serves every user."""

    namespace = Unicode(
        help="The Kubernetes namespace where jobs, their records and pods live "
        "(default: the service's own namespace in a pod, else 'default')."
    ).tag(config=True)
    default_image = Unicode(
        "quay.io/jupyter/scipy-notebook:latest",
        help="Image for jobs that name none (the server extension sends the user's own).",
    ).tag(config=True)
    home_mount_path = Unicode("/home/jovyan", help="Where the home volume is mounted.").tag(
        config=True
    )
    shared_claims = List(
        Unicode(),
        help="PVCs that any user's job may mount by name ('pvc:<claim>'), such as shared "
        "datasets. A job may always mount its owner's home claim; no other claim.",
    ).tag(config=True)
    shared_configmaps = List(
        Unicode(),
        help="ConfigMaps that any user's job may mount by name ('configmap:<name>'), "
        "read-only at /mnt/configmap/<name>. They are mounted into any user's job: never list "
        "the hub's own. A job may mount no other ConfigMap.",
    ).tag(config=True)
    shared_secrets = List(
        Unicode(),
        help="Secrets that any user's job may mount by name ('secret:<name>'), read-only at "
        "/mnt/secret/<name>. They are mounted into any user's job, so every user can read "
        "them: never list the hub's own secrets (its API token, cookie secret, database or "
        "proxy credentials). A job may mount no other Secret.",
    ).tag(config=True)
    run_as_user = Integer(1000, help="UID job containers run as (non-root).").tag(config=True)
    run_as_group = Integer(100, help="GID job containers run as.").tag(config=True)
    max_staged_bytes = Integer(
        900 * 1024,
        help="Largest notebook or script shipped with a job (it travels in a ConfigMap, "
        "whose limit is 1 MiB).",
    ).tag(config=True)
    watch_timeout = Integer(
        300, help="Seconds each watch stays open before it is renewed from its resourceVersion."
    ).tag(config=True)
    workers = Integer(4, help="Concurrent reconcile workers.").tag(config=True)

    @default("namespace")
    def _namespace_default(self) -> str:
        """In a pod: the pod's own namespace (the hub's); elsewhere ``default``."""
        path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
        try:
            with open(path) as f:
                return f.read().strip() or "default"
        except OSError:
            return "default"

    def __init__(
        self, kube: Kube, placer: Placer | None = None, images: Sequence[str] = (), **kwargs: Any
    ) -> None:
        """``images``: allowed for jobs besides ImagePolicy's (standalone: the user's own)."""
        super().__init__(**kwargs)
        self.images = ImagePolicy(parent=self, also=[self.default_image, *images])
        kube.namespace = self.namespace
        self.kube = kube
        self.placer = placer or PlacementConfig(parent=self).placer()
        policy = FallbackPolicy(parent=self)
        self.triggers = {name: policy.for_site(site) for name, site in self.placer.sites.items()}
        self.retention = JobsRetention(kube, self._mark, parent=self)
        self.settings = PodSettings(
            default_image=self.default_image,
            home_mount_path=self.home_mount_path,
            run_as_user=self.run_as_user,
            run_as_group=self.run_as_group,
        )
        self.home = HomeClaim(self.namespace, parent=self)  # users' claims, as the hub names them
        self.jobs: dict[str, Tracked] = {}
        self.by_owner: dict[str, set[str]] = defaultdict(set)
        self.by_request: dict[tuple[str, str], str] = {}
        self.job_uid_to_id: dict[str, str] = {}
        self.workloads: dict[str, dict[str, Any]] = {}
        self.all_pods: dict[str, dict[str, Any]] = {}
        self.health: dict[str, SiteHealth] = {}
        self.events = JobEvents(parent=self)
        self.subscribe = self.events.subscribe
        self.counters: dict[str, int] = defaultdict(int)
        self.fallback_reactions: list[float] = []
        self._dirty: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._busy: set[str] = set()  # being reconciled
        self._tasks: list[asyncio.Task] = []
        self.reflectors: dict[str, Reflector] = {}
        self.started = False
        self._initial: set[str] = set()
        self._recovered = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 30.0) -> None:
        """List and watch everything, then reconcile every job found (restart recovery).

        Returns once every job found has been reconciled once, so the API never serves a
        partial list after a restart. :class:`~.health.StartupError` if the caches are not
        synced within ``timeout`` seconds (the reflectors then keep retrying until stopped).
        """
        ns = self.namespace
        selector = f"{L.MANAGED_BY}={L.MANAGER}"
        kube = self.kube
        specs = {
            "configmap": (kube.core.list_namespaced_config_map, (ns,), selector),
            "job": (kube.batch.list_namespaced_job, (ns,), selector),
            "pod": (kube.core.list_namespaced_pod, (ns,), None),
            "workload": (
                kube.custom.list_namespaced_custom_object,
                ("kueue.x-k8s.io", "v1beta2", ns, "workloads"),
                None,
            ),
            "node": (kube.core.list_node, (), None),
        }
        for kind, (fn, args, sel) in specs.items():
            self.reflectors[kind] = Reflector(
                kube, kind, fn, args, sel, self._on_change, self.watch_timeout,
                keep_objects=kind != "configmap",  # records: kept in Tracked (tracked.py)
                transform=slim.slim,  # what thousands of records repeat, kept once
            )  # fmt: skip
        for reflector in self.reflectors.values():
            reflector.start()
        # once the other caches hold their first list, each job is reconciled as its record
        # arrives: an ended one then rests (tracked.py) instead of waiting whole in memory
        records = self.reflectors["configmap"]
        early = when_synced([r for r in self.reflectors.values() if r is not records], self._begin)
        try:
            await wait_synced(self.reflectors.values(), timeout=timeout, kube=kube)
            await early
        finally:
            early.cancel()
        self._initial = self._queued | self._busy
        if self._initial:
            await self._recovered.wait()
        else:
            self._recovered.set()

    def _begin(self) -> None:
        """Start the reconcile workers, with every job known so far."""
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"reconcile-{i}") for i in range(self.workers)
        ]
        self.started = True
        for job_id in list(self.jobs):
            self._mark(job_id)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for ended in await asyncio.gather(*self._tasks, return_exceptions=True):
            if not isinstance(ended, asyncio.CancelledError):  # it had died before
                log.error("a reconcile worker had stopped: %r", ended, exc_info=ended)
        for reflector in self.reflectors.values():
            await reflector.stop()
        for tracked in self.jobs.values():
            if tracked.timer:
                tracked.timer.cancel()
        self.retention.stop()
        self.events.close()

    # ------------------------------------------------------------------ cache events

    def _tracked(self, job_id: str) -> Tracked:
        tracked = self.jobs.get(job_id)
        if tracked is None:
            tracked = self.jobs[job_id] = Tracked(job_id)
        return tracked

    def _on_change(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        job_id = labels.get(L.JOB_ID)
        deleted = event == "DELETED"
        if kind == "configmap" and deleted and not labels:  # a relist's, by name (cache.py)
            job_id = L.record_job_id(meta["name"])
        if kind == "node":
            self._refresh_health()
            return
        if kind == "workload":
            uid = labels.get(L.KUEUE_JOB_UID) or next(
                (r.get("uid") for r in meta.get("ownerReferences") or () if r.get("kind") == "Job"),
                None,
            )
            if not uid:
                return
            if deleted:
                self.workloads.pop(uid, None)
            else:
                self.workloads[uid] = obj
            if uid in self.job_uid_to_id:
                self._mark(self.job_uid_to_id[uid])
            return
        if kind == "pod":
            key = meta["name"]
            if deleted:
                self.all_pods.pop(key, None)
            else:
                self.all_pods[key] = obj
            if not job_id or labels.get(L.MANAGED_BY) != L.MANAGER:
                return
            tracked = self._tracked(job_id)
            if deleted:
                tracked.pods.pop(key, None)
            else:
                tracked.pods[key] = obj
            self._mark(job_id)
            return
        if not job_id:
            return
        tracked = self._tracked(job_id)
        if kind == "configmap":
            tracked.record = None if deleted else obj
            if not deleted:
                owner = tracked.owner
                self.by_owner[owner].add(job_id)
                request_id = labels.get(L.REQUEST_ID)
                if request_id:
                    self.by_request[(owner, request_id)] = job_id
        elif kind == "job":
            number = int(labels.get(L.ATTEMPT, "1"))
            if deleted:
                tracked.attempts.pop(number, None)
            else:
                tracked.attempts[number] = obj
                self.job_uid_to_id[meta.get("uid", "")] = job_id
        self._mark(job_id)

    def _refresh_health(self) -> None:
        nodes = list(self.reflectors["node"].objects.values())
        fresh = {site.name: site_health(site, nodes) for site in self.placer.sites.values()}
        changed = {name for name, h in fresh.items() if self.health.get(name) != h}
        self.health = fresh
        if changed and self.started:
            for tracked in self.jobs.values():
                if tracked.site in changed and tracked.state not in (
                    "succeeded",
                    "failed",
                    "cancelled",
                ):
                    self._mark(tracked.job_id)

    def _mark(self, job_id: str) -> None:
        if self.started and job_id not in self._queued:
            self._queued.add(job_id)
            self._dirty.put_nowait(job_id)

    async def _worker(self) -> None:
        while True:
            job_id = await self._dirty.get()
            self._queued.discard(job_id)
            self._busy.add(job_id)
            try:
                await self._reconcile_one(job_id)
            finally:
                self._busy.discard(job_id)
                if job_id in self._initial:
                    self._initial.discard(job_id)
                    if not self._initial:
                        self._recovered.set()

    async def _reconcile_one(self, job_id: str) -> None:
        tracked = self.jobs.get(job_id)
        if tracked is None:
            return
        try:
            async with tracked.lock:
                tracked.wake()
                await self._reconcile(tracked)
            tracked.rest()  # an ended job keeps only its compact form (tracked.py)
        except KubeError as exc:
            if exc.transient:
                log.warning("job %s: %s; will retry", job_id, exc)
                self._schedule(tracked, time.time() + 2)
            elif exc.status == 404:  # an object is gone: its watch event reconciles the job
                log.warning("job %s: %s", job_id, exc)
            else:
                await self._refused(tracked, exc.plain())
        except AIInfnError as exc:  # the stored request does not parse under today's sites
            await self._refused(tracked, f"its request is no longer accepted: {exc.message}")
        except Exception:
            log.exception("job %s: reconcile failed", job_id)
            self._schedule(tracked, time.time() + 5)

    async def _refused(self, tracked: Tracked, reason: str) -> None:
        """A step that cannot succeed however often it is tried (Kubernetes refused it as
        invalid or forbidden, or the request no longer parses): end the job, saying why."""
        log.warning("job %s: %s", tracked.job_id, reason)
        if tracked.record is None or tracked.final:
            return
        try:
            async with tracked.lock:
                await self._finish(tracked, State.FAILED, reason, None)
        except KubeError as again:
            log.warning("job %s: cannot record the failure: %s", tracked.job_id, again)
            self._schedule(tracked, time.time() + 5)

    def _schedule(self, tracked: Tracked, when: float | None) -> None:
        if tracked.timer:
            tracked.timer.cancel()
            tracked.timer = None
        if when is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, when - time.time()) + 0.05
            tracked.timer = loop.call_later(delay, self._mark, tracked.job_id)

    # ------------------------------------------------------------------ the controller

    def _parse_record(self, tracked: Tracked) -> None:
        version = tracked.record["metadata"].get("resourceVersion")
        if tracked.parsed_version != version:
            data = tracked.record.get("data") or {}
            tracked.spec = json.loads(data.get("spec.json") or "{}")  # kept while it runs
            tracked.plan = slim.shared(data.get("plan.json") or "{}")  # read-only, shared
            tracked.parsed_version = version

    def _site(self, name: str | None) -> Site | None:
        return self.placer.sites.get(name) if name else None

    def _remaining(self, tracked: Tracked, history: list[dict[str, Any]]) -> list[str]:
        tried = {entry["site"] for entry in history}
        return [
            s["name"]
            for s in tracked.plan.get("sites", [])
            if s["name"] not in tried and s["name"] in self.placer.sites  # still configured
        ]

    def _choose(self, remaining: list[str]) -> str | None:
        """The first healthy site left; the last one if none is healthy (waiting beats failing)."""
        for name in remaining:
            if self.health.get(name, SiteHealth()).usable:
                return name
        return remaining[-1] if remaining else None

    async def _reconcile(self, tracked: Tracked) -> None:
        if tracked.record is None:
            if not tracked.attempts and not tracked.pods:
                self._forget(tracked)
            return
        self._parse_record(tracked)
        history = tracked.history
        final = tracked.final
        expected = len(history) + 1
        ended = final.get("attempt") if final else None  # kept: its pods hold the log
        for number in sorted(tracked.attempts):
            job = tracked.attempts[number]
            if number == ended and _finished(job):
                continue
            if number < expected or (final and not _finished(job)):
                await self.kube.delete("job", job["metadata"]["name"])
        if final:
            self._publish(
                tracked,
                State(final["state"]),
                None,
                None,
                None,
                final["reason"],
                final.get("progress"),
            )
            await self.retention.step(tracked)
            return
        job = tracked.attempts.get(expected)
        if job is None:
            await self._next_attempt(tracked, expected, history, reason="")
            return
        site = self._site(job["metadata"]["labels"].get(L.SITE))
        if site is None:
            await self._finish(tracked, State.FAILED, "its site is no longer configured", job)
            return
        workload = self.workloads.get(job["metadata"].get("uid", ""))
        pods = [p for p in tracked.pods.values() if _owned_by(p, job)]
        remaining = [n for n in self._remaining(tracked, history) if n != site.name]
        found = assess(
            job,
            workload,
            pods,
            site,
            self.health.get(site.name, SiteHealth()),
            time.time(),
            last_resort=not remaining,
            triggers=self.triggers[site.name],
        )
        self._schedule(tracked, found.check_at)
        if found.verdict is Verdict.FALL_BACK:
            await self._fall_back(tracked, expected, site, job, found, history, remaining)
            return
        attempt = current_attempt(expected, site, job, found)
        if found.verdict in (Verdict.SUCCEED, Verdict.FAIL):
            await self._record_outcome(tracked, found.state, attempt, job)
            return
        self._publish(tracked, found.state, attempt, site, job, found.reason)

    async def _record_outcome(
        self, tracked: Tracked, state: State, attempt: dict[str, Any], job: dict[str, Any]
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
        await self._patch_record(tracked, [*tracked.history, attempt], final)
        self._publish(tracked, state, None, None, None, attempt["reason"], counts)

    async def _fall_back(
        self,
        tracked: Tracked,
        number: int,
        site: Site,
        job: dict[str, Any],
        found: Assessment,
        history: list[dict[str, Any]],
        remaining: list[str],
    ) -> None:
        signal_seen = time.time()
        entry = current_attempt(number, site, job, found)
        entry.update(outcome="fell_back", ended=now_iso(), reason=found.reason)
        history = [*history, entry]
        next_site = self._choose(remaining)
        self.counters["fallbacks"] += 1
        if next_site is None:
            entry["outcome"] = "failed"
            reason = f"{site.display_name}: {found.reason}; no site left to try"
            await self._patch_record(tracked, history, {"state": "failed", "reason": reason})
            if not _finished(job):
                await self.kube.delete("job", job["metadata"]["name"])
            self._publish(tracked, State.FAILED, None, site, None, reason)
            return
        target = self._site(next_site)
        self._publish(
            tracked,
            State.FALLING_BACK,
            None,
            site,
            job,
            f"falling back from {site.display_name} to {target.display_name}: {found.reason}",
        )
        # the history and the next attempt at once (one round trip, not two): a restart
        # between them finds the history without the attempt (and creates it), or the attempt
        # without the history (the old attempt falls back again, onto the same Job by name)
        _, created = await asyncio.gather(
            self._patch_record(tracked, history, None),
            self._create_attempt(tracked, number + 1, target, history),
        )
        self.fallback_reactions.append(time.time() - signal_seen)
        await self.kube.delete("job", job["metadata"]["name"])
        tracked.attempts.pop(number, None)
        _keep_newest(tracked.attempts, number + 1, created)
        self._publish(
            tracked,
            State.QUEUED,
            current_attempt(number + 1, target, created, Assessment(State.QUEUED)),
            target,
            created,
            "",
        )

    async def _next_attempt(
        self, tracked: Tracked, number: int, history: list[dict[str, Any]], reason: str
    ) -> None:
        name = self._choose(self._remaining(tracked, history))
        if name is None:
            await self._finish(tracked, State.FAILED, "no site left to try", None)
            return
        site = self._site(name)
        created = await self._create_attempt(tracked, number, site, history)
        _keep_newest(tracked.attempts, number, created)
        self._publish(
            tracked,
            State.QUEUED,
            current_attempt(number, site, created, Assessment(State.QUEUED)),
            site,
            created,
            reason,
        )

    async def _create_attempt(
        self, tracked: Tracked, number: int, site: Site, history: list[dict[str, Any]]
    ) -> dict[str, Any]:
        spec = parse_spec(_spec_data(tracked), self.placer, 1 << 40)
        self._check_volumes(tracked.owner, spec)  # an admin may have stopped sharing one
        self.images.check(spec.image)  # or allowing an image
        body = build_attempt(
            tracked.job_id,
            tracked.owner,
            spec,
            site,
            number,
            tracked.plan,
            history,
            self.namespace,
            tracked.record["metadata"].get("uid"),
            self.settings,
            home_claim=self.home.recorded(tracked.annotations, tracked.owner),
        )
        created, _ = await self.kube.create("job", body)
        self.job_uid_to_id[created["metadata"].get("uid", "")] = tracked.job_id
        return created

    async def _patch_record(
        self,
        tracked: Tracked,
        history: list[dict[str, Any]],
        final: dict[str, Any] | None,
        actions: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Write the attempts, the outcome and admins' new ``actions`` into the record."""
        annotations = {L.ATTEMPTS: json.dumps(history, sort_keys=True)}
        if final:
            annotations[L.FINAL] = json.dumps(final, sort_keys=True)
        if actions:
            annotations |= A.annotations([*tracked.actions, *actions])
        updated = await self.kube.patch(
            "configmap", L.record_name(tracked.job_id), {"metadata": {"annotations": annotations}}
        )
        if _newer(updated, tracked.record):
            tracked.record = updated

    async def _finish(
        self,
        tracked: Tracked,
        state: State,
        reason: str,
        job: dict[str, Any] | None,
        actions: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """End the job for good; an attempt still in progress is recorded as ended with it
        (and an admin's ``actions``, e.g. a cancel, with the outcome)."""
        history = tracked.history
        shown = (tracked.view or {}).get("attempts") or []
        if job is not None and not _finished(job) and shown and shown[-1].get("outcome") is None:
            history = [*history, {**shown[-1], "outcome": state.value, "ended": now_iso()}]
            history[-1]["reason"] = reason
        final = {"state": state.value, "reason": reason}
        await self._patch_record(tracked, history, final, actions)
        if job is not None and not _finished(job):
            await self.kube.delete("job", job["metadata"]["name"])
        self._publish(tracked, state, None, None, None, reason)

    def _forget(self, tracked: Tracked) -> None:
        self.jobs.pop(tracked.job_id, None)
        for ids in self.by_owner.values():
            ids.discard(tracked.job_id)
        if tracked.timer:
            tracked.timer.cancel()

    # ------------------------------------------------------------------ views and events

    def _publish(
        self,
        tracked: Tracked,
        state: State,
        attempt: dict[str, Any] | None,
        site: Site | None,
        job: dict[str, Any] | None,
        reason: str,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        if site is None and tracked.attempts:
            number = max(tracked.attempts)
            site = self._site(tracked.attempts[number]["metadata"]["labels"].get(L.SITE))
        elif site is None and tracked.history:
            site = self._site(tracked.history[-1].get("site"))
        view = build_view(
            tracked.job_id,
            tracked.owner,
            tracked.spec,
            tracked.plan,
            tracked.submitted,
            tracked.history,
            state,
            attempt,
            site,
            job,
            reason,
            counts,
            tracked.actions,
        )
        tracked.view = view
        shown = signature(view)
        if shown != tracked.signature:
            if (
                tracked.signature is not None
                and state.terminal
                and tracked.signature[0] != state.value
            ):
                self.counters[f"finished_{state.value}"] += 1
            tracked.signature = shown
            if self.events.subscribers:  # at a start, nobody listens yet
                event = {"type": EventType.JOB.value, "job": view, "time": now_iso()}
                self.events.publish(tracked.owner, event)

    # ------------------------------------------------------------------ user operations

    def _visible(self, job_id: str, user: str, admin: bool) -> Tracked:
        tracked = self.jobs.get(job_id)
        if tracked is None or not tracked.visible or (not admin and tracked.owner != user):
            raise NotFound(f"no job {job_id!r} among your jobs; check the id in your list of jobs")
        return tracked

    def plan(self, data: Any, user: str | None = None) -> dict[str, Any]:
        """The placement preview for a request (nothing is submitted); its image is checked,
        and with ``user`` the volumes it names, as a submission by that user would be."""
        spec = parse_spec(data, self.placer, self.max_staged_bytes)
        if user is not None:
            self._check_volumes(user, spec)
        self.images.check(spec.image)
        return self._plan_for(spec)

    def _plan_for(self, spec: JobSpec) -> dict[str, Any]:
        try:
            plan = self.placer.plan(spec.request, self.health)
        except NoSiteError as exc:
            raise Unprocessable(str(exc), f"resources.{exc.requirement}") from None
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
        self, user: str, data: Any, action: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Create a job (``action``: an admin's, recorded with it); returns its view and
        whether it is new (False: an idempotent retry)."""
        spec = parse_spec(data, self.placer, self.max_staged_bytes)
        self._check_volumes(user, spec)
        self.images.check(spec.image)
        claim = await self.home.resolve(self.kube, user, spec)
        if spec.client_request_id:
            existing = self.by_request.get((user, L.label_value(spec.client_request_id)))
            if existing and existing in self.jobs and self.jobs[existing].view:
                return self.jobs[existing].view, False
            digest = hashlib.sha256(f"{user}\0{spec.client_request_id}".encode()).hexdigest()
            job_id = digest[:10]
        else:
            job_id = uuid.uuid4().hex[:10]
        plan = self._plan_for(spec)
        extra = A.annotations([action]) if action else None
        record = build_record(
            job_id, user, spec, plan, self.namespace, now_iso(), extra, home_claim=claim
        )
        tracked = self._tracked(job_id)
        async with tracked.lock:
            try:
                created, is_new = await self.kube.create("configmap", record)
            except KubeError as exc:
                if tracked.record is None:
                    self._forget(tracked)
                if not exc.transient:
                    raise Unprocessable(f"the job was not submitted: {exc.plain()}") from None
                raise ClusterUnavailable(
                    f"the job was not submitted: {exc.plain()}; try again in a minute"
                ) from None
            if tracked.record is None or _newer(created, tracked.record):
                tracked.record = created
            self.by_owner[user].add(job_id)
            if spec.client_request_id:
                self.by_request[(user, L.label_value(spec.client_request_id))] = job_id
            self._parse_record(tracked)
            self.counters["submitted"] += 1
            if tracked.view is None:
                first = self._choose(self._remaining(tracked, []))
                self._publish(tracked, State.QUEUED, None, self._site(first), None, "")
        self._mark(job_id)  # the controller creates the first attempt
        return tracked.view, is_new

    def _check_volumes(self, user: str, spec: JobSpec) -> None:
        """Refuse a PVC, ConfigMap or Secret that the admins do not share: job pods run in the
        hub's namespace, beside every other user's home and the hub's own claims and secrets.
        A job may also mount its owner's home claim."""
        home = self.home.name_for(user)
        rules = {  # volume type: (option, names shared, names always allowed, what it is)
            "pvc": ("shared_claims", self.shared_claims, {"", "home", home}, "claim"),
            "configmap": ("shared_configmaps", self.shared_configmaps, set(), "ConfigMap"),
            "secret": ("shared_secrets", self.shared_secrets, set(), "Secret"),
        }
        for need in spec.request.volumes:
            if need.type not in rules:
                continue
            option, shared, own, what = rules[need.type]
            if need.name in own or need.name in shared:
                continue
            listed = ", ".join(sorted(shared)) or "none"
            home_words = "your home volume ('pvc') or " if need.type == "pvc" else ""
            raise Forbidden(
                f"a job may mount {home_words}a {what} the admins share "
                f"(JobsManager.{option}: {listed}), not the {what} {need.name!r:.80}",
                "volumes",
            )

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
            ids = self.by_owner.get(owner, set()) if owner else self.jobs.keys()
        else:
            ids = self.by_owner.get(user, set())
        chosen = []
        for job_id in ids:
            tracked = self.jobs.get(job_id)
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

    def get(self, user: str, admin: bool, job_id: str) -> dict[str, Any]:
        return self._visible(job_id, user, admin).view

    async def cancel(self, user: str, admin: bool, job_id: str) -> dict[str, Any]:
        tracked = self._visible(job_id, user, admin)
        async with tracked.lock:
            if State(tracked.view["state"]).terminal:
                raise Conflict(
                    f"job {job_id} has already ended ({tracked.view['state']}); nothing to cancel",
                )
            job = tracked.attempts.get(max(tracked.attempts)) if tracked.attempts else None
            who = "you" if tracked.owner == user else f"admin {user}"
            done = [A.entry(A.Action.CANCELLED, user, now_iso())] if who != "you" else []
            try:
                await self._finish(tracked, State.CANCELLED, f"cancelled by {who}", job, done)
            except KubeError as exc:
                raise ClusterUnavailable(f"the job was not cancelled: {exc.plain()}") from None
        return tracked.view

    async def collected(self, user: str, admin: bool, job_id: str) -> dict[str, Any]:
        """The owner's server saved the job's executed notebook (see retention.py)."""
        tracked = self._visible(job_id, user, admin)
        async with tracked.lock:
            await self.retention.collected(tracked)
        self._mark(job_id)
        return tracked.view

    async def rerun(
        self, user: str, admin: bool, job_id: str, site: str | None = None
    ) -> dict[str, Any]:
        """Submit the same job again (as a new job), optionally at a named site."""
        tracked = self._visible(job_id, user, admin)
        self.retention.check_rerun(tracked)
        data = _spec_data(tracked)
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
                await self._patch_record(tracked, tracked.history, None, [rerun])
            except KubeError as exc:
                log.warning("job %s: admin %s's rerun not recorded: %s", job_id, user, exc)
        self._mark(job_id)
        return view

    async def logs(
        self,
        user: str,
        admin: bool,
        job_id: str,
        offset: int = 0,
        completion_index: int | None = None,
    ) -> dict[str, Any]:
        """A slice of the current attempt's log from ``offset``: ``{data, next_offset, eof}``."""
        tracked = self._visible(job_id, user, admin)
        if gone := self.retention.log_removed(tracked):
            return {**gone, "next_offset": max(offset, 0)}
        return await read_log(
            self.kube, tracked.spec, tracked.view, tracked.pods.values(), offset, completion_index
        )

    def sites(self) -> list[dict[str, Any]]:
        """Each site: health, free and total capacity, queue depth and pending reasons."""
        nodes = list(self.reflectors["node"].objects.values()) if self.reflectors else []
        used = node_usage(self.all_pods.values())
        result = []
        for site in self.placer.sites.values():
            health = self.health.get(site.name, SiteHealth())
            pending = [
                w
                for w in self.workloads.values()
                if (w.get("spec") or {}).get("queueName") == site.wiring.local_queue
                and not is_true(w, "QuotaReserved")
                and not is_true(w, "Finished")
            ]
            reasons = sorted(
                {
                    (condition(w, "QuotaReserved") or {}).get("message", "")
                    for w in pending
                    if condition(w, "QuotaReserved")
                }
                - {""}
            )[:3]
            result.append(
                {
                    "name": site.name,
                    "display_name": site.display_name,
                    "kind": site.kind.value,
                    "summary": site.summary,
                    "health": {
                        "usable": health.usable,
                        "state": "ok" if health.usable else health.describe(),
                    },
                    "capacity": site_capacity(site, nodes, used),
                    "queue": {"pending": len(pending), "reasons": reasons},
                    "gpu_models": list(site.capabilities.gpu_models),
                }
            )
        return result


def _spec_data(tracked: Tracked) -> dict[str, Any]:
    """The request stored in a job's record, staged file re-attached, ready for parse_spec."""
    data = dict(tracked.spec)
    script = data.get("script")
    if script:
        key = staged_key(script["path"].rsplit("/", 1)[-1])
        content = (tracked.record.get("data") or {}).get(key, "")
        data["script"] = {**script, "content": content}
    resources = {k: v for k, v in (data.pop("resources", None) or {}).items() if v is not None}
    data["resources"] = resources
    return {k: v for k, v in data.items() if v is not None}


def _owned_by(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    uid = job["metadata"].get("uid")
    return any(r.get("uid") == uid for r in pod["metadata"].get("ownerReferences") or ()) or (
        (pod["metadata"].get("labels") or {}).get(L.JOB_NAME_LABEL) == job["metadata"]["name"]
    )


def _finished(job: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or ()
    )


def _newer(candidate: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    if current is None:
        return True
    try:
        return int(candidate["metadata"]["resourceVersion"]) >= int(
            current["metadata"]["resourceVersion"]
        )
    except (KeyError, ValueError):
        return True


def _keep_newest(objects: dict[int, dict[str, Any]], key: int, obj: dict[str, Any]) -> None:
    """Store an API answer unless the watch already brought a newer version of the object."""
    current = objects.get(key)
    if current is None or _newer(obj, current):
        objects[key] = obj
