"""Each site's queue as the jobs service reads it, and the estimated start of a job there.

The position comes from Kueue's visibility API (``visibility.kueue.x-k8s.io/v1beta2``
``namespaces/NS/localqueues/LQ/pendingworkloads``), read over HTTP through the kube layer.
Where it is not served (404: Kueue's VisibilityOnDemand gate off, or an API server that does
not aggregate it) or refused (403: no RBAC rule), the pending Workloads the service's cache
holds for the site's LocalQueue are counted instead, and the estimate's sentence says so.
The rest is read from the caches: what each Workload asks for, its Job's walltime
(``activeDeadlineSeconds``), when the running ones were admitted, the Jobs admitted and
completed at the site lately, and for interLink sites how long their pods waited in the
remote batch queue. :func:`~aiinfn_hub.placement.estimate.estimate_start` does the rest.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..apitypes import JobRequest as JobRequestBody
from ..apitypes import JobView, PlanView, SiteReason, SiteView
from ..kube.client import Kube, KubeError
from ..kube.conditions import condition, is_true, parse_time
from ..kueuenames import queue_order
from ..placement import Placer, Site
from ..placement.capacity import (
    GPU_RESOURCE,
    container_resource,
    node_usage,
    quantity_value,
    site_capacity,
)
from ..placement.estimate import (
    Demand,
    Estimate,
    Queued,
    Recent,
    Running,
    SiteQueue,
    Source,
    estimate_start,
)
from ..placement.membership import site_nodes
from ..placement.quantities import parse_cpu, parse_duration
from ..placement.sites import SiteKind
from . import labels as L

log = logging.getLogger(__name__)

VISIBILITY = "/apis/visibility.kueue.x-k8s.io/v1beta2"
#: How long the service looks back for admissions and completions (seconds).
WINDOW = 6 * 3600.0
#: How long a visibility API found not served (404, 403) is not asked again (seconds).
UNSERVED_FOR = 60.0
#: A job of default size, for ``GET /sites``.
DEFAULT_JOB = Queued(Demand(cpu=1.0))

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Positions:
    """The workloads pending in a site's queue, in Kueue's order, and where that came from:
    ``items`` as the visibility API names them (``metadata``, ``positionInClusterQueue``,
    ...), or cached Workloads shaped alike."""

    items: tuple[Obj, ...]
    source: Source
    note: str = ""


class SiteQueues:
    """Reads each site's queue and estimates when a job would start there."""

    def __init__(
        self,
        *,
        kube: Kube,
        placer: Placer,
        workloads: Callable[[], Iterable[Obj]],
        jobs: Callable[[], Iterable[Obj]],
        pods: Callable[[], Iterable[Obj]],
        nodes: Callable[[], Sequence[Obj]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``workloads``, ``jobs``, ``pods``, ``nodes``: the caches' objects now."""
        self.kube = kube
        self.placer = placer
        self.workloads = workloads
        self.jobs = jobs
        self.pods = pods
        self.nodes = nodes
        self.clock = clock
        self._unserved: dict[str, tuple[float, str]] = {}  # LocalQueue -> (until, note)

    # ------------------------------------------------------------------ the API's views

    @staticmethod
    def add_to_plan(view: PlanView, estimates: Mapping[str, Estimate]) -> None:
        """Each site of a plan gets ``queue``: where the job would stand there, and when it
        would start (``estimates``, by site name, from :meth:`estimates`)."""
        for entry in view["sites"]:
            found = estimates.get(entry["name"])
            if found is not None:
                entry["queue"] = found.to_dict()

    async def add_to_job(self, shown: JobView) -> JobView:
        """A waiting job's view with ``queue`` (its place at its site) and a reason that says
        it ("3rd in CINECA Leonardo's queue; expected to start in 10 to 25 min"); any other
        view as it is. The view is the tracked job's own: a copy is changed."""
        site = self.placer.sites.get(shown.get("site") or "")
        attempt = shown["attempts"][-1] if shown["attempts"] else None
        if shown["state"] != "queued" or site is None or attempt is None:
            return shown
        view = shown.copy()
        own = self._own(attempt.get("job_name"))
        job = _queued(own) if own is not None else DEFAULT_JOB
        estimate = await self.estimate(site, job, workload=self._workload_of(own))
        queue = estimate.to_dict()
        view["queue"] = queue
        words = estimate.in_words(self.clock())
        default = f"queued at {site.display_name}"
        view["reason"] = words if view["reason"] == default else f"{words}; {view['reason']}"
        plan = view["plan"].copy()  # shared with the record: copied before it changes
        sites: list[SiteReason] = []
        for entry in plan["sites"]:
            if entry["name"] == site.name:
                entry = entry.copy()
                entry["queue"] = queue
            sites.append(entry)
        plan["sites"] = sites
        view["plan"] = plan
        return view

    async def add_to_sites(self, views: list[SiteView]) -> None:
        """Each site's ``queue`` gets where a job of default size would stand and start."""
        for view in views:
            site = self.placer.sites.get(view["name"])
            if site is not None:
                estimate = (await self.estimate(site, DEFAULT_JOB)).to_dict()
                queue = view["queue"]
                queue["position"] = estimate["position"]
                queue["ahead"] = estimate["ahead"]
                queue["estimated_start"] = estimate["estimated_start"]
                queue["basis"] = estimate["basis"]

    # ------------------------------------------------------------------ the estimate

    async def estimates(self, names: Iterable[str], job: Queued) -> dict[str, Estimate]:
        """When ``job`` would start at each site named (unknown names left out)."""
        found = {}
        for name in names:
            site = self.placer.sites.get(name)
            if site is not None:
                found[name] = await self.estimate(site, job)
        return found

    async def estimate(self, site: Site, job: Queued, *, workload: Obj | None = None) -> Estimate:
        """When ``job`` would start at ``site``: behind every job pending there, or, for a
        job already queued (``workload``), behind those ahead of its Workload."""
        positions = await self.positions(site)
        queue = self.site_queue(site, positions, workload=workload)
        return estimate_start(queue=queue, job=job, now=self.clock())

    async def positions(self, site: Site) -> Positions:
        """The workloads pending in the site's LocalQueue: from Kueue's visibility API, else
        (not served, refused, failing) the cached Workloads, saying why."""
        lq = site.wiring.local_queue
        unserved = self._unserved.get(lq)
        if unserved is None or unserved[0] <= self.clock():
            path = (
                f"{VISIBILITY}/namespaces/{self.kube.namespace}/localqueues/{lq}/pendingworkloads"
            )
            try:
                found = await self.kube.get_path("get pendingworkloads", path)
            except KubeError as exc:
                note = _unserved_note(exc)
                if exc.status in (403, 404):
                    self._unserved[lq] = (self.clock() + UNSERVED_FOR, note)
                log.info("queue positions of %s from the cache: %s", lq, exc)
            else:
                return Positions(tuple(found.get("items") or ()), Source.VISIBILITY)
        else:
            note = unserved[1]
        return Positions(tuple(self._cached_pending(lq)), Source.CACHE, note)

    def site_queue(self, site: Site, positions: Positions, *, workload: Obj | None) -> SiteQueue:
        """The site's state for the estimator: the jobs ahead (all pending, or those before
        ``workload``), the running ones, what is free, what was seen lately."""
        items = list(positions.items)
        if workload is not None:
            meta = workload.get("metadata") or {}
            mine = (meta.get("namespace"), meta.get("name"))
            at = next(
                (n for n, i in enumerate(items) if _name(i) == mine),
                len(items),
            )
            items = items[:at]
        workloads = {_name(w): w for w in self.workloads()}
        jobs = {(j["metadata"].get("namespace"), j["metadata"]["name"]): j for j in self.jobs()}
        ahead = []
        for item in items:
            cached = workloads.get(_name(item))
            owner = _owner_job(cached or item, jobs)
            demand = _demand(cached) if cached is not None else None
            ahead.append(Queued(demand or DEFAULT_JOB.demand, _walltime(owner)))
        ahead_count = max((int(i.get("positionInClusterQueue", -1)) for i in items), default=-1) + 1
        lq = site.wiring.local_queue
        running = []
        for wl in workloads.values():
            if (wl.get("spec") or {}).get("queueName") != lq or not is_true(wl, "QuotaReserved"):
                continue
            if is_true(wl, "Finished"):
                continue
            admitted = parse_time((condition(wl, "QuotaReserved") or {}).get("lastTransitionTime"))
            running.append(
                Running(_demand(wl), admitted or self.clock(), _walltime(_owner_job(wl, jobs)))
            )
        capacity = site_capacity(site, self.nodes(), node_usage(self.pods()))
        return SiteQueue(
            display_name=site.display_name,
            ahead=tuple(ahead),
            running=tuple(running),
            free=Demand(gpus=capacity["gpus"]["free"], cpu=capacity["cpu"]["free"]),
            recent=self._recent(lq, jobs.values()),
            default_walltime=site.capabilities.max_walltime,
            remote_delay=self._remote_delay(site) if site.kind is SiteKind.OFFLOAD else None,
            ahead_count=ahead_count,
            source=positions.source,
            source_note=positions.note,
        )

    # ------------------------------------------------------------------ from the caches

    def _cached_pending(self, lq: str) -> list[Obj]:
        """The cached Workloads of LocalQueue ``lq`` waiting for a quota reservation, in
        Kueue's order (priority, then age), shaped as the visibility API's items."""
        pending = [
            w
            for w in self.workloads()
            if (w.get("spec") or {}).get("queueName") == lq
            and not is_true(w, "QuotaReserved")
            and not is_true(w, "Finished")
            and (w.get("spec") or {}).get("active", True)
        ]
        pending.sort(key=queue_order)
        return [
            {"metadata": w["metadata"], "positionInClusterQueue": n, "positionInLocalQueue": n}
            for n, w in enumerate(pending)
        ]

    def _recent(self, lq: str, jobs: Iterable[Obj]) -> Recent:
        """The site's Jobs (by their queue label) started and completed in the last
        :data:`WINDOW`, and the completed ones' runtimes as shares of their walltimes."""
        since = self.clock() - WINDOW
        admitted = completed = 0
        shares = []
        for job in jobs:
            if ((job["metadata"].get("labels") or {}).get(L.QUEUE_NAME)) != lq:
                continue
            status = job.get("status") or {}
            started = parse_time(status.get("startTime"))
            ended = parse_time(status.get("completionTime"))
            if started is not None and started >= since:
                admitted += 1
            if ended is not None and ended >= since and started is not None:
                completed += 1
                limit = _walltime(job)
                if limit:
                    shares.append(min(1.0, max(0.0, (ended - started) / limit)))
        return Recent(WINDOW, admitted, completed, tuple(shares))

    def _remote_delay(self, site: Site) -> float | None:
        """How long the site's pods lately waited between being bound to its virtual node
        and running (the remote batch queue), the median; None when none was seen."""
        since = self.clock() - WINDOW
        names = {
            (n.get("metadata") or {}).get("name") for n in site_nodes(site.wiring, self.nodes())
        }
        waits = []
        for pod in self.pods():
            if (pod.get("spec") or {}).get("nodeName") not in names:
                continue
            bound = parse_time((condition(pod, "PodScheduled") or {}).get("lastTransitionTime"))
            ready = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime"))
            if bound and ready and ready >= since and is_true(pod, "Ready"):
                waits.append(max(0.0, ready - bound))
        return statistics.median(waits) if waits else None

    def _own(self, job_name: str | None) -> Obj | None:
        """The attempt's Job, from the cache."""
        if not job_name:
            return None
        return next((j for j in self.jobs() if j["metadata"]["name"] == job_name), None)

    def _workload_of(self, job: Obj | None) -> Obj | None:
        """The Workload admitting ``job``, from the cache."""
        if job is None:
            return None
        uid = job["metadata"].get("uid")
        return next(
            (
                w
                for w in self.workloads()
                if any(r.get("uid") == uid for r in w["metadata"].get("ownerReferences") or ())
            ),
            None,
        )


def _unserved_note(error: KubeError) -> str:
    """Why the positions were counted from the cache, in a user's words."""
    if error.status == 404:
        return "counted from the waiting jobs: Kueue's queue positions are not served here"
    if error.status == 403:
        return (
            "counted from the waiting jobs: the jobs service may not read Kueue's queue positions"
        )
    failed = f"{error.status} {error.reason}"
    return f"counted from the waiting jobs: Kueue's queue positions could not be read ({failed})"


def _name(obj: Obj) -> tuple[str | None, str | None]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def _owner_job(wl: Obj, jobs: Mapping[tuple[Any, Any], Obj]) -> Obj | None:
    """The cached Job a Workload (or a visibility item) names as its owner."""
    meta = wl.get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if ref.get("kind", "Job") == "Job":
            found = jobs.get((meta.get("namespace"), ref.get("name")))
            if found is not None:
                return found
    return None


def _walltime(job: Obj | None) -> float | None:
    """A Job's walltime: its ``activeDeadlineSeconds`` (what the service's manifests set)."""
    if job is None:
        return None
    limit = (job.get("spec") or {}).get("activeDeadlineSeconds")
    return float(limit) if limit else None


def _demand(wl: Obj) -> Demand:
    """What a Workload's pods ask for in all: each pod set's count times its containers'
    GPUs (limit, else request) and CPUs (request, else limit)."""
    gpus = cpu = 0.0
    for podset in (wl.get("spec") or {}).get("podSets") or ():
        count = int(podset.get("count") or 1)
        spec = (podset.get("template") or {}).get("spec") or {}
        for container in spec.get("containers") or ():
            gpus += count * quantity_value(
                container_resource(container, GPU_RESOURCE, "limits", "requests")
            )
            cpu += count * quantity_value(
                container_resource(container, "cpu", "requests", "limits")
            )
    return Demand(gpus=gpus, cpu=cpu)


def _queued(job: Obj) -> Queued:
    """A cached Job as the estimator's waiting job: its pods' demand and walltime."""
    spec = job.get("spec") or {}
    pods = int(spec.get("parallelism") or 1)
    podset = {"count": pods, "template": spec.get("template") or {}}
    return Queued(_demand({"spec": {"podSets": [podset]}}), _walltime(job))


def queued_request(data: JobRequestBody) -> Queued:
    """A request (``POST /plan``, already validated) as the estimator's waiting job: its
    pods' GPUs and CPUs and its walltime."""
    resources = data.get("resources") or {}
    pods = int(data.get("parallelism") or 1)
    walltime = data.get("walltime")
    return Queued(
        Demand(
            gpus=pods * int(resources.get("gpus") or 0),
            cpu=pods * parse_cpu(resources.get("cpu") or 1),
        ),
        parse_duration(walltime) if walltime else None,
    )
