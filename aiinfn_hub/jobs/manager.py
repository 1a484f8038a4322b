"""The jobs manager: the one object the API, the spawner's standalone mode and the tests hold.

It carries the service's settings (``c.JobsManager...``) and puts the parts together, each in
its own module:

- :mod:`.index`: the index of tracked jobs, built from the list+watch caches;
- :mod:`.controller`: the work queue, timers, reconcile and fallback;
- :mod:`.operations`: what users do (submit, list, get, cancel, rerun, logs);
- :mod:`.sitestatus`: each site's health, capacity and queue;
- :mod:`.publisher`: each job's view, the events its owner sees, and the metrics' counts.

A site may replace it with a subclass: ``c.JobsService.manager_class``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from traitlets import Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable

from ..apitypes import JobRequest, JobView, LogChunk, PlanView, SiteView
from ..kube.cache import Reflector, when_synced
from ..kube.client import Kube
from ..kube.startup import wait_synced
from ..placement import PlacementConfig, Placer, Site, SiteHealth
from . import labels as L
from . import slim
from .breakers import BreakerPolicy
from .checks import RequestChecks
from .claims import HomeClaim
from .controller import Controller
from .events import JobEvents
from .images import ImagePolicy
from .index import JobIndex
from .manifests import PodSettings
from .operations import JobOperations
from .publisher import Publisher
from .queues import SiteQueues
from .records import RecordWriter
from .retention import JobsRetention
from .sitestatus import SiteStatus
from .tracked import Tracked
from .triggers import FallbackPolicy
from .waiting import WaitPolicy

log = logging.getLogger(__name__)


class JobsManager(LoggingConfigurable):
    """Submits, tracks and falls back jobs; one instance serves every user. The façade of
    the parts listed in the module's docstring, holding the settings they share."""

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
        self.triggers = FallbackPolicy(parent=self).triggers(self.placer.sites)
        self.retention = JobsRetention(kube, self._mark, parent=self)
        self.settings = PodSettings(
            default_image=self.default_image,
            home_mount_path=self.home_mount_path,
            run_as_user=self.run_as_user,
            run_as_group=self.run_as_group,
        )
        self.home = HomeClaim(self.namespace, parent=self)  # users' claims, as the hub names them
        self.reflectors: dict[str, Reflector] = {}
        self.index = JobIndex(on_job=self._mark, on_nodes=self._nodes_changed)
        self.breakers = BreakerPolicy(parent=self).breakers(self.placer.sites)
        self.status = SiteStatus(placer=self.placer, nodes=self._nodes, breakers=self.breakers)
        self.queues = SiteQueues(
            kube=kube,
            placer=self.placer,
            workloads=lambda: self.index.workloads.values(),
            jobs=lambda: self.reflectors["job"].objects.values() if self.reflectors else (),
            pods=lambda: self.index.all_pods.values(),
            nodes=self._nodes,
        )
        self.events = JobEvents(parent=self)
        self.subscribe = self.events.subscribe
        self.publisher = Publisher(events=self.events, site=self._site)
        self.records = RecordWriter(kube=kube, publisher=self.publisher)
        self.checks = RequestChecks(
            images=self.images,
            home=self.home,
            shared={
                "shared_claims": self.shared_claims,
                "shared_configmaps": self.shared_configmaps,
                "shared_secrets": self.shared_secrets,
            },
        )
        parts: dict[str, Any] = {
            "kube": kube,
            "placer": self.placer,
            "index": self.index,
            "status": self.status,
            "publisher": self.publisher,
            "records": self.records,
            "retention": self.retention,
            "checks": self.checks,
            "home": self.home,
        }
        self.controller = Controller(
            triggers=self.triggers, settings=self.settings, workers=self.workers, **parts
        )
        self.operations = JobOperations(
            controller=self.controller,
            max_staged_bytes=self.max_staged_bytes,
            queues=self.queues,
            wait=WaitPolicy(parent=self).aware(self.placer, self.queues),
            **parts,
        )

    # ------------------------------------------------------------------ user operations
    # (methods, not attributes, so that a site's subclass may override them: manager_class)

    def plan(self, data: JobRequest, user: str | None = None) -> PlanView:
        """The placement preview for a request (:meth:`.JobOperations.plan`)."""
        return self.operations.plan(data, user)

    async def preview(self, data: JobRequest, user: str | None = None) -> PlanView:
        """``POST /plan``: the plan with each site's queue (:meth:`.JobOperations.preview`)."""
        return await self.operations.preview(data, user)

    async def submit(
        self, user: str, data: JobRequest, action: dict[str, Any] | None = None
    ) -> tuple[JobView, bool]:
        """Create a job; its view and whether it is new (:meth:`.JobOperations.submit`)."""
        return await self.operations.submit(user, data, action)

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
        """The caller's jobs as JSON text (:meth:`.JobOperations.list_json`)."""
        return self.operations.list_json(
            user, admin, owner=owner, state=state, site=site, limit=limit, offset=offset
        )

    def get(self, user: str, admin: bool, job_id: str) -> JobView:
        """The job's view, if ``user`` may see it."""
        return self.operations.get(user, admin, job_id)

    async def cancel(self, user: str, admin: bool, job_id: str) -> JobView:
        """End a job that has not ended (:meth:`.JobOperations.cancel`)."""
        return await self.operations.cancel(user, admin, job_id)

    async def collected(self, user: str, admin: bool, job_id: str) -> JobView:
        """The owner's server saved the job's executed notebook."""
        return await self.operations.collected(user, admin, job_id)

    async def rerun(self, user: str, admin: bool, job_id: str, site: str | None = None) -> JobView:
        """Submit the same job again, optionally at a named site."""
        return await self.operations.rerun(user, admin, job_id, site)

    async def logs(
        self,
        user: str,
        admin: bool,
        job_id: str,
        offset: int = 0,
        completion_index: int | None = None,
    ) -> LogChunk:
        """A slice of the current attempt's log (:meth:`.JobOperations.logs`)."""
        return await self.operations.logs(user, admin, job_id, offset, completion_index)

    # ------------------------------------------------------------------ what others read

    @property
    def jobs(self) -> dict[str, Tracked]:
        """Every tracked job, by id."""
        return self.index.jobs

    @property
    def by_owner(self) -> dict[str, set[str]]:
        """The ids of each user's jobs."""
        return self.index.by_owner

    @property
    def workloads(self) -> dict[str, dict[str, Any]]:
        """The namespace's Kueue Workloads, by the uid of the Job they admit."""
        return self.index.workloads

    @property
    def health(self) -> dict[str, SiteHealth]:
        """Each site's health, from its nodes."""
        return self.status.health

    @property
    def counters(self) -> dict[str, int]:
        """Submissions, fallbacks and endings, for the metrics."""
        return self.publisher.counters

    @property
    def started(self) -> bool:
        """Whether the controller runs (jobs are reconciled as they change)."""
        return self.controller.started

    def sites(self) -> list[SiteView]:
        """Each site: health, free and total capacity, queue depth and pending reasons."""
        return self.status.sites(self.index.all_pods.values(), self.index.workloads.values())

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 30.0) -> None:
        """List and watch everything, then reconcile every job found (restart recovery).

        Returns once every job found has been reconciled once, so the API never serves a
        partial list after a restart. :class:`~aiinfn_hub.kube.startup.StartupError` if the
        caches are not synced within ``timeout`` seconds (the reflectors then keep retrying
        until stopped).
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
                kube, kind, fn, args, sel, self.index.on_change, self.watch_timeout,
                keep_objects=kind != "configmap",  # records: kept in Tracked (tracked.py)
                transform=slim.slim,  # what thousands of records repeat, kept once
            )  # fmt: skip
        for reflector in self.reflectors.values():
            reflector.start()
        # once the other caches hold their first list, each job is reconciled as its record
        # arrives: an ended one then rests (tracked.py) instead of waiting whole in memory
        records = self.reflectors["configmap"]
        others = [r for r in self.reflectors.values() if r is not records]
        early = when_synced(others, self.controller.begin)
        try:
            await wait_synced(self.reflectors.values(), timeout=timeout, kube=kube)
            await early
        finally:
            early.cancel()
        await self.controller.recovered()
        self.breakers.settle()  # every record read: the sites' breakers as they were

    async def stop(self) -> None:
        """Stop the controller and the watches."""
        await self.controller.stop()
        for reflector in self.reflectors.values():
            await reflector.stop()
        self.retention.stop()
        self.events.close()

    def _mark(self, job_id: str) -> None:
        """Queue a job for the controller."""
        self.controller.mark(job_id)

    def _nodes(self) -> list[dict[str, Any]]:
        """The cluster's nodes as cached now."""
        return list(self.reflectors["node"].objects.values()) if self.reflectors else []

    def _nodes_changed(self) -> None:
        """A node changed: sites' health again, and a reconcile of the jobs at those whose
        health changed."""
        self.controller.sites_changed(self.status.refresh())

    def _site(self, name: str | None) -> Site | None:
        """The configured site of that name, if any."""
        return self.placer.sites.get(name) if name else None
